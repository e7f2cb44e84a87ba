"""A short window of one series, and its rate by least squares, for trends and messages."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

HOUR_S = 3600.0


RATE_POINTS = 120  # points a rate window keeps at most (SeriesWindow.max_points)


@dataclass(slots=True)
class SeriesWindow:
    """The (ts, value) points of the last ``span`` before the newest one."""

    span: timedelta
    points: deque[tuple[datetime, float]] = field(default_factory=deque)
    # For a rate only: at most about this many points over the span. A station reporting every
    # 2 s would otherwise keep 1,800 points an hour per rule (memory, and slower garbage
    # collections); a slope over 120 evenly spaced points says the same. Sums keep every point.
    max_points: int | None = None

    def add(self, ts: datetime, value: float) -> None:
        if self.points and ts <= self.points[-1][0]:
            return  # duplicate or late: the window only moves forward
        if (
            self.max_points is not None
            and len(self.points) >= 2
            and ts - self.points[-2][0] < self.span / self.max_points
        ):
            self.points[-1] = (ts, value)  # too close to the one before: the newest stands
        else:
            self.points.append((ts, value))
        oldest = ts - self.span
        while self.points[0][0] < oldest:
            self.points.popleft()

    def __len__(self) -> int:
        return len(self.points)

    @property
    def duration(self) -> timedelta:
        if not self.points:
            return timedelta(0)
        return self.points[-1][0] - self.points[0][0]

    def total(self) -> float:
        return sum(v for _, v in self.points)


def rate_per_hour(points: Sequence[tuple[datetime, float]]) -> float:
    """The least-squares slope of the points, in the value's unit per hour.

    A fit rather than the last difference: one noisy reading barely moves it, and the rate of
    a river is what the whole last hour says, not the last minute. The slope is the one
    ``scipy.stats.linregress`` gives (tests/alerting/test_rules_trend.py checks it against it),
    written in closed form — Σ(t − t̄)(v − v̄) / Σ(t − t̄)² — because linregress also computes r,
    a p-value and standard errors: ≈220 µs a fit of 60 points against ≈25 µs, and a batch has
    1 ms for all its rules (docs/rules.md).
    """
    n = len(points)
    if n < 2:
        raise ValueError("a rate needs two points")
    origin = points[0][0]
    hours = np.fromiter(((ts - origin).total_seconds() for ts, _ in points), float, n) / HOUR_S
    values = np.fromiter((v for _, v in points), float, n)
    centred = hours - hours.mean()
    spread = float(centred @ centred)
    if spread == 0:
        raise ValueError("a rate needs two distinct times")
    return float(centred @ (values - values.mean())) / spread


@dataclass(frozen=True, slots=True)
class Projection:
    """When the value reaches ``target`` if the rate holds."""

    target: float
    label: str
    hours: float
    at: datetime


def project(
    value: float,
    ts: datetime,
    rate: float,
    target: float,
    label: str,
    horizon: timedelta | None = None,
) -> Projection | None:
    """Linear projection from the latest value at the fitted rate; None if it is not on the way
    (falling, or already there) or further than ``horizon``."""
    if not rate > 0 or value >= target:  # `not >`: a NaN rate projects nowhere
        return None
    hours = (target - value) / rate
    if not math.isfinite(hours):
        return None
    if horizon is not None and hours * HOUR_S > horizon.total_seconds():
        return None
    return Projection(target, label, hours, ts + timedelta(hours=hours))
