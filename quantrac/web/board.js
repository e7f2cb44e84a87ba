// The IOC board: the province's map, a card per station, the open incidents (acknowledged by
// an operator), kept live by the API's event stream. docs/board.md describes what it shows.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { me: null, stations: new Map(), features: [], outline: null, incidents: [],
    sparks: new Map(), loaded: false, stopLive: null };
  window.quantracBoard = state; // for the browser tests and a curious operator's console

  const LEGEND = [
    ["#00E400", "Bình thường / Tốt"], ["#FFFF00", "BĐ I / Trung bình"], ["#FF7E00", "BĐ II / Kém"],
    ["#FF0000", "BĐ III / Xấu"], ["#8F3F97", "Rất xấu"], ["#7E0023", "Nguy hại"],
    ["#5B8DB8", "Chưa đủ số liệu để xếp mức"], ["#9E9E9E", "Mất kết nối"],
  ];

  function message(text, kind) {
    const box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
    box.dataset.kind = kind || "info";
  }

  // --- who is looking -----------------------------------------------------------------------
  async function identify() {
    try {
      state.me = await Api.get("/whoami");
      if (!state.me.role && !state.me.reads_open) {
        state.me = null;
        showWho();
        message("Cần khóa API để xem bảng điều hành trên mạng này.", "warn");
        openKeyDialog();
        return false;
      }
    } catch (error) {
      state.me = null;
      if (error.status === 401 || error.status === 403) {
        showWho();
        message(Api.key() ? "Khóa không hợp lệ hoặc đã bị thu hồi. Hãy nhập khóa khác."
          : "Cần khóa API để xem bảng điều hành trên mạng này.", "warn");
        openKeyDialog();
        return false;
      }
      if (error.status === 429) message("Nhập sai khóa quá nhiều lần, hãy chờ một phút.", "warn");
      else message("Không kết nối được máy chủ: " + error.message, "error");
      return false;
    }
    showWho();
    return true;
  }

  function showWho() {
    const me = state.me;
    const role = me && me.role ? { viewer: "Người xem", operator: "Trực ban", admin: "Quản trị" }[me.role] : "Người xem";
    $("who").textContent = me ? (me.role ? `${role}: ${me.name}` : "Người xem (không cần khóa)") : "";
    $("who").dataset.role = me && me.role ? me.role : "anonymous";
    $("login").hidden = Boolean(Api.key());
    $("logout").hidden = !Api.key();
  }

  function openKeyDialog() {
    $("key-error").hidden = true;
    $("key-input").value = "";
    if (!$("key-dialog").open) $("key-dialog").showModal();
  }

  function bindKeyDialog() {
    $("login").addEventListener("click", openKeyDialog);
    $("logout").addEventListener("click", () => { Api.setKey(null); restart(); });
    $("key-cancel").addEventListener("click", () => $("key-dialog").close());
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      Api.setKey($("key-input").value);
      $("key-dialog").close();
      restart();
    });
  }

  // --- data ---------------------------------------------------------------------------------
  async function loadAll() {
    const [latest, geo, outline] = await Promise.all([
      Api.get("/latest"), Api.get("/stations.geojson"), Api.get("/province.geojson"),
    ]);
    // Without the alerting service's data this API has no incidents: none are asked.
    const incidents = latest.incidents ? await Api.get("/incidents") : null;
    $("site-name").textContent = latest.site ? "— " + latest.site : "";
    state.stations = new Map(latest.stations.map((d) => [d.station.id, d]));
    state.features = geo.features;
    state.outline = outline;
    state.incidents = incidents || [];
    state.alerting = Boolean(incidents);
    state.loaded = true;
    renderBoard();
    renderIncidents();
    message("");
    loadSparks();
    Station.refresh(state);
  }

  // Sparklines are read as their cards come into view, four at a time: a province of a
  // thousand stations does not send a thousand requests at once.
  const sparkQueue = [];
  let sparkRunning = 0;
  const sparkWatch = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      sparkWatch.unobserve(entry.target);
      sparkQueue.push(entry.target.dataset.station);
    }
    pumpSparks();
  }, { rootMargin: "200px" });

  function pumpSparks() {
    while (sparkRunning < 4 && sparkQueue.length) {
      sparkRunning += 1;
      loadSpark(sparkQueue.shift()).finally(() => { sparkRunning -= 1; pumpSparks(); });
    }
  }

  async function loadSpark(id) {
    const doc = state.stations.get(id);
    const param = doc && Fmt.mainParam(doc);
    if (!param) return;
    const from = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
    try {
      const range = await Api.get(`/stations/${encodeURIComponent(id)}/readings?param=${param}&from=${encodeURIComponent(from)}&limit=2000`);
      state.sparks.set(id, { param, readings: range.readings });
      renderCard(state.stations.get(id));
    } catch (_) { /* a card without its sparkline is still a card */ }
  }

  function loadSparks() {
    sparkWatch.disconnect();
    for (const card of document.querySelectorAll(".card")) sparkWatch.observe(card);
  }

  // --- the board ----------------------------------------------------------------------------
  function renderBoard() {
    BoardMap.render($("map"), state.outline, state.features, (id) => { location.hash = "#/tram/" + id; });
    for (const doc of state.stations.values()) BoardMap.paint($("map"), doc.station.id, Object.assign({}, doc.station, { state: doc.state }));
    $("legend").innerHTML = LEGEND.map(([c, t]) => `<li><span class="dot" style="background:${c}"></span>${Fmt.html(t)}</li>`).join("");
    const cards = $("cards");
    cards.replaceChildren();
    const ordered = [...state.stations.values()].sort((a, b) => b.state.level - a.state.level || a.station.name.localeCompare(b.station.name, "vi"));
    for (const doc of ordered) {
      const card = document.createElement("article");
      card.className = "card";
      card.dataset.station = doc.station.id;
      card.tabIndex = 0;
      card.addEventListener("click", () => { location.hash = "#/tram/" + doc.station.id; });
      cards.appendChild(card);
      renderCard(doc);
    }
  }

  function renderCard(doc) {
    const card = document.querySelector(`.card[data-station="${CSS.escape(doc.station.id)}"]`);
    if (!card) return;
    const s = doc.state;
    const values = doc.readings.filter((r) => r.param !== "station_online").slice(0, 5).map((r) =>
      `<li class="q-${r.quality}"><span>${Fmt.html(Fmt.param(r.param))}</span><b>${Fmt.number(r.value)}</b> <small>${Fmt.html(r.unit)}</small></li>`).join("");
    const spark = state.sparks.get(doc.station.id);
    const where = [Fmt.kind(doc.station.kind), doc.station.district, doc.station.river ? "sông " + doc.station.river : ""].filter(Boolean).join(" · ");
    card.dataset.level = s.level;
    card.dataset.colour = s.colour;
    card.dataset.asOf = s.as_of || "";
    card.innerHTML = `
      <header><h3>${Fmt.html(doc.station.name)}</h3><span class="chip" style="--c:${s.colour}">${Fmt.html(s.label)}</span></header>
      <p class="where">${Fmt.html(where)}</p>
      <p class="index"><span>${Fmt.html(s.index || "")}${s.instantaneous && s.value !== null ? " tức thời" : ""}</span> <strong>${Fmt.html(s.text)}</strong></p>
      <ul class="values">${values}</ul>
      ${spark ? `<figure><figcaption>${Fmt.html(Fmt.param(spark.param))}, 24 giờ</figcaption>${Plots.sparkline(spark.readings, s.colour === "#9E9E9E" ? "#9E9E9E" : "#90CAF9")}</figure>` : ""}
      <footer class="as-of">${s.online === false ? "Mất kết nối — " : ""}cập nhật ${Fmt.html(Fmt.atDay(s.as_of))}</footer>`;
  }

  function stationUpdated(doc) {
    const id = doc.station.id;
    const known = state.stations.has(id);
    state.stations.set(id, doc);
    if (!known) { loadAll(); return; }
    const spark = state.sparks.get(id);
    if (spark) {
      const latest = doc.readings.find((r) => r.param === spark.param);
      const last = spark.readings[spark.readings.length - 1];
      if (latest && (!last || latest.ts > last.ts)) {
        spark.readings.push(latest);
        const cut = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
        while (spark.readings.length && spark.readings[0].ts < cut) spark.readings.shift();
      }
    }
    BoardMap.paint($("map"), id, Object.assign({}, doc.station, { state: doc.state }));
    renderCard(doc);
    Station.stationUpdated(doc);
  }

  // --- incidents ----------------------------------------------------------------------------
  const SEVERITY = { info: "Thông tin", warning: "Cảnh báo", critical: "Nguy hiểm", emergency: "Khẩn cấp" };

  function renderIncidents() {
    const list = $("incidents");
    const items = [...state.incidents].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    $("incident-count").textContent = items.length ? `(${items.length})` : "";
    if (!items.length) {
      list.innerHTML = state.alerting === false
        ? `<li class="none">API này không có số liệu cảnh báo (chạy không kèm dịch vụ cảnh báo).</li>`
        : `<li class="none">Không có sự cố nào đang mở.</li>`;
      return;
    }
    const canAct = Boolean(state.me && state.me.can_act);
    list.innerHTML = items.map((i) => {
      const doc = state.stations.get(i.station);
      const name = doc ? doc.station.name : i.facts.station_name || i.station;
      const acked = i.acked_by
        ? `<span class="acked">Đã xác nhận: ${Fmt.html(i.acked_by)}${i.acked_at ? " lúc " + Fmt.html(Fmt.atDay(i.acked_at)) : ""}</span>`
        : `<span class="unacked">Chưa xác nhận</span>`;
      const button = canAct && !i.acked_by ? `<button type="button" class="ack" data-ack="${Fmt.html(i.id)}">Xác nhận</button>` : "";
      return `<li class="incident sev-${Fmt.html(i.severity)}" data-incident="${Fmt.html(i.id)}" data-acked="${i.acked_by ? "yes" : "no"}">
        <div class="line"><b>${Fmt.html(name)}</b><span class="sev">${Fmt.html(SEVERITY[i.severity] || i.severity)}</span></div>
        <p>${Fmt.html(i.message || i.facts.label || i.rule)}</p>
        <div class="line"><small>từ ${Fmt.html(Fmt.atDay(i.started_at))}, đổi lúc ${Fmt.html(Fmt.atDay(i.updated_at))}</small>${acked}${button}</div>
      </li>`;
    }).join("");
    for (const button of list.querySelectorAll("button.ack")) button.addEventListener("click", () => acknowledge(button));
  }

  async function acknowledge(button) {
    const id = button.dataset.ack;
    button.disabled = true;
    button.textContent = "Đang gửi…";
    try {
      const acked = await Api.post(`/incidents/${encodeURIComponent(id)}/ack`, { note: "xác nhận trên bảng điều hành" });
      state.incidents = state.incidents.map((i) => (i.id === acked.id ? acked : i));
      renderIncidents();
    } catch (error) {
      button.disabled = false;
      button.textContent = "Xác nhận";
      message(`Không xác nhận được ${id}: ${error.message}`, "error");
    }
  }

  // --- live ---------------------------------------------------------------------------------
  function onLive(name, data) {
    if (name === "ready") loadAll().catch((error) => message("Không tải được số liệu: " + error.message, "error"));
    else if (name === "station" && state.loaded) stationUpdated(data);
    else if (name === "incidents") { state.incidents = data; renderIncidents(); }
  }

  function onLiveState(status) {
    const live = $("live");
    live.dataset.state = status;
    live.textContent = status === "open" ? "Trực tiếp" : "Mất kết nối, đang thử lại…";
  }

  async function restart() {
    if (state.stopLive) state.stopLive();
    state.stopLive = null;
    if (!(await identify())) return;
    state.stopLive = Api.live(onLive, onLiveState);
  }

  function route() {
    const match = /^#\/tram\/([^/?]+)/.exec(location.hash);
    $("board-view").hidden = Boolean(match);
    $("station-view").hidden = !match;
    if (match) Station.open(decodeURIComponent(match[1]), state);
    else Station.close();
  }

  function tick() { $("clock").textContent = Fmt.now(); }

  Api.takeKeyFromAddress();
  bindKeyDialog();
  window.addEventListener("hashchange", route);
  setInterval(tick, 1000);
  tick();
  route();
  restart();
})();
