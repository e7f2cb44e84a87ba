"""Trend rules: the least-squares rate over a window, its threshold and recovery, the projection."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scipy import stats

from alerting.model import AlertKind, Severity, Signal
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from alerting.rules.series import SeriesWindow, project, rate_per_hour
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 11, 22, 9, 0, tzinfo=UTC)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


KIM_LONG = StationConfig.model_validate(
    {
        "id": "kim_long",
        "name": "Kim Long",
        "kind": "hydro",
        "district": "Phú Xuân",
        "river": "Hương",
        "source": {"driver": "tt10", "code": "KL"},
        "flood_levels": {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5},
    }
)
VAN_NIEN = StationConfig.model_validate(
    {
        "id": "van_nien",
        "name": "Vạn Niên",
        "kind": "water",
        "district": "Thuận Hóa",
        "source": {"driver": "tt10", "code": "VN"},
    }
)
STATIONS = {"kim_long": KIM_LONG, "van_nien": VAN_NIEN}

RULE = {
    "id": "rise",
    "type": "trend",
    "stations": ["kim_long"],
    "window": "1h",
    "min_points": 10,
    "rise_per_hour": "20 cm/h",
    "recovery_per_hour": "10 cm/h",
}


def run(
    profile: Callable[[int], float], minutes: int, **overrides: Any
) -> list[tuple[int, Signal]]:
    ev = Evaluator(parse_rules([{**RULE, **overrides}]), STATIONS)
    out = []
    for minute in range(minutes):
        reading = Reading(
            "kim_long", "water_level", profile(minute), "m", at(minute), quality=Quality.GOOD
        )
        out += [(minute, s) for s in ev.on_batch([reading])]
    return out


@pytest.mark.parametrize(
    ("points", "rate"),
    [
        ([(0, 1.0), (60, 1.3)], 0.3),
        ([(0, 1.0), (30, 1.1), (60, 1.3)], 0.3),  # the fit, not the last step
        ([(0, 2.0), (10, 2.0), (20, 2.0)], 0.0),
        ([(0, 3.0), (90, 2.4)], -0.4),
    ],
)
def test_least_squares_rate(points: list[tuple[int, float]], rate: float) -> None:
    assert rate_per_hour([(at(m), v) for m, v in points]) == pytest.approx(rate)


@pytest.mark.parametrize("seed", range(5))
def test_the_slope_is_scipys_least_squares(seed: int) -> None:
    rng = random.Random(seed)
    points = [(at(rng.uniform(0, 120)), rng.uniform(0.5, 4.0)) for _ in range(rng.randint(2, 80))]
    points = sorted(set(points))
    hours = [(ts - points[0][0]).total_seconds() / 3600 for ts, _ in points]
    expected = stats.linregress(hours, [v for _, v in points]).slope
    assert rate_per_hour(points) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_window_keeps_its_span() -> None:
    window = SeriesWindow(timedelta(hours=1))
    for minute in range(0, 120, 10):
        window.add(at(minute), float(minute))
    assert [ts for ts, _ in window.points] == [at(m) for m in (50, 60, 70, 80, 90, 100, 110)]
    window.add(at(100), 0.0)  # late: ignored
    assert len(window) == 7


@pytest.mark.parametrize(
    ("value", "rate", "target", "hours"),
    [
        (2.0, 0.3, 3.5, 5.0),
        (3.6, 0.3, 3.5, None),  # already there
        (2.0, -0.1, 3.5, None),  # falling
        (2.0, 0.0, 3.5, None),
        (0.5, 0.02, 1.0, None),  # 25 hours: beyond the 24 h horizon
    ],
)
def test_projection(value: float, rate: float, target: float, hours: float | None) -> None:
    eta = project(value, T0, rate, target, "BĐ III", timedelta(hours=24))
    if hours is None:
        assert eta is None
    else:
        assert eta is not None
        assert eta.hours == pytest.approx(hours)
        assert eta.at == T0 + timedelta(hours=hours)


def rise_then_fall(minute: int) -> float:
    # 30 cm/h up from 0.50 m for 3 hours, then 30 cm/h down.
    return round(0.5 + 0.005 * minute if minute <= 180 else 1.4 - 0.005 * (minute - 180), 3)


def test_a_rise_fires_once_and_ends_when_it_slows() -> None:
    out = run(rise_then_fall, 300)
    assert [(m, s.level) for m, s in out] == [(9, 1), (204, 0)]
    _, first = out[0]
    assert first.kind is AlertKind.FLOOD
    assert first.severity is Severity.WARNING
    assert first.value == pytest.approx(0.545)  # the water level, not the rate
    facts = first.facts
    assert facts["rule_type"] == "trend"
    assert facts["label"] == "lên nhanh"
    assert facts["rate_cm_h"] == pytest.approx(30.0)
    assert facts["threshold_per_h"] == pytest.approx(0.2)
    assert facts["points"] == 10
    # Projection to the next flood level above 0.545 m: BĐ I (1.0 m) in (1.0 − 0.545)/0.3 h.
    assert facts["next_label"] == "BĐ I"
    assert facts["eta_hours"] == pytest.approx(0.455 / 0.3, abs=1e-3)
    assert facts["margin_label"] == "BĐ I"
    assert facts["margin"] == pytest.approx(-0.455)
    # The rise ends when the fitted rate falls under 10 cm/h, 24 minutes after the peak.
    _, last = out[1]
    assert 0 < last.facts["fit_rate_per_h"] * 100 < 10  # the hour's fit still rises…
    # …but the water has fallen since the peak: the words say so, and nothing is projected.
    assert (last.facts["trend"], last.facts["rate_cm_h"]) == ("falling", pytest.approx(-30.0))
    assert "next_label" not in last.facts


def test_too_few_points_judge_nothing() -> None:
    assert run(rise_then_fall, 9) == []


def test_a_slow_rise_never_fires() -> None:
    assert run(lambda m: 1.0 + 0.0025 * m, 240) == []  # 15 cm/h


def test_pending_holds_the_rate() -> None:
    out = run(rise_then_fall, 60, pending="10m")
    assert [(m, s.level) for m, s in out] == [(19, 1)]


def test_a_parameter_other_than_water_level() -> None:
    rule = {
        "id": "cod_rise",
        "type": "trend",
        "stations": ["van_nien"],
        "param": "cod",
        "rise_per_hour": 10,
        "project_to": None,
    }
    ev = Evaluator(parse_rules([rule]), STATIONS)
    out = []
    for minute in range(0, 40, 5):
        value = 20.0 + minute  # 60 mg/L an hour
        out += ev.on_batch(
            [Reading("van_nien", "cod", value, "mg/L", at(minute), quality=Quality.GOOD)]
        )
    assert [s.level for s in out] == [1]
    assert out[0].kind is AlertKind.WATER
    assert out[0].facts["rate_per_h"] == pytest.approx(60.0)
    assert "rate_cm_h" not in out[0].facts
    assert "eta_hours" not in out[0].facts


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rise_per_hour", "fast", "is not a rate"),
        ("rise_per_hour", 0, "must be positive"),
        ("recovery_per_hour", "30 cm/h", "recovery_per_hour is above rise_per_hour"),
        ("window", "1 hour", "is not a duration"),
    ],
)
def test_config_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        parse_rules([{**RULE, field: value}])
