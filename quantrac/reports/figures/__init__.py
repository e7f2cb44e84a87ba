"""A report's figures, pure: from series (readings, hourly means) to numbers, no I/O.

One module per section of the report — ``air`` (VN_AQI, QCVN 05:2023), ``water`` (VN_WQI,
QCVN 08:2023), ``hydromet`` (crests and BĐ levels, rain, wind), ``warnings`` (incidents and
messages), ``quality`` (completeness, QC flags). Every index and limit comes from where the rest
of quantrac takes it (``collector.indices``, ``quantrac.dashboards.standards``, the station
config): a report never computes a VN_AQI its board would not show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from gateway.model import Quality, Reading

Point = tuple[datetime, float]


def usable(readings: Iterable[Reading]) -> list[Reading]:
    """Readings a figure may use: with a value, not flagged bad (suspect ones count: QC keeps
    them, and the data-quality section shows their share)."""
    return [r for r in readings if r.has_value and r.quality is not Quality.BAD]


def points(readings: Iterable[Reading]) -> list[Point]:
    return [(r.ts, r.value) for r in usable(readings)]


def in_period(series: Sequence[Point], start: datetime, end: datetime) -> list[Point]:
    """Points with start < ts <= end: hourly means are stamped with the end of their hour."""
    return [(ts, v) for ts, v in series if start < ts <= end]
