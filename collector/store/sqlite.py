"""SQLite store, the embedded default: WAL, batched transactions, a clustered point table.

Points live in a WITHOUT ROWID table keyed by (series, ts): the key *is* the table, so there is
no separate index to maintain per insert (the reason a rowid table with an index on
(station, param, ts) is several times slower to write), a re-sent point replaces itself, and
"latest of a series" or "a time range of a series" is one b-tree seek.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.schema import UNKNOWN_STATION, StationInfo
from gateway.model import DeviceStatus, Quality, Reading

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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _ms(ts: datetime) -> int:
    return (ts - _EPOCH) // _MS  # exact; float timestamps can be off by a millisecond


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SqliteStore:
    def __init__(self, path: Path, stations: Mapping[str, StationInfo] | None = None) -> None:
        self.path = path
        self.stations_info = dict(stations or {})
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
                "INSERT OR IGNORE INTO series (station, param, unit, kind, district)"
                " VALUES (?, ?, ?, ?, ?)",
                (reading.station, reading.param, reading.unit, info.kind, info.district),
            )
            row = self._writer.execute(
                "SELECT id FROM series WHERE station = ? AND param = ?", key
            ).fetchone()
            sid = int(row[0])
            self._series[key] = sid
        return sid

    def write(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
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
                self._writer.executemany(
                    "INSERT OR REPLACE INTO reading VALUES (?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

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
                "SELECT s.param, s.unit, r.ts, r.value, r.quality, r.status, r.reason"
                " FROM series s JOIN reading r ON r.series = s.id"
                " AND r.ts = (SELECT max(ts) FROM reading WHERE series = s.id)"
                " WHERE s.station = ? ORDER BY s.param",
                (station,),
            ).fetchall()
        return [self._reading(station, row) for row in rows]

    def range(
        self, station: str, param: str, start: datetime, end: datetime, *, limit: int = 10_000
    ) -> list[Reading]:
        with self._reader() as db:
            rows = db.execute(
                "SELECT s.param, s.unit, r.ts, r.value, r.quality, r.status, r.reason"
                " FROM series s JOIN reading r ON r.series = s.id"
                " WHERE s.station = ? AND s.param = ? AND r.ts >= ? AND r.ts < ?"
                " ORDER BY r.ts LIMIT ?",
                (station, param, _ms(start), _ms(end), limit),
            ).fetchall()
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
