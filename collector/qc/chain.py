"""The QC chain: the filters in order, run vectorised over a flush, with memory per series.

The stateless filters run once over every reading of the flush. The stateful ones (order,
spike, flatline, Hampel) must see each series' points in order, so the flush is cut into
rounds: round k holds the k-th point of every series in it. A flush from many stations at one
point each is one round; a replayed backlog of one station is many small ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from collector.points import Points
from collector.qc.filters import flatline, hampel, order, rate, status, timestamp
from collector.qc.filters import range as range_
from collector.qc.settings import QcSettings
from collector.qc.state import REASONS, RECENT, Frame, Ints, SeriesState
from collector.qc.types import Context, QcFilter
from gateway.model import DeviceStatus, Quality, Reading

# The chain, in order: worst flag wins, and among equal flags the first filter's reason.
FILTERS: dict[str, QcFilter] = {
    "status": QcFilter(status.check),
    "range": QcFilter(range_.check),
    "timestamp": QcFilter(timestamp.check),
    "order": QcFilter(order.check, stateful=True),
    "spike": QcFilter(rate.check, stateful=True),
    "flatline": QcFilter(flatline.check, stateful=True),
    "hampel": QcFilter(hampel.check, hampel.remember, stateful=True),
}


_QUALITY_OF = {int(q): q for q in Quality}


@dataclass
class QcResult:
    quality: npt.NDArray[np.int8]
    reason: npt.NDArray[np.int8]
    reflags: list[Reading]  # earlier points whose flag changed: write them again
    duplicates: int

    def reasons(self) -> list[str]:
        return [REASONS[code] for code in self.reason.tolist()]

    def flagged(self, readings: Sequence[Reading]) -> list[Reading]:
        qualities = _QUALITY_OF  # Quality(q) costs a call into EnumType per reading
        return [
            r.flagged(qualities[q], REASONS[c])
            for r, q, c in zip(readings, self.quality.tolist(), self.reason.tolist(), strict=True)
        ]


def _rounds(series: Ints) -> list[Ints]:
    """Positions of ``series`` cut so that each round holds each series at most once, in order."""
    n = len(series)
    if n == 0:
        return []
    if np.bincount(series).max() == 1:
        return [np.arange(n)]
    by_series = np.argsort(series, kind="stable")
    ordered = series[by_series]
    starts = np.empty(n, np.bool_)
    starts[0] = True
    starts[1:] = ordered[1:] != ordered[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, np.int64)
    rank[by_series] = np.arange(n) - first
    by_rank = np.argsort(rank, kind="stable")
    return np.split(by_rank, np.cumsum(np.bincount(rank))[:-1])


class QcChain:
    """Checks readings flush by flush; keeps what the stateful filters need per series."""

    def __init__(
        self,
        settings: QcSettings | None = None,
        *,
        filters: Mapping[str, QcFilter] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings or QcSettings()
        self.filters = list((filters or FILTERS).values())
        self.clock = clock
        self.state = SeriesState()
        self._rows: dict[tuple[str, str], int] = {}
        self._series: list[tuple[str, str, str]] = []  # row → (station, param, unit)
        self.flag_counts = np.zeros(len(REASONS), np.int64)
        self.checked = 0
        self.duplicates = 0
        self.reflagged = 0

    def _row(self, reading: Reading) -> int:
        key = (reading.station, reading.param)
        row = self._rows.get(key)
        if row is None:
            row = self.state.add(self.settings.resolve(reading.station, reading.param))
            self._rows[key] = row
            self._series.append((reading.station, reading.param, reading.unit))
        return row

    def _frame(self, points: Points) -> Frame:
        rows = self._rows
        readings = points.readings
        try:
            series = [rows[(r.station, r.param)] for r in readings]
        except KeyError:
            series = [self._row(r) for r in readings]
        return Frame(
            series=np.array(series, np.int64),
            value=points.value,
            ts=points.ts_ms,
            status=points.status,
        )

    def check(self, readings: Sequence[Reading] | Points) -> QcResult:
        """Flags for each reading; ``Points`` when the caller has the columns already."""
        points = readings if isinstance(readings, Points) else Points.of(readings)
        frame = self._frame(points)
        context = Context(now_ms=int(self.clock().timestamp() * 1000))
        state = self.state
        at: Ints = np.arange(len(frame))
        stateful = []
        for qc_filter in self.filters:
            if qc_filter.stateful:
                stateful.append(qc_filter)
            else:
                at = qc_filter.check(frame, at, state, context)
        for in_round in _rounds(frame.series[at]):
            taken = at[in_round]
            for qc_filter in stateful:
                taken = qc_filter.check(frame, taken, state, context)
            self._remember(frame, taken)
            for qc_filter in stateful:
                if qc_filter.remember is not None:
                    qc_filter.remember(frame, taken, state)
        reflags = self._reflags(frame, context)
        self.checked += len(frame)
        self.duplicates += context.duplicates
        self.reflagged += len(reflags)
        self.flag_counts += np.bincount(frame.reason, minlength=len(REASONS))
        return QcResult(frame.quality, frame.reason, reflags, context.duplicates)

    def _remember(self, frame: Frame, at: Ints) -> None:
        """What every stateful filter relies on: order, the recent points, the last good one."""
        state = self.state
        series = frame.series[at]
        ts = frame.ts[at]
        value = frame.value[at]
        quality = frame.quality[at]
        state.last_ts[series] = ts
        slot = state.recent_pos[series]
        state.recent_ts[series, slot] = ts
        state.recent_value[series, slot] = value
        state.recent_status[series, slot] = frame.status[at]
        state.recent_quality[series, slot] = quality
        state.recent_reason[series, slot] = frame.reason[at]
        state.recent_pos[series] = (slot + 1) % RECENT
        good = (quality < Quality.BAD) & ~np.isnan(value)
        state.good_value[series[good]] = value[good]
        state.good_ts[series[good]] = ts[good]

    def _reflags(self, frame: Frame, context: Context) -> list[Reading]:
        if not context.reflags:
            return []
        # A re-flagged point of this same flush is corrected in place; older ones are returned.
        keys = zip(frame.series.tolist(), frame.ts.tolist(), strict=True)
        here = {key: i for i, key in enumerate(keys)}
        earlier = []
        for reflag in context.reflags:
            i = here.get((reflag.series, reflag.ts))
            if i is not None:
                if frame.quality[i] <= reflag.quality:
                    frame.quality[i], frame.reason[i] = reflag.quality, reflag.reason
                continue
            station, param, unit = self._series[reflag.series]
            earlier.append(
                Reading(
                    station,
                    param,
                    reflag.value,
                    unit,
                    datetime.fromtimestamp(reflag.ts / 1000, UTC),
                    DeviceStatus(reflag.status),
                    Quality(reflag.quality),
                    REASONS[reflag.reason],
                )
            )
        return earlier

    def health(self) -> dict[str, object]:
        return {
            "series": self.state.size,
            "checked": self.checked,
            "duplicates": self.duplicates,
            "reflagged": self.reflagged,
            "flags": {
                reason or "good": int(count)
                for reason, count in zip(REASONS, self.flag_counts.tolist(), strict=True)
                if count
            },
            "state_bytes_per_series": math.ceil(self.state.bytes_per_series()),
        }
