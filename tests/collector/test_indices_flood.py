"""Water levels against BĐ levels at the gauge's resolution (1 mm), in the collector and in
alerting alike: a scaled register meant as 2.00 m may land one ULP either side of BĐ II."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from alerting.rules import Evaluator, parse_rules
from alerting.rules.threshold import flood_ladder
from collector.indices import (
    GAUGE_RESOLUTION_M,
    compare_levels,
    flood_alarm,
    gauge_steps,
    level_margin,
)
from gateway.config import FloodLevels, StationConfig
from gateway.model import Quality, Reading

KIM_LONG = (1.0, 2.0, 3.5)
BD2 = 2.0
BELOW = math.nextafter(BD2, 0.0)  # 1.9999999999999998
ABOVE = math.nextafter(BD2, 3.0)  # 2.0000000000000004


def test_the_ulp_cases_are_real() -> None:
    # A register scaled to metres, or a level summed from a datum and a reading, lands one ULP
    # off the BĐ level it means: an exact >= reads it a level low (or high).
    assert math.nextafter(2.8, 3.0) == 280 * 0.01
    assert BELOW == 0.7 + 0.6 + 0.7
    assert BELOW < BD2 < ABOVE


@pytest.mark.parametrize(
    ("level_m", "alarm", "margin_m", "description"),
    [
        (BELOW, 2, 0.0, "ở mức BĐ II"),  # was level 1, "trên BĐ I 1.00 m"
        (BD2, 2, 0.0, "ở mức BĐ II"),
        (ABOVE, 2, 0.0, "ở mức BĐ II"),
        (math.nextafter(1.0, 0.0), 1, 0.0, "ở mức BĐ I"),
        (math.nextafter(3.5, 0.0), 3, 0.0, "ở mức BĐ III"),
        (1.9994, 1, 0.999, "trên BĐ I 1.00 m"),  # rounds to 1.999 m: a millimetre short
        (1.9995, 2, 0.0, "ở mức BĐ II"),  # rounds half up to 2.000 m
        (1.999, 1, 0.999, "trên BĐ I 1.00 m"),
        (2.001, 2, 0.001, "trên BĐ II 0.00 m"),
        (0.7 + 0.6 + 0.7, 2, 0.0, "ở mức BĐ II"),
        (280 * 0.01, 2, 0.8, "trên BĐ II 0.80 m"),
        (0.999, 0, -0.001, "dưới BĐ I 0.00 m"),
    ],
)
def test_flood_alarm_at_the_gauge_resolution(
    level_m: float, alarm: int, margin_m: float, description: str
) -> None:
    result = flood_alarm(level_m, KIM_LONG)
    assert result is not None
    assert (result.level, result.margin_m, result.description) == (alarm, margin_m, description)


@pytest.mark.parametrize(
    ("a", "b", "resolution", "order"),
    [
        (BELOW, BD2, GAUGE_RESOLUTION_M, 0),
        (ABOVE, BD2, GAUGE_RESOLUTION_M, 0),
        (1.999, BD2, GAUGE_RESOLUTION_M, -1),
        (2.001, BD2, GAUGE_RESOLUTION_M, 1),
        (1.996, BD2, 0.01, 0),  # a staff gauge read to the centimetre
        (1.994, BD2, 0.01, -1),
        (math.inf, BD2, GAUGE_RESOLUTION_M, 1),
        (-math.inf, BD2, GAUGE_RESOLUTION_M, -1),
    ],
)
def test_compare_levels(a: float, b: float, resolution: float, order: int) -> None:
    assert compare_levels(a, b, resolution) == order
    assert compare_levels(b, a, resolution) == -order


def test_steps_and_margins() -> None:
    assert gauge_steps(BELOW) == gauge_steps(ABOVE) == 2000
    assert level_margin(2.25, BD2) == 0.25
    assert level_margin(BELOW, BD2) == 0.0
    assert flood_alarm(1.996, KIM_LONG, resolution_m=0.01) == flood_alarm(2.0, KIM_LONG)
    with pytest.raises(ValueError, match="resolution_m"):
        gauge_steps(2.0, 0.0)


@pytest.mark.parametrize(
    "level_m", [BELOW, BD2, ABOVE, 1.999, 2.001, math.nextafter(3.5, 0.0), 1.9995, 0.999]
)
def test_alerting_ladders_agree_with_the_collector(level_m: float) -> None:
    """One comparison in both places: the rule's level is the collector's flood_level."""
    ladder = flood_ladder(FloodLevels(bd1=1.0, bd2=2.0, bd3=3.5), hysteresis=0.05)
    alarm = flood_alarm(level_m, KIM_LONG)
    assert alarm is not None
    assert ladder.reached(level_m) == alarm.level
    step, margin = ladder.margin(level_m)
    if alarm.level:
        assert (step.label, margin) == (alarm.label, alarm.margin_m)


GAUGE = StationConfig.model_validate(
    {
        "id": "kim_long",
        "name": "Kim Long",
        "kind": "hydro",
        "district": "TP Huế",
        "river": "Hương",
        "flood_levels": {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5},
        "source": {"driver": "tt10", "code": "KL"},
    }
)
T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("levels_m", "expected"),
    [
        # The river rises to 2.00 m read one ULP low: BĐ II, as the collector says, margin 0.
        ([0.5, 1.2, BELOW], [(1, "BĐ I"), (2, "BĐ II")]),
        ([0.5, 1.2, ABOVE], [(1, "BĐ I"), (2, "BĐ II")]),
        # 1.95 m is BĐ II's recovery (hysteresis 0.05): read one ULP low it still holds BĐ II.
        ([2.1, math.nextafter(1.95, 0.0)], [(2, "BĐ II")]),
        ([2.1, 1.949], [(2, "BĐ II"), (1, "BĐ I")]),
    ],
)
def test_a_flood_rule_at_the_gauge_resolution(
    levels_m: list[float], expected: list[tuple[int, str]]
) -> None:
    rule = {
        "id": "flood",
        "type": "threshold",
        "stations": ["kim_long"],
        "from_station": "flood_levels",
        "hysteresis": 0.05,
    }
    ev = Evaluator(parse_rules([rule]), {"kim_long": GAUGE})
    signals = []
    for k, level in enumerate(levels_m):
        ts = T0 + timedelta(minutes=5 * k)
        reading = Reading("kim_long", "water_level", level, "m", ts, quality=Quality.GOOD)
        signals += ev.on_batch([reading])
    assert [(s.level, s.facts["label"]) for s in signals] == expected
    for signal in signals:
        said = flood_alarm(signal.value, KIM_LONG)
        assert said is not None
        assert signal.facts["margin"] == said.margin_m  # "ở mức BĐ II", never "dưới … 0.00 m"
