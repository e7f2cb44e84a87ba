"""A station's state as the board colours it: a table per kind, offline, and every water level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.model import Quality, Reading
from quantrac.api_state import FLOOD_COLOURS, StationState, station_state, vi_number
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

STATIONS = load_site(EXAMPLE_SITE).stations
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def now(station: str, param: str, value: float, unit: str = "", *, ago_min: float = 1,
        quality: Quality = Quality.GOOD) -> Reading:  # fmt: skip
    return Reading(station, param, value, unit, NOW - timedelta(minutes=ago_min), quality=quality)


def state(station: str, *readings: Reading) -> StationState:
    return station_state(STATIONS[station], readings, NOW)


@pytest.mark.parametrize(
    ("station", "readings", "colour", "text", "label"),
    [
        ("kim_long", [now("kim_long", "water_level", 0.99, "m")], "#00E400", "0,99 m", "dưới BĐ I"),
        ("kim_long", [now("kim_long", "water_level", 1.0, "m")], "#FFFF00", "1 m", "BĐ I"),
        ("kim_long", [now("kim_long", "water_level", 2.25, "m")], "#FF7E00", "2,25 m", "BĐ II"),
        ("kim_long", [now("kim_long", "water_level", 3.5, "m")], "#FF0000", "3,5 m", "BĐ III"),
        # A bad value is no level: the last good one is not kept either, so there is none.
        ("kim_long", [now("kim_long", "water_level", 9.0, "m", quality=Quality.BAD)],
         "#BDBDBD", "–", "chưa có mực nước"),
        ("hue_air", [now("hue_air", "pm25", 20.0, "µg/m³")], "#00E400", "40", "Tốt"),
        ("hue_air", [now("hue_air", "pm25", 60.0, "µg/m³")], "#FF7E00", "117", "Kém"),
        ("hue_air", [now("hue_air", "pm25", 600.0, "µg/m³")], "#7E0023", "500", "Nguy hại"),
        # The collector's hourly VN_AQI wins over the instantaneous one while it is fresh.
        ("hue_air", [now("hue_air", "pm25", 20.0), now("hue_air", "vn_aqi_h", 160, ago_min=50)],
         "#FF0000", "160", "Xấu"),
        ("hue_air", [now("hue_air", "no2", 20.0)], "#5B8DB8", "–", "chưa đủ số liệu bụi"),
        ("van_nien", [now("van_nien", "ph", 7.0), now("van_nien", "do", 6.0)], "#5B8DB8", "–",
         "chưa đủ nhóm thông số"),
        ("van_nien", [now("van_nien", "vn_wqi", 82, ago_min=30)], "#00E400", "82", "Tốt"),
        ("nam_dong", [now("nam_dong", "rain_24h", 10.0, "mm")], "#A6D8FF", "10 mm",
         "không mưa / mưa nhỏ"),
        ("nam_dong", [now("nam_dong", "rain_24h", 120.0, "mm")], "#FF0000", "120 mm",
         "mưa rất to"),
        ("hue_weather", [now("hue_weather", "wind_speed", 3.0, "m/s")], "#00E400", "3 m/s",
         "cấp 2"),
        ("hue_weather", [now("hue_weather", "wind_speed", 25.0, "m/s"),
                         now("hue_weather", "wind_gust", 35.0, "m/s")],
         "#FF0000", "25 m/s", "cấp 10, giật cấp 12, bão mạnh"),
    ],
)  # fmt: skip
def test_colour_and_words_by_kind(
    station: str, readings: list[Reading], colour: str, text: str, label: str
) -> None:
    found = state(station, *readings)
    assert (found.colour, found.text, found.label) == (colour, text, label)


def test_offline_by_the_gateway_or_by_silence() -> None:
    told = state("kim_long", now("kim_long", "water_level", 2.5, "m"),
                 now("kim_long", "station_online", 0.0, "bool"))  # fmt: skip
    quiet = state("kim_long", now("kim_long", "water_level", 2.5, "m", ago_min=61))
    never = state("kim_long")
    assert (told.colour, told.label, told.online) == ("#9E9E9E", "mất kết nối", False)
    assert (quiet.colour, quiet.level) == ("#9E9E9E", -1)
    assert (never.label, never.as_of) == ("chưa có số liệu", None)


@given(st.floats(min_value=-50, max_value=100, allow_nan=False))
def test_every_water_level_has_the_colour_of_its_alarm_level(level: float) -> None:
    found = state("kim_long", now("kim_long", "water_level", level, "m"))
    expected = sum(level >= bd - 0.0005 for bd in (1.0, 2.0, 3.5))
    assert found.level == expected
    assert found.colour == FLOOD_COLOURS[expected]


@pytest.mark.parametrize(("value", "text"), [(2.0, "2"), (2.25, "2,25"), (0.999, "1"),
                                             (-0.4, "-0,4"), (133.0, "133")])  # fmt: skip
def test_vietnamese_numbers(value: float, text: str) -> None:
    assert vi_number(value) == text
