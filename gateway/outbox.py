"""Store-and-forward: every batch waits in a durable local queue until a collector has stored it.

A broker's PUBACK is not a delivery proof (DESIGN.md: Mosquitto 2.0.11 silently lost 65 % of a
100,000-message QoS 1 burst to a slow subscriber). So a batch leaves the outbox only when a
collector's receipt on ``quantrac/v1/receipts/{gateway}`` covers its number; one sent and not
covered within ``resend_after_s`` is sent again. The queue is SQLite in WAL mode: a gateway
killed with SIGKILL and started again resends what no receipt covered (at-least-once; the
collector's (station, param, ts) identity makes a duplicate harmless).

Sending is paced (``rate_per_s``) and waits while the bus is down or its own queue is long, so
hours of backlog after a storm are replayed at a rate the broker and collectors can take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.bus import Bus, Subscription
from gateway.model import ReadingBatch
from gateway.wire import (
    Receipt,
    WireError,
    decode_receipt,
    encode_batch,
    raw_topic,
    receipts_topic,
)

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL,
    size    INTEGER NOT NULL,
    created REAL NOT NULL,
    sent_at REAL,                -- NULL: never sent (or due again after a restart)
    sends   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class OutboxStats:
    added: int = 0
    sent: int = 0
    resent: int = 0
    acknowledged: int = 0
    dropped: int = 0  # oldest batches removed because the outbox was full
    receipts: int = 0
    foreign_receipts: int = 0  # receipts of another epoch or malformed


@dataclass
class OutboxSettings:
    max_bytes: int = 512 * 1024 * 1024
    resend_after_s: float = 30.0
    rate_per_s: float = 500.0  # batches handed to the bus per second, at most
    bus_backlog_limit: int = 1_000  # wait while the bus holds more than this unsent
    window: int = 200  # rows fetched per round


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch the poller was told is queued must survive a power cut too.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.epoch = self._meta("epoch") or self._new_epoch()
        self.stats.dropped = int(self._meta("dropped") or 0)
        max_row = self._db.execute("SELECT max(seq) FROM outbox").fetchone()[0] or 0
        self._last_seq = max(int(self._meta("last_seq") or 0), int(max_row))
        # After a restart nothing is in flight: everything left is due now.
        self._db.execute("UPDATE outbox SET sent_at = NULL")
        self._bytes = int(
            self._db.execute("SELECT coalesce(sum(size), 0) FROM outbox").fetchone()[0]
        )
        self._wakeup = asyncio.Event()
        self._drop_warned_at = 0
        # Subscribed now: an MQTT bus subscribes when it connects.
        self.receipts: Subscription = bus.subscribe(receipts_topic(gateway_id), maxsize=10_000)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: object) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def _new_epoch(self) -> str:
        epoch = uuid.uuid4().hex[:12]
        self._set_meta("epoch", epoch)
        return epoch

    # --- producing -------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The number of the next batch; persisted with the batch by :meth:`add`."""
        with self._lock:
            self._last_seq += 1
            return self._last_seq

    def add(self, batch: ReadingBatch) -> None:
        """Keep a batch durably (one transaction); it is sent as soon as the pace allows."""
        batch = replace(batch, epoch=self.epoch)
        payload = encode_batch(batch)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO outbox (seq, topic, payload, size, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (batch.seq, raw_topic(batch.station), payload, len(payload), time.time()),
            )
            self._set_meta("last_seq", max(batch.seq, self._last_seq))
            self._db.execute("COMMIT")
            self._bytes += len(payload)
            self.stats.added += 1
            if self._bytes > self.settings.max_bytes:
                self._drop_oldest()
        self._wakeup.set()

    def _drop_oldest(self) -> None:
        """Oldest first, counted and logged: newest data matters most in a flood."""
        dropped = 0
        while self._bytes > self.settings.max_bytes * 0.9:
            rows = self._db.execute(
                "SELECT seq, size FROM outbox ORDER BY seq LIMIT 100"
            ).fetchall()
            if not rows:
                break
            for seq, size in rows:
                self._bytes -= size
                dropped += 1
                if self._bytes <= self.settings.max_bytes * 0.9:
                    last = seq
                    break
            else:
                last = rows[-1][0]
            self._db.execute("DELETE FROM outbox WHERE seq <= ?", (last,))
        self.stats.dropped += dropped
        self._set_meta("dropped", self.stats.dropped)
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

    def _due(self, now: float) -> list[tuple[int, str, bytes, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload, sends FROM outbox"
                " WHERE sent_at IS NULL OR sent_at < ? ORDER BY seq LIMIT ?",
                (now - self.settings.resend_after_s, self.settings.window),
            ).fetchall()
        return [(int(s), str(t), bytes(p), int(n)) for s, t, p, n in rows]

    def _mark_sent(self, seqs: Iterable[int], now: float) -> None:
        with self._lock:
            self._db.executemany(
                "UPDATE outbox SET sent_at = ?, sends = sends + 1 WHERE seq = ?",
                [(now, seq) for seq in seqs],
            )

    async def _send(self) -> None:
        interval = 1.0 / self.settings.rate_per_s
        while True:
            due = await asyncio.to_thread(self._due, time.time())
            if not due:
                self._wakeup.clear()
                # Also wake up to resend what was sent and never receipted.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.settings.resend_after_s / 4)
                continue
            sent: list[int] = []
            next_at = time.monotonic()
            for seq, topic, payload, sends in due:
                while not self.bus.connected.is_set() or (
                    self.bus.backlog > self.settings.bus_backlog_limit
                ):
                    if sent:
                        await asyncio.to_thread(self._mark_sent, sent, time.time())
                        sent = []
                    await asyncio.sleep(0.1)
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at, time.monotonic() - 1.0) + interval
                await self.bus.publish(topic, payload)
                sent.append(seq)
                if sends:
                    self.stats.resent += 1
                else:
                    self.stats.sent += 1
            await asyncio.to_thread(self._mark_sent, sent, time.time())

    # --- receipts --------------------------------------------------------------------------

    def acknowledge(self, receipt: Receipt) -> int:
        """Remove the batches a receipt covers; returns how many were still here."""
        if receipt.gateway != self.gateway_id or receipt.epoch != self.epoch:
            self.stats.foreign_receipts += 1
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            removed = 0
            for first, last in receipt.seqs:
                size = self._db.execute(
                    "SELECT coalesce(sum(size), 0), count(*) FROM outbox WHERE seq BETWEEN ? AND ?",
                    (first, last),
                ).fetchone()
                self._db.execute("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (first, last))
                self._bytes -= int(size[0])
                removed += int(size[1])
            self._db.execute("COMMIT")
        self.stats.receipts += 1
        self.stats.acknowledged += removed
        return removed

    async def _receive_receipts(self) -> None:
        async for message in self.receipts:
            try:
                receipt = decode_receipt(message.payload, topic=message.topic)
            except WireError as exc:
                self.stats.foreign_receipts += 1
                log.warning("ignored receipt: %s", exc)
                continue
            await asyncio.to_thread(self.acknowledge, receipt)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._send(), name=f"outbox-send {self.gateway_id}")
            tasks.create_task(self._receive_receipts(), name=f"outbox-receipts {self.gateway_id}")

    # --- health ----------------------------------------------------------------------------

    def backlog(self) -> tuple[int, int, float | None]:
        """(batches, bytes, age in seconds of the oldest) waiting for a receipt."""
        with self._lock:
            count, oldest = self._db.execute("SELECT count(*), min(created) FROM outbox").fetchone()
        age = None if oldest is None else time.time() - float(oldest)
        return int(count), self._bytes, age

    def health(self) -> dict[str, Any]:
        count, size, age = self.backlog()
        return {
            "epoch": self.epoch,
            "backlog_batches": count,
            "backlog_bytes": size,
            "oldest_age_s": None if age is None else round(age, 1),
            **vars(self.stats),
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()
