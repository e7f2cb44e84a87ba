"""Bounds at the gateway: a value no sensor can give is a dead letter naming station and
parameter, never a published "measuring" reading, whatever the driver; the rest of its batch is
kept (issue 13: a 1e308 from an MQTT station reached the store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gateway.bus.memory import InProcessBus
from gateway.config import StationConfig
from gateway.modbus.hub import ModbusHub
from gateway.modbus.station import ModbusStation
from gateway.poller import Poller
from gateway.profiles import load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from gateway.wire import deadletter_topic, decode_batch
from quantrac.runners import GatewayService
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.gateway.mqtt_stations import decoder
from tests.servers import free_port

# A level logger serving float32 (the shipped radar profile's int16 cannot hold −999 m).
FLOAT_LEVEL_PROFILE = """\
model: "test level logger, float32"
kind: hydro
byte_order: big
word_order: big
registers:
  - {param: water_level, table: holding, address: 0, type: float32, unit: m}
  - {param: water_temp, table: holding, address: 2, type: float32, unit: "°C"}
"""


async def test_a_minus_999_water_level_from_modbus_is_a_dead_letter_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    profile_file = tmp_path / "level_float.yaml"
    profile_file.write_text(FLOAT_LEVEL_PROFILE, encoding="utf-8")
    profile = load_profile(profile_file)
    port = free_port()
    config = StationConfig.model_validate(
        {
            "id": "kim_long",
            "name": "Kim Long",
            "kind": "hydro",
            "district": "Phú Xuân",
            "source": {
                "profile": "level_float",
                "connection": {"host": "127.0.0.1", "port": port},
                "interval_s": 1,
                "timeout_s": 0.5,
                "retries": 0,
            },
        }
    )
    site = load_site(EXAMPLE_SITE)
    bus = InProcessBus()
    raw = bus.subscribe("quantrac/v1/raw/+")
    dead = bus.subscribe(deadletter_topic(site.settings.gateway_id))
    gateway = GatewayService(site, bus, stations=[])
    device = SimulatedDevice(1, profile, lambda _t: {"water_level": -999.0, "water_temp": 27.5})
    async with bus, SimulatedEndpoint(config.modbus.connection, [device]):
        hub = ModbusHub(config.modbus.connection)
        driver = ModbusStation(config, profile, hub)
        # The real poll path: the poller hands its batch to the gateway's publish.
        poller = Poller(site.settings.gateway_id, [driver], gateway.publish)
        await poller.poll_once(driver, datetime.now(UTC).replace(microsecond=0))
        await hub.close()
        batch = decode_batch((await raw.get()).payload)
        letter = json.loads((await dead.get()).payload)
    assert sorted(r.param for r in batch.readings) == ["station_online", "water_temp"]
    assert letter["station"] == "kim_long"
    assert "station kim_long param water_level: value -999 m" in letter["reason"]
    assert "possible range -50 … 100 m" in letter["reason"]
    assert gateway.rejected == 1


async def test_impossible_values_from_an_mqtt_station_are_dead_letters_and_the_rest_kept() -> None:
    site = load_site(EXAMPLE_SITE)
    bus = InProcessBus()
    raw = bus.subscribe("quantrac/v1/raw/+")
    dead = bus.subscribe(deadletter_topic(site.settings.gateway_id))
    gateway = GatewayService(site, bus, stations=[])
    message = {"ts": "2026-11-22T16:40:00", "pm25": 1e308, "PM10": 50_000, "NO2": 40, "SO2": 12}
    outcome = decoder().decode(
        "stations/hue_air_2/data",
        json.dumps(message).encode(),
        datetime(2026, 11, 22, 9, 40, tzinfo=UTC),
    )
    # 1e308 is no number at all: the MQTT input refuses it before it is a reading, naming it.
    assert outcome.station == "hue_air_2"
    assert [str(p) for p in outcome.problems] == ["bad_value: pm25: out of range"]
    async with bus:
        await gateway.accept(outcome.station, outcome.readings)
        batch = decode_batch((await raw.get()).payload)
        letter = json.loads((await dead.get()).payload)
    # 50,000 µg/m³ of PM10 is a number, but not one air can hold: the gateway's range.
    assert sorted(r.param for r in batch.readings) == ["no2", "so2"]
    assert letter["station"] == "hue_air_2"
    assert "station hue_air_2 param pm10: value 50000 µg/m³" in letter["reason"]
    assert letter["size"] > 0
    assert len(letter["sha256"]) == 64
