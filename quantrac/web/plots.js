// Plots: the cards' 24 h sparklines (plain SVG) and the station page's charts (uPlot, served
// from /board/vendor): water level over its BĐ bands, VN_AQI bars in their category colours,
// rain bars, and every value QC flagged marked on its line.
"use strict";

const Plots = (() => {
  const TZ = "Asia/Ho_Chi_Minh";
  const FLAG = { suspect: "#FFB300", bad: "#E53935" };
  const AQI = [[50, "#00E400"], [100, "#FFFF00"], [150, "#FF7E00"], [200, "#FF0000"], [300, "#8F3F97"], [Infinity, "#7E0023"]];
  const BANDS = [["bd1", "bd2", "rgba(255,255,0,0.16)", "BĐ I"], ["bd2", "bd3", "rgba(255,126,0,0.2)", "BĐ II"],
    ["bd3", null, "rgba(255,0,0,0.2)", "BĐ III"]];

  const seconds = (iso) => Date.parse(iso) / 1000;

  function sparkline(readings, colour) {
    const points = readings.filter((r) => r.value !== null);
    const w = 140, h = 34;
    if (points.length < 2) return `<svg class="spark" viewBox="0 0 ${w} ${h}" aria-hidden="true"></svg>`;
    const t0 = seconds(points[0].ts), t1 = seconds(points[points.length - 1].ts);
    let lo = Math.min(...points.map((r) => r.value)), hi = Math.max(...points.map((r) => r.value));
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const x = (r) => ((seconds(r.ts) - t0) / Math.max(t1 - t0, 1)) * (w - 4) + 2;
    const y = (r) => h - 3 - ((r.value - lo) / (hi - lo)) * (h - 6);
    const line = points.map((r, i) => `${i ? "L" : "M"}${x(r).toFixed(1)},${y(r).toFixed(1)}`).join("");
    const flags = points.filter((r) => FLAG[r.quality])
      .map((r) => `<circle cx="${x(r).toFixed(1)}" cy="${y(r).toFixed(1)}" r="2.2" fill="${FLAG[r.quality] || FLAG.bad}"/>`).join("");
    return `<svg class="spark" viewBox="0 0 ${w} ${h}" aria-label="24 giờ qua"><path d="${line}" stroke="${colour}" fill="none" stroke-width="1.6"/>${flags}</svg>`;
  }

  function columns(readings) {
    const xs = [], ys = [], flagged = [];
    for (const r of readings) {
      xs.push(seconds(r.ts));
      ys.push(r.value);
      flagged.push(FLAG[r.quality] && r.value !== null ? r.value : null);
    }
    return [xs, ys, flagged];
  }

  const hhmm = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  const ddmm = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, day: "2-digit", month: "2-digit" });
  const full = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });

  // Vietnam time, 24-hour clock: hours over a day or less, days beyond.
  function timeTicks(u, splits) {
    const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map((ts) => (span > 2 * 86400 ? ddmm : hhmm).format(new Date(ts * 1000)));
  }

  function axes() {
    const style = { stroke: "#b8c4d0", grid: { stroke: "rgba(255,255,255,0.08)" }, ticks: { stroke: "rgba(255,255,255,0.15)" } };
    return [Object.assign({ values: timeTicks }, style), Object.assign({ size: 56 }, style)];
  }

  const timeSeries = { label: "Thời gian", value: (u, ts) => (ts === null ? "–" : full.format(new Date(ts * 1000))) };

  function base(title, width, extra) {
    return Object.assign({
      title, width, height: 240, axes: axes(), legend: { live: true },
      scales: { x: { time: true } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      cursor: { drag: { x: true, y: false } },
    }, extra);
  }

  function flagSeries() {
    return { label: "Bị QC đánh dấu", stroke: FLAG.bad, fill: FLAG.bad, paths: () => null,
      points: { show: true, size: 7, stroke: FLAG.bad, fill: FLAG.suspect } };
  }

  // A line with its QC flags; `bands` (a gauge's flood_levels) draws BĐ I/II/III behind it.
  function line(target, title, unit, readings, colour, bands) {
    const data = columns(readings);
    const hooks = {};
    const scaleRange = bands ? (u, lo, hi) => [Math.min(lo, bands.bd1 - 0.5), Math.max(hi, bands.bd3 + 0.5)] : undefined;
    if (bands) {
      hooks.drawClear = [(u) => {
        const ctx = u.ctx, { left, width, top, height } = u.bbox;
        ctx.save();
        for (const [from, to, fill, label] of BANDS) {
          const y0 = u.valToPos(bands[from], "y", true);
          const y1 = to ? u.valToPos(bands[to], "y", true) : top;
          const yTop = Math.max(top, Math.min(y0, y1)), yBottom = Math.min(top + height, Math.max(y0, y1));
          if (yBottom <= yTop) continue;
          ctx.fillStyle = fill;
          ctx.fillRect(left, yTop, width, yBottom - yTop);
          ctx.fillStyle = "#e6edf3";
          ctx.font = `${12 * devicePixelRatio}px sans-serif`;
          ctx.fillText(`${label} ${String(bands[from]).replace(".", ",")} m`, left + 6 * devicePixelRatio, y0 - 4 * devicePixelRatio);
        }
        ctx.restore();
      }];
    }
    const options = base(title, target.clientWidth || 600, {
      series: [timeSeries, { label: `${title} (${unit})`, stroke: colour, width: 2, spanGaps: false }, flagSeries()],
      hooks,
      scales: { x: { time: true }, y: scaleRange ? { range: scaleRange } : {} },
    });
    return new uPlot(options, data, target);
  }

  function aqiColour(v) { return (AQI.find(([top]) => v <= top) || AQI[AQI.length - 1])[1]; }

  // Bars drawn by hand in a draw hook: each its own colour (VN_AQI's category, or rain blue).
  function bars(target, title, unit, readings, colourOf) {
    const data = columns(readings);
    const spacing = readings.length > 1 ? Math.max(1, (data[0][data[0].length - 1] - data[0][0]) / (readings.length - 1)) : 3600;
    const options = base(title, target.clientWidth || 600, {
      series: [timeSeries, { label: `${title}${unit ? " (" + unit + ")" : ""}`, stroke: "#90caf9", paths: () => null, points: { show: false } }, flagSeries()],
      scales: { x: { time: true, range: (u, lo, hi) => [lo - spacing, hi + spacing] }, y: { range: (u, lo, hi) => [0, Math.max(hi * 1.1, 1)] } },
      hooks: { draw: [(u) => {
        const ctx = u.ctx, [xs, ys] = u.data;
        const width = Math.max(2, Math.abs(u.valToPos(spacing, "x", true) - u.valToPos(0, "x", true)) * 0.8);
        const zero = u.valToPos(0, "y", true);
        ctx.save();
        for (let i = 0; i < xs.length; i++) {
          if (ys[i] === null) continue;
          const x = u.valToPos(xs[i], "x", true), y = u.valToPos(ys[i], "y", true);
          ctx.fillStyle = colourOf(ys[i]);
          ctx.fillRect(x - width / 2, y, width, zero - y);
        }
        ctx.restore();
      }] },
    });
    return new uPlot(options, data, target);
  }

  return { sparkline, line, bars, aqiColour };
})();
