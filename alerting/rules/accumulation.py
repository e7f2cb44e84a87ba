"""Accumulation rules: rain over a window against levels, or the heavy-rain risk level.

Three ways to declare one:

- ``param: rain_24h`` (or ``rain_1h`` … ``rain_12h``): the collector's running totals, judged
  against ``levels``;
- ``param: rain`` with ``window: 3h``: the interval amounts summed here over the window;
- ``heavy_rain_risk: true`` with ``terrain``: the natural-disaster risk level of heavy rain,
  Decision 18/2021/QĐ-TTg (collector.indices.rain.heavy_rain_risk: level 1 is 100–200 mm in
  24 h or 50–100 mm in 12 h; higher levels need more rain, more days, or mountain terrain),
  over local calendar days summed here from the gauge's counter or amounts.

A total the collector flags suspect ``incomplete`` (the gauge was not heard for part of the
window) is a lower bound: with ``use_incomplete`` it may raise a level — a lower bound that
reaches a band is proof — but never lowers one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from alerting.model import Signal
from alerting.rules.base import (
    LadderRule,
    LadderState,
    StationFacts,
    given_or,
    kind_of_param,
    make_signal,
)
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
    HOUR,
    HeavyRainRule,
    HeavyRainThresholds,
    RainDay,
    RainInterval,
    RainTotal,
    RiskLevel,
    Terrain,
    TippingBucket,
    heavy_rain_risk,
    rain_from_amounts,
    rain_from_counter,
    rain_intensity,
)
from gateway.config import ModbusSource, StationConfig
from gateway.model import Quality, Reading

INCOMPLETE = "incomplete"  # the collector's reason for a total with a gap in its window
RISK_DAYS = 7  # days of history kept: the longest default rule needs 3 in a row
DAY = timedelta(days=1)
# The risk rule reads the gauge itself: a tip counter (rain_counter) or reported amounts (rain).
RISK_PARAMS = ("rain_counter", "rain")


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

    def may_lower(self, state: AccumulationState, reading: Reading) -> bool:
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
    """The rain of one local day (00:00, 24:00] so far, from the gauge's own intervals."""

    day: date
    start: datetime  # the day's first instant (local midnight)
    known_mm: float = 0.0  # intervals ending within the day
    covered: timedelta = timedelta(0)  # time within the day that known intervals cover
    max_12h: float = 0.0  # largest 12 h total that counts for the day

    def rain_day(self, until: datetime | None = None) -> RainDay:
        """As collector.indices.rain.RainDay; ``until`` (the day still running): coverage so far."""
        end = self.start + DAY
        span = ((until or end) - self.start) or DAY
        total = RainTotal(24, end, round(self.known_mm, 6), min(1.0, self.covered / span))
        return RainDay(self.day, total, round(self.max_12h, 6))


@dataclass(slots=True)
class RiskState(LadderState):
    previous: tuple[datetime, float] | None = None  # the last counter count or reported amount
    spacing: timedelta | None = None  # between reported amounts (no configured interval)
    intervals: deque[RainInterval] = field(default_factory=deque)  # the last 24 h
    today: DayRain | None = None
    days: dict[date, RainDay] = field(default_factory=dict)  # closed days, RISK_DAYS at most
    rain_24h: float | None = None  # the last 24 h and 12 h, sliding, for the message
    rain_12h: float | None = None
    incomplete: bool = False  # some time of the days judged is not covered by known rain
    run_days: int = 0


def local_day(ts: datetime) -> date:
    # Rain days run (00:00, 24:00] local: rain ending at midnight is the day before's.
    return (ts - timedelta(microseconds=1)).astimezone(VIETNAM_TZ).date()


def _window(intervals: deque[RainInterval], end: datetime, hours: int) -> float:
    # Like collector.indices.rain.rain_total: only intervals wholly inside the window count.
    start = end - hours * HOUR
    return round(sum(i.rain_mm or 0.0 for i in intervals if i.start >= start), 6)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeavyRainRiskRule(LadderRule[RiskState]):
    """The risk level of the latest local day, from the gauge's counter or reported amounts.

    Decision 18/2021/QĐ-TTg counts days: each local day (Asia/Ho_Chi_Minh, (00:00, 24:00])
    counts by its own rain, never by a sliding 24 h that reaches back into the day before —
    that counted the day before twice (two wet days and a dry third made "3 days" at 01:00).
    The latest day counts by its rain so far, so the level follows the rain as it falls.
    """

    type: str = "accumulation"
    terrain: Terrain = Terrain.LOWLAND
    thresholds: HeavyRainThresholds = field(default_factory=HeavyRainThresholds)
    gauge: TippingBucket = field(default_factory=TippingBucket)
    amount_interval: timedelta | None = None  # what one reported amount covers; None: spacing

    def new_state(self) -> RiskState:
        return RiskState()

    def _interval(self, state: RiskState, reading: Reading) -> RainInterval | None:
        """The rain between the previous reading and this one (None: a first reading)."""
        previous, state.previous = state.previous, (reading.ts, reading.value)
        if previous is None:
            if reading.param == "rain" and self.amount_interval is not None:
                return rain_from_amounts([(reading.ts, reading.value)], self.amount_interval)[0]
            return None
        if reading.param == "rain_counter":
            return rain_from_counter([previous, (reading.ts, reading.value)], self.gauge)[-1]
        spacing = reading.ts - previous[0]
        interval = self.amount_interval or min(spacing, state.spacing or spacing)
        state.spacing = spacing
        return rain_from_amounts([previous, (reading.ts, reading.value)], interval)[-1]

    def _close_days(self, state: RiskState, today: date, ts: datetime) -> DayRain:
        if state.today is not None and state.today.day != today:
            state.days[state.today.day] = state.today.rain_day()
            state.today = None
        for old in [d for d in state.days if (today - d).days >= RISK_DAYS]:
            del state.days[old]
        if state.today is None:
            midnight = datetime.combine(today, time(), VIETNAM_TZ)
            state.today = DayRain(today, midnight.astimezone(ts.tzinfo))
        return state.today

    def value_of(self, state: RiskState, reading: Reading) -> float | None:
        if state.previous is not None and reading.ts <= state.previous[0]:
            return None  # a late or repeated reading: its rain is already in a later interval
        interval = self._interval(state, reading)
        now = reading.ts
        today = self._close_days(state, local_day(now), now)
        if interval is not None:
            state.intervals.append(interval)
            if interval.rain_mm is not None and local_day(interval.end) == today.day:
                today.known_mm += interval.rain_mm
                today.covered += interval.end - max(interval.start, today.start)
        while state.intervals and state.intervals[0].start < now - 24 * HOUR:
            state.intervals.popleft()
        state.rain_24h = _window(state.intervals, now, 24)
        state.rain_12h = _window(state.intervals, now, 12)
        # A 12 h window counts for the day it ends in, but one that began the evening before
        # counts only once the day has rain of its own: the evening's rain is the day before's.
        if now - 12 * HOUR >= today.start or today.known_mm > 0:
            today.max_12h = max(today.max_12h, state.rain_12h)
        past = [state.days[d] for d in sorted(state.days)]
        days = [*past, today.rain_day(now)]
        risk = heavy_rain_risk(days, self.terrain, self.thresholds)
        level, run = int(risk.level or 0), risk.days
        yesterday = today.day - timedelta(days=1)
        if past and past[-1].day == yesterday:
            level, run = max((level, run), self._across_midnight(state, past, now))
        # Time of today that no known rain covers (a counter reset; the rule started during
        # the day) makes today's rain a lower bound: it may raise the level, never lower it.
        state.incomplete = not days[-1].total.complete
        state.run_days = run
        return float(level)

    def _across_midnight(
        self, state: RiskState, past: list[RainDay], now: datetime
    ) -> tuple[int, int]:
        """The level (and days) the day before still stands for at ``now``, early in the next
        day: its level had its rain been the last 24 h and 12 h, never above the level it
        reached. Rain across midnight gives no all-clear at 00:00, and a level steps down
        band by band as that rain leaves the windows: a day at level 3 by > 200 mm in 12 h,
        240 mm in all, is level 2 at 01:00 while the last 24 h hold more than 200 mm — not an
        all-clear at 00:05 (the hold once asked only whether the one rule that gave level 3
        was still reached). Those hours never make another day of the run."""
        reached = heavy_rain_risk(past, self.terrain, self.thresholds)
        before = past[-1]
        sliding = RainDay(
            before.day,
            RainTotal(24, now, state.rain_24h or 0.0, 1.0),
            state.rain_12h or 0.0,
        )
        if reached.level is None:
            return 0, 0
        # The windows reach into the new day: a level above the day before's is not its.
        table = HeavyRainThresholds(
            tuple(r for r in self.thresholds.rules if r.level <= reached.level)
        )
        carried = heavy_rain_risk([*past[:-1], sliding], self.terrain, table)
        return int(carried.level or 0), carried.days

    def may_lower(self, state: RiskState, reading: Reading) -> bool:
        # Known rain is a lower bound: it proves a band, never its absence.
        return not state.incomplete

    def reported_value(self, state: RiskState) -> float | None:
        return state.rain_24h

    def signal(self, state: RiskState, ts: datetime) -> Signal:
        # The value said is the rain of the last 24 h: its series' name, not the gauge's.
        levels = state.levels
        return make_signal(
            self,
            self.station_facts,
            levels.level,
            levels.previous_level,
            ts,
            "rain_24h",
            self.reported_value(state),
            self.facts(state),
        )

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
        if state.today is not None:
            facts["day_total_mm"] = round(state.today.known_mm, 6)
        if state.levels.level:
            facts["risk_level"] = state.levels.level
            facts["days"] = state.run_days
        if state.incomplete:
            facts["incomplete"] = True
        return facts


def _amount_interval(station: StationConfig) -> timedelta | None:
    # A polled logger's amount covers its polling interval; others: the spacing of reports.
    if isinstance(station.source, ModbusSource):
        return timedelta(seconds=station.source.interval_s)
    return None


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
                    params=RISK_PARAMS,
                    ladder=risk_ladder(config),
                    terrain=config.terrain,
                    thresholds=thresholds,
                    gauge=TippingBucket(
                        bucket_mm=station.rain_gauge.bucket_mm,
                        modulus=station.rain_gauge.counter_modulus,
                    ),
                    amount_interval=_amount_interval(station),
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
