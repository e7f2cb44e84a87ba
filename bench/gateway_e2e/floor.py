"""The floor: the least a Python gateway can do — pymodbus reads on the slot, JSON, aiomqtt.

No outbox, no QC, no scheduler library, no health: one task per station sleeping to its slot,
reading 20 holding registers, decoding ten float32 values with ``struct`` and publishing one
QoS 1 message per station and slot. It runs in its own process, on the same servers and broker
as the gateway, so its CPU time and lag are the yardstick of the gateway's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Event

import aiomqtt
from pymodbus.client import AsyncModbusTcpClient

from bench.gateway_e2e.site import station_id
from bench.modbus_poll import HOST, REGISTERS, VALUES

FLOOR_TOPIC = "bench/floor"
_FLOATS = struct.Struct(f">{len(VALUES)}f")
_WORDS = struct.Struct(f">{REGISTERS}H")


def run_floor(
    ports: list[int], interval_s: float, broker_port: int, ready: Pipe, stop: Event
) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_floor(ports, interval_s, broker_port, ready, stop))


async def _floor(
    ports: list[int], interval_s: float, broker_port: int, ready: Pipe, stop: Event
) -> None:
    counts = {"skipped": 0, "failed": 0}
    params = list(VALUES)
    async with aiomqtt.Client(
        HOST, broker_port, identifier="bench-floor", max_inflight_messages=1000
    ) as mqtt:
        mqtt.pending_calls_threshold = 1_000_000  # thousands in flight is the point here
        clients = [AsyncModbusTcpClient(HOST, port=port, timeout=3.0, retries=0) for port in ports]
        for client in clients:
            await client.connect()

        async def station(number: int, client: AsyncModbusTcpClient) -> None:
            name = station_id(number)
            topic = f"{FLOOR_TOPIC}/{name}"
            slot = (math.floor(time.time() / interval_s) + 1) * interval_s
            while True:
                await asyncio.sleep(max(0.0, slot - time.time()))
                try:
                    response = await client.read_holding_registers(0, count=REGISTERS, device_id=1)
                    values = _FLOATS.unpack(_WORDS.pack(*response.registers))
                except Exception:
                    counts["failed"] += 1
                else:
                    ts = datetime.fromtimestamp(slot, UTC).isoformat()
                    readings = [
                        {"param": p, "value": v, "ts": ts}
                        for p, v in zip(params, values, strict=True)
                    ]
                    document = {"station": name, "readings": readings}
                    await mqtt.publish(topic, json.dumps(document).encode(), qos=1)
                slot += interval_s
                while slot <= time.time():  # the read took longer than a slot: a skipped poll
                    counts["skipped"] += 1
                    slot += interval_s

        tasks = [
            asyncio.create_task(station(number, client)) for number, client in enumerate(clients)
        ]
        ready.send("ready")
        await asyncio.to_thread(stop.wait)
        ready.send((counts["skipped"], counts["failed"]))  # before the slow goodbyes
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            client.close()
