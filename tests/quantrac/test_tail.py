"""`quantrac tail`: readings with their QC flags, as they arrive on a real broker."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import VIETNAM_TZ, Quality, Reading, ReadingBatch
from gateway.wire import clean_topic, encode_batch
from quantrac.tail_cli import reading_line
from tests.conftest import EXAMPLE_SITE
from tests.servers import Mosquitto

TS = datetime(2026, 11, 22, 16, 40, 5, tzinfo=UTC)  # 23:40:05 on the 22nd in Huế


def test_a_reading_line_says_time_value_and_flag() -> None:
    good = Reading("kim_long", "water_level", 2.25, "m", TS, quality=Quality.GOOD)
    assert reading_line(good, VIETNAM_TZ, "Kim Long") == (
        "23:40:05 22/11  kim_long Kim Long  water_level = 2.25 m  good"
    )
    spike = Reading("kim_long", "water_level", 9.5, "m", TS, quality=Quality.BAD, reason="rate")
    assert reading_line(spike, UTC).endswith("= 9.5 m  bad (rate)")
    assert reading_line(spike, UTC).startswith("16:40:05 22/11")


async def test_tail_prints_the_clean_readings_of_one_station(mosquitto: Mosquitto) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantrac", "tail", "kim_long", "--broker", mosquitto.url,
        "--site", str(EXAMPLE_SITE), "--count", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )  # fmt: skip
    assert process.stderr is not None
    await asyncio.wait_for(process.stderr.readline(), 20)  # it says what it watches: subscribed
    readings = (
        Reading("kim_long", "water_level", 2.25, "m", TS, quality=Quality.GOOD),
        Reading("kim_long", "station_online", 1.0, "bool", TS, quality=Quality.GOOD),
        Reading("kim_long", "water_temp", 27.5, "°C", TS, quality=Quality.SUSPECT, reason="flat"),
    )
    other = ReadingBatch("gw-1", 1, "phu_oc", (Reading("phu_oc", "water_level", 1.0, "m", TS),))
    batch = ReadingBatch("gw-1", 2, "kim_long", readings)
    async with MqttBus(MqttSettings(port=mosquitto.port)) as bus:
        for _ in range(50):  # until tail has subscribed and got one
            await bus.publish(clean_topic("phu_oc"), encode_batch(other))
            await bus.publish(clean_topic("kim_long"), encode_batch(batch))
            try:
                await asyncio.wait_for(process.wait(), 0.5)
                break
            except TimeoutError:
                continue
    assert process.returncode == 0
    assert process.stdout is not None
    lines = (await process.stdout.read()).decode().splitlines()
    assert lines == [
        "23:40:05 22/11  kim_long Kim Long  water_level = 2.25 m  good",
        "23:40:05 22/11  kim_long Kim Long  water_temp = 27.5 °C  suspect (flat)",
    ]
