"""Duplicates and out-of-order points.

At-least-once delivery re-sends batches (a gateway resends what no receipt covered), so the same
point arriving twice is normal: it gets the flag it got the first time, from the last points
remembered per series, and changes nothing. A point older than the newest one of its series that
is not such a repeat is late: the stateful checks cannot judge it against the wrong neighbours,
so it is flagged suspect ``out_of_order`` and kept out of their memory.
"""

from __future__ import annotations

import numpy as np

from collector.qc.state import Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import Quality


def check(frame: Frame, at: Ints, state: SeriesState, context: Context) -> Ints:
    series = frame.series[at]
    ts = frame.ts[at]
    late = ts <= state.last_ts[series]
    if not late.any():
        return at
    late_at = at[late]
    rows = series[late]
    value = frame.value[late_at]
    recent_value = state.recent_value[rows]
    same = (state.recent_ts[rows] == ts[late][:, None]) & (
        (recent_value == value[:, None]) | (np.isnan(recent_value) & np.isnan(value)[:, None])
    )
    same &= state.recent_status[rows] == frame.status[late_at][:, None]
    repeat = same.any(axis=1)
    where = same.argmax(axis=1)
    repeat_at = late_at[repeat]
    if len(repeat_at):
        slot_rows, slots = rows[repeat], where[repeat]
        first_quality = state.recent_quality[slot_rows, slots]
        first_reason = state.recent_reason[slot_rows, slots]
        # The first arrival's flag, unless this copy is worse already (status, range: the same).
        better = frame.quality[repeat_at] <= first_quality
        frame.quality[repeat_at[better]] = first_quality[better]
        frame.reason[repeat_at[better]] = first_reason[better]
        context.duplicates += len(repeat_at)
    frame.flag(late_at[~repeat], Quality.SUSPECT, "out_of_order")
    return at[~late]
