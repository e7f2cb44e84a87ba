"""Hostile messages on a real Mosquitto: gateway, collector and alerting refuse, count, go on.

The three services run as processes (``quantrac gateway|collector|alerting --health``). A
corpus of hostile messages — the ones that once stopped a service (JSON nested 100,000 deep,
an integer of 400 digits, year 1 at +14:00, station ``KIM``, a receipt of seq 2**70 for the
gateway's own epoch), 8 MB payloads, binary garbage, other wire versions — goes on every topic
they read: raw, clean, the gateway's receipts, incidents, the stations' topics. Then good
messages, which must be stored and evaluated. Every process must still be alive, and the
dead-letter counters each serves on /health must match the corpus exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerting.service import decode_incident
from collector.store.sqlite import SqliteStore
from gateway.deadletter import KEEP_BYTES
from gateway.model import Reading, ReadingBatch
from gateway.wire import encode_batch, format_ts, raw_topic
from tests.gateway.test_wire_boundary import (
    HOSTILE_BATCHES,
    HOSTILE_RECEIPTS,
    NESTED,
    incident_payload,
    receipt,
)
from tests.quantrac.test_cli import start, stop
from tests.servers import Mosquitto, free_port

GATEWAY = "gw-hue-1"  # the corpus's receipts topic is this gateway's
DEVICE = "AQ-00123"
STATION_TOPIC = f"stations/{DEVICE}/data"

SITE = {
    "site.yaml": f"name: Hostile\ntimezone: Asia/Ho_Chi_Minh\ngateway_id: {GATEWAY}\n",
    "stations/air.yaml": f"""
stations:
  - id: hue_air_2
    name: "Huế — trạm không khí 2"
    kind: air
    district: "TP Huế"
    source:
      driver: mqtt
      profile: aqi_sensor_mqtt_json
      device_id: {DEVICE}
""",
    "rules.yaml": """
- id: pm25_high
  type: threshold
  stations: [hue_air_2]
  param: pm25
  levels:
    - {above: 100, label: "PM2.5 cao", severity: warning}
  kind: air
""",
}


def local_now() -> str:
    """The station's clock: Huế local time without an offset, as the profile says."""
    return (datetime.now(UTC) + timedelta(hours=7)).replace(tzinfo=None).isoformat()


# --- the corpus: (topic, payload, the reason the reader refuses it for) ----------------------

# Valid on a clean topic: a derived series, and a collector's name for a gateway.
RAW_ONLY = {"param-derived-on-raw", "gateway-not-an-id"}


def raw_corpus() -> list[tuple[str, bytes, str]]:
    """What the collector reads (quantrac/v1/raw/+): the table's raw-topic cases."""
    return [
        (topic, payload, reason)
        for _, topic, payload, reason in HOSTILE_BATCHES
        if topic.startswith("quantrac/v1/raw/")
    ]


def clean_corpus() -> list[tuple[str, bytes, str]]:
    """What alerting reads (quantrac/v1/clean/+): the same payloads on clean topics."""
    return [
        (topic.replace("/raw/", "/clean/"), payload, reason)
        for name, topic, payload, reason in HOSTILE_BATCHES
        if topic.startswith(("quantrac/v1/raw/", "quantrac/v1/clean/")) and name not in RAW_ONLY
    ]


def receipts_corpus(epoch: str) -> list[tuple[str, bytes, str]]:
    """What the gateway's outbox reads (its receipts topic), with the receipt that once
    stopped it: seq 2**70 for its own epoch."""
    mine = [(t, p, r) for _, t, p, r in HOSTILE_RECEIPTS if t.endswith(f"/{GATEWAY}")]
    return [*mine, (mine[0][0], receipt(epoch=epoch, seqs=[[1, 2**70]]), "bad_seq")]


def station_corpus() -> list[tuple[str, bytes, str]]:
    """What the gateway's MQTT input reads, with its problem codes."""
    now = local_now()

    def message(**fields: Any) -> bytes:
        return json.dumps({"ts": now, **fields}).encode()

    return [
        (STATION_TOPIC, b"{" * 8_000_000, "too_large"),
        (STATION_TOPIC, bytes(range(256)) * 4, "not_utf8"),
        (STATION_TOPIC, b"[" * 30_000 + b"]" * 30_000, "too_deep"),
        (STATION_TOPIC, message(pm25=1e308), "bad_value"),
        (STATION_TOPIC, message(pm25=0).replace(b"0}", b"1" + b"0" * 400 + b"}"), "bad_value"),
        (STATION_TOPIC, message(pm25=0).replace(b"0}", b"9" * 5_000 + b"}"), "not_json"),
        (STATION_TOPIC, message(pm25=1, ts="0001-01-01T00:00:00+14:00"), "bad_timestamp"),
        (STATION_TOPIC, message(pm25=1, ts="9999-12-31T23:59:59-14:00"), "bad_timestamp"),
        ("stations/AQ-99999/data", message(pm25=1), "unknown_station"),
    ]


def incidents_corpus() -> list[tuple[str, bytes]]:
    """Nobody of ours reads incidents; a client may still send anything there."""
    topic = "quantrac/v1/incidents/kim_long"
    return [(topic, b"x" * 8_000_000), (topic, NESTED), (topic, incident_payload(level=2**70))]


# --- a client of the broker ------------------------------------------------------------------


class Client:
    """A plain MQTT client (paho), as any client of the broker: publishes and listens."""

    def __init__(self, port: int, *topics: str) -> None:
        self.received: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        subscribed = threading.Semaphore(0)
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
        self.mqtt.on_message = self._on_message
        self.mqtt.on_subscribe = lambda *_: subscribed.release()
        self.mqtt.connect("127.0.0.1", port)
        self.mqtt.loop_start()
        for topic in topics:
            self.mqtt.subscribe(topic, qos=1)
            assert subscribed.acquire(timeout=10), f"not subscribed to {topic}"

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(message)

    def messages(self, prefix: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.received if m.topic.startswith(prefix)]

    def publish(self, topic: str, payload: bytes) -> None:
        self.mqtt.publish(topic, payload, qos=1).wait_for_publish(30)

    def close(self) -> None:
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


def until(
    check: Callable[[], Any], what: str, logs: dict[str, Path], timeout_s: float = 60.0
) -> Any:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, AssertionError, KeyError, ValueError) as exc:
            last = exc
        time.sleep(0.3)
    tails = "\n".join(f"--- {name}\n{path.read_text()[-2500:]}" for name, path in logs.items())
    raise AssertionError(f"not within {timeout_s} s: {what}; last {last!r}\n{tails}")


def test_hostile_messages_on_every_topic_are_refused_counted_and_survived(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    site = tmp_path / "site"
    for name, text in SITE.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    ports = {name: free_port() for name in ("gateway", "collector", "alerting")}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    for name, port in ports.items():
        processes.append(
            start(
                name, str(site), "--broker", mosquitto.url, "--data-dir", str(data / name),
                "--health", f"127.0.0.1:{port}", log=logs[name],
            )
        )  # fmt: skip

    def health(name: str) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{ports[name]}/health", timeout=5)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    for name in ports:
        until(lambda n=name: health(n)["bus"]["connected"], f"{name} connected", logs)  # type: ignore[misc]
    until(lambda: health("gateway")["streaming"]["MqttInput"]["connected"], "stations", logs)
    epoch = health("gateway")["outbox"]["epoch"]

    client = Client(mosquitto.port, f"quantrac/v1/deadletter/{GATEWAY}", "quantrac/v1/incidents/+")
    try:
        raw, clean = raw_corpus(), clean_corpus()
        receipts, stations = receipts_corpus(epoch), station_corpus()
        for topic, payload, _ in [*raw, *clean, *receipts, *stations]:
            client.publish(topic, payload)
        for topic, payload in incidents_corpus():
            client.publish(topic, payload)
        # A valid receipt of another epoch is no refusal: it covers nothing of this outbox.
        client.publish(receipts[0][0], receipt(epoch="000000000000", seqs=[[1, 5]]))

        expected = {
            "collector": Counter(r for *_, r in raw),
            "alerting": Counter(r for *_, r in clean),
            "receipts": Counter(r for *_, r in receipts),
            "stations": Counter(r for *_, r in stations),
        }

        def counted() -> dict[str, Counter[str]]:
            gateway = health("gateway")
            return {
                "collector": Counter(health("collector")["dead_letters"]),
                "alerting": Counter(health("alerting")["dead_letters"]),
                "receipts": Counter(gateway["outbox"]["receipts_refused"]["dead_letters"]),
                "stations": Counter(gateway["streaming"]["MqttInput"]["rejected"]),
            }

        until(lambda: counted() == expected, "every hostile message counted", logs, 120)

        # Then good messages: a station's, through the gateway, and a raw batch of another
        # gateway straight to the collector.
        client.publish(STATION_TOPIC, json.dumps({"ts": local_now(), "pm25": 150.0}).encode())
        ts = datetime.now(UTC).replace(microsecond=0)
        good = ReadingBatch(
            "gw-other", 1, "kim_long", (Reading("kim_long", "water_level", 1.25, "m", ts),)
        )
        client.publish(raw_topic("kim_long"), encode_batch(good))

        store = SqliteStore(data / "collector" / "quantrac.sqlite3")
        try:

            def both_stored() -> dict[str, Reading] | None:
                latest = [*store.latest("hue_air_2"), *store.latest("kim_long")]
                found = {r.station: r for r in latest if r.param in ("pm25", "water_level")}
                return found if len(found) == 2 else None

            stored = until(both_stored, "the good readings stored", logs)
            assert stored["hue_air_2"].value == 150.0
            assert stored["kim_long"].ts == ts
        finally:
            store.close()
        # Evaluated: the rule fires, and its incident is what alerting publishes.
        incident = until(
            lambda: [decode_incident(bytes(m.payload), topic=m.topic)
                     for m in client.messages("quantrac/v1/incidents/hue_air_2")],
            "the pm25 incident", logs,
        )[0]  # fmt: skip
        assert (incident.rule, incident.level, incident.facts.get("value")) == (
            "pm25_high",
            1,
            150.0,
        )
        until(lambda: health("gateway")["outbox"]["backlog_batches"] == 0, "receipted", logs)
        until(lambda: health("alerting")["batches"] >= 2, "alerting evaluated both", logs)

        # The counters did not move, nothing reached the last resort, nothing went round whole.
        assert counted() == expected
        gateway, collector, alerting = health("gateway"), health("collector"), health("alerting")
        assert collector["internal_errors"] == 0
        assert alerting["internal_errors"] == 0
        assert gateway["outbox"]["receipts_refused"]["internal_errors"] == 0
        assert "internal" not in gateway["streaming"]["MqttInput"]["rejected"]
        # Refused receipts count as foreign, and so does the other epoch's valid one.
        assert gateway["outbox"]["foreign_receipts"] == len(receipts) + 1
        assert collector["malformed"] == len(raw)
        assert collector["last_dead_letter"]["size"] > 0
        dead = client.messages(f"quantrac/v1/deadletter/{GATEWAY}")
        assert len(dead) == len(stations)
        assert max(len(m.payload) for m in dead) < KEEP_BYTES + 2_000
        first = json.loads(dead[0].payload)
        assert (first["size"], first["truncated"]) == (8_000_000, True)
    finally:
        client.close()
    for name, process in zip(ports, processes, strict=True):
        assert process.poll() is None, f"{name} died:\n{logs[name].read_text()[-3000:]}"
    for process in reversed(processes):
        assert stop(process, signal.SIGTERM) == 0, process.args
    refused = logs["collector"].read_text()
    assert "refused a message on quantrac/v1/raw/KIM (bad_station" in refused
    assert format_ts(ts) not in refused  # the good batch was never refused
