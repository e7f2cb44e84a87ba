"""Collectors sharing the raw stream, one of them gone: who gets its share (real Mosquitto).

Mosquitto 2.0 goes on routing a share of a shared subscription to a member whose persistent
session outlives its connection: a collector that died (or was stopped for good) keeps taking
every other batch, parked in its offline session. With a clean session the broker forgets it,
and the survivors get everything. That is why the shipped deployment runs collectors with
``--clean-session`` (docs/deploy.md, "Scale-out").
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.bus.mqtt import MqttBus
from tests.gateway.test_bus_mqtt import RAW, draining, fast_settings, payload, wait_connected
from tests.servers import Mosquitto

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("clean_session", [False, True])
async def test_when_a_collector_goes_the_other_gets_its_share_only_with_a_clean_session(
    mosquitto: Mosquitto, clean_session: bool
) -> None:
    count = 40
    buses = [
        MqttBus(fast_settings(mosquitto.url, client_id=name, clean_session=clean_session))
        for name in ("collector-1", "collector-2")
    ]
    shares = [bus.subscribe(f"{RAW}/+", group="collectors") for bus in buses]
    publisher = MqttBus(fast_settings(mosquitto.url, client_id="gateway"))
    async with buses[0], publisher, draining(shares[0]) as (survivor,):
        async with buses[1]:
            await wait_connected(*buses, publisher)
        # collector-2 has gone; its session stays on the broker unless it was clean.
        for seq in range(count):
            await publisher.publish(f"{RAW}/kim_long", payload(seq))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                while len(survivor) < count:  # noqa: ASYNC110 (a list its draining task fills)
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a late one would show now
    got = len(survivor)
    if clean_session:
        assert got == count, f"the survivor got {got} of {count}"
    else:
        # Round robin over both members, the offline one included.
        assert count // 2 - 2 <= got <= count // 2 + 2, f"the survivor got {got} of {count}"
