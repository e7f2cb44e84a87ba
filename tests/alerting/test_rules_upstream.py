"""Upstream links: Phú Ốc (the Bồ) at BĐ II raises Kim Long's (the Hương's) flood warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import Severity
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from alerting.templates import render
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 11, 22, 16, 0, tzinfo=UTC)


def gauge(sid: str, name: str, river: str, levels: tuple[float, float, float]) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": sid,
            "name": name,
            "kind": "hydro",
            "district": "Huế",
            "river": river,
            "basin": "Hương",
            "source": {"driver": "tt10", "code": sid.upper()},
            "flood_levels": dict(zip(("bd1", "bd2", "bd3"), levels, strict=True)),
        }
    )


STATIONS = {
    "kim_long": gauge("kim_long", "Kim Long", "Hương", (1.0, 2.0, 3.5)),
    "phu_oc": gauge("phu_oc", "Phú Ốc", "Bồ", (1.5, 3.0, 4.5)),
}
FLOOD = {
    "id": "flood",
    "type": "threshold",
    "stations": ["kim_long", "phu_oc"],
    "from_station": "flood_levels",
}
LINK = {
    "id": "bo_raises_huong",
    "type": "upstream",
    "upstream_station": "phu_oc",
    "upstream_rule": "flood",
    "level_at_least": 2,
    "downstream_station": "kim_long",
    "downstream_rule": "flood",
    "raise_by": 1,
}


def evaluator(**link: Any) -> Evaluator:
    return Evaluator(parse_rules([FLOOD, {**LINK, **link}]), STATIONS)


class Clock:
    def __init__(self) -> None:
        self.minute = 0

    def water(self, sid: str, value: float) -> list[Reading]:
        self.minute += 1
        ts = T0 + timedelta(minutes=self.minute)
        return [Reading(sid, "water_level", value, "m", ts, quality=Quality.GOOD)]


def levels(ev: Evaluator, clock: Clock, sid: str, value: float) -> list[tuple[str, int]]:
    return [(s.station, s.level) for s in ev.on_batch(clock.water(sid, value))]


def test_raise_by_one_level() -> None:
    ev, clock = evaluator(), Clock()
    assert levels(ev, clock, "kim_long", 1.2) == [("kim_long", 1)]
    # Phú Ốc reaches BĐ II: its own signal, then Kim Long's warning one level higher.
    signals = ev.on_batch(clock.water("phu_oc", 3.1))
    assert [(s.station, s.level) for s in signals] == [("phu_oc", 2), ("kim_long", 2)]
    raised = signals[1]
    assert (raised.rule, raised.severity, raised.value) == ("flood", Severity.CRITICAL, 1.2)
    assert raised.ts == signals[0].ts  # when the upstream warning came
    facts = raised.facts
    assert (facts["label"], facts["own_level"], facts["own_label"]) == ("BĐ II", 1, "BĐ I")
    assert (facts["previous_level"], facts["previous_label"]) == (1, "BĐ I")
    assert facts["raised_by"] == "bo_raises_huong"
    assert (facts["raised_by_station"], facts["raised_by_station_name"]) == ("phu_oc", "Phú Ốc")
    assert (facts["raised_by_river"], facts["raised_by_label"]) == ("Bồ", "BĐ II")
    assert (facts["margin_label"], facts["margin"]) == ("BĐ I", pytest.approx(0.2))
    assert render(raised).text == (
        "[BÁO ĐỘNG II] Sông Hương tại Kim Long 1,20 m (trên BĐ I 0,20 m); nâng mức do lũ "
        "thượng nguồn: sông Bồ tại Phú Ốc ở BĐ II, 23:02 22/11"
    )
    # Kim Long reaches BĐ II itself: three (capped at BĐ III).
    assert levels(ev, clock, "kim_long", 2.2) == [("kim_long", 3)]
    assert levels(ev, clock, "kim_long", 2.3) == []
    # Phú Ốc falls to BĐ I: Kim Long's warning returns to its own level.
    assert levels(ev, clock, "phu_oc", 2.0) == [("phu_oc", 1), ("kim_long", 2)]
    back = ev.slot("flood", "kim_long").last
    assert back is not None
    assert "raised_by" not in back.facts
    assert (back.facts["own_level"], back.facts["previous_level"]) == (2, 3)
    assert levels(ev, clock, "kim_long", 0.5) == [("kim_long", 0)]


def test_raise_by_leaves_a_normal_river_alone() -> None:
    ev, clock = evaluator(), Clock()
    assert levels(ev, clock, "kim_long", 0.5) == []
    assert levels(ev, clock, "phu_oc", 3.1) == [("phu_oc", 2)]
    assert levels(ev, clock, "kim_long", 0.6) == []
    # Kim Long reaching BĐ I while the Bồ is up: straight to II.
    assert levels(ev, clock, "kim_long", 1.1) == [("kim_long", 2)]


def test_raise_to_is_an_early_warning() -> None:
    ev, clock = evaluator(raise_by=None, raise_to=1), Clock()
    # No water level at Kim Long yet: nothing to say of it.
    assert levels(ev, clock, "phu_oc", 3.1) == [("phu_oc", 2)]
    # Its first reading, below BĐ I: the warning is at BĐ I already.
    assert levels(ev, clock, "kim_long", 0.6) == [("kim_long", 1)]
    assert levels(ev, clock, "kim_long", 2.1) == [("kim_long", 2)]  # its own level is higher
    assert levels(ev, clock, "phu_oc", 1.0) == [("phu_oc", 0)]  # Kim Long stays at its own II
    assert levels(ev, clock, "kim_long", 0.6) == [("kim_long", 0)]


def test_active_shows_the_raised_level() -> None:
    ev, clock = evaluator(), Clock()
    ev.on_batch(clock.water("kim_long", 1.2))
    ev.on_batch(clock.water("phu_oc", 3.1))
    ev.on_batch(clock.water("kim_long", 1.3))  # a newer value, no level change
    active = {s.station: s for s in ev.active()}
    assert active["kim_long"].level == 2
    assert active["kim_long"].value == 1.3
    assert active["kim_long"].facts["raised_by"] == "bo_raises_huong"
    assert active["phu_oc"].level == 2


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([FLOOD, {**LINK, "upstream_rule": "nope"}], "no rule 'nope' at station phu_oc"),
        ([FLOOD, {**LINK, "downstream_station": "hue"}], "unknown station 'hue'"),
        ([FLOOD, {**LINK, "raise_to": 2}], "one of them"),
        ([FLOOD, {**LINK, "downstream_station": "phu_oc"}], "the same station"),
        (
            [
                FLOOD,
                LINK,
                {
                    **LINK,
                    "id": "back",
                    "upstream_station": "kim_long",
                    "downstream_station": "phu_oc",
                },
            ],
            "form a cycle",
        ),
    ],
)
def test_config_errors(rules: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        Evaluator(parse_rules(rules), STATIONS)
