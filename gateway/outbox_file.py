"""The outbox's file: batches kept until a collector's receipt covers them (gateway.outbox).

SQLite in WAL mode with ``synchronous=FULL``: a batch the poller was told is kept survives a
power cut too. The writer connection is used by one worker thread at a time (a transaction
spans several calls); reads go through their own connection, which WAL lets run beside a
commit, so the sender and health never wait for an fsync. Everything here is I/O; what to
write, when, and what it means is the outbox's.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    size    INTEGER NOT NULL,
    created REAL NOT NULL,
    sent_at REAL,                -- unused since sends are tracked in memory; kept for old files
    sends   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Row = tuple[int, str, bytes, float]  # seq, topic, payload, created
Stored = tuple[int, str, bytes]  # seq, topic, payload


@dataclass
class Committed:
    """What one transaction did."""

    removed: int = 0  # receipted batches deleted
    dropped: int = 0  # oldest batches dropped because the file was over its size
    dropped_upto: int = 0  # … every batch up to this number


class OutboxFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._reader_lock = threading.Lock()
        self.epoch = self._meta("epoch") or self._new_epoch()
        self.dropped = int(self._meta("dropped") or 0)  # kept across restarts
        self.max_row = int(self._db.execute("SELECT max(seq) FROM outbox").fetchone()[0] or 0)
        self.last_seq = max(int(self._meta("last_seq") or 0), self.max_row)
        self.bytes = int(
            self._db.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0]
        )

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: object) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def _new_epoch(self) -> str:
        epoch = uuid.uuid4().hex[:12]
        self._set_meta("epoch", epoch)
        return epoch

    def commit(
        self,
        rows: Sequence[Row],
        deletes: Sequence[tuple[int, int]],
        last_seq: int,
        max_bytes: int,
    ) -> Committed:
        """One transaction (one fsync): the new rows, the receipted ranges deleted, and past
        ``max_bytes`` the oldest rows dropped down to 90 % of it. Raises what the disk said,
        rolled back."""
        with self._lock:
            db = self._db
            done = Committed()
            freed = 0
            try:
                db.execute("BEGIN IMMEDIATE")
                if rows:
                    db.executemany(
                        "INSERT OR REPLACE INTO outbox (seq, topic, payload, size, created)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [(seq, topic, data, len(data), at) for seq, topic, data, at in rows],
                    )
                    self._set_meta("last_seq", max(max(row[0] for row in rows), last_seq))
                for first, last in deletes:
                    size, count = db.execute(
                        "SELECT coalesce(sum(size), 0), count(*) FROM outbox"
                        " WHERE seq BETWEEN ? AND ?",
                        (first, last),
                    ).fetchone()
                    if count:
                        db.execute("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (first, last))
                    freed += int(size)
                    done.removed += int(count)
                size_now = self.bytes + sum(len(row[2]) for row in rows) - freed
                if size_now > max_bytes:
                    size_now = self._drop_oldest(size_now, max_bytes, done)
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            self.bytes = size_now
            self.dropped += done.dropped
            return done

    def _drop_oldest(self, size_now: int, max_bytes: int, done: Committed) -> int:
        """Oldest first, down to 90 % of ``max_bytes``: newest data matters most in a flood."""
        while size_now > max_bytes * 0.9:
            rows = self._db.execute(
                "SELECT seq, size FROM outbox ORDER BY seq LIMIT 100"
            ).fetchall()
            if not rows:
                break
            for seq, size in rows:
                size_now -= size
                done.dropped += 1
                done.dropped_upto = seq
                if size_now <= max_bytes * 0.9:
                    break
            self._db.execute("DELETE FROM outbox WHERE seq <= ?", (done.dropped_upto,))
        self._set_meta("dropped", self.dropped + done.dropped)
        return size_now

    def unsent(self, after: int, limit: int) -> list[Stored]:
        """The first rows beyond number ``after``. Reads only: works on a full disk."""
        with self._reader_lock:
            rows = self._reader.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(int(seq), str(topic), bytes(payload)) for seq, topic, payload in rows]

    def rows(self, seqs: Sequence[int]) -> list[Stored]:
        """Those of these numbers still on disk, in order."""
        if not seqs:
            return []
        marks = ",".join("?" * len(seqs))
        with self._reader_lock:
            rows = self._reader.execute(
                f"SELECT seq, topic, payload FROM outbox WHERE seq IN ({marks}) ORDER BY seq",
                list(seqs),
            ).fetchall()
        return [(int(seq), str(topic), bytes(payload)) for seq, topic, payload in rows]

    def backlog(self) -> tuple[int, float | None]:
        """(rows, creation time of the oldest)."""
        with self._reader_lock:
            count, oldest = self._reader.execute(
                "SELECT count(*), min(created) FROM outbox"
            ).fetchone()
        return int(count), None if oldest is None else float(oldest)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._reader_lock:
            self._reader.close()
