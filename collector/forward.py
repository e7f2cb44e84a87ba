"""Durable forwarding to a remote store: readings are queued on local disk, then sent in order.

``ForwardingStore`` is a ``ReadingStore``: ``write`` renders the readings as line protocol and
appends them, in chunks, to a SQLite (WAL) queue file, and returns — the collector's flush
does not wait for InfluxDB, and an outage of hours loses nothing. A background thread sends the
chunks oldest first; while the remote store is unavailable it retries the oldest chunk with
exponential backoff, so the order is kept and the backlog is replayed when it returns.

- The queue is bounded (``max_points``): past it, the oldest chunks are dropped, counted and
  logged — a disk full of backlog must not stop the collector.
- A chunk the store refuses (``StoreRejected``: a field type conflict…) is split in halves and
  retried, down to the lines that are refused alone; those go to a dead-letter table, counted,
  and the queue moves on.
- Reads (``latest``, ``range``, ``stations``) go to the remote store.
- A point sent twice (a crash between sending and deleting) is one point in the store.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from collector.store import Flags, LineStore, StoreRejected, StoreUnavailable
from gateway.model import Reading

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the sending order
    created REAL NOT NULL,                      -- unix time the chunk was queued
    points  INTEGER NOT NULL,
    body    BLOB NOT NULL                       -- zlib of the line protocol
);
CREATE TABLE IF NOT EXISTS dead_letter (
    id      INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    failed  REAL NOT NULL,
    points  INTEGER NOT NULL,
    error   TEXT NOT NULL,
    body    TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ForwardHealth:
    remote: str
    backlog_points: int
    backlog_chunks: int
    oldest_age_s: float | None  # age of the oldest queued chunk; None when the queue is empty
    sent_points: int
    dropped_points: int  # dropped because the queue was full (this process)
    dead_letter_points: int  # refused by the store (all time, from the queue file)
    failures: int  # failed sends (this process)
    last_error: str
    warning: str  # the remote's configuration breaks the contract (VictoriaMetrics: no dedup)
    # Why the points do not reach the remote store now ("" while they do): the store is down,
    # or the queue had to drop points.
    degraded: str = ""

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if not self.degraded:
            del body["degraded"]  # only a degraded component carries the key (quantrac.health)
        return body


class ForwardingStore:
    """A durable queue in front of a ``LineStore`` (``collector.store.influx`` / ``victoria``).

    ``start()`` starts the sending thread, ``close()`` stops it; what is still queued stays in
    ``queue_path`` and is sent by the next ``ForwardingStore`` on that file.
    """

    def __init__(
        self,
        queue_path: Path,
        remote: LineStore,
        *,
        max_points: int = 5_000_000,
        chunk_points: int = 5_000,
        min_backoff_s: float = 0.5,
        max_backoff_s: float = 5.0,  # a store back after an outage is found within seconds
    ) -> None:
        if chunk_points <= 0 or max_points < chunk_points:
            raise ValueError(f"need 0 < chunk_points ({chunk_points}) <= max_points ({max_points})")
        self.queue_path = queue_path
        self.remote = remote
        self.max_points = max_points
        self.chunk_points = chunk_points
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        queue_path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used under the lock by writers and by the sending thread; the lock
        # is never held while talking to the remote store.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(queue_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: durable against a crash of the process (WAL); a power cut can lose the last
        # transactions, as for the SQLite store.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        points, chunks = self._db.execute(
            "SELECT coalesce(sum(points), 0), count(*) FROM chunk"
        ).fetchone()
        self._backlog_points: int = points
        self._backlog_chunks: int = chunks
        self._dead_letter_points: int = self._db.execute(
            "SELECT coalesce(sum(points), 0) FROM dead_letter"
        ).fetchone()[0]
        self._inflight: int | None = None  # the chunk being sent: never dropped meanwhile
        self._sent = 0
        self._dropped = 0
        self._failures = 0
        self._last_error = ""
        self._failing = False  # the remote store refuses or does not answer, now
        self._config_checked = False
        self.warning = ""  # a problem in the remote's configuration (e.g. no deduplication)
        self._last_drop_log = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if chunks:
            log.info("forward queue %s: %d points in %d chunks to send", queue_path, points, chunks)

    # -- the ReadingStore interface

    @property
    def keeps_reason(self) -> bool:
        return self.remote.keeps_reason

    @property
    def replaces_points(self) -> bool:
        return self.remote.replaces_points

    def write(self, readings: Sequence[Reading], flags: Flags | None = None) -> None:
        """Queue the readings (durably) and return; they are sent in the background."""
        if not readings:
            return
        lines = self.remote.renderer.render(readings, flags)
        now = time.time()
        rows = [
            (now, len(part), zlib.compress("\n".join(part).encode(), 1))
            for part in (
                lines[i : i + self.chunk_points] for i in range(0, len(lines), self.chunk_points)
            )
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO chunk (created, points, body) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._backlog_points += len(lines)
            self._backlog_chunks += len(rows)
            if self._backlog_points > self.max_points:
                self._drop_oldest()
        self._wake.set()

    def latest(self, station: str) -> list[Reading]:
        return self.remote.latest(station)

    def range(
        self,
        station: str,
        param: str,
        start: datetime,
        end: datetime,
        *,
        every: timedelta | None = None,
        limit: int = 10_000,
    ) -> list[Reading]:
        return self.remote.range(station, param, start, end, every=every, limit=limit)

    def stations(self) -> list[str]:
        return self.remote.stations()

    # -- the queue

    def _drop_oldest(self) -> None:
        """Under the lock: drop whole chunks, oldest first, until the backlog fits."""
        dropped = chunks = 0
        rows = self._db.execute(
            "SELECT id, points FROM chunk WHERE id IS NOT ? ORDER BY id", (self._inflight,)
        )
        doomed = []
        for chunk_id, points in rows:
            if self._backlog_points - dropped <= self.max_points:
                break
            doomed.append((chunk_id,))
            dropped += points
            chunks += 1
        self._db.executemany("DELETE FROM chunk WHERE id = ?", doomed)
        self._backlog_points -= dropped
        self._backlog_chunks -= chunks
        self._dropped += dropped
        # Every drop is counted; the log says so at most once a minute.
        if time.monotonic() - self._last_drop_log >= 60.0:
            self._last_drop_log = time.monotonic()
            log.warning(
                "forward queue full (%d points): dropped the oldest %d points; %d dropped so far",
                self.max_points,
                dropped,
                self._dropped,
            )

    def _oldest(self) -> tuple[int, int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, points, body FROM chunk ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            self._inflight = int(row[0])
        return int(row[0]), int(row[1]), zlib.decompress(row[2]).decode()

    def _done(self, chunk_id: int, points: int) -> None:
        with self._lock:
            self._inflight = None
            if self._db.execute("DELETE FROM chunk WHERE id = ?", (chunk_id,)).rowcount:
                self._backlog_points -= points
                self._backlog_chunks -= 1

    def _dead_letter(self, chunk_id: int, lines: list[str], error: StoreRejected) -> None:
        with self._lock:
            created = self._db.execute(
                "SELECT created FROM chunk WHERE id = ?", (chunk_id,)
            ).fetchone()
            self._db.execute(
                "INSERT INTO dead_letter (created, failed, points, error, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    created[0] if created else time.time(),
                    time.time(),
                    len(lines),
                    str(error),
                    "\n".join(lines),
                ),
            )
            self._dead_letter_points += len(lines)
        log.error(
            "%d points refused by %s, set aside in the dead-letter table: %s",
            len(lines),
            self.remote.url,
            error,
        )

    def _send(self, chunk_id: int, lines: list[str]) -> int:
        """Send lines; a refused part is halved until the refused lines are alone, and those
        are dead-lettered. How many points were accepted. ``StoreUnavailable`` propagates:
        the chunk stays queued whole (resending what went through is harmless)."""
        try:
            self.remote.write_lines("\n".join(lines), len(lines))
            return len(lines)
        except StoreRejected as exc:
            if len(lines) == 1:
                self._dead_letter(chunk_id, lines, exc)
                return 0
            half = len(lines) // 2
            return self._send(chunk_id, lines[:half]) + self._send(chunk_id, lines[half:])

    def _check_remote(self) -> None:
        """Once, when the remote first answers: is it configured to keep the contract?"""
        check = getattr(self.remote, "configuration_problem", None)
        if callable(check):
            self.warning = str(check())
            if self.warning:
                log.warning("%s", self.warning)
        self._config_checked = True

    def send_one(self) -> bool:
        """Send the oldest chunk; False when the queue is empty. ``StoreUnavailable`` (and
        anything unexpected) propagates and leaves the chunk queued."""
        if not self._config_checked:
            self._check_remote()
        oldest = self._oldest()
        if oldest is None:
            return False
        chunk_id, points, body = oldest
        try:
            sent = self._send(chunk_id, body.split("\n"))
        except BaseException:
            with self._lock:
                self._inflight = None
            raise
        self._done(chunk_id, points)
        self._sent += sent
        return True

    def _run(self) -> None:
        delay = self.min_backoff_s
        failing = False
        while not self._stop.is_set():
            try:
                if not self.send_one():
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
            except Exception as exc:
                # StoreUnavailable, or a bug: either way the chunk stays queued, nothing lost.
                self._failures += 1
                self._last_error = str(exc)
                level = logging.DEBUG if failing else logging.ERROR
                if not isinstance(exc, StoreUnavailable):
                    level = logging.ERROR
                log.log(
                    level,
                    "forwarding to %s failed (%d points queued), retrying in %.1f s: %s",
                    self.remote.url,
                    self._backlog_points,
                    delay,
                    exc,
                    exc_info=not isinstance(exc, StoreUnavailable),
                )
                failing = self._failing = True
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if failing:
                log.info(
                    "forwarding to %s works again; %d points to replay",
                    self.remote.url,
                    self._backlog_points,
                )
                failing = self._failing = False
            delay = self.min_backoff_s

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="forward", daemon=True)
            self._thread.start()

    def flush(self, timeout_s: float) -> bool:
        """Wait until the queue is empty (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self._backlog_chunks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def health(self) -> ForwardHealth:
        with self._lock:
            oldest = self._db.execute("SELECT min(created) FROM chunk").fetchone()[0]
            degraded = ""
            if self._failing:
                degraded = (
                    f"{self.remote.url} unavailable ({self._last_error}); "
                    f"{self._backlog_points} points queued"
                )
            elif self._dropped:
                degraded = f"forward queue full: {self._dropped} points dropped"
            return ForwardHealth(
                remote=self.remote.url,
                backlog_points=self._backlog_points,
                backlog_chunks=self._backlog_chunks,
                oldest_age_s=None if oldest is None else max(0.0, time.time() - oldest),
                sent_points=self._sent,
                dropped_points=self._dropped,
                dead_letter_points=self._dead_letter_points,
                failures=self._failures,
                last_error=self._last_error,
                warning=self.warning,
                degraded=degraded,
            )

    def close(self, timeout_s: float = 15.0) -> None:
        """Stop sending (what is queued stays in the file), close the queue and the remote.

        A send under way is waited for up to ``timeout_s``; past that the thread is left to
        end with the process (it is a daemon) and the queue file is left open for it — a
        chunk it then sends again is one point twice, which the store keeps once.
        """
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning(
                    "forwarding to %s still busy after %.0f s; queue %s left to the process exit",
                    self.remote.url,
                    timeout_s,
                    self.queue_path,
                )
                return
        with self._lock:
            self._db.close()
        self.remote.close()
