"""The shipped broker configuration (deploy/mosquitto) on a real Mosquitto: who may publish and
read what (issue 13). Mosquitto drops an unauthorized publish silently under MQTT 3.1.1, so a
refusal is shown by a subscriber with the right to read seeing nothing, while the same topic
from the account entitled to it arrives."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from gateway.bus import Subscription
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import Reading, ReadingBatch
from gateway.outbox import Outbox
from gateway.wire import (
    Receipt,
    clean_topic,
    deadletter_topic,
    encode_batch,
    encode_receipt,
    incidents_topic,
    raw_topic,
    receipts_topic,
)
from tests.helpers import eventually, running
from tests.servers import Mosquitto

ACCOUNTS = {
    "kim_long": "trạm kim long 1",  # a station: its account is its id
    "gw-hue-1": "cổng 1@/?%",  # no ":": mosquitto_passwd -U splits there
    "gw-hue-2": "cổng 2",
    "collector": "thu-thập",
    "alerting": "cảnh báo",
    "reader": "đọc",
}
T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
SPOOFED = encode_batch(
    ReadingBatch("gw-hue-1", 1, "kim_long", (Reading("kim_long", "water_level", 4.2, "m", T0),))
)
FORGED_RECEIPT = encode_receipt(Receipt("gw-hue-1", "any", ((0, 2**62),), "intruder"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto.shipped(tmp_path, ACCOUNTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bus(broker: Mosquitto, user: str, **overrides: object) -> MqttBus:
    return MqttBus(
        MqttSettings.from_url(broker.url_for(user), client_id=f"acl-{user}", **overrides)
    )


@asynccontextmanager
async def connected(*buses: MqttBus) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for each in buses:
            await stack.enter_async_context(each)
        for each in buses:
            await asyncio.wait_for(each.connected.wait(), 10)
        yield


async def sent(publisher: MqttBus, topic: str, payload: bytes) -> None:
    """Published and handed over to the broker (its PUBACK came: it has decided)."""
    await publisher.publish(topic, payload)
    await eventually(lambda: publisher.backlog == 0, 10, f"{topic} handed to the broker")
    await asyncio.sleep(0.3)


async def arrived(subscription: Subscription, topic: str, payload: bytes) -> None:
    """The next message is the entitled one: nothing forbidden came before it."""
    message = await asyncio.wait_for(subscription.get(), 10)
    assert (message.topic, message.payload) == (topic, payload)
    await asyncio.sleep(0.3)
    assert subscription.qsize() == 0


async def test_a_station_account_cannot_forge_the_pipeline(broker: Mosquitto) -> None:
    station = bus(broker, "kim_long")
    gateway = bus(broker, "gw-hue-1")
    collector = bus(broker, "collector")
    alerting = bus(broker, "alerting")
    reader = bus(broker, "reader")
    receipts = gateway.subscribe(receipts_topic("gw-hue-1"))
    uplink = gateway.subscribe("stations/#")
    raw = collector.subscribe("quantrac/v1/raw/+", group="collectors")
    clean = reader.subscribe("quantrac/v1/clean/+")
    incidents = reader.subscribe("quantrac/v1/incidents/+")
    async with connected(station, gateway, collector, alerting, reader):
        # The forged receipt and the spoofed 4.2 m batch of issue 13, a clean batch and an
        # incident, all from the station's account, and a station speaking for another.
        await sent(station, receipts_topic("gw-hue-1"), FORGED_RECEIPT)
        await sent(station, raw_topic("kim_long"), SPOOFED)
        await sent(station, clean_topic("kim_long"), SPOOFED)
        await sent(station, incidents_topic("kim_long"), b'{"forged": true}')
        await sent(station, "stations/phu_oc/data", b'{"water_level": 9.9}')
        # Each topic from the account entitled to it arrives, and is the first that does.
        await sent(station, "stations/kim_long/data", b'{"water_level": 1.2}')
        await arrived(uplink, "stations/kim_long/data", b'{"water_level": 1.2}')
        receipt = encode_receipt(Receipt("gw-hue-1", "e", ((1, 1),), "collector"))
        await sent(collector, receipts_topic("gw-hue-1"), receipt)
        await arrived(receipts, receipts_topic("gw-hue-1"), receipt)
        await sent(gateway, raw_topic("kim_long"), b"real")
        await arrived(raw, raw_topic("kim_long"), b"real")
        await sent(collector, clean_topic("kim_long"), b"clean")
        await arrived(clean, clean_topic("kim_long"), b"clean")
        await sent(alerting, incidents_topic("kim_long"), b"incident")
        await arrived(incidents, incidents_topic("kim_long"), b"incident")


async def test_each_service_publishes_only_its_own_topics(broker: Mosquitto) -> None:
    gateway = bus(broker, "gw-hue-1")
    collector = bus(broker, "collector")
    alerting = bus(broker, "alerting")
    reader = bus(broker, "reader")
    watcher = bus(broker, "gw-hue-2")  # reads its own receipts only
    own_receipts = watcher.subscribe(receipts_topic("gw-hue-2"))
    raw = collector.subscribe("quantrac/v1/raw/+", group="collectors")
    clean = reader.subscribe("quantrac/v1/clean/+")
    incidents = reader.subscribe("quantrac/v1/incidents/+")
    dead = reader.subscribe("quantrac/v1/deadletter/+")
    async with connected(gateway, collector, alerting, reader, watcher):
        # A gateway: no receipts, no clean batches, no incidents.
        await sent(gateway, receipts_topic("gw-hue-2"), FORGED_RECEIPT)
        await sent(gateway, clean_topic("kim_long"), b"gateway-clean")
        await sent(gateway, incidents_topic("kim_long"), b"gateway-incident")
        # Alerting and readers: no raw or clean batches; a reader publishes nothing.
        await sent(alerting, raw_topic("kim_long"), b"alerting-raw")
        await sent(alerting, clean_topic("kim_long"), b"alerting-clean")
        await sent(reader, clean_topic("kim_long"), b"reader-clean")
        await sent(reader, incidents_topic("kim_long"), b"reader-incident")
        await sent(collector, incidents_topic("kim_long"), b"collector-incident")
        await sent(collector, raw_topic("kim_long"), b"collector-raw")
        await sent(collector, receipts_topic("gw-hue-2"), b"receipt")
        await arrived(own_receipts, receipts_topic("gw-hue-2"), b"receipt")
        await sent(gateway, raw_topic("kim_long"), b"raw")
        await arrived(raw, raw_topic("kim_long"), b"raw")
        await sent(collector, clean_topic("kim_long"), b"clean")
        await arrived(clean, clean_topic("kim_long"), b"clean")
        await sent(alerting, incidents_topic("kim_long"), b"incident")
        await arrived(incidents, incidents_topic("kim_long"), b"incident")
        # A gateway's dead letters go under its own id only.
        await sent(gateway, deadletter_topic("gw-hue-2"), b"not mine")
        await sent(gateway, deadletter_topic("gw-hue-1"), b"mine")
        await arrived(dead, deadletter_topic("gw-hue-1"), b"mine")


async def test_a_gateway_cannot_read_another_gateways_receipts(broker: Mosquitto) -> None:
    collector = bus(broker, "collector")
    owner = bus(broker, "gw-hue-1")
    receipts = owner.subscribe(receipts_topic("gw-hue-1"))
    async with (
        connected(collector, owner),
        aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            username="gw-hue-2",
            password=ACCOUNTS["gw-hue-2"],
            identifier="acl-snoop",
        ) as snoop,
    ):
        # Mosquitto 2 refuses the subscription (SUBACK 0x80); nothing arrives either way.
        await snoop.subscribe(receipts_topic("gw-hue-1"), qos=1)
        await snoop.subscribe("quantrac/v1/receipts/#", qos=1)
        receipt = encode_receipt(Receipt("gw-hue-1", "e", ((1, 3),), "collector"))
        await sent(collector, receipts_topic("gw-hue-1"), receipt)
        await arrived(receipts, receipts_topic("gw-hue-1"), receipt)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(snoop.messages), 1.0)


async def test_the_forged_receipt_leaves_the_outbox_alone(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """End to end: the gateway's outbox over the shipped ACL; a station account's forged
    receipt never reaches it, the collector's real one does."""
    gateway = bus(broker, "gw-hue-1")
    station = bus(broker, "kim_long")
    collector = bus(broker, "collector")
    raw = collector.subscribe("quantrac/v1/raw/+", group="collectors")
    outbox = Outbox(tmp_path / "outbox.sqlite3", "gw-hue-1", gateway)
    for _minute in range(3):
        reading = Reading("kim_long", "water_level", 1.0, "m", T0)
        outbox.add(ReadingBatch("gw-hue-1", outbox.next_seq(), "kim_long", (reading,)))
    async with connected(gateway, station, collector), running(outbox.run()):
        for _ in range(3):
            await asyncio.wait_for(raw.get(), 10)
        forged = Receipt("gw-hue-1", outbox.epoch, ((0, 2**62),), "intruder")
        await sent(station, receipts_topic("gw-hue-1"), encode_receipt(forged))
        await asyncio.sleep(0.5)
        assert outbox.backlog()[0] == 3
        assert outbox.stats.receipts == 0
        real = Receipt("gw-hue-1", outbox.epoch, ((1, 3),), "collector")
        await sent(collector, receipts_topic("gw-hue-1"), encode_receipt(real))
        await eventually(lambda: outbox.backlog()[0] == 0, 10, "receipted by the collector")
    outbox.close()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost/127.0.0.1 signed by it, with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed: run `apt-get install -y openssl`", pytrace=False)
    ca_key, ca, key, csr, cert = (
        directory / name for name in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=quantrac test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")  # fmt: skip
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(extensions))  # fmt: skip
    return ca, cert, key


async def test_the_services_speak_tls_to_the_broker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """mqtts:// with the site's CA file (QUANTRAC_MQTT_CA_FILE): the account's rights hold
    over TLS; a client that does not trust the CA never connects."""
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, cert, key = make_certificates(certs)
    broker = Mosquitto.shipped(tmp_path, ACCOUNTS, tls=(ca, cert, key))
    broker.start()
    try:
        gateway = MqttBus(MqttSettings.from_url(broker.url_for("gw-hue-1", tls=True), ca_file=ca))
        collector = MqttBus(
            MqttSettings.from_url(broker.url_for("collector", tls=True), ca_file=ca)
        )
        untrusting = MqttBus(  # the system's CAs only
            MqttSettings.from_url(
                broker.url_for("collector", tls=True), reconnect_min_s=0.2, reconnect_max_s=0.5
            )
        )
        raw = collector.subscribe("quantrac/v1/raw/+", group="collectors")
        async with connected(gateway, collector), untrusting:
            assert gateway.settings.tls
            assert gateway.settings.port == broker.tls_port
            await sent(gateway, raw_topic("kim_long"), SPOOFED)
            await arrived(raw, raw_topic("kim_long"), SPOOFED)
            await asyncio.sleep(1.0)
            assert not untrusting.connected.is_set()
        failures = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert any("CERTIFICATE_VERIFY_FAILED" in text for text in failures), failures
        context = gateway.settings.tls_context()
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED
    finally:
        broker.stop()
