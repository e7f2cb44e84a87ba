// How the board writes things: Vietnamese numbers (decimal comma), Vietnam local time, the
// parameters' Vietnamese names, and escaping for text put into HTML.
"use strict";

const Fmt = (() => {
  const TZ = "Asia/Ho_Chi_Minh";
  const time = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  const dateTime = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit",
    day: "2-digit", month: "2-digit" });
  const clock = new Intl.DateTimeFormat("vi-VN", { timeZone: TZ, hour: "2-digit", minute: "2-digit",
    second: "2-digit", day: "2-digit", month: "2-digit", year: "numeric" });
  const PARAMS = {
    water_level: "Mực nước", flow: "Lưu lượng", rain: "Lượng mưa", rain_1h: "Mưa 1 giờ",
    rain_3h: "Mưa 3 giờ", rain_6h: "Mưa 6 giờ", rain_12h: "Mưa 12 giờ", rain_24h: "Mưa 24 giờ",
    rain_counter: "Bộ đếm gầu lật", flood_level: "Mức báo động", pm25: "PM2.5", pm10: "PM10",
    no2: "NO2", so2: "SO2", co: "CO", o3: "O3", tsp: "TSP", vn_aqi_h: "VN_AQI giờ",
    vn_aqi_d: "VN_AQI ngày", vn_wqi: "VN_WQI", air_temp: "Nhiệt độ không khí", humidity: "Độ ẩm",
    pressure: "Áp suất", wind_speed: "Tốc độ gió", wind_gust: "Gió giật", wind_dir: "Hướng gió",
    water_temp: "Nhiệt độ nước", ph: "pH", do: "DO", cod: "COD", bod5: "BOD5", tss: "TSS",
    turbidity: "Độ đục", conductivity: "Độ dẫn điện", n_nh4: "N-NH4", n_no3: "N-NO3",
    n_no2: "N-NO2", p_po4: "P-PO4", salinity: "Độ mặn", station_online: "Trạm trực tuyến",
  };
  const KINDS = { hydro: "Thuỷ văn", air: "Không khí", water: "Chất lượng nước", rain: "Đo mưa",
    weather: "Khí tượng", unknown: "Chưa cấu hình" };
  const QUALITY = { good: "tốt", suspect: "nghi ngờ", bad: "hỏng" };

  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    const d = digits === undefined ? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2) : digits;
    return Number(value).toLocaleString("vi-VN", { maximumFractionDigits: d });
  }
  const param = (name) => PARAMS[name] || name;
  const kind = (name) => KINDS[name] || name;
  const quality = (name) => QUALITY[name] || name;
  const at = (iso) => (iso ? time.format(new Date(iso)) : "–");
  const atDay = (iso) => (iso ? dateTime.format(new Date(iso)) : "–");
  const now = () => clock.format(new Date());
  const html = (text) => String(text ?? "").replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // Which series a card's sparkline shows, by kind.
  const MAIN = { hydro: ["water_level"], air: ["pm25", "pm10", "vn_aqi_h"], water: ["do", "ph", "cod"],
    rain: ["rain_24h", "rain_1h", "rain"], weather: ["wind_speed", "air_temp"] };
  function mainParam(doc) {
    const present = new Set(doc.readings.map((r) => r.param));
    const wanted = (MAIN[doc.station.kind] || []).find((p) => present.has(p));
    return wanted || (doc.readings.find((r) => r.param !== "station_online") || {}).param || null;
  }

  return { number, param, kind, quality, at, atDay, now, html, mainParam, TZ };
})();
