"""The durable queue of TT10 forwarding: readings by station and interval, and the files made
of them, in one SQLite file (WAL) — the gateway's outbox's ideas, for files (docs/tt10.md).

- Readings are kept per (station, interval, parameter), the newest reading of the interval
  winning; a reading sent again unchanged (an outbox resend, a file re-sent) changes nothing.
- An interval is *sealed* once it is over (and a little more, for late polls): its readings
  become a file, queued. A reading that arrives for a sealed interval re-opens it: the next
  seal makes its file again, whole, replacing the queued one if it was not sent yet, or queued
  after it to be sent again if it was — never two different files sent under one name with
  less in the second.
- Files leave in their order per station; one is marked sent only once the receiver took it
  (at least once: a crash between the two sends it again, the same bytes under the same name,
  which the receiver overwrites — the gateway's own endpoint also recognises the content).
- Every change is one transaction: what arrived together (a group) costs one commit.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    station TEXT NOT NULL,
    slot    INTEGER NOT NULL,             -- the interval's start, ms since the epoch, UTC
    param   TEXT NOT NULL,
    ts      INTEGER NOT NULL,             -- the reading's own time, ms
    value   REAL NOT NULL,
    unit    TEXT NOT NULL,
    status  INTEGER NOT NULL,
    filed   INTEGER NOT NULL DEFAULT 0,   -- 1: in the interval's newest file
    PRIMARY KEY (station, slot, param)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reading_open ON reading (filed, slot);
CREATE TABLE IF NOT EXISTS file (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order files are sent in
    station  TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    name     TEXT NOT NULL,
    content  BLOB NOT NULL,
    sha256   TEXT NOT NULL,
    made     REAL NOT NULL,
    sent     REAL,                        -- when the receiver took it
    attempts INTEGER NOT NULL DEFAULT 0,
    error    TEXT NOT NULL DEFAULT '',    -- the last failure
    rejected INTEGER NOT NULL DEFAULT 0   -- 1: refused for good by the receiver
);
CREATE INDEX IF NOT EXISTS file_queue ON file (station, id) WHERE sent IS NULL AND rejected = 0;
CREATE INDEX IF NOT EXISTS file_slot ON file (station, slot);
"""

# (station, slot ms, param, ts ms, value, unit, status)
Row = tuple[str, int, str, int, float, str, int]
# The file of one station's interval, made from its readings: (name, content), or None for
# an interval with nothing TT10 can carry.
MakeFile = Callable[[str, int, list[Row]], tuple[str, bytes] | None]


@dataclass(frozen=True, slots=True)
class QueuedFile:
    id: int
    station: str
    slot: int
    name: str
    content: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueState:
    open_readings: int  # not yet in a file
    queued: int  # files waiting to be sent
    oldest_queued: float | None  # when the oldest waiting file was made (unix s)
    sent: int
    rejected: int


class ForwardQueue:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a file marked sent must stay marked after a power cut, or it goes twice.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(self, rows: Sequence[Row]) -> None:
        """Keep readings (one transaction). The newest of an interval wins; the same reading
        again is no change, so it makes no new file."""
        if not rows:
            return
        self._write(
            lambda db: db.executemany(
                "INSERT INTO reading (station, slot, param, ts, value, unit, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, slot, param) DO UPDATE SET "
                "ts = excluded.ts, value = excluded.value, unit = excluded.unit, "
                "status = excluded.status, filed = 0 "
                "WHERE excluded.ts > reading.ts OR (excluded.ts = reading.ts AND "
                "(excluded.value != reading.value OR excluded.status != reading.status "
                "OR excluded.unit != reading.unit))",
                rows,
            )
        )

    def seal(self, before_ms: int, make_file: MakeFile, now: float | None = None) -> int:
        """Make the files of the intervals starting before ``before_ms`` that have readings not
        in a file yet; how many files were queued or replaced."""
        made = 0

        def work(db: sqlite3.Connection) -> None:
            nonlocal made
            due = db.execute(
                "SELECT DISTINCT station, slot FROM reading WHERE filed = 0 AND slot < ? "
                "ORDER BY slot, station",
                (before_ms,),
            ).fetchall()
            for station, slot in due:
                rows = db.execute(
                    "SELECT station, slot, param, ts, value, unit, status FROM reading "
                    "WHERE station = ? AND slot = ? ORDER BY param",
                    (station, slot),
                ).fetchall()
                made += self._file(db, station, slot, make_file(station, slot, rows), now)
                db.execute(
                    "UPDATE reading SET filed = 1 WHERE station = ? AND slot = ?", (station, slot)
                )

        self._write(work)
        return made

    @staticmethod
    def _file(
        db: sqlite3.Connection,
        station: str,
        slot: int,
        made: tuple[str, bytes] | None,
        now: float | None,
    ) -> int:
        if made is None:
            return 0
        name, content = made
        digest = hashlib.sha256(content).hexdigest()
        last = db.execute(
            "SELECT id, sha256, sent, rejected FROM file WHERE station = ? AND slot = ? "
            "ORDER BY id DESC LIMIT 1",
            (station, slot),
        ).fetchone()
        if last is not None and last[1] == digest:
            return 0  # the receiver has (or will get) exactly this
        when = time.time() if now is None else now
        if last is not None and last[2] is None and not last[3]:
            db.execute(
                "UPDATE file SET name = ?, content = ?, sha256 = ?, made = ? WHERE id = ?",
                (name, content, digest, when, last[0]),
            )  # not sent yet: the fuller file takes its place in the queue
            return 1
        db.execute(
            "INSERT INTO file (station, slot, name, content, sha256, made) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (station, slot, name, content, digest, when),
        )
        return 1

    def heads(self) -> list[QueuedFile]:
        """The next file of each station, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, station, slot, name, content, attempts FROM file WHERE id IN "
                "(SELECT min(id) FROM file WHERE sent IS NULL AND rejected = 0 GROUP BY station) "
                "ORDER BY id"
            ).fetchall()
        return [QueuedFile(*row) for row in rows]

    def sent(self, file_id: int, now: float | None = None) -> None:
        when = time.time() if now is None else now
        self._write(lambda db: db.execute("UPDATE file SET sent = ? WHERE id = ?", (when, file_id)))

    def failed(self, file_id: int, error: str, *, rejected: bool = False) -> None:
        self._write(
            lambda db: db.execute(
                "UPDATE file SET attempts = attempts + 1, error = ?, rejected = ? WHERE id = ?",
                (error[:500], int(rejected), file_id),
            )
        )

    def prune(self, before_ms: int, sent_before: float) -> None:
        """Forget filed readings of intervals before ``before_ms`` and files sent before
        ``sent_before`` (kept a while: a late reading re-makes its interval's file whole)."""

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM reading WHERE filed = 1 AND slot < ?", (before_ms,))
            db.execute("DELETE FROM file WHERE sent IS NOT NULL AND sent < ?", (sent_before,))

        self._write(work)

    def state(self) -> QueueState:
        with self._lock:
            open_readings = self._db.execute(
                "SELECT count(*) FROM reading WHERE filed = 0"
            ).fetchone()[0]
            queued, oldest = self._db.execute(
                "SELECT count(*), min(made) FROM file WHERE sent IS NULL AND rejected = 0"
            ).fetchone()
            sent = self._db.execute("SELECT count(*) FROM file WHERE sent IS NOT NULL").fetchone()
            rejected = self._db.execute("SELECT count(*) FROM file WHERE rejected = 1").fetchone()
        return QueueState(int(open_readings), int(queued), oldest, int(sent[0]), int(rejected[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()
