"""Back-pressure for MQTT stations: a message is acknowledged to the broker only once its
readings are in the outbox, so a burst or a restart's backlog waits in the broker, not in a
queue that drops (issue 10: 37,001 of 50,000 lost).

The pure parts (the order of acknowledgements, the lossless subscription) are tested by tables;
the rest against a real Mosquitto, with ``mosquitto_pub`` as the station and a real
:class:`GatewayService` writing an on-disk outbox.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from gateway.bus import BusMessage, Subscription
from gateway.bus.memory import InProcessBus
from gateway.bus.mqtt import InOrderAcks, MqttBus, MqttSettings
from gateway.model import Reading
from gateway.mqtt_input.driver import MqttInput, mqtt_input_for
from gateway.streaming import Rejected
from quantrac.runners import GatewayService
from quantrac.site import Site, load_site
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running
from tests.servers import Mosquitto, require_binary

pytestmark = pytest.mark.timeout(120)

STATION = "hue_air_2"
TOPIC = f"stations/{STATION}/data"
BURST = 50_000
BACKLOG = 20_000

# --- the order of acknowledgements (pure) ----------------------------------------------------

# Each step: ("recv", mid, copies) or ("ack", mid, copy index); expected: the mids sent, in order.
ACK_ORDER_CASES = [
    pytest.param([("recv", 1, 1), ("ack", 1, 0)], [1], id="one"),
    pytest.param(
        [("recv", 1, 1), ("recv", 2, 1), ("ack", 2, 0)],
        [],
        id="a later one waits for the earlier",
    ),
    pytest.param(
        [
            ("recv", 1, 1),
            ("recv", 2, 1),
            ("recv", 3, 1),
            ("ack", 3, 0),
            ("ack", 2, 0),
            ("ack", 1, 0),
        ],
        [1, 2, 3],
        id="out of order in, in order out",
    ),
    pytest.param(
        [("recv", 1, 2), ("ack", 1, 0)],
        [],
        id="two copies: one ack is not enough",
    ),
    pytest.param(
        [("recv", 1, 2), ("ack", 1, 0), ("ack", 1, 0), ("ack", 1, 1)],
        [1],
        id="a copy acked twice counts once",
    ),
    pytest.param([("recv", 1, 0)], [1], id="no subscription wanted it: acked in its turn"),
    pytest.param(
        [("recv", 1, 1), ("recv", 2, 0), ("ack", 1, 0)],
        [1, 2],
        id="an unwanted one after a pending one waits",
    ),
    pytest.param(
        [("recv", 7, 1), ("ack", 7, 0), ("recv", 7, 1), ("ack", 7, 0)],
        [7, 7],
        id="packet ids are reused by the broker",
    ),
]


@pytest.mark.parametrize(("steps", "expected"), ACK_ORDER_CASES)
def test_acknowledgements_go_out_in_arrival_order(
    steps: list[tuple[str, int, int]], expected: list[int]
) -> None:
    sent: list[int] = []
    acks = InOrderAcks(lambda mid, qos: sent.append(mid))
    copies: dict[int, list[Callable[[], None]]] = {}
    for kind, mid, n in steps:
        if kind == "recv":
            copies[mid] = acks.receive(mid, 1, n)  # the latest message with this packet id
        else:
            copies[mid][n]()
    assert sent == expected
    assert acks.inflight == sum(1 for kind, *_ in steps if kind == "recv") - len(expected)


def test_qos0_needs_no_acknowledgement_and_blocks_nothing() -> None:
    sent: list[int] = []
    acks = InOrderAcks(lambda mid, qos: sent.append(mid))
    (first,) = acks.receive(1, 1, 1)
    (qos0,) = acks.receive(0, 0, 1)
    (third,) = acks.receive(3, 1, 1)
    qos0()
    third()
    assert sent == []
    first()
    assert sent == [1, 3]
    assert acks.inflight == 0


def test_after_close_nothing_is_acknowledged() -> None:
    """The broker reuses packet ids on the next connection: an old ack must not go there."""
    sent: list[int] = []
    acks = InOrderAcks(lambda mid, qos: sent.append(mid))
    (first,) = acks.receive(1, 1, 1)
    (second,) = acks.receive(2, 1, 1)
    second()
    assert acks.close() == 2
    first()
    assert sent == []
    assert acks.inflight == 0


async def test_a_lossless_subscription_waits_instead_of_dropping() -> None:
    subscription = Subscription("stations/+/data", maxsize=2, lossless=True)
    for n in range(2):
        await subscription.put(BusMessage(TOPIC, b"%d" % n))
    third = asyncio.create_task(subscription.put(BusMessage(TOPIC, b"2")))
    await asyncio.sleep(0.05)
    assert not third.done(), "a full lossless subscription must wait, not drop"
    assert (subscription.qsize(), subscription.dropped, subscription.waits) == (2, 0, 1)
    assert (await subscription.get()).payload == b"0"
    await asyncio.wait_for(third, 1)
    assert [(await subscription.get()).payload for _ in range(2)] == [b"1", b"2"]
    assert subscription.dropped == 0


# --- the bus: manual acknowledgement on a real broker ---------------------------------------


def manual(url: str, client_id: str, **overrides: object) -> MqttSettings:
    values: dict[str, object] = {
        "client_id": client_id,
        "manual_ack": True,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 0.5,
    }
    values.update(overrides)
    return MqttSettings.from_url(url, **values)


async def test_unacknowledged_messages_are_held_back_then_redelivered(
    mosquitto: Mosquitto,
) -> None:
    """Nothing acknowledged: the bus stops reading at max_unacked (below the broker's own
    window of 100); a new connection gets the un-acknowledged ones again (DUP, counted), in
    order, and acknowledging them lets the rest come."""
    count, limit, acked = 1_000, 40, 10
    settings = manual(mosquitto.url, "backpressure-held", max_unacked=limit)
    subscriber = MqttBus(settings)
    subscription = subscriber.subscribe("stations/+/data")
    async with subscriber:
        await eventually(subscriber.connected.is_set, 10, "subscriber connected")
        await mosquitto_pub_lines(mosquitto, TOPIC, [b"%d" % n for n in range(count)])
        await eventually(lambda: subscriber.stats.read_pauses >= 1, 10, "reading paused")
        await asyncio.sleep(0.5)  # a bus still reading would take more now
        held = subscriber.inflight
        assert limit <= held < limit + 10, f"{held} received and not acknowledged"
        assert subscription.dropped == 0
        assert subscriber.stats.acked == 0
        for _ in range(acked):  # still above half the limit: reading stays paused
            (await subscription.get()).ack()
        await eventually(lambda: subscriber.stats.acked == acked, 5, "acks sent")
        assert subscriber.inflight == held - acked
        await asyncio.sleep(0.3)  # counted when handed to paho: let them reach the broker
    assert subscriber.stats.unacked_at_disconnect == held - acked

    again = MqttBus(settings)
    subscription = again.subscribe("stations/+/data")
    payloads: list[int] = []

    async def consume() -> None:
        async for message in subscription:
            payloads.append(int(message.payload))
            message.ack()

    async with again, running(consume()):
        await eventually(lambda: len(payloads) >= count - acked, 20, "the rest delivered")
        await asyncio.sleep(0.3)
    assert payloads == list(range(acked, count)), "in order, nothing lost, nothing twice"
    assert again.stats.redelivered >= held - acked
    assert again.stats.acked == count - acked
    assert again.stats.dropped_incoming == 0


async def test_a_message_on_two_subscriptions_is_acknowledged_when_both_did(
    mosquitto: Mosquitto,
) -> None:
    bus = MqttBus(manual(mosquitto.url, "backpressure-copies"))
    data = bus.subscribe("stations/+/data")
    everything = bus.subscribe("stations/#")
    async with bus:
        await eventually(bus.connected.is_set, 10, "connected")
        await mosquitto_pub_lines(mosquitto, TOPIC, [b"1"])
        one = await asyncio.wait_for(data.get(), 5)
        two = await asyncio.wait_for(everything.get(), 5)
        assert one == two
        one.ack()
        await asyncio.sleep(0.2)
        assert (bus.stats.acked, bus.inflight) == (0, 1)
        two.ack()
        await eventually(lambda: bus.stats.acked == 1, 5, "acked once both copies were")
        assert bus.inflight == 0


# --- the MQTT input through a real gateway and its on-disk outbox ---------------------------


def mqtt_site(tmp_path: Path) -> Site:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    station = {
        "id": STATION,
        "name": "Huế air 2",
        "kind": "air",
        "district": "Huế",
        "source": {"driver": "mqtt", "profile": "aqi_sensor_mqtt_json"},
    }
    (site / "stations" / "mqtt.yaml").write_text(
        yaml.safe_dump({"stations": [station]}, allow_unicode=True), encoding="utf-8"
    )
    return load_site(site)


def station_payloads(count: int, start: int = 0) -> list[bytes]:
    """One message per second of device time, in the last day: (station, param, ts) unique."""
    base = int(time.time()) - 80_000
    return [
        json.dumps({"ts": base + n, "pm25": n % 500, "status": "00"}).encode()
        for n in range(start, start + count)
    ]


async def mosquitto_pub_lines(broker: Mosquitto, topic: str, lines: Sequence[bytes]) -> float:
    """The station: one ``mosquitto_pub -l`` publishing every line at full speed (QoS 1)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        require_binary("mosquitto_pub", "mosquitto-clients"),
        *("-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-l", "-t", topic),
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate(b"".join(line + b"\n" for line in lines))
    assert process.returncode == 0, stderr.decode()
    return time.monotonic() - started


def outbox_times(path: Path) -> list[str]:
    """The device times of the readings in the outbox file, in batch-number order (duplicates
    kept)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    times: list[str] = []
    for (payload,) in rows:
        batch = json.loads(payload)
        assert batch["station"] == STATION
        times.extend(reading["ts"] for reading in batch["readings"])
    return times


class Gateway:
    """A gateway with only the MQTT input, on an on-disk outbox, as ``quantrac gateway`` runs."""

    def __init__(self, site: Site, broker: Mosquitto, outbox: Path, client_id: str) -> None:
        self.service = GatewayService(
            site, InProcessBus(), [site.stations[STATION]], outbox_path=outbox
        )
        settings = MqttSettings.from_url(broker.url, client_id=client_id)
        driver = mqtt_input_for(site, [site.stations[STATION]], settings)
        assert isinstance(driver, MqttInput)
        self.input = driver
        self.service.streaming.append(driver)

    @property
    def added(self) -> int:
        outbox = self.service.outbox
        assert outbox is not None
        return outbox.stats.added

    async def connected(self) -> None:
        await eventually(
            lambda: self.input.bus is not None and self.input.bus.connected.is_set(),
            10,
            "MQTT input connected",
        )


async def test_a_burst_from_one_station_is_all_in_the_outbox(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = mqtt_site(tmp_path)
    outbox = tmp_path / "outbox.sqlite3"
    gateway = Gateway(site, mosquitto, outbox, "quantrac-test-burst")
    payloads = station_payloads(BURST)
    async with running(gateway.service.run()):
        await gateway.connected()
        started = time.monotonic()
        publish_s = await mosquitto_pub_lines(mosquitto, TOPIC, payloads)
        await eventually(
            lambda: gateway.added >= BURST,
            60,
            f"{BURST} batches in the outbox (so far {gateway.added})",
        )
        elapsed = time.monotonic() - started
        health = gateway.input.health()
        await eventually(lambda: gateway.input.health()["inflight"] == 0, 5, "all acknowledged")
        health = gateway.input.health()
    bus = gateway.input.bus
    assert bus is not None
    print(
        f"\nburst: {BURST} messages published in {publish_s:.1f} s, all in the outbox after "
        f"{elapsed:.1f} s ({BURST / elapsed:,.0f} messages/s); read paused "
        f"{health['read_pauses']} time(s)"
    )
    times = outbox_times(outbox)
    assert len(set(times)) == BURST, "every message's reading is in the outbox"
    assert len(times) == BURST, f"{len(times) - BURST} duplicate(s) without any reconnect"
    assert times == sorted(times), "batch numbers follow the order the station sent in"
    assert health["acked"] == BURST
    assert health["redelivered"] == 0
    assert (health["queue_depth"], health["handling"], health["errors"]) == (0, 0, 0)
    assert health["rejected"] == {}
    assert bus.stats.dropped_incoming == 0
    assert all(s.dropped == 0 for s in gateway.input._subscriptions)


async def test_a_restart_gets_its_whole_persistent_session_backlog(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = mqtt_site(tmp_path)
    outbox = tmp_path / "outbox.sqlite3"
    client_id = "quantrac-test-restart-stations"
    first = Gateway(site, mosquitto, outbox, client_id)
    async with running(first.service.run()):
        await first.connected()  # the broker now keeps this session's subscriptions
    payloads = station_payloads(BACKLOG)
    await mosquitto_pub_lines(mosquitto, TOPIC, payloads)  # queued while the gateway is down

    again = Gateway(site, mosquitto, outbox, client_id)
    started = time.monotonic()
    async with running(again.service.run()):
        await eventually(
            lambda: again.added >= BACKLOG,
            60,
            f"{BACKLOG} batches of the backlog in the outbox (so far {again.added})",
        )
        elapsed = time.monotonic() - started
        await eventually(lambda: again.input.health()["inflight"] == 0, 5, "all acknowledged")
        health = again.input.health()
    print(f"\nrestart: a backlog of {BACKLOG} in the outbox {elapsed:.1f} s after the start")
    times = outbox_times(outbox)
    assert len(set(times)) == BACKLOG
    assert len(times) == BACKLOG
    assert health["acked"] == BACKLOG


class StuckSink:
    """The gateway's sink stand-in: keeps readings, and can be made to hang (a slow disk)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []  # (station, first value) in call order
        self.open = asyncio.Event()
        self.open.set()

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.calls.append((station, readings[0].value))
        await self.open.wait()

    async def dead_letter(self, rejected: Rejected) -> None:
        raise AssertionError(f"nothing here is bad: {rejected}")


async def test_what_was_not_safe_when_the_input_stopped_comes_again(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """The sink hangs (its readings are not durable): nothing is acknowledged, so the next
    connection gets those messages again — counted as redelivered, none lost."""
    count = 300
    site = mqtt_site(tmp_path)
    settings = MqttSettings.from_url(mosquitto.url, client_id="quantrac-test-stuck")
    stuck = StuckSink()
    stuck.open.clear()
    first = mqtt_input_for(site, [site.stations[STATION]], settings)
    assert first is not None
    async with running(first.run(stuck.sink, stuck.dead_letter)):
        await eventually(lambda: first.bus is not None and first.bus.connected.is_set(), 10)
        await mosquitto_pub_lines(mosquitto, TOPIC, station_payloads(count))
        # As many as the broker sends un-acknowledged (its window: 100 in tests/servers.py).
        await eventually(lambda: len(stuck.calls) >= 50, 10, "handling")
        await asyncio.sleep(0.3)
        health = first.health()
        assert health["acked"] == 0
        assert health["handling"] == len(stuck.calls) <= first.window
        assert health["inflight"] >= health["handling"]
    seen_before = len(stuck.calls)

    stuck.calls.clear()
    stuck.open.set()
    again = mqtt_input_for(site, [site.stations[STATION]], settings)
    assert again is not None
    async with running(again.run(stuck.sink, stuck.dead_letter)):
        await eventually(lambda: again.health()["acked"] == count, 15, "all acknowledged")
        health = again.health()
    values = [value for _, value in stuck.calls]
    assert values == [float(n % 500) for n in range(count)], "in order, all of them, once"
    assert health["redelivered"] >= seen_before
    assert (health["inflight"], health["handling"], health["errors"]) == (0, 0, 0)


async def test_messages_are_handled_together_and_reach_the_sink_in_order(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """A sink whose calls end out of order (a group commit, a slow disk): they still start in
    the order the messages came, several run at once, and every message is acknowledged."""
    count = 2_000
    site = mqtt_site(tmp_path)
    settings = MqttSettings.from_url(mosquitto.url, client_id="quantrac-test-order")
    driver = mqtt_input_for(site, [site.stations[STATION]], settings)
    assert driver is not None
    started: list[float] = []
    most_at_once = 0

    async def sink(station: str, readings: Sequence[Reading]) -> None:
        nonlocal most_at_once
        started.append(readings[0].value)  # before any await, as GatewayService numbers them
        most_at_once = max(most_at_once, driver.handling)
        await asyncio.sleep((len(started) * 7919 % 13) / 1000)  # 0-12 ms, scrambled

    async def dead_letter(rejected: Rejected) -> None:
        raise AssertionError(f"nothing here is bad: {rejected}")

    async with running(driver.run(sink, dead_letter)):
        await eventually(lambda: driver.bus is not None and driver.bus.connected.is_set(), 10)
        await mosquitto_pub_lines(mosquitto, TOPIC, station_payloads(count))
        await eventually(lambda: driver.health()["acked"] == count, 30, "all acknowledged")
        health = driver.health()
    assert started == [float(n % 500) for n in range(count)]
    assert most_at_once > 10, "messages were handled one at a time"
    assert most_at_once <= driver.window
    assert (health["inflight"], health["handling"], health["redelivered"]) == (0, 0, 0)
