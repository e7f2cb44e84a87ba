"""What the index modules share: the local day, the decisions' rounding, a category's colour."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from gateway.model import VIETNAM_TZ as VIETNAM_TZ  # the index modules' local day

Rgb = tuple[int, int, int]


def round_half_up(value: float) -> int:
    """The final index, rounded half up (Decisions 1459 and 1460: 109.5 → 110, never to even).

    Interpolation can land a hair below an exact half (109.49999999999999); nine decimals are far
    below anything a concentration carries, so they are rounded away first.
    """
    return math.floor(round(value, 9) + 0.5)


def hex_colour(rgb: Rgb) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


@dataclass(frozen=True, slots=True)
class Category:
    """One band of an index scale: its integer range, Vietnamese name and colour."""

    low: int | None  # None: no lower end (WQI "< 10")
    high: int
    name: str  # Vietnamese, as the decision prints it
    colour: str
    rgb: Rgb

    @property
    def hex(self) -> str:
        return hex_colour(self.rgb)

    def contains(self, value: int) -> bool:
        return (self.low is None or value >= self.low) and value <= self.high


def require_aware(moment: datetime) -> datetime:
    """Timestamps are instants: a naive one would be read in the host's zone, so refuse it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone; pass UTC datetimes")
    return moment


def local_day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants at which a local calendar day starts and ends (the end is the next midnight)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def is_missing(value: float | None) -> bool:
    return value is None or math.isnan(value)
