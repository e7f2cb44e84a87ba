"""Timestamps a clock cannot have: in the future, or before the station was commissioned.

A logger that lost power restarts in 1970 or 2000; a wrong time zone puts points hours ahead.
Such points are flagged bad and kept out of the stateful checks, so that one wild timestamp
does not make every following point look late.
"""

from __future__ import annotations

from collector.qc.state import Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import Quality


def check(frame: Frame, at: Ints, state: SeriesState, context: Context) -> Ints:
    ts = frame.ts[at]
    series = frame.series[at]
    future = ts > context.now_ms + state.future_ms[series]
    early = ts < state.not_before[series]
    frame.flag(at[future], Quality.BAD, "future")
    frame.flag(at[early], Quality.BAD, "before_commissioning")
    return at[~(future | early)]
