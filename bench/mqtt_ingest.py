"""MQTT station ingest benchmark: the MQTT input driver against a bare aiomqtt subscriber.

    .venv/bin/python -m bench.mqtt_ingest [--messages 20000] [--stations 20]

Starts its own Mosquitto on a free loopback port. For each subscriber (the bare aiomqtt client
first, the driver second): it connects once with a persistent session and subscribes, goes
away, ``--stations`` ``mosquitto_pub -l`` processes publish ``--messages`` flat JSON messages
of six parameters (QoS 1) that the broker queues, and the subscriber comes back and drains
them. Its rate is messages (and readings) from reconnect to the last message. Both see the same
broker, topics and payloads; the ratio driver/bare is printed (target ≥ 0.7).
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


async def bare(port: int, stations: int, messages: int) -> float:
    def client() -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", port, identifier="bench-bare", clean_session=False)

    async with client() as c:
        await c.subscribe("stations/+/data", qos=1)
    await publish_all(port, stations, messages)
    received = 0
    start = time.perf_counter()
    async with client() as c:
        await c.subscribe("stations/+/data", qos=1)
        async for message in c.messages:
            json.loads(bytes(message.payload))  # type: ignore[arg-type,unused-ignore]
            received += 1
            if received == messages:
                break
    return time.perf_counter() - start


class Counting:
    def __init__(self) -> None:
        self.messages = 0
        self.readings = 0
        self.rejected = 0

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.messages += 1
        self.readings += len(readings)

    async def dead_letter(self, rejected: Rejected) -> None:
        self.rejected += 1


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


async def through_driver(port: int, stations: int, messages: int) -> tuple[float, Counting]:
    async def run_until(driver: MqttInput, counting: Counting, done: int) -> float:
        start = time.perf_counter()
        task = asyncio.create_task(driver.run(counting.sink, counting.dead_letter))
        while (  # noqa: ASYNC110 (polling counters, as the tests do)
            (counting.messages + counting.rejected < done)
            if done
            else not (driver.bus is not None and driver.bus.connected.is_set())
        ):
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - start
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return elapsed

    await run_until(driver_for(port, stations, messages), Counting(), 0)  # subscribe once
    await publish_all(port, stations, messages)
    counting = Counting()
    elapsed = await run_until(driver_for(port, stations, messages), counting, messages)
    return elapsed, counting


async def main_async(args: argparse.Namespace) -> None:
    messages = args.messages - args.messages % args.stations
    with tempfile.TemporaryDirectory() as directory:
        broker, port = start_mosquitto(Path(directory))
        try:
            bare_s = await bare(port, args.stations, messages)
            driver_s, counting = await through_driver(port, args.stations, messages)
        finally:
            broker.terminate()
            broker.wait()
    bare_rate = messages / bare_s
    driver_rate = messages / driver_s
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}, aiomqtt {version('aiomqtt')}"
    )
    print(f"{messages} flat JSON messages × 6 params from {args.stations} stations (QoS 1)")
    print(f"bare aiomqtt subscriber: {bare_rate:,.0f} messages/s ({bare_s:.2f} s)")
    print(
        f"MQTT input driver:       {driver_rate:,.0f} messages/s, "
        f"{counting.readings / driver_s:,.0f} readings/s ({driver_s:.2f} s), "
        f"{counting.readings} readings, {counting.rejected} rejected"
    )
    ratio = driver_rate / bare_rate
    verdict = "PASS" if ratio >= 0.7 and counting.readings == 6 * messages else "FAIL"
    print(f"SUMMARY ratio driver/bare {ratio:.2f} (target ≥ 0.7) → {verdict}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--stations", type=int, default=20)
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
