"""The notification log: every attempt, its outcome, and the dead letters (SQLite, WAL).

The delivery queues (alerting.delivery) keep their entries in the same file: a message that
failed after its retries is still queued there, and retried, until delivered or expired.

It is the audit trail (what was sent to whom, when, and what the provider answered) and what
makes sending idempotent across restarts: ``already_sent(key, channel, recipient)`` is checked
before every delivery, so a restarted alerting service that rebuilds its notifications does not
text the disaster committee twice. The window that remains is a crash after the provider
accepted a message and before its row was written: delivery is at least once, never "at most".
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from alerting.model import Delivery, DeliveryStatus, Notification

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,               -- ISO 8601 UTC, when the attempt ended
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,        -- the address: phone 84…, email, endpoint URL
    recipient_name TEXT NOT NULL,
    key TEXT NOT NULL,              -- the notification's idempotency key
    title TEXT NOT NULL,
    attempt INTEGER NOT NULL,       -- 1, 2, … (0: not attempted, e.g. no phone number)
    status TEXT NOT NULL,           -- sent | retry | failed
    exhausted INTEGER NOT NULL,     -- 1: a retry whose budget was spent (dead letter)
    detail TEXT NOT NULL,           -- the provider's answer
    provider_id TEXT NOT NULL       -- the provider's message id
);
CREATE INDEX IF NOT EXISTS attempts_key ON attempts (key, channel, recipient);
"""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One attempt as the log keeps it."""

    id: int
    ts: datetime
    channel: str
    recipient: str
    recipient_name: str
    key: str
    title: str
    attempt: int
    status: DeliveryStatus
    exhausted: bool
    detail: str
    provider_id: str


_COLUMNS = (
    "id, ts, channel, recipient, recipient_name, key, title, attempt, status, exhausted, "
    "detail, provider_id"
)


def _entry(row: tuple[object, ...]) -> LogEntry:
    (id_, ts, channel, recipient, name, key, title, attempt, status, exhausted, detail, pid) = row
    return LogEntry(
        id=int(str(id_)),
        ts=datetime.fromisoformat(str(ts)),
        channel=str(channel),
        recipient=str(recipient),
        recipient_name=str(name),
        key=str(key),
        title=str(title),
        attempt=int(str(attempt)),
        status=DeliveryStatus(str(status)),
        exhausted=bool(exhausted),
        detail=str(detail),
        provider_id=str(pid),
    )


class NotificationLog:
    """The log in one SQLite file. Safe to share between the event loop and worker threads
    (the email notifier's SMTP thread never writes; a lock guards the connection anyway)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit: each attempt is its own transaction, written before the next one starts.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a "sent" row that a power cut could lose would mean a second SMS after restart;
        # the log writes a few rows a minute, so the extra fsync costs nothing that matters.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> NotificationLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(
        self,
        notification: Notification,
        delivery: Delivery,
        *,
        attempt: int,
        exhausted: bool = False,
        recipient_name: str = "",
        ts: datetime | None = None,
    ) -> None:
        when = (ts or datetime.now(UTC)).astimezone(UTC).isoformat()
        with self._lock:
            self._db.execute(
                "INSERT INTO attempts (ts, channel, recipient, recipient_name, key, title, "
                "attempt, status, exhausted, detail, provider_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    when,
                    delivery.channel,
                    delivery.recipient,
                    recipient_name,
                    notification.key,
                    notification.title,
                    attempt,
                    delivery.status.value,
                    int(exhausted),
                    delivery.detail,
                    delivery.provider_id,
                ),
            )

    def already_sent(self, key: str, channel: str, recipient: str) -> bool:
        """Whether this notification already reached this recipient on this channel."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM attempts WHERE key = ? AND channel = ? AND recipient = ? "
                "AND status = 'sent' LIMIT 1",
                (key, channel, recipient),
            ).fetchone()
        return row is not None

    def settled(self, key: str, channel: str, recipient: str) -> LogEntry | None:
        """The attempt that settled this notification for this recipient, if one did: a SENT
        one, or else a FAILED one (a refusal, never retried: a second round of the delivery
        queue must not send again what the provider may have taken, nor ask again where it
        was refused). Exhausted retries settle nothing: the queue tries again."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM attempts WHERE key = ? AND channel = ? "
                "AND recipient = ? AND status IN ('sent', 'failed') "
                "ORDER BY status = 'sent' DESC, id LIMIT 1",
                (key, channel, recipient),
            ).fetchone()
        return _entry(row) if row else None

    def entries(self, key: str | None = None, channel: str | None = None) -> list[LogEntry]:
        """Every attempt, oldest first; only one notification's or one channel's if given."""
        where, params = [], []
        if key is not None:
            where.append("key = ?")
            params.append(key)
        if channel is not None:
            where.append("channel = ?")
            params.append(channel)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM attempts{clause} ORDER BY id", params
            ).fetchall()
        return [_entry(row) for row in rows]

    def dead_letters(self) -> list[LogEntry]:
        """What failed for good: FAILED answers and retries whose budget was spent, unless a
        later attempt (a resend after the provider came back) reached the same recipient."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM attempts AS a "
                "WHERE (a.status = 'failed' OR (a.status = 'retry' AND a.exhausted = 1)) "
                "AND NOT EXISTS (SELECT 1 FROM attempts AS s WHERE s.key = a.key "
                "AND s.channel = a.channel AND s.recipient = a.recipient AND s.status = 'sent') "
                "ORDER BY a.id"
            ).fetchall()
        return [_entry(row) for row in rows]
