from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from collector.indices import flood_alarm
from collector.qc import check, check_all
from gateway.model import DeviceStatus, Quality, Reading

TS = datetime(2026, 11, 22, 16, 40, tzinfo=UTC)


def reading(param: str, value: float, status: DeviceStatus = DeviceStatus.MEASURING) -> Reading:
    return Reading("kim_long", param, value, "m", TS, status)


@pytest.mark.parametrize(
    ("param", "value", "status", "quality", "reason"),
    [
        ("water_level", 2.25, DeviceStatus.MEASURING, Quality.GOOD, ""),
        ("water_level", -10.0, DeviceStatus.MEASURING, Quality.GOOD, ""),  # at the limit
        ("water_level", 60.0, DeviceStatus.MEASURING, Quality.GOOD, ""),
        ("water_level", 60.01, DeviceStatus.MEASURING, Quality.BAD, "range"),
        ("water_level", -10.5, DeviceStatus.MEASURING, Quality.BAD, "range"),
        ("water_level", math.nan, DeviceStatus.MEASURING, Quality.BAD, "no_value"),
        ("water_level", 2.0, DeviceStatus.CALIBRATING, Quality.BAD, "calibrating"),
        ("water_level", 2.0, DeviceStatus.ERROR, Quality.BAD, "device_error"),
        # status is checked first: both bad, the first reason stays
        ("water_level", 99.0, DeviceStatus.ERROR, Quality.BAD, "device_error"),
        ("pm25", -1.0, DeviceStatus.MEASURING, Quality.BAD, "range"),
        ("humidity", 100.0, DeviceStatus.MEASURING, Quality.GOOD, ""),
        ("mystery", 1.0, DeviceStatus.MEASURING, Quality.SUSPECT, "unknown_param"),
        ("station_online", 0.0, DeviceStatus.MEASURING, Quality.GOOD, ""),
    ],
)
def test_qc_flags_instead_of_dropping(
    param: str, value: float, status: DeviceStatus, quality: Quality, reason: str
) -> None:
    checked = check(reading(param, value, status))
    assert (checked.quality, checked.reason) == (quality, reason)
    assert checked.param == param  # the reading is kept, only flagged


def test_check_all_keeps_every_reading_in_order() -> None:
    readings = [reading("water_level", v) for v in (1.0, 99.0, math.nan, 2.0)]
    checked = check_all(readings)
    assert [r.quality for r in checked] == [Quality.GOOD, Quality.BAD, Quality.BAD, Quality.GOOD]


KIM_LONG = (1.0, 2.0, 3.5)


@pytest.mark.parametrize(
    ("level", "alarm", "margin", "label"),
    [
        (0.6, 0, -0.4, "dưới BĐ I"),
        (0.999, 0, -0.001, "dưới BĐ I"),
        (1.0, 1, 0.0, "BĐ I"),  # at the level counts as reached
        (1.99, 1, 0.99, "BĐ I"),
        (2.0, 2, 0.0, "BĐ II"),
        (2.25, 2, 0.25, "BĐ II"),
        (3.5, 3, 0.0, "BĐ III"),
        (4.1, 3, 0.6, "BĐ III"),
    ],
)
def test_flood_alarm_levels_of_kim_long(
    level: float, alarm: int, margin: float, label: str
) -> None:
    result = flood_alarm(level, KIM_LONG)
    assert result is not None
    assert result.level == alarm
    assert result.margin_m == pytest.approx(margin)
    assert result.label == label


def test_flood_alarm_of_a_missing_value_is_none() -> None:
    assert flood_alarm(math.nan, KIM_LONG) is None
