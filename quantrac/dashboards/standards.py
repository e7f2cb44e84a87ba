"""The numbers the boards draw: national limits, index scales, alarm colours (pure data).

The index scales and their colours come from ``collector.indices`` (one declaration for the
collector, the alerting service and the boards). The limits of the two technical regulations
are only drawn, never enforced, so they live here; docs/dashboards.md lists them with their
sources, and marks the surface-water class A values that want checking against the signed text.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.indices import AQI_CATEGORIES, WQI_CATEGORIES, Category
from collector.indices.wind import BEAUFORT_LOWER_M_S

GREEN = "#00E400"  # the AQI "Tốt" green, also "below BĐ I" and "online"
OFFLINE_GREY = "#808080"


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit of a regulation: ``value`` over ``averaging`` ("1 giờ", "24 giờ")."""

    value: float
    averaging: str
    lower: bool = False  # a floor (DO ≥ 6 mg/L) rather than a ceiling


@dataclass(frozen=True, slots=True)
class Pollutant:
    param: str
    label: str  # as officers write it: PM2.5, N-NH4
    unit: str  # Grafana unit id
    limits: tuple[Limit, ...]


UG = "µg/m³"

# QCVN 05:2023/BTNMT, ambient air, µg/Nm³ (PM2.5 24 h: 45 from 2026 on).
QCVN_05_2023: tuple[Pollutant, ...] = (
    Pollutant("pm25", "PM2.5", UG, (Limit(45, "24 giờ"),)),
    Pollutant("pm10", "PM10", UG, (Limit(100, "24 giờ"),)),
    Pollutant("o3", "O3", UG, (Limit(120, "8 giờ"), Limit(200, "1 giờ"))),
    Pollutant("no2", "NO2", UG, (Limit(100, "24 giờ"), Limit(200, "1 giờ"))),
    Pollutant("so2", "SO2", UG, (Limit(125, "24 giờ"), Limit(350, "1 giờ"))),
    Pollutant("co", "CO", UG, (Limit(10_000, "8 giờ"), Limit(30_000, "1 giờ"))),
)

# QCVN 08:2023/BTNMT, surface water, class A (mg/L; pH without unit) — verify against the
# signed regulation before quoting them in a report (docs/dashboards.md).
QCVN_08_2023: tuple[Pollutant, ...] = (
    Pollutant("ph", "pH", "none", (Limit(6.5, "", lower=True), Limit(8.5, ""))),
    Pollutant("do", "DO", "mg/L", (Limit(6.0, "", lower=True),)),
    Pollutant("cod", "COD", "mg/L", (Limit(10, ""),)),
    Pollutant("n_nh4", "N-NH4", "mg/L", (Limit(0.3, ""),)),
    Pollutant("tss", "TSS", "mg/L", (Limit(25, ""),)),
)

OVER_LIMIT = ("#FF7E00", "#FF0000")  # the first limit crossed orange, the second red


def limit_steps(pollutant: Pollutant) -> list[tuple[float | None, str]]:
    """Threshold steps (value, colour) that draw a pollutant's limits as lines.

    A ceiling turns orange then red above its limits; a range (pH) is red below its floor, green
    inside, red above; a floor alone (DO) is red below it.
    """
    floors = [limit for limit in pollutant.limits if limit.lower]
    ceilings = [limit for limit in pollutant.limits if not limit.lower]
    steps: list[tuple[float | None, str]] = [(None, "#FF0000" if floors else GREEN)]
    for floor in floors:
        steps.append((floor.value, GREEN))
    for index, ceiling in enumerate(sorted(ceilings, key=lambda c: c.value)):
        steps.append((ceiling.value, "#FF0000" if floors else OVER_LIMIT[min(index, 1)]))
    return steps


def category_steps(categories: tuple[Category, ...]) -> list[tuple[float | None, str]]:
    """The steps of an index scale, lowest band first, in the decision's own colours."""
    ordered = sorted(categories, key=lambda c: -1 if c.low is None else c.low)
    steps: list[tuple[float | None, str]] = []
    for index, category in enumerate(ordered):
        steps.append((None if index == 0 else float(_low(category)), category.hex))
    return steps


def _low(category: Category) -> int:
    assert category.low is not None  # only the lowest band is open below
    return category.low


AQI_STEPS = category_steps(AQI_CATEGORIES)
WQI_STEPS = category_steps(WQI_CATEGORIES)


def category_ranges(categories: tuple[Category, ...]) -> list[tuple[float, float, str, str]]:
    """(from, to, Vietnamese name, colour) of each band, for value mappings."""
    return [
        (float(c.low if c.low is not None else 0), float(c.high) + 0.999, c.name, c.hex)
        for c in categories
    ]


# Flood alarm levels (Decision 05/2020/QĐ-TTg) as the boards colour them: below BĐ I green,
# BĐ I yellow, BĐ II orange, BĐ III red — the colours of the province's flood bulletins.
FLOOD_COLOURS = (GREEN, "#FFFF00", "#FF7E00", "#FF0000")
FLOOD_NAMES = ("Dưới BĐ I", "Báo động I", "Báo động II", "Báo động III")


def flood_steps(levels: tuple[float, float, float] | None) -> list[tuple[float | None, str]]:
    """Water-level steps at a gauge's BĐ I/II/III (metres); the level itself (0…3) without."""
    marks = levels if levels is not None else (1.0, 2.0, 3.0)
    return [(None, FLOOD_COLOURS[0])] + [
        (mark, colour) for mark, colour in zip(marks, FLOOD_COLOURS[1:], strict=True)
    ]


# Heavy-rain risk (Decision 18/2021/QĐ-TTg): the single-day amounts of 24 h rain at which the
# default rules (docs/indices.md) reach levels 1, 2 and 3 — a day's picture only; the level
# that counts, with its run of days and the terrain, is the alerting service's.
RAIN_RISK_24H = (
    (100.0, "#8AB8FF", "Cấp 1"),
    (200.0, "#FFF899", "Cấp 2"),
    (400.0, "#FF7E00", "Cấp 3"),
)


def rain_risk_steps() -> list[tuple[float | None, str]]:
    return [(None, "transparent")] + [(mm, colour) for mm, colour, _ in RAIN_RISK_24H]


def beaufort_ranges() -> list[tuple[float, float, str]]:
    """(from, to, "cấp N") of the Beaufort scale as value mappings, m/s."""
    bounds = [*BEAUFORT_LOWER_M_S[1:], 61.2]
    return [
        (low, high, f"cấp {level}")
        for level, (low, high) in enumerate(zip(BEAUFORT_LOWER_M_S, bounds, strict=True))
    ]


# Wind steps at cấp 6 (strong wind at sea), 8 (storm), 10 (strong storm), 12 (very strong).
WIND_STEPS: list[tuple[float | None, str]] = [
    (None, GREEN),
    (BEAUFORT_LOWER_M_S[6], "#FFFF00"),
    (BEAUFORT_LOWER_M_S[8], "#FF7E00"),
    (BEAUFORT_LOWER_M_S[10], "#FF0000"),
    (BEAUFORT_LOWER_M_S[12], "#8F3F97"),
]
