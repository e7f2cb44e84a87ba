"""The collector's store when the readings go to a remote database: a local copy first.

The collector derives series from what it stored (rain totals over 24 h, hourly means, the
NowCast's 12 hours, the daily VN_AQI's 32 hours). Read from InfluxDB or VictoriaMetrics, those
reads sit inside the write path: with the database down, the collector stopped storing and
stopped publishing the clean stream — and every warning with it. So the collector keeps the
recent days in a local SQLite file (``recent.sqlite3`` beside the forward queue, pruned after
``retention_days``) and reads only that; the remote database gets the same points through the
durable forward queue (``collector.forward``) whenever it answers. The collector's hot path
touches the local disk only. The API and Grafana read the remote database.

The local copy is written first: if the forward queue then fails (its disk), the collector
retries the flush, and writing the local copy again is harmless (a point is replaced), whereas
queueing the same points twice would make duplicate samples on VictoriaMetrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from collector.forward import ForwardHealth, ForwardingStore
from collector.store import Flags
from collector.store.sqlite import SqliteStore
from gateway.model import Reading

# Long enough for every derivation (32 h for the daily VN_AQI) and for a late logger's backlog
# of a day to recompute its hours.
RECENT_DAYS = 3.0


class LocalFirstStore:
    """A ``ReadingStore``: writes to a local SQLite copy, then to the forward queue; reads the
    local copy."""

    def __init__(self, remote: ForwardingStore, local: SqliteStore) -> None:
        self.remote = remote
        self.local = local

    @property
    def keeps_reason(self) -> bool:
        return self.local.keeps_reason

    @property
    def replaces_points(self) -> bool:
        return self.local.replaces_points

    def write(self, readings: Sequence[Reading], flags: Flags | None = None) -> None:
        self.local.write(readings, flags)
        self.remote.write(readings, flags)

    def latest(self, station: str) -> list[Reading]:
        return self.local.latest(station)

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
        return self.local.range(station, param, start, end, every=every, limit=limit)

    def stations(self) -> list[str]:
        return self.local.stations()

    def health(self) -> ForwardHealth:
        """The forward queue's state: the remote database is where the data must end up."""
        return self.remote.health()

    def close(self) -> None:
        try:
            self.remote.close()
        finally:
            self.local.close()
