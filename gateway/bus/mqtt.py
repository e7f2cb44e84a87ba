"""The MQTT bus through aiomqtt: QoS 1, persistent session, reconnect with backoff and jitter.

What this gives and what it does not: every message handed to :meth:`MqttBus.publish` is
retried until the broker acknowledges it (PUBACK), across reconnects; subscriptions use a
persistent session (clean_session off, fixed client id), so a broker that keeps its
persistence file delivers what it queued while we were away. A PUBACK is still no proof that a
subscriber stored the message (docs/architecture.md); end-to-end receipts sit above this layer.

With ``manual_ack`` (the MQTT stations' input, which has no receipts) the bus does not let paho
acknowledge a message on arrival: each message carries :meth:`~gateway.bus.BusMessage.ack`,
and the broker gets its PUBACK only once every copy of the message was acknowledged by its
consumer, in the order the messages came (:class:`InOrderAcks`). The broker sends at most its
in-flight window of unacknowledged messages (Mosquitto ``max_inflight_messages``) and keeps the
rest queued in the session: that is the back-pressure. What was not acknowledged when a
connection went is sent again on the next one (DUP), counted in ``stats.redelivered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import struct
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho_mqtt
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
    # A broker back after an outage is found within this (plus jitter below it); 5 s keeps a
    # province's gateways apart without leaving data waiting half a minute (issue 10: 47 s of
    # catch-up after a 60 s stop with a 30 s ceiling).
    reconnect_max_s: float = 5.0
    max_outgoing: int = 100_000  # messages waiting for the broker; beyond, the oldest is dropped
    # QoS 1 publishes awaiting PUBACK at once, a sliding window (paho's own limit is set to it;
    # its default, 20, held the rest back). 256 measured no better than 32 (issue 12).
    inflight_window: int = 32
    # Acknowledge received messages only when their consumer says so (BusMessage.ack).
    manual_ack: bool = False
    # manual_ack: received and not yet acknowledged at most; beyond, the socket is not read
    # (the broker's own window cannot be relied on: Mosquitto 2.0.11 refills it on every ack).
    max_unacked: int = 1_000
    # A session the broker forgets when the client goes. For consumers sharing a subscription
    # ($share/…): Mosquitto 2.0 keeps routing a share of the stream to an offline persistent
    # session, so a dead collector would hold its share until it came back. What it had taken
    # and not receipted is resent by the gateways' outboxes (docs/deploy.md, "Scale-out").
    clean_session: bool = False

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> MqttSettings:
        """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` (TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            # Not the URL itself: it may hold a password (issue 13).
            raise ValueError(
                f"a broker URL must start with mqtt:// or mqtts://, not {parts.scheme or '(none)'}:"
            )
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


@dataclass(eq=False)
class _Delivery:
    mid: int
    qos: int
    copies: int  # copies handed to subscriptions and not yet acknowledged by their consumer


def _nothing_to_ack() -> None:
    return None


class InOrderAcks:
    """The acknowledgements of one connection, sent in the order the messages came.

    MQTT 3.1.1 §4.6: a client acknowledges QoS 1 messages in the order it received them. Its
    consumers finish out of order (several subscriptions, several messages handled at once), so
    a message whose copies are all acknowledged waits here for those that came before it.
    After :meth:`close` (the connection is gone) nothing more is sent: the broker sends what
    was not acknowledged again on the next connection, reusing packet ids, so an old
    acknowledgement sent there could acknowledge a different message. Pure: ``send`` does I/O.
    """

    def __init__(self, send: Callable[[int, int], None]) -> None:
        self._send = send
        self._pending: deque[_Delivery] = deque()
        self.closed = False

    @property
    def inflight(self) -> int:
        """Messages received and not acknowledged yet."""
        return len(self._pending)

    def receive(self, mid: int, qos: int, copies: int) -> list[Callable[[], None]]:
        """One acknowledgement callable per copy; each acts once, later calls do nothing."""
        if qos == 0:  # nothing to acknowledge; the broker does not wait for QoS 0
            return [_nothing_to_ack] * copies
        delivery = _Delivery(mid, qos, copies)
        self._pending.append(delivery)
        if copies == 0:  # no subscription wanted it: acknowledged in its turn
            self._flush()
        return [self._ack_of(delivery) for _ in range(copies)]

    def _ack_of(self, delivery: _Delivery) -> Callable[[], None]:
        done = False

        def ack() -> None:
            nonlocal done
            if done:
                return
            done = True
            delivery.copies -= 1
            if delivery.copies == 0:
                self._flush()

        return ack

    def _flush(self) -> None:
        while not self.closed and self._pending and self._pending[0].copies == 0:
            delivery = self._pending.popleft()
            self._send(delivery.mid, delivery.qos)

    def close(self) -> int:
        """The connection is gone: forget the pending ones; returns how many there were."""
        self.closed = True
        pending = len(self._pending)
        self._pending.clear()
        return pending


# PUBACKs are written together: at most this many, or after this delay (a broker's in-flight
# window is 20-100 messages and ours max_unacked, so a few ms of delay costs no throughput).
ACK_BATCH = 64
ACK_DELAY_S = 0.002
_PUBACK = struct.Struct("!BBH")  # fixed header (type, remaining length 2), packet id


class _Intake:
    """One connection's received messages until they are acknowledged (manual_ack).

    Holds the connection's :class:`InOrderAcks`, and stops reading its socket while
    ``limit`` messages are received and not acknowledged, resuming at half: TCP then holds
    the broker back, whatever its own in-flight window does. While the socket is not read,
    nothing else is either (PINGRESP): a consumer stuck for longer than the keepalive ends
    the connection, and the broker sends the un-acknowledged messages again on the next one.
    """

    def __init__(self, client: aiomqtt.Client, stats: BusStats, limit: int) -> None:
        self.client = client
        self.stats = stats
        self.limit = max(1, limit)
        self.acks = InOrderAcks(self._send_ack)
        self.paused = False
        # Not before the subscriptions are made: a broker resends the session's messages
        # right after CONNACK, and a paused socket would never read the SUBACK.
        self.active = False
        self._due: list[int] = []  # QoS 1 packet ids acknowledged and not yet written
        self._flush_timer: asyncio.TimerHandle | None = None

    @property
    def unacked(self) -> int:
        """Received from the broker and not acknowledged yet (in aiomqtt's queue or ours)."""
        return len(self.client.messages) + self.acks.inflight + len(self._due)

    def received(self) -> None:
        """Called by paho for each message it read, within its read callback."""
        if self.active and not self.paused and self.unacked >= self.limit:
            sock = self.client._client.socket()
            if sock is not None:
                asyncio.get_running_loop().remove_reader(sock.fileno())
                self.paused = True
                self.stats.read_pauses += 1
                log.debug("MQTT: %d message(s) not acknowledged: reading paused", self.unacked)

    def _send_ack(self, mid: int, qos: int) -> None:
        if qos != 1:  # QoS 2: paho's own (we subscribe at QoS 1: not in practice)
            self.client._client.ack(mid, qos)
            self.stats.acked += 1
            return
        self._due.append(mid)
        if len(self._due) >= ACK_BATCH:
            self._flush()
        elif self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(ACK_DELAY_S, self._flush)

    def _flush(self) -> None:
        """Write the PUBACKs due as one packet. paho writes each acknowledgement on its own,
        with three system calls (its wake-up pair, aiomqtt's wake-up of the loop, the socket):
        at thousands of messages a second that cost as much as decoding them."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        due, self._due = self._due, []
        if self.acks.closed or not due:
            return  # the connection went: the broker sends these again
        packet = b"".join(_PUBACK.pack(paho_mqtt.PUBACK, 2, mid) for mid in due)
        result = self.client._client._packet_queue(paho_mqtt.PUBACK, packet, 0, 0)
        if result == paho_mqtt.MQTT_ERR_SUCCESS:
            self.stats.acked += len(due)
        else:  # the connection is going: the broker sends them again on the next one
            log.debug("MQTT: %d acknowledgement(s) not written: error %s", len(due), result)
        self.taken()

    def taken(self) -> None:
        """Resume reading once at most half the limit waits (acks, or QoS 0 taken away)."""
        if self.paused and not self.acks.closed and self.unacked <= self.limit // 2:
            self._resume()

    def _resume(self) -> None:
        self.paused = False
        paho = self.client._client
        sock = paho.socket()
        if sock is None:
            return  # closed meanwhile: nothing to read any more

        # As aiomqtt's own reader (Client._on_socket_open), which remove_reader() dropped.
        def read() -> None:
            try:
                while True:
                    paho.loop_read()
                    pending = getattr(paho.socket(), "pending", None)  # TLS: decoded bytes left
                    if pending is not None and pending() > 0 and not self.paused:
                        continue
                    break
            except Exception as exc:  # a broken connection: aiomqtt ends the session on it
                disconnected = self.client._disconnected
                if not disconnected.done():
                    disconnected.set_exception(exc)

        asyncio.get_running_loop().add_reader(sock.fileno(), read)

    def close(self) -> int:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._due.clear()
        return self.acks.close()


class MqttBus(Bus):
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.client_id = settings.client_id or f"quantrac-{uuid.uuid4().hex[:12]}"
        self.stats = BusStats()
        self.connected = asyncio.Event()
        self._subscriptions: list[Subscription] = []
        self._outgoing: deque[BusMessage] = deque()
        # Published to paho, waiting for their PUBACK (oldest first): _send's sliding window.
        self._inflight: deque[tuple[BusMessage, asyncio.Future[None]]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # set while nothing waits to be sent
        self._runner: asyncio.Task[None] | None = None
        self._first_error_logged = False
        self._intake: _Intake | None = None  # this connection's, with manual_ack

    @property
    def inflight(self) -> int:
        """Messages received and not yet acknowledged to the broker (manual_ack only)."""
        return self._intake.unacked if self._intake is not None else 0

    async def __aenter__(self) -> Self:
        self._runner = asyncio.create_task(self._run(), name=f"mqtt-bus-{self.client_id}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, *, drain_timeout_s: float = 5.0) -> None:
        """Give queued messages a moment to reach the broker, then disconnect."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout_s):
                if self.backlog and self.connected.is_set():
                    await self._idle.wait()
        if self.backlog:
            log.warning("MQTT bus closing with %d unsent message(s)", self.backlog)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    @property
    def backlog(self) -> int:
        return len(self._outgoing) + len(self._inflight)

    def subscribe(
        self, topic_filter: str, *, group: str | None = None, maxsize: int = 10_000
    ) -> Subscription:
        if self._runner is not None:
            raise RuntimeError(
                "subscribe before entering the bus: subscriptions are made on connect"
            )
        subscription = Subscription(topic_filter, group, maxsize, lossless=self.settings.manual_ack)
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
            clean_session=s.clean_session,
            keepalive=s.keepalive_s,
            tls_context=s.tls_context(),
            timeout=s.publish_timeout_s,
            max_inflight_messages=s.inflight_window,
        )
        # aiomqtt warns above 10 pending publishes; our window of them in flight is intended.
        client.pending_calls_threshold = s.inflight_window + 1
        # aiomqtt 2.5 has no option for either: its paho client, before it connects.
        paho = client._client
        intake = None
        if s.manual_ack:
            paho.manual_ack_set(True)
            intake = self._intake = _Intake(client, self.stats, s.max_unacked)
        deliver = paho.on_message

        def on_message(
            paho_client: paho_mqtt.Client, userdata: object, message: paho_mqtt.MQTTMessage
        ) -> None:
            if message.dup:  # aiomqtt's Message does not carry the DUP flag
                self.stats.redelivered += 1
            if deliver is not None:
                deliver(paho_client, userdata, message)
            if intake is not None:
                intake.received()

        paho.on_message = on_message
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
                    _no_delay(client)
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
            finally:
                self._end_intake()
            delay = backoff_delay(
                attempt, self.settings.reconnect_min_s, self.settings.reconnect_max_s
            )
            attempt += 1
            await asyncio.sleep(delay)

    async def _send(self, client: aiomqtt.Client) -> None:
        """A sliding window of QoS 1 publishes: up to ``inflight_window`` await their PUBACK at
        once, and each one acknowledged lets the next go (a window sent and waited for as a
        whole stalled on its slowest PUBACK: issue 12). paho writes them in the order they are
        published, so the order on the wire is the queue's. A message leaves the queue only
        once acknowledged; if the connection fails, what was in flight goes back in front, in
        order, and is sent again on the next connection (at least once)."""
        window = self.settings.inflight_window
        timeout = self.settings.publish_timeout_s
        inflight = self._inflight
        wakeup = self._wakeup
        try:
            while True:
                while self._outgoing and len(inflight) < window:
                    message = self._outgoing.popleft()
                    done = asyncio.ensure_future(
                        client.publish(message.topic, message.payload, qos=1, timeout=timeout)
                    )
                    done.add_done_callback(lambda _done: wakeup.set())
                    inflight.append((message, done))
                acknowledged = 0
                while inflight and inflight[0][1].done():
                    inflight[0][1].result()  # a failed publish ends the connection
                    inflight.popleft()
                    acknowledged += 1
                self.stats.published += acknowledged
                if acknowledged:
                    continue
                if not inflight and not self._outgoing:
                    self._idle.set()
                wakeup.clear()
                if self._outgoing and len(inflight) < window:
                    continue  # published meanwhile
                await wakeup.wait()
                if self._outgoing or inflight:
                    self._idle.clear()
        finally:
            # In flight and not acknowledged: back in front, in order, for the next connection.
            for message, publishing in reversed(inflight):
                publishing.cancel()
                self._outgoing.appendleft(message)
            inflight.clear()

    async def _receive(self, client: aiomqtt.Client) -> None:
        if not self.settings.manual_ack:
            async for message in client.messages:
                bus_message = BusMessage(message.topic.value, _payload_bytes(message.payload))
                for subscription in self._subscriptions:
                    if subscription.matches(bus_message.topic):
                        if subscription.offer(bus_message):
                            self.stats.delivered += 1
                        else:
                            self.stats.dropped_incoming += 1
            return
        intake = self._intake
        if intake is None or intake.client is not client:
            raise RuntimeError("manual_ack: the intake is made with its client, in _client()")
        intake.active = True
        intake.received()  # what came while subscribing may be enough to pause already
        async for message in client.messages:
            topic = message.topic.value
            data = _payload_bytes(message.payload)
            matching = [s for s in self._subscriptions if s.matches(topic)]
            on_acks = intake.acks.receive(message.mid, message.qos, len(matching))
            for subscription, on_ack in zip(matching, on_acks, strict=True):
                bus_message = BusMessage(topic, data, on_ack)
                if message.qos > 0:
                    # Never dropped: nothing reaches the broker's PUBACK before the consumer
                    # says so, and the intake stops reading at max_unacked, so waiting here
                    # is bounded.
                    await subscription.put(bus_message)
                elif not subscription.offer(bus_message):
                    # QoS 0 is at most once by contract: the broker does not keep it either.
                    self.stats.dropped_incoming += 1
                    continue
                self.stats.delivered += 1
            intake.taken()

    def _end_intake(self) -> None:
        """The connection is gone: what it did not acknowledge, the broker sends again."""
        intake, self._intake = self._intake, None
        if intake is None:
            return
        unacked = intake.unacked
        intake.close()
        self.stats.unacked_at_disconnect += unacked
        if unacked:
            log.info(
                "MQTT connection closed with %d message(s) not yet acknowledged: the broker "
                "sends them again",
                unacked,
            )


def _no_delay(client: aiomqtt.Client) -> None:
    """TCP_NODELAY: paho leaves Nagle's algorithm on, which held each small PUBLISH and PUBACK
    back until the previous one was acknowledged by TCP — about 100 ms of a reading's 245 ms
    from the collector to a webhook (issue 11), and of the gateway's lag (issue 12)."""
    setsockopt = getattr(client._client.socket(), "setsockopt", None)
    if setsockopt is not None:
        with contextlib.suppress(OSError):
            setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _payload_bytes(payload: object) -> bytes:
    data = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
    return bytes(data)
