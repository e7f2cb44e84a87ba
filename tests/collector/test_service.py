"""The collector service: raw batches → QC → store (with flags) → clean batches and receipts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.qc import QcChain
from collector.schema import StationInfo
from collector.service import Collector
from collector.store import open_store
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import CLEAN_FILTER, decode_batch, encode_batch, raw_topic
from tests.helpers import eventually, running
from tests.servers import Influxd

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
CATALOG = {"kim_long": StationInfo("hydro", "Thành phố Huế", "Kim Long")}


def batch(seq: int, readings: list[Reading]) -> ReadingBatch:
    return ReadingBatch("gw-test", seq, "kim_long", tuple(readings), epoch="e1")


def level(minute: int, value: float) -> Reading:
    return Reading("kim_long", "water_level", value, "m", T0 + timedelta(minutes=minute))


async def test_flags_reach_the_store_and_the_clean_stream(tmp_path: Path) -> None:
    bus = InProcessBus()
    store = SqliteStore(tmp_path / "q.sqlite3", CATALOG)
    collector = Collector(bus, store, qc=QcChain(), flush_interval_s=0.05)
    clean = bus.subscribe(CLEAN_FILTER)
    # One reading a batch, one flush each: the stateful checks work across flushes.
    levels = [1.00, 1.01, 3.5, 1.02] + [1.02] * 11  # a spike, then a stuck sensor
    async with bus, running(collector.run()):
        for minute, value in enumerate(levels):
            await bus.publish(
                raw_topic("kim_long"), encode_batch(batch(minute + 1, [level(minute * 5, value)]))
            )
            await eventually(lambda: collector.stats.batches == minute + 1)  # noqa: B023
        published = [decode_batch((await asyncio.wait_for(clean.get(), 5)).payload) for _ in levels]
    flags = [(r.quality, r.reason) for b in published for r in b.readings]
    assert flags[2] == (Quality.BAD, "spike")
    assert flags[-1] == (Quality.SUSPECT, "flatline")  # the 12th identical value
    stored = store.range("kim_long", "water_level", T0, T0 + timedelta(days=1))
    assert [r.value for r in stored] == levels  # nothing dropped
    # The stuck period's first values were re-flagged in the store once it was long enough.
    assert [r.reason for r in stored] == ["", "", "spike"] + ["flatline"] * 12
    health = collector.health()
    # Counted as flagged on arrival; the re-flags of the stuck period are counted apart.
    assert health["qc"]["flags"] == {"good": 13, "spike": 1, "flatline": 1}  # type: ignore[index]
    assert health["qc"]["reflagged"] == 11  # type: ignore[index]


async def test_a_resent_batch_changes_nothing(tmp_path: Path) -> None:
    bus = InProcessBus()
    store = SqliteStore(tmp_path / "q.sqlite3", CATALOG)
    collector = Collector(bus, store, flush_interval_s=0.05)
    first = batch(1, [level(0, 1.0), level(5, 4.0), level(10, 1.01)])
    async with bus, running(collector.run()):
        for _ in range(2):  # at-least-once: the gateway resends what no receipt covered
            await bus.publish(raw_topic("kim_long"), encode_batch(first))
        await eventually(lambda: collector.stats.batches == 2)
    stored = store.range("kim_long", "water_level", T0, T0 + timedelta(days=1))
    assert [(r.value, r.reason) for r in stored] == [(1.0, ""), (4.0, "spike"), (1.01, "")]
    assert collector.qc.duplicates == 3


async def test_into_influxdb_through_the_forwarding_queue(tmp_path: Path, influxd: Influxd) -> None:
    bus = InProcessBus()
    store = open_store(influxd.store_url, CATALOG, queue_path=tmp_path / "forward.sqlite3")
    collector = Collector(bus, store, flush_interval_s=0.05)
    try:
        async with bus, running(collector.run()):
            for seq in range(1, 21):
                readings = [level(seq * 5, 1.0 + seq / 100), level(seq * 5 + 1, 99.0)]
                await bus.publish(raw_topic("kim_long"), encode_batch(batch(seq, readings)))
            await eventually(lambda: influxd.count() == 40, what="40 points in InfluxDB")
            health = collector.health()
    finally:
        store.close()
    assert health["store"]["backlog_points"] == 0  # type: ignore[index]
    bad = influxd.query('SELECT count("value") FROM "reading" WHERE "quality" = 2')
    assert bad["results"][0]["series"][0]["values"][0][1] == 20  # the 99 m readings: range
