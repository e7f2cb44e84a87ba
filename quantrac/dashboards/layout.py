"""Panels onto Grafana's grid, 24 columns wide (pure).

Each panel, in order, takes the highest free spot it fits in (leftmost among equals) — what
Grafana's own vertical compaction would make of it, so a tall map leaves room for a column of
small panels beside it. The SDK's ``with_panel`` lets a panel run past column 24; this never does.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.models import dashboard

GRID_COLUMNS = 24


def place(panels: Sequence[dashboard.Panel], first_id: int = 1) -> list[dashboard.Panel]:
    """Give each panel its position and a unique id, in order. A panel keeps its width and
    height (``grid_pos.w``/``h``); a width over 24 is refused, not clipped."""
    skyline = [0] * GRID_COLUMNS  # the first free row of each column
    placed = []
    for offset, panel in enumerate(panels):
        size = panel.grid_pos or dashboard.GridPos(w=12, h=8)
        if not 1 <= size.w <= GRID_COLUMNS or size.h < 1:
            raise ValueError(f"panel {panel.title!r}: size {size.w}×{size.h} does not fit the grid")
        y, x = min((max(skyline[x : x + size.w]), x) for x in range(GRID_COLUMNS - size.w + 1))
        panel.grid_pos = dashboard.GridPos(x=x, y=y, w=size.w, h=size.h)
        panel.id_val = first_id + offset
        skyline[x : x + size.w] = [y + size.h] * size.w
        placed.append(panel)
    return placed
