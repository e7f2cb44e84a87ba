"""The replay through the real collector into a real store, as ``quantrac collector`` runs it.

The batches go onto an in-process bus as the gateway publishes them; the collector consumes
them (wire decoding, QC, the local copy, the forward queue, flood levels and rain totals as
they arrive) and, hour by hour in replay time, computes what its scheduler computes on the hour
(means, VN_AQI, VN_WQI) and after each local midnight (the daily VN_AQI) — the scheduler itself
runs on the wall clock, so the replay calls the same ``Collector.derive`` it calls.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from collector.derived import DerivedSeries
from collector.qc import QcChain, QcSettings
from collector.service import Collector
from collector.store import ReadingStore, open_store
from collector.store.local_first import LocalFirstStore
from gateway.bus.memory import InProcessBus
from gateway.wire import encode_batch, raw_topic
from quantrac.runners import station_catalog
from quantrac.site import Site, load_site
from tests.dashboards.flood_and_smog import ZONE, Replay

REPLAY_INTERVAL_S = 300


def replay_site(example: Path, directory: Path) -> Site:
    """The example site, its loggers polled every 5 minutes (the replay's pace)."""
    shutil.copytree(example, directory)
    for path in (directory / "stations").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("interval_s: 60", f"interval_s: {REPLAY_INTERVAL_S}"), "utf-8")
    return load_site(directory)


async def load(site: Site, replay: Replay, store_url: str, data_dir: Path) -> ReadingStore:
    """Replay into the store at ``store_url``; returns the collector's store (its local copy
    is the ground truth the boards' answers are checked against). Call ``close()`` after."""
    store = open_store(
        store_url,
        station_catalog(site),
        queue_path=data_dir / "forward.sqlite3",
        recent_path=data_dir / "recent.sqlite3",
    )
    bus = InProcessBus()
    derived = DerivedSeries(store, site.stations)
    collector = Collector(
        bus, store, qc=QcChain(QcSettings(site.stations)), derived=derived, flush_interval_s=0.02
    )
    consuming = asyncio.create_task(collector._consume())
    try:
        published = 0
        hour_end = replay.start + timedelta(hours=1)
        for batch in replay.batches():
            while batch.readings[0].ts >= hour_end:
                await _settle(collector, published)
                await _on_the_hour(collector, derived, hour_end)
                hour_end += timedelta(hours=1)
            await bus.publish(raw_topic(batch.station), encode_batch(batch))
            published += 1
        await _settle(collector, published)
        await _on_the_hour(collector, derived, hour_end)
    finally:
        consuming.cancel()
    if isinstance(store, LocalFirstStore) and not await asyncio.to_thread(store.remote.flush, 60.0):
        raise AssertionError(f"the forward queue did not drain: {store.remote.health()}")
    return store


async def _settle(collector: Collector, published: int) -> None:
    async with asyncio.timeout(60):
        # Polling on purpose: the condition is about the collector's counters, not an event.
        while collector.stats.batches + collector.stats.malformed < published:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    assert collector.stats.malformed == 0, collector.dead_letters.health()


async def _on_the_hour(collector: Collector, derived: DerivedSeries, end: datetime) -> None:
    await collector.derive(lambda: derived.hourly(end), f"hour to {end:%H:%M}Z")
    local = end.astimezone(ZONE)
    if local.hour == 0:  # the scheduler's 00:15 job: the local day that just ended
        day = (local - timedelta(hours=1)).date()
        await collector.derive(lambda: derived.daily(day), f"day {day}")
