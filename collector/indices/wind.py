"""Cấp gió (Beaufort level, extended to 17) of sustained wind and gusts, and storm category names.

The table is the one in storm warnings (Decision 18/2021/QĐ-TTg, Annex III): sustained wind is a
2- or 10-minute mean; gusts use the same table and are reported as "giật cấp N".
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import Enum

from collector.indices.common import is_missing

# Lower bound (m/s) of cấp 0 … 17. The printed table skips 0.1 m/s between levels (1.5 | 1.6)
# because it is printed to 0.1 m/s; a level runs up to the next level's lower bound, so 1.55 m/s
# is still cấp 1 and every speed has exactly one level.
BEAUFORT_LOWER_M_S: tuple[float, ...] = (
    0.0,
    0.3,
    1.6,
    3.4,
    5.5,
    8.0,
    10.8,
    13.9,
    17.2,
    20.8,
    24.5,
    28.5,
    32.7,
    37.0,
    41.5,
    46.2,
    51.0,
    56.1,
)
BEAUFORT_TOP_M_S = 61.2  # upper end of cấp 17; faster is "trên cấp 17"


@dataclass(frozen=True, slots=True)
class CapGio:
    level: int  # 0…17
    above_scale: bool = False  # faster than 61.2 m/s: "trên cấp 17"

    @property
    def label(self) -> str:
        return f"trên cấp {self.level}" if self.above_scale else f"cấp {self.level}"

    @property
    def gust_label(self) -> str:
        return f"giật {self.label}"


def cap_gio(speed_m_s: float | None) -> CapGio | None:
    """The Beaufort level of a wind speed or a gust (m/s); None for a missing or negative speed."""
    if speed_m_s is None or is_missing(speed_m_s) or speed_m_s < 0:
        return None
    if speed_m_s > BEAUFORT_TOP_M_S:
        return CapGio(len(BEAUFORT_LOWER_M_S) - 1, above_scale=True)
    return CapGio(bisect_right(BEAUFORT_LOWER_M_S, speed_m_s) - 1)


def wind_text(sustained_m_s: float | None, gust_m_s: float | None = None) -> str | None:
    """How a warning says it: "cấp 8, giật cấp 10"; None without a sustained speed."""
    sustained = cap_gio(sustained_m_s)
    if sustained is None:
        return None
    gust = cap_gio(gust_m_s)
    return sustained.label if gust is None else f"{sustained.label}, {gust.gust_label}"


class StormCategory(Enum):
    """Names by the strongest sustained wind near the centre (Decision 18/2021/QĐ-TTg,
    Article 5(7)); gusts never change the name."""

    TROPICAL_DEPRESSION = "áp thấp nhiệt đới"
    STORM = "bão"
    STRONG_STORM = "bão mạnh"
    VERY_STRONG_STORM = "bão rất mạnh"
    SUPER_TYPHOON = "siêu bão"

    @property
    def label(self) -> str:
        return self.value


# The lowest cấp gió of each name. docs/indices.md marks these configurable defaults: pass
# another table to
# storm_category if the province's reading differs.
STORM_CATEGORY_FROM: tuple[tuple[int, StormCategory], ...] = (
    (6, StormCategory.TROPICAL_DEPRESSION),
    (8, StormCategory.STORM),
    (10, StormCategory.STRONG_STORM),
    (12, StormCategory.VERY_STRONG_STORM),
    (16, StormCategory.SUPER_TYPHOON),
)


def storm_category(
    level: int | CapGio | None,
    table: tuple[tuple[int, StormCategory], ...] = STORM_CATEGORY_FROM,
) -> StormCategory | None:
    """The name of a tropical system by its sustained cấp gió; None below cấp 6 (or missing)."""
    if level is None:
        return None
    cap = level.level if isinstance(level, CapGio) else level
    name: StormCategory | None = None
    for lowest, category in sorted(table, key=lambda row: row[0]):
        if cap >= lowest:
            name = category
    return name


def storm_category_of_speed(
    sustained_m_s: float | None,
    table: tuple[tuple[int, StormCategory], ...] = STORM_CATEGORY_FROM,
) -> StormCategory | None:
    return storm_category(cap_gio(sustained_m_s), table)
