"""Random and malformed payloads on station topics: nothing crashes, every bad one is accounted.

The bulk (10,000 examples) drives the pure decoder; a few hundred go through a real Mosquitto
and the whole driver, which must count, log once per topic and dead-letter each of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import Reading
from gateway.mqtt_input.driver import MqttInput
from gateway.streaming import Rejected
from tests.gateway.mqtt_stations import decoder
from tests.helpers import eventually, running
from tests.servers import Mosquitto

ARRIVAL = datetime(2026, 11, 22, 9, 41, tzinfo=UTC)
DECODER = decoder()
TOPICS = (
    "stations/hue_air_2/data",
    "hydro/uplink",
    "stations/sonde-7/readings",
    "stations/a_luoi_rain/rain",
    "stations/unknown/data",
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ts",
                    "pm25",
                    "CO",
                    "status",
                    "time",
                    "data",
                    "device",
                    "id",
                    "readings",
                    "param",
                    "value",
                    "unit",
                    "sensors",
                    "level",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=10,
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda doc: json.dumps(doc).encode()),
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(topic=st.sampled_from(TOPICS), payload=PAYLOADS)
def test_the_decoder_never_raises_and_explains_every_refusal(topic: str, payload: bytes) -> None:
    outcome = DECODER.decode(topic, payload, ARRIVAL)
    assert outcome.readings or outcome.problems
    for reading in outcome.readings:
        assert reading.station == outcome.station
        assert reading.ts.tzinfo is not None
    assert all(p.code and p.detail for p in outcome.problems)


class _Counting:
    def __init__(self) -> None:
        self.readings = 0
        self.rejected: list[Rejected] = []

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.readings += len(readings)

    async def dead_letter(self, rejected: Rejected) -> None:
        self.rejected.append(rejected)


def _garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 64))
    if kind == 1:
        return b'{"ts": "2026-11-22T16:40:00", "pm25": "n/a"}'
    if kind == 2:
        return b"{" * rng.randrange(1, 50)
    return json.dumps([rng.random() for _ in range(3)]).encode()


async def test_garbage_through_a_real_broker_is_counted_logged_once_and_dead_lettered(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.mqtt_input.driver")
    driver = MqttInput(DECODER, MqttSettings.from_url(mosquitto.url))
    counting = _Counting()
    rng = random.Random(4)
    topics = ["stations/hue_air_2/data", "stations/nobody/data", "hydro/uplink"]
    sent = 300
    publisher = MqttBus(MqttSettings.from_url(mosquitto.url))
    async with running(driver.run(counting.sink, counting.dead_letter)):
        await eventually(lambda: driver.bus is not None and driver.bus.connected.is_set())
        async with publisher:
            await eventually(publisher.connected.is_set, what="publisher connected")
            for index in range(sent):
                await publisher.publish(topics[index % len(topics)], _garbage(rng))
            # A good message after the garbage: the driver is still alive.
            await publisher.publish("stations/hue_air_2/data", b'{"ts": 1795340400, "pm25": 3}')
        await eventually(lambda: driver.messages == sent + 1, what="every message handled")
    assert len(counting.rejected) == sent == sum(driver.rejected.values())
    assert counting.readings == 1
    assert driver.per_station["hue_air_2"].rejected == sent // len(topics)
    assert {r.source for r in counting.rejected} == set(topics)
    ours = [r for r in caplog.records if r.name == "gateway.mqtt_input.driver"]
    warnings = [r for r in ours if r.levelno == logging.WARNING]
    assert sorted(str(r.args[0]) for r in warnings if isinstance(r.args, tuple)) == sorted(topics)
    debug = [r for r in ours if r.levelno == logging.DEBUG]
    assert len(debug) == sent - len(topics)
    assert sum(driver.rejected.values()) == sent
    await asyncio.sleep(0)
