// A station's page (#/tram/<id>): its latest values, its plots over 24 hours, 7 or 30 days,
// and the officers' export of the range shown (CSV, Excel).
"use strict";

const Station = (() => {
  const $ = (id) => document.getElementById(id);
  let current = null; // station id shown
  let hours = 24;
  let plots = [];

  // Points a chart can hold comfortably: longer ranges ask the API for window means.
  function every(h) { return h <= 24 ? 0 : h <= 168 ? 600 : 3600; }

  function rangeQuery(h) {
    const to = new Date();
    const from = new Date(to.getTime() - h * 3600 * 1000);
    const step = every(h);
    return `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}${step ? "&every=" + step : ""}`;
  }

  function header(doc) {
    const s = doc.station;
    $("station-title").textContent = s.name;
    const parts = [Fmt.kind(s.kind), s.district, s.river ? "sông " + s.river : "", s.location ? `${s.location.lat.toFixed(4)}, ${s.location.lon.toFixed(4)}` : ""];
    if (s.flood_levels) parts.push(`BĐ I ${Fmt.number(s.flood_levels.bd1)} m · BĐ II ${Fmt.number(s.flood_levels.bd2)} m · BĐ III ${Fmt.number(s.flood_levels.bd3)} m`);
    $("station-meta").textContent = parts.filter(Boolean).join(" · ");
    const st = doc.state;
    $("station-state").innerHTML = `<span class="chip" style="--c:${st.colour}">${Fmt.html(st.label)}</span> <strong>${Fmt.html(st.index || "")} ${Fmt.html(st.text)}</strong>`;
    $("station-state").dataset.colour = st.colour;
    const shown = (r) => (r.param === "station_online" ? (r.value >= 0.5 ? "trực tuyến" : "mất kết nối")
      : `${Fmt.number(r.value)} ${Fmt.html(r.unit)}`);
    $("station-latest").innerHTML = doc.readings.map((r) => `<tr class="q-${r.quality}"><td>${Fmt.html(Fmt.param(r.param))}</td>
      <td>${shown(r)}</td><td>${Fmt.html(Fmt.atDay(r.ts))}</td>
      <td>${Fmt.html(Fmt.quality(r.quality))}${r.reason ? " (" + Fmt.html(r.reason) + ")" : ""}</td></tr>`).join("");
  }

  // Which charts a station gets: by kind, then any other measured parameter as a line.
  function chartsOf(doc) {
    const present = new Set(doc.readings.map((r) => r.param));
    const charts = [];
    const kind = doc.station.kind;
    if (kind === "hydro") charts.push({ param: "water_level", type: "level" });
    if (kind === "air") charts.push({ param: "vn_aqi_h", type: "aqi" });
    if (kind === "rain") charts.push({ param: "rain", type: "rain" }, { param: "rain_1h", type: "rain" });
    const shown = new Set(charts.map((c) => c.param));
    for (const r of doc.readings) {
      if (shown.has(r.param) || r.param === "station_online" || r.param === "rain_counter" || r.param === "flood_level") continue;
      if (/^rain_(3|6|12)h$/.test(r.param)) continue;
      charts.push({ param: r.param, type: "line" });
      shown.add(r.param);
    }
    return charts.filter((c) => present.has(c.param) || c.type !== "line");
  }

  async function draw(doc) {
    for (const p of plots) p.destroy();
    plots = [];
    const box = $("plots");
    box.replaceChildren();
    const query = rangeQuery(hours);
    const id = encodeURIComponent(doc.station.id);
    for (const chart of chartsOf(doc)) {
      const figure = document.createElement("figure");
      figure.className = "plot";
      figure.dataset.param = chart.param;
      box.appendChild(figure);
      let range;
      try {
        range = await Api.get(`/stations/${id}/readings?param=${chart.param}&${query}&limit=5000`);
      } catch (_) { figure.remove(); continue; }
      if (current !== doc.station.id) return; // the page changed meanwhile
      if (!range.readings.length) {
        if (chart.type === "line") { figure.remove(); continue; }
        figure.innerHTML = `<p class="empty">${Fmt.html(Fmt.param(chart.param))}: chưa có số liệu trong khoảng này.</p>`;
        continue;
      }
      const unit = range.readings[0].unit;
      const title = Fmt.param(chart.param);
      if (chart.type === "level") plots.push(Plots.line(figure, title, unit, range.readings, "#90CAF9", doc.station.flood_levels));
      else if (chart.type === "aqi") plots.push(Plots.bars(figure, title, "", range.readings, Plots.aqiColour));
      else if (chart.type === "rain") plots.push(Plots.bars(figure, title, unit, range.readings, () => "#4FA3E0"));
      else plots.push(Plots.line(figure, title, unit, range.readings, "#90CAF9", null));
      figure.dataset.points = String(range.readings.length);
      figure.dataset.flagged = String(range.readings.filter((r) => r.quality === "suspect" || r.quality === "bad").length);
    }
    box.dataset.ready = "yes";
  }

  function exportRange(format) {
    const id = current;
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, "");
    Api.download(`/stations/${encodeURIComponent(id)}/export?format=${format}&${rangeQuery(hours)}`, `${id}_${stamp}.${format}`)
      .catch((error) => alert("Không tải được: " + error.message));
  }

  function bind() {
    for (const button of document.querySelectorAll("button.range")) {
      button.addEventListener("click", () => {
        hours = Number(button.dataset.range);
        for (const b of document.querySelectorAll("button.range")) b.classList.toggle("active", b === button);
        if (current && window.quantracBoard.stations.has(current)) draw(window.quantracBoard.stations.get(current));
      });
    }
    $("export-csv").addEventListener("click", () => exportRange("csv"));
    $("export-xlsx").addEventListener("click", () => exportRange("xlsx"));
  }

  function open(id, board) {
    const changed = current !== id;
    current = id;
    $("plots").dataset.ready = "no";
    if (!board.loaded) return; // drawn by refresh() once the board has its data
    const doc = board.stations.get(id);
    if (!doc) { $("station-title").textContent = `Không có trạm "${id}"`; return; }
    header(doc);
    if (changed || !plots.length) draw(doc);
  }

  function close() { current = null; for (const p of plots) p.destroy(); plots = []; }
  function refresh(board) { if (current) { const id = current; current = null; open(id, board); } }
  function stationUpdated(doc) { if (doc.station.id === current) header(doc); }

  bind();
  return { open, close, refresh, stationUpdated };
})();
