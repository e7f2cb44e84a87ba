"""The outbox on a full disk: loud (degraded, counted) and lossless as far as memory allows.

The disk is a real one: a small tmpfs mounted for the test and filled with a file, so SQLite
gets the "database or disk is full" that a gateway's SD card gives in the field.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.bus.memory import InProcessBus
from gateway.model import Reading, ReadingBatch
from gateway.outbox import Outbox, OutboxSettings
from tests.helpers import eventually, fill, running, small_disk

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def batch(outbox: Outbox, minute: int, station: str = "kim_long") -> ReadingBatch:
    ts = T0 + timedelta(minutes=minute)
    readings = tuple(
        Reading(station, param, 1.0 + minute / 100, "m", ts)
        for param in ("water_level", "water_temp", "battery")
    )
    return ReadingBatch(outbox.gateway_id, outbox.next_seq(), station, readings)


async def test_polls_go_on_while_the_disk_is_full_and_nothing_is_lost(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        outbox = Outbox(disk / "outbox.sqlite3", "gw-hue-1", InProcessBus())
        async with running(outbox.run()):
            for minute in range(20):
                await outbox.put(batch(outbox, minute), poll=True)
            assert outbox.backlog()[0] == 20
            filler = fill(disk)
            loop = asyncio.get_running_loop()
            started = loop.time()
            for minute in range(20, 320):
                # A poll must not wait for the disk: each returns at once, buffered.
                await asyncio.wait_for(outbox.put(batch(outbox, minute), poll=True), 2.0)
            assert loop.time() - started < 10.0
            await eventually(lambda: bool(outbox.health().get("degraded")), what="degraded")
            health = outbox.health()
            assert "disk is full" in health["degraded"]
            assert health["write_failures"] >= 1
            assert health["buffered"] > 0
            assert health["buffer_dropped"] == 0
            # A streaming input waits for the disk instead of returning: back-pressure.
            streamed = asyncio.create_task(outbox.put(batch(outbox, 320, "nam_dong")))
            await asyncio.sleep(0.5)
            assert not streamed.done()
            filler.unlink()
            await asyncio.wait_for(streamed, 15.0)
            await eventually(lambda: outbox.buffered == 0, what="the buffer written out")
            assert outbox.backlog()[0] == 321
            health = outbox.health()
            assert "degraded" not in health
            assert health["write_error"] == ""
        outbox.close()


async def test_a_full_buffer_drops_the_oldest_polled_batch_counted_by_station(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        settings = OutboxSettings(buffer_max=50, retry_min_s=0.05, retry_max_s=0.1)
        outbox = Outbox(disk / "outbox.sqlite3", "gw-hue-1", InProcessBus(), settings)
        async with running(outbox.run()):
            filler = fill(disk)
            for minute in range(80):
                station = "kim_long" if minute % 2 else "phu_oc"
                await outbox.put(batch(outbox, minute, station), poll=True)
            await eventually(lambda: outbox.stats.buffer_dropped >= 30, what="drops counted")
            health = outbox.health()
            assert health["buffer_dropped"] == 30
            assert sum(health["buffer_dropped_by_station"].values()) == 30
            assert set(health["buffer_dropped_by_station"]) == {"kim_long", "phu_oc"}
            assert "dropped" in health["degraded"] or "cannot write" in health["degraded"]
            filler.unlink()
            await eventually(lambda: outbox.buffered == 0, what="the buffer written out")
            # The newest 50 survive: the oldest polled batches were the ones dropped.
            count, _, _ = outbox.backlog()
            assert count == 50
        outbox.close()


async def test_receipts_on_a_full_disk_are_applied_once_it_writes_again(tmp_path: Path) -> None:
    from gateway.wire import Receipt

    with small_disk(tmp_path / "disk") as disk:
        outbox = Outbox(disk / "outbox.sqlite3", "gw-hue-1", InProcessBus())
        async with running(outbox.run()):
            for minute in range(10):
                await outbox.put(batch(outbox, minute), poll=True)
            # A receipt covers only batches that were sent (issue 13).
            await eventually(lambda: outbox.stats.sent == 10, what="10 batches sent")
            filler = fill(disk)
            # Whether SQLite finds room for the delete in its WAL or not, the receipt counts.
            await asyncio.to_thread(
                outbox.acknowledge, Receipt("gw-hue-1", outbox.epoch, ((1, 10),))
            )
            await outbox.put(batch(outbox, 10), poll=True)  # the write that fails, then works
            filler.unlink()
            await eventually(lambda: outbox.backlog()[0] == 1, what="receipted rows deleted")
            assert outbox.stats.acknowledged == 10
        outbox.close()
