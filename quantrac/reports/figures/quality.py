"""Data quality: per station and parameter, the completeness (the share of the expected records
that arrived) and the share the collector's QC flagged suspect or bad (pure).

These are the figures an operator of automatic stations reports: a station polled every
``interval_s`` should give ``period / interval_s`` records of each parameter. A station that
sends on its own (MQTT, TT10 files) has no configured interval: its expected count uses the
median spacing of what it sent in the period, and says so (``inferred``). A record is one
timestamp; a value sent twice is one record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from gateway.model import Quality, Reading
from quantrac.reports.period import ReportPeriod


@dataclass(frozen=True, slots=True)
class SeriesQuality:
    station: str
    param: str
    received: int
    expected: int | None  # None: no interval configured and too few records to infer one
    suspect: int
    bad: int
    inferred: bool = False  # the expected count comes from the records' own spacing

    @property
    def completeness(self) -> float | None:
        """0…1; more records than expected (a station polled faster) counts as complete."""
        if not self.expected:
            return None
        return min(1.0, self.received / self.expected)

    @property
    def suspect_share(self) -> float | None:
        return self.suspect / self.received if self.received else None

    @property
    def bad_share(self) -> float | None:
        return self.bad / self.received if self.received else None


def series_quality(
    station: str,
    param: str,
    readings: Sequence[Reading],
    period: ReportPeriod,
    interval: timedelta | None,
) -> SeriesQuality:
    """``readings``: the series in the period, oldest first."""
    latest: dict[datetime, Reading] = {}
    start, end = period.start, period.end  # computed once: a month is 8,928 readings a series
    for reading in readings:
        if start <= reading.ts < end:
            latest[reading.ts] = reading  # one record per timestamp
    inside = list(latest.values())
    inferred = False
    if interval is None and len(inside) >= 2:
        gaps = sorted(b - a for a, b in pairwise(sorted(latest)))
        interval = gaps[len(gaps) // 2]  # the median gap (the upper one of an even count)
        inferred = True
    expected = None
    if interval is not None and interval > timedelta(0):
        expected = round(period.duration / interval)
    return SeriesQuality(
        station=station,
        param=param,
        received=len(inside),
        expected=expected,
        suspect=sum(1 for r in inside if r.quality is Quality.SUSPECT),
        bad=sum(1 for r in inside if r.quality is Quality.BAD),
        inferred=inferred,
    )
