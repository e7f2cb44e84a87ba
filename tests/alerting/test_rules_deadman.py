"""Deadman rules: no data for a while, the station offline, and back — under a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 11, 22, 16, 0, tzinfo=UTC)  # 23:00 in Huế


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def station(sid: str, name: str, kind: str = "hydro") -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": sid,
            "name": name,
            "kind": kind,
            "district": "Phú Xuân",
            "source": {"driver": "tt10", "code": sid.upper()},
        }
    )


STATIONS = {
    "kim_long": station("kim_long", "Kim Long"),
    "phu_oc": station("phu_oc", "Phú Ốc"),
}
RULE = {"id": "no_data", "type": "deadman", "stations": "all", "no_data_for": "10m"}


def evaluator(**overrides: Any) -> Evaluator:
    return Evaluator(parse_rules([{**RULE, **overrides}]), STATIONS)


def reading(
    minute: float,
    param: str = "water_level",
    value: float = 1.2,
    quality: Quality = Quality.GOOD,
    sid: str = "kim_long",
) -> Reading:
    return Reading(sid, param, value, "m", at(minute), quality=quality)


def test_silence_from_the_last_data() -> None:
    ev = evaluator(stations=["kim_long"])
    ev.tick(at(0))
    ev.on_batch([reading(1)])
    assert ev.tick(at(10.9)) == []
    (sig,) = ev.tick(at(11))
    assert (sig.rule, sig.station, sig.kind, sig.level) == (
        "no_data",
        "kim_long",
        AlertKind.STATION,
        1,
    )
    assert sig.severity is Severity.WARNING
    assert sig.ts == at(11)  # the clock's time: no reading made it
    assert sig.facts["reason"] == "no_data"
    assert sig.facts["since"] == sig.facts["last_seen"] == at(1).isoformat()
    assert sig.facts["silent_s"] == 600.0
    assert ev.tick(at(12)) == []  # fired once
    (back,) = ev.on_batch([reading(13)])
    assert (back.level, back.ts, back.severity) == (0, at(13), Severity.INFO)


def test_a_station_never_heard_counts_from_the_first_tick() -> None:
    ev = evaluator()
    assert ev.tick(at(0)) == []
    ev.on_batch([reading(5, sid="phu_oc")])
    signals = ev.tick(at(10))
    assert [(s.station, s.facts.get("since")) for s in signals] == [("kim_long", None)]


def test_bad_readings_and_missing_values_are_not_data() -> None:
    ev = evaluator(stations=["kim_long"])
    ev.tick(at(0))
    ev.on_batch([reading(m, quality=Quality.BAD) for m in range(1, 10)])
    ev.on_batch([reading(9.5, value=float("nan"))])
    assert [s.level for s in ev.tick(at(10))] == [1]
    # A suspect reading is data: the station is alive even if QC doubts the value.
    assert [s.level for s in ev.on_batch([reading(11, quality=Quality.SUSPECT)])] == [0]


def test_derived_series_are_not_a_sign_of_life() -> None:
    ev = evaluator(stations=["kim_long"])
    ev.tick(at(0))
    ev.on_batch([reading(1)])
    assert [s.level for s in ev.tick(at(11))] == [1]
    # The collector's hourly mean of the hour, computed after the station died.
    assert ev.on_batch([reading(60, "water_level_h"), reading(60, "flood_level", 1.0)]) == []


def test_offline_fires_at_once_and_clears_when_back() -> None:
    ev = evaluator(stations=["kim_long"])
    ev.tick(at(0))
    ev.on_batch([reading(1), reading(1, "station_online", 1.0)])
    (sig,) = ev.on_batch([reading(2, "station_online", 0.0)])
    assert (sig.level, sig.facts["reason"], sig.facts["since"]) == (1, "offline", at(2).isoformat())
    assert ev.on_batch([reading(3, "station_online", 0.0)]) == []
    assert ev.tick(at(20)) == []  # already firing
    # Back: the poll's readings and station_online = 1 in one batch.
    (back,) = ev.on_batch([reading(21), reading(21, "station_online", 1.0)])
    assert (back.level, back.ts) == (0, at(21))


def test_offline_can_be_left_to_the_silence() -> None:
    ev = evaluator(stations=["kim_long"], offline=False)
    ev.tick(at(0))
    ev.on_batch([reading(1)])
    assert ev.on_batch([reading(2, "station_online", 0.0)]) == []
    assert [s.level for s in ev.tick(at(11))] == [1]


def test_a_replayed_backlog_does_not_clear() -> None:
    """After an outage the gateway replays its outbox: old readings prove nothing about now."""
    ev = evaluator(stations=["kim_long"])
    ev.tick(at(0))
    ev.on_batch([reading(1)])
    assert [s.level for s in ev.tick(at(30))] == [1]
    assert ev.on_batch([reading(5), reading(6)]) == []  # 25 minutes old
    assert [s.level for s in ev.on_batch([reading(29.5)])] == [0]


def test_per_parameter() -> None:
    ev = evaluator(stations=["kim_long"], param="water_level")
    ev.tick(at(0))
    ev.on_batch([reading(1), reading(1, "battery", 12.5)])
    ev.on_batch([reading(m, "battery", 12.5) for m in range(2, 12)])  # other series keep coming
    (sig,) = ev.tick(at(11))
    assert (sig.level, sig.param, sig.facts["param_label"]) == (1, "water_level", "Mực nước")
    assert ev.on_batch([reading(12, "battery", 12.4)]) == []
    assert [s.level for s in ev.on_batch([reading(12)])] == [0]


def test_no_use_suspect_on_a_deadman() -> None:
    with pytest.raises(RuleConfigError, match="counts every reading that is not bad"):
        parse_rules([{**RULE, "use_suspect": True}])


def test_every_station() -> None:
    ev = evaluator()
    assert sorted(s.rule.station for s in ev.slots) == ["kim_long", "phu_oc"]
    ev.tick(at(0))
    assert sorted(s.station for s in ev.tick(at(10))) == ["kim_long", "phu_oc"]
