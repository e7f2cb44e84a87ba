"""The demo's index board: rows read off the latest readings and derived series."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.model import Quality, Reading
from quantrac.board import index_rows
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

TS = datetime(2026, 11, 22, 9, tzinfo=UTC)


def r(station: str, param: str, value: float, **kw: object) -> Reading:
    return Reading(station, param, value, "", TS, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("station", "latest", "rows"),
    [
        (
            "kim_long",
            [r("kim_long", "water_level", 2.25), r("kim_long", "flood_level", 2, reason="BĐ II")],
            [("Mực nước", "2,25 m", "BĐ II")],
        ),
        (
            "hue_air",  # PM2.5 at 50 µg/m³ is exactly I = 100 (the other sub-indices are lower)
            [r("hue_air", "pm25", 50.0), r("hue_air", "pm10", 40.0), r("hue_air", "no2", 80.0)],
            [("VN_AQI tức thời", "100", "Trung bình (pm25)")],
        ),
        (
            "hue_air",  # a bad value is not shown as an index
            [r("hue_air", "pm25", 500.0, quality=Quality.BAD)],
            [],
        ),
        (
            "hue_weather",
            [r("hue_weather", "wind_speed", 19.0), r("hue_weather", "wind_gust", 26.6)],
            [("Gió", "19,0 m/s", "cấp 8, giật cấp 10, bão")],
        ),
        (
            "nam_dong",
            [r("nam_dong", "rain_1h", 12.0), r("nam_dong", "rain_24h", 180.0)],
            [("Mưa 1 giờ", "12,0 mm", ""), ("Mưa 24 giờ", "180,0 mm", "mưa rất to")],
        ),
    ],
)
def test_index_rows(station: str, latest: list[Reading], rows: list[tuple[str, str, str]]) -> None:
    config = load_site(EXAMPLE_SITE).stations[station]
    assert index_rows(config, latest) == rows
