"""The delivery queues' file: entries per destination and what each destination was told.

SQLite beside the notification log (``synchronous=FULL``): an entry is written before anything
is sent, so a crash loses no message (alerting.delivery explains the rules it keeps).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from alerting.delivery import (
    Covered,
    Destination,
    EntryState,
    QueueEntry,
    Told,
)
from alerting.incidents import locked_transaction
from alerting.model import (
    AlertKind,
    Notification,
    NotificationState,
    Severity,
)

log = logging.getLogger(__name__)


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

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return locked_transaction(self._db, self._lock)

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


