"""The QC chain, filter by filter, as tables; each table runs point by point and as one flush."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from collector.qc import FILTERS, REASONS, QcChain, QcSettings, check_all
from gateway.config import QcOverride, StationConfig
from gateway.model import DeviceStatus, Quality, Reading

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
G, S, B = Quality.GOOD, Quality.SUSPECT, Quality.BAD
M, C, E = DeviceStatus.MEASURING, DeviceStatus.CALIBRATING, DeviceStatus.ERROR


def station(qc: dict[str, dict[str, Any]] | None = None, **fields: Any) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": "kim_long",
            "name": "Kim Long",
            "kind": "hydro",
            "district": "Thành phố Huế",
            "source": {"driver": "tt10", "code": "KL01"},
            "qc": qc or {},
            **fields,
        }
    )


def chain(qc: dict[str, dict[str, Any]] | None = None, **fields: Any) -> QcChain:
    settings = QcSettings({"kim_long": station(qc, **fields)})
    return QcChain(settings, clock=lambda: NOW)


@dataclass(frozen=True)
class Point:
    minute: float
    value: float
    status: DeviceStatus = M


def readings(param: str, points: Sequence[Point | tuple[float, float]]) -> list[Reading]:
    out = []
    for point in points:
        p = point if isinstance(point, Point) else Point(*point)
        ts = T0 + timedelta(minutes=p.minute)
        out.append(Reading("kim_long", param, p.value, "m", ts, p.status))
    return out


Flags = list[tuple[Quality, str]]
Cases = dict[str, tuple[Sequence[Point | tuple[float, float]], Flags]]


def flags_point_by_point(qc: QcChain, batch: list[Reading]) -> list[tuple[Quality, str]]:
    """Each reading in its own flush, re-flags of earlier points applied by timestamp."""
    result: list[tuple[Quality, str]] = []
    position: dict[datetime, int] = {}
    for i, reading in enumerate(batch):
        checked = qc.check([reading])
        result.append((Quality(int(checked.quality[0])), REASONS[int(checked.reason[0])]))
        position.setdefault(reading.ts, i)
        for reflag in checked.reflags:
            result[position[reflag.ts]] = (reflag.quality, reflag.reason)
    return result


def flags_in_one_flush(qc: QcChain, batch: list[Reading]) -> list[tuple[Quality, str]]:
    checked = qc.check(batch)
    assert checked.reflags == []  # within one flush, earlier points are corrected in place
    pairs = zip(checked.quality.tolist(), checked.reason.tolist(), strict=True)
    return [(Quality(q), REASONS[c]) for q, c in pairs]


MODES = [flags_point_by_point, flags_in_one_flush]


def expect(*flags: Quality | tuple[Quality, str]) -> list[tuple[Quality, str]]:
    return [(f, "") if isinstance(f, Quality) else f for f in flags]


# -- stateless filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value", "status", "quality", "reason"),
    [
        ("water_level", 2.25, M, G, ""),
        ("water_level", -10.0, M, G, ""),  # at the limit
        ("water_level", 60.0, M, G, ""),
        ("water_level", 60.01, M, B, "range"),
        ("water_level", -10.5, M, B, "range"),
        ("water_level", math.nan, M, B, "no_value"),
        ("water_level", 2.0, C, B, "calibrating"),
        ("water_level", 2.0, E, B, "device_error"),
        # status is checked first: both bad, the first reason stays
        ("water_level", 99.0, E, B, "device_error"),
        ("pm25", -1.0, M, B, "range"),
        ("humidity", 100.0, M, G, ""),
        ("mystery", 1.0, M, S, "unknown_param"),
        ("mystery", math.nan, M, B, "no_value"),
        ("station_online", 0.0, M, G, ""),
    ],
)
def test_status_and_range(
    param: str, value: float, status: DeviceStatus, quality: Quality, reason: str
) -> None:
    (checked,) = check_all(readings(param, [Point(0, value, status)]))
    assert (checked.quality, checked.reason) == (quality, reason)
    assert checked.param == param  # the reading is kept, only flagged


@pytest.mark.parametrize(
    ("qc", "value", "flag"),
    [
        ({"water_level": {"limits": [0, 10]}}, 10.5, (B, "range")),
        ({"water_level": {"limits": [0, 10]}}, 9.5, (G, "")),
        ({"water_level": {"limits": [-20, 80]}}, 70.0, (G, "")),  # wider than the registry
    ],
)
def test_a_station_overrides_the_limits(
    qc: dict[str, dict[str, Any]], value: float, flag: tuple[Quality, str]
) -> None:
    assert flags_in_one_flush(chain(qc), readings("water_level", [(0, value)])) == [flag]


COMMISSIONED = {"commissioned": "2025-06-01"}


@pytest.mark.parametrize(
    ("ts", "fields", "flag"),
    [
        (NOW, {}, (G, "")),
        (NOW + timedelta(minutes=4), {}, (G, "")),  # within the 5 min a clock may run ahead
        (NOW + timedelta(minutes=6), {}, (B, "future")),
        (NOW + timedelta(hours=7), {}, (B, "future")),  # local time sent as UTC
        (datetime(1970, 1, 1, tzinfo=UTC), {}, (B, "before_commissioning")),
        (datetime(2009, 12, 31, 16, 59, tzinfo=UTC), {}, (B, "before_commissioning")),
        (datetime(2009, 12, 31, 17, 0, tzinfo=UTC), {}, (G, "")),  # 2010-01-01 00:00 +07
        (datetime(2025, 5, 31, tzinfo=UTC), COMMISSIONED, (B, "before_commissioning")),
        (datetime(2025, 6, 1, tzinfo=UTC), COMMISSIONED, (G, "")),
    ],
)
def test_timestamps_a_clock_cannot_have(
    ts: datetime, fields: dict[str, Any], flag: tuple[Quality, str]
) -> None:
    reading = Reading("kim_long", "water_level", 1.0, "m", ts)
    assert flags_in_one_flush(chain(None, **fields), [reading]) == [flag]


def test_a_future_point_does_not_make_the_next_ones_late() -> None:
    qc = chain()
    future = Reading("kim_long", "water_level", 1.0, "m", NOW + timedelta(days=300))
    now = Reading("kim_long", "water_level", 1.0, "m", NOW - timedelta(minutes=1))
    assert flags_in_one_flush(qc, [future, now]) == [(B, "future"), (G, "")]


# -- stateful filters: each table runs point by point and in one flush -------------------------

ORDER_CASES: Cases = {
    "in order": ([(0, 1.0), (5, 1.01), (10, 1.02)], expect(G, G, G)),
    "a re-sent point is a duplicate, not a fault": (
        [(0, 1.0), (5, 1.01), (5, 1.01), (10, 1.02)],
        expect(G, G, G, G),
    ),
    "a re-sent spike keeps its flag": (
        [(0, 1.0), (5, 4.0), (10, 1.01), (5, 4.0)],
        expect(G, (B, "spike"), G, (B, "spike")),
    ),
    "a late point": ([(0, 1.0), (10, 1.02), (5, 1.01)], expect(G, G, (S, "out_of_order"))),
    "the same time with another value": (
        [(0, 1.0), (5, 1.01), (5, 1.2)],
        expect(G, G, (S, "out_of_order")),
    ),
    "a late point does not reset the memory": (
        [(0, 1.0), (10, 1.02), (5, 9.0), (15, 1.03)],
        expect(G, G, (S, "out_of_order"), G),
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ORDER_CASES)
def test_duplicates_and_late_points(case: str, mode: Any) -> None:
    points, flags = ORDER_CASES[case]
    assert mode(chain(), readings("water_level", points)) == flags


def test_duplicates_are_counted() -> None:
    qc = chain()
    batch = readings("water_level", [(0, 1.0), (5, 1.01)])
    qc.check(batch)
    assert qc.check(batch).duplicates == 2
    assert qc.health()["duplicates"] == 2


# water_level: at most 0.2 m/min, so 1.0 m in 5 min; three jumps in a row make a new level.
SPIKE_CASES: Cases = {
    "steady rise": ([(0, 1.0), (5, 1.2), (10, 1.45), (15, 1.7)], expect(G, G, G, G)),
    "a bird under the radar": (
        [(0, 1.0), (5, 1.05), (10, 2.6), (15, 1.07)],
        expect(G, G, (B, "spike"), G),
    ),
    "a drop": ([(0, 2.0), (5, 0.5), (10, 2.01)], expect(G, (B, "spike"), G)),
    "just under the rate": ([(0, 1.0), (5, 1.99)], expect(G, G)),
    "measured from the last good value": (
        [(0, 1.0), (1, 1.5), (6, 1.55)],  # 1.5 in 1 min is a spike; 0.55 in 6 min is not
        expect(G, (B, "spike"), G),
    ),
    "a new level after three jumps": (
        [(0, 1.0), (1, 5.0), (2, 5.0), (3, 5.0), (4, 5.01)],
        expect(G, (B, "spike"), (B, "spike"), G, G),
    ),
    "a calibration value is not a reference": (
        [(0, 1.0), Point(1, 7.0, C), (2, 1.01)],
        expect(G, (B, "calibrating"), G),
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SPIKE_CASES)
def test_spike_and_rate_of_change(case: str, mode: Any) -> None:
    points, flags = SPIKE_CASES[case]
    qc = chain({"water_level": {"hampel_window": None}})
    assert mode(qc, readings("water_level", points)) == flags


def test_a_station_can_turn_the_spike_check_off() -> None:
    qc = chain({"water_level": {"max_rate_per_min": None, "hampel_window": None}})
    batch = readings("water_level", [(0, 1.0), (1, 5.0)])
    assert flags_in_one_flush(qc, batch) == expect(G, G)


FLAT = (S, "flatline")
# pm25: 12 identical values in a row are stuck (and all twelve are flagged).
FLATLINE_CASES: Cases = {
    "varying": ([(i, 20.0 + i % 3) for i in range(20)], [(G, "")] * 20),
    "eleven identical are not stuck": (
        [(i, 20.0) for i in range(11)] + [(11, 21.0)],
        [(G, "")] * 12,
    ),
    "twelve identical are, all of them": (
        [(0, 19.0)] + [(i, 20.0) for i in range(1, 13)] + [(13, 20.0), (14, 22.0)],
        [(G, "")] + [FLAT] * 13 + [(G, "")],
    ),
    "a bad value inside does not break the run": (
        [(i, 20.0) for i in range(6)] + [Point(6, 20.0, E)] + [(i, 20.0) for i in range(7, 13)],
        [FLAT] * 6 + [(B, "device_error")] + [FLAT] * 6,
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FLATLINE_CASES)
def test_flatline(case: str, mode: Any) -> None:
    points, flags = FLATLINE_CASES[case]
    assert mode(chain({"pm25": {"hampel_window": None}}), readings("pm25", points)) == flags


def test_flatline_tolerance() -> None:
    qc = chain({"pm25": {"hampel_window": None, "flatline": 3, "flatline_tolerance": 0.5}})
    batch = readings("pm25", [(0, 20.0), (1, 20.4), (2, 20.1), (3, 25.0)])
    assert flags_in_one_flush(qc, batch) == expect(FLAT, FLAT, FLAT, G)


CALM = [(i * 5, 1.0 + 0.01 * (i % 3)) for i in range(12)]  # window full: median 1.01
HAMPEL_CASES: Cases = {
    "within the band": ([*CALM, (60, 1.15)], expect(*[G] * 12, G)),
    "an outlier": ([*CALM, (60, 1.4)], expect(*[G] * 12, (S, "outlier"))),
    "below": ([*CALM, (60, 0.7)], expect(*[G] * 12, (S, "outlier"))),
    "not before the window is full": ([*CALM[:11], (55, 1.4)], expect(*[G] * 11, G)),
    "a new level is followed": (
        CALM + [(60 + i * 5, 1.6) for i in range(9)],
        expect(*[G] * 12, *[(S, "outlier")] * 5, G, G, G, G),
    ),
    # Against the trend, not the median: a median lags a rising river by half the window.
    "a steady rise is no outlier": (
        [(i * 5, 1.0 + 0.08 * i + 0.01 * (i % 2)) for i in range(24)],
        expect(*[G] * 24),
    ),
    "an outlier on a rise": (
        [(i * 5, 1.0 + 0.08 * i) for i in range(16)] + [(80, 2.6)],
        expect(*[G] * 16, (S, "outlier")),
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", HAMPEL_CASES)
def test_hampel_outliers(case: str, mode: Any) -> None:
    points, flags = HAMPEL_CASES[case]
    qc = chain({"water_level": {"max_rate_per_min": None, "flatline": None}})
    assert mode(qc, readings("water_level", points)) == flags


def test_series_are_independent_in_one_flush() -> None:
    qc = chain({"water_level": {"hampel_window": None}})
    kim_long = readings("water_level", [(0, 1.0), (5, 3.0)])
    other = [
        Reading("phu_oc", "water_level", v, "m", T0 + timedelta(minutes=m))
        for m, v in [(0, 3.0), (5, 3.0)]
    ]
    mixed = [kim_long[0], other[0], kim_long[1], other[1]]
    assert flags_in_one_flush(qc, mixed) == expect(G, G, (B, "spike"), G)


def test_the_filter_table_is_the_chain() -> None:
    assert list(FILTERS) == [
        "status", "range", "timestamp", "order", "spike", "flatline", "hampel",
    ]  # fmt: skip


def test_station_settings_validate() -> None:
    with pytest.raises(ValueError, match="low limit is above"):
        QcOverride.model_validate({"limits": [10, 0]})
    with pytest.raises(ValueError, match="less than or equal to 17"):
        station({"pm25": {"flatline": 40}})


# -- a recorded-looking day of Kim Long ------------------------------------------------------


def kim_long_day() -> tuple[list[Reading], set[int]]:
    """288 five-minute levels of the Hương at Kim Long on a day a flood rises past BĐ II.

    Tide (the Hương is tidal at Huế) and millimetre noise on a flood wave; then faults injected
    as they happen: a bird under the radar, a wave, a dropout to the bottom, a stuck sensor for
    two hours, and a calibration visit. Returns the readings and the indices of the faults.
    """
    rng = np.random.default_rng(20261122)
    minutes = np.arange(288) * 5
    hours = minutes / 60
    tide = 0.12 * np.sin(2 * np.pi * hours / 12.4)
    flood = 1.6 / (1 + np.exp(-(hours - 14) / 1.5))  # rises in the afternoon
    level = np.round(0.7 + tide + flood + rng.normal(0, 0.004, len(hours)), 3)
    status = [M] * len(level)
    faults: set[int] = set()
    for i, jump in [(40, 1.8), (95, -1.2), (150, 0.6), (230, 2.5)]:  # single-point spikes
        level[i] += jump
        faults.add(i)
    level[200] = 0.0  # dropout to the sensor's zero
    faults.add(200)
    stuck = range(60, 84)  # two hours of a frozen logger register, three hours stale
    level[list(stuck)] = level[24]
    faults.update(stuck)
    for i in range(110, 116):  # calibration visit: status 01, test weights on the sensor
        status[i] = C
        level[i] = 5.0 if i % 2 else 0.3
        faults.add(i)
    batch = [
        Reading("kim_long", "water_level", float(v), "m", T0 + timedelta(minutes=int(m)), s)
        for v, m, s in zip(level, minutes, status, strict=True)
    ]
    return batch, faults


@pytest.mark.parametrize("flush", [1, 12, 288], ids=["point by point", "hourly", "whole day"])
def test_a_day_of_kim_long_every_fault_flagged_no_good_value_flagged(flush: int) -> None:
    batch, faults = kim_long_day()
    qc = chain()
    flags: dict[datetime, tuple[Quality, str]] = {}
    for start in range(0, len(batch), flush):
        part = batch[start : start + flush]
        checked = qc.check(part)
        for reading, checked_reading in zip(part, checked.flagged(part), strict=True):
            flags[reading.ts] = (checked_reading.quality, checked_reading.reason)
        for reflag in checked.reflags:
            flags[reflag.ts] = (reflag.quality, reflag.reason)
    flagged = {i for i, r in enumerate(batch) if flags[r.ts][0] is not G}
    missed = sorted(faults - flagged)
    false_alarms = sorted(flagged - faults)
    assert (len(faults), len(missed), len(false_alarms)) == (35, 0, 0), (missed, false_alarms)
    reasons = {flags[batch[i].ts][1] for i in faults}
    assert reasons == {"spike", "outlier", "flatline", "calibrating"}, reasons


def test_state_per_series_is_small() -> None:
    qc = QcChain(clock=lambda: NOW)
    batch = [
        Reading(f"s{i}", "pm25", 10.0, "µg/m³", T0) for i in range(2_000)
    ]
    qc.check(batch)
    assert qc.state.bytes_per_series() <= 1024
    assert qc.health()["series"] == 2_000


def test_reasons_are_the_documented_codes() -> None:
    assert set(REASONS) == {
        "", "calibrating", "device_error", "no_value", "range", "unknown_param", "future",
        "before_commissioning", "out_of_order", "spike", "flatline", "outlier",
    }  # fmt: skip
