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


# A gauge reads to the millimetre (radar and pressure gauges of the network; staff gauges are
# read to the centimetre). A level compared as a float can land one ULP below BĐ II: a register
# of 200 scaled by 0.01 gives 2.0000000000000004, 1.9999999999999998 comes as easily. Levels are
# compared in whole steps of this resolution. Our default, configurable (``resolution_m=``).
GAUGE_RESOLUTION_M = 0.001


def gauge_steps(value_m: float, resolution_m: float = GAUGE_RESOLUTION_M) -> int:
    """A water level (or a BĐ level) in whole steps of the gauge's resolution, half up."""
    if resolution_m <= 0:
        raise ValueError(f"resolution_m must be positive, got {resolution_m}")
    return math.floor(value_m / resolution_m + 0.5)


def compare_levels(a_m: float, b_m: float, resolution_m: float = GAUGE_RESOLUTION_M) -> int:
    """−1, 0 or 1 as ``a_m`` is below, at or above ``b_m`` at the gauge's resolution.

    The one comparison of water levels with BĐ levels: the collector's ``flood_level`` and the
    alerting rules' ladders (alerting/rules/levels.py) both use it, so they never disagree.
    """
    if not (math.isfinite(a_m) and math.isfinite(b_m)):
        return (a_m > b_m) - (a_m < b_m)  # an infinity has no steps; NaN compares as equal
    a, b = gauge_steps(a_m, resolution_m), gauge_steps(b_m, resolution_m)
    return (a > b) - (a < b)


def level_margin(a_m: float, b_m: float, resolution_m: float = GAUGE_RESOLUTION_M) -> float:
    """``a_m − b_m`` at the gauge's resolution: 0.0 at the level, never a float's 2e-16."""
    if not (math.isfinite(a_m) and math.isfinite(b_m)):
        return a_m - b_m
    steps = gauge_steps(a_m, resolution_m) - gauge_steps(b_m, resolution_m)
    return round(steps * resolution_m, 9)


def flood_alarm(
    water_level_m: float | None,
    thresholds: tuple[float, float, float],
    resolution_m: float = GAUGE_RESOLUTION_M,
) -> FloodAlarm | None:
    """Alarm level of a water level against (BĐ I, BĐ II, BĐ III); None for a missing value.

    Reaching a level counts: a water level exactly at BĐ II is alarm level II, margin 0. "Exactly"
    is at the gauge's resolution (``resolution_m``, 1 mm by default).
    """
    if water_level_m is None or math.isnan(water_level_m):
        return None
    level = sum(
        1 for threshold in thresholds if compare_levels(water_level_m, threshold, resolution_m) >= 0
    )
    reference = thresholds[level - 1] if level else thresholds[0]
    return FloodAlarm(level=level, margin_m=level_margin(water_level_m, reference, resolution_m))
