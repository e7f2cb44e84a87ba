"""The outbox's vocabulary: its settings, its counters, a batch on its way to the disk, and
what a receipt may cover (pure; gateway.outbox uses them)."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field


class OutboxError(Exception):
    """The outbox could not keep a batch (it was dropped from the memory buffer)."""


@dataclass
class OutboxStats:
    added: int = 0
    sent: int = 0
    resent: int = 0
    acknowledged: int = 0
    dropped: int = 0  # oldest batches removed because the outbox was full
    receipts: int = 0
    foreign_receipts: int = 0  # receipts of another epoch or malformed
    # Receipts covering numbers this outbox never sent (forged, or a confused collector): the
    # part beyond what was sent is ignored, never deleted (issue 13: a forged 0..2**62 receipt
    # once emptied an outbox).
    receipts_unsent: int = 0
    commits: int = 0  # group commits (one fsync each)
    write_failures: int = 0  # commits the disk refused; the batches stayed buffered
    buffer_dropped: int = 0  # polled batches dropped because the memory buffer was full
    buffer_dropped_by_station: Counter[str] = field(default_factory=Counter)


@dataclass
class OutboxSettings:
    max_bytes: int = 512 * 1024 * 1024
    resend_after_s: float = 30.0
    rate_per_s: float | None = None  # batches handed to the bus per second, at most (None: the
    # broker's pace, through bus_backlog_limit)
    bus_backlog_limit: int = 1_000  # wait while the bus holds more than this unacknowledged
    fresh_max: int = 20_000  # durable batches kept in memory for sending; beyond, read back
    window: int = 200  # rows fetched per round
    group_max: int = 2_000  # batches written in one transaction, at most
    # Batches waiting in memory for the disk. At 200 stations polled each minute that is
    # ~1.5 h of a full disk before the oldest polled batch is dropped.
    buffer_max: int = 20_000
    retry_min_s: float = 0.2  # a failing disk is tried again after this, doubling …
    retry_max_s: float = 5.0  # … up to this


@dataclass(slots=True)
class PendingBatch:
    """A batch on its way to the disk."""

    seq: int
    station: str
    topic: str
    payload: bytes
    created: float
    # True once durable, False if dropped from the buffer, None: released (a polled batch
    # behind a failing disk; the poll goes on, the batch stays buffered).
    done: asyncio.Future[bool | None] | None
    droppable: bool  # a polled batch may be dropped when the buffer is full; a streamed one not


def sent_ranges(
    ranges: tuple[tuple[int, int], ...] | list[tuple[int, int]], sent_upto: int
) -> tuple[list[tuple[int, int]], bool]:
    """The part of a receipt's ranges that covers batches which were sent: numbers 1 to
    ``sent_upto``. Returns (those ranges, whether anything beyond them was claimed).

    ``sent_upto`` is the larger of the highest number on disk when this life began (sent in a
    previous life: a collector may receipt them after our restart) and the highest number sent
    in this life; everything below it was sent at least once, so a receipt for it is plausible.
    """
    accepted: list[tuple[int, int]] = []
    unsent = False
    for first, last in ranges:
        if first < 1 or last > sent_upto:
            unsent = True
        low, high = max(first, 1), min(last, sent_upto)
        if low <= high:
            accepted.append((low, high))
    return accepted, unsent


def describe_ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    """At most three ranges in a log line: a forged receipt may carry thousands."""
    text = ", ".join(f"{first}..{last}" for first, last in ranges[:3])
    return text + (f" and {len(ranges) - 3} more" if len(ranges) > 3 else "")
