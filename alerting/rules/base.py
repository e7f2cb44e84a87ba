"""What every rule type shares: the compiled-rule interface, station facts, signal building.

A rule type compiles its config into one ``CompiledRule`` per station. A compiled rule holds
nothing that changes; what changes lives in its state object, made by ``new_state`` and passed
back to ``evaluate`` (one reading) and ``tick`` (the clock). Both are pure: no I/O, no clock of
their own. They return a ``Signal`` when the rule's reported level changes, else None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from alerting.model import AlertKind, Severity, Signal
from alerting.rules.config import RuleConfigError, RuleProblem
from alerting.rules.levels import Ladder, LevelState, confirm, step
from collector.schema import MEAN_SUFFIX
from gateway.config import StationConfig
from gateway.model import Reading
from gateway.parameters import UnknownParameterError, registry

S = TypeVar("S")


class CompiledRule(Protocol[S]):
    """One rule at one station."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def station(self) -> str: ...
    @property
    def kind(self) -> AlertKind: ...
    @property
    def params(self) -> tuple[str, ...]:
        """The series of its station it reads; () with ``station_wide``: every series."""
        ...

    @property
    def context_params(self) -> tuple[str, ...]:
        """Series it only reads for its messages (the gust beside the wind): fed first."""
        ...

    @property
    def station_wide(self) -> bool: ...
    @property
    def use_suspect(self) -> bool: ...
    @property
    def suspect_reasons(self) -> frozenset[str]:
        """Suspect reasons it reads even without use_suspect (rain's "incomplete")."""
        ...

    @property
    def top_level(self) -> int: ...
    def new_state(self) -> S: ...
    def evaluate(self, state: S, reading: Reading) -> Signal | None: ...
    def observe(self, state: S, reading: Reading) -> None:
        """A reading of one of its context params: remembered, never a signal."""
        ...

    def tick(self, state: S, now: datetime) -> Signal | None: ...
    def needs_tick(self, state: S) -> bool: ...
    def level(self, state: S) -> int: ...
    def snapshot(self, state: S) -> Signal | None:
        """The rule's current judgement with its latest facts (None before any data)."""
        ...

    def severity_of(self, level: int) -> Severity: ...
    def label_of(self, level: int) -> str: ...
    def restore(self, state: S, level: int) -> None:
        """Start from a level reported before a restart (an open incident), so that the first
        reading below it reports the fall."""
        ...


AnyRule = CompiledRule[Any]


@dataclass(frozen=True, slots=True)
class StationFacts:
    """What messages say of a station, from its config."""

    id: str
    name: str
    district: str
    river: str | None = None
    basin: str | None = None

    @classmethod
    def of(cls, station: StationConfig) -> StationFacts:
        return cls(station.id, station.name, station.district, station.river, station.basin)

    def as_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "station_id": self.id,
            "station_name": self.name,
            "district": self.district,
        }
        if self.river:
            facts["river"] = self.river
        if self.basin:
            facts["basin"] = self.basin
        return facts


_KIND_OF_STATION_KIND = {
    "hydro": AlertKind.FLOOD,
    "rain": AlertKind.RAIN,
    "air": AlertKind.AIR,
    "water": AlertKind.WATER,
    "station": AlertKind.STATION,
}
_KIND_OF_DERIVED = {
    "flood_level": AlertKind.FLOOD,
    "vn_aqi_h": AlertKind.AIR,
    "vn_aqi_d": AlertKind.AIR,
    "vn_wqi": AlertKind.WATER,
    "wind_speed": AlertKind.STORM,
    "wind_gust": AlertKind.STORM,
}


def base_param(param: str) -> str:
    """``pm25_h`` → ``pm25``, ``rain_24h`` → ``rain``: the measured parameter behind a series."""
    if param.startswith("rain_") and param.endswith("h"):
        return "rain"
    if param.endswith(MEAN_SUFFIX) and param[: -len(MEAN_SUFFIX)] in registry():
        return param[: -len(MEAN_SUFFIX)]
    return param


def kind_of_param(rule_id: str, param: str, given: AlertKind | None) -> AlertKind:
    """The rule's kind as given, else what the parameter is about (water_level → flood)."""
    if given is not None:
        return given
    if param in _KIND_OF_DERIVED:
        return _KIND_OF_DERIVED[param]
    base = base_param(param)
    if base in _KIND_OF_DERIVED:
        return _KIND_OF_DERIVED[base]
    try:
        station_kind = registry()[base].kind
    except UnknownParameterError:
        station_kind = ""
    if station_kind in _KIND_OF_STATION_KIND:
        return _KIND_OF_STATION_KIND[station_kind]
    raise RuleConfigError(
        [RuleProblem(None, rule_id, "kind", f"say what {param!r} warns of: kind: flood, air, …")]
    )


def param_label(param: str) -> str:
    """The Vietnamese label of a parameter (gateway/parameters.yaml): "Mực nước", "PM2.5"."""
    base = base_param(param)
    try:
        return registry()[base].label
    except UnknownParameterError:
        return param


def param_unit(param: str) -> str:
    try:
        return registry()[base_param(param)].unit
    except UnknownParameterError:
        return ""


def given_or(given: Severity | None, default: Severity) -> Severity:
    """A configured severity, else the default (not ``or``: Severity.INFO is 0, and falsy)."""
    return default if given is None else given


def severity_for(
    level: int,
    override: Callable[[int], Severity | None],
    default: Callable[[int], Severity],
) -> Severity:
    if level <= 0:
        return Severity.INFO
    given = override(level)
    # Not `or`: Severity.INFO is 0, and a rule may well ask for it.
    return default(level) if given is None else given


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def make_signal(
    rule: AnyRule,
    station: StationFacts,
    level: int,
    previous_level: int,
    ts: datetime,
    param: str,
    value: float | None,
    facts: Mapping[str, Any],
) -> Signal:
    """A Signal with the facts every template needs, then the rule type's own."""
    common: dict[str, Any] = {
        "rule_type": rule.type,
        "label": rule.label_of(level),
        "previous_level": previous_level,
        "previous_label": rule.label_of(previous_level),
        "ts": ts.isoformat(),
        "param": param,
        **station.as_facts(),
    }
    if value is not None:
        common["value"] = value
    common.update(facts)
    return Signal(
        rule=rule.id,
        station=rule.station,
        kind=rule.kind,
        level=level,
        severity=rule.severity_of(level),
        ts=ts,
        param=param,
        value=value,
        facts=common,
    )


# -- rules that judge one value against a ladder of levels ----------------------------------------


@dataclass(slots=True)
class LadderState:
    levels: LevelState = field(default_factory=LevelState)


LS = TypeVar("LS", bound=LadderState)


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderRule(Generic[LS]):
    """The common machinery of threshold, trend, accumulation, index and wind rules: a value per
    reading, judged by ``levels.step`` (pending, hysteresis), a Signal when the level changes."""

    id: str
    type: str
    station: str
    kind: AlertKind
    params: tuple[str, ...]
    ladder: Ladder
    pending: timedelta
    use_suspect: bool
    station_facts: StationFacts
    context_params: tuple[str, ...] = ()
    station_wide: bool = False
    suspect_reasons: frozenset[str] = frozenset()
    max_gap: timedelta | None = None  # a longer hole in the series breaks a pending run

    # -- hooks of a rule type --

    def new_state(self) -> LS:
        raise NotImplementedError

    def value_of(self, state: LS, reading: Reading) -> float | None:
        """The value to judge (None: nothing to judge yet)."""
        return reading.value

    def may_lower(self, state: LS, reading: Reading) -> bool:
        """Whether this reading may lower the level (a lower bound, e.g. incomplete rain, may
        only raise it)."""
        return True

    def facts(self, state: LS) -> dict[str, Any]:
        return {}

    def reported_value(self, state: LS) -> float | None:
        return state.levels.last_value

    def observe(self, state: LS, reading: Reading) -> None:
        return None

    def after_step(self, state: LS, reading: Reading) -> str | None:
        """After the level machine took a reading: the name of news worth a signal at the same
        level (``"crest"``: a flood's fall confirmed, threshold.py), else None."""
        return None

    # -- the interface --

    def evaluate(self, state: LS, reading: Reading) -> Signal | None:
        value = self.value_of(state, reading)
        if value is None:
            return None
        changed = step(
            self.ladder,
            state.levels,
            reading.ts,
            value,
            self.pending,
            may_lower=self.may_lower(state, reading),
            max_gap=self.max_gap,
        )
        event = self.after_step(state, reading)
        if changed:
            return self.signal(state, reading.ts)
        if event is None:
            return None
        # News at the same level: the signal says which (facts["event"]), so the incident stage
        # makes a transition of it (alerting/incidents.py) and the template its own message.
        signal = self.signal(state, reading.ts)
        return replace(signal, facts={**signal.facts, "event": event})

    def tick(self, state: LS, now: datetime) -> Signal | None:
        if confirm(self.ladder, state.levels, now, self.pending):
            return self.signal(state, state.levels.last_ts or now)
        return None

    def needs_tick(self, state: LS) -> bool:
        return state.levels.pending_run(self.pending)

    def level(self, state: LS) -> int:
        return state.levels.level

    def snapshot(self, state: LS) -> Signal | None:
        if state.levels.last_ts is None:
            return None
        return self.signal(state, state.levels.last_ts)

    def restore(self, state: LS, level: int) -> None:
        state.levels.level = min(max(level, 0), self.ladder.top)

    def severity_of(self, level: int) -> Severity:
        return self.ladder.severity(min(level, self.ladder.top))

    def label_of(self, level: int) -> str:
        return self.ladder.label(min(level, self.ladder.top))

    @property
    def top_level(self) -> int:
        return self.ladder.top

    def signal(self, state: LS, ts: datetime) -> Signal:
        levels = state.levels
        return make_signal(
            self,
            self.station_facts,
            levels.level,
            levels.previous_level,
            ts,
            self.params[0],
            self.reported_value(state),
            self.facts(state),
        )
