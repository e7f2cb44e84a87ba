"""Incidents: what the rules' signals become, kept in SQLite across restarts (issue 7).

An incident is identified by rule + station. It opens when a signal's level rises above 0
(``firing``), changes level on later signals (escalation when it rises), and closes when the
level is back to 0 (``resolved``). Each change is a ``Transition`` for the notification stage.
The state is written to SQLite before anything is notified, and every notification carries an
idempotency key built from the incident and the change, so a restart neither loses an incident
nor notifies it again.

Silences (and maintenance windows, which are silences with a reason) match by station, rule
and district, and mute the receivers they name (or every receiver: ``receivers=None``); a
silenced incident is still tracked and shown, only its notifications to those receivers are
held (issue 11: a technician's maintenance silence no longer mutes the committee). Acknowledging
an incident stops its repeats until its level changes. Resolved incidents are kept by their
``ref`` (id and start) too, so a resolution saved but not sent before a crash is sent after it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from alerting.model import AlertKind, NotificationState, Severity, Signal


class IncidentState(StrEnum):
    PENDING = "pending"  # opened, waiting for its group to be sent (group_wait)
    FIRING = "firing"
    RESOLVED = "resolved"



@contextlib.contextmanager
def locked_transaction(
    db: sqlite3.Connection, lock: threading.Lock
) -> Iterator[sqlite3.Connection]:
    """One write transaction on a connection shared by threads (the incident and delivery
    stores): taken under the lock, committed whole or rolled back."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

@dataclass(frozen=True, slots=True)
class Incident:
    id: str  # "<rule>:<station>"
    rule: str
    station: str
    kind: AlertKind
    state: IncidentState
    level: int
    severity: Severity
    started_at: datetime
    updated_at: datetime  # the time of the signal that last changed it
    resolved_at: datetime | None = None
    # How many times its level changed: part of the notification key, so each change is sent
    # once and a repeat after a restart is recognised.
    revision: int = 0
    notified_revision: int = -1
    notified_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    # The highest level it reached: a resolved incident is back at 0, and the reports count
    # incidents by the level they reached (0 in incidents saved before it was kept: use level).
    peak_level: int = 0

    @property
    def open(self) -> bool:
        return self.state is not IncidentState.RESOLVED

    @property
    def ref(self) -> str:
        """This incident among all those of its rule and station: ``<id>@<start, unix s>``."""
        return f"{self.id}@{int(self.started_at.timestamp())}"


@dataclass(frozen=True, slots=True)
class Transition:
    """A change worth telling someone about."""

    incident: Incident
    change: NotificationState
    previous_level: int

    @property
    def key(self) -> str:
        """Idempotency key: the same change of the same incident is one notification."""
        return f"{self.incident.ref}#{self.incident.revision}:{self.change.value}"


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    station: str | None = None  # None: any
    rule: str | None = None
    district: str | None = None
    maintenance: bool = False  # a station's planned maintenance window
    # The receivers it mutes (recipient groups, endpoints); None: every receiver. The CLI and
    # the API ask for the names or an explicit "all" (docs/alerting.md).
    receivers: tuple[str, ...] | None = None

    def matches(
        self, incident: Incident, district: str, at: datetime, receiver: str | None = None
    ) -> bool:
        """Whether it holds this incident's notifications to ``receiver`` (None: to anyone)."""
        return (
            self.starts_at <= at < self.ends_at
            and self.station in (None, incident.station)
            and self.rule in (None, incident.rule)
            and self.district in (None, district)
            and (receiver is None or self.receivers is None or receiver in self.receivers)
        )

    @property
    def scope(self) -> str:
        return "all receivers" if self.receivers is None else ", ".join(self.receivers)


def silence_of(body: Mapping[str, Any]) -> Silence:
    data = dict(body)
    receivers = data.get("receivers")
    # Silences saved before receivers existed muted everyone: they still do.
    data["receivers"] = None if receivers is None else tuple(receivers)
    return Silence(**data)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS incident (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,            -- the Incident as JSON
    open INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_open ON incident (open);
CREATE TABLE IF NOT EXISTS silence (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    ends_at REAL NOT NULL
);
-- Resolved incidents by ref: a newer incident of the same rule and station replaces the row in
-- `incident`, and a resolution not yet sent must survive that (and a restart).
CREATE TABLE IF NOT EXISTS resolved (
    ref TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    resolved_at REAL NOT NULL,
    handed_on INTEGER NOT NULL     -- 0: saved, not yet through the pipeline (unnotified)
);
CREATE INDEX IF NOT EXISTS resolved_by_time ON resolved (resolved_at);
"""


def _dumps(value: Any) -> str:
    def default(item: Any) -> Any:
        if isinstance(item, datetime):
            return {"$dt": item.isoformat()}
        raise TypeError(type(item))

    return json.dumps(value, default=default, ensure_ascii=False)


def _loads(text: str) -> Any:
    def hook(item: dict[str, Any]) -> Any:
        if set(item) == {"$dt"}:
            return datetime.fromisoformat(item["$dt"])
        return item

    return json.loads(text, object_hook=hook)


def _incident(body: Mapping[str, Any]) -> Incident:
    data = dict(body)
    data["kind"] = AlertKind(data["kind"])
    data["state"] = IncidentState(data["state"])
    data["severity"] = Severity(data["severity"])
    return Incident(**data)


class IncidentStore:
    """SQLite (WAL, synchronous=FULL): an incident's change is on disk before it is sent."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return locked_transaction(self._db, self._lock)

    def save(self, incident: Incident) -> None:
        body = _dumps(asdict(incident))
        with self._transaction() as db:
            current = db.execute("SELECT body FROM incident WHERE id = ?", (incident.id,))
            found = current.fetchone()
            # An older incident's late bookkeeping (a resolution notified after a newer
            # incident of the same id opened) must not overwrite the newer one.
            newer = (
                found is not None and _incident(_loads(found[0])).started_at > incident.started_at
            )
            if not newer:
                db.execute(
                    "INSERT OR REPLACE INTO incident VALUES (?, ?, ?)",
                    (incident.id, body, int(incident.open)),
                )
            if not incident.open:
                resolved_at = (incident.resolved_at or incident.updated_at).timestamp()
                db.execute(
                    "INSERT OR REPLACE INTO resolved VALUES (?, ?, ?, ?)",
                    (incident.ref, body, resolved_at,
                     int(incident.notified_revision >= incident.revision)),
                )  # fmt: skip

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM incident WHERE open = 1").fetchall()
        return [_incident(_loads(body)) for (body,) in rows]

    def get(self, incident_id: str) -> Incident | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM incident WHERE id = ?", (incident_id,))
            found = row.fetchone()
        return _incident(_loads(found[0])) if found else None

    def resolved(self, ref: str) -> Incident | None:
        """A resolved incident by its ref, whatever opened since under the same id."""
        with self._lock:
            found = self._db.execute("SELECT body FROM resolved WHERE ref = ?", (ref,)).fetchone()
        return _incident(_loads(found[0])) if found else None

    def between(self, start: datetime, end: datetime) -> list[Incident]:
        """Every incident open at some time in [start, end), resolved or not, by start (the
        daily and monthly reports). Resolved ones are kept until ``forget_resolved``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM incident UNION SELECT body FROM resolved"
            ).fetchall()
        found: dict[str, Incident] = {}
        for (body,) in rows:
            incident = _incident(_loads(body))
            ended = incident.resolved_at
            if incident.started_at < end and (ended is None or ended >= start):
                known = found.get(incident.ref)
                # The same incident in both tables: the later revision is the truth.
                if known is None or incident.revision > known.revision:
                    found[incident.ref] = incident
        return sorted(found.values(), key=lambda i: (i.started_at, i.id))

    def unsent_resolutions(self) -> list[Incident]:
        """Resolved incidents whose resolution was saved but never handed on, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM resolved WHERE handed_on = 0 ORDER BY resolved_at"
            ).fetchall()
        return [_incident(_loads(body)) for (body,) in rows]

    def forget_resolved(self, before: datetime) -> int:
        """Drop resolved incidents older than ``before`` (their messages are long settled)."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM resolved WHERE resolved_at < ?", (before.timestamp(),))
        return cursor.rowcount

    def add_silence(self, silence: Silence) -> Silence:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO silence (body, ends_at) VALUES (?, ?)",
                (_dumps(asdict(silence)), silence.ends_at.timestamp()),
            )
            silence = replace(silence, id=int(cursor.lastrowid or 0))
            db.execute(
                "UPDATE silence SET body = ? WHERE id = ?", (_dumps(asdict(silence)), silence.id)
            )
        return silence

    def silences(self, now: datetime, *, ended_since: datetime | None = None) -> list[Silence]:
        """Silences not yet ended at ``now`` (and those ended since ``ended_since``), by id."""
        since = now if ended_since is None else min(now, ended_since)
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM silence WHERE ends_at > ? ORDER BY id", (since.timestamp(),)
            ).fetchall()
        return [silence_of(_loads(body)) for (body,) in rows]

    def silence(self, silence_id: int) -> Silence | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM silence WHERE id = ?", (silence_id,))
            found = row.fetchone()
        return silence_of(_loads(found[0])) if found else None

    def expire_silence(self, silence_id: int, at: datetime) -> Silence:
        """End a silence now (it is kept, ended, for the record). KeyError if unknown."""
        with self._transaction() as db:
            found = db.execute("SELECT body FROM silence WHERE id = ?", (silence_id,)).fetchone()
            if found is None:
                raise KeyError(f"no silence {silence_id}")
            silence = silence_of(_loads(found[0]))
            if silence.ends_at > at:
                silence = replace(silence, ends_at=max(at, silence.starts_at))
                db.execute(
                    "UPDATE silence SET body = ?, ends_at = ? WHERE id = ?",
                    (_dumps(asdict(silence)), silence.ends_at.timestamp(), silence_id),
                )
        return silence

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class IncidentManager:
    """Turns signals into incidents and transitions; the state lives in ``store``."""

    store: IncidentStore
    districts: Mapping[str, str] = field(default_factory=dict)  # station → district
    # Still firing after this long without a change: a reminder (per severity).
    repeat_after: Mapping[Severity, timedelta] = field(
        default_factory=lambda: {
            Severity.INFO: timedelta(hours=24),
            Severity.WARNING: timedelta(hours=6),
            Severity.CRITICAL: timedelta(hours=2),
            Severity.EMERGENCY: timedelta(hours=1),
        }
    )

    def __post_init__(self) -> None:
        self.open: dict[str, Incident] = {i.id: i for i in self.store.open_incidents()}

    def on_signal(self, signal: Signal) -> Transition | None:
        incident_id = f"{signal.rule}:{signal.station}"
        current = self.open.get(incident_id)
        if current is None:
            if signal.level <= 0:
                return None
            incident = Incident(
                id=incident_id,
                rule=signal.rule,
                station=signal.station,
                kind=signal.kind,
                state=IncidentState.FIRING,
                level=signal.level,
                severity=signal.severity,
                started_at=signal.ts,
                updated_at=signal.ts,
                facts=dict(signal.facts),
                peak_level=signal.level,
            )
            return self._changed(incident, NotificationState.FIRING, 0)
        if signal.level == current.level and signal.facts.get("event") == "crest":
            # A flood's crest, its fall confirmed: news at the same level (issue 11).
            crest = replace(
                current,
                updated_at=signal.ts,
                revision=current.revision + 1,
                facts=dict(signal.facts),
            )
            return self._changed(crest, NotificationState.CREST, current.level)
        if signal.level == current.level:
            # Same level: keep the newest facts (the value, the rate) for reminders.
            self.open[incident_id] = replace(current, facts=dict(signal.facts))
            return None
        if signal.level <= 0:
            incident = replace(
                current,
                state=IncidentState.RESOLVED,
                level=0,
                severity=Severity.INFO,
                updated_at=signal.ts,
                resolved_at=signal.ts,
                revision=current.revision + 1,
                facts=dict(signal.facts),
            )
            return self._changed(incident, NotificationState.RESOLVED, current.level)
        change = (
            NotificationState.ESCALATED
            if signal.level > current.level
            else NotificationState.DEESCALATED
        )
        incident = replace(
            current,
            level=signal.level,
            severity=signal.severity,
            updated_at=signal.ts,
            revision=current.revision + 1,
            # A new level asks for attention again, acknowledged or not.
            acked_by=None if change is NotificationState.ESCALATED else current.acked_by,
            facts=dict(signal.facts),
            peak_level=max(current.peak_level, signal.level),
        )
        return self._changed(incident, change, current.level)

    def _changed(self, incident: Incident, change: NotificationState, previous: int) -> Transition:
        self.store.save(incident)
        if incident.open:
            self.open[incident.id] = incident
        else:
            self.open.pop(incident.id, None)
        return Transition(incident, change, previous)

    def repeats(self, now: datetime) -> list[Transition]:
        """Reminders of incidents firing unchanged, unacknowledged, past their interval."""
        due = []
        for incident in list(self.open.values()):
            if incident.acked_by is not None or incident.notified_at is None:
                continue
            if incident.notified_revision < incident.revision:
                continue  # a change is on its way already: that is the news, not a reminder
            if now - incident.notified_at >= self.repeat_after[incident.severity]:
                reminded = replace(incident, revision=incident.revision + 1)
                due.append(self._changed(reminded, NotificationState.REPEAT, incident.level))
        return due

    def notified(self, transition: Transition, at: datetime) -> None:
        """Record that a transition went through the pipeline: handed to the delivery queues,
        or held (inhibited). Reminders count from here; what each receiver accepted is the
        delivery queues' record (alerting.delivery)."""
        incident = self.open.get(transition.incident.id, transition.incident)
        if incident.ref != transition.incident.ref:
            incident = transition.incident  # a newer incident of the same id opened since
        if incident.revision != transition.incident.revision:
            return  # changed again meanwhile; that change will be notified itself
        done = replace(incident, notified_revision=incident.revision, notified_at=at)
        self.store.save(done)
        if done.open:
            self.open[done.id] = done

    def acknowledge(self, incident_id: str, by: str, note: str, at: datetime) -> Incident:
        incident = self.open.get(incident_id)
        if incident is None:
            raise KeyError(f"no open incident {incident_id}")
        acked = replace(incident, acked_by=by, acked_at=at, ack_note=note)
        self.store.save(acked)
        self.open[incident_id] = acked
        return acked

    def sync_acks(self) -> None:
        """Take acknowledgements made by other processes (the CLI, the API) from the store."""
        for stored in self.store.open_incidents():
            current = self.open.get(stored.id)
            if (
                current is not None
                and stored.revision == current.revision
                and stored.acked_by != current.acked_by
            ):
                self.open[stored.id] = replace(
                    current,
                    acked_by=stored.acked_by,
                    acked_at=stored.acked_at,
                    ack_note=stored.ack_note,
                )

    def silenced(
        self,
        incident: Incident,
        at: datetime,
        receiver: str | None = None,
        silences: list[Silence] | None = None,
    ) -> Silence | None:
        """The silence holding this incident's notifications to ``receiver`` (None: any)."""
        district = self.districts.get(incident.station, "")
        for silence in self.store.silences(at) if silences is None else silences:
            if silence.matches(incident, district, at, receiver):
                return silence
        return None

    def unnotified(self) -> list[Transition]:
        """After a restart: changes saved but never handed on — of open incidents, and
        resolutions (a crash between saving a resolution and sending it must not lose the
        all-clear). The service itself brings each receiver to the current state instead
        (alerting.service.AlertingService.reconcile), which also knows who got what."""
        pending = [
            Transition(i, NotificationState.FIRING if i.revision == 0 else
                       NotificationState.ESCALATED, 0)
            for i in self.open.values()
            if i.notified_revision < i.revision
        ]  # fmt: skip
        pending.extend(
            Transition(incident, NotificationState.RESOLVED, 0)
            for incident in self.store.unsent_resolutions()
        )
        return pending
