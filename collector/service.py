"""The collector service: raw batches in → QC → store (batched) → clean batches out."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from collector.derived import DerivedSeries, by_station
from collector.points import Points
from collector.qc import QcChain
from collector.store import Flags, ReadingStore, StoreRejected
from gateway.bus import Bus, BusMessage
from gateway.deadletter import DeadLetters
from gateway.model import Reading, ReadingBatch
from gateway.wire import (
    RAW_FILTER,
    Receipt,
    WireError,
    clean_topic,
    decode_batch,
    encode_batch,
    encode_receipt,
    receipts_topic,
    seq_ranges,
)

log = logging.getLogger(__name__)


@dataclass
class CollectorStats:
    batches: int = 0
    readings: int = 0
    malformed: int = 0
    write_failures: int = 0
    flushes: int = 0
    receipts: int = 0
    rejected: int = 0  # readings the store refused for good (StoreRejected)


@dataclass(frozen=True, slots=True)
class _Checked:
    readings: list[Reading]
    flags: Flags
    reflags: list[Reading]
    batches: list[ReadingBatch]  # as published clean: the readings with their flags


class Collector:
    """Consumes ``quantrac/v1/raw/+`` (as one of a shared group), writes, republishes clean.

    Batches are written in one transaction every ``flush_interval_s`` or ``flush_max``
    readings, whichever comes first; only stored batches are published clean, so alerting
    never sees a value the store does not have.
    """

    def __init__(
        self,
        bus: Bus,
        store: ReadingStore,
        *,
        group: str | None = "collectors",
        flush_max: int = 5_000,
        flush_interval_s: float = 0.2,
        queue_size: int = 10_000,
        name: str = "",
        qc: QcChain | None = None,
        derived: DerivedSeries | None = None,
    ) -> None:
        self.bus = bus
        self.qc = qc or QcChain()
        self.derived = derived
        self._derived_seq = 0
        self.name = name or f"collector@{socket.gethostname()}"
        self.store = store
        self.flush_max = flush_max
        self.flush_interval_s = flush_interval_s
        self.stats = CollectorStats()
        self.store_error = ""  # the store's last refusal, while the flush is being retried
        # Subscribed now, not in run(): an MQTT bus subscribes when it connects.
        self.subscription = bus.subscribe(RAW_FILTER, group=group, maxsize=queue_size)
        # Refused raw batches (the wire boundary), counted by reason: health()["dead_letters"].
        self.dead_letters = DeadLetters("collector", log)

    def health(self) -> dict[str, object]:
        body: dict[str, object] = dict(vars(self.stats))
        body.update(self.dead_letters.health())
        if self.store_error:
            body["degraded"] = f"cannot store readings: {self.store_error}"
        body["qc"] = self.qc.health()
        if self.derived is not None:
            body["derived"] = self.derived.health()
        store_health = getattr(self.store, "health", None)
        if callable(store_health):  # a forwarding store: its backlog and drops
            body["store"] = store_health().as_dict()
        return body

    def _decode(self, message: BusMessage) -> ReadingBatch | None:
        try:
            return decode_batch(message.payload, topic=message.topic)
        except WireError as exc:
            # A dead letter, counted by reason; logged once per topic at WARNING, then at
            # DEBUG: a broken station must not flood the log, but its first bad payload must
            # be seen. Not receipted, so a gateway of ours keeps the batch in its outbox.
            self.stats.malformed += 1
            self.dead_letters.refuse(message.topic, message.payload, exc)
            return None

    async def run(self) -> None:
        """Consume the raw stream; with derived series, also run their schedule."""
        if self.derived is None:
            await self._consume()
            return
        from collector.schedule import DerivedScheduler

        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume())
            group.create_task(DerivedScheduler(self).run())

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        pending: list[ReadingBatch] = []
        size = 0
        deadline = 0.0
        while True:
            message: BusMessage | None = None
            try:
                if pending:
                    timeout = max(0.0, deadline - loop.time())
                    # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation
                    # that comes as it times out, and the collector did not stop.
                    async with asyncio.timeout(timeout):
                        message = await self.subscription.get()
                else:
                    message = await self.subscription.get()
            except TimeoutError:
                pass
            if message is not None:
                try:
                    batch = self._decode(message)
                except Exception as exc:  # the last resort: one message must not stop us
                    self.dead_letters.internal_error(message.topic, exc)
                    batch = None
                if batch is not None:
                    if not pending:
                        deadline = loop.time() + self.flush_interval_s
                    pending.append(batch)
                    size += len(batch.readings)
                    self.dead_letters.good(message.topic)
            if pending and (size >= self.flush_max or loop.time() >= deadline):
                try:
                    await self._flush(pending)
                except Exception as exc:
                    # The last resort for the flush: these batches were not receipted, so
                    # their gateways send them again; the stream goes on meanwhile.
                    self.dead_letters.internal_error(f"flush of {len(pending)} batches", exc)
                pending, size = [], 0

    def _check(self, batches: list[ReadingBatch]) -> _Checked:
        """QC the whole flush at once (vectorised): once, however often the write is retried."""
        readings = [r for batch in batches for r in batch.readings]
        checked = self.qc.check(Points.of(readings))
        flagged = checked.flagged(readings)
        out, start = [], 0
        for batch in batches:
            end = start + len(batch.readings)
            out.append(replace(batch, readings=tuple(flagged[start:end])))
            start = end
        flags = Flags(checked.quality.tolist(), checked.reasons())
        return _Checked(readings, flags, checked.reflags, out)

    def _write(self, checked: _Checked) -> list[Reading]:
        """Store the flush; then what derives from it as it arrives (flood level, rain)."""
        self.store.write(checked.readings, checked.flags)
        if checked.reflags:
            # The first values of a stuck period, flagged once the period was long enough.
            self.store.write(checked.reflags)
        if self.derived is None:
            return []
        flagged = [r for batch in checked.batches for r in batch.readings]
        derived = self.derived.on_flush(flagged)
        self.store.write(derived)
        return derived

    async def _flush(self, batches: list[ReadingBatch]) -> None:
        checked = await asyncio.to_thread(self._check, batches)
        delay = 0.5
        while True:
            try:
                derived = await asyncio.to_thread(self._write, checked)
                break
            except StoreRejected as exc:
                # The store refused the data itself (a field type conflict, a time outside its
                # retention): retrying cannot help, and waiting would stop every station. A
                # remote store behind the forwarding queue dead-letters such points instead.
                self.stats.rejected += len(checked.readings)
                log.error("store refused %d readings: %s", len(checked.readings), exc)
                derived = []
                break
            except Exception as exc:
                # Keep the batches and retry: the store being down (or its disk full) must not
                # lose readings. No receipt goes out meanwhile, so the gateways keep them too.
                self.stats.write_failures += 1
                first = not self.store_error
                self.store_error = f"{type(exc).__name__}: {exc}"
                log.log(
                    logging.ERROR if first else logging.DEBUG,
                    "store write of %d readings failed: %s; retrying",
                    len(checked.readings),
                    exc,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self.store_error:
            log.warning("store writes again: %d readings written", len(checked.readings))
            self.store_error = ""
        batches = checked.batches
        self.stats.flushes += 1
        self.stats.batches += len(batches)
        self.stats.readings += len(checked.readings)
        for batch in batches:
            await self.bus.publish(clean_topic(batch.station), encode_batch(batch))
        # Stored: tell each gateway which of its batches it may now drop from its outbox.
        stored: dict[tuple[str, str], list[int]] = defaultdict(list)
        for batch in batches:
            stored[(batch.gateway, batch.epoch)].append(batch.seq)
        for (gateway, epoch), seqs in stored.items():
            receipt = Receipt(gateway, epoch, seq_ranges(seqs), self.name)
            await self.bus.publish(receipts_topic(gateway), encode_receipt(receipt))
            self.stats.receipts += 1
        await self.publish_derived(derived)

    async def publish_derived(self, readings: list[Reading]) -> None:
        """Derived series go on the clean stream too, one batch per station: alerting's input."""
        for station, group in by_station(readings).items():
            self._derived_seq += 1
            batch = ReadingBatch(self.name, self._derived_seq, station, tuple(group))
            await self.bus.publish(clean_topic(station), encode_batch(batch))

    async def derive(
        self, compute: Callable[[], list[Reading]], what: str, *, stored: bool = False
    ) -> None:
        """Run a scheduled derivation in a worker thread; store (unless ``compute`` has, as
        the late-hours job does hour by hour) and publish what it computed."""
        assert self.derived is not None
        try:
            readings = await asyncio.to_thread(compute)
            if not stored:
                await asyncio.to_thread(self.store.write, readings)
        except Exception:
            self.derived.stats.failures += 1
            log.exception("derived series: %s failed; the next run tries again", what)
            return
        await self.publish_derived(readings)
