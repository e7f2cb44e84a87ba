"""The smog-then-flood replay (tests/reports/scenario.py), loaded once by the real collector
into SQLite (tests/dashboards/load.py), with the alerting service's records of those two days
made by its own incident manager and notification log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from alerting.incidents import IncidentManager, IncidentStore
from alerting.model import AlertKind, Delivery, DeliveryStatus, Severity, Signal
from alerting.notifiers.log import NotificationLog
from collector.store import ReadingStore
from quantrac.reports.gather import AlertingRecords, gather
from quantrac.reports.model import Report
from quantrac.reports.period import ReportPeriod
from quantrac.site import Site
from tests.alerting.receivers import flood_notification
from tests.conftest import EXAMPLE_SITE
from tests.dashboards.flood_and_smog import ZONE
from tests.dashboards.load import load, replay_site
from tests.reports.scenario import SmogThenFlood

FIRST_DAY = date(2025, 10, 27)  # a Monday; the flood day is the 28th
FIXED_NOW = datetime(2025, 11, 5, 9, 0, tzinfo=ZONE)


@dataclass
class Replayed:
    site: Site
    replay: SmogThenFlood
    store: ReadingStore
    data_dir: Path
    alerting: AlertingRecords

    def at(self, day: date, hh: int, mm: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONE)

    def report(self, period: ReportPeriod) -> Report:
        return gather(self.site, self.store, period, alerting=self.alerting, now=lambda: FIXED_NOW)


def write_alerting_records(replayed: Replayed) -> None:
    """Day 2's warnings as the alerting service records them; a message log to match."""
    day1, day2 = replayed.replay.smog_day, replayed.replay.flood_day
    at = replayed.at
    store = IncidentStore(replayed.alerting.incidents)
    manager = IncidentManager(store)

    def signal(rule: str, station: str, kind: AlertKind, level: int, when: datetime) -> None:
        severity = Severity(min(level, 3))
        manager.on_signal(Signal(rule, station, kind, level, severity, when))

    signal("air_quality", "hue_air", AlertKind.AIR, 1, at(day1, 13))
    signal("air_quality", "hue_air", AlertKind.AIR, 0, at(day1, 22))
    signal("flood_levels", "kim_long", AlertKind.FLOOD, 1, at(day2, 11, 55))
    manager.acknowledge("flood_levels:kim_long", "trực ban", "", at(day2, 12, 10))
    signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, at(day2, 13, 45))
    signal("flood_levels", "kim_long", AlertKind.FLOOD, 3, at(day2, 16, 25))
    signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, at(day2, 19, 35))
    signal("flood_levels", "kim_long", AlertKind.FLOOD, 1, at(day2, 22, 20))
    signal("heavy_rain", "nam_dong", AlertKind.RAIN, 1, at(day2, 10))
    signal("heavy_rain", "nam_dong", AlertKind.RAIN, 3, at(day2, 16))
    signal("strong_wind", "hue_weather", AlertKind.STORM, 1, at(day2, 12))
    manager.acknowledge("strong_wind:hue_weather", "trực ban", "", at(day2, 12, 30))
    signal("strong_wind", "hue_weather", AlertKind.STORM, 0, at(day2, 18))
    store.close()

    committee = ("84905000000", "84905000001")
    with NotificationLog(replayed.alerting.notifications) as book:
        for n, hour in enumerate((12, 14, 17)):  # three flood messages to two phones by SMS
            note = flood_notification(key=f"flood-{n}")
            for phone in committee:
                sent = Delivery("sms", phone, DeliveryStatus.SENT, "CodeResult 100")
                book.record(note, sent, attempt=1, ts=at(day2, hour))
        # A landline in the group: refused for good (a failure).
        refused = Delivery("sms", "842343822000", DeliveryStatus.FAILED, "CodeResult 99")
        book.record(flood_notification(key="flood-0"), refused, attempt=1, ts=at(day2, 12))
        # An email that needed a retry, then went: one sent, no failure.
        mail = flood_notification(key="flood-1")
        busy = Delivery("email", "qt@example.gov.vn", DeliveryStatus.RETRY, "451 busy")
        book.record(mail, busy, attempt=1, exhausted=True, ts=at(day2, 14))
        ok = Delivery("email", "qt@example.gov.vn", DeliveryStatus.SENT, "250 queued")
        book.record(mail, ok, attempt=2, ts=at(day2, 14, 5))
        # The day's report itself: not a warning.
        report = flood_notification(key="report:gw-hue-1:daily:2025-10-27")
        book.record(report, ok, attempt=1, ts=at(day2, 7))


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    root = tmp_path_factory.mktemp("reports")
    site = replay_site(EXAMPLE_SITE, root / "site")
    replay = SmogThenFlood.on(FIRST_DAY)
    store = asyncio.run(load(site, replay, str(root / "data" / "quantrac.sqlite3"), root))
    data_dir = root / "data"
    found = Replayed(site, replay, store, data_dir, AlertingRecords.in_dir(data_dir))
    write_alerting_records(found)
    yield found
    store.close()


@pytest.fixture(scope="session")
def smog_day(replayed: Replayed) -> Report:
    return replayed.report(ReportPeriod.daily(replayed.replay.smog_day))


@pytest.fixture(scope="session")
def flood_day(replayed: Replayed) -> Report:
    return replayed.report(ReportPeriod.daily(replayed.replay.flood_day))


@pytest.fixture(scope="session")
def october(replayed: Replayed) -> Report:
    return replayed.report(ReportPeriod.monthly(replayed.replay.smog_day))


HOUR = timedelta(hours=1)
