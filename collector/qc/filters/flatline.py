"""Flatline / stuck value: N identical values in a row where the parameter always varies.

The first N-1 values of a stuck period look like any others when they arrive; once the N-th
comes, they are flagged too (from the points remembered per series) and handed back to the
collector as re-flags, so that the store holds the whole stuck period as suspect.
"""

from __future__ import annotations

import numpy as np

from collector.qc.state import REASON_CODE, RECENT, Frame, Ints, SeriesState
from collector.qc.types import Context, Reflag
from gateway.model import Quality

FLATLINE = REASON_CODE["flatline"]


def check(frame: Frame, at: Ints, state: SeriesState, context: Context) -> Ints:
    series = frame.series[at]
    needed = state.flat_n[series]
    value = frame.value[at]
    usable = (needed > 0) & ~np.isnan(value) & (frame.quality[at] < Quality.BAD)
    if not usable.any():
        return at
    checked, series, needed, value = at[usable], series[usable], needed[usable], value[usable]
    same = np.abs(value - state.flat_last[series]) <= state.flat_tol[series]
    run = np.where(same, state.flat_run[series] + 1, 1)
    state.flat_run[series] = run
    state.flat_last[series] = value
    frame.flag(checked[run >= needed], Quality.SUSPECT, "flatline")
    for row in series[run == needed]:
        _flag_the_start(int(row), int(state.flat_n[row]) - 1, state, context)
    return at


def _flag_the_start(row: int, count: int, state: SeriesState, context: Context) -> None:
    """Flag the ``count`` values of the run before this one, walking back the recent ring.

    Bad points inside the run (a device error) were not counted in it and are skipped.
    """
    position = int(state.recent_pos[row])
    for back in range(1, RECENT + 1):
        if count == 0:
            return
        slot = (position - back) % RECENT
        if state.recent_quality[row, slot] >= Quality.BAD or np.isnan(
            state.recent_value[row, slot]
        ):
            continue
        count -= 1
        if state.recent_quality[row, slot] != Quality.GOOD:
            continue  # already suspect for another reason: that reason stays
        state.recent_quality[row, slot] = Quality.SUSPECT
        state.recent_reason[row, slot] = FLATLINE
        context.reflags.append(
            Reflag(
                row,
                int(state.recent_ts[row, slot]),
                float(state.recent_value[row, slot]),
                int(state.recent_status[row, slot]),
                int(Quality.SUSPECT),
                FLATLINE,
            )
        )
