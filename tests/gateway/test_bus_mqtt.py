"""MqttBus against a real Mosquitto on loopback: order, shared subscriptions, broker restarts,
bounded queues. Every test counts what arrives (docs/architecture.md: QoS 1 is not a delivery
proof).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from gateway.bus import BusMessage, Subscription
from gateway.bus.mqtt import MqttBus, MqttSettings, backoff_delay
from tests.servers import Mosquitto

pytestmark = pytest.mark.timeout(60)

RAW = "quantrac/v1/raw"


def fast_settings(url: str, **overrides: object) -> MqttSettings:
    """Settings for tests: reconnect within a second instead of the production 5 s ceiling."""
    values: dict[str, object] = {"reconnect_min_s": 0.1, "reconnect_max_s": 1.0}
    values.update(overrides)
    return MqttSettings.from_url(url, **values)


def payload(seq: int) -> bytes:
    return f'{{"seq": {seq}}}'.encode()


async def wait_connected(*buses: MqttBus, timeout_s: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            for bus in buses:
                await bus.connected.wait()
    except TimeoutError:
        waiting = [bus.client_id for bus in buses if not bus.connected.is_set()]
        pytest.fail(f"not connected after {timeout_s} s: {waiting}")


async def receive(
    subscription: Subscription, count: int, timeout_s: float = 15.0
) -> list[BusMessage]:
    received: list[BusMessage] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(received) < count:
                received.append(await subscription.get())
    except TimeoutError:
        pytest.fail(
            f"{subscription.topic_filter}: {len(received)} of {count} messages after {timeout_s} s"
        )
    return received


async def wait_until(
    condition: Callable[[], bool], describe: Callable[[], str], timeout_s: float
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            # Polled: the counters under test are plain attributes with nothing to await.
            while True:
                if condition():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"after {timeout_s} s: {describe()}")


@contextlib.asynccontextmanager
async def draining(*subscriptions: Subscription) -> AsyncIterator[list[list[BusMessage]]]:
    """Consume each subscription in a background task into its own list."""
    sinks: list[list[BusMessage]] = [[] for _ in subscriptions]

    async def drain(subscription: Subscription, sink: list[BusMessage]) -> None:
        async for message in subscription:
            sink.append(message)

    tasks = [
        asyncio.create_task(drain(sub, sink))
        for sub, sink in zip(subscriptions, sinks, strict=True)
    ]
    try:
        yield sinks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_publish_subscribe_round_trip_keeps_order(mosquitto: Mosquitto) -> None:
    count = 500
    subscriber = MqttBus(fast_settings(mosquitto.url))
    publisher = MqttBus(fast_settings(mosquitto.url))
    assert subscriber.client_id != publisher.client_id
    raw = subscriber.subscribe(f"{RAW}/+")

    async with subscriber, publisher:
        await wait_connected(subscriber, publisher)
        for seq in range(count):
            await publisher.publish(f"{RAW}/hue-aqi-01", payload(seq))
        received = await receive(raw, count)

        assert [m.payload for m in received] == [payload(seq) for seq in range(count)]
        assert {m.topic for m in received} == {f"{RAW}/hue-aqi-01"}
        await wait_until(
            lambda: publisher.backlog == 0, lambda: f"backlog {publisher.backlog}", 5.0
        )
        assert publisher.stats.published == count
        assert publisher.stats.dropped_outgoing == 0
        assert subscriber.stats.delivered == count
        assert subscriber.stats.dropped_incoming == 0
        assert raw.dropped == 0


async def test_close_sends_what_was_just_published(mosquitto: Mosquitto) -> None:
    """Leaving ``async with`` right after publish() drains the outgoing queue first."""
    count = 200
    subscriber = MqttBus(fast_settings(mosquitto.url))
    raw = subscriber.subscribe(f"{RAW}/+")
    async with subscriber:
        await wait_connected(subscriber)
        publisher = MqttBus(fast_settings(mosquitto.url))
        async with publisher:
            await wait_connected(publisher)
            await asyncio.sleep(0.1)  # let the sender go idle first, as a long-running gateway does
            for seq in range(count):
                await publisher.publish(f"{RAW}/hue-rain-02", payload(seq))
        assert publisher.backlog == 0, f"closed with {publisher.backlog} message(s) unsent"
        received = await receive(raw, count)
        assert [m.payload for m in received] == [payload(seq) for seq in range(count)]


async def test_shared_subscription_splits_the_stream_exactly_once(mosquitto: Mosquitto) -> None:
    count = 1000
    stations = ["hue-aqi-01", "hue-aqi-02", "hue-wq-01", "hue-rain-07", "hue-flood-kimlong"]
    collectors = [MqttBus(fast_settings(mosquitto.url)) for _ in range(2)]
    shares = [bus.subscribe(f"{RAW}/+", group="collectors") for bus in collectors]
    publisher = MqttBus(fast_settings(mosquitto.url))

    async with collectors[0], collectors[1], publisher, draining(*shares) as sinks:
        await wait_connected(*collectors, publisher)
        for seq in range(count):
            await publisher.publish(f"{RAW}/{stations[seq % len(stations)]}", payload(seq))

        def total() -> int:
            return sum(len(sink) for sink in sinks)

        await wait_until(lambda: total() >= count, lambda: f"{total()} of {count}", 15.0)
        await asyncio.sleep(0.5)  # anything sent twice would arrive now

    seen = Counter(m.payload for sink in sinks for m in sink)
    duplicates = {p: n for p, n in seen.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} payload(s) delivered more than once"
    assert set(seen) == {payload(seq) for seq in range(count)}
    assert all(sink for sink in sinks), f"one collector got nothing: {[len(s) for s in sinks]}"
    for sink in sinks:
        for message in sink:
            seq = json.loads(message.payload)["seq"]
            assert message.topic == f"{RAW}/{stations[seq % len(stations)]}"


async def test_broker_restart_mid_stream_delivers_everything(mosquitto: Mosquitto) -> None:
    count = 2000
    # A fixed client id: the broker keeps the collector's session (and its queue) across restarts.
    # The collector comes back a second after the gateway, which meanwhile sends its backlog:
    # those messages reach the collector only through the session the broker persisted.
    subscriber = MqttBus(
        fast_settings(
            mosquitto.url,
            client_id="collector-restart-test",
            reconnect_min_s=3.0,
            reconnect_max_s=3.0,
        )
    )
    publisher = MqttBus(fast_settings(mosquitto.url, reconnect_min_s=0.1, reconnect_max_s=0.3))
    raw = subscriber.subscribe(f"{RAW}/#")
    expected = {payload(seq) for seq in range(count)}
    quarter_sent = asyncio.Event()

    async def stream() -> None:
        for seq in range(count):
            await publisher.publish(f"{RAW}/hue-flood-{seq % 3}", payload(seq))
            if seq == count // 4:
                quarter_sent.set()
            if seq % 10 == 9:
                await asyncio.sleep(0.02)

    started = time.monotonic()
    async with subscriber, publisher, draining(raw) as (received,):
        await wait_connected(subscriber, publisher)
        streaming = asyncio.create_task(stream())
        async with asyncio.timeout(10):
            await quarter_sent.wait()
        await asyncio.to_thread(mosquitto.restart, 2.0)
        assert (mosquitto.directory / "mosquitto.db").exists(), "the broker saved no sessions"
        async with asyncio.timeout(15):
            await streaming

        def unique() -> set[bytes]:
            return {m.payload for m in received}

        await wait_until(
            lambda: unique() >= expected,
            lambda: (
                f"{len(expected - unique())} of {count} payloads missing, "
                f"publisher backlog {publisher.backlog}"
            ),
            20.0,
        )
        elapsed = time.monotonic() - started

        duplicates = len(received) - len(unique())
        print(f"restart: {len(received)} received, {duplicates} duplicate(s), {elapsed:.1f} s")
        assert unique() == expected
        assert subscriber.stats.reconnects >= 1
        assert publisher.stats.reconnects >= 1
        assert publisher.stats.dropped_outgoing == 0
        assert raw.dropped == 0


async def test_outgoing_queue_drops_the_oldest_beyond_max_outgoing(mosquitto: Mosquitto) -> None:
    broker = mosquitto
    # The collector's persistent session is saved by the broker before it goes down, so what
    # the gateway sends once the broker is back is queued for the collector, whoever is first.
    subscriber = MqttBus(fast_settings(broker.url, client_id="collector-overflow-test"))
    raw = subscriber.subscribe(f"{RAW}/+")
    async with subscriber:
        await wait_connected(subscriber)
        await asyncio.to_thread(broker.stop)  # nothing listens on broker.port now

        publisher = MqttBus(fast_settings(broker.url, max_outgoing=10))
        async with publisher:
            for seq in range(25):
                await publisher.publish(f"{RAW}/hue-wq-03", payload(seq))
            assert publisher.stats.dropped_outgoing == 15
            assert publisher.backlog == 10
            await asyncio.sleep(0.5)  # a few failed connection attempts change nothing
            assert not publisher.connected.is_set()
            assert (publisher.backlog, publisher.stats.published) == (10, 0)

            await asyncio.to_thread(broker.start)
            received = await receive(raw, 10)
            assert [m.payload for m in received] == [payload(seq) for seq in range(15, 25)]
            await wait_until(
                lambda: publisher.backlog == 0, lambda: f"backlog {publisher.backlog}", 5.0
            )
            assert publisher.stats.published == 10
            assert publisher.stats.dropped_outgoing == 15
            assert publisher.stats.reconnects >= 1
        await asyncio.sleep(0.3)  # nothing more, in particular none of the 15 dropped
        assert raw.qsize() == 0


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username", "password"),
    [
        ("mqtt://broker.hue.gov.vn", "broker.hue.gov.vn", 1883, False, None, None),
        ("mqtt://10.20.0.5:1884", "10.20.0.5", 1884, False, None, None),
        ("mqtts://broker.hue.gov.vn", "broker.hue.gov.vn", 8883, True, None, None),
        ("mqtts://broker.hue.gov.vn:18883", "broker.hue.gov.vn", 18883, True, None, None),
        ("mqtt://gateway@broker", "broker", 1883, False, "gateway", None),
        ("mqtt://gateway:s3cret@broker:1883", "broker", 1883, False, "gateway", "s3cret"),
        (
            "mqtts://gw%40hue:p%3Ass%2Fw%40rd%20%25@broker",
            "broker",
            8883,
            True,
            "gw@hue",
            "p:ss/w@rd %",
        ),
        ("mqtt://[::1]:1883", "::1", 1883, False, None, None),
    ],
)
def test_settings_from_url(
    url: str, host: str, port: int, tls: bool, username: str | None, password: str | None
) -> None:
    settings = MqttSettings.from_url(url)
    assert settings.host == host
    assert settings.port == port
    assert settings.tls is tls
    assert settings.username == username
    secret = settings.password.get_secret_value() if settings.password else None
    assert secret == password
    if password:
        assert password not in repr(settings)
    assert isinstance(settings.tls_context(), ssl.SSLContext) if tls else not settings.tls_context()


def test_settings_from_url_applies_overrides() -> None:
    settings = MqttSettings.from_url(
        "mqtt://broker", client_id="gateway-hue-01", max_outgoing=5, port=2883
    )
    assert (settings.client_id, settings.max_outgoing, settings.port) == ("gateway-hue-01", 5, 2883)


@pytest.mark.parametrize(
    "url",
    ["http://broker:1883", "tcp://broker:1883", "ws://broker", "broker:1883", "", "mqtt://b:port"],
)
def test_settings_from_url_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"mqtt|[Pp]ort"):
        MqttSettings.from_url(url)


def test_backoff_delay_stays_within_bounds_and_grows() -> None:
    minimum, maximum = 0.5, 30.0
    assert backoff_delay(0, minimum, maximum) == minimum
    # A broker down through a storm: thousands of attempts must still give a delay, not crash.
    for attempt in [*range(0, 80), 1023, 1024, 1100, 10_000, 1_000_000]:
        samples = [backoff_delay(attempt, minimum, maximum) for _ in range(200)]
        ceiling = min(maximum, minimum * 2 ** min(attempt, 64))
        assert all(minimum <= s <= ceiling for s in samples), attempt
        if attempt >= 1:
            # Full jitter over [min, ceiling]: about half the samples lie in the upper half.
            assert max(samples) > (minimum + ceiling) / 2, attempt
    late = [backoff_delay(200, minimum, maximum) for _ in range(500)]
    assert max(late) > 0.9 * maximum


def test_the_default_backoff_finds_a_returning_broker_within_five_seconds() -> None:
    """Issue 10: a 30 s ceiling left a gateway 47 s behind after a 60 s broker stop."""
    settings = MqttSettings()
    assert settings.reconnect_max_s <= 5.0
    for attempt in (5, 10, 100, 5_000):
        samples = [
            backoff_delay(attempt, settings.reconnect_min_s, settings.reconnect_max_s)
            for _ in range(500)
        ]
        assert max(samples) <= 5.0
        # Full jitter: gateways that lost the broker together do not come back together.
        assert max(samples) - min(samples) > 2.0, attempt


async def test_a_broker_back_after_an_outage_is_found_within_seconds(
    mosquitto: Mosquitto,
) -> None:
    """The production backoff (not the tests' fast one): 10 s down is long enough to reach
    the ceiling; the bus must be connected again within 6 s of the broker's return."""
    bus = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="reconnect-ceiling-test"))
    raw = bus.subscribe(f"{RAW}/+")
    publisher = MqttBus(fast_settings(mosquitto.url))
    lost = asyncio.Event()
    reconnected_at: list[float] = []

    async def watch() -> None:
        while bus.connected.is_set():  # noqa: ASYNC110 - an Event has no "wait until clear"
            await asyncio.sleep(0.01)
        lost.set()
        await bus.connected.wait()
        reconnected_at.append(time.monotonic())

    async with bus:
        await wait_connected(bus)
        watcher = asyncio.create_task(watch())
        await asyncio.to_thread(mosquitto.restart, 10.0)
        back = time.monotonic()
        assert lost.is_set(), "the bus did not notice the broker going"
        async with asyncio.timeout(15):
            await watcher
        reconnect_s = reconnected_at[0] - back
        print(f"reconnected {reconnect_s:.1f} s after the broker's return")
        assert reconnect_s < 6.0
        assert bus.stats.reconnects == 1
        async with publisher:  # and messages flow again on the persistent session
            await wait_connected(publisher)
            await publisher.publish(f"{RAW}/hue-aqi-01", payload(1))
            (message,) = await receive(raw, 1)
            assert message.payload == payload(1)


async def test_stalled_subscription_counts_drops_and_others_keep_flowing(
    mosquitto: Mosquitto,
) -> None:
    count = 50
    subscriber = MqttBus(fast_settings(mosquitto.url))
    stalled = subscriber.subscribe(f"{RAW}/hue-aqi-01", maxsize=5)  # never consumed
    live = subscriber.subscribe(f"{RAW}/+")
    publisher = MqttBus(fast_settings(mosquitto.url))

    async with subscriber, publisher:
        await wait_connected(subscriber, publisher)
        for seq in range(count):
            await publisher.publish(f"{RAW}/hue-aqi-01", payload(seq))
        received = await receive(live, count)
        await asyncio.sleep(0.3)  # a broker sending twice would show now

        assert [m.payload for m in received] == [payload(seq) for seq in range(count)]
        assert live.qsize() == 0
        assert stalled.qsize() == 5
        assert stalled.dropped == count - 5
        assert subscriber.stats.dropped_incoming == count - 5
        assert subscriber.stats.delivered == count + 5
        kept = [(await stalled.get()).payload for _ in range(5)]
        assert kept == [payload(seq) for seq in range(5)]
