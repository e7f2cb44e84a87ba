"""Rain: tipping-bucket counters (roll-over, reset, jump), amounts, totals, days, risk, words."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.indices.rain import (
    HeavyRainRule,
    HeavyRainThresholds,
    RainDay,
    RainEvent,
    RainIntensity,
    RainInterval,
    RainTotal,
    RiskLevel,
    Terrain,
    TippingBucket,
    heavy_rain_risk,
    rain_days,
    rain_from_amounts,
    rain_from_counter,
    rain_intensity,
    rain_total,
    rain_totals,
)

T0 = datetime(2026, 10, 14, 0, 0, tzinfo=UTC)  # 07:00 local
MIN5 = timedelta(minutes=5)


def every_5_min(counts: list[float]) -> list[tuple[datetime, float]]:
    return [(T0 + k * MIN5, c) for k, c in enumerate(counts)]


def rain(intervals: list[RainInterval]) -> list[float | None]:
    return [i.rain_mm for i in intervals]


def events(intervals: list[RainInterval]) -> list[RainEvent]:
    return [i.event for i in intervals]


# Counters.


def test_counter_differences_times_the_bucket() -> None:
    result = rain_from_counter(every_5_min([100, 103, 103, 110]))
    assert rain(result) == [0.6, 0.0, 1.4]  # 3, 0 and 7 tips of 0.2 mm
    assert events(result) == [RainEvent.COUNTED] * 3
    assert (result[0].start, result[0].end) == (T0, T0 + MIN5)


def test_a_half_millimetre_bucket() -> None:
    result = rain_from_counter(every_5_min([0, 4]), TippingBucket(bucket_mm=0.5))
    assert rain(result) == [2.0]


@pytest.mark.parametrize(
    ("counts", "modulus", "expected"),
    [
        ([65534, 2], 2**16, 0.8),  # 65534 → 65535 → 0 → 1 → 2: 4 tips
        ([65535, 0], 2**16, 0.2),  # the wrap itself is one tip
        ([4294967290, 5], 2**32, 2.2),  # 6 tips to wrap, 5 after: 11 tips
        ([9990, 3], 10000, 2.6),  # a decimal counter of 4 digits: 10 + 3 = 13 tips
    ],
)
def test_counter_roll_over_counts_the_tips_across_it(
    counts: list[float], modulus: int, expected: float
) -> None:
    result = rain_from_counter(every_5_min(counts), TippingBucket(modulus=modulus))
    assert rain(result) == [pytest.approx(expected)]
    assert events(result) == [RainEvent.ROLLOVER]


def test_counter_reset_is_a_new_baseline_not_rain() -> None:
    # The logger restarted: 5000 → 3. Wrapping would mean 60539 tips (12 m of rain): a reset.
    result = rain_from_counter(every_5_min([4990, 5000, 3, 5, 5]))
    assert rain(result) == [2.0, None, 0.4, 0.0]
    assert events(result) == [
        RainEvent.COUNTED,
        RainEvent.RESET,
        RainEvent.COUNTED,
        RainEvent.COUNTED,
    ]


def test_counter_without_modulus_treats_every_decrease_as_reset() -> None:
    result = rain_from_counter(every_5_min([65534, 2]), TippingBucket(modulus=None))
    assert events(result) == [RainEvent.RESET]
    assert rain(result) == [None]


def test_a_count_beyond_the_configured_modulus_cannot_wrap_at_it() -> None:
    # A 32-bit counter configured as 16-bit: 70000 → 10 is a reset, not a wrap at 65536.
    result = rain_from_counter(every_5_min([70000, 10]))
    assert events(result) == [RainEvent.RESET]


def test_a_huge_jump_is_flagged_and_rebased() -> None:
    # 10000 tips in 5 minutes is 2000 mm: above 500 mm/h · 5/60 h = 41.7 mm (208 tips).
    result = rain_from_counter(every_5_min([100, 10100, 10105]))
    assert events(result) == [RainEvent.JUMP, RainEvent.COUNTED]
    assert rain(result) == [None, 1.0]


def test_the_jump_limit_is_per_hour_and_configurable() -> None:
    # 208 tips = 41.6 mm in 5 minutes is just under 500 mm/h; 209 tips (41.8 mm) is over.
    assert events(rain_from_counter(every_5_min([0, 208]))) == [RainEvent.COUNTED]
    assert events(rain_from_counter(every_5_min([0, 209]))) == [RainEvent.JUMP]
    gentle = TippingBucket(max_mm_per_hour=120)  # 10 mm per 5 minutes: 50 tips
    assert events(rain_from_counter(every_5_min([0, 51]), gentle)) == [RainEvent.JUMP]


def test_a_wrap_that_would_be_a_downpour_is_a_reset() -> None:
    # 65000 → 10 near the top: 546 tips (109 mm) in 5 minutes is not plausible.
    result = rain_from_counter(every_5_min([65000, 10]))
    assert events(result) == [RainEvent.RESET]


def test_missing_counts_are_skipped_and_the_next_one_covers_the_gap() -> None:
    result = rain_from_counter(every_5_min([100, math.nan, -1, 110]))
    assert len(result) == 1
    assert result[0].duration == 3 * MIN5
    assert rain(result) == [2.0]


def test_counter_readings_are_sorted_and_a_resent_one_ignored() -> None:
    points = every_5_min([100, 101, 102])
    result = rain_from_counter([points[2], points[0], points[1], (points[1][0], 999.0)])
    assert rain(result) == [0.2, 0.2]


def test_counter_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="time zone"):
        rain_from_counter([(datetime(2026, 10, 14), 1.0)])


def test_tipping_bucket_is_checked() -> None:
    with pytest.raises(ValueError, match="bucket_mm"):
        TippingBucket(bucket_mm=0)
    with pytest.raises(ValueError, match="modulus"):
        TippingBucket(modulus=1)
    with pytest.raises(ValueError, match="max_mm_per_hour"):
        TippingBucket(max_mm_per_hour=0)


@given(st.lists(st.integers(min_value=0, max_value=2**16 - 1), max_size=40))
def test_counter_rain_is_never_negative(counts: list[int]) -> None:
    for interval in rain_from_counter(every_5_min([float(c) for c in counts])):
        assert interval.rain_mm is None or interval.rain_mm >= 0


@given(st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=40))
def test_a_wrapping_counter_loses_no_tips(tips: list[int]) -> None:
    # A 16-bit counter started near its top, advancing by plausible amounts: every tip is found.
    counts, count = [65000.0], 65000
    for n in tips:
        count = (count + n) % 2**16
        counts.append(float(count))
    result = rain_from_counter(every_5_min(counts))
    assert all(i.rain_mm is not None for i in result)
    assert sum(i.rain_mm or 0 for i in result) == pytest.approx(sum(tips) * 0.2)


# Reported amounts.


def test_amounts_cover_the_interval_before_each_timestamp() -> None:
    result = rain_from_amounts(every_5_min([0.0, 1.5, math.nan, -0.2]), MIN5)
    assert rain(result) == [0.0, 1.5, None, None]
    assert events(result)[2:] == [RainEvent.INVALID, RainEvent.INVALID]
    assert (result[0].start, result[0].end) == (T0 - MIN5, T0)


def test_amounts_never_overlap() -> None:
    # Reports every 5 minutes but labelled as 10-minute amounts: each starts at the previous one.
    result = rain_from_amounts(every_5_min([1.0, 1.0]), timedelta(minutes=10))
    assert result[0].duration == timedelta(minutes=10)
    assert result[1].start == result[0].end


def test_amounts_need_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval"):
        rain_from_amounts([], timedelta(0))


# Totals. 25 hours of 5-minute amounts of 0.5 mm: 6 mm per hour.

END = T0 + timedelta(hours=25)


def steady(hours: int = 25, mm: float = 0.5) -> list[RainInterval]:
    n = hours * 12
    return rain_from_amounts([(END - k * MIN5, mm) for k in range(n)], MIN5)


def test_rain_totals_1_3_6_12_24_h() -> None:
    totals = rain_totals(steady(), END)
    assert {h: t.total_mm for h, t in totals.items()} == {
        1: 6.0,
        3: 18.0,
        6: 36.0,
        12: 72.0,
        24: 144.0,
    }
    assert all(t.complete for t in totals.values())
    assert [t.param for t in totals.values()] == [
        "rain_1h",
        "rain_3h",
        "rain_6h",
        "rain_12h",
        "rain_24h",
    ]


def test_a_gap_is_not_zero_rain() -> None:
    # Two 5-minute amounts lost in the last hour: the hour is 10/12 covered, under the 90 % a total
    # needs; its known 5 mm is still there as a lower bound. The 24 h window is 286/288 covered.
    lost = {END - 3 * MIN5, END - 4 * MIN5}
    intervals = [i for i in steady() if i.end not in lost]
    totals = rain_totals(intervals, END)
    assert totals[1].total_mm is None
    assert totals[1].known_mm == 5.0
    assert totals[1].coverage == pytest.approx(10 / 12)
    assert totals[1].reason == "83% of the 1 h window has rain data; a total needs 90%"
    assert totals[24].total_mm == pytest.approx(143.0)
    assert not totals[24].complete
    strict = rain_total(intervals, END, 24, min_coverage=1.0)
    assert strict.total_mm is None


def test_an_unknown_interval_is_a_gap() -> None:
    # A counter reset in the last hour: its 5 minutes are unknown, not dry.
    counts = every_5_min([float(k) for k in range(12)] + [0.0])
    hour_end = T0 + 12 * MIN5
    total = rain_total(rain_from_counter(counts), hour_end, 1)
    assert total.known_mm == pytest.approx(2.2)
    assert total.coverage == pytest.approx(11 / 12)


def test_a_long_offline_interval_is_not_a_burst() -> None:
    # The station was offline two days; the counter advanced 500 tips (100 mm) meanwhile. Those
    # 100 mm fell some time in the two days: they belong to no 1 h or 24 h window.
    counts = [(T0, 0.0), (T0 + timedelta(days=2), 500.0)]
    intervals = rain_from_counter(counts)
    assert rain(intervals) == [100.0]
    totals = rain_totals(intervals, T0 + timedelta(days=2))
    assert totals[1].known_mm == 0
    assert totals[1].total_mm is None
    assert totals[24].total_mm is None


def test_a_window_without_any_data() -> None:
    total = rain_total([], END, 3)
    assert total == RainTotal(3, END, 0.0, 0.0)
    assert total.total_mm is None


# Days (local, midnight to midnight, UTC+7).


def test_rain_days_are_local_calendar_days() -> None:
    # Hourly amounts from 17:00 UTC on 13 Oct (00:00 local 14 Oct) to 17:00 UTC on 14 Oct.
    start = datetime(2026, 10, 13, 17, 0, tzinfo=UTC)
    amounts = [(start + timedelta(hours=k), 2.0) for k in range(1, 25)]
    days = rain_days(rain_from_amounts(amounts, timedelta(hours=1)))
    assert [d.day for d in days] == [date(2026, 10, 14)]
    assert days[0].total.total_mm == 48.0
    assert days[0].max_12h_mm == 24.0


def test_the_largest_12_hours_may_start_the_evening_before() -> None:
    # 10 mm an hour from 19:00 to 07:00 local (12 hours across midnight), dry otherwise.
    start = datetime(2026, 10, 13, 12, 0, tzinfo=UTC)  # 19:00 local, 13 Oct
    amounts = [(start + timedelta(hours=k), 10.0 if k <= 12 else 0.0) for k in range(1, 30)]
    days = rain_days(rain_from_amounts(amounts, timedelta(hours=1)))
    by_day = {d.day: d for d in days}
    assert by_day[date(2026, 10, 13)].total.known_mm == 50.0  # 19:00 → 24:00
    assert by_day[date(2026, 10, 14)].total.known_mm == 70.0  # 00:00 → 07:00
    assert by_day[date(2026, 10, 14)].max_12h_mm == 120.0


# Heavy-rain risk (Decision 18/2021/QĐ-TTg; defaults configurable).


def day(d: int, mm_24h: float, mm_12h: float | None = None, coverage: float = 1.0) -> RainDay:
    when = date(2026, 10, d)
    end = datetime(2026, 10, d + 1, tzinfo=UTC)
    return RainDay(when, RainTotal(24, end, mm_24h, coverage), mm_12h or 0.0)


@pytest.mark.parametrize(
    ("mm_24h", "mm_12h", "level"),
    [
        (99.9, 49.9, None),
        (100.0, 0, RiskLevel.LEVEL_1),  # "100–200 mm in 24 h": 100 reaches it
        (60.0, 50.0, RiskLevel.LEVEL_1),  # "or 50–100 mm in 12 h"
        (200.0, 0, RiskLevel.LEVEL_1),  # 200 is still 100–200
        (200.1, 0, RiskLevel.LEVEL_2),  # "> 200"
        (150.0, 100.1, RiskLevel.LEVEL_2),  # more than 100 mm in 12 h
        (400.0, 0, RiskLevel.LEVEL_2),
        (400.1, 0, RiskLevel.LEVEL_2),  # lowland: > 400 for one day stays level 2
    ],
)
def test_heavy_rain_one_day_lowland(mm_24h: float, mm_12h: float, level: RiskLevel | None) -> None:
    assert heavy_rain_risk([day(14, mm_24h, mm_12h)], Terrain.LOWLAND).level is level


@pytest.mark.parametrize(
    ("days", "terrain", "level"),
    [
        ([150, 150, 150], Terrain.LOWLAND, RiskLevel.LEVEL_1),
        ([150, 150, 150], Terrain.MOUNTAIN, RiskLevel.LEVEL_2),  # longer rain, mountains
        ([150, 150], Terrain.MOUNTAIN, RiskLevel.LEVEL_1),  # 1–2 days
        ([250, 250, 250], Terrain.MOUNTAIN, RiskLevel.LEVEL_3),
        ([450], Terrain.MOUNTAIN, RiskLevel.LEVEL_3),
        ([450, 450, 450], Terrain.LOWLAND, RiskLevel.LEVEL_3),
        ([450, 450, 450], Terrain.MOUNTAIN, RiskLevel.LEVEL_4),
        ([150, 20, 150], Terrain.MOUNTAIN, RiskLevel.LEVEL_1),  # a dry day breaks the run
    ],
)
def test_heavy_rain_over_days(days: list[float], terrain: Terrain, level: RiskLevel) -> None:
    sequence = [day(12 + k, mm) for k, mm in enumerate(days)]
    risk = heavy_rain_risk(sequence, terrain)
    assert risk.level is level


def test_a_missing_date_breaks_the_run() -> None:
    risk = heavy_rain_risk([day(12, 150), day(13, 150), day(15, 150)], Terrain.MOUNTAIN)
    assert risk.level is RiskLevel.LEVEL_1
    assert risk.days == 1


def test_an_incomplete_day_counts_by_its_known_rain() -> None:
    # 180 mm known with 60 % of the day covered: at least level 1, and it says so when below.
    assert heavy_rain_risk([day(14, 180, coverage=0.6)], Terrain.LOWLAND).level is RiskLevel.LEVEL_1
    below = heavy_rain_risk([day(14, 40, coverage=0.6)], Terrain.LOWLAND)
    assert below.level is None
    assert below.reason == "below risk level 1 on the known rain (60% of 2026-10-14 covered)"


def test_heavy_rain_without_days() -> None:
    assert heavy_rain_risk([], Terrain.LOWLAND).reason == "no rain days"


def test_heavy_rain_thresholds_are_configurable() -> None:
    province = HeavyRainThresholds(
        rules=(
            HeavyRainRule(RiskLevel.LEVEL_1, 80, None),
            HeavyRainRule(RiskLevel.LEVEL_3, 150, None),
        )
    )
    risk = heavy_rain_risk([day(14, 160)], Terrain.LOWLAND, province)
    assert risk.level is RiskLevel.LEVEL_3
    assert risk.rule == province.rules[1]


@pytest.mark.parametrize(
    ("level", "colour"),
    [
        (RiskLevel.LEVEL_1, "light blue"),
        (RiskLevel.LEVEL_2, "light yellow"),
        (RiskLevel.LEVEL_3, "orange"),
        (RiskLevel.LEVEL_4, "red"),
        (RiskLevel.LEVEL_5, "purple"),
    ],
)
def test_risk_level_colours(level: RiskLevel, colour: str) -> None:
    assert level.colour == colour
    assert level.label == f"rủi ro thiên tai cấp độ {int(level)}"


@pytest.mark.parametrize(
    ("mm", "word"),
    [
        (None, None),
        (math.nan, None),
        (15.9, None),
        (16, RainIntensity.MODERATE),
        (50, RainIntensity.MODERATE),
        (50.1, RainIntensity.HEAVY),
        (100, RainIntensity.HEAVY),
        (100.1, RainIntensity.VERY_HEAVY),
    ],
)
def test_rain_intensity_words(mm: float | None, word: RainIntensity | None) -> None:
    assert rain_intensity(mm) is word
    if word is not None:
        assert str(word) in ("mưa vừa", "mưa to", "mưa rất to")
