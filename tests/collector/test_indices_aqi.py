"""VN_AQI (Decision 1459/QĐ-TCMT): breakpoints, NowCast, hourly and daily AQI, categories."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.indices.aqi import (
    AqiColumn,
    Pollutant,
    aqi_category,
    daily_aqi,
    hourly_aqi,
    nowcast,
    sub_index,
    vn_aqi_d,
    vn_aqi_h,
)

# The breakpoint table as Decision 1459 prints it (docs/indices.md), transcribed here
# independently of the module.
LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
TABLE: dict[AqiColumn, tuple[float, ...]] = {
    AqiColumn.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
    AqiColumn.O3_8H: (0, 100, 120, 170, 210, 400),
    AqiColumn.CO: (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    AqiColumn.SO2: (0, 125, 350, 550, 800, 1600, 2100, 2630),
    AqiColumn.NO2: (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    AqiColumn.PM10: (0, 50, 150, 250, 350, 420, 500, 600),
    AqiColumn.PM25: (0, 25, 50, 80, 150, 250, 350, 500),
}
AT_BREAKPOINT = [
    pytest.param(column, bp, level, id=f"{column}-{bp:g}")
    for column, bps in TABLE.items()
    for bp, level in zip(bps, LEVELS, strict=False)
]
# Linear inside a band: the middle of a band scores the middle of its two levels.
MID_BAND = [
    pytest.param(column, (lo + hi) / 2, (i_lo + i_hi) / 2, id=f"{column}-mid-{lo:g}-{hi:g}")
    for column, bps in TABLE.items()
    for (lo, hi), (i_lo, i_hi) in zip(pairwise(bps), pairwise(LEVELS), strict=False)
]


@pytest.mark.parametrize(("column", "concentration", "expected"), AT_BREAKPOINT)
def test_exactly_at_a_breakpoint_is_its_level(
    column: AqiColumn, concentration: float, expected: int
) -> None:
    result = sub_index(column, concentration)
    assert result is not None
    assert result.value == expected
    assert not result.above_scale


@pytest.mark.parametrize(("column", "concentration", "expected"), MID_BAND)
def test_the_middle_of_every_band(column: AqiColumn, concentration: float, expected: float) -> None:
    result = sub_index(column, concentration)
    assert result is not None
    assert result.value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("column", "concentration", "expected"),
    [
        # Just above a breakpoint: the bands are continuous (no 0.1 gap as in the US EPA table).
        (AqiColumn.PM25, 25.1, 50.2),  # (100−50)/(50−25)·(25.1−25) + 50 = 2·0.1 + 50
        (AqiColumn.PM25, 50.5, 100 + 50 / 30 * 0.5),  # (150−100)/(80−50)·0.5 + 100 = 100.8333…
        (AqiColumn.PM10, 150.1, 100.05),  # (150−100)/(250−150)·0.1 + 100
        (AqiColumn.PM10, 420.5, 300.625),  # (400−300)/(500−420)·0.5 + 300
        (AqiColumn.O3_1H, 160.4, 50.5),  # (100−50)/(200−160)·0.4 + 50
        (AqiColumn.O3_8H, 100.2, 50.5),  # (100−50)/(120−100)·0.2 + 50
        (AqiColumn.CO, 10100, 50.25),  # (100−50)/(30000−10000)·100 + 50
        (AqiColumn.SO2, 126, 50 + 50 / 225),  # (100−50)/(350−125)·1 + 50 = 50.2222…
        (AqiColumn.NO2, 201, 100.1),  # (150−100)/(700−200)·1 + 100
        (AqiColumn.PM25, 0.5, 1.0),  # (50−0)/(25−0)·0.5 + 0
    ],
)
def test_just_above_a_breakpoint(column: AqiColumn, concentration: float, expected: float) -> None:
    result = sub_index(column, concentration)
    assert result is not None
    assert result.value == pytest.approx(expected)


@pytest.mark.parametrize(
    "column", [c for c in AqiColumn if c is not AqiColumn.O3_8H], ids=lambda c: str(c)
)
def test_above_the_top_is_capped_at_500_and_flagged(column: AqiColumn) -> None:
    top = TABLE[column][-1]
    for concentration in (top + 0.1, top * 3):
        result = sub_index(column, concentration)
        assert result is not None
        assert result.value == 500
        assert result.above_scale


def test_o3_8h_above_400_is_skipped() -> None:
    assert sub_index(AqiColumn.O3_8H, 400.1) is None
    at_top = sub_index(AqiColumn.O3_8H, 400)
    assert at_top is not None
    assert at_top.value == 300


@pytest.mark.parametrize("concentration", [None, math.nan, -0.1])
@pytest.mark.parametrize("column", list(AqiColumn), ids=lambda c: str(c))
def test_missing_or_negative_concentration_has_no_sub_index(
    column: AqiColumn, concentration: float | None
) -> None:
    assert sub_index(column, concentration) is None


@given(
    column=st.sampled_from([c for c in AqiColumn if c is not AqiColumn.O3_8H]),
    a=st.floats(min_value=0, max_value=200_000),
    b=st.floats(min_value=0, max_value=200_000),
)
def test_sub_index_is_monotone_and_bounded(column: AqiColumn, a: float, b: float) -> None:
    low, high = sub_index(column, min(a, b)), sub_index(column, max(a, b))
    assert low is not None
    assert high is not None
    assert 0 <= low.value <= high.value <= 500


# NowCast: c1 is the current hour. Expected values are worked by hand.


def test_nowcast_of_a_steady_concentration_is_that_concentration() -> None:
    result = nowcast([35.0] * 12)
    assert result.value == pytest.approx(35.0)
    assert result.weight == 1.0  # w* = 35/35 = 1 > 1/2
    assert result.hours == 12


def test_nowcast_weight_above_one_half_is_used_as_is() -> None:
    # c = 50, 40, 30: w* = 30/50 = 0.6 > 1/2, so w = 0.6.
    # Σ w^(i−1)·c_i = 50 + 0.6·40 + 0.36·30 = 50 + 24 + 10.8 = 84.8
    # Σ w^(i−1)     = 1 + 0.6 + 0.36 = 1.96  →  84.8 / 1.96 = 43.2653…
    result = nowcast([50, 40, 30])
    assert result.weight == pytest.approx(0.6)
    assert result.value == pytest.approx(84.8 / 1.96)


def test_nowcast_weight_is_floored_at_one_half() -> None:
    # c = 80, 10: w* = 10/80 = 0.125 ≤ 1/2, so w = 1/2.
    # (80 + 0.5·10) / (1 + 0.5) = 85 / 1.5 = 56.666…
    result = nowcast([80, 10])
    assert result.weight == 0.5
    assert result.value == pytest.approx(85 / 1.5)


def test_nowcast_gives_a_missing_hour_weight_zero() -> None:
    # c = 30, 20, –, 10: w* = 10/30 → w = 1/2; the missing c3 drops out of both sums.
    # (30 + 0.5·20 + 0.125·10) / (1 + 0.5 + 0.125) = 41.25 / 1.625 = 25.3846…
    result = nowcast([30, 20, None, 10])
    assert result.value == pytest.approx(41.25 / 1.625)
    assert result.hours == 3


def test_nowcast_without_the_current_hour() -> None:
    # c = –, 20, 10: two of the last three are present. w* = 10/20 → w = 1/2.
    # (0.5·20 + 0.25·10) / (0.5 + 0.25) = 12.5 / 0.75 = 16.666…
    result = nowcast([None, 20, 10])
    assert result.value == pytest.approx(12.5 / 0.75)


def test_nowcast_weights_reach_the_twelfth_hour() -> None:
    # c1 = c2 = 40, c12 = 20, the rest missing: w* = 20/40 → w = 1/2, and c12 weighs w^11.
    w11 = 0.5**11
    result = nowcast([40, 40, *[None] * 9, 20])
    assert result.value == pytest.approx((40 + 0.5 * 40 + w11 * 20) / (1 + 0.5 + w11))


@pytest.mark.parametrize(
    "hours",
    [
        [None, None, 30, 40, 50],  # only c3 of the last three
        [30, None, None, 40, 50],  # only c1
        [math.nan, 20, -1.0, 40],  # NaN and negative are missing
        [],
    ],
)
def test_nowcast_needs_two_of_the_last_three_hours(hours: list[float | None]) -> None:
    result = nowcast(hours)
    assert result.value is None
    assert result.reason is not None
    assert "2" in result.reason


def test_nowcast_of_zeros_is_zero() -> None:
    result = nowcast([0.0, 0.0, 0.0])
    assert result.value == 0.0


def test_nowcast_takes_at_most_twelve_hours() -> None:
    with pytest.raises(ValueError, match="12"):
        nowcast([10.0] * 13)


@given(st.lists(st.floats(min_value=0, max_value=1000), min_size=2, max_size=12))
def test_nowcast_lies_between_the_hours(hours: list[float]) -> None:
    value = nowcast(list(hours)).value
    assert value is not None
    assert min(hours) - 1e-9 <= value <= max(hours) + 1e-9


# Hourly AQI.


def test_hourly_aqi_is_the_largest_sub_index_rounded() -> None:
    # NO2 118.7 → 59.35 (see below); PM2.5 steady 30 → (100−50)/(50−25)·5 + 50 = 60.
    result = hourly_aqi({Pollutant.NO2: 118.7, Pollutant.CO: 5000}, {Pollutant.PM25: [30.0] * 12})
    assert result.value == 60
    assert result.dominant is Pollutant.PM25
    assert result.sub_indices[Pollutant.CO].value == pytest.approx(25)  # 50/10000·5000
    assert result.category is not None
    assert result.category.name == "Trung bình"


def test_the_decisions_hourly_no2_example_follows_the_formula() -> None:
    # The decision prints 60 for its hourly NO2 example, but its own formula gives 59.35:
    # (100−50)/(200−100)·(118.7−100) + 50 = 0.5·18.7 + 50 = 59.35 → 59. docs/indices.md: follow the
    # formula. (118.7 µg/m³ is the concentration at which the formula gives 59.35.)
    no2 = sub_index(AqiColumn.NO2, 118.7)
    assert no2 is not None
    assert no2.value == pytest.approx(59.35)
    result = hourly_aqi({Pollutant.NO2: 118.7}, {Pollutant.PM25: [10.0] * 12})
    assert result.value == 59


def test_hourly_aqi_needs_pm10_or_pm25() -> None:
    result = hourly_aqi({Pollutant.NO2: 150, Pollutant.O3: 180}, {})
    assert result.value is None
    assert result.reason is not None
    assert "PM10 or PM2.5" in result.reason
    assert result.sub_indices[Pollutant.O3].value == pytest.approx(75)  # 50/40·20 + 50
    assert result.category is None
    assert result.label is None


def test_hourly_aqi_with_pm_failing_the_three_hour_rule() -> None:
    result = hourly_aqi({Pollutant.SO2: 100}, {Pollutant.PM10: [None, None, 40, 40]})
    assert result.value is None
    assert Pollutant.PM10 in result.missing
    assert "last 3" in result.missing[Pollutant.PM10]


def test_hourly_aqi_with_one_pm_of_two_is_enough() -> None:
    result = hourly_aqi({}, {Pollutant.PM10: [None, None, 40], Pollutant.PM25: [20.0, 20.0]})
    assert result.value == 40  # PM2.5 20 → 50/25·20
    assert set(result.missing) == {Pollutant.PM10}


def test_hourly_aqi_above_the_scale_reads_at_least_500() -> None:
    result = hourly_aqi({}, {Pollutant.PM25: [600.0] * 3})
    assert result.value == 500
    assert result.above_scale
    assert result.label == "≥ 500"
    at_top = hourly_aqi({}, {Pollutant.PM25: [500.0] * 3})
    assert at_top.value == 500
    assert at_top.label == "500"


def test_hourly_aqi_rounds_half_up() -> None:
    # PM2.5 25.25 → 2·0.25 + 50 = 50.5 → 51: "Trung bình", not "Tốt".
    result = hourly_aqi({}, {Pollutant.PM25: [25.25] * 3})
    assert result.value == 51
    assert result.category is not None
    assert result.category.name == "Trung bình"


def test_pm_and_gases_go_in_their_own_argument() -> None:
    with pytest.raises(ValueError, match="NowCast"):
        hourly_aqi({Pollutant.PM25: 30.0}, {})
    with pytest.raises(ValueError, match="not PM10"):
        hourly_aqi({}, {Pollutant.O3: [30.0]})


# Hourly AQI from series stamped with the end of each hour.

T = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 local


def hours_back(values: list[float]) -> list[tuple[datetime, float]]:
    """values[0] at T, values[1] an hour earlier, …"""
    return [(T - timedelta(hours=k), v) for k, v in enumerate(values)]


def test_vn_aqi_h_uses_the_current_hour_of_gases_and_nowcast_of_pm() -> None:
    pm25 = hours_back([50, 40, 30])  # NowCast 43.2653… (see above) → 50/25·18.2653 + 50
    no2 = [(T, 118.7), (T - timedelta(hours=1), 1000.0)]  # the earlier hour is not this hour's
    result = vn_aqi_h({Pollutant.PM25: pm25, Pollutant.NO2: no2}, T)
    expected_pm = 2 * (84.8 / 1.96 - 25) + 50  # = 86.53…
    assert result.sub_indices[Pollutant.PM25].value == pytest.approx(expected_pm)
    assert result.sub_indices[Pollutant.NO2].value == pytest.approx(59.35)
    assert result.value == 87


def test_vn_aqi_h_lists_a_gas_without_this_hour() -> None:
    result = vn_aqi_h(
        {Pollutant.PM10: hours_back([40, 40]), Pollutant.SO2: hours_back([-1.0, 80.0])}, T
    )
    assert result.value == 40
    assert result.missing == {Pollutant.SO2: "no 1-hour mean for this hour"}


def test_vn_aqi_h_refuses_naive_or_off_the_hour_timestamps() -> None:
    with pytest.raises(ValueError, match="time zone"):
        vn_aqi_h({Pollutant.PM10: []}, datetime(2026, 11, 20, 3, 0))
    with pytest.raises(ValueError, match="on the hour"):
        vn_aqi_h({Pollutant.PM10: [(T + timedelta(minutes=5), 40.0)]}, T)


# Daily AQI.


def test_the_decisions_daily_rounding_109_5_is_110() -> None:
    # PM10 24-hour mean 169: (150−100)/(250−150)·(169−150) + 100 = 0.5·19 + 100 = 109.5 → 110.
    result = daily_aqi({Pollutant.PM10: 169}, {})
    assert result.sub_indices[Pollutant.PM10].value == pytest.approx(109.5)
    assert result.value == 110
    assert result.category is not None
    assert result.category.name == "Kém"


@pytest.mark.parametrize(
    ("max_1h", "max_8h", "expected", "column"),
    [
        (180, 110, 75, AqiColumn.O3_8H),  # 1h: 50/40·20+50 = 75; 8h: 50/20·10+50 = 75 (tie → 1h)
        (180, 115, 87.5, AqiColumn.O3_8H),  # 8h: 50/20·15 + 50 = 87.5 > 75
        (250, 110, 125, AqiColumn.O3_1H),  # 1h: 50/100·50 + 100 = 125 > 75
        (350, 450, 175, AqiColumn.O3_1H),  # 8h above 400: skipped; 1h: 50/100·50 + 150
        (None, 115, 87.5, AqiColumn.O3_8H),  # only the 8-hour part
    ],
)
def test_daily_o3_is_the_larger_of_its_1h_and_8h_sub_indices(
    max_1h: float | None, max_8h: float, expected: float, column: AqiColumn
) -> None:
    result = daily_aqi({Pollutant.PM25: 10}, {Pollutant.O3: max_1h}, max_8h)
    o3 = result.sub_indices[Pollutant.O3]
    assert o3.value == pytest.approx(expected)
    if expected != 75:
        assert o3.column is column


def test_daily_aqi_needs_pm() -> None:
    result = daily_aqi({Pollutant.PM10: None}, {Pollutant.SO2: 200})
    assert result.value is None
    assert result.missing == {Pollutant.PM10: "no 24-hour mean"}


DAY = date(2026, 11, 20)
# The local day's hours end at 01:00 … 24:00 local = 18:00 UTC on the 19th … 17:00 UTC on the 20th.
FIRST_END = datetime(2026, 11, 19, 18, 0, tzinfo=UTC)


def day_series(values: list[float], first: datetime = FIRST_END) -> list[tuple[datetime, float]]:
    return [(first + timedelta(hours=k), v) for k, v in enumerate(values)]


def test_vn_aqi_d_takes_the_24_hour_mean_of_pm_in_local_time() -> None:
    # 23 hours at 30 and the 24:00 hour at 54: mean (23·30 + 54)/24 = 31. The hour ending at
    # 00:00 local (17:00 UTC the 19th) belongs to the day before and must not count.
    pm25 = [*day_series([30.0] * 23 + [54.0]), (FIRST_END - timedelta(hours=1), 500.0)]
    result = vn_aqi_d({Pollutant.PM25: pm25}, DAY)
    assert result.sub_indices[Pollutant.PM25].concentration == pytest.approx(31.0)
    assert result.value == 62  # (100−50)/(50−25)·6 + 50


def test_vn_aqi_d_takes_the_largest_1h_mean_of_gases() -> None:
    so2 = day_series([50.0] * 20 + [400.0] + [50.0] * 3)  # 400 → 50/200·50 + 100 = 112.5
    result = vn_aqi_d({Pollutant.PM25: day_series([10.0] * 24), Pollutant.SO2: so2}, DAY)
    assert result.value == 113
    assert result.dominant is Pollutant.SO2


def test_vn_aqi_d_leaves_out_a_pollutant_with_too_few_hours() -> None:
    pm25 = day_series([30.0] * 17)
    pm10 = day_series([100.0] * 18)  # exactly the default minimum: 100 → 50/100·50 + 50 = 75
    result = vn_aqi_d({Pollutant.PM25: pm25, Pollutant.PM10: pm10}, DAY)
    assert result.value == 75
    assert result.missing[Pollutant.PM25] == "17 of 24 hourly means; a day needs 18"
    strict = vn_aqi_d({Pollutant.PM25: pm25, Pollutant.PM10: pm10}, DAY, min_hours=24)
    assert strict.value is None
    assert strict.reason is not None


PM_ALL_DAY = day_series([10.0] * 24)  # PM2.5 sub-index 20: the gases decide


def hours_at(
    value: float, hours: list[int], first: datetime = FIRST_END
) -> list[tuple[datetime, float]]:
    """``value`` at the given hours of the day (1 … 24 local) and nothing else."""
    return [(first + timedelta(hours=h - 1), value) for h in hours]


@pytest.mark.parametrize(
    ("pollutant", "series", "min_hours", "value", "dominant", "missing"),
    [
        # A gas measured for three hours only, high: its largest 1-hour mean counts (Decision
        # 1459/QĐ-TCMT: the day's largest 1-h mean), whatever the coverage rule of the 24-h means.
        # SO2 400 → 50/200·50 + 100 = 112.5.
        (Pollutant.SO2, hours_at(400.0, [9, 10, 11]), 18, 113, Pollutant.SO2, None),
        # NO2 1000 → 50/500·300 + 150 = 180, from one hour.
        (Pollutant.NO2, hours_at(1000.0, [14]), 18, 180, Pollutant.NO2, None),
        # CO 30000: a breakpoint, 100, from two hours even when the 24-h means need all 24.
        (Pollutant.CO, hours_at(30000.0, [7, 8]), 24, 100, Pollutant.CO, None),
        # O3 1h column: 210 → 105 from two hours; no complete 8-hour window that day.
        (Pollutant.O3, hours_at(210.0, [15, 16]), 18, 105, Pollutant.O3, None),
        # A gas with no hour that day is missing, with its reason; the day still has its PM.
        (Pollutant.SO2, [], 18, 20, Pollutant.PM25, "no hourly mean that day"),
        # The coverage rule still holds for the 24-h means: 17 hours of PM10 are not a day,
        # unless min_hours says so (300 → 50/100·50 + 150 = 175).
        (
            Pollutant.PM10,
            day_series([300.0] * 17),
            18,
            20,
            Pollutant.PM25,
            "17 of 24 hourly means; a day needs 18",
        ),
        (Pollutant.PM10, day_series([300.0] * 17), 17, 175, Pollutant.PM10, None),
    ],
    ids=["so2-3h", "no2-1h", "co-2h-strict", "o3-1h-2h", "so2-none", "pm10-17h", "pm10-17h-ok"],
)
def test_vn_aqi_d_coverage_rule_is_for_24h_means_only(
    pollutant: Pollutant,
    series: list[tuple[datetime, float]],
    min_hours: int,
    value: int,
    dominant: Pollutant,
    missing: str | None,
) -> None:
    result = vn_aqi_d({Pollutant.PM25: PM_ALL_DAY, pollutant: series}, DAY, min_hours=min_hours)
    assert (result.value, result.dominant) == (value, dominant)
    assert result.missing.get(pollutant) == missing


def test_vn_aqi_d_o3_8h_still_needs_all_eight_hours_of_a_short_day() -> None:
    # Nine hours of O3 at 160: one complete 8-hour window (mean 160 → 8h sub-index 140) is
    # enough, though nine hours are far from 18; the 1h column gives 160 → 50. Seven hours hold
    # no complete window: the 1h column alone.
    o3 = hours_at(160.0, list(range(10, 19)))
    result = vn_aqi_d({Pollutant.PM25: PM_ALL_DAY, Pollutant.O3: o3}, DAY)
    assert result.sub_indices[Pollutant.O3].column is AqiColumn.O3_8H
    seven = vn_aqi_d({Pollutant.PM25: PM_ALL_DAY, Pollutant.O3: o3[:7]}, DAY)
    assert seven.sub_indices[Pollutant.O3].column is AqiColumn.O3_1H


def test_vn_aqi_d_o3_8h_windows_start_the_evening_before() -> None:
    # O3 is 210 for the 7 hours up to 00:00 local and the first hour of the day, then 20:
    # the window ending 01:00 local is 8 × 210 → mean 210 → 8h sub-index 200 (at a breakpoint),
    # while the day's largest 1h mean, 210, scores only 50/100·10 + 100 = 105.
    evening = [(FIRST_END - timedelta(hours=k), 210.0) for k in range(1, 8)]
    o3 = [*evening, *day_series([210.0] + [20.0] * 23)]
    result = vn_aqi_d({Pollutant.PM25: day_series([10.0] * 24), Pollutant.O3: o3}, DAY)
    assert result.sub_indices[Pollutant.O3].column is AqiColumn.O3_8H
    assert result.value == 200


def test_vn_aqi_d_o3_8h_window_needs_all_eight_hours() -> None:
    # As above, but the hour ending 00:00 local is missing: every window that would hold the
    # 210s lacks it. The first complete one ends 08:00 local: (210 + 7·20)/8 = 43.75 → 21.875,
    # below the 1h sub-index 105.
    evening = [(FIRST_END - timedelta(hours=k), 210.0) for k in range(2, 8)]
    o3 = [*evening, *day_series([210.0] + [20.0] * 23)]
    result = vn_aqi_d({Pollutant.PM25: day_series([10.0] * 24), Pollutant.O3: o3}, DAY)
    assert result.sub_indices[Pollutant.O3].column is AqiColumn.O3_1H
    assert result.value == 105


def test_vn_aqi_d_checks_min_hours() -> None:
    with pytest.raises(ValueError, match="min_hours"):
        vn_aqi_d({}, DAY, min_hours=0)


# Categories.


@pytest.mark.parametrize(
    ("value", "name", "colour", "hex_"),
    [
        (0, "Tốt", "green", "#00E400"),
        (50, "Tốt", "green", "#00E400"),
        (51, "Trung bình", "yellow", "#FFFF00"),
        (100, "Trung bình", "yellow", "#FFFF00"),
        (101, "Kém", "orange", "#FF7E00"),
        (150, "Kém", "orange", "#FF7E00"),
        (151, "Xấu", "red", "#FF0000"),
        (200, "Xấu", "red", "#FF0000"),
        (201, "Rất xấu", "purple", "#8F3F97"),
        (300, "Rất xấu", "purple", "#8F3F97"),
        (301, "Nguy hại", "maroon", "#7E0023"),
        (500, "Nguy hại", "maroon", "#7E0023"),
    ],
)
def test_aqi_categories(value: int, name: str, colour: str, hex_: str) -> None:
    category = aqi_category(value)
    assert (category.name, category.colour, category.hex) == (name, colour, hex_)


def test_aqi_category_rgb_of_rat_xau() -> None:
    assert aqi_category(250).rgb == (143, 63, 151)
    with pytest.raises(ValueError, match="negative"):
        aqi_category(-1)
