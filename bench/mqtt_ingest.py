"""MQTT station ingest benchmark: the MQTT input driver against a bare aiomqtt subscriber.

    .venv/bin/python -m bench.mqtt_ingest [--messages 20000] [--stations 20] [--rounds 5]
                                          [--warmup 2000] [--check]

Starts its own Mosquitto on a free loopback port. Both subscribers — a bare aiomqtt client
that only ``json.loads`` each payload, and the driver (``MqttInput`` on ``MqttBus``, decoding
to ``Reading`` s into a counting sink) — first connect once with a persistent session and
subscribe, then go away. Each round, ``--stations`` ``mosquitto_pub -l`` processes publish
``--messages`` flat JSON messages of six parameters (QoS 1) once; the broker queues them for
both sessions, so both drain the very same messages. Then one subscriber comes back and drains
its queue, then the other; the order alternates from round to round. A subscriber's rate is
messages (and readings) from its reconnect to its last message; its CPU time is this process's
over the same span (Mosquitto runs in its own process).

A warm-up round (``--warmup`` messages) comes first and is not counted. The verdict is the
ratio of the medians, driver/bare, over ``--rounds`` rounds (target ≥ 0.7); with ``--check``
the exit status is 1 when it misses the target or a reading is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import aiomqtt

from gateway.bus.mqtt import MqttSettings
from gateway.config import StationConfig
from gateway.model import Reading
from gateway.mqtt_input.driver import MqttInput
from gateway.mqtt_input.payload import MqttDecoder, Route
from gateway.profiles import default_profiles_dir, load_mqtt_profile
from gateway.streaming import Rejected

PROFILE = "aqi_sensor_mqtt_json"
PARAMS_PER_MESSAGE = 6
TARGET = 0.7
TOPIC_FILTER = "stations/+/data"
DRAIN_TIMEOUT_S = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        sys.exit(f"{name} is not installed: apt-get install -y mosquitto mosquitto-clients")
    return path


def start_mosquitto(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    user = "user root\n" if os.geteuid() == 0 else ""
    config = directory / "mosquitto.conf"
    config.write_text(
        f"{user}listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 200000\nmax_inflight_messages 100\n"
        f"log_dest file {directory}/mosquitto.log\n"
    )
    process = subprocess.Popen([_binary("mosquitto"), "-c", str(config)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("mosquitto did not start")


def payload(index: int) -> str:
    return json.dumps(
        {
            "ts": 1795340400 + index,
            "pm25": 35.2,
            "PM10": 51,
            "CO": 1.2,
            "NO2": 40,
            "SO2": 12,
            "O3": 60,
            "status": "00",
        }
    )


async def publish_all(port: int, stations: int, messages: int) -> None:
    each = messages // stations
    processes = []
    for n in range(stations):
        process = await asyncio.create_subprocess_exec(
            _binary("mosquitto_pub"),
            *("-h", "127.0.0.1", "-p", str(port), "-q", "1", "-l", "-t", f"stations/st{n}/data"),
            stdin=asyncio.subprocess.PIPE,
        )
        processes.append(process)
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("".join(payload(i) + "\n" for i in range(each)).encode())
        process.stdin.close()
    for process in processes:
        await process.wait()
    await asyncio.sleep(0.5)  # let the broker queue the last ones


@dataclass(frozen=True)
class Drain:
    """One subscriber draining one round's queue."""

    messages: int
    readings: int
    rejected: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def readings_rate(self) -> float:
        return self.readings / self.seconds

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


class _Clock:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self, messages: int, readings: int, rejected: int = 0) -> Drain:
        return Drain(
            messages,
            readings,
            rejected,
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
        )


def _bare_client(port: int) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, identifier="bench-bare", clean_session=False)


async def bare_subscribe(port: int) -> None:
    async with _bare_client(port) as client:
        await client.subscribe(TOPIC_FILTER, qos=1)


async def bare_drain(port: int, messages: int) -> Drain:
    received = 0
    clock = _Clock()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT_S), _bare_client(port) as client:
            await client.subscribe(TOPIC_FILTER, qos=1)
            async for message in client.messages:
                json.loads(bytes(message.payload))  # type: ignore[arg-type,unused-ignore]
                received += 1
                if received == messages:
                    break
    return clock.stop(received, received * PARAMS_PER_MESSAGE)


class Counting:
    """The driver's sink and dead letter: counts, and says when ``expected`` messages came."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.messages = 0
        self.readings = 0
        self.rejected = 0
        self.done = asyncio.Event()

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.messages += 1
        self.readings += len(readings)
        if self.messages + self.rejected >= self.expected:
            self.done.set()

    async def dead_letter(self, rejected: Rejected) -> None:
        self.rejected += 1
        if self.messages + self.rejected >= self.expected:
            self.done.set()


def driver_for(port: int, stations: int, messages: int) -> MqttInput:
    profile = load_mqtt_profile(default_profiles_dir() / "mqtt" / f"{PROFILE}.yaml")
    routes = [
        Route.of(
            StationConfig.model_validate(
                {
                    "id": f"st{n}",
                    "name": f"st{n}",
                    "kind": "air",
                    "district": "bench",
                    "source": {"driver": "mqtt", "profile": PROFILE},
                }
            ),
            profile,
        )
        for n in range(stations)
    ]
    settings = MqttSettings(host="127.0.0.1", port=port, client_id="bench-driver")
    return MqttInput(MqttDecoder(routes), settings, queue_size=messages + 1000)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def driver_subscribe(port: int, stations: int) -> None:
    driver = driver_for(port, stations, 0)
    counting = Counting(0)
    task = asyncio.create_task(driver.run(counting.sink, counting.dead_letter))
    while not (driver.bus is not None and driver.bus.connected.is_set()):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await _stop(task)


async def driver_drain(port: int, stations: int, messages: int) -> Drain:
    driver = driver_for(port, stations, messages)  # as a gateway starts: profiles compiled first
    counting = Counting(messages)
    clock = _Clock()
    task = asyncio.create_task(driver.run(counting.sink, counting.dead_letter))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT_S):
            await counting.done.wait()
    drain = clock.stop(counting.messages + counting.rejected, counting.readings, counting.rejected)
    await _stop(task)
    return drain


async def one_round(
    port: int, stations: int, messages: int, *, driver_first: bool
) -> tuple[Drain, Drain]:
    await publish_all(port, stations, messages)  # queued once for both persistent sessions
    if driver_first:
        driver = await driver_drain(port, stations, messages)
        bare = await bare_drain(port, messages)
    else:
        bare = await bare_drain(port, messages)
        driver = await driver_drain(port, stations, messages)
    return bare, driver


def _line(name: str, drain: Drain) -> str:
    return (
        f"{name} {drain.rate:8,.0f} msg/s {drain.readings_rate:9,.0f} readings/s "
        f"({drain.seconds:.2f} s, {drain.cpu_us_per_message:.0f} µs CPU/msg)"
    )


async def main_async(args: argparse.Namespace) -> int:
    messages = args.messages - args.messages % args.stations
    warmup = args.warmup - args.warmup % args.stations
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}, aiomqtt {version('aiomqtt')}"
    )
    print(
        f"{messages} flat JSON messages × {PARAMS_PER_MESSAGE} params from {args.stations} "
        f"stations (QoS 1), {args.rounds} round(s) after a warm-up of {warmup}"
    )
    results: list[tuple[Drain, Drain]] = []
    with tempfile.TemporaryDirectory() as directory:
        broker, port = start_mosquitto(Path(directory))
        try:
            await bare_subscribe(port)
            await driver_subscribe(port, args.stations)
            if warmup:
                await one_round(port, args.stations, warmup, driver_first=False)
            for index in range(args.rounds):
                bare, driver = await one_round(
                    port, args.stations, messages, driver_first=index % 2 == 1
                )
                results.append((bare, driver))
                print(
                    f"round {index + 1}: {_line('bare', bare)} | {_line('driver', driver)} "
                    f"| ratio {driver.rate / bare.rate:.2f}",
                    flush=True,
                )
        finally:
            broker.terminate()
            broker.wait()
    bare_rate = statistics.median(b.rate for b, _ in results)
    driver_rate = statistics.median(d.rate for _, d in results)
    driver_readings = statistics.median(d.readings_rate for _, d in results)
    bare_cpu = statistics.median(b.cpu_us_per_message for b, _ in results)
    driver_cpu = statistics.median(d.cpu_us_per_message for _, d in results)
    print(
        f"median bare aiomqtt subscriber: {bare_rate:,.0f} messages/s, "
        f"{bare_rate * PARAMS_PER_MESSAGE:,.0f} values/s, {bare_cpu:.0f} µs CPU/message"
    )
    print(
        f"median MQTT input driver:       {driver_rate:,.0f} messages/s, "
        f"{driver_readings:,.0f} readings/s, {driver_cpu:.0f} µs CPU/message"
    )
    complete = all(
        d.readings == PARAMS_PER_MESSAGE * messages and not d.rejected for _, d in results
    )
    if not complete:
        print("INCOMPLETE: the driver did not give every reading of every round")
    ratio = driver_rate / bare_rate
    rounds = ", ".join(f"{d.rate / b.rate:.2f}" for b, d in results)
    verdict = "PASS" if ratio >= TARGET and complete else "FAIL"
    print(
        f"SUMMARY ratio of medians driver/bare {ratio:.3f} (rounds {rounds}; "
        f"target ≥ {TARGET}) → {verdict}"
    )
    return 1 if args.check and verdict == "FAIL" else 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000, help="per round")
    parser.add_argument("--stations", type=int, default=20, help="publishers (one topic each)")
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds (median)")
    parser.add_argument("--warmup", type=int, default=2_000, help="messages of the warm-up")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the ratio is below {TARGET}"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.messages < args.stations:
        parser.error("at least one round of at least one message per station")
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
