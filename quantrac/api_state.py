"""A station's state as the IOC board colours it: pure, from its config and latest readings.

One colour per station, the one its officers think in (docs/board.md, "Colours"):

- a river gauge: its flood alarm level (Decision 05/2020/QĐ-TTg) — green below BĐ I, then
  yellow, orange, red for BĐ I, II, III;
- an air station: the VN_AQI category's own colour (Decision 1459/QĐ-TCMT);
- a water-quality station: the VN_WQI class's colour (Decision 1460/QĐ-TCMT), or blue-grey when
  the station does not measure enough groups for a WQI (most automatic sondes);
- a rain gauge: the 24 h total's words (mưa vừa, mưa to, mưa rất to);
- a weather station: the storm name its sustained wind reaches (áp thấp nhiệt đới … siêu bão);
- any station: grey when offline (the gateway's ``station_online`` is 0, or nothing newer than
  ``stale_after``).

The collector's hourly series (``vn_aqi_h``, ``vn_wqi``) win while they are fresh; without them
the index is computed from the latest values and labelled "tức thời" (instantaneous), as the
demo's console board does: a demo plays a day in minutes, so its hours never end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.indices import (
    AQI_CATEGORIES,
    WQI_CATEGORIES,
    Pollutant,
    StormCategory,
    aqi_category,
    flood_alarm,
    hourly_aqi,
    rain_intensity,
    vn_wqi,
    wind_text,
    wqi_category,
)
from collector.indices.wind import storm_category_of_speed
from collector.indices.wqi import WqiParam
from gateway.config import StationConfig
from gateway.model import Quality, Reading
from quantrac.board import INSTANTANEOUS

OFFLINE_GREY = "#9E9E9E"
NO_DATA_GREY = "#BDBDBD"
NEUTRAL_BLUE = "#5B8DB8"  # a station whose kind has no alarm scale, or too few parameters
# Flood alarm levels: the colours of the provinces' flood boards (xanh, vàng, cam, đỏ).
FLOOD_COLOURS = ("#00E400", "#FFFF00", "#FF7E00", "#FF0000")
RAIN_COLOURS = {None: "#A6D8FF", "mưa vừa": "#4FA3E0", "mưa to": "#FF7E00", "mưa rất to": "#FF0000"}
STORM_COLOURS = {
    None: "#00E400",
    StormCategory.TROPICAL_DEPRESSION: "#FFFF00",
    StormCategory.STORM: "#FF7E00",
    StormCategory.STRONG_STORM: "#FF0000",
    StormCategory.VERY_STRONG_STORM: "#8F3F97",
    StormCategory.SUPER_TYPHOON: "#7E0023",
}
# The hourly series count as current for two hours: the collector writes them on the hour.
HOURLY_FRESH = timedelta(hours=2)
# Offline when nothing arrived for this long (stations report every minute to 15 minutes).
DEFAULT_STALE_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StationState:
    """What the board shows of a station at a glance: the colour and its words."""

    colour: str  # "#RRGGBB"
    index: str  # what the colour is of: "Mực nước", "VN_AQI", "VN_WQI", "Mưa 24 giờ", "Gió"
    value: float | None  # the index's value (level in m, AQI, WQI, mm, m/s)
    text: str  # the value as officers say it: "2,25 m", "133", "68 mm", "17,4 m/s"
    label: str  # its meaning: "BĐ II", "Kém", "mưa to", "bão"
    level: int  # 0 normal … 5 worst within its scale; -1 offline or no data
    online: bool | None
    as_of: datetime | None  # the newest reading's time
    instantaneous: bool = False  # computed from the latest values, not the hourly series


def vi_number(value: float, digits: int = 2) -> str:
    """A Vietnamese decimal: comma, trailing zeros dropped ("2,1", "133")."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if text != "-0" else "0"


def _good(latest: Sequence[Reading]) -> dict[str, Reading]:
    return {
        r.param: r
        for r in latest
        if r.has_value and math.isfinite(r.value) and r.quality is not Quality.BAD
    }


def _fresh(reading: Reading | None, now: datetime, within: timedelta) -> Reading | None:
    return reading if reading is not None and now - reading.ts <= within else None


def station_state(
    station: StationConfig | None,
    latest: Sequence[Reading],
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> StationState:
    """The state of one station (``station`` None: stored but not configured)."""
    measured = [r for r in latest if r.param != "station_online"]
    as_of = max((r.ts for r in measured), default=None)
    online_reading = next((r for r in latest if r.param == "station_online"), None)
    online: bool | None = None
    if online_reading is not None and online_reading.has_value:
        online = online_reading.value >= 0.5
    if as_of is not None and now - as_of > stale_after:
        online = False
    if as_of is None:
        return StationState(NO_DATA_GREY, "", None, "–", "chưa có số liệu", -1, online, None)
    if online is False:
        return StationState(OFFLINE_GREY, "", None, "–", "mất kết nối", -1, False, as_of)
    good = _good(latest)
    kind = station.kind if station is not None else "unknown"
    judged = _JUDGES.get(kind, _neutral)(station, good, now)
    colour, index, value, text, label, level, instantaneous = judged
    return StationState(colour, index, value, text, label, level, online, as_of, instantaneous)


_Judged = tuple[str, str, float | None, str, str, int, bool]


def _neutral(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    return NEUTRAL_BLUE, "", None, "–", "đang đo", 0, False


def _hydro(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    water = good.get("water_level")
    if water is None:
        return NO_DATA_GREY, "Mực nước", None, "–", "chưa có mực nước", -1, False
    text = f"{vi_number(water.value)} m"
    if station is None or station.flood_levels is None:
        return NEUTRAL_BLUE, "Mực nước", water.value, text, "chưa có mức báo động", 0, False
    alarm = flood_alarm(water.value, station.flood_levels.as_tuple())
    assert alarm is not None  # a finite value always has a level
    colour = FLOOD_COLOURS[alarm.level]
    return colour, "Mực nước", water.value, text, alarm.label, alarm.level, False


def _air(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    hourly = _fresh(good.get("vn_aqi_h"), now, HOURLY_FRESH)
    # The demo writes its boards' index as vn_aqi_h with reason "instantaneous": said as such.
    instantaneous = hourly is None or hourly.reason == INSTANTANEOUS
    if hourly is not None:
        value: int | None = round(hourly.value)
    else:
        # The decision's formula on the latest values as if they were the hour's means.
        gases: dict[Pollutant, float | None] = {}
        particulates: dict[Pollutant, list[float | None]] = {}
        for pollutant in Pollutant:
            reading = good.get(pollutant.value)
            if reading is None:
                continue
            if pollutant in (Pollutant.PM10, Pollutant.PM25):
                particulates[pollutant] = [reading.value] * 3
            else:
                gases[pollutant] = reading.value
        value = hourly_aqi(gases, particulates).value
    if value is None:
        return NEUTRAL_BLUE, "VN_AQI", None, "–", "chưa đủ số liệu bụi", 0, instantaneous
    category = aqi_category(max(value, 0))
    level = AQI_CATEGORIES.index(category)
    return category.hex, "VN_AQI", float(value), str(value), category.name, level, instantaneous


def _water(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    derived = _fresh(good.get("vn_wqi"), now, HOURLY_FRESH)
    instantaneous = derived is None or derived.reason == INSTANTANEOUS
    if derived is not None:
        value: int | None = round(derived.value)
    else:
        known = {w.value for w in WqiParam}
        values: dict[WqiParam, float | None] = {
            WqiParam(p): r.value for p, r in good.items() if p in known
        }
        temp = good.get("water_temp")
        value = vn_wqi(values, water_temp_c=temp.value if temp else None).value
    if value is None:
        # Decision 1460, section 2.1.b: 3 of the 5 groups are needed; a sonde rarely has them.
        return NEUTRAL_BLUE, "VN_WQI", None, "–", "chưa đủ nhóm thông số", 0, instantaneous
    category = wqi_category(min(max(value, 0), 100))
    # Worse water, higher level: "Rất tốt" is 0, "Ô nhiễm rất nặng" 5.
    level = WQI_CATEGORIES.index(category)
    return category.hex, "VN_WQI", float(value), str(value), category.name, level, instantaneous


def _rain(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    total = good.get("rain_24h")
    if total is None:
        return NEUTRAL_BLUE, "Mưa 24 giờ", None, "–", "chưa có tổng mưa", 0, False
    words = rain_intensity(total.value)
    label = str(words) if words is not None else "không mưa / mưa nhỏ"
    level = 0 if words is None else [None, "mưa vừa", "mưa to", "mưa rất to"].index(str(words))
    colour = RAIN_COLOURS[None if words is None else str(words)]
    return colour, "Mưa 24 giờ", total.value, f"{vi_number(total.value, 1)} mm", label, level, False


def _weather(station: StationConfig | None, good: Mapping[str, Reading], now: datetime) -> _Judged:
    wind = good.get("wind_speed")
    if wind is None:
        return NEUTRAL_BLUE, "Gió", None, "–", "chưa có số liệu gió", 0, False
    gust = good.get("wind_gust")
    storm = storm_category_of_speed(wind.value)
    words = wind_text(wind.value, gust.value if gust else None) or ""
    label = ", ".join(x for x in (words, storm.value if storm else "") if x)
    level = 0 if storm is None else list(StormCategory).index(storm) + 1
    text = f"{vi_number(wind.value, 1)} m/s"
    return STORM_COLOURS[storm], "Gió", wind.value, text, label, level, False


_JUDGES = {"hydro": _hydro, "air": _air, "water": _water, "rain": _rain, "weather": _weather}
