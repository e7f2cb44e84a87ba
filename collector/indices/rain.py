"""Rainfall: per interval from a tipping-bucket counter or reported amounts, 1/3/6/12/24 h totals,
daily rain, the heavy-rain risk level (Decision 18/2021/QĐ-TTg) and the intensity words.

A counter reset or roll-over is not a downpour: a roll-over is counted as the tips it hides, a
reset or an implausible jump starts a new baseline and leaves that interval unknown (None) — never
negative, never invented. Unknown time is a gap in the totals, not zero rain.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import IntEnum, StrEnum
from itertools import pairwise

from collector.indices.common import VIETNAM_TZ, is_missing, local_day_bounds, require_aware

HOUR = timedelta(hours=1)


class RainEvent(StrEnum):
    COUNTED = "counted"  # a counter difference, or an amount the gauge reported
    ROLLOVER = "rollover"  # the counter wrapped past its modulus: the tips across it are counted
    RESET = "reset"  # the counter went down without wrapping: new baseline, rain unknown
    JUMP = "jump"  # more tips than rain can make in the interval: new baseline, rain unknown
    INVALID = "invalid"  # a reported amount that is missing or negative


@dataclass(frozen=True, slots=True)
class RainInterval:
    start: datetime  # exclusive
    end: datetime  # inclusive: the amount is the rain of (start, end]
    rain_mm: float | None  # None: unknown (see event)
    event: RainEvent = RainEvent.COUNTED

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class TippingBucket:
    """A counting rain gauge. Configure per station; these defaults are ours, not a decision's."""

    bucket_mm: float = 0.2  # rain per tip (gauges in use: 0.2 mm or 0.5 mm)
    modulus: int | None = 2**16  # the counter wraps to 0 after modulus − 1; None: never wraps
    # More than this is a glitch, not rain: it is above the world record (305 mm in 42 minutes).
    # An interval shorter than a minute is judged as a minute.
    max_mm_per_hour: float = 500.0

    def __post_init__(self) -> None:
        if self.bucket_mm <= 0:
            raise ValueError(f"bucket_mm must be positive, got {self.bucket_mm}")
        if self.modulus is not None and self.modulus < 2:
            raise ValueError(f"modulus must be at least 2, got {self.modulus}")
        if self.max_mm_per_hour <= 0:
            raise ValueError(f"max_mm_per_hour must be positive, got {self.max_mm_per_hour}")

    def max_tips(self, duration: timedelta) -> float:
        hours = max(duration / HOUR, 1 / 60)
        return self.max_mm_per_hour * hours / self.bucket_mm

    def mm(self, tips: float) -> float:
        # Tip counts are whole numbers; round away the binary noise of × 0.2 (3 tips = 0.6 mm).
        return round(tips * self.bucket_mm, 6)


def _points(series: Iterable[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """Sorted by time; a repeated timestamp (a re-sent reading) keeps its first value."""
    seen: dict[datetime, float] = {}
    for moment, value in series:
        seen.setdefault(require_aware(moment), value)
    return sorted(seen.items())


def rain_from_counter(
    counts: Sequence[tuple[datetime, float]], gauge: TippingBucket | None = None
) -> list[RainInterval]:
    """Rain per interval between successive counter readings (tips), with their events.

    A missing or negative count is skipped: the next good one closes a longer interval, so no
    rain is lost. A decrease is a roll-over when the tips across the modulus are plausible for the
    interval, otherwise a reset. An increase of more tips than ``max_mm_per_hour`` allows is a
    jump. A reset or jump makes the new count the baseline and leaves its interval unknown.
    """
    gauge = gauge or TippingBucket()
    points = [(t, c) for t, c in _points(counts) if not is_missing(c) and c >= 0]
    intervals: list[RainInterval] = []
    for (start, before), (end, after) in pairwise(points):
        tips = after - before
        limit = gauge.max_tips(end - start)
        if tips >= 0:
            if tips > limit:
                intervals.append(RainInterval(start, end, None, RainEvent.JUMP))
            else:
                intervals.append(RainInterval(start, end, gauge.mm(tips)))
            continue
        modulus = gauge.modulus
        if modulus is not None and before < modulus and 0 <= tips + modulus <= limit:
            intervals.append(RainInterval(start, end, gauge.mm(tips + modulus), RainEvent.ROLLOVER))
        else:
            intervals.append(RainInterval(start, end, None, RainEvent.RESET))
    return intervals


def rain_from_amounts(
    amounts: Sequence[tuple[datetime, float]], interval: timedelta
) -> list[RainInterval]:
    """Intervals from a gauge that reports the rain of the last ``interval`` at each timestamp.

    A missing or negative amount is an unknown interval. An interval never reaches back past the
    previous report, so two reports never count the same minutes.
    """
    if interval <= timedelta(0):
        raise ValueError(f"interval must be positive, got {interval}")
    intervals: list[RainInterval] = []
    previous: datetime | None = None
    for end, mm in _points(amounts):
        start = end - interval if previous is None else max(end - interval, previous)
        previous = end
        if is_missing(mm) or mm < 0:
            intervals.append(RainInterval(start, end, None, RainEvent.INVALID))
        else:
            intervals.append(RainInterval(start, end, float(mm)))
    return intervals


RAIN_WINDOWS_H: tuple[int, ...] = (1, 3, 6, 12, 24)
MIN_COVERAGE = 0.9  # our default: a total needs 90 % of its window covered by known intervals
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RainTotal:
    """The rain of the window (end − hours, end].

    Only intervals lying wholly inside the window count: an amount is never split, so rain from
    before the window (or from a long offline stretch) cannot appear as a burst in it. Time not
    covered by a known interval is a gap: ``known_mm`` still sums what is known (a lower bound),
    but ``total_mm`` is None when less than ``min_coverage`` of the window is covered.
    """

    hours: int
    end: datetime
    known_mm: float
    coverage: float  # 0…1
    min_coverage: float = MIN_COVERAGE

    @property
    def param(self) -> str:
        """The derived series it is written as: ``rain_1h`` … ``rain_24h``."""
        return f"rain_{self.hours}h"

    @property
    def total_mm(self) -> float | None:
        return self.known_mm if self.coverage >= self.min_coverage - _EPSILON else None

    @property
    def complete(self) -> bool:
        return self.coverage >= 1 - _EPSILON

    @property
    def reason(self) -> str | None:
        if self.total_mm is not None:
            return None
        return (
            f"{self.coverage:.0%} of the {self.hours} h window has rain data; "
            f"a total needs {self.min_coverage:.0%}"
        )


class _Intervals:
    """Intervals sorted by end, for many windows over the same data."""

    def __init__(self, intervals: Iterable[RainInterval]) -> None:
        self.items = sorted(intervals, key=lambda i: i.end)
        self.ends = [i.end for i in self.items]
        for item in self.items:
            require_aware(item.end)

    def total(self, end: datetime, hours: int, min_coverage: float) -> RainTotal:
        window = hours * HOUR
        start = require_aware(end) - window
        lo, hi = bisect_right(self.ends, start), bisect_right(self.ends, end)
        inside = [i for i in self.items[lo:hi] if i.start >= start and i.rain_mm is not None]
        known = round(sum((i.rain_mm for i in inside if i.rain_mm is not None), 0.0), 6)
        covered = sum((i.duration for i in inside), timedelta(0))
        return RainTotal(hours, end, known, min(1.0, covered / window), min_coverage)


def rain_total(
    intervals: Iterable[RainInterval],
    end: datetime,
    hours: int,
    min_coverage: float = MIN_COVERAGE,
) -> RainTotal:
    """The rain of the ``hours`` ending at ``end`` (``rain_1h`` … ``rain_24h``)."""
    return _Intervals(intervals).total(end, hours, min_coverage)


def rain_totals(
    intervals: Iterable[RainInterval],
    end: datetime,
    windows_h: Sequence[int] = RAIN_WINDOWS_H,
    min_coverage: float = MIN_COVERAGE,
) -> dict[int, RainTotal]:
    """``rain_1h``, ``rain_3h``, ``rain_6h``, ``rain_12h``, ``rain_24h`` at ``end``, by hours."""
    indexed = _Intervals(intervals)
    return {h: indexed.total(end, h, min_coverage) for h in windows_h}


@dataclass(frozen=True, slots=True)
class RainDay:
    """A local calendar day's rain, midnight to midnight."""

    day: date
    total: RainTotal  # the day's 24 h
    max_12h_mm: float  # largest known 12 h total ending within the day (a lower bound)


def _day_of(end: datetime, zone: tzinfo) -> date:
    # An interval ending at midnight is the last of the day before: days are (00:00, 24:00].
    return (end - timedelta(microseconds=1)).astimezone(zone).date()


def rain_days(
    intervals: Iterable[RainInterval],
    zone: tzinfo = VIETNAM_TZ,
    min_coverage: float = MIN_COVERAGE,
) -> list[RainDay]:
    """Every local day from the first interval's to the last's, in order.

    The 12 h windows end at each interval end within the day and at midnight, so a burst that
    starts the evening before counts for the day in which its 12 hours end.
    """
    indexed = _Intervals(intervals)
    if not indexed.items:
        return []
    first = _day_of(indexed.items[0].end, zone)
    last = _day_of(indexed.items[-1].end, zone)
    days: list[RainDay] = []
    day = first
    while day <= last:
        start, end = local_day_bounds(day, zone)
        ends = [e for e in indexed.ends if start < e <= end] + [end]
        max_12h = max(indexed.total(e, 12, min_coverage).known_mm for e in ends)
        days.append(RainDay(day, indexed.total(end, 24, min_coverage), max_12h))
        day += timedelta(days=1)
    return days


class Terrain(StrEnum):
    MOUNTAIN = "mountain"  # trung du, miền núi
    LOWLAND = "lowland"  # đồng bằng, ven biển


ALL_TERRAINS = frozenset(Terrain)


class RiskLevel(IntEnum):
    """Natural-disaster risk levels, Decision 18/2021/QĐ-TTg, Article 4(3) and Annex XII."""

    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4
    LEVEL_5 = 5

    @property
    def colour(self) -> str:
        return ("light blue", "light yellow", "orange", "red", "purple")[self - 1]

    @property
    def label(self) -> str:
        return f"rủi ro thiên tai cấp độ {int(self)}"


@dataclass(frozen=True, slots=True)
class HeavyRainRule:
    """A day reaches the rule's band when its 24 h total reaches ``rain_24h_mm`` or its largest
    12 h total reaches ``rain_12h_mm``; the rule holds when the last ``min_days`` days in a row
    reached it."""

    level: RiskLevel
    rain_24h_mm: float
    rain_12h_mm: float | None
    min_days: int = 1
    inclusive: bool = True  # "từ 100 mm" is reached at 100; "trên 200 mm" only above 200
    terrains: frozenset[Terrain] = ALL_TERRAINS

    def _reaches(self, mm: float, threshold: float) -> bool:
        return mm >= threshold if self.inclusive else mm > threshold

    def reached_on(self, day: RainDay) -> bool:
        if self._reaches(day.total.known_mm, self.rain_24h_mm):
            return True
        return self.rain_12h_mm is not None and self._reaches(day.max_12h_mm, self.rain_12h_mm)


_MOUNTAIN = frozenset({Terrain.MOUNTAIN})

# Level 1 is the decision's, as docs/indices.md gives it: 100–200 mm in 24 h or 50–100 mm in
# 12 h, lasting 1–2 days. The higher
# levels only follow its outline (> 200 and > 400 mm / 24 h, longer rain, mountain terrain ranks
# higher): verify them against the decision's article on heavy rain before relying on them.
# "Longer" is taken as 3 days or more, the step after "1–2 days".
DEFAULT_HEAVY_RAIN_RULES: tuple[HeavyRainRule, ...] = (
    HeavyRainRule(RiskLevel.LEVEL_1, 100, 50, min_days=1),
    HeavyRainRule(RiskLevel.LEVEL_2, 100, 50, min_days=3, terrains=_MOUNTAIN),
    HeavyRainRule(RiskLevel.LEVEL_2, 200, 100, min_days=1, inclusive=False),
    HeavyRainRule(RiskLevel.LEVEL_3, 200, 100, min_days=3, inclusive=False, terrains=_MOUNTAIN),
    HeavyRainRule(RiskLevel.LEVEL_3, 400, 200, min_days=1, inclusive=False, terrains=_MOUNTAIN),
    HeavyRainRule(RiskLevel.LEVEL_3, 400, 200, min_days=3, inclusive=False),
    HeavyRainRule(RiskLevel.LEVEL_4, 400, 200, min_days=3, inclusive=False, terrains=_MOUNTAIN),
)


@dataclass(frozen=True, slots=True)
class HeavyRainThresholds:
    rules: tuple[HeavyRainRule, ...] = DEFAULT_HEAVY_RAIN_RULES


@dataclass(frozen=True, slots=True)
class RainRisk:
    level: RiskLevel | None  # None: no rule reached (see reason)
    rule: HeavyRainRule | None = None
    days: int = 0  # days in a row, ending with the last, that reached the rule's band
    reason: str | None = None


def _run(days: Sequence[RainDay], rule: HeavyRainRule) -> int:
    run = 0
    expected = days[-1].day
    for day in reversed(days):
        # A missing date breaks the run: "lasting N days" means N days in a row.
        if day.day != expected or not rule.reached_on(day):
            break
        run += 1
        expected -= timedelta(days=1)
    return run


def heavy_rain_risk(
    days: Sequence[RainDay],
    terrain: Terrain,
    thresholds: HeavyRainThresholds | None = None,
) -> RainRisk:
    """The heavy-rain risk level of the last of ``days`` (consecutive local days).

    A day's rain counts by its known amount: a lower bound that reaches a band is proof, so an
    incomplete day can raise the level but never lowers it below what is known.
    """
    rules = (thresholds or HeavyRainThresholds()).rules
    if not days:
        return RainRisk(None, reason="no rain days")
    ordered = sorted(days, key=lambda d: d.day)
    best: RainRisk | None = None
    for rule in rules:
        if terrain not in rule.terrains:
            continue
        run = _run(ordered, rule)
        if run >= rule.min_days and (best is None or best.level is None or rule.level > best.level):
            best = RainRisk(rule.level, rule, run)
    if best is not None:
        return best
    last = ordered[-1]
    reason = "below risk level 1"
    if not last.total.complete:
        reason += f" on the known rain ({last.total.coverage:.0%} of {last.day} covered)"
    return RainRisk(None, reason=reason)


class RainIntensity(StrEnum):
    MODERATE = "mưa vừa"
    HEAVY = "mưa to"
    VERY_HEAVY = "mưa rất to"


@dataclass(frozen=True, slots=True)
class RainIntensityThresholds:
    """Common usage, not a decision (docs/indices.md: a configurable default): mưa vừa
    16–50 mm/24 h, mưa to 51–100,
    mưa rất to > 100."""

    moderate_mm: float = 16.0  # from
    heavy_above_mm: float = 50.0
    very_heavy_above_mm: float = 100.0


def rain_intensity(
    rain_24h_mm: float | None, thresholds: RainIntensityThresholds | None = None
) -> RainIntensity | None:
    """The word for a 24 h total; None below mưa vừa or for a missing total."""
    if rain_24h_mm is None or is_missing(rain_24h_mm):
        return None
    t = thresholds or RainIntensityThresholds()
    if rain_24h_mm > t.very_heavy_above_mm:
        return RainIntensity.VERY_HEAVY
    if rain_24h_mm > t.heavy_above_mm:
        return RainIntensity.HEAVY
    if rain_24h_mm >= t.moderate_mm:
        return RainIntensity.MODERATE
    return None
