"""Threshold rules: a value against levels — BĐ I/II/III of each gauge, or declared levels.

The flood levels come from each gauge's station config (``flood_levels``, Decision
05/2020/QĐ-TTg), never from the rule: the same rule serves every gauge. A level is reached at
or above its value ("reaching BĐ II is alarm level II", as collector/indices/flood.py counts
it), reported after ``pending``, and ends below its recovery value (hysteresis).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerting.rules.base import (
    LadderRule,
    LadderState,
    StationFacts,
    kind_of_param,
    param_label,
    param_unit,
    severity_for,
)
from alerting.rules.config import (
    LevelConfig,
    RuleConfigError,
    RuleProblem,
    StationSelector,
    ThresholdConfig,
    default_severity,
    select_stations,
)
from alerting.rules.crest import CrestState, motion, track_crest
from alerting.rules.levels import Ladder, Step
from alerting.rules.series import (
    RATE_POINTS,
    Projection,
    SeriesWindow,
    project,
    rate_per_hour,
)
from collector.indices.flood import GAUGE_RESOLUTION_M, FloodAlarm
from gateway.config import FloodLevels, StationConfig
from gateway.model import Reading

FLOOD_LABELS = tuple(FloodAlarm(level, 0.0).label for level in (1, 2, 3))  # BĐ I, BĐ II, BĐ III
MIN_RATE_POINTS = 3
PROJECTION_HORIZON = timedelta(hours=24)


@dataclass(slots=True)
class ThresholdState(LadderState):
    # Recent values, for the rate a message prints ("đang lên 18 cm/giờ"); fitted only when a
    # signal is built, so it costs nothing between level changes.
    window: SeriesWindow = field(default_factory=lambda: SeriesWindow(timedelta(hours=1)))
    # The flood's crest (flood levels only): one comparison a reading while an alarm is up.
    crest: CrestState = field(default_factory=CrestState)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdRule(LadderRule[ThresholdState]):
    type: str = "threshold"
    unit: str = ""
    rate_window: timedelta = timedelta(hours=1)
    flood_levels: bool = False  # the ladder is the gauge's BĐ I/II/III
    # Rates per hour of a clock this many times slower than the readings': the demo's storm
    # hour (StationRule.on_time_scale). 1 everywhere else.
    time_scale: float = 1.0

    def new_state(self) -> ThresholdState:
        return ThresholdState(window=SeriesWindow(self.rate_window, max_points=RATE_POINTS))

    def value_of(self, state: ThresholdState, reading: Reading) -> float | None:
        state.window.add(reading.ts, reading.value)
        return reading.value

    def after_step(self, state: ThresholdState, reading: Reading) -> str | None:
        if not self.flood_levels or state.levels.last_ts != reading.ts:
            return None  # not a gauge's BĐ levels, or a reading the level machine refused
        passed = track_crest(state.crest, reading.ts, reading.value, state.levels.level)
        return "crest" if passed else None

    def facts(self, state: ThresholdState) -> dict[str, Any]:
        value = state.levels.last_value
        ts = state.levels.last_ts
        facts: dict[str, Any] = {
            "unit": self.unit,
            "param_label": param_label(self.params[0]),
            "direction": "above" if self.ladder.rising else "below",
        }
        if self.flood_levels:
            facts["flood_levels"] = True
        level = state.levels.level
        if level:
            facts["level_threshold"] = self.ladder.step(min(level, self.ladder.top)).trigger
        if value is None or ts is None:
            return facts
        reached, margin = self.ladder.margin(value)
        facts.update(margin=round(margin, 6), margin_label=reached.label, threshold=reached.trigger)
        facts.update(rate_facts(state.window, self.unit, self.time_scale))
        if self.flood_levels:
            facts.update(state.crest.facts())
        rate = facts.get("rate_per_h")
        following = self.ladder.next_step(value)
        if rate is not None and following is not None and self.ladder.rising:
            eta = project(value, ts, rate, following.trigger, following.label, PROJECTION_HORIZON)
            if eta is not None:
                facts.update(eta_facts(eta, ts, self.time_scale, following))
        return facts


def eta_facts(eta: Projection, ts: datetime, time_scale: float, following: Step) -> dict[str, Any]:
    """When the next level is reached at this rate: ``eta_hours`` in the rate's hours (the
    demo's storm hours), ``eta_at`` on the readings' own clock."""
    return {
        "next_label": following.label,
        "next_threshold": following.trigger,
        "eta_hours": round(eta.hours, 3),
        "eta_at": (ts + timedelta(hours=eta.hours / time_scale)).isoformat(),
    }


def rate_facts(window: SeriesWindow, unit: str, time_scale: float = 1.0) -> dict[str, Any]:
    """The rate a message prints; {} while the window is too short.

    ``fit_rate_per_h``: the least-squares slope over the whole window (what a trend rule
    judges). For metres (water levels) the word follows the last readings (crest.motion):
    ``trend`` (rising, falling, steady), ``rate_per_h`` and ``rate_cm_h`` agree with it — after
    the turn they are the recent fall, not the window's rise. Other units: ``rate_per_h`` is the
    window's fit. Per hour of a clock ``time_scale`` times slower than the readings' (the
    demo's storm hour: "đang lên 230 cm/giờ", not the 13.831 cm/giờ of a real hour)."""
    if len(window) < MIN_RATE_POINTS or not window.duration:
        return {}
    fitted = rate_per_hour(window.points) / time_scale
    facts: dict[str, Any] = {"fit_rate_per_h": round(fitted, 6), "rate_per_h": round(fitted, 6)}
    if unit != "m":
        return facts
    moving = motion(window.points, fitted, time_scale=time_scale)
    if moving is not None:
        facts.update(trend=moving.direction, rate_per_h=round(moving.rate_per_h, 6))
    facts["rate_cm_h"] = round(facts["rate_per_h"] * 100, 3)
    return facts


def flood_ladder(
    levels: FloodLevels,
    hysteresis: float,
    severity: ThresholdConfig | None = None,
    resolution_m: float = GAUGE_RESOLUTION_M,
) -> Ladder:
    """BĐ I/II/III of a gauge; each ends ``hysteresis`` metres below it. Compared at the
    gauge's resolution, as the collector's flood_level: 2.00 m read as 1.9999999999999998
    reaches BĐ II 2.00."""
    override = severity.severity_override if severity else (lambda level: None)
    return Ladder(
        tuple(
            Step(
                level,
                value,
                value - hysteresis,
                severity_for(level, override, default_severity),
                FLOOD_LABELS[level - 1],
            )
            for level, value in enumerate(levels.as_tuple(), start=1)
        ),
        resolution=resolution_m,
    )


def declared_ladder(levels: list[LevelConfig], config: ThresholdConfig | Any) -> Ladder:
    """A ladder from declared levels; severity from the level, else the rule, else the default."""
    steps = []
    for number, item in enumerate(levels, start=1):
        severity = item.severity
        if severity is None:
            severity = severity_for(number, config.severity_override, default_severity)
        recovery = item.recovery if item.recovery is not None else item.threshold
        label = item.label or f"mức {number}"
        steps.append(Step(number, item.threshold, recovery, severity, label))
    return Ladder(tuple(steps), rising=levels[0].rising)


def compile_threshold(
    config: ThresholdConfig, stations: Mapping[str, StationConfig]
) -> list[ThresholdRule]:
    param = config.series
    kind = kind_of_param(config.id, param, config.kind)
    explicit = not (config.stations == "all" or isinstance(config.stations, StationSelector))
    rules = []
    problems = []
    for station in select_stations(config.id, config.stations, stations):
        if config.from_station:
            if station.flood_levels is None:
                # A selector may take in stations without a gauge's levels; a named one must
                # have them.
                if explicit:
                    message = f"station {station.id} has no flood_levels in its config"
                    problems.append(RuleProblem(None, config.id, "from_station", message))
                continue
            ladder = flood_ladder(station.flood_levels, config.hysteresis, config)
        else:
            assert config.levels is not None
            ladder = declared_ladder(config.levels, config)
        rules.append(
            ThresholdRule(
                id=config.id,
                station=station.id,
                kind=kind,
                params=(param,),
                ladder=ladder,
                pending=config.pending,
                use_suspect=config.use_suspect,
                station_facts=StationFacts.of(station),
                unit=param_unit(param),
                rate_window=config.rate_window,
                flood_levels=config.from_station is not None,
                time_scale=config.time_scale,
            )
        )
    if problems:
        raise RuleConfigError(problems)
    return rules
