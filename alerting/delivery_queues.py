"""The delivery workers: one task per destination, each sending its queue's entries in order
(alerting.delivery explains the rounds, deadlines and what counts as told).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerting.delivery import (
    IDLE_WAKE_S,
    Covered,
    DeliverySettings,
    Destination,
    EntryState,
    QueueEntry,
    destinations,
    round_outcome,
)
from alerting.delivery_store import (
    DeliveryStore,
)
from alerting.model import (
    Delivery,
    Notification,
    Recipient,
)
from alerting.notifiers.base import Notifier, short
from alerting.routing import RoutingConfig

log = logging.getLogger(__name__)


# --- the workers ------------------------------------------------------------------------------


@dataclass
class DestinationStats:
    """Counted since the service started (health, Prometheus counters)."""

    attempts: int = 0  # rounds
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    dropped: int = 0
    last_error: str = ""
    deliveries: Counter[str] = field(default_factory=Counter)  # per target: sent/retry/failed


Members = Callable[[Destination], Sequence[Recipient]]


class DeliveryQueues:
    """One worker per destination over the store; ``drain`` instead when nothing runs them
    (a test driving the service step by step)."""

    def __init__(
        self,
        store: DeliveryStore,
        routing: RoutingConfig,
        notifiers: Mapping[str, Notifier],
        settings: DeliverySettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.routing = routing
        self.notifiers = notifiers
        self.settings = settings
        self.clock = clock
        self.destinations = destinations(routing)
        self.stats = {d: DestinationStats() for d in self.destinations}
        self.running = False
        self._wake: dict[Destination, asyncio.Event] = {}

    def of(self, receiver: str) -> list[Destination]:
        return [d for d in self.destinations if d.receiver == receiver]

    def members(self, destination: Destination) -> list[Recipient]:
        group = self.routing.recipients.get(destination.receiver)
        return [] if group is None else [m.recipient() for m in group.members]

    def enqueue(
        self,
        items: Iterable[tuple[Destination, Notification, Sequence[Covered]]],
    ) -> int:
        now = self.clock()
        rows = [(d, n, covers, now + self.settings.deadline(n.severity)) for d, n, covers in items]
        added = self.store.enqueue(rows, now) if rows else 0
        for destination, *_ in rows:
            wake = self._wake.get(destination)
            if wake is not None:
                wake.set()
        return added

    async def run(self) -> None:
        """A worker per destination, until cancelled."""
        self.running = True
        removed = self.store.forget(self.clock() - timedelta(days=self.settings.keep_days))
        if removed:
            log.info("delivery: %d finished entries older than %g days dropped", removed,
                     self.settings.keep_days)  # fmt: skip
        try:
            async with asyncio.TaskGroup() as tasks:
                for destination in self.destinations:
                    self._wake[destination] = asyncio.Event()
                    tasks.create_task(self._work(destination), name=f"deliver {destination}")
        finally:
            self.running = False

    async def _work(self, destination: Destination) -> None:
        wake = self._wake[destination]
        while True:
            wake.clear()
            try:
                wait = await self.step(destination)
            except Exception:  # the last resort: a bug must not stop this destination
                log.exception("delivery %s: unexpected error", destination)
                wait = IDLE_WAKE_S
            if wait is None or wait > 0:
                pause = IDLE_WAKE_S if wait is None else min(wait, IDLE_WAKE_S)
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
                # comes as it times out, and the service did not stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await wake.wait()

    async def drain(self) -> None:
        """Every destination's due entries, destinations side by side (nothing runs them)."""
        await asyncio.gather(*(self._drain(d) for d in self.destinations))

    async def _drain(self, destination: Destination) -> None:
        while await self.step(destination) == 0:
            pass

    async def step(self, destination: Destination) -> float | None:
        """Handle the destination's head entry if it is due. Returns 0 after handling one,
        the seconds until the head is due, or None when the queue is empty."""
        entry = self.store.head(destination)
        if entry is None:
            return None
        now = self.clock()
        if now >= entry.deadline:
            self._expire(entry, now)
            return 0
        if entry.next_at > now:
            return (entry.next_at - now).total_seconds()
        await self._round(entry)
        return 0

    def _expire(self, entry: QueueEntry, now: datetime, *, this_round: str | None = None) -> None:
        """Past its deadline (or the next round would be): expired, with why."""
        rounds = entry.rounds + (this_round is not None)
        waited = entry.deadline - entry.created_at
        reason = short(
            f"not delivered within {waited.total_seconds() / 3600:g} h "
            f"({entry.notification.severity.name.lower()}) after {rounds} round(s); "
            f"last error: {this_round or entry.last_error or 'none'}"
        )
        self.store.finish(
            entry, EntryState.EXPIRED, now, reason, rounds=int(this_round is not None)
        )
        self.stats[entry.destination].expired += 1
        log.error("delivery %s: %s expired: %s", entry.destination, entry.notification.key, reason)

    async def _round(self, entry: QueueEntry) -> None:
        destination = entry.destination
        stats = self.stats.setdefault(destination, DestinationStats())
        notification = entry.notification
        if all(not c.open for c in entry.covers) and entry.covers:
            told = self.store.told(c.incident for c in entry.covers)
            if not any((t := told.get((c.incident, destination))) and t.accepted_open
                       for c in entry.covers):  # fmt: skip
                # Alertmanager's rule: no all-clear for an alarm this receiver never got.
                self.store.finish(entry, EntryState.DROPPED, self.clock(),
                                  "the alarm it ends never reached this receiver")  # fmt: skip
                stats.dropped += 1
                log.info("delivery %s: %s dropped (its firing was never accepted here)",
                         destination, notification.key)  # fmt: skip
                return
        notifier = self.notifiers.get(destination.channel)
        stats.attempts += 1
        if notifier is None:
            deliveries: list[Delivery] = []
            state, detail = EntryState.FAILED, f"no {destination.channel} notifier configured"
        else:
            try:
                deliveries = await notifier.send(notification, self.members(destination))
            except Exception as exc:  # a template or a bug: this entry fails, not the worker
                log.exception("delivery %s: sending %s", destination, notification.key)
                deliveries = []
                state, detail = EntryState.FAILED, short(f"{type(exc).__name__}: {exc}")
            else:
                state, detail = round_outcome(deliveries)
        for delivery in deliveries:
            stats.deliveries[delivery.status.value] += 1
        now = self.clock()
        if state is EntryState.QUEUED:
            stats.last_error = detail
            next_at = now + self.settings.backoff(entry.rounds + 1)
            if next_at >= entry.deadline:
                self._expire(entry, now, this_round=detail)
                return
            self.store.retry_later(entry, next_at, detail)
            level = logging.WARNING if entry.rounds == 0 else logging.INFO
            log.log(level, "delivery %s: %s not delivered (round %d), next at %s: %s",
                    destination, notification.key, entry.rounds + 1,
                    next_at.isoformat(timespec="seconds"), detail)  # fmt: skip
            return
        self.store.finish(entry, state, now, detail, rounds=1)
        if state is EntryState.DELIVERED:
            stats.delivered += 1
            if entry.rounds:
                log.info("delivery %s: %s delivered after %d round(s)", destination,
                         notification.key, entry.rounds + 1)  # fmt: skip
        else:
            stats.failed += 1
            stats.last_error = detail
            log.error("delivery %s: %s refused: %s", destination, notification.key, detail)

    def health(self) -> dict[str, Any]:
        """Per receiver and channel: depth, oldest age, rounds, counts, last error; a
        destination whose next entry already failed a round says ``degraded``."""
        now = self.clock()
        depths = self.store.depths()
        out: dict[str, Any] = {}
        for destination in sorted(set(self.destinations) | set(depths)):
            stats = self.stats.get(destination, DestinationStats())
            waiting = depths.get(destination)
            body: dict[str, Any] = {
                "depth": 0 if waiting is None else waiting.depth,
                "oldest_age_s": 0.0
                if waiting is None
                else round(max(0.0, (now - waiting.oldest).total_seconds()), 1),
                "attempts": stats.attempts,
                "delivered": stats.delivered,
                "failed": stats.failed,
                "expired": stats.expired,
                "dropped": stats.dropped,
                "last_error": stats.last_error,
            }
            if waiting is not None and waiting.head_rounds:
                body["degraded"] = (
                    f"{waiting.depth} waiting, the next one not delivered after "
                    f"{waiting.head_rounds} round(s): {waiting.head_error}"
                )
            out.setdefault(destination.receiver, {})[destination.channel] = body
        return out

    def deliveries(self) -> dict[str, int]:
        """Per-target outcomes of every round, by status (the service's former counter)."""
        total: Counter[str] = Counter()
        for stats in self.stats.values():
            total.update(stats.deliveries)
        return dict(total)
