"""Index rules: a VN_AQI or VN_WQI category at or worse than a level, for a number of hours.

The categories and their names are collector.indices' (Decisions 1459 and 1460/QĐ-TCMT):
``category_at_least: Kém`` makes level 1 "Kém", level 2 "Xấu", and so on up the scale. AQI
worsens upwards, WQI downwards ("Xấu" is 26–50, "Kém" 10–25).

``for_hours`` counts the hours the values cover: an hourly value covers the hour that ends at
its timestamp, so two hourly values in a row (10:00 and 11:00) are two hours. A missing hour
breaks the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from alerting.model import Severity, Signal
from alerting.rules.base import LadderRule, LadderState, StationFacts, given_or, kind_of_param
from alerting.rules.config import IndexConfig, RuleConfigError, RuleProblem, select_stations
from alerting.rules.levels import Ladder, Step
from collector.indices.aqi import AQI_CATEGORIES, Pollutant, aqi_category
from collector.indices.common import Category, round_half_up
from collector.indices.wqi import WQI_CATEGORIES, wqi_category
from gateway.config import StationConfig
from gateway.model import Reading
from gateway.parameters import registry

# Severity by category (alerting/model.py): "Kém" a warning, "Xấu" critical, worse an emergency.
AQI_SEVERITY = {
    "Tốt": Severity.INFO,
    "Trung bình": Severity.INFO,
    "Kém": Severity.WARNING,
    "Xấu": Severity.CRITICAL,
    "Rất xấu": Severity.EMERGENCY,
    "Nguy hại": Severity.EMERGENCY,
}
WQI_SEVERITY = {
    "Rất tốt": Severity.INFO,
    "Tốt": Severity.INFO,
    "Trung bình": Severity.INFO,
    "Xấu": Severity.WARNING,
    "Kém": Severity.CRITICAL,
    "Ô nhiễm rất nặng": Severity.EMERGENCY,
}


@dataclass(frozen=True, slots=True)
class IndexScale:
    name: str  # "VN_AQI"
    categories: tuple[Category, ...]  # best first
    rising: bool  # True: a higher value is worse
    severities: Mapping[str, Severity]
    step: timedelta  # the time one value covers

    def category(self, value: float) -> Category:
        number = round_half_up(value)
        if self.rising:
            return aqi_category(max(number, 0))
        return wqi_category(min(max(number, 0), 100))

    def worse_or_equal(self, name: str) -> tuple[Category, ...]:
        names = [c.name for c in self.categories]
        if name not in names:
            raise ValueError(f"{name!r} is not a {self.name} category ({', '.join(names)})")
        return self.categories[names.index(name) :]

    def trigger(self, category: Category) -> float:
        # AQI: reached at the category's low end; WQI (worse downwards): at its high end.
        if self.rising:
            assert category.low is not None
            return float(category.low)
        return float(category.high)


HOUR = timedelta(hours=1)
SCALES: Mapping[str, IndexScale] = {
    "vn_aqi_h": IndexScale("VN_AQI", AQI_CATEGORIES, True, AQI_SEVERITY, HOUR),
    "vn_aqi_d": IndexScale("VN_AQI", AQI_CATEGORIES, True, AQI_SEVERITY, 24 * HOUR),
    "vn_wqi": IndexScale("VN_WQI", WQI_CATEGORIES, False, WQI_SEVERITY, HOUR),
}


@cache
def pollutant_labels() -> dict[str, str]:
    """pm25 → "PM2.5": how messages name the dominant pollutant (gateway/parameters.yaml)."""
    return {p.value: registry()[p.value].label for p in Pollutant}


@dataclass(slots=True)
class IndexState(LadderState):
    dominant: str = ""  # the collector's reason on vn_aqi_*: the dominant pollutant
    run_hours: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexRule(LadderRule[IndexState]):
    type: str = "index"
    scale: IndexScale = SCALES["vn_aqi_h"]
    for_hours: float = 0.0

    def new_state(self) -> IndexState:
        return IndexState()

    def value_of(self, state: IndexState, reading: Reading) -> float | None:
        if state.levels.last_ts is None or reading.ts > state.levels.last_ts:
            state.dominant = reading.reason
        return reading.value

    def tick(self, state: IndexState, now: datetime) -> Signal | None:
        # Each value covers only its own hour: the next hour is judged by the next value, never
        # assumed from the clock.
        return None

    def needs_tick(self, state: IndexState) -> bool:
        return False

    def facts(self, state: IndexState) -> dict[str, Any]:
        value = state.levels.last_value
        facts: dict[str, Any] = {"index": self.scale.name, "for_hours": self.for_hours}
        if value is None:
            return facts
        facts["category"] = self.scale.category(value).name
        if state.dominant:
            facts["dominant"] = state.dominant
            facts["dominant_label"] = pollutant_labels().get(state.dominant, state.dominant)
        run = state.levels.runs[0] if state.levels.runs else None
        if run is not None and state.levels.last_ts is not None:
            held = state.levels.last_ts - run.since + self.scale.step
            facts["held_hours"] = held.total_seconds() / 3600
        return facts


def compile_index(config: IndexConfig, stations: Mapping[str, StationConfig]) -> list[IndexRule]:
    scale = SCALES[config.param]
    try:
        categories = scale.worse_or_equal(config.category_at_least)
    except ValueError as exc:
        problem = RuleProblem(None, config.id, "category_at_least", str(exc))
        raise RuleConfigError([problem]) from None
    steps = []
    for number, category in enumerate(categories, start=1):
        severity = given_or(config.severity_override(number), scale.severities[category.name])
        trigger = scale.trigger(category)
        steps.append(Step(number, trigger, trigger, severity, category.name))
    ladder = Ladder(tuple(steps), rising=scale.rising)
    # The first value of a run already covers one step (its hour): the run needs for_hours
    # less that step between its first and its last value.
    pending = max(timedelta(hours=config.for_hours) - scale.step, timedelta(0))
    kind = kind_of_param(config.id, config.param, config.kind)
    return [
        IndexRule(
            id=config.id,
            station=station.id,
            kind=kind,
            params=(config.param,),
            ladder=ladder,
            pending=pending,
            use_suspect=config.use_suspect,
            station_facts=StationFacts.of(station),
            # A missing value (a gap of more than one step and a half) breaks the run.
            max_gap=scale.step * 1.5,
            scale=scale,
            for_hours=config.for_hours,
        )
        for station in select_stations(config.id, config.stations, stations)
    ]
