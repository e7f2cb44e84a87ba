"""rules.yaml: value types, the sample site's rules, and errors that name file, rule and field."""

from __future__ import annotations

import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.model import AlertKind, Severity
from alerting.rules import RULE_TYPES, Evaluator, RuleConfigError, load_rules, parse_rules
from alerting.rules.config import RuleConfig, parse_duration, parse_rate, parse_severity
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1.5h", 5400),
        (" 10 m ", 600),
        (45, 45),
        (2.5, 2.5),
        ("120", 120),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "1h-5m", True, None, -3])
def test_not_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "per_hour"),
    [
        ("20 cm/h", 0.2),
        ("20cm/h", 0.2),
        ("150 mm/h", 0.15),
        ("0.3 m/h", 0.3),
        ("5 cm/giờ", 0.05),
        (0.2, 0.2),
        ("12", 12.0),
    ],
)
def test_rates(text: object, per_hour: float) -> None:
    assert parse_rate(text) == pytest.approx(per_hour)


@pytest.mark.parametrize(
    ("text", "severity"),
    [("warning", Severity.WARNING), ("CRITICAL", Severity.CRITICAL), (3, Severity.EMERGENCY)],
)
def test_severities(text: object, severity: Severity) -> None:
    assert parse_severity(text) is severity


def test_the_table_has_every_type_of_the_schema() -> None:
    union = typing.get_args(typing.get_args(RuleConfig)[0])
    literals = {typing.get_args(model.model_fields["type"].annotation)[0] for model in union}
    assert set(RULE_TYPES) == literals
    assert {name: entry.config for name, entry in RULE_TYPES.items()} == {
        typing.get_args(m.model_fields["type"].annotation)[0]: m for m in union
    }


def test_the_hue_sample() -> None:
    """examples/hue/rules.yaml checks and compiles against the site's stations."""
    site = load_site(EXAMPLE_SITE)
    rules = load_rules(EXAMPLE_SITE / "rules.yaml")
    assert {r.type for r in rules} == set(RULE_TYPES)
    ev = Evaluator(rules, site.stations)
    per_rule: dict[str, list[str]] = {}
    for slot in ev.slots:
        per_rule.setdefault(slot.rule.id, []).append(slot.rule.station)
    assert per_rule == {
        "flood_levels": ["kim_long", "phu_oc"],
        "flood_rise": ["kim_long"],
        "heavy_rain": ["nam_dong"],
        "air_quality": ["hue_air"],
        "water_quality": ["van_nien"],
        "strong_wind": ["hue_weather"],
        "strong_gust": ["hue_weather"],
        "no_data": sorted(site.stations, key=list(site.stations).index),
    }
    assert [(link.upstream_station, link.downstream_station) for link in ev.links] == [
        ("phu_oc", "kim_long")
    ]
    kinds = {slot.rule.id: slot.rule.kind for slot in ev.slots}
    assert kinds["flood_rise"] is AlertKind.FLOOD
    assert kinds["heavy_rain"] is AlertKind.RAIN
    assert kinds["air_quality"] is AlertKind.AIR
    assert kinds["water_quality"] is AlertKind.WATER
    assert kinds["strong_gust"] is AlertKind.STORM
    assert kinds["no_data"] is AlertKind.STATION


def write(tmp_path: Path, rules: Any) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


FLOOD = {
    "id": "flood",
    "type": "threshold",
    "stations": ["kim_long"],
    "from_station": "flood_levels",
}


def problems(exc: pytest.ExceptionInfo[RuleConfigError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_every_problem_names_file_rule_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            {**FLOOD, "pendng": "5m"},
            {"id": "rise", "type": "trend", "stations": ["kim_long"], "rise_per_hour": "fast"},
            {"id": "odd", "type": "magic", "stations": "all"},
        ],
    )
    with pytest.raises(RuleConfigError) as exc:
        load_rules(path)
    found = problems(exc)
    assert len(found) == 3
    assert found[0] == f"{path}: rule flood: pendng: Extra inputs are not permitted"
    assert found[1].startswith(f"{path}: rule rise: rise_per_hour: Value error, 'fast' is not")
    assert found[2].startswith(f"{path}: rule odd: Input tag 'magic' found using 'type'")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"id": "x"}, "must be a list"),
        ([FLOOD, FLOOD], "two rules have this id"),
        ([{**FLOOD, "id": "Bad Id"}], "String should match pattern"),
        ([{**FLOOD, "levels": [{"above": 1}]}], "one of them"),
        ([{**FLOOD, "from_station": None}], "one of them"),
        ([{**FLOOD, "param": "rain"}], "compares water_level"),
        ([{**FLOOD, "kind": "fire"}], "kind 'fire'"),
        ([{**FLOOD, "severity": "loud"}], "severity 'loud'"),
        ([{**FLOOD, "stations": {}}], "needs kind, district, basin or river"),
        (
            [{**FLOOD, "from_station": None, "levels": [{"above": 2}, {"above": 1}]}],
            "must increase with the level",
        ),
        (
            [{**FLOOD, "from_station": None, "levels": [{"above": 1}, {"below": 2}]}],
            "mix above and below",
        ),
        (
            [{**FLOOD, "from_station": None, "levels": [{"above": 1, "below": 2}]}],
            "exactly one of above or below",
        ),
        (
            [{**FLOOD, "from_station": None, "levels": [{"above": 1, "recovery": 1.2}]}],
            "recovers below its threshold",
        ),
        (
            [{**FLOOD, "from_station": None, "levels": [{"level": 2, "above": 1}]}],
            "numbered 1, 2",
        ),
    ],
)
def test_problems(tmp_path: Path, rules: Any, message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        load_rules(write(tmp_path, rules))


def test_an_empty_file_is_no_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_rules(path) == []


def test_an_unknown_station_is_named() -> None:
    site = load_site(EXAMPLE_SITE)
    with pytest.raises(RuleConfigError) as exc:
        Evaluator(parse_rules([{**FLOOD, "stations": ["kim_long", "kim_lung"]}]), site.stations)
    assert problems(exc) == ["rule flood: stations: unknown station 'kim_lung'"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"kind": "hydro"}, ["kim_long", "phu_oc"]),
        ({"basin": "Hương"}, ["kim_long", "phu_oc", "nam_dong", "van_nien"]),
        ({"district": "Thuận Hóa"}, ["hue_air", "van_nien", "hue_weather"]),
        ({"kind": "water", "river": "Hương"}, ["van_nien"]),
        ("all", None),
    ],
)
def test_station_selectors(selector: Any, expected: list[str] | None) -> None:
    site = load_site(EXAMPLE_SITE)
    rule = {"id": "no_data", "type": "deadman", "stations": selector, "no_data_for": "10m"}
    ev = Evaluator(parse_rules([rule]), site.stations)
    stations = [slot.rule.station for slot in ev.slots]
    assert sorted(stations) == sorted(expected if expected is not None else site.stations)
