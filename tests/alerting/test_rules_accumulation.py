"""Accumulation rules: rain totals against levels, sums over a window, heavy-rain risk levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity, Signal
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from gateway.config import StationConfig
from gateway.model import Quality, Reading

# Midnight of 20 November in Huế (UTC+7): the start of a local rain day (00:00, 24:00].
MIDNIGHT = datetime(2025, 11, 19, 17, 0, tzinfo=UTC)

NAM_DONG = StationConfig.model_validate(
    {
        "id": "nam_dong",
        "name": "Nam Đông",
        "kind": "rain",
        "district": "Nam Đông",
        "river": "Tả Trạch",
        "source": {"driver": "tt10", "code": "ND"},
    }
)
STATIONS = {"nam_dong": NAM_DONG}
RISK = {
    "id": "heavy_rain",
    "type": "accumulation",
    "stations": ["nam_dong"],
    "heavy_rain_risk": True,
    "terrain": "mountain",
}


HOUR = timedelta(hours=1)
BUCKET_MM = 0.2  # the default gauge: nam_dong has no rain_gauge of its own


def gauge_readings(
    hourly_mm: list[float], param: str = "rain_counter", start: datetime = MIDNIGHT
) -> list[tuple[int, Reading]]:
    """The gauge at the end of each hour of ``hourly_mm``, after a first reading at ``start``:
    its tip counter, or the amount it reports for the hour."""
    if param == "rain_counter":
        counts = [0.0]
        for mm in hourly_mm:
            counts.append(counts[-1] + round(mm / BUCKET_MM))
        values, unit = counts, "count"
    else:
        values, unit = [0.0, *hourly_mm], "mm"
    return [
        (hour, Reading("nam_dong", param, value, unit, start + hour * HOUR, quality=Quality.GOOD))
        for hour, value in enumerate(values)
    ]


def evaluator(**overrides: Any) -> Evaluator:
    return Evaluator(parse_rules([{**RISK, **overrides}]), STATIONS)


def run(
    ev: Evaluator, hourly_mm: list[float], param: str = "rain_counter", start: datetime = MIDNIGHT
) -> list[tuple[int, Signal]]:
    """The signals, by the hour (since ``start``) of the reading that raised them."""
    out = []
    for hour, reading in gauge_readings(hourly_mm, param, start):
        out += [(hour, s) for s in ev.on_batch([reading])]
    return out


def levels(signals: list[tuple[int, Signal]]) -> list[tuple[int, int]]:
    return [(hour, s.level) for hour, s in signals]


@pytest.mark.parametrize(
    ("hours", "mm_per_hour", "level"),
    [
        (24, 4.0, 0),  # 96 mm in the day, 48 mm in 12 h
        (24, 4.2, 1),  # "từ 100 mm": 100.8 mm in the day (and 50.4 mm in 12 h)
        (10, 5.0, 1),  # 50 mm in 12 h is level 1 too, reached at 50
        (24, 8.3, 1),  # 199.2 mm: level 2 is above 200 (or above 100 in 12 h), not at it
        (24, 8.4, 2),  # 201.6 mm in the day, 100.8 in 12 h
    ],
)
def test_one_day_risk_levels(hours: int, mm_per_hour: float, level: int) -> None:
    signals = run(evaluator(), [mm_per_hour] * hours, param="rain")
    assert max((s.level for _, s in signals), default=0) == level


@pytest.mark.parametrize("param", ["rain_counter", "rain"])
def test_three_days_of_heavy_rain_in_the_mountains(param: str) -> None:
    """5 mm/h for 60 hours: level 1 when 12 h reach 50 mm; level 2 once the third day in a row
    has heavy rain of its own (the 12 h ending 01:00 of day 3 hold 60 mm, 5 of them on day 3) —
    for mountain terrain only (Decision 18/2021/QĐ-TTg, our defaults)."""
    mountain = run(evaluator(), [5.0] * 60, param)
    assert levels(mountain) == [(10, 1), (49, 2)]
    _, second = mountain[1]
    assert second.severity is Severity.CRITICAL
    assert second.kind is AlertKind.RAIN
    assert second.param == "rain_24h"
    facts = second.facts
    assert facts["label"] == "rủi ro thiên tai cấp độ 2"
    assert (facts["risk_level"], facts["days"], facts["terrain"]) == (2, 3, "mountain")
    assert facts["total_mm"] == 120.0  # the last 24 h, as the message says it
    assert facts["rain_12h_mm"] == 60.0
    assert facts["day_total_mm"] == 5.0  # day 3 so far
    assert facts["intensity"] == "mưa rất to"
    assert second.value == 120.0
    lowland = run(evaluator(terrain="lowland"), [5.0] * 60, param)
    assert levels(lowland) == [(10, 1)]


WET = [5.0] * 24
DRY = [0.0] * 24
# A mountain storm day: 18.5 mm/h from 06:00 to 18:00 (the gauge counts 92 tips of 0.2 mm an
# hour: 18.4 mm), 3 mm/h in the evening: 238.8 mm in all, 220.8 mm in 12 h.
STORM_DAY = [0.0] * 6 + [18.5] * 12 + [3.0] * 6


@pytest.mark.parametrize(
    ("terrain", "hourly_mm", "expected"),
    [
        # Two wet days, a dry third: the 24 h ending 01:00 of day 3 hold 115 mm, all of the
        # day before. Day 3 never counts: no "3 days" (the bug counted the day before twice);
        # level 1 holds while the last 24 h / 12 h still reach its band (until 04:00), then ends.
        ("mountain", WET + WET + DRY, [(10, 1), (53, 0)]),
        # The rain goes on past midnight: day 3 has its own rain at 01:00.
        ("mountain", WET + WET + [5.0] * 12, [(10, 1), (49, 2)]),
        # A dry hour at midnight does not end the alarm, and day 3's rain then counts.
        ("mountain", WET + WET + [0.0] + [5.0] * 11, [(10, 1), (50, 2)]),
        # A dry day breaks the run: day 3 starts again at level 1.
        ("mountain", WET + DRY + WET, [(10, 1), (29, 0), (58, 1)]),
        ("lowland", WET + WET + WET, [(10, 1)]),
        # 80 mm in the first two hours: the day is a heavy-rain day until its end; at 01:00
        # of the next day the last 24 h hold 40 mm and the last 12 h none.
        ("mountain", [40.0, 40.0] + [0.0] * 30, [(2, 1), (25, 0)]),
        # Level 3 by > 200 mm in 12 h (06:00–18:00), 239 mm in the day, then a dry night: at
        # 01:00 the last 24 h still hold 239 mm and the last 12 h 110 mm — level 2's band, not
        # level 3's — so level 2, then 1 at 09:00 (24 h under 200 mm), and the end at 14:00
        # (under 100 mm). It was an all-clear at 01:00: the hold asked only whether the rule
        # that gave level 3 (> 400 / > 200 mm) was still reached.
        ("mountain", STORM_DAY + DRY, [(9, 1), (12, 2), (17, 3), (25, 2), (33, 1), (38, 0)]),
    ],
    ids=[
        "dry-third-day",
        "wet-third-day",
        "lull-at-midnight",
        "dry-day-between",
        "lowland",
        "burst",
        "level-3-across-midnight",
    ],
)
def test_calendar_days(
    terrain: str, hourly_mm: list[float], expected: list[tuple[int, int]]
) -> None:
    """Hour by hour from local midnight (a controlled clock: each reading's own time)."""
    assert levels(run(evaluator(terrain=terrain), hourly_mm)) == expected


def test_the_dry_third_day_reports_two_days() -> None:
    ev = evaluator()
    run(ev, WET + WET + [0.0])
    now = ev.active()
    assert [(s.level, s.facts["days"], s.facts["day_total_mm"]) for s in now] == [(1, 2, 0.0)]


def test_a_level_steps_down_across_midnight_by_the_bands_the_last_24_h_still_reach() -> None:
    """The report: a tip counter read every 5 minutes at Nam Đông, level 3 ended at 00:05
    although the last 24 h held 239 mm. Now 00:05 is level 2, whose band they reach."""
    ev = evaluator()
    out = run(ev, STORM_DAY)
    assert levels(out)[-1] == (17, 3)
    count = sum(round(mm / BUCKET_MM) for mm in STORM_DAY)
    after = MIDNIGHT + 24 * HOUR + timedelta(minutes=5)
    (signal,) = ev.on_batch(
        [Reading("nam_dong", "rain_counter", count, "count", after, quality=Quality.GOOD)]
    )
    assert (signal.level, signal.value, signal.facts["days"]) == (2, 238.8, 1)
    assert signal.facts["day_total_mm"] == 0.0  # the new day has no rain of its own
    assert signal.facts["label"] == "rủi ro thiên tai cấp độ 2"


def test_unknown_rain_raises_but_never_lowers() -> None:
    """A counter reset at 00:30 of day 3 leaves its rain unknown: the hold's end does not lower
    the level (the known 0 mm is a lower bound), the next full day does."""
    ev = evaluator()
    out = run(ev, WET + WET)
    # The logger restarts: its counter falls to 3, the tips before it are lost.
    times = [MIDNIGHT + timedelta(hours=48, minutes=30)] + [
        MIDNIGHT + h * HOUR for h in range(49, 76)
    ]
    for ts in times:
        reading = Reading("nam_dong", "rain_counter", 3, "count", ts, quality=Quality.GOOD)
        out += [(int((ts - MIDNIGHT) / HOUR), s) for s in ev.on_batch([reading])]
    assert levels(out) == [(10, 1), (73, 0)]


def test_a_rule_started_during_the_day_knows_only_a_lower_bound() -> None:
    signals = run(evaluator(), [60.0, 0.0], start=MIDNIGHT + 10 * HOUR)
    assert levels(signals) == [(1, 1)]
    assert signals[0][1].facts["incomplete"] is True  # 00:00–10:00 unknown


def test_late_and_repeated_readings_count_once() -> None:
    ev = evaluator()
    readings = [r for _, r in gauge_readings([30.0, 30.0])]
    assert ev.on_batch(readings[:2]) == []
    assert [s.level for s in ev.on_batch(readings[2:] + readings[1:2])] == [1]
    assert ev.slot("heavy_rain", "nam_dong").state.today.known_mm == 60.0


def test_risk_rules_replace_the_defaults() -> None:
    rules = [{"level": 1, "rain_24h_mm": 50}, {"level": 3, "rain_24h_mm": 150}]
    signals = run(evaluator(risk_rules=rules), [60.0, 100.0], param="rain")
    assert [(s.level, s.facts["label"]) for _, s in signals] == [
        (1, "rủi ro thiên tai cấp độ 1"),
        (3, "rủi ro thiên tai cấp độ 3"),
    ]


LEVELS_3H = {
    "id": "rain_3h",
    "type": "accumulation",
    "stations": ["nam_dong"],
    "param": "rain_3h",
    "levels": [
        {"above": 50, "recovery": 40, "label": "mưa to"},
        {"above": 100, "recovery": 90, "label": "mưa rất to", "severity": "critical"},
    ],
}


def test_a_total_against_levels() -> None:
    ev = Evaluator(parse_rules([LEVELS_3H]), STATIONS)
    out = []
    for minute, total in enumerate([10, 55, 105, 95, 85, 45, 35]):
        ts = MIDNIGHT + timedelta(minutes=10 * minute)
        out += ev.on_batch([Reading("nam_dong", "rain_3h", total, "mm", ts, quality=Quality.GOOD)])
    assert [(s.level, s.facts["label"]) for s in out] == [
        (1, "mưa to"),
        (2, "mưa rất to"),
        (1, "mưa to"),  # 85 is below 90
        (0, ""),  # 35 is below 40
    ]
    assert out[0].facts["window_hours"] == 3.0
    assert out[0].facts["total_mm"] == 55
    assert [s.severity for s in out] == [
        Severity.WARNING,
        Severity.CRITICAL,
        Severity.WARNING,
        Severity.INFO,
    ]


def test_interval_amounts_summed_over_a_window() -> None:
    rule = {
        "id": "burst",
        "type": "accumulation",
        "stations": ["nam_dong"],
        "param": "rain",
        "window": "1h",
        "levels": [{"above": 60}],
    }
    ev = Evaluator(parse_rules([rule]), STATIONS)
    out = []
    # 10 mm every 10 minutes for an hour, then dry.
    for k in range(1, 14):
        ts = MIDNIGHT + timedelta(minutes=10 * k)
        amount = 10.0 if k <= 6 else 0.0
        out += [
            (k, s)
            for s in ev.on_batch(
                [Reading("nam_dong", "rain", amount, "mm", ts, quality=Quality.GOOD)]
            )
        ]
    # (0:00, 1:00] holds six amounts = 60 mm; at 1:10 the first one has left the window.
    assert [(k, s.level, s.value) for k, s in out] == [(6, 1, 60.0), (7, 0, 50.0)]
    assert out[0][1].facts["window_hours"] == 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"terrain": None}, "heavy_rain_risk needs terrain"),
        ({"param": "rain_24h"}, "no param/window"),
        ({"levels": [{"above": 100}]}, "heavy_rain_risk takes its levels"),
        ({"heavy_rain_risk": False, "param": "rain_24h"}, "give levels"),
        ({"heavy_rain_risk": False, "terrain": None, "levels": [{"above": 1}]}, "param: rain_24h"),
        (
            {"heavy_rain_risk": False, "terrain": None, "param": "rain", "levels": [{"above": 1}]},
            "give window",
        ),
        (
            {
                "heavy_rain_risk": False,
                "terrain": None,
                "param": "rain_24h",
                "levels": [{"below": 1}],
            },
            "its levels are 'above'",
        ),
        ({"terrain": "hills"}, "terrain"),
    ],
)
def test_config_errors(overrides: dict[str, Any], message: str) -> None:
    rule = {**RISK, **overrides}
    rule = {k: v for k, v in rule.items() if v is not None}
    with pytest.raises(RuleConfigError, match=message):
        parse_rules([rule])
