"""Hampel filter: an outlier against the rolling median and MAD of the series' recent values.

Streaming, so the window is the last ``hampel_window`` values that were not bad (causal), and a
value further than ``hampel_sigmas`` robust standard deviations (1.4826 · MAD) from their median
is suspect. ``hampel_min_sigma`` floors the deviation: after a calm hour of identical readings
the MAD is zero, and a millimetre would otherwise be an outlier. Suspect values still enter the
window, so a real change of level is followed after a few points rather than flagged forever.
"""

from __future__ import annotations

import functools

import numpy as np

from collector.qc.state import Floats, Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import Quality

MAD_TO_SIGMA = 1.4826  # for normally distributed noise


def check(frame: Frame, at: Ints, state: SeriesState, _context: Context) -> Ints:
    series = frame.series[at]
    window = state.hampel_w[series]
    value = frame.value[at]
    ready = (window > 0) & (state.hist_n[series] >= window) & ~np.isnan(value)
    ready &= frame.quality[at] < Quality.BAD
    if not ready.any():
        return at
    # Series with different windows are taken window size by window size (few sizes exist).
    for size in np.unique(window[ready]):
        pick = ready & (window == size)
        rows = series[pick]
        # The ring, oldest first: the trend needs the order.
        order = (state.hist_pos[rows][:, None] + np.arange(size)) % size
        history = np.take_along_axis(state.hist[rows, :size], order, axis=1)
        expected, sigma = _trend(history)
        sigma = np.maximum(sigma, state.hampel_min[rows])
        outlier = np.abs(value[pick] - expected) > state.hampel_sigmas[rows] * sigma
        frame.flag(at[pick][outlier], Quality.SUSPECT, "outlier")
    return at


def _trend(history: Floats) -> tuple[Floats, Floats]:
    """The value expected next and the robust spread around the window's straight-line trend.

    A plain Hampel compares with the window's median, which lags a rising river by half the
    window: a flood's onset would be "outliers". The line is Theil–Sen (the median of the
    slopes between every pair of points, over the window's positions: stations poll at a
    fixed interval), so one outlier inside the window does not tilt it; the spread is
    1.4826 · the MAD of the residuals, so the noise around the trend decides, not the trend.
    """
    size = history.shape[1]
    first, second = _pairs(size)
    slope = np.median((history[:, second] - history[:, first]) / (second - first), axis=1)
    x = np.arange(size, dtype=np.float64)
    residual = history - slope[:, None] * x
    intercept = np.median(residual, axis=1)
    spread = np.median(np.abs(residual - intercept[:, None]), axis=1)
    return intercept + slope * size, MAD_TO_SIGMA * spread


@functools.cache
def _pairs(size: int) -> tuple[Ints, Ints]:
    first, second = np.triu_indices(size, k=1)
    return first.astype(np.int64), second.astype(np.int64)


def remember(frame: Frame, at: Ints, state: SeriesState) -> None:
    series = frame.series[at]
    window = state.hampel_w[series]
    keep = (window > 0) & ~np.isnan(frame.value[at]) & (frame.quality[at] < Quality.BAD)
    rows, window = series[keep], window[keep]
    position = state.hist_pos[rows]
    state.hist[rows, position] = frame.value[at[keep]]
    state.hist_pos[rows] = (position + 1) % window
    state.hist_n[rows] = np.minimum(state.hist_n[rows] + 1, window)
