"""Store-and-forward: every batch waits in a durable local queue until a collector has stored it.

A broker's PUBACK is not a delivery proof (Mosquitto 2.0.11 silently lost 65 % of a
100,000-message QoS 1 burst to a slow subscriber, docs/architecture.md). So a batch leaves the
outbox only when a collector's receipt on ``quantrac/v1/receipts/{gateway}`` covers its number;
one sent and not covered within ``resend_after_s`` is sent again. The queue is SQLite in WAL
mode: a gateway killed with SIGKILL and started again resends what no receipt covered
(at-least-once; the collector's (station, param, ts) identity makes a duplicate harmless).

Writing is a group commit: batches handed over in the same few milliseconds are written in one
transaction, one fsync for the group, in a worker thread — the event loop never waits on the
disk. :meth:`Outbox.put` returns once its batch is durable. When the disk cannot take them (full,
read-only, failing), batches wait in a bounded in-memory buffer and the write is retried; the
outbox says ``degraded`` with the reason in its health. A poll cannot wait for a disk: its batch
stays buffered, and past ``buffer_max`` the oldest polled batch is dropped, counted by station.
A streaming input (MQTT stations, TT10 files) waits for room instead: it acknowledges its source
only once the batch is durable, so its source keeps the rest (back-pressure, nothing dropped).

Sending takes fresh batches from memory as soon as their group is durable (the disk is read
only for a previous life's rows, resends, and a backlog longer than ``fresh_max``). Its pace is
the broker's: it waits while the bus is down or holds more than ``bus_backlog_limit`` messages
not yet acknowledged (``rate_per_s`` can cap it too; a fixed 500 batches/s once capped a
gateway at 500 stations a second, issue 12). When each batch was last sent is kept in memory
only: after a restart everything is due anyway. Receipts are applied in memory at once (what
they cover is never resent) and deleted from the disk in the next group's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.bus import Bus, Subscription
from gateway.deadletter import DeadLetters
from gateway.model import ReadingBatch
from gateway.outbox_file import OutboxFile
from gateway.outbox_model import (
    OutboxError,
    OutboxSettings,
    OutboxStats,
    PendingBatch,
    describe_ranges,
    sent_ranges,
)
from gateway.wire import (
    Receipt,
    WireError,
    decode_receipt,
    encode_batch,
    raw_topic,
    receipts_topic,
)

# The outbox's callers import these from here.
__all__ = ["Outbox", "OutboxError", "OutboxSettings", "OutboxStats", "sent_ranges"]

log = logging.getLogger(__name__)


class Outbox:
    def __init__(
        self,
        path: Path,
        gateway_id: str,
        bus: Bus,
        settings: OutboxSettings | None = None,
    ) -> None:
        self.path = path
        self.gateway_id = gateway_id
        self.bus = bus
        self.settings = settings or OutboxSettings()
        self.stats = OutboxStats()
        self.file = OutboxFile(path)
        self._mem_lock = threading.Lock()  # _sent_at: the loop sends, a thread acknowledges
        self.epoch = self.file.epoch
        self.stats.dropped = self.file.dropped
        # Numbering happens on the event loop only: no lock, never behind a commit.
        self._last_seq = self.file.last_seq
        # Batches on disk now were sent in a previous life (or may have been): receipts for
        # them are accepted before this life sends them again.
        self._previous_life_upto = self.file.max_row
        # Writes: the group being committed, and what waits behind it.
        self._buffer: deque[PendingBatch] = deque()
        self._committing: list[PendingBatch] = []
        self._buffered = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._write_error = ""  # the disk's last refusal, while it lasts
        # Sends, in memory: seq → when last sent (insertion order = oldest send first).
        self._sent_at: dict[int, float] = {}
        self._sent_upto = 0  # every row up to this seq was sent at least once in this life
        self._unapplied: list[tuple[int, int]] = []  # receipted ranges the disk did not delete
        self._wakeup = asyncio.Event()
        # Durable batches not yet handed to the bus, in number order: sent from memory. Rows on
        # disk that are not here (a previous life's, or beyond fresh_max) are read back first.
        self._fresh: deque[PendingBatch] = deque()
        self._disk_behind = self.file.max_row > 0
        self._fresh_overflows = 0
        self._drop_warned_at = 0
        # Subscribed now: an MQTT bus subscribes when it connects.
        self.receipts: Subscription = bus.subscribe(receipts_topic(gateway_id), maxsize=10_000)
        self.receipt_dead_letters = DeadLetters(f"outbox {gateway_id}", log)  # refused receipts

    # --- producing -------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The number of the next batch; persisted with the batch when it is committed."""
        self._last_seq += 1
        return self._last_seq

    def _entry(
        self,
        batch: ReadingBatch,
        done: asyncio.Future[bool | None] | None,
        droppable: bool,
        number: bool = False,
    ) -> PendingBatch:
        if number:
            batch = replace(batch, seq=self.next_seq(), epoch=self.epoch)
        else:
            batch = replace(batch, epoch=self.epoch)
        payload = encode_batch(batch)
        return PendingBatch(
            batch.seq,
            batch.station,
            raw_topic(batch.station),
            payload,
            time.time(),
            done,
            droppable,
        )

    def add(self, batch: ReadingBatch) -> None:
        """Keep one batch durably now, in the caller's thread (tools, tests, benchmarks)."""
        self._commit([self._entry(batch, None, False)])
        self._disk_behind = True  # not in the fresh queue: the sender reads it back
        self._wakeup.set()

    async def put(self, batch: ReadingBatch, *, poll: bool = False, number: bool = False) -> None:
        """Keep a batch: return once it is durable (committed with its group).

        ``number=True``: the outbox numbers the batch as it joins the buffer, so numbers follow
        the order of the disk and of sending whatever the caller awaited before (the sender
        takes the batches beyond the last number it sent).

        ``poll=False`` (a streaming input): wait for room in the buffer first, and raise
        :class:`OutboxError` if the batch could not be kept — the caller must not acknowledge
        its source. ``poll=True``: a poll cannot wait for a failing disk; while the disk
        refuses writes this returns once the batch is buffered, and a full buffer drops the
        oldest polled batch (counted by station).
        """
        loop = asyncio.get_running_loop()
        if not poll:
            while len(self._buffer) >= self.settings.buffer_max:
                self._room.clear()
                await self._room.wait()
        done: asyncio.Future[bool | None] = loop.create_future()
        self._buffer.append(self._entry(batch, done, poll, number))
        self._buffered.set()
        if poll and len(self._buffer) > self.settings.buffer_max:
            self._drop_buffered()
        if poll and self._write_error:
            return  # buffered; the commit loop keeps trying
        if await asyncio.shield(done) is False and not poll:
            raise OutboxError(f"batch {batch.seq} of {batch.station} dropped from the buffer")

    def _drop_buffered(self) -> None:
        """The buffer is full: drop the oldest polled batch; newest data matters most."""
        for index, entry in enumerate(self._buffer):
            if entry.droppable:
                del self._buffer[index]
                break
        else:
            return  # only streamed batches, whose sources wait: nothing may be dropped
        if entry.done is not None and not entry.done.done():
            entry.done.set_result(False)
        self.stats.buffer_dropped += 1
        self.stats.buffer_dropped_by_station[entry.station] += 1
        if self.stats.buffer_dropped == 1 or self.stats.buffer_dropped % 1000 == 0:
            log.error(
                "outbox of %s: memory buffer full (%d batches waiting for the disk): dropped "
                "batch %d of %s; %d dropped so far",
                self.gateway_id,
                self.settings.buffer_max,
                entry.seq,
                entry.station,
                self.stats.buffer_dropped,
            )

    def _commit(
        self, entries: list[PendingBatch], deletes: list[tuple[int, int]] | None = None
    ) -> int:
        """One transaction for the group and the receipted ranges (one fsync); raises what the
        disk said, rolled back. Returns how many receipted batches were deleted."""
        done = self.file.commit(
            [(e.seq, e.topic, e.payload, e.created) for e in entries],
            deletes or [],
            self._last_seq,
            self.settings.max_bytes,
        )
        self.stats.added += len(entries)
        self.stats.acknowledged += done.removed
        self.stats.commits += 1
        if done.dropped:
            self._dropped(done.dropped, done.dropped_upto)
        return done.removed

    async def _write(self) -> None:
        """The group-commit loop: whatever is buffered goes to disk together, with the ranges
        receipts covered since the last group, retried on error."""
        delay = self.settings.retry_min_s
        while True:
            if not self._buffer and not self._unapplied:
                self._buffered.clear()
                await self._buffered.wait()
                continue
            if not self._buffer:
                # Only deletions: they can wait a moment for the next group's transaction.
                # asyncio.timeout, not wait_for: on 3.11, wait_for swallows a cancellation that
                # comes as it times out, and the outbox then never stopped.
                self._buffered.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self._buffered.wait()
            count = min(len(self._buffer), self.settings.group_max)
            self._committing = [self._buffer.popleft() for _ in range(count)]
            deletes, self._unapplied = self._unapplied, []
            try:
                await asyncio.to_thread(self._commit, self._committing, deletes)
            except (sqlite3.Error, OSError) as exc:
                # Put the group back in front, in order: nothing is lost while memory allows.
                self._buffer.extendleft(reversed(self._committing))
                self._committing = []
                self._unapplied[:0] = deletes  # receipted: not resent, deleted later
                self.stats.write_failures += 1
                first = not self._write_error
                self._write_error = f"{type(exc).__name__}: {exc}"
                if first:  # polls waiting for this disk go on; their batches stay buffered
                    for entry in self._buffer:
                        if entry.droppable and entry.done is not None and not entry.done.done():
                            entry.done.set_result(None)
                log.log(
                    logging.ERROR if first else logging.DEBUG,
                    "outbox of %s cannot write to %s: %s; %d batch(es) wait in memory, "
                    "retrying every %.1f s at most",
                    self.gateway_id,
                    self.path,
                    exc,
                    len(self._buffer),
                    self.settings.retry_max_s,
                )
                while len(self._buffer) > self.settings.buffer_max:
                    before = len(self._buffer)
                    self._drop_buffered()
                    if len(self._buffer) == before:
                        break
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            committed, self._committing = self._committing, []
            if committed:
                self._to_send(committed)
            for entry in committed:
                if entry.done is not None and not entry.done.done():
                    entry.done.set_result(True)
            if self._write_error:
                log.warning(
                    "outbox of %s writes again (%d batch(es) still buffered)",
                    self.gateway_id,
                    len(self._buffer),
                )
                self._write_error = ""
            delay = self.settings.retry_min_s
            if len(self._buffer) < self.settings.buffer_max:
                self._room.set()

    def _to_send(self, committed: list[PendingBatch]) -> None:
        """Durable batches go to the sender from memory; past ``fresh_max`` the oldest of them
        are left on the disk, from where the sender reads them back in order."""
        fresh = self._fresh
        fresh.extend(committed)
        if len(fresh) > self.settings.fresh_max:
            for _ in range(len(fresh) - self.settings.fresh_max):
                fresh.popleft()
            self._disk_behind = True
            self._fresh_overflows += 1
        self._wakeup.set()

    def _dropped(self, dropped: int, upto: int) -> None:
        """The file was full and dropped its oldest batches: counted, logged, never resent."""
        with self._mem_lock:
            for seq in [s for s in self._sent_at if s <= upto]:
                del self._sent_at[seq]
        self.stats.dropped = self.file.dropped
        if self.stats.dropped - self._drop_warned_at >= 1000 or self._drop_warned_at == 0:
            self._drop_warned_at = self.stats.dropped
            log.warning(
                "outbox of %s full (%d MB): dropped the %d oldest batch(es), %d so far",
                self.gateway_id,
                self.settings.max_bytes // 2**20,
                dropped,
                self.stats.dropped,
            )

    # --- sending ---------------------------------------------------------------------------

    def _due(self, now: float) -> list[tuple[int, str, bytes, bool]]:
        """(seq, topic, payload, resend) of what is due: never sent in this life, then what was
        sent and not receipted within ``resend_after_s``. Reads only: works on a full disk."""
        window = self.settings.window
        due = [(s, t, p, False) for s, t, p in self.file.unsent(self._sent_upto, window)]
        if len(due) >= window:
            return due
        return due + self._stale(now, window - len(due))

    def _stale(self, now: float, limit: int) -> list[tuple[int, str, bytes, bool]]:
        """What was sent and not receipted within ``resend_after_s``, read back from the disk."""
        cutoff = now - self.settings.resend_after_s
        stale: list[int] = []
        with self._mem_lock:
            for seq, sent_at in self._sent_at.items():  # oldest send first
                if sent_at > cutoff or len(stale) >= limit:
                    break
                stale.append(seq)
        rows = self.file.rows(stale)
        found = {s for s, _, _ in rows}
        with self._mem_lock:
            for seq in stale:
                if seq not in found:  # receipted or dropped meanwhile
                    self._sent_at.pop(seq, None)
        return [(s, t, p, True) for s, t, p in rows]

    def _take_fresh(self) -> list[tuple[int, str, bytes, bool]]:
        """The durable batches waiting in memory, beyond what was sent (from the disk)."""
        fresh = self._fresh
        due: list[tuple[int, str, bytes, bool]] = []
        while fresh and len(due) < self.settings.window:
            entry = fresh.popleft()
            if entry.seq > self._sent_upto:
                due.append((entry.seq, entry.topic, entry.payload, False))
        return due

    def _mark_sent(self, seq: int, now: float, resend: bool) -> None:
        with self._mem_lock:
            self._sent_at.pop(seq, None)  # re-inserted at the end: the newest send
            self._sent_at[seq] = now
        if not resend and seq > self._sent_upto:
            self._sent_upto = seq
        if resend:
            self.stats.resent += 1
        else:
            self.stats.sent += 1

    async def _next_due(self, stale_at: float) -> tuple[list[tuple[int, str, bytes, bool]], bool]:
        """What to send next, and whether resends were looked for."""
        now = time.time()
        if self._disk_behind:
            overflows = self._fresh_overflows
            due = await asyncio.to_thread(self._due, now)
            unsent = sum(1 for item in due if not item[3])
            if unsent < self.settings.window and overflows == self._fresh_overflows:
                self._disk_behind = False  # caught up: what is committed from now is fresh
            return due, True
        due = self._take_fresh()
        if now < stale_at:
            return due, False
        return due + await asyncio.to_thread(self._stale, now, self.settings.window), True

    async def _send(self) -> None:
        rate = self.settings.rate_per_s
        interval = 1.0 / rate if rate else 0.0
        check_every = self.settings.resend_after_s / 4
        stale_at = 0.0
        next_at = time.monotonic()
        while True:
            due, looked = await self._next_due(stale_at)
            if looked:
                stale_at = time.time() + check_every
            if not due:
                self._wakeup.clear()
                if self._fresh or self._disk_behind:
                    continue
                # Also wake up to resend what was sent and never receipted.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(check_every):
                        await self._wakeup.wait()
                continue
            for seq, topic, payload, resend in due:
                while not self.bus.connected.is_set() or (  # noqa: ASYNC110 - a count too
                    self.bus.backlog > self.settings.bus_backlog_limit
                ):
                    await asyncio.sleep(0.05)
                if interval:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at = max(next_at, time.monotonic() - 1.0) + interval
                if resend:
                    with self._mem_lock:
                        if seq not in self._sent_at:
                            continue  # receipted while we waited
                await self.bus.publish(topic, payload)
                self._mark_sent(seq, time.time(), resend)

    # --- receipts --------------------------------------------------------------------------

    def _receipted(self, receipt: Receipt) -> list[tuple[int, int]] | None:
        """The ranges of a receipt this outbox may delete (None: not ours), counted."""
        if receipt.gateway != self.gateway_id or receipt.epoch != self.epoch:
            self.stats.foreign_receipts += 1
            return None
        ranges, unsent = sent_ranges(receipt.seqs, max(self._previous_life_upto, self._sent_upto))
        if unsent:
            self.stats.receipts_unsent += 1
            log.log(
                logging.WARNING if self.stats.receipts_unsent == 1 else logging.DEBUG,
                "outbox of %s: a receipt from %r covers batches never sent (%s, sent up to %d);"
                " that part is ignored (%d such receipt(s) so far)",
                self.gateway_id,
                receipt.collector,
                describe_ranges(receipt.seqs),
                max(self._previous_life_upto, self._sent_upto),
                self.stats.receipts_unsent,
            )
        self._forget_sent(ranges)
        self.stats.receipts += 1
        return ranges

    def acknowledge(self, receipt: Receipt) -> int:
        """Remove the batches a receipt covers now (tools, tests); returns how many were here.

        If the disk refuses the delete (full), the ranges are remembered and deleted with the
        next group once it writes again; they are not resent meanwhile.
        """
        ranges = self._receipted(receipt)
        if ranges is None:
            return 0
        try:
            return self._commit([], ranges)
        except sqlite3.Error as exc:
            self._unapplied.extend(ranges)
            log.debug("outbox of %s: receipt kept in memory, the disk refused: %s", self.path, exc)
            return 0

    def _acknowledge_later(self, receipt: Receipt) -> None:
        """The service's way: forget the sends now, delete with the next group commit (a
        receipt is not worth an fsync of its own; after a crash its batches are resent and
        receipted again, harmlessly)."""
        ranges = self._receipted(receipt)
        if ranges:
            self._unapplied.extend(ranges)
            self._buffered.set()

    def _forget_sent(self, ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> None:
        with self._mem_lock:
            self._forget_sent_locked(ranges)

    def _forget_sent_locked(
        self, ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]]
    ) -> None:
        for first, last in ranges:
            if last - first < len(self._sent_at):
                for seq in range(first, last + 1):
                    self._sent_at.pop(seq, None)
            else:  # a wide range (or a forged one): look at what was sent instead
                for seq in [s for s in self._sent_at if first <= s <= last]:
                    del self._sent_at[seq]

    async def _receive_receipts(self) -> None:
        refused = self.receipt_dead_letters
        async for message in self.receipts:
            try:
                try:
                    receipt = decode_receipt(message.payload, topic=message.topic)
                except WireError as exc:
                    # Counted by reason, the first of a topic at WARNING; a receipt of another
                    # epoch is no refusal (a collector answering a previous life of the outbox).
                    self.stats.foreign_receipts += 1
                    refused.refuse(message.topic, message.payload, exc)
                    continue
                self._acknowledge_later(receipt)
                refused.good(message.topic)
            except Exception as exc:  # the last resort: one receipt must not stop the gateway
                refused.internal_error(message.topic, exc)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._write(), name=f"outbox-write {self.gateway_id}")
            tasks.create_task(self._send(), name=f"outbox-send {self.gateway_id}")
            tasks.create_task(self._receive_receipts(), name=f"outbox-receipts {self.gateway_id}")

    # --- health ----------------------------------------------------------------------------

    def backlog(self) -> tuple[int, int, float | None]:
        """(batches, bytes, age in seconds of the oldest) on disk, waiting for a receipt."""
        count, oldest = self.file.backlog()
        return count, self.file.bytes, None if oldest is None else time.time() - oldest

    @property
    def buffered(self) -> int:
        """Batches in memory, not yet durable (the group being written and those behind it)."""
        return len(self._buffer) + len(self._committing)

    def health(self) -> dict[str, Any]:
        count, size, age = self.backlog()
        stats = vars(self.stats).copy()
        stats["buffer_dropped_by_station"] = dict(self.stats.buffer_dropped_by_station)
        body: dict[str, Any] = {
            "epoch": self.epoch,
            "backlog_batches": count,
            "backlog_bytes": size,
            "oldest_age_s": None if age is None else round(age, 1),
            "buffered": self.buffered,
            "write_error": self._write_error,
            **stats,
            "receipts_refused": self.receipt_dead_letters.health(),
        }
        if self._write_error:
            body["degraded"] = f"cannot write to {self.path}: {self._write_error}"
        elif self.stats.buffer_dropped:
            body["degraded"] = (
                f"{self.stats.buffer_dropped} polled batch(es) dropped while the disk failed"
            )
        return body

    def close(self) -> None:
        """Write what is still buffered (a stop comes in the middle of a slot's group: the
        last polls must not be lost, nor logged as an error), then close the file."""
        pending = [*self._committing, *self._buffer]
        if pending or self._unapplied:
            try:
                self._commit(pending, self._unapplied)
            except (sqlite3.Error, OSError) as exc:
                self._write_error = f"{type(exc).__name__}: {exc}"
            else:
                self._committing, self._unapplied = [], []
                self._buffer.clear()
                if pending:
                    log.info("outbox of %s: %d batch(es) written on the way out",
                             self.gateway_id, len(pending))  # fmt: skip
        if self.buffered:
            log.error(
                "outbox of %s closing with %d batch(es) not yet on disk: %s",
                self.gateway_id,
                self.buffered,
                self._write_error or "closed before their commit",
            )
        self.file.close()
