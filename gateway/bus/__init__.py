"""The bus between gateway, collector and alerting: one interface, two implementations.

- :class:`gateway.bus.memory.InProcessBus` for the embedded one-process run (the demo);
- :class:`gateway.bus.mqtt.MqttBus` over a real broker (Mosquitto, EMQX) for separate services.

Both deliver to :class:`Subscription` objects with bounded queues: when a consumer falls behind,
the overflow is counted and logged, never silently lost. A bus with manual acknowledgement
(``MqttSettings(manual_ack=True)``, the MQTT stations' input) makes lossless subscriptions
instead: the receiver waits for room rather than dropping, and each message carries the
:meth:`BusMessage.ack` its consumer calls once the message is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol, Self

log = logging.getLogger(__name__)

SHARE_PREFIX = "$share/"


@dataclass(frozen=True, slots=True)
class BusMessage:
    topic: str
    payload: bytes
    # Set by a bus with manual acknowledgement: what ack() calls. Not part of the message's
    # identity (two copies of one message compare equal).
    on_ack: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def ack(self) -> None:
        """Tell the bus this copy is safe (e.g. in the outbox); a no-op on other buses.

        Call it once per message taken from a subscription, handled or skipped: the broker
        gets its acknowledgement when every copy of the message has been acknowledged, in the
        order the messages came.
        """
        if self.on_ack is not None:
            self.on_ack()


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``$share/collectors/quantrac/v1/raw/+`` → ("collectors", "quantrac/v1/raw/+")."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return None, topic_filter
    _, group, rest = topic_filter.split("/", 2)
    return group, rest


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching with ``+`` and ``#`` (shared-subscription prefix ignored)."""
    _, topic_filter = split_shared(topic_filter)
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False  # MQTT 3.1.1 §4.7.2: $SYS/... is not matched by a leading wildcard
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return index < len(topic_levels) or index == len(topic_levels)
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


@dataclass
class BusStats:
    published: int = 0
    delivered: int = 0
    dropped_outgoing: int = 0
    dropped_incoming: int = 0
    reconnects: int = 0
    # Manual acknowledgement (MQTT stations' input) only:
    acked: int = 0  # messages acknowledged to the broker (PUBACK sent)
    redelivered: int = 0  # messages the broker sent again (DUP): un-acked before a disconnect
    unacked_at_disconnect: int = 0  # received, not yet acked when the connection went
    read_pauses: int = 0  # times the socket was not read: too many received and not acked


@dataclass(eq=False)
class Subscription:
    """Messages for one topic filter, in a bounded queue; iterate it with ``async for``.

    A ``lossless`` subscription (a bus with manual acknowledgement) never drops a message the
    broker has not been told is safe: :meth:`put` waits for room instead. Its queue is bounded
    by the broker's window of unacknowledged messages (Mosquitto ``max_inflight_messages``),
    so a wait means that window is larger than ``maxsize``: counted in ``waits`` and logged.
    """

    topic_filter: str
    group: str | None = None
    maxsize: int = 10_000
    dropped: int = 0
    lossless: bool = False
    waits: int = 0
    _queue: asyncio.Queue[BusMessage] = field(init=False)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(self.maxsize)

    async def put(self, message: BusMessage) -> None:
        """Queue a message of a lossless subscription, waiting while the queue is full."""
        if self._queue.full():
            self.waits += 1
            level = logging.WARNING if self.waits == 1 or self.waits % 1000 == 0 else logging.DEBUG
            log.log(
                level,
                "subscription %s is full (%d queued): waiting for room (%d time(s) so far); "
                "the broker's in-flight window is larger than the queue",
                self.topic_filter,
                self.maxsize,
                self.waits,
            )
        await self._queue.put(message)

    def offer(self, message: BusMessage) -> bool:
        """Queue a message; a full queue counts and logs the drop instead of blocking the bus."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            level = logging.WARNING if self.dropped == 1 or self.dropped % 1000 == 0 else 10
            log.log(
                level,
                "subscription %s is full (%d queued): dropped %s (%d dropped so far)",
                self.topic_filter,
                self.maxsize,
                message.topic,
                self.dropped,
            )
            return False
        return True

    def matches(self, topic: str) -> bool:
        return topic_matches(self.topic_filter, topic)

    async def get(self) -> BusMessage:
        return await self._queue.get()

    def qsize(self) -> int:
        return self._queue.qsize()

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusMessage]:
        while True:
            yield await self._queue.get()


class Bus(Protocol):
    """Publish bytes on a topic; subscribe to a topic filter, optionally as part of a group.

    Subscribers in the same ``group`` share the stream: each message goes to one of them
    (MQTT shared subscriptions, ``$share/<group>/<filter>``).
    """

    stats: BusStats
    connected: asyncio.Event  # set while messages can flow

    @property
    def backlog(self) -> int:
        """Messages handed to publish() and not yet taken by the broker."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def publish(self, topic: str, payload: bytes) -> None: ...

    def subscribe(
        self, topic_filter: str, *, group: str | None = None, maxsize: int = 10_000
    ) -> Subscription: ...
