"""Wind rules: cấp gió levels of sustained wind and gusts, each message with both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from alerting.templates import render, render_texts
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 10, 27, 20, 0, tzinfo=UTC)

HUE = StationConfig.model_validate(
    {
        "id": "hue_weather",
        "name": "Huế",
        "kind": "weather",
        "district": "Thuận Hóa",
        "source": {"driver": "tt10", "code": "HW"},
    }
)
STATIONS = {"hue_weather": HUE}
WIND = {
    "id": "wind",
    "type": "wind",
    "stations": ["hue_weather"],
    "param": "wind_speed",
    "cap_gio_at_least": [6, 8, 10],
}


def wind(minute: int, speed: float | None, gust: float | None) -> list[Reading]:
    ts = T0 + timedelta(minutes=minute)
    out = []
    # The wind first, its gust after it: the signal must still carry the gust of this instant.
    if speed is not None:
        out.append(Reading("hue_weather", "wind_speed", speed, "m/s", ts, quality=Quality.GOOD))
    if gust is not None:
        out.append(Reading("hue_weather", "wind_gust", gust, "m/s", ts, quality=Quality.GOOD))
    return out


def run(
    series: list[tuple[float | None, float | None]], **overrides: Any
) -> list[tuple[int, str, int, str]]:
    ev = Evaluator(parse_rules([{**WIND, **overrides}]), STATIONS)
    out = []
    for minute, (speed, gust) in enumerate(series):
        for sig in ev.on_batch(wind(minute, speed, gust)):
            out.append((minute, sig.rule, sig.level, sig.facts["label"]))
    return out


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        pytest.param([(10.7, 15.0), (10.8, 15.0)], [(1, "wind", 1, "cấp 6")], id="cap-6-from-10.8"),
        pytest.param(
            [(12.0, 16.0), (17.2, 25.0), (24.5, 30.0), (9.0, 12.0)],
            [
                (0, "wind", 1, "cấp 6"),
                (1, "wind", 2, "cấp 8"),
                (2, "wind", 3, "cấp 10"),
                (3, "wind", 0, ""),
            ],
            id="up-and-down",
        ),
        pytest.param([(5.0, 30.0)], [], id="gusts-alone-do-not-move-a-wind-rule"),
    ],
)
def test_levels(
    series: list[tuple[float | None, float | None]], expected: list[tuple[int, str, int, str]]
) -> None:
    assert run(series) == expected


def test_hysteresis_in_m_s() -> None:
    series: list[tuple[float | None, float | None]] = [(11.0, None), (10.3, None), (9.7, None)]
    # cấp 6 starts at 10.8 m/s; with 1 m/s of hysteresis it ends below 9.8.
    assert run(series, hysteresis_m_s=1.0) == [(0, "wind", 1, "cấp 6"), (2, "wind", 0, "")]
    assert run(series) == [(0, "wind", 1, "cấp 6"), (1, "wind", 0, "")]


def test_pending() -> None:
    series: list[tuple[float | None, float | None]] = [(18.0, 25.0)] * 12
    assert run(series, pending="10m") == [(10, "wind", 2, "cấp 8")]


def test_facts_have_both_wind_and_gust() -> None:
    ev = Evaluator(parse_rules([WIND]), STATIONS)
    (sig,) = ev.on_batch(wind(0, 18.0, 26.0))
    assert (sig.kind, sig.severity, sig.value) == (AlertKind.STORM, Severity.CRITICAL, 18.0)
    facts = sig.facts
    assert (facts["wind_speed"], facts["wind_gust"]) == (18.0, 26.0)
    assert (facts["cap_gio"], facts["cap_gio_label"]) == (8, "cấp 8")
    assert (facts["gust_cap_gio"], facts["gust_cap_gio_label"]) == (10, "cấp 10")
    assert facts["storm_category"] == "bão"


def test_a_gust_rule() -> None:
    rule = {**WIND, "id": "gust", "param": "wind_gust", "cap_gio_at_least": [8, 10]}
    ev = Evaluator(parse_rules([rule]), STATIONS)
    (sig,) = ev.on_batch(wind(0, 12.0, 21.0))
    assert (sig.level, sig.facts["label"], sig.value) == (1, "giật cấp 8", 21.0)
    assert sig.facts["cap_gio"] == 6  # the sustained wind beside it
    assert sig.facts["gust_rule"] is True


@pytest.mark.parametrize(
    ("cap", "severity"),
    [
        (6, Severity.WARNING),
        (7, Severity.WARNING),
        (8, Severity.CRITICAL),
        (10, Severity.EMERGENCY),
    ],
)
def test_severity_by_cap_gio(cap: int, severity: Severity) -> None:
    ev = Evaluator(parse_rules([{**WIND, "cap_gio_at_least": cap}]), STATIONS)
    assert ev.slots[0].rule.severity_of(1) is severity


@pytest.mark.parametrize(
    ("value", "message"),
    [([8, 6], "ascending"), ([], "ascending"), (18, "less than or equal to 17")],
)
def test_config_errors(value: object, message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        parse_rules([{**WIND, "cap_gio_at_least": value}])


def test_a_wind_rule_and_a_gust_rule_do_not_say_the_same_line() -> None:
    """Issue 11's demo printed "[GIÓ MẠNH] …: gió cấp 6, giật cấp 8" twice in a row: the
    example's strong_wind and strong_gust rules, both firing on the same instant, both saying
    both values. The gust rule speaks of the gust, under its own tag."""
    gust_rule = {**WIND, "id": "gust", "param": "wind_gust", "cap_gio_at_least": [8, 10]}
    ev = Evaluator(parse_rules([WIND, gust_rule]), STATIONS)
    signals = ev.on_batch(wind(0, 12.0, 18.0))  # cấp 6, gusts cấp 8
    texts = sorted(render(s).text for s in signals)
    assert texts == [
        "[GIÓ GIẬT MẠNH] Huế: giật cấp 8, gió cấp 6",
        "[GIÓ MẠNH] Huế: gió cấp 6, giật cấp 8",
    ]
    assert render_texts(signals)[1].splitlines() == [
        "[GIÓ MẠNH] Huế",
        "- [GIÓ GIẬT MẠNH] Huế: giật cấp 8, gió cấp 6",  # the worst first: cấp 8 is critical
        "- [GIÓ MẠNH] Huế: gió cấp 6, giật cấp 8",
    ]
