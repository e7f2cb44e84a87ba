"""The fault suite's rig: real servers, the services as users run them, and the bench's stations.

Everything here is I/O. One :class:`Rig` per row, in its own directory: two Mosquittos (the
stations' broker, where the bench publishes as MQTT stations, and the bus, so that stopping the
bus leaves the stations publishing), the store (the collector's SQLite, or a real InfluxDB or
VictoriaMetrics), and ``quantrac gateway``, ``quantrac collector`` and, for the database
outages, ``quantrac alerting`` as subprocesses. Every process and mount is undone by
:meth:`Rig.close`, which the ``with`` statement calls on any exit, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench.faults.accounting import PARAM, RAIN, Key
from bench.faults.stores import (
    DiskFull,
    FileSizeLimit,
    InfluxReader,
    SqliteReader,
    StoreReader,
    VictoriaReader,
    _seconds,
    small_disk,
)
from tests.alerting.receivers import HttpReceiver, Reply
from tests.servers import Influxd, Mosquitto, VictoriaMetrics, free_port

SITE = Path(__file__).resolve().parent / "site"
RAIN_GAUGES = ("rn_00", "rn_01")
STEADY = (*(f"wl_{n:02d}" for n in range(8)), *RAIN_GAUGES)  # ten: one message a second each
BURST = "wl_burst"
FLOOD = "wl_flood"  # one reading above BĐ II, during a database outage
CHECK = "wl_check"  # one reading above BĐ I, before the fault
WEBHOOK_PATH = "/faults"
WEBHOOK_SECRET_ENV = "FAULTS_WEBHOOK_SECRET"


def quantrac_command() -> list[str]:
    """``.venv/bin/quantrac`` next to this interpreter, as a user runs it."""
    script = Path(sys.executable).with_name("quantrac")
    return [str(script)] if script.exists() else [sys.executable, "-m", "quantrac"]


@functools.cache
def serves_health() -> bool:
    """Whether ``quantrac gateway`` takes ``--health`` (issue 10): the bench also runs against
    older trees (PYTHONPATH), to show that it sees what they lose."""
    result = subprocess.run(
        [*quantrac_command(), "gateway", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    return "--health" in result.stdout


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Service:
    """One ``quantrac`` service as a subprocess, its output drained into a log file.

    Its own session: a Ctrl-C in the terminal reaches the bench only, which then stops the
    services in order. Output goes through a pipe so that a file-size limit set on the process
    (the disk-full fallback) bites on its data files, not on its log.
    """

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.health_port = free_port()
        health = ["--health", f"127.0.0.1:{self.health_port}"] if serves_health() else []
        self.args = [*args, *health]
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.unexpected: list[str] = []  # exits nobody asked for
        self._drain: threading.Thread | None = None
        self._started = 0

    def start(self) -> None:
        self._started += 1
        self.process = subprocess.Popen(
            [*quantrac_command(), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        self._drain = threading.Thread(
            target=self._copy, args=(self.process, self._started), daemon=True
        )
        self._drain.start()

    def _copy(self, process: subprocess.Popen[bytes], run: int) -> None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        with self.log.open("ab") as out:
            out.write(f"--- {self.name} start {run} ---\n".encode())
            while chunk := os.read(fd, 65536):
                out.write(chunk)
                out.flush()
        process.stdout.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check(self) -> None:
        """Record an exit nobody asked for (once per run)."""
        process = self.process
        if process is not None and process.poll() is not None:
            self.unexpected.append(f"{self.name} exited with code {process.returncode}")
            self.process = None

    def kill(self) -> None:
        self.check()
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None
        self._join()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, as systemd stops it; SIGKILL when it does not stop in time (noted)."""
        self.check()
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.unexpected.append(f"{self.name} did not stop on SIGTERM in {timeout_s:.0f} s")
            else:
                if code not in (0, -signal.SIGTERM):
                    self.unexpected.append(f"{self.name} stopped with code {code}")
        self._join()

    def _join(self) -> None:
        if self._drain is not None:
            self._drain.join(timeout=5)
            self._drain = None

    def health(self) -> dict[str, Any] | None:
        """Its ``/health`` JSON (a 503 answers JSON too); None when it does not answer."""
        url = f"http://127.0.0.1:{self.health_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        except OSError:
            return None
        try:
            answer = json.loads(body)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def param_of(station: str) -> str:
    return RAIN if station in RAIN_GAUGES else PARAM


def message(station: str, ts_ms: int, value: float) -> tuple[str, bytes]:
    """(topic, payload) of a station of the site: profiles/mqtt/ of bench/faults/site."""
    if station in RAIN_GAUGES:
        return f"stations/{station}/rain", json.dumps({"ts": ts_ms, "rain": value}).encode()
    return "hydro/uplink", payload(station, ts_ms, value)


def payload(station: str, ts_ms: int, level_cm: float) -> bytes:
    """A message of the water-level profile (nested JSON, level in cm)."""
    return json.dumps(
        {
            "device": {"id": station},
            "time": ts_ms,
            "data": {"sensors": {"level": {"value": level_cm, "unit": "cm"}}},
            "state": "ok",
        }
    ).encode()


class Stations:
    """The MQTT stations the bench plays: QoS 1 to the stations' broker.

    Expected is what the broker PUBACKed: a message counts once paho reports it published
    (``MQTTMessageInfo.is_published``, set on its PUBACK), so the broker owns it from then on.
    """

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="faults-stations", clean_session=True
        )
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)  # unbounded: the bench keeps every message
        self._lock = threading.Lock()
        self._pending: list[tuple[Key, mqtt.MQTTMessageInfo, bool]] = []
        self.acked: set[Key] = set()  # accounted: these make "expected"
        self.warm_up: set[Key] = set()  # acknowledged too, but sent before the accounting began
        self._last_ts: dict[str, int] = {}
        self._steady: threading.Thread | None = None
        self._steady_stop = threading.Event()
        self.steady_sent = 0
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def close(self) -> None:
        self.stop_steady()
        self.client.loop_stop()
        self.client.disconnect()

    def next_ts(self, station: str, at_ms: int | None = None) -> int:
        """Device time: now (or ``at_ms``), strictly after the station's last message."""
        with self._lock:
            ts = max(at_ms if at_ms is not None else now_ms(), self._last_ts.get(station, 0) + 1)
            self._last_ts[station] = ts
            return ts

    def publish(
        self, station: str, value: float, *, ts_ms: int | None = None, accounted: bool = True
    ) -> Key:
        """``value``: a water level in cm, or a rain amount in mm for a rain gauge."""
        ts = ts_ms if ts_ms is not None else self.next_ts(station)
        topic, body = message(station, ts, value)
        info = self.client.publish(topic, body, qos=1)
        key = (station, param_of(station), ts)
        with self._lock:
            self._pending.append((key, info, accounted))
        return key

    def sweep(self) -> int:
        """Move what the broker acknowledged into ``acked``; how many are still pending."""
        with self._lock:
            still = []
            for key, info, accounted in self._pending:
                if info.is_published():
                    (self.acked if accounted else self.warm_up).add(key)
                else:
                    still.append((key, info, accounted))
            self._pending = still
            return len(still)

    def acked_keys(self) -> set[Key]:
        self.sweep()
        with self._lock:
            return set(self.acked)

    def wait_acked(self, timeout_s: float) -> int:
        """Wait until every message is acknowledged; how many are not (after the timeout)."""
        deadline = time.monotonic() + timeout_s
        while (pending := self.sweep()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return pending

    def burst(self, station: str, count: int) -> list[Key]:
        """``count`` messages at full speed, device times 1 ms apart, ending about now."""
        start = self.next_ts(station, now_ms() - count)
        keys = [self.publish(station, 40.0 + i % 50, ts_ms=start + i) for i in range(count)]
        with self._lock:
            self._last_ts[station] = max(self._last_ts[station], start + count - 1)
        return keys

    def start_steady(self, stations: Iterable[str], rate_hz: float) -> None:
        """Each station one message every 1/rate_hz s, until :meth:`stop_steady`."""
        chosen = list(stations)
        self._steady_stop.clear()

        def run() -> None:
            tick = 0
            next_at = time.monotonic()
            while not self._steady_stop.is_set():
                for index, station in enumerate(chosen):
                    # Levels well under BĐ I (1.0 m), varying so no QC filter calls them stuck;
                    # drizzle at the rain gauges.
                    if station in RAIN_GAUGES:
                        value = 0.1 * ((tick + index) % 3)
                    else:
                        value = 30.0 + (tick * 7 + index * 3) % 60
                    self.publish(station, value)
                    self.steady_sent += 1
                tick += 1
                next_at += 1.0 / rate_hz
                self._steady_stop.wait(max(0.0, next_at - time.monotonic()))

        self._steady = threading.Thread(target=run, name="steady-stations", daemon=True)
        self._steady.start()

    def stop_steady(self) -> None:
        self._steady_stop.set()
        if self._steady is not None:
            self._steady.join(timeout=5)
            self._steady = None


class CleanListener:
    """A subscriber on ``quantrac/v1/clean/+`` of the bus: when each raw reading came out."""

    def __init__(self, port: int) -> None:
        self.arrivals: list[tuple[float, str, float]] = []  # (wall time, station, device time s)
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="faults-clean-listener", clean_session=True
        )
        self.client.reconnect_delay_set(1, 1)  # back as soon as the bus is: it measures flow
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("quantrac/v1/clean/+", qos=0)
        self.connected.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        at = time.time()
        try:
            batch = json.loads(message.payload)
            found = [
                (at, str(batch["station"]), _seconds(r["ts"]))
                for r in batch["readings"]
                if r.get("param") in (PARAM, RAIN)
            ]
        except (ValueError, KeyError, TypeError):
            return  # not ours to judge: the collector's decoders are tested elsewhere
        with self._lock:
            self.arrivals.extend(found)

    def snapshot(self) -> list[tuple[float, str, float]]:
        with self._lock:
            return list(self.arrivals)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Rig:
    """Servers, services and listeners of one row, in ``root``."""

    root: Path
    store: str = "sqlite"  # sqlite | influxdb | victoriametrics
    alerting: bool = False
    disk_full: str | None = None  # None | "tmpfs" | "fsize"
    # -dedup.minScrapeInterval=1ms, as docs/storage.md says to run it; off only to show what
    # at-least-once delivery leaves in a VictoriaMetrics without it.
    vm_dedup: bool = True
    stations_broker: Mosquitto = field(init=False)
    bus: Mosquitto = field(init=False)
    influxd: Influxd | None = None
    victoria: VictoriaMetrics | None = None
    disk: DiskFull | None = None
    gateway: Service = field(init=False)
    collector: Service = field(init=False)
    alerter: Service | None = None
    stations: Stations = field(init=False)
    clean: CleanListener = field(init=False)
    receiver: HttpReceiver | None = None
    reader: StoreReader = field(init=False)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> Rig:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _start(self) -> None:
        stack = self._stack
        self.stations_broker = Mosquitto(self._dir("stations-broker"))
        self.stations_broker.start()
        stack.callback(self.stations_broker.stop)
        self.bus = Mosquitto(self._dir("bus-broker"))
        self.bus.start()
        stack.callback(self.bus.stop)

        collector_data = self._dir("collector")
        if self.store == "influxdb":
            self.influxd = Influxd(self._dir("influxd"))
            self.influxd.start()
            stack.callback(self.influxd.stop)
            store_args = ["--store", self.influxd.store_url]
            self.reader = InfluxReader(self.influxd)
        elif self.store == "victoriametrics":
            self.victoria = VictoriaMetrics(self._dir("victoria-metrics"), dedup=self.vm_dedup)
            self.victoria.start()
            stack.callback(self.victoria.stop)
            store_args = ["--store", self.victoria.store_url]
            self.reader = VictoriaReader(self.victoria)
        else:
            store_args = []
            self.reader = SqliteReader(collector_data / "quantrac.sqlite3")

        site = self.root / "site"
        shutil.copytree(SITE, site)
        env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        if self.alerting:
            self.receiver = HttpReceiver().start()
            stack.callback(self.receiver.stop)
            self.receiver.script(WEBHOOK_PATH, Reply(200, json={"ok": True}))
            config = yaml.safe_load((site / "alerting.yaml").read_text(encoding="utf-8"))
            config["notifiers"]["webhook"]["url"] = f"{self.receiver.url}{WEBHOOK_PATH}"
            (site / "alerting.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
            env[WEBHOOK_SECRET_ENV] = "fault-suite"

        gateway_data = self.root / "gateway"
        if self.disk_full is not None:
            self.disk = small_disk(gateway_data, force_fallback=self.disk_full == "fsize")
            stack.callback(self.disk.close)  # after the gateway has stopped (LIFO)
        gateway_data.mkdir(exist_ok=True)

        logs = self._dir("logs")
        self.collector = Service(
            "collector",
            ["collector", str(site), "--broker", self.bus.url, "--data-dir", str(collector_data),
             *store_args],
            logs / "collector.log",
            env,
        )  # fmt: skip
        self.gateway = Service(
            "gateway",
            ["gateway", str(site), "--broker", self.bus.url, "--stations-broker",
             self.stations_broker.url, "--data-dir", str(gateway_data)],
            logs / "gateway.log",
            env,
        )  # fmt: skip
        services = [self.collector, self.gateway]
        if self.alerting:
            self.alerter = Service(
                "alerting",
                ["alerting", str(site), "--broker", self.bus.url, "--data-dir",
                 str(self._dir("alerting"))],
                logs / "alerting.log",
                env,
            )  # fmt: skip
            services.append(self.alerter)
        for service in services:
            service.start()
            stack.callback(service.stop)
        if isinstance(self.disk, FileSizeLimit):
            self.disk.pid = self.gateway.pid

        self.clean = CleanListener(self.bus.port)
        stack.callback(self.clean.close)
        self.stations = Stations(self.stations_broker.port)
        stack.callback(self.stations.close)

    @property
    def services(self) -> list[Service]:
        return [s for s in (self.gateway, self.collector, self.alerter) if s is not None]

    def check_services(self) -> None:
        for service in self.services:
            service.check()

    def unexpected_exits(self) -> list[str]:
        return [text for s in self.services for text in s.unexpected]

    def warm_up(self, timeout_s: float) -> None:
        """Until a message the bench publishes is stored: the gateway has subscribed (its
        persistent session now keeps what comes), the collector stores. Not counted."""
        deadline = time.monotonic() + timeout_s
        sent: set[Key] = set()
        while time.monotonic() < deadline:
            sent.add(self.stations.publish(STEADY[0], 50.0, accounted=False))
            stored = self.reader.raw_keys() or set()
            if sent & stored:
                break
            self.check_services()
            time.sleep(0.5)
        else:
            raise RuntimeError(
                f"nothing published reached the store within {timeout_s:.0f} s; "
                f"gateway log:\n{self.gateway.tail()}\ncollector log:\n{self.collector.tail()}"
            )
        if self.alerter is not None:
            while "alerting:" not in self.alerter.log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"quantrac alerting did not start:\n{self.alerter.tail()}")
                time.sleep(0.2)
        if not self.clean.connected.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError("the clean-stream listener did not connect to the bus")

    def warnings(self, level: int) -> list[float]:
        """Monotonic arrival times of firing webhooks at ``level`` (1 = BĐ I …)."""
        if self.receiver is None:
            return []
        found = []
        for request in self.receiver.to(WEBHOOK_PATH):
            with contextlib.suppress(ValueError):
                body = request.json()
                if body.get("state") == "firing" and body.get("level") == level:
                    found.append(request.at)
        return found
