"""Accumulation rules: rain over a window against levels, or the heavy-rain risk level.

Three ways to declare one:

- ``param: rain_24h`` (or ``rain_1h`` … ``rain_12h``): the collector's running totals, judged
  against ``levels``;
- ``param: rain`` with ``window: 3h``: the interval amounts summed here over the window;
- ``heavy_rain_risk: true`` with ``terrain``: the natural-disaster risk level of heavy rain,
  Decision 18/2021/QĐ-TTg (collector.indices.rain.heavy_rain_risk: level 1 is 100–200 mm in
  24 h or 50–100 mm in 12 h; higher levels need more rain, more days, or mountain terrain).

A total the collector flags suspect ``incomplete`` (the gauge was not heard for part of the
window) is a lower bound: with ``use_incomplete`` it may raise a level — a lower bound that
reaches a band is proof — but never lowers one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from alerting.rules.base import LadderRule, LadderState, StationFacts, given_or, kind_of_param
from alerting.rules.config import (
    RAIN_TOTALS,
    AccumulationConfig,
    RiskRuleConfig,
    risk_level_severity,
    select_stations,
)
from alerting.rules.levels import Ladder, Step
from alerting.rules.series import SeriesWindow
from alerting.rules.threshold import declared_ladder
from collector.indices.common import VIETNAM_TZ
from collector.indices.rain import (
    HeavyRainRule,
    HeavyRainThresholds,
    RainDay,
    RainTotal,
    RiskLevel,
    Terrain,
    heavy_rain_risk,
    rain_intensity,
)
from gateway.config import StationConfig
from gateway.model import Quality, Reading

INCOMPLETE = "incomplete"  # the collector's reason for a total with a gap in its window
RISK_DAYS = 7  # days of history kept: the longest default rule needs 3 in a row


def _incomplete(reading: Reading) -> bool:
    return reading.quality is not Quality.GOOD and reading.reason == INCOMPLETE


@dataclass(slots=True)
class AccumulationState(LadderState):
    window: SeriesWindow | None = None  # per-interval amounts, for param + window
    incomplete: bool = False  # the latest total was a lower bound


@dataclass(frozen=True, slots=True, kw_only=True)
class AccumulationRule(LadderRule[AccumulationState]):
    type: str = "accumulation"
    window: timedelta | None = None  # set: sum the param's amounts over it
    window_hours: float = 24.0

    def new_state(self) -> AccumulationState:
        return AccumulationState(window=SeriesWindow(self.window) if self.window else None)

    def value_of(self, state: AccumulationState, reading: Reading) -> float | None:
        state.incomplete = _incomplete(reading)
        if state.window is None:
            return reading.value
        state.window.add(reading.ts, reading.value)
        start = reading.ts - state.window.span
        # The amounts of (end − window, end]: one stamped exactly at the start fell before it.
        return sum(v for ts, v in state.window.points if ts > start)

    def may_lower(self, reading: Reading) -> bool:
        return not _incomplete(reading)

    def facts(self, state: AccumulationState) -> dict[str, Any]:
        total = state.levels.last_value
        facts: dict[str, Any] = {"unit": "mm", "window_hours": self.window_hours}
        if total is not None:
            facts["total_mm"] = total
            if self.window_hours == 24:
                intensity = rain_intensity(total)
                if intensity is not None:
                    facts["intensity"] = intensity.value
        if state.incomplete:
            facts["incomplete"] = True
        return facts


@dataclass(slots=True)
class DayRain:
    """What the stream said of one local day: its last 24 h total and its largest 12 h one."""

    last_24h: float = 0.0
    last_24h_ts: datetime | None = None
    max_12h: float = 0.0


@dataclass(slots=True)
class RiskState(LadderState):
    days: dict[date, DayRain] = field(default_factory=dict)
    rain_24h: float | None = None
    rain_12h: float | None = None
    rain_12h_ts: datetime | None = None
    incomplete: bool = False
    run_days: int = 0


def local_day(ts: datetime) -> date:
    # Rain days run (00:00, 24:00] local: a total stamped at midnight closes the day before.
    return (ts - timedelta(microseconds=1)).astimezone(VIETNAM_TZ).date()


@dataclass(frozen=True, slots=True, kw_only=True)
class HeavyRainRiskRule(LadderRule[RiskState]):
    """The risk level of the latest day, from the rain_24h / rain_12h stream.

    Past days count by their calendar total (the last rain_24h of the day, which at midnight is
    the day's) and their largest 12 h total; the latest day by the running totals, so the
    warning follows the rain as it falls rather than waiting for midnight.
    """

    type: str = "accumulation"
    terrain: Terrain = Terrain.LOWLAND
    thresholds: HeavyRainThresholds = field(default_factory=HeavyRainThresholds)

    def new_state(self) -> RiskState:
        return RiskState()

    def observe(self, state: RiskState, reading: Reading) -> None:
        # rain_12h: published beside rain_24h at the same instant, fed first (a context param).
        if reading.param != "rain_12h":
            return
        if state.rain_12h_ts is not None and reading.ts <= state.rain_12h_ts:
            return
        state.rain_12h, state.rain_12h_ts = reading.value, reading.ts
        day = state.days.setdefault(local_day(reading.ts), DayRain())
        day.max_12h = max(day.max_12h, reading.value)

    def value_of(self, state: RiskState, reading: Reading) -> float | None:
        if state.levels.last_ts is not None and reading.ts <= state.levels.last_ts:
            return None
        state.incomplete = _incomplete(reading)
        state.rain_24h = reading.value
        today = local_day(reading.ts)
        day = state.days.setdefault(today, DayRain())
        if day.last_24h_ts is None or reading.ts > day.last_24h_ts:
            day.last_24h, day.last_24h_ts = reading.value, reading.ts
        for old in [d for d in state.days if (today - d).days >= RISK_DAYS]:
            del state.days[old]
        days = []
        for when in sorted(state.days):
            seen = state.days[when]
            if when == today:
                total, max_12h = reading.value, state.rain_12h or 0.0
                if state.rain_12h_ts is None or local_day(state.rain_12h_ts) != today:
                    max_12h = 0.0
            else:
                total, max_12h = seen.last_24h, seen.max_12h
            end = seen.last_24h_ts or reading.ts
            days.append(RainDay(when, RainTotal(24, end, total, 1.0), max_12h))
        risk = heavy_rain_risk(days, self.terrain, self.thresholds)
        state.run_days = risk.days
        return float(risk.level or 0)

    def may_lower(self, reading: Reading) -> bool:
        return not _incomplete(reading)

    def reported_value(self, state: RiskState) -> float | None:
        return state.rain_24h

    def facts(self, state: RiskState) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "unit": "mm",
            "window_hours": 24.0,
            "terrain": self.terrain.value,
            "heavy_rain_risk": True,
        }
        if state.rain_24h is not None:
            facts["total_mm"] = state.rain_24h
            intensity = rain_intensity(state.rain_24h)
            if intensity is not None:
                facts["intensity"] = intensity.value
        if state.rain_12h is not None:
            facts["rain_12h_mm"] = state.rain_12h
        if state.levels.level:
            facts["risk_level"] = state.levels.level
            facts["days"] = state.run_days
        if state.incomplete:
            facts["incomplete"] = True
        return facts


def _window_hours(param: str) -> float:
    return float(param.removeprefix("rain_").removesuffix("h"))


def _risk_rules(rows: list[RiskRuleConfig]) -> HeavyRainThresholds:
    return HeavyRainThresholds(
        tuple(
            HeavyRainRule(
                RiskLevel(row.level),
                row.rain_24h_mm,
                row.rain_12h_mm,
                row.min_days,
                row.inclusive,
                frozenset(row.terrains),
            )
            for row in rows
        )
    )


def risk_ladder(config: AccumulationConfig) -> Ladder:
    # The judged value is the risk level itself: level L is reached at L and ends below it.
    return Ladder(
        tuple(
            Step(
                int(level),
                float(level),
                float(level),
                given_or(config.severity_override(int(level)), risk_level_severity(int(level))),
                level.label,
            )
            for level in RiskLevel
        )
    )


def compile_accumulation(
    config: AccumulationConfig, stations: Mapping[str, StationConfig]
) -> list[AccumulationRule | HeavyRainRiskRule]:
    params = config.series
    kind = kind_of_param(config.id, params[0], config.kind)
    reasons = frozenset({INCOMPLETE}) if config.use_incomplete else frozenset()
    rules: list[AccumulationRule | HeavyRainRiskRule] = []
    for station in select_stations(config.id, config.stations, stations):
        common: dict[str, Any] = {
            "id": config.id,
            "station": station.id,
            "kind": kind,
            "pending": config.pending,
            "use_suspect": config.use_suspect,
            "station_facts": StationFacts.of(station),
            "suspect_reasons": reasons,
        }
        if config.heavy_rain_risk:
            assert config.terrain is not None
            thresholds = (
                _risk_rules(config.risk_rules) if config.risk_rules else HeavyRainThresholds()
            )
            rules.append(
                HeavyRainRiskRule(
                    params=("rain_24h",),
                    context_params=("rain_12h",),
                    ladder=risk_ladder(config),
                    terrain=config.terrain,
                    thresholds=thresholds,
                    **common,
                )
            )
            continue
        assert config.levels is not None
        assert config.param is not None
        if config.param in RAIN_TOTALS:
            window, hours = None, _window_hours(config.param)
        else:
            assert config.window is not None
            window, hours = config.window, config.window.total_seconds() / 3600
        rules.append(
            AccumulationRule(
                params=(config.param,),
                ladder=declared_ladder(config.levels, config),
                window=window,
                window_hours=hours,
                **common,
            )
        )
    return rules
