"""Derived indices (pure, no I/O). Issue 2 has the flood alarm level; VN_AQI/VN_WQI follow.

Flood alarm levels: Decision 05/2020/QĐ-TTg sets báo động I < II < III per gauge. The
``flood_level`` series is 0 below BĐ I and 1/2/3 at or above BĐ I/II/III.
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


def flood_alarm(water_level_m: float, thresholds: tuple[float, float, float]) -> FloodAlarm | None:
    """Alarm level of a water level against (BĐ I, BĐ II, BĐ III); None for a missing value."""
    if math.isnan(water_level_m):
        return None
    level = sum(1 for threshold in thresholds if water_level_m >= threshold)
    reference = thresholds[level - 1] if level else thresholds[0]
    return FloodAlarm(level=level, margin_m=water_level_m - reference)
