"""Delivery queues: one durable queue per receiver and channel, and what each one was told.

Issue 11. Sends were awaited one after another, so the committee's SMS waited 13.8 s behind
the IOC webhook's failing retries, and a message whose retries were spent went to a dead
letter nothing read. Now:

- **A queue per destination.** A destination is a receiver and one of its channels
  (``ban_chi_huy/sms``, ``ioc/webhook``). Routing hands a notification to its receivers; the
  service writes one entry per destination into SQLite (``queue`` in the notification log's
  file, ``synchronous=FULL``) before anything is sent. Each destination has its own worker
  task, so a slow or failing channel never delays another.
- **Rounds.** A worker takes its oldest entry and sends it through the channel's notifier,
  which retries within its own budget (docs/notifiers.md). Then: every target SENT, or some
  SENT and the rest refused → ``delivered``; some RETRY (the budget was spent) → the entry
  stays ``queued`` and gets another round after a backoff (30 s, doubling up to 10 min by
  default) until its deadline (per severity, ``delivery.deadline_h`` in alerting.yaml), then
  ``expired`` with its reason, logged at ERROR and counted; every target refused (the retry
  rule's "other": a 4xx, a landline for SMS) → ``failed``. A destination's entries go in
  order: a resolution never overtakes its firing, and waits behind it.
- **Told.** Per incident (``Incident.ref``) and destination: the last revision the destination
  *accepted* (its level, open or resolved) and the last revision *handed* to its queue. A
  change counts as sent to a receiver only when that receiver accepted it. The service compares
  this with each incident's current state to bring a receiver up to date after a silence, an
  inhibition or a crash (``catch_up``), and a resolution whose firing a destination never
  accepted is dropped, not sent (Alertmanager's rule).

A message is delivered at least once: a crash after the provider accepted it and before the
entry was marked is a resend after the restart, with the same key (the webhook's
``Idempotency-Key``; the notification log's ``already_sent`` stops SMS, Zalo and email).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.model import (
    AlertKind,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationState,
    Recipient,
    Severity,
)
from alerting.notifiers.base import Notifier, short
from alerting.routing import RoutingConfig

log = logging.getLogger(__name__)

# A worker with nothing due looks at its queue at least this often (an entry enqueued by
# another process, a clock that jumped).
IDLE_WAKE_S = 5.0
DEFAULT_DEADLINE_H = {"info": 1.0, "warning": 6.0, "critical": 12.0, "emergency": 24.0}


class EntryState(StrEnum):
    QUEUED = "queued"  # waiting for its first round, or for the next one after a failure
    DELIVERED = "delivered"  # accepted (by at least one target; the others refused it)
    FAILED = "failed"  # refused by every target: never retried (the retry rule's "other")
    EXPIRED = "expired"  # still failing at its deadline
    DROPPED = "dropped"  # a resolution of an alarm this destination never accepted


class DeliverySettings(BaseModel):
    """``delivery:`` in alerting.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Hours an undelivered message keeps being retried, by its severity. An all-clear is kept
    # at least as long as what it ends, still queued before it at the same destination.
    deadline_h: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DEADLINE_H))
    retry_initial_s: float = Field(default=30.0, gt=0)  # pause after the first failed round
    retry_max_s: float = Field(default=600.0, gt=0)  # the pause doubles up to this
    keep_days: float = Field(default=30.0, gt=0)  # finished entries kept for the record

    @field_validator("deadline_h")
    @classmethod
    def _known_severities(cls, value: dict[str, float]) -> dict[str, float]:
        for name, hours in value.items():
            if name.upper() not in Severity.__members__:
                raise ValueError(f"unknown severity {name!r}; known {list(DEFAULT_DEADLINE_H)}")
            if hours <= 0:
                raise ValueError(f"{name}: a deadline must be more than 0 hours")
        return value

    def deadline(self, severity: Severity) -> timedelta:
        hours = {**DEFAULT_DEADLINE_H, **{k.lower(): v for k, v in self.deadline_h.items()}}
        return timedelta(hours=hours[severity.name.lower()])

    def backoff(self, rounds: int) -> timedelta:
        """The pause after ``rounds`` failed rounds (1: the first failure)."""
        exponent = min(max(rounds - 1, 0), 32)  # 2**32 × 30 s is past any deadline
        return timedelta(seconds=min(self.retry_max_s, self.retry_initial_s * 2**exponent))

    @property
    def longest(self) -> timedelta:
        return max(self.deadline(s) for s in Severity)


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """A receiver (recipient group or endpoint) and one of its channels."""

    receiver: str
    channel: str

    def __str__(self) -> str:
        return f"{self.receiver}/{self.channel}"


def destinations(routing: RoutingConfig) -> list[Destination]:
    """Every receiver × channel of the routing config, in a stable order."""
    found = [Destination(name, ch) for name, group in routing.recipients.items()
             for ch in group.channels]  # fmt: skip
    found += [Destination(name, ch) for name, ch in routing.endpoints.items()]
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Covered:
    """One incident's change as an entry carries it."""

    incident: str  # Incident.ref
    revision: int
    level: int
    open: bool


@dataclass(frozen=True, slots=True)
class Told:
    """What one destination knows of one incident."""

    accepted_revision: int = -1  # the last revision it accepted; -1: nothing yet
    accepted_level: int = 0
    accepted_open: bool = False  # it was last told the incident is firing
    handled_revision: int = -1  # the last revision handed to its queue (or found needless)


def catch_up(told: Told | None, level: int, is_open: bool) -> NotificationState | None:
    """The change that brings a destination from what it accepted to an incident's current
    state, or None when it needs nothing: never an all-clear for an alarm it never got."""
    if not is_open:
        return NotificationState.RESOLVED if told is not None and told.accepted_open else None
    if told is None or not told.accepted_open:
        return NotificationState.FIRING  # it never heard of this alarm: the current level
    if level > told.accepted_level:
        return NotificationState.ESCALATED
    if level < told.accepted_level:
        return NotificationState.DEESCALATED
    return None  # it knows the level already; a reminder will come on its own schedule


def round_outcome(deliveries: Sequence[Delivery]) -> tuple[EntryState, str]:
    """An entry's state after a round of its notifier: QUEUED means another round."""
    if not deliveries:
        return EntryState.FAILED, "no target to deliver to (a group without members?)"
    failures = [d for d in deliveries if d.status is not DeliveryStatus.SENT]
    detail = "; ".join(f"{d.recipient}: {d.detail}" for d in failures)
    if any(d.status is DeliveryStatus.RETRY for d in deliveries):
        return EntryState.QUEUED, short(detail)
    if len(failures) < len(deliveries):
        return EntryState.DELIVERED, short(detail)
    return EntryState.FAILED, short(detail)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    destination: Destination
    notification: Notification
    covers: tuple[Covered, ...]
    state: EntryState
    created_at: datetime
    deadline: datetime
    next_at: datetime
    rounds: int = 0
    last_error: str = ""
    finished_at: datetime | None = None
    reason: str = ""


# --- the notification as JSON ----------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _revive(item: dict[str, Any]) -> Any:
    if set(item) == {"$dt"}:
        return datetime.fromisoformat(item["$dt"])
    return item


def notification_json(notification: Notification) -> str:
    n = notification
    body = {
        "key": n.key, "state": n.state.value, "kind": n.kind.value, "severity": int(n.severity),
        "level": n.level, "title": n.title, "text": n.text, "text_en": n.text_en,
        "created_at": n.created_at, "incidents": list(n.incidents), "stations": list(n.stations),
        "district": n.district, "facts": n.facts,
    }  # fmt: skip
    return json.dumps(_plain(body), ensure_ascii=False, allow_nan=True)


def notification_of(text: str) -> Notification:
    body = json.loads(text, object_hook=_revive)
    return Notification(
        key=body["key"],
        state=NotificationState(body["state"]),
        kind=AlertKind(body["kind"]),
        severity=Severity(body["severity"]),
        level=body["level"],
        title=body["title"],
        text=body["text"],
        text_en=body["text_en"],
        created_at=body["created_at"],
        incidents=tuple(body["incidents"]),
        stations=tuple(body["stations"]),
        district=body["district"],
        facts=body["facts"],
    )


# --- the store ---------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver TEXT NOT NULL,
    channel TEXT NOT NULL,
    key TEXT NOT NULL,              -- the notification's idempotency key
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    body TEXT NOT NULL,             -- the notification as JSON
    covers TEXT NOT NULL,           -- [[incident ref, revision, level, open], …]
    state TEXT NOT NULL,            -- queued | delivered | failed | expired | dropped
    created_at REAL NOT NULL,       -- unix seconds, UTC
    deadline REAL NOT NULL,
    next_at REAL NOT NULL,          -- the next round, not before
    rounds INTEGER NOT NULL,        -- rounds made (each: the notifier's own retries)
    last_error TEXT NOT NULL,
    finished_at REAL,
    reason TEXT NOT NULL            -- why it was finished so: the providers' answers
);
CREATE UNIQUE INDEX IF NOT EXISTS queue_key ON queue (receiver, channel, key);
CREATE INDEX IF NOT EXISTS queue_waiting ON queue (state, receiver, channel, id);
CREATE TABLE IF NOT EXISTS told (
    incident TEXT NOT NULL,         -- Incident.ref
    receiver TEXT NOT NULL,
    channel TEXT NOT NULL,
    accepted_revision INTEGER NOT NULL,
    accepted_level INTEGER NOT NULL,
    accepted_open INTEGER NOT NULL,
    handled_revision INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (incident, receiver, channel)
);
CREATE INDEX IF NOT EXISTS told_open ON told (accepted_open);
"""

_ENTRY = (
    "id, receiver, channel, body, covers, state, created_at, deadline, next_at, rounds, "
    "last_error, finished_at, reason"
)


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _entry(row: tuple[Any, ...]) -> QueueEntry:
    (id_, receiver, channel, body, covers, state, created, deadline, next_at, rounds, error,
     finished, reason) = row  # fmt: skip
    return QueueEntry(
        id=int(id_),
        destination=Destination(receiver, channel),
        notification=notification_of(body),
        covers=tuple(
            Covered(str(c[0]), int(c[1]), int(c[2]), bool(c[3])) for c in json.loads(covers)
        ),
        state=EntryState(state),
        created_at=_ts(created),
        deadline=_ts(deadline),
        next_at=_ts(next_at),
        rounds=int(rounds),
        last_error=str(error),
        finished_at=None if finished is None else _ts(finished),
        reason=str(reason),
    )


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """A destination's waiting entries, for health."""

    depth: int
    oldest: datetime
    head_rounds: int  # rounds already failed by the entry next in line
    head_error: str


class DeliveryStore:
    """The queue and the told records, in the notification log's SQLite file (WAL,
    synchronous=FULL: an entry is on disk before its first round). Safe to read from the
    health endpoint's worker thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'told'"
        ).fetchone()
        # A data directory from before the queues: the service seeds what was sent already
        # (quantrac.alerting_app), so an upgrade does not resend every open incident.
        self.new = exists is None
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def enqueue(
        self,
        items: Iterable[tuple[Destination, Notification, Sequence[Covered], datetime]],
        now: datetime,
    ) -> int:
        """Queue each (destination, notification, covers, deadline) in one transaction; the
        covers count as handed to that destination. The same key twice to a destination is
        one entry. Returns how many entries are new."""
        added = 0
        with self._transaction() as db:
            for destination, notification, covers, deadline in items:
                if notification.state is NotificationState.RESOLVED:
                    # An all-clear waits behind what it ends: it lives at least as long.
                    row = db.execute(
                        "SELECT MAX(deadline) FROM queue WHERE state = 'queued' "
                        "AND receiver = ? AND channel = ?",
                        (destination.receiver, destination.channel),
                    ).fetchone()
                    if row[0] is not None:
                        deadline = max(deadline, _ts(row[0]))
                cursor = db.execute(
                    "INSERT OR IGNORE INTO queue (receiver, channel, key, title, severity, body, "
                    "covers, state, created_at, deadline, next_at, rounds, last_error, "
                    "finished_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, 0, '', "
                    "NULL, '')",
                    (
                        destination.receiver, destination.channel, notification.key,
                        notification.title, notification.severity.name.lower(),
                        notification_json(notification),
                        json.dumps([[c.incident, c.revision, c.level, c.open] for c in covers]),
                        now.timestamp(), deadline.timestamp(), now.timestamp(),
                    ),
                )  # fmt: skip
                added += cursor.rowcount
                for cover in covers:
                    self._handled(db, cover.incident, destination, cover.revision, now)
        return added

    @staticmethod
    def _handled(
        db: sqlite3.Connection, ref: str, destination: Destination, revision: int, now: datetime
    ) -> None:
        db.execute(
            "INSERT INTO told VALUES (?, ?, ?, -1, 0, 0, ?, ?) "
            "ON CONFLICT (incident, receiver, channel) DO UPDATE SET "
            "handled_revision = MAX(handled_revision, excluded.handled_revision), "
            "updated = excluded.updated",
            (ref, destination.receiver, destination.channel, revision, now.timestamp()),
        )

    def mark_handled(
        self, ref: str, destination: Destination, revision: int, now: datetime
    ) -> None:
        """Nothing to send for this revision (the destination knows the level already)."""
        with self._transaction() as db:
            self._handled(db, ref, destination, revision, now)

    def seed_told(self, ref: str, destination: Destination, revision: int, level: int,
                  is_open: bool, now: datetime) -> None:  # fmt: skip
        """Record a revision as accepted (a data directory from before the queues)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO told VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ref, destination.receiver, destination.channel, revision, level,
                 int(is_open), revision, now.timestamp()),
            )  # fmt: skip

    def head(self, destination: Destination) -> QueueEntry | None:
        """The destination's oldest waiting entry: the next one to deliver."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_ENTRY} FROM queue WHERE state = 'queued' AND receiver = ? "
                "AND channel = ? ORDER BY id LIMIT 1",
                (destination.receiver, destination.channel),
            ).fetchone()
        return _entry(row) if row else None

    def retry_later(self, entry: QueueEntry, next_at: datetime, error: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE queue SET rounds = rounds + 1, next_at = ?, last_error = ? WHERE id = ?",
                (next_at.timestamp(), error, entry.id),
            )

    def finish(
        self, entry: QueueEntry, state: EntryState, at: datetime, reason: str, *, rounds: int = 0
    ) -> None:
        """End an entry; a delivered one makes its covers accepted by its destination."""
        destination = entry.destination
        with self._transaction() as db:
            db.execute(
                "UPDATE queue SET state = ?, finished_at = ?, reason = ?, rounds = rounds + ?, "
                "last_error = CASE WHEN ? = 'delivered' THEN last_error ELSE ? END WHERE id = ?",
                (state.value, at.timestamp(), reason, rounds, state.value, reason, entry.id),
            )
            if state is not EntryState.DELIVERED:
                return
            for cover in entry.covers:
                db.execute(
                    "INSERT INTO told VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (incident, receiver, channel) DO UPDATE SET "
                    "accepted_revision = excluded.accepted_revision, "
                    "accepted_level = excluded.accepted_level, "
                    "accepted_open = excluded.accepted_open, "
                    "handled_revision = MAX(handled_revision, excluded.handled_revision), "
                    "updated = excluded.updated "
                    "WHERE excluded.accepted_revision > told.accepted_revision",
                    (cover.incident, destination.receiver, destination.channel, cover.revision,
                     cover.level, int(cover.open), cover.revision, at.timestamp()),
                )  # fmt: skip

    def told(self, refs: Iterable[str]) -> dict[tuple[str, Destination], Told]:
        """What each destination knows of these incidents."""
        wanted = list(dict.fromkeys(refs))
        out: dict[tuple[str, Destination], Told] = {}
        for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    "SELECT incident, receiver, channel, accepted_revision, accepted_level, "
                    f"accepted_open, handled_revision FROM told WHERE incident IN ({marks})",
                    chunk,
                ).fetchall()
            for ref, receiver, channel, revision, level, is_open, handled in rows:
                out[(ref, Destination(receiver, channel))] = Told(
                    int(revision), int(level), bool(is_open), int(handled)
                )
        return out

    def believed_open(self) -> set[str]:
        """Incidents some destination was last told are firing."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT incident FROM told WHERE accepted_open = 1")
            return {str(ref) for (ref,) in rows.fetchall()}

    def in_flight(self) -> set[tuple[str, Destination]]:
        """(incident ref, destination) of every waiting entry."""
        with self._lock:
            rows = self._db.execute(
                "SELECT receiver, channel, covers FROM queue WHERE state = 'queued'"
            ).fetchall()
        return {
            (str(cover[0]), Destination(receiver, channel))
            for receiver, channel, covers in rows
            for cover in json.loads(covers)
        }

    def depths(self) -> dict[Destination, QueueDepth]:
        with self._lock:
            rows = self._db.execute(
                "SELECT receiver, channel, COUNT(*), MIN(created_at), MIN(id) FROM queue "
                "WHERE state = 'queued' GROUP BY receiver, channel"
            ).fetchall()
            heads = {
                int(id_): (int(rounds), str(error))
                for id_, rounds, error in self._db.execute(
                    "SELECT id, rounds, last_error FROM queue WHERE id IN "
                    "(SELECT MIN(id) FROM queue WHERE state = 'queued' GROUP BY receiver, channel)"
                ).fetchall()
            }
        return {
            Destination(receiver, channel): QueueDepth(
                int(count), _ts(oldest), *heads.get(int(head), (0, ""))
            )
            for receiver, channel, count, oldest, head in rows
        }

    def entries(
        self,
        *,
        receiver: str | None = None,
        state: EntryState | None = None,
        limit: int = 200,
    ) -> list[QueueEntry]:
        """Entries, newest first."""
        where, params = [], []
        if receiver is not None:
            where.append("receiver = ?")
            params.append(receiver)
        if state is not None:
            where.append("state = ?")
            params.append(state.value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENTRY} FROM queue{clause} ORDER BY id DESC LIMIT ?", [*params, limit]
            ).fetchall()
        return [_entry(row) for row in rows]

    def forget(self, before: datetime) -> int:
        """Drop finished entries and told records older than ``before``."""
        with self._transaction() as db:
            gone = db.execute(
                "DELETE FROM queue WHERE state != 'queued' AND finished_at < ?",
                (before.timestamp(),),
            ).rowcount
            # What a destination believes firing is kept: its all-clear is still owed.
            db.execute(
                "DELETE FROM told WHERE updated < ? AND accepted_open = 0", (before.timestamp(),)
            )
        return gone


# --- the workers ------------------------------------------------------------------------------


@dataclass
class DestinationStats:
    """Counted since the service started (health, Prometheus counters)."""

    attempts: int = 0  # rounds
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    dropped: int = 0
    last_error: str = ""
    deliveries: Counter[str] = field(default_factory=Counter)  # per target: sent/retry/failed


Members = Callable[[Destination], Sequence[Recipient]]


class DeliveryQueues:
    """One worker per destination over the store; ``drain`` instead when nothing runs them
    (a test driving the service step by step)."""

    def __init__(
        self,
        store: DeliveryStore,
        routing: RoutingConfig,
        notifiers: Mapping[str, Notifier],
        settings: DeliverySettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.routing = routing
        self.notifiers = notifiers
        self.settings = settings
        self.clock = clock
        self.destinations = destinations(routing)
        self.stats = {d: DestinationStats() for d in self.destinations}
        self.running = False
        self._wake: dict[Destination, asyncio.Event] = {}

    def of(self, receiver: str) -> list[Destination]:
        return [d for d in self.destinations if d.receiver == receiver]

    def members(self, destination: Destination) -> list[Recipient]:
        group = self.routing.recipients.get(destination.receiver)
        return [] if group is None else [m.recipient() for m in group.members]

    def enqueue(
        self,
        items: Iterable[tuple[Destination, Notification, Sequence[Covered]]],
    ) -> int:
        now = self.clock()
        rows = [(d, n, covers, now + self.settings.deadline(n.severity)) for d, n, covers in items]
        added = self.store.enqueue(rows, now) if rows else 0
        for destination, *_ in rows:
            wake = self._wake.get(destination)
            if wake is not None:
                wake.set()
        return added

    async def run(self) -> None:
        """A worker per destination, until cancelled."""
        self.running = True
        removed = self.store.forget(self.clock() - timedelta(days=self.settings.keep_days))
        if removed:
            log.info("delivery: %d finished entries older than %g days dropped", removed,
                     self.settings.keep_days)  # fmt: skip
        try:
            async with asyncio.TaskGroup() as tasks:
                for destination in self.destinations:
                    self._wake[destination] = asyncio.Event()
                    tasks.create_task(self._work(destination), name=f"deliver {destination}")
        finally:
            self.running = False

    async def _work(self, destination: Destination) -> None:
        wake = self._wake[destination]
        while True:
            wake.clear()
            try:
                wait = await self.step(destination)
            except Exception:  # the last resort: a bug must not stop this destination
                log.exception("delivery %s: unexpected error", destination)
                wait = IDLE_WAKE_S
            if wait is None or wait > 0:
                pause = IDLE_WAKE_S if wait is None else min(wait, IDLE_WAKE_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), pause)

    async def drain(self) -> None:
        """Every destination's due entries, destinations side by side (nothing runs them)."""
        await asyncio.gather(*(self._drain(d) for d in self.destinations))

    async def _drain(self, destination: Destination) -> None:
        while await self.step(destination) == 0:
            pass

    async def step(self, destination: Destination) -> float | None:
        """Handle the destination's head entry if it is due. Returns 0 after handling one,
        the seconds until the head is due, or None when the queue is empty."""
        entry = self.store.head(destination)
        if entry is None:
            return None
        now = self.clock()
        if now >= entry.deadline:
            self._expire(entry, now)
            return 0
        if entry.next_at > now:
            return (entry.next_at - now).total_seconds()
        await self._round(entry)
        return 0

    def _expire(self, entry: QueueEntry, now: datetime, *, this_round: str | None = None) -> None:
        """Past its deadline (or the next round would be): expired, with why."""
        rounds = entry.rounds + (this_round is not None)
        waited = entry.deadline - entry.created_at
        reason = short(
            f"not delivered within {waited.total_seconds() / 3600:g} h "
            f"({entry.notification.severity.name.lower()}) after {rounds} round(s); "
            f"last error: {this_round or entry.last_error or 'none'}"
        )
        self.store.finish(
            entry, EntryState.EXPIRED, now, reason, rounds=int(this_round is not None)
        )
        self.stats[entry.destination].expired += 1
        log.error("delivery %s: %s expired: %s", entry.destination, entry.notification.key, reason)

    async def _round(self, entry: QueueEntry) -> None:
        destination = entry.destination
        stats = self.stats.setdefault(destination, DestinationStats())
        notification = entry.notification
        if all(not c.open for c in entry.covers) and entry.covers:
            told = self.store.told(c.incident for c in entry.covers)
            if not any((t := told.get((c.incident, destination))) and t.accepted_open
                       for c in entry.covers):  # fmt: skip
                # Alertmanager's rule: no all-clear for an alarm this receiver never got.
                self.store.finish(entry, EntryState.DROPPED, self.clock(),
                                  "the alarm it ends never reached this receiver")  # fmt: skip
                stats.dropped += 1
                log.info("delivery %s: %s dropped (its firing was never accepted here)",
                         destination, notification.key)  # fmt: skip
                return
        notifier = self.notifiers.get(destination.channel)
        stats.attempts += 1
        if notifier is None:
            deliveries: list[Delivery] = []
            state, detail = EntryState.FAILED, f"no {destination.channel} notifier configured"
        else:
            try:
                deliveries = await notifier.send(notification, self.members(destination))
            except Exception as exc:  # a template or a bug: this entry fails, not the worker
                log.exception("delivery %s: sending %s", destination, notification.key)
                deliveries = []
                state, detail = EntryState.FAILED, short(f"{type(exc).__name__}: {exc}")
            else:
                state, detail = round_outcome(deliveries)
        for delivery in deliveries:
            stats.deliveries[delivery.status.value] += 1
        now = self.clock()
        if state is EntryState.QUEUED:
            stats.last_error = detail
            next_at = now + self.settings.backoff(entry.rounds + 1)
            if next_at >= entry.deadline:
                self._expire(entry, now, this_round=detail)
                return
            self.store.retry_later(entry, next_at, detail)
            level = logging.WARNING if entry.rounds == 0 else logging.INFO
            log.log(level, "delivery %s: %s not delivered (round %d), next at %s: %s",
                    destination, notification.key, entry.rounds + 1,
                    next_at.isoformat(timespec="seconds"), detail)  # fmt: skip
            return
        self.store.finish(entry, state, now, detail, rounds=1)
        if state is EntryState.DELIVERED:
            stats.delivered += 1
            if entry.rounds:
                log.info("delivery %s: %s delivered after %d round(s)", destination,
                         notification.key, entry.rounds + 1)  # fmt: skip
        else:
            stats.failed += 1
            stats.last_error = detail
            log.error("delivery %s: %s refused: %s", destination, notification.key, detail)

    def health(self) -> dict[str, Any]:
        """Per receiver and channel: depth, oldest age, rounds, counts, last error; a
        destination whose next entry already failed a round says ``degraded``."""
        now = self.clock()
        depths = self.store.depths()
        out: dict[str, Any] = {}
        for destination in sorted(set(self.destinations) | set(depths)):
            stats = self.stats.get(destination, DestinationStats())
            waiting = depths.get(destination)
            body: dict[str, Any] = {
                "depth": 0 if waiting is None else waiting.depth,
                "oldest_age_s": 0.0
                if waiting is None
                else round(max(0.0, (now - waiting.oldest).total_seconds()), 1),
                "attempts": stats.attempts,
                "delivered": stats.delivered,
                "failed": stats.failed,
                "expired": stats.expired,
                "dropped": stats.dropped,
                "last_error": stats.last_error,
            }
            if waiting is not None and waiting.head_rounds:
                body["degraded"] = (
                    f"{waiting.depth} waiting, the next one not delivered after "
                    f"{waiting.head_rounds} round(s): {waiting.head_error}"
                )
            out.setdefault(destination.receiver, {})[destination.channel] = body
        return out

    def deliveries(self) -> dict[str, int]:
        """Per-target outcomes of every round, by status (the service's former counter)."""
        total: Counter[str] = Counter()
        for stats in self.stats.values():
            total.update(stats.deliveries)
        return dict(total)
