"""Time-series stores behind one interface: SQLite (embedded default); InfluxDB comes next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.model import Reading


class ReadingStore(Protocol):
    def write(self, readings: Sequence[Reading]) -> None:
        """Store readings; a (station, param, ts) written twice keeps the last value."""

    def latest(self, station: str) -> list[Reading]:
        """The newest reading of each parameter of a station."""

    def range(
        self, station: str, param: str, start: datetime, end: datetime, *, limit: int = 10_000
    ) -> list[Reading]:
        """Readings of one series with start <= ts < end, oldest first."""

    def stations(self) -> list[str]:
        """Stations that have at least one series."""

    def close(self) -> None: ...
