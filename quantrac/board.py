"""The demo's console board of indices: what an officer would read off the IOC board.

Flood levels and rain totals are the collector's derived series, read back from the store. The
demo plays a day's storm in minutes, so its hours never end: VN_AQI and VN_WQI are shown
*instantaneous* — the decisions' formulas applied to the latest values as if they were the
hour's means — and labelled so. The real hourly and daily series are computed by the collector
on the hour (docs/indices.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table

from alerting.templates import vi_number
from collector.indices import (
    Pollutant,
    aqi_category,
    hourly_aqi,
    rain_intensity,
    vn_wqi,
    wind_text,
    wqi_category,
)
from collector.indices.wind import storm_category_of_speed
from collector.indices.wqi import WqiParam
from collector.store import ReadingStore
from gateway.config import StationConfig
from gateway.model import Quality, Reading


def _good(latest: Sequence[Reading]) -> dict[str, Reading]:
    return {r.param: r for r in latest if r.has_value and r.quality is not Quality.BAD}


def index_rows(station: StationConfig, latest: Sequence[Reading]) -> list[tuple[str, str, str]]:
    """(index, value, meaning) rows for one station from its latest readings and series."""
    now = _good(latest)
    rows: list[tuple[str, str, str]] = []
    if station.kind == "hydro" and "flood_level" in now:
        level = now["flood_level"]
        water = now.get("water_level")
        shown = f"{vi_number(water.value)} m" if water else "–"
        rows.append(("Mực nước", shown, level.reason or "dưới BĐ I"))
    if station.kind == "rain":
        for param, label in (("rain_1h", "Mưa 1 giờ"), ("rain_24h", "Mưa 24 giờ")):
            if param in now:
                total = now[param]
                note = "chưa đủ số liệu" if total.reason == "incomplete" else ""
                if param == "rain_24h":
                    words = rain_intensity(total.value)
                    note = ", ".join(x for x in (note, str(words) if words else "") if x)
                rows.append((label, f"{vi_number(total.value, 1)} mm", note))
    if station.kind == "air":
        one_hour: dict[Pollutant, float | None] = {}
        pm: dict[Pollutant, list[float | None]] = {}
        for pollutant in Pollutant:
            reading = now.get(pollutant.value)
            if reading is None:
                continue
            if pollutant in (Pollutant.PM10, Pollutant.PM25):
                pm[pollutant] = [reading.value] * 3
            else:
                one_hour[pollutant] = reading.value
        result = hourly_aqi(one_hour, pm)
        if result.value is not None:
            category = aqi_category(result.value)
            dominant = result.dominant.value if result.dominant else ""
            rows.append(("VN_AQI tức thời", str(result.value), f"{category.name} ({dominant})"))
    if station.kind == "water":
        values: Mapping[WqiParam, float | None] = {
            WqiParam(p): r.value for p, r in now.items() if p in {w.value for w in WqiParam}
        }
        temp = now.get("water_temp")
        wqi = vn_wqi(values, water_temp_c=temp.value if temp else None)
        if wqi.value is not None:
            rows.append(("VN_WQI tức thời", str(wqi.value), wqi_category(wqi.value).name))
        else:
            # A sonde alone rarely measures the 3 of 5 groups the decision needs (section 2.1.b).
            rows.append(("VN_WQI", "–", "chưa đủ nhóm thông số (QĐ 1460/QĐ-TCMT)"))
    if station.kind == "weather" and "wind_speed" in now:
        speed = now["wind_speed"].value
        gust = now.get("wind_gust")
        text = wind_text(speed, gust.value if gust else None) or ""
        storm = storm_category_of_speed(speed)
        note = storm.value if storm is not None else ""
        rows.append(("Gió", f"{vi_number(speed, 1)} m/s", ", ".join(x for x in (text, note) if x)))
    return rows


INSTANTANEOUS = "instantaneous"  # the reason of the demo's index readings: not hourly means


def instant_indices(station: StationConfig, latest: Sequence[Reading]) -> list[Reading]:
    """The VN_AQI / VN_WQI the demo's boards show, as readings the store keeps (``vn_aqi_h``,
    ``vn_wqi``, reason ``instantaneous``, at the newest value's time): what the board shows is
    readable from the API too. The demo's hours never end, so these stand in for the hourly
    series the collector computes on the hour in production (docs/indices.md)."""
    now = _good(latest)
    if not now:
        return []
    ts = max(r.ts for r in now.values())
    found: list[Reading] = []
    if station.kind == "air":
        gases: dict[Pollutant, float | None] = {}
        pm: dict[Pollutant, list[float | None]] = {}
        for pollutant in Pollutant:
            if pollutant.value in now:
                value = now[pollutant.value].value
                if pollutant in (Pollutant.PM10, Pollutant.PM25):
                    pm[pollutant] = [value] * 3  # the latest as this hour and the two before
                else:
                    gases[pollutant] = value
        result = hourly_aqi(gases, pm)
        if result.value is not None:
            found.append(Reading(station.id, "vn_aqi_h", float(result.value), "AQI", ts,
                                 quality=Quality.GOOD, reason=INSTANTANEOUS))  # fmt: skip
    if station.kind == "water":
        values: dict[WqiParam, float | None] = {
            WqiParam(p): r.value for p, r in now.items() if p in {w.value for w in WqiParam}
        }
        temp = now.get("water_temp")
        wqi = vn_wqi(values, water_temp_c=temp.value if temp else None)
        if wqi.value is not None:
            found.append(Reading(station.id, "vn_wqi", float(wqi.value), "WQI", ts,
                                 quality=Quality.GOOD, reason=INSTANTANEOUS))  # fmt: skip
    return found


def index_board(store: ReadingStore, stations: Sequence[StationConfig], when: str) -> Table:
    table = Table(title=f"Chỉ số lúc {when}", title_justify="left", expand=False)
    for column in ("Trạm", "Chỉ số", "Giá trị", "Ý nghĩa"):
        table.add_column(column)
    for station in stations:
        for index, value, meaning in index_rows(station, store.latest(station.id)):
            table.add_row(station.name, index, value, meaning)
    return table
