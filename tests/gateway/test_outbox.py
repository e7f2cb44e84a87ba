"""The outbox: durable until receipted, resent when not, bounded, numbering kept over restarts."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.model import Reading, ReadingBatch
from gateway.outbox import Outbox, OutboxSettings, sent_ranges
from gateway.wire import (
    Receipt,
    WireError,
    decode_receipt,
    encode_receipt,
    receipts_topic,
    seq_ranges,
)
from tests.helpers import eventually, running

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def batch(outbox: Outbox, minute: int, station: str = "kim_long") -> ReadingBatch:
    ts = T0 + timedelta(minutes=minute)
    reading = Reading(station, "water_level", 1.0 + minute / 100, "m", ts)
    return ReadingBatch(outbox.gateway_id, outbox.next_seq(), station, (reading,))


def test_seq_ranges() -> None:
    assert seq_ranges([]) == ()
    assert seq_ranges([5]) == ((5, 5),)
    assert seq_ranges([3, 1, 2, 7, 8, 8, 10]) == ((1, 3), (7, 8), (10, 10))


async def test_batches_leave_only_when_a_collector_has_stored_them(tmp_path: Path) -> None:
    bus = InProcessBus()
    settings = OutboxSettings(resend_after_s=0.3)
    outbox = Outbox(tmp_path / "outbox.sqlite3", "gw-hue-1", bus, settings)
    store = SqliteStore(tmp_path / "store.sqlite3")
    for minute in range(50):
        outbox.add(batch(outbox, minute))
    assert outbox.backlog()[0] == 50
    async with running(outbox.run()):
        await asyncio.sleep(0.5)
        # Sent, but nobody stored them: still in the outbox.
        assert outbox.stats.sent == 50
        assert outbox.backlog()[0] == 50
        collector = Collector(bus, store)
        async with running(collector.run()):
            # The collector came late (as after a collector restart): the batches come
            # again when the resend timeout passes, and its receipts empty the outbox.
            await eventually(lambda: outbox.backlog()[0] == 0, what="outbox emptied by receipts")
    assert store.count() == 50
    assert outbox.stats.acknowledged == 50
    assert outbox.stats.resent >= 50
    assert outbox.health()["backlog_batches"] == 0
    outbox.close()
    store.close()


async def test_a_receipt_of_another_epoch_or_gateway_removes_nothing(tmp_path: Path) -> None:
    bus = InProcessBus()
    outbox = Outbox(tmp_path / "outbox.sqlite3", "gw-hue-1", bus)
    for minute in range(5):
        outbox.add(batch(outbox, minute))
    async with running(outbox.run()):
        for receipt in (
            Receipt("gw-hue-1", "old-epoch", ((1, 5),)),
            Receipt("gw-other", outbox.epoch, ((1, 5),)),
        ):
            await bus.publish(receipts_topic("gw-hue-1"), encode_receipt(receipt))
        await bus.publish(receipts_topic("gw-hue-1"), b"{broken")
        await eventually(lambda: outbox.stats.foreign_receipts == 3, what="3 receipts refused")
        assert outbox.backlog()[0] == 5
        await eventually(lambda: outbox.stats.sent == 5, what="5 batches sent")
        await bus.publish(
            receipts_topic("gw-hue-1"),
            encode_receipt(Receipt("gw-hue-1", outbox.epoch, ((2, 3),))),
        )
        await eventually(lambda: outbox.backlog()[0] == 3, what="seqs 2 and 3 removed")
    outbox.close()


@pytest.mark.parametrize(
    ("ranges", "sent_upto", "accepted", "unsent"),
    [
        (((1, 5),), 5, [(1, 5)], False),
        (((2, 3), (5, 5)), 5, [(2, 3), (5, 5)], False),
        # The forged receipt of issue 13: only what was sent may go.
        (((0, 2**62),), 5, [(1, 5)], True),
        (((0, 2**62),), 0, [], True),
        (((6, 9),), 5, [], True),
        (((4, 7),), 5, [(4, 5)], True),
        (((1, 2), (8, 8)), 5, [(1, 2)], True),
        ((), 5, [], False),
    ],
)
def test_a_receipt_removes_only_batches_that_were_sent(
    ranges: tuple[tuple[int, int], ...],
    sent_upto: int,
    accepted: list[tuple[int, int]],
    unsent: bool,
) -> None:
    assert sent_ranges(ranges, sent_upto) == (accepted, unsent)


async def test_a_forged_receipt_cannot_empty_the_outbox(tmp_path: Path) -> None:
    """Batches never sent stay whatever a receipt claims; after a restart the batches of the
    previous life (sent then) may be receipted before they are sent again, newer ones not."""
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, "gw-hue-1", InProcessBus())
    for minute in range(5):
        first.add(batch(first, minute))
    forged = Receipt("gw-hue-1", first.epoch, ((0, 2**62),), "intruder")
    assert first.acknowledge(forged) == 0
    assert first.backlog()[0] == 5
    assert first.stats.receipts_unsent == 1
    assert first.health()["receipts_unsent"] == 1
    first.close()
    again = Outbox(path, "gw-hue-1", InProcessBus())
    # Seqs 1-5 were (possibly) sent in the previous life: a collector that stored them
    # before our restart receipts them now.
    assert again.acknowledge(Receipt("gw-hue-1", again.epoch, ((1, 3),))) == 3
    assert again.stats.receipts_unsent == 0
    again.add(batch(again, 10))  # seq 6, added and not yet sent in this life
    assert again.acknowledge(Receipt("gw-hue-1", again.epoch, ((4, 2**62),))) == 2
    assert again.stats.receipts_unsent == 1
    assert again.backlog()[0] == 1
    async with running(again.run()):
        await eventually(lambda: again.stats.sent == 1, what="seq 6 sent")
    assert again.acknowledge(Receipt("gw-hue-1", again.epoch, ((6, 6),))) == 1
    assert again.backlog()[0] == 0
    again.close()


def test_numbering_and_pending_batches_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, "gw-hue-1", InProcessBus())
    for minute in range(3):
        first.add(batch(first, minute))
    epoch = first.epoch
    first.close()
    again = Outbox(path, "gw-hue-1", InProcessBus())
    assert again.epoch == epoch
    assert again.backlog()[0] == 3
    assert again.next_seq() == 4
    again.close()
    # A lost outbox file starts a new epoch: old receipts cannot cover new batches.
    path.unlink()
    fresh = Outbox(path, "gw-hue-1", InProcessBus())
    assert fresh.epoch != epoch
    assert fresh.next_seq() == 1
    fresh.close()


def test_a_full_outbox_drops_the_oldest_counts_and_remembers(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, "gw-hue-1", InProcessBus(), OutboxSettings(max_bytes=20_000))
    for minute in range(200):
        outbox.add(batch(outbox, minute))
    count, size, _age = outbox.backlog()
    assert size <= 20_000
    assert outbox.stats.dropped == 200 - count
    assert outbox.stats.dropped > 0
    outbox.close()
    reopened = Outbox(path, "gw-hue-1", InProcessBus(), OutboxSettings(max_bytes=20_000))
    assert reopened.stats.dropped == 200 - count
    assert reopened.health()["dropped"] == 200 - count
    reopened.close()


async def test_sending_is_paced(tmp_path: Path) -> None:
    bus = InProcessBus()
    seen = bus.subscribe("quantrac/v1/raw/+")
    outbox = Outbox(tmp_path / "o.sqlite3", "gw-hue-1", bus, OutboxSettings(rate_per_s=100))
    for minute in range(60):
        outbox.add(batch(outbox, minute))
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with running(outbox.run()):
        await eventually(lambda: seen.qsize() == 60, what="60 batches sent")
    elapsed = loop.time() - started
    assert elapsed >= 0.5  # 60 batches at 100/s take ~0.6 s, not an instant burst
    outbox.close()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "a receipt is a JSON object"),
        (b'{"v": 2, "gateway": "g", "epoch": "e", "seqs": []}', "wire version 2"),
        (b'{"v": 1, "gateway": "g", "epoch": "e", "seqs": [[3, 1]]}', "[3, 1] is not a"),
        (b'{"v": 1, "gateway": "g", "epoch": "e", "seqs": [[1, true]]}', "is not a [first"),
        (b'{"v": 1, "gateway": "g", "seqs": [[1, 2]]}', "missing field 'epoch'"),
    ],
)
def test_malformed_receipts_say_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(WireError, match=re.escape(message)):
        decode_receipt(payload, topic="quantrac/v1/receipts/g")


def test_receipt_round_trip() -> None:
    receipt = Receipt("gw-hue-1", "abc", ((1, 3), (7, 7)), "collector-1")
    back = decode_receipt(encode_receipt(receipt))
    assert back == receipt
    assert back.covers(2)
    assert back.covers(7)
    assert not back.covers(5)
