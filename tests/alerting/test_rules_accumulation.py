"""Accumulation rules: rain totals against levels, sums over a window, heavy-rain risk levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity, Signal
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from gateway.config import StationConfig
from gateway.model import Quality, Reading

# Midnight of 20 November in Huế (UTC+7): the start of a local rain day.
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


def totals(
    hour: float, rain_24h: float, rain_12h: float, quality: Quality = Quality.GOOD
) -> list[Reading]:
    """The collector's totals at one instant (rain_12h after rain_24h: order must not matter)."""
    ts = MIDNIGHT + timedelta(hours=hour)
    reason = "incomplete" if quality is Quality.SUSPECT else ""
    return [
        Reading("nam_dong", "rain_24h", rain_24h, "mm", ts, quality=quality, reason=reason),
        Reading("nam_dong", "rain_12h", rain_12h, "mm", ts, quality=quality, reason=reason),
    ]


def evaluator(**overrides: Any) -> Evaluator:
    return Evaluator(parse_rules([{**RISK, **overrides}]), STATIONS)


def steady_rain(ev: Evaluator, mm_per_hour: float, hours: int) -> list[tuple[int, Signal]]:
    out = []
    for hour in range(1, hours + 1):
        batch = totals(hour, mm_per_hour * min(hour, 24), mm_per_hour * min(hour, 12))
        out += [(hour, s) for s in ev.on_batch(batch)]
    return out


@pytest.mark.parametrize(
    ("rain_24h", "rain_12h", "level"),
    [
        (99.0, 49.0, 0),
        (100.0, 49.0, 1),  # "từ 100 mm": reached at 100
        (60.0, 50.0, 1),  # 50 mm in 12 h is level 1 too
        (200.0, 90.0, 1),  # level 2 is above 200 (or above 100 in 12 h), not at it
        (150.0, 100.5, 2),
        (200.5, 120.0, 2),
    ],
)
def test_one_day_risk_levels(rain_24h: float, rain_12h: float, level: int) -> None:
    signals = evaluator().on_batch(totals(6, rain_24h, rain_12h))
    assert [s.level for s in signals] == ([level] if level else [])


def test_three_days_of_heavy_rain_in_the_mountains() -> None:
    """5 mm/h for three days: level 1 when 12 h reach 50 mm; level 2 on the third day in a row
    at 100 mm or more — for mountain terrain only (Decision 18/2021/QĐ-TTg, our defaults)."""
    mountain = steady_rain(evaluator(), 5.0, 60)
    assert [(hour, s.level) for hour, s in mountain] == [(10, 1), (49, 2)]
    _, second = mountain[1]
    assert second.severity is Severity.CRITICAL
    assert second.kind is AlertKind.RAIN
    facts = second.facts
    assert facts["label"] == "rủi ro thiên tai cấp độ 2"
    assert (facts["risk_level"], facts["days"], facts["terrain"]) == (2, 3, "mountain")
    assert facts["total_mm"] == 120.0
    assert facts["rain_12h_mm"] == 60.0
    assert facts["intensity"] == "mưa rất to"
    assert second.value == 120.0
    lowland = steady_rain(evaluator(terrain="lowland"), 5.0, 60)
    assert [(hour, s.level) for hour, s in lowland] == [(10, 1)]


def test_the_risk_falls_as_the_rain_leaves_the_window() -> None:
    ev = evaluator()
    assert [s.level for s in ev.on_batch(totals(1, 120, 60))] == [1]
    assert [s.level for s in ev.on_batch(totals(2, 80, 20))] == [0]


def test_incomplete_totals_raise_but_never_lower() -> None:
    ev = evaluator(use_incomplete=True)
    assert [s.level for s in ev.on_batch(totals(1, 120, 60, Quality.SUSPECT))] == [1]
    assert ev.on_batch(totals(2, 40, 20, Quality.SUSPECT)) == []  # a lower bound proves nothing
    assert [s.level for s in ev.on_batch(totals(3, 40, 20))] == [0]
    # Without use_incomplete, suspect totals are not read at all.
    assert evaluator().on_batch(totals(1, 120, 60, Quality.SUSPECT)) == []


def test_incomplete_facts() -> None:
    signals = evaluator(use_incomplete=True).on_batch(totals(1, 120, 60, Quality.SUSPECT))
    assert signals[0].facts["incomplete"] is True


def test_risk_rules_replace_the_defaults() -> None:
    rules = [{"level": 1, "rain_24h_mm": 50}, {"level": 3, "rain_24h_mm": 150}]
    ev = evaluator(risk_rules=rules)
    assert [s.level for s in ev.on_batch(totals(1, 60, 30))] == [1]
    assert [s.facts["label"] for s in ev.on_batch(totals(2, 160, 60))] == [
        "rủi ro thiên tai cấp độ 3"
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
