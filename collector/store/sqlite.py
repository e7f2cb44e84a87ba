"""SQLite store, the embedded default: WAL, batched transactions, a clustered point table.

Points live in a WITHOUT ROWID table keyed by (series, ts): the key *is* the table, so there is
no separate index to maintain per insert (the reason a rowid table with an index on
(station, param, ts) is several times slower to write), a re-sent point replaces itself, and
"latest of a series" or "a time range of a series" is one b-tree seek. The API's other query,
the series of a station, uses the UNIQUE (station, param) index of ``series``. Retention
deletes per series, by key range, so it needs no index on time either.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.schema import UNKNOWN_STATION, StationInfo
from collector.store import DERIVED_PARAMS, Flags
from collector.store.lines import epoch_ms as _ms
from gateway.model import DeviceStatus, Quality, Reading

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id       INTEGER PRIMARY KEY,
    station  TEXT NOT NULL,
    param    TEXT NOT NULL,
    unit     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    district TEXT NOT NULL,
    derived  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (station, param)
);
CREATE TABLE IF NOT EXISTS reading (
    series  INTEGER NOT NULL REFERENCES series (id),
    ts      INTEGER NOT NULL,            -- milliseconds since the epoch, UTC
    value   REAL,                        -- NULL: the device sent no value
    quality INTEGER NOT NULL,
    status  INTEGER NOT NULL,
    reason  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;
"""

_COLUMNS = "s.param, s.unit, r.ts, r.value, r.quality, r.status, r.reason"
_BAD = int(Quality.BAD)
_PRUNE_EVERY_S = 3600.0


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SqliteStore:
    """The embedded store. ``retention_days``: points older than that are deleted, checked on
    write at most once an hour (``prune`` does it on demand)."""

    keeps_reason = True
    replaces_points = True

    def __init__(
        self,
        path: Path,
        stations: Mapping[str, StationInfo] | None = None,
        *,
        derived_params: Set[str] = DERIVED_PARAMS,
        retention_days: float | None = None,
    ) -> None:
        self.path = path
        self.stations_info = dict(stations or {})
        self.derived_params = derived_params  # may be a rule (schema.DERIVED_PARAMS), not a set
        self.retention = None if retention_days is None else timedelta(days=retention_days)
        self._next_prune = 0.0  # monotonic; the first write prunes
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)
        self._series: dict[tuple[str, str], int] = {
            (station, param): sid
            for sid, station, param in self._writer.execute("SELECT id, station, param FROM series")
        }
        self._readers = threading.local()

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: the writer is used from worker threads, one at a time (lock).
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against process crashes in WAL mode; only a power cut can lose
        # the last transactions, which the gateway's at-least-once resend covers.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        connection: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = self._connect()
            self._readers.connection = connection
        yield connection

    def _series_id(self, reading: Reading) -> int:
        key = (reading.station, reading.param)
        sid = self._series.get(key)
        if sid is None:
            info = self.stations_info.get(reading.station, UNKNOWN_STATION)
            self._writer.execute(
                "INSERT OR IGNORE INTO series (station, param, unit, kind, district, derived)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    reading.station,
                    reading.param,
                    reading.unit,
                    info.kind,
                    info.district,
                    int(reading.param in self.derived_params),
                ),
            )
            row = self._writer.execute(
                "SELECT id FROM series WHERE station = ? AND param = ?", key
            ).fetchone()
            sid = int(row[0])
            self._series[key] = sid
        return sid

    def write(self, readings: Sequence[Reading], flags: Flags | None = None) -> None:
        if not readings:
            return
        if flags is not None:
            flags.check(readings)
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                # One comprehension per case: this loop is the store's whole per-row cost.
                if flags is None:
                    rows = [
                        (
                            self._series_id(r),
                            _ms(r.ts),
                            r.value if r.has_value else None,
                            int(r.quality),
                            int(r.status),
                            r.reason,
                        )
                        for r in readings
                    ]
                else:
                    rows = [
                        (
                            self._series_id(r),
                            _ms(r.ts),
                            r.value if r.has_value else None,
                            quality,
                            int(r.status),
                            reason,
                        )
                        for r, quality, reason in zip(
                            readings, flags.quality, flags.reason, strict=True
                        )
                    ]
                self._writer.executemany(
                    "INSERT OR REPLACE INTO reading VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")
        if self.retention is not None and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + _PRUNE_EVERY_S
            deleted = self.prune(datetime.now(UTC) - self.retention)
            if deleted:
                log.info("retention: deleted %d points older than %s", deleted, self.retention)

    def prune(self, older_than: datetime) -> int:
        """Delete the points with ts < ``older_than``; how many were deleted.

        One short transaction per series (a key-range delete), so writes are never held up
        for long even when years of points go.
        """
        cutoff = _ms(older_than)
        deleted = 0
        with self._write_lock:
            series = [row[0] for row in self._writer.execute("SELECT id FROM series")]
        for sid in series:
            with self._write_lock:
                cursor = self._writer.execute(
                    "DELETE FROM reading WHERE series = ? AND ts < ?", (sid, cutoff)
                )
                deleted += cursor.rowcount
        return deleted

    @staticmethod
    def _reading(station: str, row: tuple[str, str, int, float | None, int, int, str]) -> Reading:
        param, unit, ts, value, quality, status, reason = row
        return Reading(
            station=station,
            param=param,
            value=math.nan if value is None else value,
            unit=unit,
            ts=_from_ms(ts),
            status=DeviceStatus(status),
            quality=Quality(quality),
            reason=reason,
        )

    def latest(self, station: str) -> list[Reading]:
        with self._reader() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM series s JOIN reading r ON r.series = s.id"
                " AND r.ts = (SELECT max(ts) FROM reading WHERE series = s.id)"
                " WHERE s.station = ? ORDER BY s.param",
                (station,),
            ).fetchall()
        return [self._reading(station, row) for row in rows]

    def latest_all(self) -> dict[str, list[Reading]]:
        """``latest`` of every station in one query, by station: the IOC board's first paint
        (a thousand stations cost a third of a thousand queries' time)."""
        with self._reader() as db:
            rows = db.execute(
                f"SELECT s.station, {_COLUMNS} FROM series s JOIN reading r ON r.series = s.id"
                " AND r.ts = (SELECT max(ts) FROM reading WHERE series = s.id)"
                " ORDER BY s.station, s.param"
            ).fetchall()
        found: dict[str, list[Reading]] = {}
        for station, *row in rows:
            found.setdefault(station, []).append(self._reading(station, tuple(row)))
        return found

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
        where = "WHERE s.station = ? AND s.param = ? AND r.ts >= ? AND r.ts < ?"
        if every is None:
            sql = f"SELECT {_COLUMNS} FROM series s JOIN reading r ON r.series = s.id {where}"
            sql += " ORDER BY r.ts LIMIT ?"
            arguments: tuple[object, ...] = (station, param, _ms(start), _ms(end), limit)
        else:
            every_ms = every // timedelta(milliseconds=1)
            if every_ms <= 0:
                raise ValueError(f"aggregation window {every} is shorter than a millisecond")
            # Windows aligned to the epoch; points before 1970 would need a floor modulo.
            sql = (
                "SELECT s.param, s.unit, r.ts - r.ts % ? AS w, avg(r.value), max(r.quality),"
                f" max(r.status), '' FROM series s JOIN reading r ON r.series = s.id {where}"
                " AND r.quality != ? AND r.value IS NOT NULL GROUP BY w ORDER BY w LIMIT ?"
            )
            arguments = (every_ms, station, param, _ms(start), _ms(end), _BAD, limit)
        with self._reader() as db:
            rows = db.execute(sql, arguments).fetchall()
        return [self._reading(station, row) for row in rows]

    def stations(self) -> list[str]:
        with self._reader() as db:
            return [row[0] for row in db.execute("SELECT DISTINCT station FROM series ORDER BY 1")]

    def count(self) -> int:
        with self._reader() as db:
            return int(db.execute("SELECT count(*) FROM reading").fetchone()[0])

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        connection = getattr(self._readers, "connection", None)
        if connection is not None:
            connection.close()
