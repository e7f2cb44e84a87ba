"""River flood alarm levels, Decision 05/2020/QĐ-TTg: báo động I < II < III, set per gauge.

The levels belong to each gauge's station config (``flood_levels``), never to code. The
``flood_level`` series is 0 below BĐ I and 1/2/3 at or above BĐ I/II/III; the margin goes with
it ("trên BĐ II 0.25 m").
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FloodAlarm:
    level: int  # 0..3
    margin_m: float  # above the level reached (level ≥ 1), or below BĐ I (level 0, negative)

    @property
    def label(self) -> str:
        return ("dưới BĐ I", "BĐ I", "BĐ II", "BĐ III")[self.level]

    @property
    def description(self) -> str:
        """How a warning says it: "trên BĐ II 0.25 m", "ở mức BĐ I", "dưới BĐ I 0.40 m"."""
        if self.level == 0:
            return f"dưới BĐ I {-self.margin_m:.2f} m"
        if self.margin_m == 0:
            return f"ở mức {self.label}"
        return f"trên {self.label} {self.margin_m:.2f} m"


def flood_alarm(
    water_level_m: float | None, thresholds: tuple[float, float, float]
) -> FloodAlarm | None:
    """Alarm level of a water level against (BĐ I, BĐ II, BĐ III); None for a missing value.

    Reaching a level counts: a water level exactly at BĐ II is alarm level II, margin 0.
    """
    if water_level_m is None or math.isnan(water_level_m):
        return None
    level = sum(1 for threshold in thresholds if water_level_m >= threshold)
    reference = thresholds[level - 1] if level else thresholds[0]
    return FloodAlarm(level=level, margin_m=water_level_m - reference)
