"""The collector's disk full: it says so (degraded, the reason), sends no receipt for what it
could not store — so the gateways keep those batches — and stores everything once it can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.model import Reading, ReadingBatch
from gateway.wire import decode_receipt, encode_batch, raw_topic, receipts_topic
from tests.helpers import eventually, fill, running, small_disk

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def batch(seq: int) -> ReadingBatch:
    readings = tuple(
        Reading("kim_long", param, 1.0 + seq / 1000, "m", T0 + timedelta(seconds=seq))
        for param in ("water_level", "water_temp")
    )
    return ReadingBatch("gw-hue-1", seq, "kim_long", readings, epoch="e1")


async def test_a_full_disk_holds_the_flush_and_loses_nothing(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        store = SqliteStore(disk / "quantrac.sqlite3")
        bus = InProcessBus()
        receipts = bus.subscribe(receipts_topic("gw-hue-1"))
        collector = Collector(bus, store, flush_interval_s=0.05)
        receipted: set[int] = set()

        def drain_receipts() -> int:
            while not receipts._queue.empty():
                receipt = decode_receipt(receipts._queue.get_nowait().payload)
                for first, last in receipt.seqs:
                    receipted.update(range(first, last + 1))
            return len(receipted)

        async with bus, running(collector.run()):
            for seq in range(1, 11):
                await bus.publish(raw_topic("kim_long"), encode_batch(batch(seq)))
            await eventually(lambda: drain_receipts() == 10, what="10 batches receipted")
            filler = fill(disk)
            # Enough readings that SQLite needs new pages, which the full disk refuses.
            for seq in range(11, 411):
                await bus.publish(raw_topic("kim_long"), encode_batch(batch(seq)))
            await eventually(
                lambda: "degraded" in collector.health(), what="the full disk in health"
            )
            health = collector.health()
            assert "full" in str(health["degraded"])
            assert health["write_failures"] >= 1  # type: ignore[operator]
            drain_receipts()
            assert max(receipted) == 10  # nothing unstored was receipted
            filler.unlink()
            await eventually(lambda: drain_receipts() == 410, what="everything receipted")
            assert "degraded" not in collector.health()
        assert store.count() == 820
        store.close()
