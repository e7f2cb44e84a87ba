"""Scale-out on a real Mosquitto: two gateways partitioned by station, two collectors on the
shared subscription, one collector killed mid-stream.

The bus broker runs the shipped ACL with one account per gateway (gw-hue-1, gw-hue-2) and the
collectors' account; the stations publish to a broker of their own, as in the fault suite, so
the test knows every reading it sent and the broker acknowledged. Both collectors write one
InfluxDB (Debian's 1.6), each through its own forward queue. What must hold:

- each gateway reads only its stations, and every batch reaches exactly one collector (their
  counters add up to what was published; each took a share);
- a collector killed with SIGKILL while readings flow loses nothing: what it had taken and not
  receipted comes back from the gateways' outboxes (``--resend-after 5``) to the survivor;
- after that the survivor gets every new batch the first time — no resend is needed — because
  the collectors run with ``--clean-session`` (a persistent session would go on taking a share
  for the dead one: test_shared_subscription.py);
- the store holds every reading exactly once: one point per (station, param, time), the same
  set as was published.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.deploy.native import QUANTRAC, NativeService
from tests.servers import Influxd, Mosquitto, free_port

pytestmark = pytest.mark.timeout(240)

REPO = Path(__file__).resolve().parents[2]
STATIONS = [f"wl_{n:02d}" for n in range(8)]
PARTS = {"gw-hue-1": "wl_00,wl_01,wl_02,wl_03", "gw-hue-2": "wl_0[4-7]"}  # ids and a pattern
RESEND_AFTER_S = 5.0
Key = tuple[str, int]  # (station, device time in ms)

SITE_YAML = """\
name: "Scale-out"
province: "Thừa Thiên Huế"
timezone: Asia/Ho_Chi_Minh
gateway_id: gw-hue-1
profiles_dir: profiles
"""
PROFILE = """\
protocol: mqtt
model: "Water-level gauge, flat JSON over MQTT, device clock"
kind: hydro
description: "Water level in m; epoch milliseconds."
shape: flat
topic: "stations/{station}/level"
timestamp:
  path: ts
  format: epoch_ms
"""


def write_site(root: Path) -> Path:
    site = root / "site"
    (site / "profiles" / "mqtt").mkdir(parents=True)
    (site / "stations").mkdir()
    (site / "site.yaml").write_text(SITE_YAML, encoding="utf-8")
    (site / "profiles" / "mqtt" / "level_mqtt_json.yaml").write_text(PROFILE, encoding="utf-8")
    stations = "stations:\n" + "".join(
        f'  - {{id: {s}, name: "Gauge {s}", kind: hydro, district: "Phú Xuân", river: "Hương",'
        f" source: {{driver: mqtt, profile: level_mqtt_json}}}}\n"
        for s in STATIONS
    )
    (site / "stations" / "hydro.yaml").write_text(stations, encoding="utf-8")
    return site


class Stations:
    """The gauges: QoS 1 to the stations' broker; a reading counts once the broker PUBACKed it."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gauges")
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.sent: list[tuple[Key, mqtt.MQTTMessageInfo]] = []
        self._last = dict.fromkeys(STATIONS, 0)
        self._lock = threading.Lock()

    def publish_round(self) -> None:
        """One reading from every gauge, each with a device time of its own."""
        with self._lock:
            for index, station in enumerate(STATIONS):
                ts = max(time.time_ns() // 1_000_000, self._last[station] + 1)
                self._last[station] = ts
                body = {"ts": ts, "water_level": round(1.0 + (ts % 997) / 1000 + index / 100, 3)}
                info = self.client.publish(f"stations/{station}/level", json.dumps(body), qos=1)
                self.sent.append(((station, ts), info))

    def acked(self, timeout_s: float = 10.0) -> set[Key]:
        deadline = time.monotonic() + timeout_s
        while not all(info.is_published() for _, info in self.sent):
            assert time.monotonic() < deadline, "the stations' broker did not acknowledge"
            time.sleep(0.05)
        return {key for key, _ in self.sent}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stored(influxd: Influxd) -> list[Key]:
    """Every water-level point in the store, one entry per point (duplicates would show)."""
    result = influxd.query(
        'SELECT "value" FROM "reading" WHERE "param" = \'water_level\' GROUP BY "station"'
    )["results"][0]
    return [
        (series["tags"]["station"], int(row[0]))
        for series in result.get("series", [])
        for row in series["values"]
    ]


def health(service: NativeService) -> dict[str, Any]:
    port = next(iter(service.ports.values()))
    body: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
    return body


def wait_stored(influxd: Influxd, expected: set[Key], timeout_s: float, why: str) -> float:
    """Seconds until the store holds ``expected``; fails naming what is missing."""
    start = time.monotonic()
    while not expected <= set(stored(influxd)):
        if time.monotonic() - start > timeout_s:
            missing = expected - set(stored(influxd))
            raise AssertionError(f"{why}: {len(missing)} of {len(expected)} not stored")
        time.sleep(0.25)
    return time.monotonic() - start


@pytest.fixture
def services() -> Iterator[dict[str, NativeService]]:
    running: dict[str, NativeService] = {}
    yield running
    for service in running.values():
        if service.process is not None:
            service.process.kill()
            service.process.wait()


def launch(name: str, args: list[str], logs: Path) -> NativeService:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    return NativeService(
        name,
        [*QUANTRAC, *args, "--health", f"127.0.0.1:{port}"],
        env,
        ["true"],
        logs / f"{name}.log",
        {0: port},
    ).start()


def test_two_gateways_two_collectors_one_killed_every_reading_stored_once(
    tmp_path: Path, services: dict[str, NativeService]
) -> None:
    passwords = {"gw-hue-1": "gw1-pw", "gw-hue-2": "gw2-pw", "collector": "col-pw"}
    (tmp_path / "bus").mkdir()
    bus = Mosquitto.shipped(tmp_path / "bus", passwords)
    (tmp_path / "stations").mkdir()
    station_broker = Mosquitto(tmp_path / "stations")
    influxd = Influxd(tmp_path / "influxd")
    influxd.directory.mkdir()
    gauges: Stations | None = None
    bus.start()
    station_broker.start()
    influxd.start()
    try:
        site = write_site(tmp_path)
        logs = tmp_path / "logs"
        logs.mkdir()
        for n in (1, 2):
            services[f"collector-{n}"] = launch(
                f"collector-{n}",
                ["collector", str(site), "--broker", bus.url_for("collector"),
                 "--client-id", f"quantrac-collector-{n}", "--clean-session",
                 "--store", influxd.store_url, "--data-dir", str(tmp_path / f"collector-{n}")],
                logs,
            )  # fmt: skip
        for gateway_id, part in PARTS.items():
            services[gateway_id] = launch(
                gateway_id,
                ["gateway", str(site), "--broker", bus.url_for(gateway_id),
                 "--stations-broker", station_broker.url, "--gateway-id", gateway_id,
                 "--stations", part, "--resend-after", str(RESEND_AFTER_S),
                 "--data-dir", str(tmp_path / gateway_id)],
                logs,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        for service in services.values():
            while True:
                try:
                    body = health(service)
                    streams = body.get("streaming", {}).values()
                    if body["bus"]["connected"] and all(s.get("connected") for s in streams):
                        break
                except (httpx.HTTPError, KeyError):
                    pass
                assert service.process is not None
                assert service.process.poll() is None, service.tail()
                assert time.monotonic() < deadline, f"{service.name}:\n{service.tail()}"
                time.sleep(0.3)
        gauges = Stations(station_broker.port)

        # 1. Both running: every batch to exactly one collector, each gateway its own part.
        for _ in range(20):
            gauges.publish_round()
        first = gauges.acked()
        wait_stored(influxd, first, 30, "both collectors up")
        counts = {n: health(services[f"collector-{n}"])["readings"] for n in (1, 2)}
        assert sum(counts.values()) == len(first), counts  # none delivered to both
        assert min(counts.values()) > 0, f"one collector got nothing: {counts}"
        for gateway_id in PARTS:
            added = health(services[gateway_id])["outbox"]["added"]
            assert added == len(first) // 2, (gateway_id, added)  # 4 gauges × 20 each

        # 2. collector-2 killed while the gauges send: nothing lost.
        stop = threading.Event()

        def steady() -> None:
            while not stop.wait(0.2):
                gauges.publish_round()

        sender = threading.Thread(target=steady)
        sender.start()
        time.sleep(2.0)
        services["collector-2"].stop(signal.SIGKILL)
        time.sleep(3.0)
        stop.set()
        sender.join()
        second = gauges.acked()
        caught_up = wait_stored(influxd, second, 4 * RESEND_AFTER_S + 10, "after the kill")

        # 3. The survivor takes every new batch at once: no resend needed any more.
        resent = {g: health(services[g])["outbox"]["resent"] for g in PARTS}
        before = health(services["collector-1"])["readings"]
        for _ in range(10):
            gauges.publish_round()
        third = gauges.acked()
        took = wait_stored(influxd, third, RESEND_AFTER_S - 1, "after the failover")
        assert {g: health(services[g])["outbox"]["resent"] for g in PARTS} == resent
        assert health(services["collector-1"])["readings"] - before == len(third - second)

        points = stored(influxd)
        assert len(points) == len(set(points)), "a reading stored twice"
        assert set(points) == third, "stored and published differ"
        for gateway_id in PARTS:
            outbox = health(services[gateway_id])["outbox"]
            assert outbox["backlog_batches"] == 0, (gateway_id, outbox)
        print(f"scale-out: {len(third)} readings, caught up {caught_up:.1f} s after the kill, "
              f"then stored in {took:.1f} s; resent {resent}")  # fmt: skip
        for name, service in services.items():
            if service.process is not None:
                assert service.stop() == 0, f"{name}:\n{service.tail()}"
    finally:
        if gauges is not None:
            gauges.close()
        bus.stop()
        station_broker.stop()
        influxd.stop()
