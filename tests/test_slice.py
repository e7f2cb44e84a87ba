"""The walking skeleton end to end: simulated gauge → gateway → bus → collector → SQLite → API.

Once in one process on the in-process bus, once as separate gateway and collector tasks over a
real Mosquitto.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus import Bus
from gateway.bus.memory import InProcessBus
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import CLEAN_FILTER, decode_batch, encode_batch, raw_topic
from quantrac.api import ApiContext, create_app
from quantrac.auth import ApiSecurity
from quantrac.demo import demo_stations
from quantrac.runners import GatewayService, station_catalog
from quantrac.scenario import KIM_LONG, PHU_OC, simulators_for
from quantrac.site import Site, load_site
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running
from tests.servers import Mosquitto, require_binary

EXAMPLE_STATIONS = ("kim_long", "phu_oc", "hue_air", "van_nien", "nam_dong", "hue_weather")


@pytest.fixture
def site() -> Site:
    return load_site(EXAMPLE_SITE)


async def _run_slice(site: Site, gateway_bus: Bus, collector_bus: Bus, store: SqliteStore) -> None:
    stations = demo_stations(site, interval_s=1.0)
    collector = Collector(collector_bus, store)
    clean = collector_bus.subscribe(CLEAN_FILTER)
    gateway = GatewayService(site, gateway_bus, stations)
    simulators = simulators_for(site, stations)
    for simulator in simulators:
        await simulator.start()
    try:
        async with gateway_bus, collector_bus, running(collector.run(), gateway.run()):
            await eventually(
                lambda: (
                    set(EXAMPLE_STATIONS) <= set(store.stations())
                    and collector.stats.batches >= 3 * len(EXAMPLE_STATIONS)
                ),
                what="three polls of each station stored",
            )
            clean_batch = decode_batch((await asyncio.wait_for(clean.get(), 5)).payload)
    finally:
        for simulator in simulators:
            await simulator.stop()
    assert {r.quality for r in clean_batch.readings} <= {Quality.GOOD, Quality.BAD}
    assert gateway.poller.health["kim_long"].online

    app = create_app(
        ApiContext(
            store=store,
            stations={s.id: s for s in stations},
            security=ApiSecurity(open_reads=True),  # a closed network's reads; keys: test_api_auth
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        latest = (await api.get("/stations/kim_long/latest")).json()
        series = (
            await api.get("/stations/kim_long/readings", params={"param": "water_level"})
        ).json()
        missing = await api.get("/stations/nowhere/latest")
        health = (await api.get("/stations/kim_long/health")).json()
    assert health["online"] is True
    assert health["gateway"] is None  # the API runs apart from the gateway here
    levels = {r["param"]: r for r in latest["readings"]}
    # The scenario starts at its base level; the first minutes stay within a few cm of it.
    assert levels["water_level"]["value"] == pytest.approx(KIM_LONG.base_m, abs=0.05)
    assert levels["water_level"]["unit"] == "m"
    assert levels["water_level"]["quality"] == "good"
    assert latest["flood"]["level"] == 0
    assert latest["station"]["flood_levels"] == {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}
    assert len(series["readings"]) >= 3
    assert all(r["param"] == "water_level" for r in series["readings"])
    assert missing.status_code == 404
    assert "nowhere" in missing.json()["detail"]
    phu_oc = {r.param: r for r in store.latest("phu_oc")}
    assert phu_oc["water_level"].value == pytest.approx(PHU_OC.base_m, abs=0.05)


async def test_slice_in_one_process(site: Site, tmp_path: Path) -> None:
    bus = InProcessBus()
    store = SqliteStore(tmp_path / "q.sqlite3", station_catalog(site))
    await _run_slice(site, bus, bus, store)
    store.close()


async def test_slice_over_mqtt_with_separate_gateway_and_collector(
    site: Site, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    gateway_bus = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="gw-hue-1"))
    collector_bus = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="collector-1"))
    store = SqliteStore(tmp_path / "q.sqlite3", station_catalog(site))
    await _run_slice(site, gateway_bus, collector_bus, store)
    store.close()


def _batch(station: str, seq: int) -> ReadingBatch:
    from datetime import UTC, datetime, timedelta

    ts = datetime(2026, 11, 22, 16, 0, tzinfo=UTC) + timedelta(seconds=seq)
    return ReadingBatch(
        "gw-test", seq, station, (Reading(station, "water_level", 1.0 + seq / 1000, "m", ts),)
    )


async def test_a_malformed_payload_is_counted_logged_and_the_collector_keeps_going(
    tmp_path: Path, mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    pub = require_binary("mosquitto_pub", "mosquitto-clients")
    bus = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="collector-bad-input"))
    store = SqliteStore(tmp_path / "q.sqlite3")
    collector = Collector(bus, store)
    topic = raw_topic("kim_long")
    bad_payloads = [
        "{not json",
        '{"v": 2, "station": "kim_long"}',
        '{"v": 1, "station": "phu_oc", "gateway": "g", "seq": 1, "produced_at": '
        '"2026-11-22T16:00:00Z", "readings": []}',
    ]
    with caplog.at_level(logging.WARNING, logger="collector.service"):
        async with bus, running(collector.run()):
            await asyncio.wait_for(bus.connected.wait(), 10)
            for payload in bad_payloads:
                process = await asyncio.create_subprocess_exec(
                    pub, "-p", str(mosquitto.port), "-q", "1", "-t", topic, "-m", payload
                )
                assert await process.wait() == 0
            await bus.publish(topic, encode_batch(_batch("kim_long", 1)))
            await eventually(lambda: collector.stats.batches == 1, what="the good batch stored")
    assert collector.stats.malformed == 3
    assert store.count() == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "collector.service"]
    # Logged once per topic (then at DEBUG until the topic recovers): topic and reason shown.
    assert len(warnings) == 1
    assert topic in warnings[0]
    assert "not JSON" in warnings[0]
    store.close()


async def test_two_collectors_on_one_shared_subscription_store_every_batch_once(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    publisher = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="gw-shared"))
    buses = [
        MqttBus(MqttSettings.from_url(mosquitto.url, client_id=f"collector-{i}")) for i in (1, 2)
    ]
    stores = [SqliteStore(tmp_path / f"c{i}.sqlite3") for i in (1, 2)]
    collectors = [Collector(bus, store) for bus, store in zip(buses, stores, strict=True)]
    total = 300
    async with publisher, buses[0], buses[1], running(*(c.run() for c in collectors)):
        for bus in (publisher, *buses):
            await asyncio.wait_for(bus.connected.wait(), 10)
        for seq in range(1, total + 1):
            station = ("kim_long", "phu_oc", "hue_air")[seq % 3]
            await publisher.publish(raw_topic(station), encode_batch(_batch(station, seq)))
        await eventually(
            lambda: sum(c.stats.batches for c in collectors) >= total, what="all batches stored"
        )
        await asyncio.sleep(0.5)  # a duplicate, if any, would arrive now
    counts = [c.stats.batches for c in collectors]
    assert sum(counts) == total
    assert min(counts) > 0, f"one collector got nothing: {counts}"
    assert sum(store.count() for store in stores) == total
    for store in stores:
        store.close()
