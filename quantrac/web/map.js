// The province map: its outline (the site's province.geojson) and every station at its place,
// coloured by its state. Plain SVG in an equirectangular projection scaled by cos(latitude):
// at a province's size the distortion is below a pixel, and no map library or tile is needed.
"use strict";

const BoardMap = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const KIND_SHAPE = { hydro: "M0,-11 L10,7 L-10,7 Z", rain: null, weather: null };

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return geometry.coordinates;
    if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
    return [];
  }

  function outlineRings(outline) {
    if (!outline) return [];
    const features = outline.type === "FeatureCollection" ? outline.features : [outline];
    return features.flatMap((f) => rings(f.geometry || f));
  }

  function projection(points, width, height, pad) {
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [lon, lat] of points) {
      w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
    }
    if (!isFinite(w)) { w = 102; e = 110; s = 8; n = 24; }
    if (e - w < 0.05) { w -= 0.05; e += 0.05; }
    if (n - s < 0.05) { s -= 0.05; n += 0.05; }
    const k = Math.cos(((s + n) / 2) * Math.PI / 180);
    const scale = Math.min((width - 2 * pad) / ((e - w) * k), (height - 2 * pad) / (n - s));
    const dx = (width - (e - w) * k * scale) / 2;
    const dy = (height - (n - s) * scale) / 2;
    return ([lon, lat]) => [dx + (lon - w) * k * scale, dy + (n - lat) * scale];
  }

  // Draws the map into `svg`; `features` are /stations.geojson's. Returns nothing: markers are
  // found again by their data-station attribute when the live stream recolours them.
  function render(svg, outline, features, onSelect) {
    const width = 800, height = 600;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    const placed = features.filter((f) => f.geometry);
    const shapes = outlineRings(outline);
    const points = shapes.flat().concat(placed.map((f) => f.geometry.coordinates));
    const project = projection(points, width, height, 30);
    const land = el("g", { class: "province" }, svg);
    for (const ring of shapes) {
      const d = ring.map((p, i) => (i ? "L" : "M") + project(p).map((v) => v.toFixed(1)).join(",")).join("") + "Z";
      el("path", { d }, land);
    }
    const layer = el("g", { class: "stations" }, svg);
    // Boxes already used: every marker, then each label placed (the city's stations sit close).
    const taken = placed.map((f) => { const [x, y] = project(f.geometry.coordinates); return [x - 11, y - 11, x + 11, y + 11]; });
    const order = placed.slice().sort((a, b) => project(a.geometry.coordinates)[1] - project(b.geometry.coordinates)[1]);
    for (const f of order) {
      const [x, y] = project(f.geometry.coordinates);
      const g = el("g", { class: "station", "data-station": f.id, transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`,
        tabindex: "0", role: "button" }, layer);
      const shape = KIND_SHAPE[f.properties.kind];
      const marker = shape ? el("path", { d: shape, class: "marker" }, g) : el("circle", { r: 9, class: "marker" }, g);
      marker.setAttribute("data-kind", f.properties.kind);
      // Past a few dozen stations names would cover the province: they show on hover then.
      if (placed.length <= 60) {
        const [lx, ly, anchor] = labelPlace(x, y, f.properties.name, taken);
        el("text", { x: lx, y: ly, class: "label", "text-anchor": anchor }, g).textContent = f.properties.name;
      }
      el("title", {}, g);
      g.addEventListener("click", () => onSelect(f.id));
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onSelect(f.id); });
      paint(svg, f.id, f.properties);
    }
    if (!placed.length) {
      el("text", { x: width / 2, y: height / 2, class: "empty", "text-anchor": "middle" }, svg)
        .textContent = "Chưa có trạm nào có toạ độ";
    }
  }

  // The first of right, left, below, above, further down, further up where the label overlaps
  // no other (text width estimated: 8.5 px a letter at 15 px).
  function labelPlace(x, y, text, taken) {
    const w = text.length * 8.5, h = 17;
    const tries = [[13, 5, "start"], [-13, 5, "end"], [0, 26, "middle"], [0, -14, "middle"],
      [13, 22, "start"], [-13, 22, "end"], [13, -12, "start"], [-13, -12, "end"], [0, 42, "middle"], [0, -30, "middle"]];
    for (const [dx, dy, anchor] of tries) {
      const left = x + dx - (anchor === "end" ? w : anchor === "middle" ? w / 2 : 0);
      const box = [left, y + dy - 13, left + w, y + dy - 13 + h];
      if (!taken.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) {
        taken.push(box);
        return [dx, dy, anchor];
      }
    }
    return [13, 5, "start"];
  }

  // Recolours one station's marker from its state (a /latest document's station and state).
  function paint(svg, id, station) {
    const g = svg.querySelector(`g.station[data-station="${CSS.escape(id)}"]`);
    if (!g) return;
    const state = station.state;
    const marker = g.querySelector(".marker");
    marker.setAttribute("fill", state.colour);
    g.setAttribute("data-colour", state.colour);
    g.classList.toggle("offline", state.level < 0);
    g.classList.toggle("alarm", state.level >= 2);
    g.querySelector("title").textContent =
      `${station.name}: ${state.index ? state.index + " " : ""}${state.text} — ${state.label}`;
  }

  return { render, paint };
})();
