"""Threshold rules: levels, pending, hysteresis, quality, the clock, the facts of a signal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity, Signal
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from alerting.rules.crest import CrestState, motion, track_crest
from alerting.rules.threshold import ThresholdRule, compile_threshold
from alerting.templates import render
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 11, 22, 9, 0, tzinfo=UTC)  # 16:00 in Huế


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def station(sid: str, kind: str = "hydro", **extra: Any) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": sid,
            "name": sid.replace("_", " ").title(),
            "kind": kind,
            "district": "Phú Xuân",
            "source": {"driver": "tt10", "code": sid.upper()},
            **extra,
        }
    )


KIM_LONG = station(
    "kim_long", river="Hương", basin="Hương", flood_levels={"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}
)
VAN_NIEN = station("van_nien", "water", river="Hương")
STATIONS = {s.id: s for s in (KIM_LONG, VAN_NIEN)}

FLOOD_RULE = {
    "id": "flood",
    "type": "threshold",
    "stations": ["kim_long"],
    "from_station": "flood_levels",
    "hysteresis": 0.05,
    "pending": "5m",
}


def evaluator(**overrides: Any) -> Evaluator:
    return Evaluator(parse_rules([{**FLOOD_RULE, **overrides}]), STATIONS)


def level(value: float, minute: float, quality: Quality = Quality.GOOD) -> Reading:
    return Reading("kim_long", "water_level", value, "m", at(minute), quality=quality)


def feed(ev: Evaluator, values: Sequence[float], start: int = 0) -> list[tuple[float, int]]:
    """One reading a minute; the (minute, level) of each signal."""
    out = []
    for i, value in enumerate(values, start=start):
        for sig in ev.on_batch([level(value, i)]):
            if "event" not in sig.facts:  # level changes only; the crest has its own tests
                out.append(((sig.ts - T0) / timedelta(minutes=1), sig.level))
    return out


# Water levels one a minute (Kim Long: BĐ I 1.0, II 2.0, III 3.5; a level ends 5 cm below it).
PENDING_CASES = [
    pytest.param([0.5, 0.5, 3.9, 0.5, 0.5, 0.5, 0.5, 0.5], [], id="one-reading-spike-never-fires"),
    pytest.param([1.2] * 7, [(5, 1)], id="five-minutes-at-BD1"),
    pytest.param([1.2] * 5, [], id="four-minutes-is-not-enough"),
    pytest.param([1.2, 1.2, 1.2, 0.9, *[1.2] * 6], [(9, 1)], id="a-dip-restarts-the-run"),
    pytest.param([2.5] * 6, [(5, 2)], id="two-levels-at-once-one-signal"),
    pytest.param([1.2] * 6 + [2.1] * 6, [(5, 1), (11, 2)], id="level-after-level"),
    pytest.param([1.2] * 6 + [0.97, 0.96, 0.95], [(5, 1)], id="inside-the-hysteresis-band"),
    pytest.param([1.2] * 6 + [0.97, 0.94], [(5, 1), (7, 0)], id="below-the-recovery-value"),
    pytest.param([3.6] * 6 + [2.5], [(5, 3), (6, 2)], id="falls-to-the-level-it-holds"),
    pytest.param([3.6] * 6 + [0.5], [(5, 3), (6, 0)], id="falls-straight-to-normal"),
    pytest.param([3.6] * 6 + [3.47], [(5, 3)], id="III-holds-above-3.45"),
]


@pytest.mark.parametrize(("values", "expected"), PENDING_CASES)
def test_pending_and_hysteresis(values: list[float], expected: list[tuple[float, int]]) -> None:
    assert feed(evaluator(), values) == expected


def test_without_pending_a_level_is_reported_at_once() -> None:
    assert feed(evaluator(pending=0), [0.5, 1.2, 2.2, 0.5]) == [(1, 1), (2, 2), (3, 0)]


def test_the_clock_confirms_a_run_of_two_readings() -> None:
    ev = evaluator()
    assert ev.on_batch([level(1.2, 0), level(1.2, 1)]) == []
    assert ev.tick(at(4)) == []  # four minutes: not yet
    signals = ev.tick(at(5))
    assert [(s.level, s.ts) for s in signals] == [(1, at(1))]  # stamped with the last reading
    assert ev.tick(at(6)) == []


def test_the_clock_never_confirms_a_single_reading() -> None:
    ev = evaluator()
    ev.on_batch([level(3.9, 0)])  # a glitch, then the station falls silent
    assert ev.tick(at(60)) == []


def test_bad_readings_never_trigger() -> None:
    ev = evaluator(pending=0)
    assert ev.on_batch([level(3.9, i, Quality.BAD) for i in range(10)]) == []
    assert ev.on_batch([level(math.nan, 11)]) == []
    assert ev.on_batch([level(math.inf, 12)]) == []


@pytest.mark.parametrize("quality", [Quality.SUSPECT, Quality.UNCHECKED])
def test_suspect_readings_only_with_use_suspect(quality: Quality) -> None:
    readings = [level(2.5, i, quality) for i in range(7)]
    assert evaluator().on_batch(readings) == []
    assert [s.level for s in evaluator(use_suspect=True).on_batch(readings)] == [2]


def test_duplicates_and_late_readings_are_ignored() -> None:
    ev = evaluator(pending=0)
    assert [s.level for s in ev.on_batch([level(1.2, 5)])] == [1]
    assert ev.on_batch([level(1.2, 5)]) == []  # the same reading again (at-least-once)
    assert ev.on_batch([level(0.2, 3)]) == []  # older than what the rule has judged


def test_a_batch_out_of_order_is_judged_in_time_order() -> None:
    ev = evaluator(pending=0)
    batch = [level(0.5, 2), level(1.5, 0), level(2.5, 1)]
    assert [(s.level, s.ts) for s in ev.on_batch(batch)] == [(1, at(0)), (2, at(1)), (0, at(2))]


def test_facts_of_a_flood_signal() -> None:
    ev = evaluator()
    # Rising 30 cm/h (0.5 cm a minute) from 1.90 m: BĐ II from minute 20, reported at 25.
    values = [round(1.9 + 0.005 * i, 3) for i in range(26)]
    signals = [s for i, v in enumerate(values) for s in ev.on_batch([level(v, i)])]
    assert len(signals) == 2  # BĐ I at minute 5, BĐ II at minute 25
    sig = signals[-1]
    assert (sig.rule, sig.station, sig.kind, sig.level) == ("flood", "kim_long", AlertKind.FLOOD, 2)
    assert sig.severity is Severity.CRITICAL
    assert sig.param == "water_level"
    assert sig.value == pytest.approx(2.025)
    facts = sig.facts
    assert facts["rule_type"] == "threshold"
    assert facts["label"] == "BĐ II"
    assert (facts["previous_level"], facts["previous_label"]) == (1, "BĐ I")
    assert facts["margin"] == pytest.approx(0.025)
    assert facts["margin_label"] == "BĐ II"
    assert facts["threshold"] == facts["level_threshold"] == 2.0
    assert facts["unit"] == "m"
    assert facts["rate_cm_h"] == pytest.approx(30.0)
    assert facts["rate_per_h"] == pytest.approx(0.3)
    # BĐ III (3.5 m) at 30 cm/h from 2.025 m: 4.92 hours.
    assert facts["next_label"] == "BĐ III"
    assert facts["eta_hours"] == pytest.approx((3.5 - 2.025) / 0.3, abs=1e-3)
    assert datetime.fromisoformat(facts["eta_at"]) == pytest.approx(
        at(25) + timedelta(hours=(3.5 - 2.025) / 0.3), abs=timedelta(seconds=5)
    )
    assert (facts["station_name"], facts["river"], facts["district"]) == (
        "Kim Long",
        "Hương",
        "Phú Xuân",
    )
    assert facts["ts"] == at(25).isoformat()


def test_severity_per_level_and_override() -> None:
    rules = compile_threshold(parse_rules([FLOOD_RULE])[0], STATIONS)  # type: ignore[arg-type]
    assert [rules[0].severity_of(n) for n in (0, 1, 2, 3)] == [
        Severity.INFO,
        Severity.WARNING,
        Severity.CRITICAL,
        Severity.EMERGENCY,
    ]
    config = parse_rules([{**FLOOD_RULE, "severity": {1: "info", 3: "critical"}}])[0]
    rule = compile_threshold(config, STATIONS)[0]  # type: ignore[arg-type]
    assert [rule.severity_of(n) for n in (1, 2, 3)] == [
        Severity.INFO,
        Severity.CRITICAL,
        Severity.CRITICAL,
    ]


DO_RULE = {
    "id": "low_oxygen",
    "type": "threshold",
    "stations": ["van_nien"],
    "param": "do",
    "levels": [
        {"below": 4.0, "recovery": 4.5, "label": "DO thấp", "severity": "warning"},
        {"below": 2.0, "recovery": 2.5, "label": "DO rất thấp", "severity": "critical"},
    ],
}


def test_levels_below_a_value() -> None:
    ev = Evaluator(parse_rules([DO_RULE]), STATIONS)
    values = [6.0, 3.8, 1.9, 2.3, 2.6, 4.2, 4.6]
    out = []
    for i, value in enumerate(values):
        for sig in ev.on_batch(
            [Reading("van_nien", "do", value, "mg/L", at(i), quality=Quality.GOOD)]
        ):
            out.append((i, sig.level, sig.facts["label"], sig.kind))
    assert out == [
        (1, 1, "DO thấp", AlertKind.WATER),
        (2, 2, "DO rất thấp", AlertKind.WATER),
        (4, 1, "DO thấp", AlertKind.WATER),  # 2.6 is past 2.5: DO rất thấp ends
        (6, 0, "", AlertKind.WATER),
    ]


def test_the_pure_interface() -> None:
    """evaluate(state, reading) and tick(state, now), without the Evaluator."""
    config = parse_rules([FLOOD_RULE])[0]
    rule = compile_threshold(config, STATIONS)[0]  # type: ignore[arg-type]
    assert isinstance(rule, ThresholdRule)
    state = rule.new_state()
    signals: list[Signal | None] = [rule.evaluate(state, level(2.2, i)) for i in range(6)]
    assert [s.level if s else None for s in signals] == [None] * 5 + [2]
    assert rule.level(state) == 2
    snapshot = rule.snapshot(state)
    assert snapshot is not None
    assert snapshot.level == 2


@pytest.mark.parametrize(
    ("param", "kind"),
    [("water_level", AlertKind.FLOOD), ("pm25_h", AlertKind.AIR), ("cod", AlertKind.WATER)],
)
def test_kind_from_the_parameter(param: str, kind: AlertKind) -> None:
    rule = {
        "id": "r",
        "type": "threshold",
        "stations": ["van_nien"],
        "param": param,
        "levels": [{"above": 1}],
    }
    ev = Evaluator(parse_rules([rule]), STATIONS)
    assert ev.slots[0].rule.kind is kind


def test_an_unknown_parameter_needs_a_kind() -> None:
    rule = {
        "id": "r",
        "type": "threshold",
        "stations": ["van_nien"],
        "param": "mystery",
        "levels": [{"above": 1}],
    }
    with pytest.raises(RuleConfigError, match="say what 'mystery' warns of"):
        Evaluator(parse_rules([rule]), STATIONS)
    Evaluator(parse_rules([{**rule, "kind": "water"}]), STATIONS)


def test_flood_levels_on_a_station_without_them() -> None:
    with pytest.raises(RuleConfigError, match="van_nien has no flood_levels"):
        Evaluator(parse_rules([{**FLOOD_RULE, "stations": ["van_nien"]}]), STATIONS)
    # A selector takes the gauges that have them and leaves the others.
    ev = Evaluator(parse_rules([{**FLOOD_RULE, "stations": {"river": "Hương"}}]), STATIONS)
    assert [s.rule.station for s in ev.slots] == ["kim_long"]


# -- the words after the turn, and the crest (issue 11) -------------------------------------------

QUARTER = 15  # minutes between readings of the crest cases

# Kim Long every 15 minutes from 16:00 (Huế): up to 3.82 m at 17:30, then down.
CRESTING = [3.50, 3.58, 3.65, 3.70, 3.76, 3.80, 3.82, 3.81, 3.80, 3.78, 3.76, 3.74, 3.71]


def _points(values: Sequence[float], every: int = QUARTER) -> list[tuple[datetime, float]]:
    return [(at(i * every), v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("values", "window_rate", "expected"),
    [
        pytest.param([3.70, 3.76, 3.80, 3.82], 0.16, ("rising", 0.16), id="rising"),
        # Issue 11: 3,80 m after a crest of 3,82 m, the hour's fit still +8 cm/h.
        pytest.param([3.76, 3.80, 3.82, 3.81, 3.80], 0.08, ("falling", -0.04), id="after-crest"),
        pytest.param([3.76, 3.80, 3.82, 3.81], 0.12, ("rising", 0.12), id="one-reading-after"),
        pytest.param([3.80, 3.82, 3.815, 3.81], 0.04, ("rising", 0.04), id="noise-under-2cm"),
        pytest.param([3.82, 3.80, 3.79, 3.80, 3.82], -0.01, ("rising", 0.06), id="after-trough"),
        pytest.param([3.80, 3.80, 3.801, 3.80], 0.001, ("steady", 0.001), id="flat"),
        # The hour's fit falls, flattened by the rise before the crest: the fall since it.
        pytest.param(
            [3.70, 3.78, 3.82, 3.74, 3.62, 3.50], -0.178, ("falling", -0.432), id="since-crest"
        ),
    ],
)
def test_the_word_follows_the_last_readings(
    values: list[float], window_rate: float, expected: tuple[str, float]
) -> None:
    moving = motion(_points(values), window_rate)
    assert moving is not None
    assert moving.direction == expected[0]
    assert moving.rate_per_h == pytest.approx(expected[1])
    assert motion(_points(values), None) is None


@pytest.mark.parametrize(
    ("values", "confirmed_at", "crest"),
    [
        pytest.param(CRESTING, [11], (3.82, 6), id="two-readings-5cm-under"),
        pytest.param(
            [3.6, 3.7, 3.66, 3.64, 3.7, 3.64], [], (3.7, 1), id="one-reading-under-is-not"
        ),
        pytest.param([3.6, 3.7, 4.6, 3.7, 3.64, 3.63], [5], (3.7, 1), id="a-spike-is-no-crest"),
        pytest.param(
            [3.6, 3.66, 3.7, 3.66, 3.64, 3.62, 3.7, 3.8, 3.84, 3.8, 3.78, 3.76],
            [5, 11],
            (3.84, 8),
            id="two-peaks-two-crests",
        ),
        pytest.param([3.6, 3.68, 3.7, 3.64, 3.6, 3.5, 3.4], [4], (3.7, 2), id="reported-once"),
    ],
)
def test_the_crest_is_confirmed_by_the_fall(
    values: list[float], confirmed_at: list[int], crest: tuple[float, int]
) -> None:
    state = CrestState()
    confirmed = [i for i, (ts, v) in enumerate(_points(values)) if track_crest(state, ts, v, 3)]
    assert confirmed == confirmed_at
    assert (state.value, state.ts) == (crest[0], at(crest[1] * QUARTER))


def test_a_new_alarm_has_a_new_crest_and_the_all_clear_keeps_the_last() -> None:
    state = CrestState()
    for i, (value, alarm) in enumerate([(1.2, 1), (1.4, 1), (1.3, 1), (0.9, 0), (0.8, 0)]):
        track_crest(state, at(i), value, alarm)
    assert state.facts() == {"crest_m": 1.4, "crest_at": at(1).isoformat(), "crest_passed": False}
    track_crest(state, at(5), 1.1, 1)
    track_crest(state, at(6), 1.15, 1)
    assert (state.value, state.ts) == (1.1, at(5))


def test_the_crest_of_a_flood_is_a_signal_once() -> None:
    ev = evaluator(pending="0m")
    signals = [s for i, v in enumerate(CRESTING) for s in ev.on_batch([level(v, i * QUARTER)])]
    assert [(s.level, s.facts.get("event")) for s in signals] == [(3, None), (3, "crest")]
    crest = signals[1]
    assert crest.ts == at(11 * QUARTER)  # 18:45: the second reading 5 cm under 3.82 m
    assert (crest.facts["crest_m"], crest.facts["crest_at"]) == (3.82, at(6 * QUARTER).isoformat())
    assert crest.facts["crest_passed"] is True
    assert crest.facts["trend"] == "falling"
    assert render(crest).text == (
        "[ĐỈNH LŨ] Sông Hương tại Kim Long: đỉnh lũ 3,82 m lúc 17:30, nay 3,74 m "
        "(trên BĐ III 0,24 m), đang xuống 7 cm/giờ, 18:45 22/11"
    )
    # The next message of the incident (a reminder, a lower level) says the crest too.
    (now,) = ev.active()
    assert "event" not in now.facts
    assert now.facts["crest_passed"] is True


def test_a_sharp_crest_read_hourly_is_still_a_crest() -> None:
    """Hourly readings around a real crest move 10–20 cm: that is no glitch."""
    state = CrestState()
    values = [3.5, 3.68, 3.82, 3.66, 3.52]
    confirmed = [i for i, (ts, v) in enumerate(_points(values, 60)) if track_crest(state, ts, v, 3)]
    assert confirmed == [4]
    assert (state.value, state.ts) == (3.82, at(120))
