"""The in-process bus of the embedded run: same semantics as MQTT, no broker."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Self

from gateway.bus import Bus, BusMessage, BusStats, Subscription


class InProcessBus(Bus):
    def __init__(self) -> None:
        self.stats = BusStats()
        self.connected = asyncio.Event()
        self.connected.set()  # nothing to connect to
        self._subscriptions: list[Subscription] = []
        self._groups: dict[tuple[str, str], list[Subscription]] = defaultdict(list)
        self._turn: dict[tuple[str, str], itertools.count[int]] = {}

    @property
    def backlog(self) -> int:
        return 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def subscribe(
        self, topic_filter: str, *, group: str | None = None, maxsize: int = 10_000
    ) -> Subscription:
        subscription = Subscription(topic_filter, group, maxsize)
        if group is None:
            self._subscriptions.append(subscription)
        else:
            key = (group, topic_filter)
            self._groups[key].append(subscription)
            self._turn.setdefault(key, itertools.count())
        return subscription

    async def publish(self, topic: str, payload: bytes) -> None:
        message = BusMessage(topic, payload)
        self.stats.published += 1
        for subscription in self._subscriptions:
            if subscription.matches(topic):
                self._deliver(subscription, message)
        for key, members in self._groups.items():
            if members and members[0].matches(topic):
                # Round robin, as brokers do for shared subscriptions.
                member = members[next(self._turn[key]) % len(members)]
                self._deliver(member, message)

    def _deliver(self, subscription: Subscription, message: BusMessage) -> None:
        if subscription.offer(message):
            self.stats.delivered += 1
        else:
            self.stats.dropped_incoming += 1
