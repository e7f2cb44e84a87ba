"""MqttBus with username and password against a Mosquitto that refuses anonymous clients."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.bus.mqtt import MqttBus, MqttSettings
from tests.servers import Mosquitto


async def test_credentials_from_the_url_are_used_and_wrong_ones_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Mosquitto(tmp_path, account=("quantrac", "mật-khẩu 1"))
    broker.start()
    try:
        url = f"mqtt://quantrac:m%E1%BA%ADt-kh%E1%BA%A9u%201@127.0.0.1:{broker.port}"
        subscriber = MqttBus(MqttSettings.from_url(url, client_id="auth-sub"))
        subscription = subscriber.subscribe("quantrac/v1/raw/+")
        publisher = MqttBus(MqttSettings.from_url(url, client_id="auth-pub"))
        intruder = MqttBus(
            MqttSettings.from_url(
                f"mqtt://quantrac:wrong@127.0.0.1:{broker.port}",
                client_id="auth-intruder",
                reconnect_min_s=0.2,
                reconnect_max_s=0.5,
            )
        )
        with caplog.at_level(logging.WARNING, logger="gateway.bus.mqtt"):
            async with subscriber, publisher, intruder:
                await asyncio.wait_for(subscriber.connected.wait(), 10)
                await asyncio.wait_for(publisher.connected.wait(), 10)
                await publisher.publish("quantrac/v1/raw/kim_long", b"{}")
                message = await asyncio.wait_for(subscription.get(), 10)
                await asyncio.sleep(1.0)
                assert not intruder.connected.is_set()
                await intruder.publish("quantrac/v1/raw/kim_long", b"intruder")
                await asyncio.sleep(0.5)
                assert subscription.qsize() == 0
        assert message.payload == b"{}"
        refusals = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(refusals) == 1  # logged once, then at DEBUG while it keeps failing
    finally:
        broker.stop()
