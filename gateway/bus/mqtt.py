"""The MQTT bus through aiomqtt: QoS 1, persistent session, reconnect with backoff and jitter.

What this gives and what it does not: every message handed to :meth:`MqttBus.publish` is
retried until the broker acknowledges it (PUBACK), across reconnects; subscriptions use a
persistent session (clean_session off, fixed client id), so a broker that keeps its
persistence file delivers what it queued while we were away. A PUBACK is still no proof that a
subscriber stored the message (DESIGN.md); end-to-end receipts sit above this layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

import aiomqtt
from pydantic import SecretStr

from gateway.bus import Bus, BusMessage, BusStats, Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = ""  # empty: a random one; set it for a persistent session across restarts
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 30
    publish_timeout_s: float = 10.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_outgoing: int = 100_000  # messages waiting for the broker; beyond, the oldest is dropped
    inflight_window: int = 32  # QoS 1 publishes awaiting PUBACK at once

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> MqttSettings:
        """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL {url!r} must start with mqtt:// or mqtts://")
        tls = parts.scheme == "mqtts"
        values: dict[str, object] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or (8883 if tls else 1883),
            "tls": tls,
            "username": unquote(parts.username) if parts.username else None,
            "password": SecretStr(unquote(parts.password)) if parts.password else None,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file:
            context.load_cert_chain(str(self.cert_file), str(self.key_file or self.cert_file))
        return context


def backoff_delay(attempt: int, minimum: float, maximum: float) -> float:
    """Exponential backoff with "full jitter" so a province's gateways do not reconnect in step."""
    # The exponent is capped: as a float, 2**attempt overflows from attempt 1024 on (about 8.5 h
    # of a broker down at a 30 s ceiling), and the OverflowError would end the reconnect loop.
    ceiling = min(maximum, minimum * 2 ** min(attempt, 64))
    return random.uniform(minimum, max(minimum, ceiling))


class MqttBus(Bus):
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.client_id = settings.client_id or f"quantrac-{uuid.uuid4().hex[:12]}"
        self.stats = BusStats()
        self.connected = asyncio.Event()
        self._subscriptions: list[Subscription] = []
        self._outgoing: deque[BusMessage] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be sent
        self._runner: asyncio.Task[None] | None = None
        self._first_error_logged = False

    async def __aenter__(self) -> Self:
        self._runner = asyncio.create_task(self._run(), name=f"mqtt-bus-{self.client_id}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, *, drain_timeout_s: float = 5.0) -> None:
        """Give queued messages a moment to reach the broker, then disconnect."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout_s):
                if self._outgoing and self.connected.is_set():
                    await self._idle.wait()
        if self._outgoing:
            log.warning("MQTT bus closing with %d unsent message(s)", len(self._outgoing))
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    @property
    def backlog(self) -> int:
        return len(self._outgoing)

    def subscribe(
        self, topic_filter: str, *, group: str | None = None, maxsize: int = 10_000
    ) -> Subscription:
        if self._runner is not None:
            raise RuntimeError(
                "subscribe before entering the bus: subscriptions are made on connect"
            )
        subscription = Subscription(topic_filter, group, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    async def publish(self, topic: str, payload: bytes) -> None:
        if len(self._outgoing) >= self.settings.max_outgoing:
            dropped = self._outgoing.popleft()
            self.stats.dropped_outgoing += 1
            log.warning(
                "MQTT outgoing queue full (%d): dropped the oldest message, on %s (%d so far)",
                self.settings.max_outgoing,
                dropped.topic,
                self.stats.dropped_outgoing,
            )
        self._outgoing.append(BusMessage(topic, payload))
        # Not idle any more: close() must wait for this message, even before _send wakes up.
        self._idle.clear()
        self._wakeup.set()

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        client = aiomqtt.Client(
            s.host,
            s.port,
            identifier=self.client_id,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            clean_session=False,
            keepalive=s.keepalive_s,
            tls_context=s.tls_context(),
            timeout=s.publish_timeout_s,
        )
        # aiomqtt warns above 10 pending publishes; our window of them in flight is intended.
        client.pending_calls_threshold = s.inflight_window + 1
        return client

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                async with self._client() as client:
                    for sub in self._subscriptions:
                        name = sub.topic_filter
                        if sub.group:
                            name = f"$share/{sub.group}/{sub.topic_filter}"
                        await client.subscribe(name, qos=1)
                    if attempt or self._first_error_logged:
                        self.stats.reconnects += 1
                        log.info(
                            "MQTT reconnected to %s:%d", self.settings.host, self.settings.port
                        )
                    attempt = 0
                    self._first_error_logged = False
                    self.connected.set()
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self._send(client))
                        tasks.create_task(self._receive(client))
            except* (aiomqtt.MqttError, OSError, TimeoutError) as group:
                self.connected.clear()
                error = group.exceptions[0]
                level = logging.DEBUG if self._first_error_logged else logging.WARNING
                log.log(
                    level,
                    "MQTT broker %s:%d unreachable: %s (%d message(s) waiting)",
                    self.settings.host,
                    self.settings.port,
                    error,
                    len(self._outgoing),
                )
                self._first_error_logged = True
            delay = backoff_delay(
                attempt, self.settings.reconnect_min_s, self.settings.reconnect_max_s
            )
            attempt += 1
            await asyncio.sleep(delay)

    async def _send(self, client: aiomqtt.Client) -> None:
        window = self.settings.inflight_window
        while True:
            while not self._outgoing:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            self._idle.clear()
            head = [self._outgoing[i] for i in range(min(window, len(self._outgoing)))]
            # aiomqtt waits for the PUBACK of each QoS 1 publish; a window of them in flight
            # keeps the order on the wire (paho sends in order) without one round trip each.
            # If any fails, the whole window stays queued and is sent again after reconnecting.
            await asyncio.gather(
                *(
                    client.publish(
                        m.topic, m.payload, qos=1, timeout=self.settings.publish_timeout_s
                    )
                    for m in head
                )
            )
            for message in head:
                # publish() may have dropped the oldest meanwhile (queue full): pop only ours.
                if self._outgoing and self._outgoing[0] is message:
                    self._outgoing.popleft()
            self.stats.published += len(head)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
            bus_message = BusMessage(message.topic.value, bytes(data))
            for subscription in self._subscriptions:
                if subscription.matches(bus_message.topic):
                    if subscription.offer(bus_message):
                        self.stats.delivered += 1
                    else:
                        self.stats.dropped_incoming += 1
