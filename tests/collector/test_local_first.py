"""A remote store down does not stop the collector: the clean stream, its derived series (flood
level, rain totals) and so every warning keep flowing from the local copy; the backlog reaches
VictoriaMetrics once it is back, each point once, although the gateway resent batches."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.derived import DerivedSeries
from collector.qc import QcChain, QcSettings
from collector.service import Collector
from collector.store import open_store
from collector.store.local_first import LocalFirstStore
from collector.store.victoria import VictoriaStore
from gateway.bus.memory import InProcessBus
from gateway.model import Reading, ReadingBatch
from gateway.wire import CLEAN_FILTER, decode_batch, encode_batch, raw_topic
from quantrac.runners import station_catalog
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running
from tests.servers import VictoriaMetrics

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


def raw(seq: int, station: str, readings: list[Reading]) -> bytes:
    return encode_batch(ReadingBatch("gw-hue-1", seq, station, tuple(readings), epoch="e1"))


async def test_clean_stream_and_derived_series_flow_while_victoriametrics_is_down(
    tmp_path: Path, victoria_metrics: VictoriaMetrics
) -> None:
    site = load_site(EXAMPLE_SITE)
    store = open_store(
        victoria_metrics.store_url,
        station_catalog(site),
        queue_path=tmp_path / "forward-queue.sqlite3",
        recent_path=tmp_path / "recent.sqlite3",
    )
    assert isinstance(store, LocalFirstStore)
    bus = InProcessBus()
    collector = Collector(
        bus,
        store,
        qc=QcChain(QcSettings(site.stations)),
        derived=DerivedSeries(store, site.stations),
        flush_interval_s=0.05,
    )
    clean = bus.subscribe(CLEAN_FILTER)
    victoria_metrics.stop()
    published: list[tuple[str, str, datetime]] = []

    async def next_clean() -> list[Reading]:
        message = await asyncio.wait_for(clean.get(), 5.0)
        readings = list(decode_batch(message.payload).readings)
        published.extend((r.station, r.param, r.ts) for r in readings)
        return readings

    try:
        async with bus, running(collector.run()):
            loop = asyncio.get_running_loop()
            # The river rises through BĐ I and II at Kim Long; rain falls at Nam Đông.
            for minute in range(30):
                ts = T0 + timedelta(minutes=minute)
                level = Reading("kim_long", "water_level", 0.5 + minute * 0.06, "m", ts)
                counter = Reading("nam_dong", "rain_counter", float(minute * 10), "count", ts)
                sent = loop.time()
                await bus.publish(raw_topic("kim_long"), raw(2 * minute + 1, "kim_long", [level]))
                await bus.publish(
                    raw_topic("nam_dong"), raw(2 * minute + 2, "nam_dong", [counter])
                )
                params: set[str] = set()
                while not {"water_level", "rain_counter"} <= params:
                    params.update(r.param for r in await next_clean())
                # On time with the database down: well under a second per flush.
                assert loop.time() - sent < 2.0
            await eventually(
                lambda: {"flood_level", "rain_1h"} <= {p for _, p, _ in published},
                what="derived series published",
            )
            while not clean._queue.empty():
                await next_clean()
            await eventually(
                lambda: "degraded" in collector.health()["store"],  # type: ignore[operator]
                what="the store's outage in health",
            )
            assert collector.health()["store"]["backlog_points"] > 0  # type: ignore[index]
            # The gateway resends the first ten batches (no receipt reached it in time).
            for minute in range(10):
                ts = T0 + timedelta(minutes=minute)
                level = Reading("kim_long", "water_level", 0.5 + minute * 0.06, "m", ts)
                await bus.publish(raw_topic("kim_long"), raw(2 * minute + 1, "kim_long", [level]))
            await eventually(lambda: collector.stats.batches == 70, what="resends stored")
            victoria_metrics.start()
            assert isinstance(store, LocalFirstStore)
            await asyncio.to_thread(store.remote.flush, 60.0)
            health = collector.health()
            assert health["store"]["backlog_points"] == 0  # type: ignore[index]
            assert "degraded" not in health["store"]  # type: ignore[operator]
            assert health["store"]["warning"] == ""  # type: ignore[index]
    finally:
        store.close()
    victoria_metrics.flush()
    samples: Counter[tuple[str, str, int]] = Counter()
    for line in victoria_metrics.export('{__name__="reading_value"}'):
        labels = line["metric"]
        for ts_ms in line["timestamps"]:
            samples[(labels["station"], labels["param"], ts_ms)] += 1
    assert samples[("kim_long", "water_level", int(T0.timestamp() * 1000))] == 1
    assert sum(1 for (_, p, _) in samples if p == "water_level") == 30
    assert sum(1 for (_, p, _) in samples if p == "rain_counter") == 30
    duplicates = {key: n for key, n in samples.items() if n > 1}
    assert duplicates == {}
    assert {p for _, p, _ in samples} >= {"flood_level", "rain_1h", "rain_24h"}


def test_victoriametrics_without_deduplication_is_reported(tmp_path: Path) -> None:
    server = VictoriaMetrics(tmp_path / "vm-no-dedup", dedup=False)
    server.directory.mkdir()
    server.start()
    try:
        store = VictoriaStore(server.url)
        assert "dedup.minScrapeInterval" in store.configuration_problem()
        store.close()
    finally:
        server.stop()
