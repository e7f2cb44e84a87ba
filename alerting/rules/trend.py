"""Trend rules: a rate of rise over a window (e.g. > 20 cm/h), and where the trend leads.

The rate is the least-squares slope of the window's readings (scipy), not the last difference:
a river's rise is what the last hour says. When the station has flood levels, the signal
projects the latest value at that rate to the next level above it: "đạt BĐ III sau khoảng 5
giờ nếu giữ tốc độ này" — only while the rate is positive and within ``horizon``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from alerting.model import AlertKind, Severity
from alerting.rules.base import (
    LadderRule,
    LadderState,
    StationFacts,
    given_or,
    kind_of_param,
    param_label,
    param_unit,
)
from alerting.rules.config import TrendConfig, select_stations
from alerting.rules.crest import motion
from alerting.rules.levels import Ladder, Step
from alerting.rules.series import RATE_POINTS, SeriesWindow, project, rate_per_hour
from alerting.rules.threshold import eta_facts, flood_ladder
from gateway.config import StationConfig
from gateway.model import Reading

RISING_FAST = "lên nhanh"  # the level's label: "nước lên nhanh"


@dataclass(slots=True)
class TrendState(LadderState):
    window: SeriesWindow = field(default_factory=lambda: SeriesWindow(timedelta(hours=1)))
    rate: float | None = None  # per hour, of the latest full window
    value: float | None = None  # the latest reading


@dataclass(frozen=True, slots=True, kw_only=True)
class TrendRule(LadderRule[TrendState]):
    type: str = "trend"
    unit: str = ""
    window: timedelta = timedelta(hours=1)
    min_points: int = 3
    targets: Ladder | None = None  # the station's flood levels, to project to
    horizon: timedelta = timedelta(hours=24)  # in the rate's hours
    # Rates (judged and said) per hour of a clock this many times slower than the readings':
    # the demo's storm hour (StationRule.on_time_scale). 1 everywhere else.
    time_scale: float = 1.0

    def new_state(self) -> TrendState:
        return TrendState(window=SeriesWindow(self.window, max_points=RATE_POINTS))

    def value_of(self, state: TrendState, reading: Reading) -> float | None:
        window = state.window
        if window.points and reading.ts <= window.points[-1][0]:
            return None
        window.add(reading.ts, reading.value)
        state.value = reading.value
        if len(window) < self.min_points or not window.duration:
            return None  # too few points to judge: the reported level stays as it is
        state.rate = rate_per_hour(window.points) / self.time_scale
        return state.rate

    def reported_value(self, state: TrendState) -> float | None:
        return state.value

    def facts(self, state: TrendState) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "unit": self.unit,
            "param_label": param_label(self.params[0]),
            "threshold_per_h": self.ladder.steps[0].trigger,
            "window_s": self.window.total_seconds(),
            "points": len(state.window),
        }
        rate = state.rate
        value = state.value
        ts = state.levels.last_ts
        if rate is not None:
            # The judged rate is the window's fit; the words follow the last readings
            # (crest.motion): after the turn "đang xuống", never the window's "đang lên".
            facts["fit_rate_per_h"] = round(rate, 6)
            facts["rate_per_h"] = round(rate, 6)
            moving = (
                motion(state.window.points, rate, time_scale=self.time_scale)
                if self.unit == "m"
                else None
            )
            if moving is not None:
                facts.update(trend=moving.direction, rate_per_h=round(moving.rate_per_h, 6))
                rate = moving.rate_per_h
            if self.unit == "m":
                facts["rate_cm_h"] = round(rate * 100, 3)
        if self.targets is not None and value is not None:
            reached, margin = self.targets.margin(value)
            facts.update(margin=round(margin, 6), margin_label=reached.label)
            following = self.targets.next_step(value)
            if rate is not None and ts is not None and following is not None:
                eta = project(value, ts, rate, following.trigger, following.label, self.horizon)
                if eta is not None:
                    facts.update(eta_facts(eta, ts, self.time_scale, following))
        return facts


def compile_trend(config: TrendConfig, stations: Mapping[str, StationConfig]) -> list[TrendRule]:
    param = config.param
    kind = kind_of_param(config.id, param, config.kind or _flood_if_level(param))
    recovery = config.recovery_per_hour
    # An early warning, not an alarm: the flood levels are what alarms.
    severity = given_or(config.severity_override(1), Severity.WARNING)
    step = Step(
        1,
        config.rise_per_hour,
        recovery if recovery is not None else config.rise_per_hour,
        severity,
        config.label or RISING_FAST,
    )
    rules = []
    for station in select_stations(config.id, config.stations, stations):
        targets = None
        if config.project_to == "flood_levels" and station.flood_levels is not None:
            targets = flood_ladder(station.flood_levels, 0.0)
        rules.append(
            TrendRule(
                id=config.id,
                station=station.id,
                kind=kind,
                params=(param,),
                ladder=Ladder((step,)),
                pending=config.pending,
                use_suspect=config.use_suspect,
                station_facts=StationFacts.of(station),
                unit=param_unit(param),
                window=config.window,
                min_points=config.min_points,
                targets=targets,
                horizon=config.horizon,
                time_scale=config.time_scale,
            )
        )
    return rules


def _flood_if_level(param: str) -> AlertKind | None:
    return AlertKind.FLOOD if param == "water_level" else None
