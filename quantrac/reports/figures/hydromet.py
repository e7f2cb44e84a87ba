"""Hydro-meteorology: river crests and the BĐ levels crossed, rain per day with its risk level,
the strongest wind (pure).

- **River**: the crest is the highest water level not flagged bad; its alarm level and margin
  come from ``collector.indices.flood_alarm`` against the gauge's own BĐ I/II/III (Decision
  05/2020/QĐ-TTg, ``flood_levels`` in the station config). Each level is *crossed* upward at the
  first reading at or above it after one below, and back at the first reading below it; a
  period that begins above a level says so.
- **Rain**: per local day (``collector.indices.rain_days``: calendar days of rain already
  fallen, never sums of sliding windows) with its intensity word and the heavy-rain risk level of
  Decision 18/2021/QĐ-TTg for the gauge's terrain (counting the days before the period, since a
  risk level can need three days in a row); the largest 24-hour total is the highest of the
  24-hour totals ending at each full hour of the period (``collector.indices.rain_totals``: a
  window with a gap of more than 10 % gives no total).
- **Wind**: the strongest sustained wind and gust, with their cấp gió and the storm name.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from collector.indices import (
    CapGio,
    FloodAlarm,
    RainDay,
    RainIntensity,
    RainInterval,
    RainRisk,
    StormCategory,
    Terrain,
    cap_gio,
    compare_levels,
    flood_alarm,
    heavy_rain_risk,
    rain_days,
    rain_intensity,
    rain_totals,
    storm_category,
)
from gateway.model import Reading
from quantrac.reports.figures import Point, usable
from quantrac.reports.period import ReportKind, ReportPeriod

# Runs of heavy-rain days count up to 3 days (the longest run in the default table): a day's
# risk level looks back this far.
RAIN_LOOKBACK_DAYS = 3
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LevelCrossing:
    """One stay at or above an alarm level."""

    level: int  # 1, 2, 3
    up_at: datetime | None  # None: already at or above it when the period began
    down_at: datetime | None  # None: still at or above it when the period (or the data) ended


@dataclass(frozen=True, slots=True)
class RiverFigures:
    station: str
    levels: tuple[float, float, float]  # BĐ I, II, III, metres
    crest: float | None
    crest_at: datetime | None
    alarm: FloodAlarm | None  # of the crest
    crossings: tuple[LevelCrossing, ...]
    readings: int
    series: tuple[Point, ...] = ()  # what the plot draws: the levels not flagged bad


def crossings(
    readings: Sequence[Reading], levels: tuple[float, float, float]
) -> list[LevelCrossing]:
    """Every stay at or above each level, in time order of its start (pure)."""
    series = [(r.ts, r.value) for r in usable(readings)]
    out: list[LevelCrossing] = []
    for number, level in enumerate(levels, start=1):
        above_since: datetime | None = None
        inside = False
        for index, (ts, value) in enumerate(series):
            at_or_above = compare_levels(value, level) >= 0
            if at_or_above and not inside:
                inside, above_since = True, (None if index == 0 else ts)
            elif not at_or_above and inside:
                out.append(LevelCrossing(number, above_since, ts))
                inside = False
        if inside:
            out.append(LevelCrossing(number, above_since, None))
    # Stays that began before the period first, then by the time they began.
    return sorted(out, key=lambda c: (c.up_at is not None, c.up_at.timestamp() if c.up_at else 0.0,
                                      c.level))  # fmt: skip


def river(
    station: str, readings: Sequence[Reading], levels: tuple[float, float, float]
) -> RiverFigures:
    good = usable(readings)
    top = max(good, key=lambda r: r.value, default=None)  # max keeps the first of equals
    return RiverFigures(
        station=station,
        levels=levels,
        crest=None if top is None else top.value,
        crest_at=None if top is None else top.ts,
        alarm=None if top is None else flood_alarm(top.value, levels),
        crossings=tuple(crossings(good, levels)),
        readings=len(good),
        series=tuple((r.ts, r.value) for r in good),
    )


@dataclass(frozen=True, slots=True)
class RainDayFigures:
    day: RainDay
    intensity: RainIntensity | None
    risk: RainRisk

    @property
    def total_mm(self) -> float | None:
        return self.day.total.total_mm

    @property
    def known_mm(self) -> float:
        return self.day.total.known_mm


@dataclass(frozen=True, slots=True)
class RainFigures:
    station: str
    terrain: Terrain
    days: tuple[RainDayFigures, ...]  # the period's days, in order
    hourly_mm: tuple[tuple[datetime, float | None], ...]  # daily reports: each hour's rain
    max_24h_mm: float | None
    max_24h_at: datetime | None

    @property
    def total_mm(self) -> float:
        """The period's rain as known (a lower bound where a day is incomplete)."""
        return round(sum(d.known_mm for d in self.days), 6)

    @property
    def complete(self) -> bool:
        return all(d.total_mm is not None for d in self.days)

    @property
    def risk_days(self) -> list[RainDayFigures]:
        return [d for d in self.days if d.risk.level is not None]


def rain(
    station: str,
    intervals: Sequence[RainInterval],
    period: ReportPeriod,
    terrain: Terrain = Terrain.LOWLAND,
) -> RainFigures:
    """``intervals`` should reach back RAIN_LOOKBACK_DAYS before the period (risk runs)."""
    by_day: dict[date, RainDay] = {d.day: d for d in rain_days(intervals, period.zone)}
    first = period.first - timedelta(days=RAIN_LOOKBACK_DAYS)
    history: list[RainDay] = []
    days: list[RainDayFigures] = []
    day = first
    while day <= period.last:
        found = by_day.get(day)
        if found is not None:
            history.append(found)
        if day >= period.first and found is not None:
            risk = heavy_rain_risk(history, terrain)
            days.append(RainDayFigures(found, rain_intensity(found.total.total_mm), risk))
        day += timedelta(days=1)
    hourly: list[tuple[datetime, float | None]] = []
    if period.kind is ReportKind.DAILY:
        for end in period.hour_ends:
            total = rain_totals(intervals, end, windows_h=(1,))[1]
            hourly.append((end, total.total_mm))
    top_mm, top_at = largest_24h(intervals, period)
    return RainFigures(
        station=station,
        terrain=terrain,
        days=tuple(days),
        hourly_mm=tuple(hourly),
        max_24h_mm=top_mm,
        max_24h_at=top_at,
    )


def largest_24h(
    intervals: Sequence[RainInterval], period: ReportPeriod
) -> tuple[float | None, datetime | None]:
    """The largest 24-hour total ending at a full hour of the period, and when (the first of
    equals). Each window is given only the intervals that can lie in it: the totals are the
    collector's, the cost a day's intervals per hour instead of the whole month's."""
    ordered = sorted(intervals, key=lambda i: i.end)
    ends = [i.end for i in ordered]
    best: tuple[float | None, datetime | None] = (None, None)
    for end in period.hour_ends:
        lo, hi = bisect_left(ends, end - DAY), bisect_right(ends, end)
        total = rain_totals(ordered[lo:hi], end, windows_h=(24,))[24].total_mm
        if total is not None and (best[0] is None or total > best[0]):
            best = (total, end)
    return best


@dataclass(frozen=True, slots=True)
class WindFigures:
    station: str
    max_speed: float | None
    max_speed_at: datetime | None
    max_gust: float | None
    max_gust_at: datetime | None

    @property
    def cap(self) -> CapGio | None:
        return cap_gio(self.max_speed)

    @property
    def gust_cap(self) -> CapGio | None:
        return cap_gio(self.max_gust)

    @property
    def storm(self) -> StormCategory | None:
        return storm_category(self.cap)


def wind(station: str, speed: Sequence[Reading], gust: Sequence[Reading]) -> WindFigures:
    top = max(usable(speed), key=lambda r: r.value, default=None)
    top_gust = max(usable(gust), key=lambda r: r.value, default=None)
    return WindFigures(
        station=station,
        max_speed=None if top is None else top.value,
        max_speed_at=None if top is None else top.ts,
        max_gust=None if top_gust is None else top_gust.value,
        max_gust_at=None if top_gust is None else top_gust.ts,
    )
