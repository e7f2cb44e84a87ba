"""Rules as a site declares them in ``rules.yaml`` (a list), checked at start (pydantic v2).

Each rule has an ``id`` and a ``type`` (the discriminator); the type's own fields are below its
model. Durations are written "90s", "5m", "1h30m", "2d" or as seconds; a water-level rate as
"20 cm/h" (or a number, in the parameter's unit per hour). docs/rules.md has every field.

Loading never opens a connection and never stops at the first mistake: every problem names the
file, the rule and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from alerting.model import AlertKind, Severity
from collector.indices.rain import RiskLevel, Terrain
from gateway.config import StationConfig, StationKind

# -- value types --------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: Any) -> timedelta:
    """ "5m", "1h30m", "90s", "2d", or a number of seconds → timedelta (never negative)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text:
            raise ValueError("empty duration")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"{value!r} is not a duration: write it like 90s, 5m, 1h30m or 2d"
                ) from None
            seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"{value!r} is not a duration")
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mm|cm|m)\s*/\s*(h|giờ)\s*$")
_LENGTH_IN_M = {"mm": 0.001, "cm": 0.01, "m": 1.0}


def parse_rate(value: Any) -> float:
    """ "20 cm/h" → 0.2 (metres an hour: water levels are in m); a number is taken as is."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a rate")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _RATE.match(value)
        if match is None:
            try:
                return float(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a rate: write it like 20 cm/h, or a number in the "
                    "parameter's unit per hour"
                ) from None
        return float(match.group(1)) * _LENGTH_IN_M[match.group(2)]
    raise ValueError(f"{value!r} is not a rate")


Rate = Annotated[float, BeforeValidator(parse_rate)]


def parse_severity(value: Any) -> Severity:
    """ "warning", "CRITICAL", 2 or a Severity → Severity."""
    if isinstance(value, Severity):
        return value
    if isinstance(value, str):
        try:
            return Severity[value.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in Severity)
            raise ValueError(f"severity {value!r}: use one of {names}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return Severity(value)
    raise ValueError(f"{value!r} is not a severity")


SeverityName = Annotated[Severity, BeforeValidator(parse_severity)]


def _alert_kind(value: Any) -> AlertKind:
    if isinstance(value, AlertKind):
        return value
    try:
        return AlertKind(str(value).strip().lower())
    except ValueError:
        names = ", ".join(k.value for k in AlertKind)
        raise ValueError(f"kind {value!r}: use one of {names}") from None


Kind = Annotated[AlertKind, BeforeValidator(_alert_kind)]

RULE_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class _Strict(BaseModel):
    # Frozen, and a misspelt field is an error rather than a silently ignored setting (the
    # project's config convention, gateway/config.py).
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- stations -----------------------------------------------------------------------------------


class StationSelector(_Strict):
    """Stations by what the site config says of them; every field given must match."""

    kind: StationKind | None = None
    district: str | None = None
    basin: str | None = None
    river: str | None = None

    @model_validator(mode="after")
    def _something(self) -> StationSelector:
        if self.kind is None and self.district is None and self.basin is None and not self.river:
            raise ValueError("a station selector needs kind, district, basin or river")
        return self

    def matches(self, station: StationConfig) -> bool:
        return (
            (self.kind is None or station.kind == self.kind)
            and (self.district is None or station.district == self.district)
            and (self.basin is None or station.basin == self.basin)
            and (self.river is None or station.river == self.river)
        )


Stations = Literal["all"] | list[str] | StationSelector


# -- the common part ----------------------------------------------------------------------------

SeverityMap = SeverityName | dict[int, SeverityName]


class RuleBase(_Strict):
    id: Annotated[str, Field(pattern=RULE_ID)]


class StationRule(RuleBase):
    """Fields every rule on a station's series has."""

    stations: Stations
    # Suspect readings count only when the rule says so; bad ones never do (docs/rules.md).
    use_suspect: bool = False
    # How long the readings must hold a level (in their own time) before it is reported.
    pending: Duration = timedelta(0)
    kind: Kind | None = None  # default: from the rule type or the parameter
    # One severity for every level, or one per level {1: warning, 2: critical}; default per type.
    severity: SeverityMap | None = None
    # `quantrac demo` only, never from rules.yaml: its storm plays a day in minutes, so rates
    # are said per storm hour, the clock's hour divided by this (quantrac.alerting_app).
    _time_scale: float = PrivateAttr(default=1.0)

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def on_time_scale(self, time_scale: float) -> Self:
        """This rule on a clock that runs ``time_scale`` times fast: rates per storm hour."""
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        scaled = self.model_copy()
        scaled._time_scale = time_scale
        return scaled

    def severity_override(self, level: int) -> Severity | None:
        if self.severity is None:
            return None
        if isinstance(self.severity, dict):
            return self.severity.get(level)
        return self.severity


class LevelConfig(_Strict):
    """One level of a threshold or accumulation rule.

    ``above`` (reached at or above) or ``below`` (at or below); ``recovery`` is where the level
    ends — strictly beyond it, on the normal side — and defaults to the threshold itself.
    """

    level: Annotated[int, Field(ge=1, le=20)] | None = None
    above: float | None = None
    below: float | None = None
    recovery: float | None = None
    severity: SeverityName | None = None
    label: str = ""

    @model_validator(mode="after")
    def _one_direction(self) -> LevelConfig:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.recovery is not None:
            if self.above is not None and self.recovery > self.above:
                raise ValueError(
                    f"recovery {self.recovery} is above the level ({self.above}): "
                    "an 'above' level recovers below its threshold"
                )
            if self.below is not None and self.recovery < self.below:
                raise ValueError(
                    f"recovery {self.recovery} is below the level ({self.below}): "
                    "a 'below' level recovers above its threshold"
                )
        return self

    @property
    def rising(self) -> bool:
        return self.above is not None

    @property
    def threshold(self) -> float:
        value = self.above if self.above is not None else self.below
        assert value is not None  # the validator guarantees one of them
        return value


def _check_levels(levels: Sequence[LevelConfig]) -> None:
    if not levels:
        raise ValueError("levels is empty")
    if len({lv.rising for lv in levels}) > 1:
        raise ValueError("levels mix above and below: one rule watches one direction")
    numbers = [lv.level if lv.level is not None else i + 1 for i, lv in enumerate(levels)]
    if numbers != list(range(1, len(levels) + 1)):
        raise ValueError(f"levels must be numbered 1, 2, … in order, got {numbers}")
    rising = levels[0].rising
    thresholds = [lv.threshold for lv in levels]
    ordered = all((b > a) if rising else (b < a) for a, b in pairwise(thresholds))
    if not ordered:
        word = "increase" if rising else "decrease"
        raise ValueError(f"level thresholds must {word} with the level, got {thresholds}")


# -- the rule types -----------------------------------------------------------------------------


class ThresholdConfig(StationRule):
    """A value against levels: BĐ I/II/III from each gauge's config, or declared levels."""

    type: Literal["threshold"]
    param: str | None = None  # default water_level with from_station
    levels: list[LevelConfig] | None = None
    from_station: Literal["flood_levels"] | None = None
    # With from_station: a level ends only this far (in m) below it (hysteresis).
    hysteresis: Annotated[float, Field(ge=0)] = 0.0
    # The rate of rise printed in messages ("đang lên 18 cm/giờ"), fitted over this window.
    rate_window: Duration = timedelta(hours=1)

    @model_validator(mode="after")
    def _levels_or_station(self) -> ThresholdConfig:
        if (self.levels is None) == (self.from_station is None):
            raise ValueError("give levels, or from_station: flood_levels (one of them)")
        if self.levels is not None:
            _check_levels(self.levels)
            if self.hysteresis:
                raise ValueError("hysteresis goes with from_station; give each level a recovery")
        elif self.param is not None and self.param != "water_level":
            raise ValueError("from_station: flood_levels compares water_level (in m)")
        return self

    @property
    def series(self) -> str:
        return self.param or "water_level"


class TrendConfig(StationRule):
    """The rate of rise by a least-squares fit over a window, and where it leads."""

    type: Literal["trend"]
    param: str = "water_level"
    window: Duration = timedelta(hours=1)
    min_points: Annotated[int, Field(ge=2, le=10_000)] = 3
    rise_per_hour: Rate  # "20 cm/h"
    # The rise ends below this rate (hysteresis); default: the rise_per_hour itself.
    recovery_per_hour: Rate | None = None
    # Project the trend to the station's next flood level ("đạt BĐ III sau khoảng N giờ").
    project_to: Literal["flood_levels"] | None = "flood_levels"
    horizon: Duration = timedelta(hours=24)  # a projection further out is not reported
    label: str = ""  # the level's label; default "lên nhanh"

    @model_validator(mode="after")
    def _rates(self) -> TrendConfig:
        if self.rise_per_hour <= 0:
            raise ValueError("rise_per_hour must be positive")
        if self.recovery_per_hour is not None and self.recovery_per_hour > self.rise_per_hour:
            raise ValueError("recovery_per_hour is above rise_per_hour")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        return self


RAIN_TOTALS = ("rain_1h", "rain_3h", "rain_6h", "rain_12h", "rain_24h")


class RiskRuleConfig(_Strict):
    """One row of the heavy-rain risk table (Decision 18/2021/QĐ-TTg), to replace the defaults."""

    level: Annotated[int, Field(ge=1, le=5)]
    rain_24h_mm: Annotated[float, Field(gt=0)]
    rain_12h_mm: Annotated[float, Field(gt=0)] | None = None
    min_days: Annotated[int, Field(ge=1, le=30)] = 1
    inclusive: bool = True
    terrains: list[Terrain] = Field(default_factory=lambda: list(Terrain))


class AccumulationConfig(StationRule):
    """Rain over a window against levels, or the heavy-rain risk level of Decision 18/2021."""

    type: Literal["accumulation"]
    # rain_1h … rain_24h (the collector's totals), or a per-interval series summed over window.
    param: str | None = None
    window: Duration | None = None
    levels: list[LevelConfig] | None = None
    heavy_rain_risk: bool = False
    terrain: Terrain | None = None  # required with heavy_rain_risk: mountains rank higher
    risk_rules: list[RiskRuleConfig] | None = None  # default: collector.indices.rain's table
    # Incomplete totals (suspect "incomplete": the gauge was not heard for part of the window)
    # are lower bounds: with this, one that reaches a level raises it, but none lowers it.
    use_incomplete: bool = False

    @model_validator(mode="after")
    def _mode(self) -> AccumulationConfig:
        if self.heavy_rain_risk:
            if self.levels is not None:
                raise ValueError("heavy_rain_risk takes its levels from Decision 18/2021")
            if self.terrain is None:
                raise ValueError("heavy_rain_risk needs terrain: mountain or lowland")
            if self.param is not None or self.window is not None:
                raise ValueError("heavy_rain_risk reads the gauge's rain: no param/window")
            return self
        if self.levels is None:
            raise ValueError("give levels, or heavy_rain_risk: true")
        if self.terrain is not None or self.risk_rules is not None:
            raise ValueError("terrain and risk_rules go with heavy_rain_risk")
        _check_levels(self.levels)
        if not all(lv.rising for lv in self.levels):
            raise ValueError("an accumulation rises: its levels are 'above'")
        if self.param is None:
            raise ValueError("param: rain_24h (or another total), or param: rain with a window")
        if self.param in RAIN_TOTALS and self.window is not None:
            raise ValueError(f"{self.param} is already a total: no window")
        if self.param not in RAIN_TOTALS and (self.window is None or not self.window):
            raise ValueError(f"{self.param} is summed over a window: give window (e.g. 3h)")
        return self

    @property
    def series(self) -> tuple[str, ...]:
        if self.heavy_rain_risk:
            return ("rain_counter", "rain")  # the gauge itself: calendar days are summed
        assert self.param is not None
        return (self.param,)


IndexParam = Literal["vn_aqi_h", "vn_aqi_d", "vn_wqi"]


class IndexConfig(StationRule):
    """An index category at or worse than a level, held for a number of hours."""

    type: Literal["index"]
    param: IndexParam = "vn_aqi_h"
    category_at_least: str  # "Kém": as collector.indices names the categories
    for_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 0.0

    @model_validator(mode="after")
    def _no_pending(self) -> IndexConfig:
        if self.pending:
            raise ValueError("an index rule holds a category for for_hours; pending is not used")
        return self


class WindConfig(StationRule):
    """Sustained wind or gusts at or above cấp gió levels (storm warnings speak in cấp gió)."""

    type: Literal["wind"]
    param: Literal["wind_speed", "wind_gust"] = "wind_speed"
    cap_gio_at_least: Annotated[int, Field(ge=1, le=17)] | list[Annotated[int, Field(ge=1, le=17)]]
    # A level ends only this far (m/s) below its cấp's lower bound.
    hysteresis_m_s: Annotated[float, Field(ge=0, le=10)] = 0.0

    @field_validator("cap_gio_at_least")
    @classmethod
    def _ascending(cls, value: int | list[int]) -> int | list[int]:
        levels = [value] if isinstance(value, int) else value
        if not levels or any(b <= a for a, b in pairwise(levels)):
            raise ValueError(f"cap_gio_at_least must be ascending cấp gió levels, got {value}")
        return value

    @property
    def caps(self) -> tuple[int, ...]:
        value = self.cap_gio_at_least
        return (value,) if isinstance(value, int) else tuple(value)


class DeadmanConfig(StationRule):
    """No data from a station (or one of its parameters) for a while, or the station offline."""

    type: Literal["deadman"]
    param: str | None = None  # None: any parameter of the station
    no_data_for: Duration
    offline: bool = True  # also fire at once on station_online == 0 (the gateway lost it)

    @model_validator(mode="after")
    def _positive(self) -> DeadmanConfig:
        if self.no_data_for <= timedelta(0):
            raise ValueError("no_data_for must be positive")
        if self.use_suspect:
            raise ValueError("a deadman counts every reading that is not bad: no use_suspect")
        return self


class UpstreamConfig(RuleBase):
    """A warning upstream raises the level of a warning downstream (a tributary, a reservoir)."""

    type: Literal["upstream"]
    upstream_station: str
    upstream_rule: str  # a rule evaluated on upstream_station
    level_at_least: Annotated[int, Field(ge=1, le=20)]
    downstream_station: str
    downstream_rule: str  # the rule whose warning at downstream_station is raised
    raise_to: Annotated[int, Field(ge=1, le=20)] | None = None
    raise_by: Annotated[int, Field(ge=1, le=20)] | None = None

    @model_validator(mode="after")
    def _how(self) -> UpstreamConfig:
        if (self.raise_to is None) == (self.raise_by is None):
            raise ValueError("give raise_to (a level) or raise_by (levels), one of them")
        if self.upstream_station == self.downstream_station:
            raise ValueError("upstream and downstream are the same station")
        return self


RuleConfig = Annotated[
    ThresholdConfig
    | TrendConfig
    | AccumulationConfig
    | IndexConfig
    | WindConfig
    | DeadmanConfig
    | UpstreamConfig,
    Field(discriminator="type"),
]

_RULES = TypeAdapter(list[RuleConfig])


# -- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleProblem:
    file: Path | None
    rule: str | None
    field: str
    message: str

    def __str__(self) -> str:
        parts = [str(self.file)] if self.file else []
        if self.rule:
            parts.append(f"rule {self.rule}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class RuleConfigError(Exception):
    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the rules:\n{lines}")


def parse_rules(document: Any, file: Path | None = None) -> list[RuleConfig]:
    """Rules from a loaded YAML document (a list of mappings); every problem is reported."""
    if document is None:
        return []
    if not isinstance(document, list):
        raise RuleConfigError([RuleProblem(file, None, "", "rules.yaml must be a list of rules")])
    try:
        rules = _RULES.validate_python(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = list(error["loc"])
            rule: str | None = None
            if location and isinstance(location[0], int):
                index = int(location.pop(0))
                item = document[index]
                rule = str(item.get("id", f"#{index + 1}")) if isinstance(item, dict) else None
                if location and isinstance(location[0], str) and location[0] in _TYPE_TAGS:
                    location.pop(0)  # the discriminator's branch name says nothing new
            field = ".".join(str(part) for part in location)
            problems.append(RuleProblem(file, rule, field, error["msg"]))
        raise RuleConfigError(problems) from None
    seen: set[str] = set()
    duplicates = []
    for rule_config in rules:
        if rule_config.id in seen:
            duplicates.append(RuleProblem(file, rule_config.id, "id", "two rules have this id"))
        seen.add(rule_config.id)
    if duplicates:
        raise RuleConfigError(duplicates)
    return rules


_TYPE_TAGS = frozenset(
    {"threshold", "trend", "accumulation", "index", "wind", "deadman", "upstream"}
)


def load_rules(path: Path) -> list[RuleConfig]:
    """Read and check a site's ``rules.yaml``."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError([RuleProblem(path, None, "", str(exc))]) from exc
    return parse_rules(document, path)


def select_stations(
    rule_id: str, wanted: Stations, stations: Mapping[str, StationConfig]
) -> list[StationConfig]:
    """The stations a rule applies to; an unknown id is an error naming the rule."""
    if wanted == "all":
        return list(stations.values())
    if isinstance(wanted, StationSelector):
        return [s for s in stations.values() if wanted.matches(s)]
    unknown = [sid for sid in wanted if sid not in stations]
    if unknown:
        raise RuleConfigError(
            [RuleProblem(None, rule_id, "stations", f"unknown station {sid!r}") for sid in unknown]
        )
    return [stations[sid] for sid in wanted]


def default_severity(level: int) -> Severity:
    """Levels 1, 2, 3+ of a rule that says nothing else: warning, critical, emergency."""
    if level <= 0:
        return Severity.INFO
    return (Severity.WARNING, Severity.CRITICAL, Severity.EMERGENCY)[min(level, 3) - 1]


def risk_level_severity(level: int) -> Severity:
    """Heavy-rain risk 1 → warning, 2–3 → critical, 4–5 → emergency (our reading, configurable)."""
    if level <= 0:
        return Severity.INFO
    if level == RiskLevel.LEVEL_1:
        return Severity.WARNING
    return Severity.CRITICAL if level <= RiskLevel.LEVEL_3 else Severity.EMERGENCY
