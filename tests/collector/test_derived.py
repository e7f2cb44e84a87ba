"""Derived series through the collector: hourly means, VN_AQI hourly and daily, flood level, rain.

A day of readings goes through the real collector (QC, SQLite) on the in-process bus; the
scheduled jobs are run for each hour as APScheduler would, under a controlled clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from collector.derived import DerivedSeries
from collector.indices import Pollutant, vn_aqi_h
from collector.qc import QcChain, QcSettings
from collector.schedule import DerivedScheduler
from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.model import DeviceStatus, Quality, Reading, ReadingBatch
from gateway.wire import CLEAN_FILTER, decode_batch, encode_batch, raw_topic
from quantrac.runners import station_catalog
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running

HOUR = timedelta(hours=1)
DAY = date(2026, 11, 20)  # local; 24:00 local is 17:00 UTC
DAY_END = datetime(2026, 11, 20, 17, tzinfo=UTC)
FIRST_HOUR_END = DAY_END - 36 * HOUR  # the day's hours and the 12 before it (NowCast, O3 8 h)
HIGH_HOUR = datetime(2026, 11, 20, 5, tzinfo=UTC)  # 12:00 local: PM2.5 at 70 that hour
NOW = DAY_END + timedelta(minutes=20)
# Six readings an hour whose mean is exactly the level, and never six identical in a row.
WOBBLE = (-0.5, 0.5, -0.2, 0.2, 0.0, 0.0)
LEVELS = {"pm25": 50.0, "pm10": 40.0, "no2": 80.0, "o3": 100.0}


@dataclass
class Rig:
    bus: InProcessBus
    store: SqliteStore
    collector: Collector
    derived: DerivedSeries
    seq: int = 0

    async def send(self, station: str, readings: list[Reading]) -> None:
        self.seq += 1
        batch = ReadingBatch("gw-test", self.seq, station, tuple(readings), epoch="e")
        before = self.collector.stats.batches
        await self.bus.publish(raw_topic(station), encode_batch(batch))
        await eventually(lambda: self.collector.stats.batches > before)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    site = load_site(EXAMPLE_SITE)
    store = SqliteStore(tmp_path / "q.sqlite3", station_catalog(site))
    bus = InProcessBus()
    derived = DerivedSeries(store, site.stations, clock=lambda: NOW)
    qc = QcChain(QcSettings(site.stations), clock=lambda: NOW)
    # run() would start the real schedule: the test drives the jobs itself.
    collector = Collector(bus, store, qc=qc, derived=derived, flush_interval_s=0.01)
    async with bus, running(collector._consume()):
        yield Rig(bus, store, collector, derived)
    store.close()


def pm_hour(end: datetime) -> list[Reading]:
    readings = []
    for param, level in LEVELS.items():
        if param == "pm25" and end == HIGH_HOUR:
            level = 70.0  # not more: a jump of 30 µg/m³ in one reading is QC's "outlier"
        for i, wobble in enumerate(WOBBLE):
            ts = end - HOUR + timedelta(minutes=5 + 10 * i)
            readings.append(Reading("hue_air", param, level + wobble, "µg/m³", ts))
    # A broken analyser reading: flagged bad by QC, so no mean may use it.
    broken = end - HOUR + timedelta(minutes=7)
    readings.append(Reading("hue_air", "pm25", 999.0, "µg/m³", broken, DeviceStatus.ERROR))
    return readings


async def run_hours(rig: Rig, ends: list[datetime]) -> None:
    for end in ends:
        await rig.collector.derive(lambda end=end: rig.derived.hourly(end), f"hour {end}")  # type: ignore[misc]


def stored(rig: Rig, param: str, start: datetime, end: datetime) -> dict[datetime, Reading]:
    return {r.ts: r for r in rig.store.range("hue_air", param, start, end + timedelta(seconds=1))}


async def test_a_day_of_air_makes_the_hourly_and_daily_vn_aqi(rig: Rig) -> None:
    ends = [FIRST_HOUR_END + k * HOUR for k in range(36)]
    for end in ends:
        await rig.send("hue_air", pm_hour(end))
    await run_hours(rig, ends)
    await rig.collector.derive(lambda: rig.derived.daily(DAY), "day")

    means = stored(rig, "pm25_h", ends[0], ends[-1])
    assert len(means) == 36
    assert means[HIGH_HOUR].value == pytest.approx(70.0)
    assert means[ends[0]].value == pytest.approx(50.0)  # the bad 999 is not in it

    hourly = stored(rig, "vn_aqi_h", ends[0], ends[-1])
    # PM2.5 at 50 µg/m³ is exactly breakpoint I=100 (docs/indices.md); the gases are lower.
    for end in ends[1:]:
        if not HIGH_HOUR <= end < HIGH_HOUR + 12 * HOUR:
            assert hourly[end].value == 100, end
            assert hourly[end].reason == "pm25"  # the dominant pollutant
    # In the 12 hours the high hour is in the NowCast, the AQI is what the decision's formula
    # gives from those hourly means (test_indices_aqi checks the formula by hand).
    history = {
        Pollutant(p): [(e, 70.0 if (p == "pm25" and e == HIGH_HOUR) else v) for e in ends]
        for p, v in LEVELS.items()
    }
    for k in range(12):
        end = HIGH_HOUR + k * HOUR
        assert hourly[end].value == vn_aqi_h(history, end).value, end
    assert hourly[HIGH_HOUR].value > 100

    daily = stored(rig, "vn_aqi_d", DAY_END, DAY_END)
    # PM2.5's 24 h mean is (23·50 + 70)/24 = 50.83 → 100 + (150−100)/(80−50)·0.83 = 101.39 → 101.
    assert daily[DAY_END].value == 101
    assert rig.derived.health()["days"] == 1


async def test_a_late_reading_recomputes_the_hours_it_affects(rig: Rig) -> None:
    ends = [FIRST_HOUR_END + k * HOUR for k in range(24, 36)]
    for end in ends:
        await rig.send("hue_air", pm_hour(end))
    await run_hours(rig, ends)
    late_hour = ends[3]
    before = stored(rig, "vn_aqi_h", late_hour, late_hour)[late_hour].value
    # A logger's backlog arrives: a high PM2.5 value inside an hour already computed.
    late = Reading("hue_air", "pm25", 150.0, "µg/m³", late_hour - timedelta(minutes=1))
    await rig.send("hue_air", [late])
    await rig.collector.derive(rig.derived.recompute_dirty, "late", stored=True)
    means = stored(rig, "pm25_h", late_hour, late_hour)
    assert means[late_hour].value == pytest.approx((300.0 + 150.0) / 7)
    after = stored(rig, "vn_aqi_h", late_hour, late_hour)[late_hour].value
    assert after > before
    assert rig.derived.stats.recomputed_hours == 9  # that hour and the 8 computed after it


async def test_flood_level_is_derived_as_the_level_arrives(rig: Rig) -> None:
    clean = rig.bus.subscribe(CLEAN_FILTER)
    ts = NOW - timedelta(minutes=5)
    await rig.send("kim_long", [Reading("kim_long", "water_level", 2.25, "m", ts)])
    flood = rig.store.range("kim_long", "flood_level", ts, ts + HOUR)
    assert [(r.value, r.reason) for r in flood] == [(2.0, "BĐ II")]
    published = [decode_batch((await asyncio.wait_for(clean.get(), 5)).payload) for _ in range(2)]
    assert [r.param for b in published for r in b.readings] == ["water_level", "flood_level"]


async def test_rain_totals_from_the_tipping_bucket_counter(rig: Rig) -> None:
    start = NOW - 3 * HOUR
    counts = [Reading("nam_dong", "rain_counter", 1000.0 + 5 * i, "count",
                      start + timedelta(minutes=10 * i)) for i in range(19)]  # fmt: skip
    await rig.send("nam_dong", counts)
    at = counts[-1].ts
    totals = {r.param: r for r in rig.store.latest("nam_dong") if r.param.startswith("rain_")}
    # 5 tips of 0.2 mm every 10 minutes: 6 mm an hour, 18 mm in the three hours there are.
    assert totals["rain_1h"].value == pytest.approx(6.0)
    assert totals["rain_3h"].value == pytest.approx(18.0)
    assert totals["rain_1h"].ts == at
    assert (totals["rain_24h"].quality, totals["rain_24h"].reason) == (
        Quality.SUSPECT,
        "incomplete",  # only 3 of the 24 hours were heard: a lower bound
    )


async def test_the_scheduler_computes_the_last_hour_on_start(rig: Rig) -> None:
    end = DAY_END
    await rig.send("hue_air", pm_hour(end))
    scheduler = DerivedScheduler(rig.collector, clock=lambda: NOW)
    assert scheduler.last_hour_end() == end
    await scheduler.hourly()
    assert stored(rig, "pm25_h", end, end)[end].value == pytest.approx(50.0)
