"""Index rules: VN_AQI / VN_WQI categories held for a number of hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.model import AlertKind, Severity
from alerting.rules import Evaluator, RuleConfigError, parse_rules
from gateway.config import StationConfig
from gateway.model import Quality, Reading

T0 = datetime(2025, 11, 22, 0, 0, tzinfo=UTC)  # 07:00 in Huế


def hour(n: int) -> datetime:
    return T0 + timedelta(hours=n)


def station(sid: str, name: str, kind: str) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": sid,
            "name": name,
            "kind": kind,
            "district": "Thuận Hóa",
            "source": {"driver": "tt10", "code": sid.upper()},
        }
    )


STATIONS = {
    "hue_air": station("hue_air", "Huế", "air"),
    "van_nien": station("van_nien", "Vạn Niên", "water"),
}
AQI_RULE = {
    "id": "air",
    "type": "index",
    "stations": ["hue_air"],
    "param": "vn_aqi_h",
    "category_at_least": "Kém",
    "for_hours": 2,
}


def aqi(n: int, value: float, dominant: str = "pm25", quality: Quality = Quality.GOOD) -> Reading:
    return Reading("hue_air", "vn_aqi_h", value, "AQI", hour(n), quality=quality, reason=dominant)


def run(values: dict[int, float], **overrides: Any) -> list[tuple[int, int, str]]:
    ev = Evaluator(parse_rules([{**AQI_RULE, **overrides}]), STATIONS)
    out = []
    for n, value in sorted(values.items()):
        out += [(n, s.level, s.facts["label"]) for s in ev.on_batch([aqi(n, value)])]
        assert ev.tick(hour(n) + timedelta(minutes=59)) == []  # the clock never fills an hour
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({1: 90, 2: 120, 3: 95}, [], id="one-hour-of-Kem-is-not-two"),
        pytest.param({1: 120, 2: 130}, [(2, 1, "Kém")], id="two-hourly-values-are-two-hours"),
        pytest.param({1: 101, 2: 150}, [(2, 1, "Kém")], id="the-category-bounds"),
        pytest.param({1: 120, 3: 130, 4: 125}, [(4, 1, "Kém")], id="a-missing-hour-breaks-the-run"),
        pytest.param(
            {1: 120, 2: 160, 3: 170, 4: 90},
            [(2, 1, "Kém"), (3, 2, "Xấu"), (4, 0, "")],
            id="Xau-after-two-hours-of-it",
        ),
        pytest.param({1: 250, 2: 320}, [(2, 3, "Rất xấu")], id="two-categories-in-one-step"),
    ],
)
def test_category_for_hours(values: dict[int, float], expected: list[tuple[int, int, str]]) -> None:
    assert run(values) == expected


def test_for_one_hour_is_a_single_value() -> None:
    assert run({1: 90, 2: 120}, for_hours=1) == [(2, 1, "Kém")]


def test_facts_and_severity() -> None:
    ev = Evaluator(parse_rules([AQI_RULE]), STATIONS)
    ev.on_batch([aqi(1, 165, "pm25")])
    (sig,) = ev.on_batch([aqi(2, 170, "pm10")])
    assert (sig.level, sig.kind, sig.severity) == (2, AlertKind.AIR, Severity.CRITICAL)
    assert sig.value == 170
    assert sig.facts["index"] == "VN_AQI"
    assert sig.facts["category"] == "Xấu"
    assert (sig.facts["dominant"], sig.facts["dominant_label"]) == ("pm10", "PM10")
    assert sig.facts["held_hours"] == 2.0


def test_suspect_values_are_skipped() -> None:
    ev = Evaluator(parse_rules([AQI_RULE]), STATIONS)
    assert ev.on_batch([aqi(n, 160, quality=Quality.SUSPECT) for n in (1, 2, 3)]) == []


WQI_RULE = {
    "id": "water",
    "type": "index",
    "stations": ["van_nien"],
    "param": "vn_wqi",
    "category_at_least": "Xấu",
    "for_hours": 3,
}


def test_wqi_worsens_downwards() -> None:
    """VN_WQI: "Xấu" is 26–50, "Kém" 10–25 — lower is worse (Decision 1460/QĐ-TCMT)."""
    ev = Evaluator(parse_rules([WQI_RULE]), STATIONS)
    out = []
    for n, value in enumerate([60, 50, 45, 40, 20, 22, 24, 55], start=1):
        reading = Reading("van_nien", "vn_wqi", value, "WQI", hour(n), quality=Quality.GOOD)
        out += [(n, s.level, s.facts["category"], s.severity) for s in ev.on_batch([reading])]
    assert out == [
        (4, 1, "Xấu", Severity.WARNING),  # 50, 45, 40: three hours at "Xấu" or worse
        (7, 2, "Kém", Severity.CRITICAL),  # 20, 22, 24
        (8, 0, "Trung bình", Severity.INFO),
    ]
    assert ev.slots[0].rule.kind is AlertKind.WATER


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"category_at_least": "Kem"}, "'Kem' is not a VN_AQI category"),
        ({"param": "vn_wqi", "category_at_least": "Rất xấu"}, "not a VN_WQI category"),
        ({"pending": "1h"}, "pending is not used"),
        ({"param": "pm25"}, "vn_aqi_h"),
    ],
)
def test_config_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        Evaluator(parse_rules([{**AQI_RULE, **overrides}]), STATIONS)
