"""The period a report covers: one local calendar day, or one local calendar month (pure).

Days are the province's calendar days, midnight to midnight local time (Asia/Ho_Chi_Minh, as
the decisions count a day's hours 01:00 … 24:00 and a day's rain). A daily report made at
07:00 is about yesterday; a monthly report made on the 1st is about the month before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.model import VIETNAM_TZ


class ReportKind(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"

    @property
    def label(self) -> str:
        return "ngày" if self is ReportKind.DAILY else "tháng"


def site_zone(name: str) -> tzinfo:
    """The site's time zone (site.yaml ``timezone``); Vietnam's fixed UTC+7 needs no tz data."""
    if name == "Asia/Ho_Chi_Minh":
        return VIETNAM_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"site timezone {name!r} is not known: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    kind: ReportKind
    first: date  # the first local day covered
    last: date  # the last local day covered (inclusive)
    zone: tzinfo = VIETNAM_TZ

    @classmethod
    def daily(cls, day: date, zone: tzinfo = VIETNAM_TZ) -> ReportPeriod:
        return cls(ReportKind.DAILY, day, day, zone)

    @classmethod
    def monthly(cls, any_day: date, zone: tzinfo = VIETNAM_TZ) -> ReportPeriod:
        first = any_day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return cls(ReportKind.MONTHLY, first, following - timedelta(days=1), zone)

    @classmethod
    def of(cls, kind: ReportKind, day: date, zone: tzinfo = VIETNAM_TZ) -> ReportPeriod:
        return cls.daily(day, zone) if kind is ReportKind.DAILY else cls.monthly(day, zone)

    @classmethod
    def previous(cls, kind: ReportKind, now: datetime, zone: tzinfo = VIETNAM_TZ) -> ReportPeriod:
        """The period a report made at ``now`` is about: yesterday, or last month."""
        today = now.astimezone(zone).date()
        if kind is ReportKind.DAILY:
            return cls.daily(today - timedelta(days=1), zone)
        return cls.monthly(today.replace(day=1) - timedelta(days=1), zone)

    @property
    def start(self) -> datetime:
        """The first instant covered, UTC."""
        return datetime.combine(self.first, time(0), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The instant after the last one covered (the next local midnight), UTC."""
        return datetime.combine(self.last + timedelta(days=1), time(0), self.zone).astimezone(UTC)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def hour_ends(self) -> list[datetime]:
        """The ends of the period's hours, UTC: an hourly mean is stamped with its end."""
        hours = int(self.duration / timedelta(hours=1))
        return [self.start + timedelta(hours=k) for k in range(1, hours + 1)]

    @property
    def slug(self) -> str:
        """For file names: ``2025-10-27`` or ``2025-10``."""
        if self.kind is ReportKind.DAILY:
            return self.first.isoformat()
        return f"{self.first:%Y-%m}"

    @property
    def title(self) -> str:
        """How the report's heading says it: "ngày 27/10/2025", "tháng 10/2025"."""
        if self.kind is ReportKind.DAILY:
            return f"ngày {self.first:%d/%m/%Y}"
        return f"tháng {self.first:%m/%Y}"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end
