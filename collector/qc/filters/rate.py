"""Spike / rate of change: a jump larger than the parameter can physically make in that time.

The change is measured from the last value that was not bad, so the point after a spike, back
on the true curve, is not flagged too. ``rate_reset`` jumps in a row to a new level mean the
level really changed (a sensor moved, a gate opened): that one is accepted.
"""

from __future__ import annotations

import numpy as np

from collector.qc.state import Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import Quality

MIN_INTERVAL_MS = 1_000  # two points in the same second are compared as one second apart


def check(frame: Frame, at: Ints, state: SeriesState, _context: Context) -> Ints:
    series = frame.series[at]
    limit = state.max_rate[series]
    previous = state.good_value[series]
    value = frame.value[at]
    usable = ~np.isnan(limit) & ~np.isnan(previous) & ~np.isnan(value)
    usable &= frame.quality[at] < Quality.BAD
    if not usable.any():
        return at
    elapsed = np.maximum(frame.ts[at] - state.good_ts[series], MIN_INTERVAL_MS)
    with np.errstate(invalid="ignore"):
        jump = usable & (np.abs(value - previous) > limit * elapsed)
    run = np.where(jump, state.rate_run[series] + 1, 0)
    accepted = jump & (run >= state.rate_reset[series])
    frame.flag(at[jump & ~accepted], Quality.BAD, "spike")
    state.rate_run[series[usable]] = np.where(accepted, 0, run)[usable]
    return at
