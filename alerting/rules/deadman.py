"""Deadman rules: no data from a station (or one of its parameters), or the station offline.

"Data" is any reading that is not bad and has a value; ``station_online`` is the gateway's word
on the station, not data, and neither are the collector's derived series (unless the rule
watches one by its ``param``). The rule fires:

- at ``tick(now)`` when nothing has come for ``no_data_for`` (counted from the last data, or
  from the first tick when the station has not been heard since start);
- at once on ``station_online == 0`` (the gateway could not read it), with ``offline: true``.

It clears on the first fresh data. Fresh means newer than the clock's last word minus
``no_data_for``: a gateway replaying its outbox after an outage sends old readings, and those
prove the station was alive then, not now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerting.model import AlertKind, Severity, Signal
from alerting.rules.base import StationFacts, given_or, make_signal, param_label
from alerting.rules.config import DeadmanConfig, select_stations
from collector.schema import is_derived
from gateway.config import StationConfig
from gateway.model import Reading

ONLINE = "station_online"
NO_DATA, OFFLINE = "no_data", "offline"


@dataclass(slots=True)
class DeadmanState:
    level: int = 0
    last_seen: datetime | None = None  # the newest data
    clock: datetime | None = None  # the latest tick's now
    started: datetime | None = None  # the first tick: silence counts from here until data
    offline_since: datetime | None = None  # the first station_online == 0 of this outage
    reason: str = ""
    changed_at: datetime | None = None
    # The outage a recovery ends (its reason and start), so the recovery can say it.
    outage_reason: str = ""
    outage_since: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadmanRule:
    id: str
    station: str
    param: str | None
    no_data_for: timedelta
    offline: bool
    severity: Severity
    station_facts: StationFacts
    kind: AlertKind = AlertKind.STATION
    type: str = "deadman"
    use_suspect: bool = True  # every reading that is not bad is data
    suspect_reasons: frozenset[str] = frozenset()
    context_params: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        if self.param is None:
            return ()
        return (self.param, ONLINE) if self.offline else (self.param,)

    @property
    def station_wide(self) -> bool:
        return self.param is None

    @property
    def top_level(self) -> int:
        return 1

    def new_state(self) -> DeadmanState:
        return DeadmanState()

    def observe(self, state: DeadmanState, reading: Reading) -> None:
        return None

    def evaluate(self, state: DeadmanState, reading: Reading) -> Signal | None:
        if reading.param == ONLINE:
            if not self.offline:
                return None
            if reading.value == 0:
                if state.offline_since is None:
                    state.offline_since = reading.ts
                if state.level == 0:
                    return self._change(state, 1, OFFLINE, reading.ts)
            else:
                offline_since, state.offline_since = state.offline_since, None
                if state.level and state.reason == OFFLINE and not self._silent(state, reading.ts):
                    return self._change(state, 0, "", reading.ts, offline_since)
            return None
        if self.param is None and is_derived(reading.param):
            # The collector's derived series (hourly means, totals) are computed from stored
            # readings, on its own schedule: an hourly mean stamped 11:00 of a station that
            # died at 10:05 is not a sign of life.
            return None
        silent_since = state.last_seen or state.started
        if state.last_seen is None or reading.ts > state.last_seen:
            state.last_seen = reading.ts
        fresh = state.clock is None or reading.ts > state.clock - self.no_data_for
        if state.level and fresh and state.offline_since is None:
            return self._change(state, 0, "", reading.ts, silent_since)
        return None

    def tick(self, state: DeadmanState, now: datetime) -> Signal | None:
        if state.clock is None or now > state.clock:
            state.clock = now
        if state.started is None:
            state.started = now
        if state.level == 0 and self._silent(state, now):
            return self._change(state, 1, NO_DATA, now)
        return None

    def needs_tick(self, state: DeadmanState) -> bool:
        return True

    def level(self, state: DeadmanState) -> int:
        return state.level

    def snapshot(self, state: DeadmanState) -> Signal | None:
        if state.changed_at is None:
            return None
        return self._signal(state, state.changed_at)

    def restore(self, state: DeadmanState, level: int) -> None:
        state.level = 1 if level else 0
        state.reason = NO_DATA if level else ""

    def severity_of(self, level: int) -> Severity:
        return self.severity if level else Severity.INFO

    def label_of(self, level: int) -> str:
        return "mất tín hiệu" if level else ""

    def _silent(self, state: DeadmanState, now: datetime) -> bool:
        since = state.last_seen or state.started
        return since is not None and now - since >= self.no_data_for

    def _change(
        self,
        state: DeadmanState,
        level: int,
        reason: str,
        ts: datetime,
        outage_since: datetime | None = None,
    ) -> Signal:
        if level == 0:
            state.outage_reason, state.outage_since = state.reason, outage_since
        state.level = level
        state.reason = reason
        state.changed_at = ts
        return self._signal(state, ts)

    def _signal(self, state: DeadmanState, ts: datetime) -> Signal:
        facts: dict[str, Any] = {
            "reason": state.reason,
            "no_data_for_s": self.no_data_for.total_seconds(),
            "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        }
        if self.param:
            facts["param_label"] = param_label(self.param)
        since = state.offline_since if state.reason == OFFLINE else state.last_seen
        if since is not None:
            facts["since"] = since.isoformat()
        if state.level and state.last_seen is not None:
            facts["silent_s"] = (ts - state.last_seen).total_seconds()
        if not state.level and state.outage_reason:
            facts["outage_reason"] = state.outage_reason
            if state.outage_since is not None:
                facts["outage_since"] = state.outage_since.isoformat()
                facts["outage_s"] = (ts - state.outage_since).total_seconds()
        return make_signal(
            self,
            self.station_facts,
            state.level,
            1 - state.level,
            ts,
            self.param or "",
            None,
            facts,
        )


def compile_deadman(
    config: DeadmanConfig, stations: Mapping[str, StationConfig]
) -> list[DeadmanRule]:
    # A station offline is a warning (alerting/model.py): for technicians, not the committee.
    severity = given_or(config.severity_override(1), Severity.WARNING)
    return [
        DeadmanRule(
            id=config.id,
            station=station.id,
            param=config.param,
            no_data_for=config.no_data_for,
            offline=config.offline,
            severity=severity,
            station_facts=StationFacts.of(station),
            kind=config.kind or AlertKind.STATION,
        )
        for station in select_stations(config.id, config.stations, stations)
    ]
