"""Hampel filter: an outlier against the rolling median and MAD of the series' recent values.

Streaming, so the window is the last ``hampel_window`` values that were not bad (causal), and a
value further than ``hampel_sigmas`` robust standard deviations (1.4826 · MAD) from their median
is suspect. ``hampel_min_sigma`` floors the deviation: after a calm hour of identical readings
the MAD is zero, and a millimetre would otherwise be an outlier. Suspect values still enter the
window, so a real change of level is followed after a few points rather than flagged forever.
"""

from __future__ import annotations

import numpy as np

from collector.qc.state import Frame, Ints, SeriesState
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
        history = state.hist[rows, :size]
        median = np.median(history, axis=1)
        mad = np.median(np.abs(history - median[:, None]), axis=1)
        sigma = np.maximum(MAD_TO_SIGMA * mad, state.hampel_min[rows])
        outlier = np.abs(value[pick] - median) > state.hampel_sigmas[rows] * sigma
        frame.flag(at[pick][outlier], Quality.SUSPECT, "outlier")
    return at


def remember(frame: Frame, at: Ints, state: SeriesState) -> None:
    series = frame.series[at]
    window = state.hampel_w[series]
    keep = (window > 0) & ~np.isnan(frame.value[at]) & (frame.quality[at] < Quality.BAD)
    rows, window = series[keep], window[keep]
    position = state.hist_pos[rows]
    state.hist[rows, position] = frame.value[at[keep]]
    state.hist_pos[rows] = (position + 1) % window
    state.hist_n[rows] = np.minimum(state.hist_n[rows] + 1, window)
