"""Physical range: outside what the sensor can report (parameters.yaml, or the station's qc)."""

from __future__ import annotations

import numpy as np

from collector.qc.state import Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import Quality


def check(frame: Frame, at: Ints, state: SeriesState, _context: Context) -> Ints:
    value = frame.value[at]
    series = frame.series[at]
    missing = np.isnan(value)
    frame.flag(at[missing], Quality.BAD, "no_value")
    with np.errstate(invalid="ignore"):
        outside = ~missing & ((value < state.low[series]) | (value > state.high[series]))
    frame.flag(at[outside], Quality.BAD, "range")
    frame.flag(at[~state.known[series]], Quality.SUSPECT, "unknown_param")
    return at
