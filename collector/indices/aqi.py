"""VN_AQI, Decision 1459/QĐ-TCMT (12 Nov 2019): sub-indices, NowCast, hourly and daily AQI.

Every concentration is in µg/m³, CO included. Sub-indices stay unrounded; only the final AQI is
rounded, half up. Hourly means are stamped with the end of their hour, as the decision numbers
a day's hours 01:00 … 24:00: the mean of 07:00–08:00 local is the 08:00 value.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType

from collector.indices.common import (
    VIETNAM_TZ,
    Category,
    is_missing,
    local_day_bounds,
    require_aware,
    round_half_up,
)

HOUR = timedelta(hours=1)


class Pollutant(StrEnum):
    """The six VN_AQI parameters, by their canonical parameter names (gateway/parameters.yaml)."""

    SO2 = "so2"
    CO = "co"
    NO2 = "no2"
    O3 = "o3"
    PM10 = "pm10"
    PM25 = "pm25"


PARTICULATES = (Pollutant.PM10, Pollutant.PM25)
GASES = (Pollutant.SO2, Pollutant.CO, Pollutant.NO2, Pollutant.O3)


class AqiColumn(StrEnum):
    """A column of the breakpoint table: O3 has a 1-hour and an 8-hour column."""

    O3_1H = "o3_1h"
    O3_8H = "o3_8h"
    CO = "co"
    SO2 = "so2"
    NO2 = "no2"
    PM10 = "pm10"
    PM25 = "pm25"

    @property
    def pollutant(self) -> Pollutant:
        return Pollutant.O3 if self in (AqiColumn.O3_1H, AqiColumn.O3_8H) else Pollutant(self.value)


# Index levels I_i and breakpoints BP_i (µg/m³), the decision's breakpoint table. The O3 8-hour
# column stops at 400 µg/m³ (I = 300): the decision gives no 8-hour breakpoint above it.
AQI_LEVELS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)
BREAKPOINTS: Mapping[AqiColumn, tuple[float, ...]] = MappingProxyType(
    {
        AqiColumn.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
        AqiColumn.O3_8H: (0, 100, 120, 170, 210, 400),
        AqiColumn.CO: (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
        AqiColumn.SO2: (0, 125, 350, 550, 800, 1600, 2100, 2630),
        AqiColumn.NO2: (0, 100, 200, 700, 1200, 2350, 3100, 3850),
        AqiColumn.PM10: (0, 50, 150, 250, 350, 420, 500, 600),
        AqiColumn.PM25: (0, 25, 50, 80, 150, 250, 350, 500),
    }
)
AQI_MAX = 500

# The hourly column of each gas: O3 uses its 1-hour column for the hourly AQI.
_HOURLY_COLUMN: Mapping[Pollutant, AqiColumn] = MappingProxyType(
    {
        Pollutant.SO2: AqiColumn.SO2,
        Pollutant.CO: AqiColumn.CO,
        Pollutant.NO2: AqiColumn.NO2,
        Pollutant.O3: AqiColumn.O3_1H,
        Pollutant.PM10: AqiColumn.PM10,
        Pollutant.PM25: AqiColumn.PM25,
    }
)

AQI_CATEGORIES: tuple[Category, ...] = (
    Category(0, 50, "Tốt", "green", (0, 228, 0)),
    Category(51, 100, "Trung bình", "yellow", (255, 255, 0)),
    Category(101, 150, "Kém", "orange", (255, 126, 0)),
    Category(151, 200, "Xấu", "red", (255, 0, 0)),
    Category(201, 300, "Rất xấu", "purple", (143, 63, 151)),
    Category(301, 500, "Nguy hại", "maroon", (126, 0, 35)),
)


def aqi_category(value: int) -> Category:
    """The category of a (rounded) AQI; values above 500 are capped, so they are "Nguy hại"."""
    if value < 0:
        raise ValueError(f"AQI {value} is negative")
    for category in AQI_CATEGORIES:
        if category.contains(value):
            return category
    return AQI_CATEGORIES[-1]


@dataclass(frozen=True, slots=True)
class SubIndex:
    """One pollutant's sub-index, unrounded, with the concentration it came from."""

    column: AqiColumn
    concentration: float  # µg/m³: a 1-hour mean, a NowCast, a 24-hour mean or a daily maximum
    value: float
    above_scale: bool = False  # above the top breakpoint: capped at 500, shown as "≥ 500"

    @property
    def pollutant(self) -> Pollutant:
        return self.column.pollutant


def _usable(concentration: float | None) -> float | None:
    # A negative concentration is an instrument artefact, not air: treat it as missing.
    if concentration is None or is_missing(concentration) or concentration < 0:
        return None
    return concentration


def sub_index(column: AqiColumn, concentration: float | None) -> SubIndex | None:
    """AQI_x = (I_{i+1} − I_i)/(BP_{i+1} − BP_i) · (C_x − BP_i) + I_i inside the band of C_x.

    None for a missing or negative concentration, and for an 8-hour O3 mean above 400 µg/m³
    (the decision skips the 8-hour part there). Above the top of any other column: 500, flagged.
    """
    c = _usable(concentration)
    if c is None:
        return None
    breakpoints = BREAKPOINTS[column]
    top = breakpoints[-1]
    if c > top:
        if column is AqiColumn.O3_8H:
            return None
        return SubIndex(column, c, float(AQI_MAX), above_scale=True)
    i = bisect_right(breakpoints, c) - 1
    if i == len(breakpoints) - 1:  # exactly on the top breakpoint
        return SubIndex(column, c, float(AQI_LEVELS[i]))
    bp_low, bp_high = breakpoints[i], breakpoints[i + 1]
    i_low, i_high = AQI_LEVELS[i], AQI_LEVELS[i + 1]
    value = (i_high - i_low) / (bp_high - bp_low) * (c - bp_low) + i_low
    return SubIndex(column, c, value)


NOWCAST_HOURS = 12


@dataclass(frozen=True, slots=True)
class NowCast:
    value: float | None  # µg/m³; None: the "2 of the last 3 hours" rule is not met
    weight: float | None  # w, after the floor of 1/2
    hours: int  # hours present among the 12
    reason: str | None = None


def nowcast(hourly_means: Sequence[float | None]) -> NowCast:
    """The NowCast of PM10 or PM2.5 from c1 (the current hour) … c12.

    w* = c_min/c_max over the hours present; w = w* if w* > 1/2, else 1/2;
    NowCast = Σ w^(i−1)·c_i / Σ w^(i−1) over the hours present (a missing hour weighs 0).
    At least 2 of c1, c2, c3 must be present. None, NaN and negative values are missing.
    """
    if len(hourly_means) > NOWCAST_HOURS:
        raise ValueError(f"NowCast takes at most 12 hourly means, got {len(hourly_means)}")
    hours = [_usable(c) for c in hourly_means]
    present = [(i, c) for i, c in enumerate(hours) if c is not None]
    recent = sum(1 for c in hours[:3] if c is not None)
    if recent < 2:
        return NowCast(
            None,
            None,
            len(present),
            f"{recent} of the last 3 hourly means present; the NowCast needs 2",
        )
    values = [c for _, c in present]
    c_min, c_max = min(values), max(values)
    # All hours zero: every hour is equal, which is w* = 1 in the limit (and the value is 0).
    w_star = c_min / c_max if c_max > 0 else 1.0
    w = w_star if w_star > 0.5 else 0.5
    # The normalised form (divided by the sum of the weights) even when w = 1/2
    # (docs/indices.md, NowCast).
    numerator = sum(w**i * c for i, c in present)
    denominator = sum(w**i for i, _ in present)
    return NowCast(numerator / denominator, w, len(present))


@dataclass(frozen=True, slots=True)
class AqiResult:
    """An hourly or daily VN_AQI: the value, or why there is none, and what it was made of."""

    value: int | None
    sub_indices: Mapping[Pollutant, SubIndex] = field(default_factory=dict)
    missing: Mapping[Pollutant, str] = field(default_factory=dict)  # given, but unusable
    reason: str | None = None  # why value is None

    @property
    def dominant(self) -> Pollutant | None:
        """The pollutant whose sub-index is the AQI (the first in table order on a tie)."""
        if self.value is None or not self.sub_indices:
            return None
        return max(self.sub_indices.values(), key=lambda s: s.value).pollutant

    @property
    def above_scale(self) -> bool:
        return self.value is not None and any(s.above_scale for s in self.sub_indices.values())

    @property
    def category(self) -> Category | None:
        return None if self.value is None else aqi_category(self.value)

    @property
    def label(self) -> str | None:
        if self.value is None:
            return None
        return f"≥ {AQI_MAX}" if self.above_scale else str(self.value)


def _combine(sub_indices: dict[Pollutant, SubIndex], missing: dict[Pollutant, str]) -> AqiResult:
    ordered = {p: sub_indices[p] for p in Pollutant if p in sub_indices}
    if not any(p in ordered for p in PARTICULATES):
        reason = "no PM10 or PM2.5 sub-index; VN_AQI needs at least one of them"
        return AqiResult(None, ordered, missing, reason)
    value = round_half_up(max(s.value for s in ordered.values()))
    return AqiResult(value, ordered, missing)


def hourly_aqi(
    one_hour_means: Mapping[Pollutant, float | None],
    pm_hourly_means: Mapping[Pollutant, Sequence[float | None]],
) -> AqiResult:
    """The hourly AQI from this hour's 1-hour means of the gases and c1…c12 of PM10 / PM2.5.

    SO2, CO, NO2 and O3 (its 1-hour column) use the current hour's mean; PM10 and PM2.5 use the
    NowCast. AQI = max of the sub-indices, rounded half up; None without a PM sub-index.
    """
    sub_indices: dict[Pollutant, SubIndex] = {}
    missing: dict[Pollutant, str] = {}
    for pollutant, concentration in one_hour_means.items():
        if pollutant in PARTICULATES:
            raise ValueError(f"{pollutant} uses the NowCast: pass its hours in pm_hourly_means")
        result = sub_index(_HOURLY_COLUMN[pollutant], concentration)
        if result is None:
            missing[pollutant] = "no 1-hour mean for this hour"
        else:
            sub_indices[pollutant] = result
    for pollutant, hours in pm_hourly_means.items():
        if pollutant not in PARTICULATES:
            raise ValueError(f"{pollutant} is not PM10 or PM2.5: pass it in one_hour_means")
        cast = nowcast(hours)
        result = sub_index(_HOURLY_COLUMN[pollutant], cast.value)
        if result is None:
            missing[pollutant] = cast.reason or "no NowCast"
        else:
            sub_indices[pollutant] = result
    return _combine(sub_indices, missing)


def daily_aqi(
    pm_24h_means: Mapping[Pollutant, float | None],
    max_1h_means: Mapping[Pollutant, float | None],
    o3_max_8h_mean: float | None = None,
) -> AqiResult:
    """The daily AQI from the day's statistics.

    PM10, PM2.5: the 24-hour mean. SO2, CO, NO2: the day's largest 1-hour mean. O3: the larger of
    the sub-index of its largest 1-hour mean (1h column) and of its largest 8-hour rolling mean
    (8h column, skipped above 400 µg/m³).
    """
    sub_indices: dict[Pollutant, SubIndex] = {}
    missing: dict[Pollutant, str] = {}
    for pollutant, mean in pm_24h_means.items():
        if pollutant not in PARTICULATES:
            raise ValueError(f"{pollutant} uses its daily 1-hour maximum: pass it in max_1h_means")
        result = sub_index(_HOURLY_COLUMN[pollutant], mean)
        if result is None:
            missing[pollutant] = "no 24-hour mean"
        else:
            sub_indices[pollutant] = result
    for pollutant, maximum in max_1h_means.items():
        if pollutant in PARTICULATES:
            raise ValueError(f"{pollutant} uses its 24-hour mean: pass it in pm_24h_means")
        result = sub_index(_HOURLY_COLUMN[pollutant], maximum)
        if pollutant is Pollutant.O3:
            eight_hour = sub_index(AqiColumn.O3_8H, o3_max_8h_mean)
            if eight_hour is not None and (result is None or eight_hour.value > result.value):
                result = eight_hour
        if result is None:
            missing[pollutant] = "no 1-hour maximum"
        else:
            sub_indices[pollutant] = result
    if Pollutant.O3 not in max_1h_means and o3_max_8h_mean is not None:
        eight_hour = sub_index(AqiColumn.O3_8H, o3_max_8h_mean)
        if eight_hour is not None:
            sub_indices[Pollutant.O3] = eight_hour
    return _combine(sub_indices, missing)


# Series: hourly means per pollutant as (end of the hour, µg/m³), timestamps timezone-aware.
HourlyMeans = Mapping[Pollutant, Sequence[tuple[datetime, float]]]


def _on_the_hour(moment: datetime) -> datetime:
    utc = require_aware(moment).astimezone(UTC)
    if utc.minute or utc.second or utc.microsecond:
        raise ValueError(f"hourly means are stamped on the hour, got {moment.isoformat()}")
    return utc


def _by_hour(series: Sequence[tuple[datetime, float]]) -> dict[datetime, float]:
    by_hour: dict[datetime, float] = {}
    for moment, value in series:
        usable = _usable(value)
        if usable is not None:
            by_hour[_on_the_hour(moment)] = usable  # a re-sent hour replaces the earlier copy
    return by_hour


def vn_aqi_h(hourly_means: HourlyMeans, hour: datetime) -> AqiResult:
    """The hourly AQI (``vn_aqi_h``) of the hour ending at ``hour``, from hourly-mean series."""
    end = _on_the_hour(hour)
    one_hour: dict[Pollutant, float | None] = {}
    pm: dict[Pollutant, list[float | None]] = {}
    for pollutant, series in hourly_means.items():
        by_hour = _by_hour(series)
        if pollutant in PARTICULATES:
            pm[pollutant] = [by_hour.get(end - k * HOUR) for k in range(NOWCAST_HOURS)]
        else:
            one_hour[pollutant] = by_hour.get(end)
    return hourly_aqi(one_hour, pm)


# Our default, not the decision's: a 24-hour mean (PM10, PM2.5) needs 75 % of the day's hours.
# A largest 1-hour mean needs no such rule: a measured hour is a measured maximum.
DAILY_MIN_HOURS = 18
O3_WINDOW_HOURS = 8


def vn_aqi_d(
    hourly_means: HourlyMeans,
    day: date,
    zone: tzinfo = VIETNAM_TZ,
    min_hours: int = DAILY_MIN_HOURS,
) -> AqiResult:
    """The daily AQI (``vn_aqi_d``) of a local calendar day, from hourly-mean series.

    The day's hours end at 01:00 … 24:00 local time. PM10 and PM2.5 with fewer than
    ``min_hours`` hourly means that day are left out (listed in ``missing``): a 24-hour mean of
    a few hours is not one. SO2, CO, NO2 and O3 (1h column) take the largest of the hourly means
    the day has, however few: Decision 1459/QĐ-TCMT asks for the day's largest 1-hour mean, and
    a gas measured high for three hours was high. O3's 8-hour windows end at each of the day's
    hours, so the first ones start the evening before; a window needs all 8 hours.
    """
    if not 1 <= min_hours <= 24:
        raise ValueError(f"min_hours must be 1…24, got {min_hours}")
    start, _ = local_day_bounds(day, zone)
    ends = [(start + k * HOUR).astimezone(UTC) for k in range(1, 25)]
    pm_means: dict[Pollutant, float | None] = {}
    maxima: dict[Pollutant, float | None] = {}
    o3_max_8h: float | None = None
    short: dict[Pollutant, str] = {}
    for pollutant, series in hourly_means.items():
        by_hour = _by_hour(series)
        values = [by_hour[t] for t in ends if t in by_hour]
        if pollutant in PARTICULATES:
            if len(values) < min_hours:
                short[pollutant] = f"{len(values)} of 24 hourly means; a day needs {min_hours}"
            else:
                pm_means[pollutant] = sum(values) / len(values)
            continue
        if pollutant is Pollutant.O3:
            windows = [[t - k * HOUR for k in range(O3_WINDOW_HOURS)] for t in ends]
            means = [
                sum(by_hour[h] for h in window) / O3_WINDOW_HOURS
                for window in windows
                if all(h in by_hour for h in window)  # an 8-hour mean needs all 8 hours
            ]
            o3_max_8h = max(means) if means else None
        if not values:
            short[pollutant] = "no hourly mean that day"
            continue
        maxima[pollutant] = max(values)
    result = daily_aqi(pm_means, maxima, o3_max_8h)
    if not short:
        return result
    return AqiResult(result.value, result.sub_indices, {**result.missing, **short}, result.reason)
