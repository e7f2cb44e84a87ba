"""The subscriber that counts: what reached the broker, per station and slot, and how late.

A process of its own (paho's network thread + a parse per message), so its CPU is nobody's in
the figures. It knows both payloads: the gateway's wire format and the floor's; each carries
the readings with their ``ts``, which for these clockless devices is the poll's slot.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

HOST = "127.0.0.1"


def listen(broker_port: int, topic_filter: str, control: Pipe) -> None:
    """Count until the control pipe sends (t0, t1); then answer the window's figures."""
    seen: dict[tuple[str, float], int] = {}  # (station, slot) → deliveries
    lags: dict[tuple[str, float], float] = {}  # first delivery's lag, s
    readings: dict[tuple[str, float], int] = {}
    slot_of: dict[str, float] = {}

    def on_message(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrived = time.time()
        try:
            document = json.loads(message.payload)
            station = str(document["station"])
            values = [r for r in document["readings"] if r["param"] != "station_online"]
            if not values:
                return
            text = values[0]["ts"]
            slot = slot_of.get(text)
            if slot is None:
                slot = slot_of[text] = datetime.fromisoformat(text).timestamp()
        except (ValueError, KeyError, TypeError):
            return
        key = (station, slot)
        seen[key] = seen.get(key, 0) + 1
        if key not in lags:
            lags[key] = arrived - slot
            readings[key] = len(values)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-listener-{time.time_ns()}")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.connect(HOST, broker_port)
    client.loop_start()
    control.send("ready")
    t0, t1 = control.recv()
    client.loop_stop()
    client.disconnect()
    inside = [key for key in seen if t0 <= key[1] < t1]
    control.send(
        {
            "readings": sum(readings[key] for key in inside),
            "batches": len(inside),
            "duplicates": sum(seen[key] - 1 for key in inside),
            "lags": sorted(lags[key] for key in inside),
        }
    )
