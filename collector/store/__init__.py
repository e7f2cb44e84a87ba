"""Time-series stores behind one interface: SQLite (embedded default), InfluxDB, VictoriaMetrics.

Every store writes the schema of ``collector.schema`` (docs/storage.md, "The schema in each
store") and reads it
back as ``Reading`` objects. Stores are synchronous: the collector and the API call them from a
worker thread. Third-party errors are translated at the boundary into ``StoreUnavailable`` (try
again later) or ``StoreRejected`` (the store refused the data; retrying will not help).

``open_store(url, stations)`` picks the store from a URL (docs/storage.md):

- ``sqlite:///var/lib/quantrac/q.sqlite3`` (absolute), ``sqlite://data/q.sqlite3`` (relative)
  or a bare path; ``?retention_days=N`` deletes points older than N days.
- ``influxdb://user:password@host:8086/database`` — InfluxDB 1.x ``/write`` (v1 mode);
  ``?rp=policy`` writes into a retention policy.
- ``influxdb2://host:8086?org=ORG&bucket=BUCKET&token=TOKEN`` — InfluxDB 2.x/3.x (v2 mode).
- ``victoriametrics://host:8428`` — VictoriaMetrics single node.

``+https`` after the scheme (``influxdb2+https://…``) speaks TLS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from collector.schema import DERIVED_PARAMS as DERIVED_PARAMS  # the stores import it here
from gateway.model import DeviceStatus, Quality, Reading

if TYPE_CHECKING:
    from collector.schema import StationInfo
    from collector.store.lines import LineRenderer


@dataclass(frozen=True, slots=True)
class Flags:
    """QC flags beside a batch of readings, parallel to it: they override each reading's own
    quality and reason (the QC chain computes arrays; building new Readings would cost more)."""

    quality: Sequence[int]
    reason: Sequence[str]

    def check(self, readings: Sequence[Reading]) -> None:
        if len(self.quality) != len(readings) or len(self.reason) != len(readings):
            raise ValueError(
                f"flags for {len(self.quality)} qualities and {len(self.reason)} reasons"
                f" beside {len(readings)} readings"
            )


class StoreError(Exception):
    """A store could not do what was asked; the message names the store's URL."""


class StoreUnavailable(StoreError):  # noqa: N818 - says what to do: wait
    """Try again later: connection refused, timeout, 5xx, authentication or database missing
    (a configuration fix brings it back; the data itself is fine)."""


class StoreRejected(StoreError):  # noqa: N818 - says what to do: set aside
    """The store refused the data itself (400 such as a field type conflict, 413): resending
    the same data will fail the same way."""


class ReadingStore(Protocol):
    # Capabilities the contract suite honours (docs/storage.md).
    @property
    def keeps_reason(self) -> bool:
        """Whether the QC reason code comes back (VictoriaMetrics drops string fields)."""

    @property
    def replaces_points(self) -> bool:
        """Whether a point written twice keeps the last write's fields (VictoriaMetrics keeps
        both samples and does not order samples of equal timestamps, so either may come back)."""

    def write(self, readings: Sequence[Reading], flags: Flags | None = None) -> None:
        """Store readings; ``flags`` override their quality and reason. A (station, param, ts)
        written twice is one point."""

    def latest(self, station: str) -> list[Reading]:
        """The newest reading of each parameter of a station, by parameter."""

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
        """Readings of one series with start <= ts < end, oldest first.

        With ``every``, one reading per window (windows aligned to the epoch, ``ts`` = window
        start): the mean of the values whose quality is not BAD, the worst quality and status
        among them, no reason; windows without such a value are left out.
        """

    def stations(self) -> list[str]:
        """Stations that have at least one series, sorted."""

    def close(self) -> None: ...


class LineStore(ReadingStore, Protocol):
    """A remote store that takes InfluxDB line protocol: what ``ForwardingStore`` queues."""

    @property
    def url(self) -> str:
        """Where the store is, without credentials: for logs and error messages."""

    @property
    def renderer(self) -> LineRenderer:
        """Renders readings the way this store wants them (its tags, reason or not)."""

    def write_lines(self, body: str, points: int) -> None:
        """Write ``points`` lines of line protocol (ms precision), already rendered."""


def aggregate(readings: Iterable[Reading], every: timedelta) -> list[Reading]:
    """Per-window means of a series (oldest first), the rule of ``ReadingStore.range``.

    For stores that cannot aggregate themselves; ``readings`` must be sorted by time.
    """
    every_ms = every // timedelta(milliseconds=1)
    if every_ms <= 0:
        raise ValueError(f"aggregation window {every} is shorter than a millisecond")
    out: list[Reading] = []
    window: int | None = None
    used: list[Reading] = []

    def close_window() -> None:
        if used and window is not None:
            last = used[-1]
            out.append(
                Reading(
                    station=last.station,
                    param=last.param,
                    value=math.fsum(r.value for r in used) / len(used),
                    unit=last.unit,
                    ts=_EPOCH + timedelta(milliseconds=window),
                    status=DeviceStatus(max(r.status for r in used)),
                    quality=Quality(max(r.quality for r in used)),
                )
            )

    for reading in readings:
        ms = (reading.ts - _EPOCH) // _MS
        start = ms - ms % every_ms
        if start != window:
            close_window()
            window, used = start, []
        if reading.quality is not Quality.BAD and reading.has_value:
            used.append(reading)
    close_window()
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_SCHEMES = (
    "sqlite:///abs/path.sqlite3, a bare path, influxdb://user:pass@host:8086/db,"
    " influxdb2://host:8086?org=..&bucket=..&token=.., victoriametrics://host:8428"
)


def open_store(
    url: str,
    stations: Mapping[str, StationInfo] | None = None,
    *,
    queue_path: Path | None = None,
    recent_path: Path | None = None,
) -> ReadingStore:
    """The store a URL names (module docstring); nothing is connected yet.

    With ``queue_path``, a remote store is wrapped in a started ``ForwardingStore`` whose
    durable queue lives in that file (ignored for SQLite, which is local already). With
    ``recent_path`` too, reads come from a local copy of the recent days in that file
    (``collector.store.local_first``: the collector's derived series never wait on the remote
    database).
    """
    parts = urlsplit(url)
    scheme, _, transport = parts.scheme.partition("+")
    if transport not in ("", "http", "https"):
        raise ValueError(f"store URL {url!r}: unknown transport {transport!r} (http or https)")
    http = f"{transport or 'http'}://{parts.hostname or '127.0.0.1'}"
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}

    if "://" not in url:  # a bare path
        from collector.store.sqlite import SqliteStore

        return SqliteStore(Path(url), stations)
    if scheme == "sqlite":
        from collector.store.sqlite import SqliteStore

        days = query.get("retention_days")
        return SqliteStore(
            Path(unquote(parts.netloc + parts.path)),
            stations,
            retention_days=float(days) if days else None,
        )

    remote: LineStore
    if scheme == "influxdb":
        from collector.store.influx import InfluxStore

        database = parts.path.strip("/")
        if not database:
            raise ValueError(f"store URL {url!r}: name the database, influxdb://host:8086/db")
        remote = InfluxStore.v1(
            f"{http}:{parts.port or 8086}",
            database,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            retention_policy=query.get("rp"),
            stations=stations,
        )
    elif scheme == "influxdb2":
        from collector.store.influx import InfluxStore

        missing = [key for key in ("org", "bucket", "token") if not query.get(key)]
        if missing:
            raise ValueError(f"store URL {url!r} lacks {', '.join(missing)} (?org=&bucket=&token=)")
        remote = InfluxStore.v2(
            f"{http}:{parts.port or 8086}",
            org=query["org"],
            bucket=query["bucket"],
            token=query["token"],
            stations=stations,
        )
    elif scheme == "victoriametrics":
        from collector.store.victoria import VictoriaStore

        remote = VictoriaStore(f"{http}:{parts.port or 8428}", stations=stations)
    else:
        raise ValueError(f"store URL {url!r}: unknown scheme {parts.scheme!r}; use {_SCHEMES}")

    if queue_path is None:
        return remote
    from collector.forward import ForwardingStore

    forwarding = ForwardingStore(queue_path, remote)
    forwarding.start()
    if recent_path is None:
        return forwarding
    from collector.store.local_first import RECENT_DAYS, LocalFirstStore
    from collector.store.sqlite import SqliteStore

    return LocalFirstStore(
        forwarding, SqliteStore(recent_path, stations, retention_days=RECENT_DAYS)
    )
