"""Wind rules: sustained wind or gusts at or above cấp gió levels.

Storm warnings speak in cấp gió (Beaufort, extended to 17; Decision 18/2021/QĐ-TTg): a level is
reached at the lower bound of its cấp (collector.indices.wind: cấp 8 from 17.2 m/s). A rule on
``wind_speed`` also reads ``wind_gust`` (and the other way round), so that a message says both:
"gió cấp 8, giật cấp 10".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerting.model import AlertKind, Severity
from alerting.rules.base import LadderRule, LadderState, StationFacts, given_or
from alerting.rules.config import WindConfig, select_stations
from alerting.rules.levels import Ladder, Step
from collector.indices.wind import BEAUFORT_LOWER_M_S, cap_gio, storm_category
from gateway.config import StationConfig
from gateway.model import Reading

SPEED, GUST = "wind_speed", "wind_gust"


def cap_severity(cap: int) -> Severity:
    """cấp 6–7 (áp thấp nhiệt đới strength) a warning, 8–9 (bão) critical, 10+ (bão mạnh and
    above) an emergency: the storm names of Decision 18/2021/QĐ-TTg."""
    if cap >= 10:
        return Severity.EMERGENCY
    return Severity.CRITICAL if cap >= 8 else Severity.WARNING


@dataclass(slots=True)
class WindState(LadderState):
    other: float | None = None  # the latest of the other series (the gust beside the wind)
    other_ts: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WindRule(LadderRule[WindState]):
    type: str = "wind"

    def new_state(self) -> WindState:
        return WindState()

    def observe(self, state: WindState, reading: Reading) -> None:
        if state.other_ts is None or reading.ts > state.other_ts:
            state.other, state.other_ts = reading.value, reading.ts

    def facts(self, state: WindState) -> dict[str, Any]:
        param = self.params[0]
        value = state.levels.last_value
        sustained, gust = (value, state.other) if param == SPEED else (state.other, value)
        facts: dict[str, Any] = {"unit": "m/s", "gust_rule": param == GUST}
        speed_cap = cap_gio(sustained)
        gust_cap = cap_gio(gust)
        if sustained is not None:
            facts["wind_speed"] = sustained
        if gust is not None:
            facts["wind_gust"] = gust
        if speed_cap is not None:
            facts["cap_gio"] = speed_cap.level
            facts["cap_gio_label"] = speed_cap.label
            category = storm_category(speed_cap)
            if category is not None:
                facts["storm_category"] = category.label
        if gust_cap is not None:
            facts["gust_cap_gio"] = gust_cap.level
            facts["gust_cap_gio_label"] = gust_cap.label
        return facts


def wind_ladder(config: WindConfig) -> Ladder:
    prefix = "giật " if config.param == GUST else ""
    steps = []
    for number, cap in enumerate(config.caps, start=1):
        trigger = BEAUFORT_LOWER_M_S[cap]
        severity = given_or(config.severity_override(number), cap_severity(cap))
        steps.append(
            Step(number, trigger, trigger - config.hysteresis_m_s, severity, f"{prefix}cấp {cap}")
        )
    return Ladder(tuple(steps))


def compile_wind(config: WindConfig, stations: Mapping[str, StationConfig]) -> list[WindRule]:
    ladder = wind_ladder(config)
    other = GUST if config.param == SPEED else SPEED
    return [
        WindRule(
            id=config.id,
            station=station.id,
            kind=config.kind or AlertKind.STORM,
            params=(config.param,),
            context_params=(other,),
            ladder=ladder,
            pending=config.pending,
            use_suspect=config.use_suspect,
            station_facts=StationFacts.of(station),
        )
        for station in select_stations(config.id, config.stations, stations)
    ]
