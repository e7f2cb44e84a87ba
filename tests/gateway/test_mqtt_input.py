"""MQTT stations end to end: ``mosquitto_pub`` plays the station, a real Mosquitto in between."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from gateway.bus.mqtt import MqttSettings
from gateway.model import DeviceStatus, Reading
from gateway.mqtt_input.driver import MqttInput, mqtt_input_for
from gateway.streaming import Rejected
from quantrac.site import SiteConfigError, load_site
from tests.conftest import EXAMPLE_SITE
from tests.gateway.mqtt_stations import decoder
from tests.helpers import eventually, running
from tests.servers import Mosquitto, require_binary

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


class Collected:
    def __init__(self) -> None:
        self.readings: dict[str, list[Reading]] = {}
        self.rejected: list[Rejected] = []

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.readings.setdefault(station, []).extend(readings)

    async def dead_letter(self, rejected: Rejected) -> None:
        self.rejected.append(rejected)


async def mosquitto_pub(broker: Mosquitto, topic: str, payload: bytes | str) -> None:
    """The station: a separate process publishing one QoS 1 message."""
    message = payload.decode() if isinstance(payload, bytes) else payload
    process = await asyncio.create_subprocess_exec(
        require_binary("mosquitto_pub", "mosquitto-clients"),
        *("-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic, "-m", message),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


async def test_each_payload_shape_arrives_as_readings_with_the_device_time(
    mosquitto: Mosquitto,
) -> None:
    driver = MqttInput(decoder(), MqttSettings.from_url(mosquitto.url))
    got = Collected()
    # A device time a few minutes ago, written as the station's local time without offset.
    local = (datetime.now(HCM) - timedelta(minutes=7)).replace(microsecond=0, tzinfo=None)
    expected_utc = (local - timedelta(hours=7)).replace(tzinfo=UTC)  # Vietnam: UTC+7, no DST
    epoch_ms = int(expected_utc.timestamp() * 1000)
    async with running(driver.run(got.sink, got.dead_letter)):
        await eventually(lambda: driver.bus is not None and driver.bus.connected.is_set())
        flat = {"ts": local.isoformat(), "PM2,5": 35.2, "CO": 1.2, "status": "01", "rssi": -70}
        await mosquitto_pub(mosquitto, "stations/hue_air_2/data", json.dumps(flat))
        nested = {
            "device": {"id": "WL-0042"},
            "time": epoch_ms,
            "data": {"sensors": {"level": {"value": 215.0, "unit": "cm"}}},
            "state": "ok",
        }
        await mosquitto_pub(mosquitto, "hydro/uplink", json.dumps(nested))
        items = [
            {"param": "pH", "value": 7.2, "unit": "pH", "ts": local.isoformat()},
            {"param": "DO", "value": 6.1, "unit": "mg/L", "ts": expected_utc.isoformat()},
        ]
        await mosquitto_pub(mosquitto, "stations/sonde-7/readings", json.dumps({"readings": items}))
        before = datetime.now(UTC)
        await mosquitto_pub(mosquitto, "stations/a_luoi_rain/rain", "0.5")
        await mosquitto_pub(mosquitto, "stations/stranger/data", '{"ts": 1, "pm25": 1}')
        await mosquitto_pub(mosquitto, "stations/hue_air_2/data", "not json")
        await eventually(lambda: len(got.readings) == 4 and len(got.rejected) == 2)

    air = {r.param: r for r in got.readings["hue_air_2"]}
    assert {p: (r.value, r.unit) for p, r in air.items()} == {
        "pm25": (35.2, "µg/m³"),
        "co": (1200.0, "µg/m³"),
    }
    assert {r.ts for r in air.values()} == {expected_utc}
    assert {r.status for r in air.values()} == {DeviceStatus.CALIBRATING}
    (level,) = got.readings["kim_long_2"]
    assert (level.param, level.unit, level.ts) == ("water_level", "m", expected_utc)
    assert level.value == pytest.approx(2.15)
    water = {r.param: (r.value, r.ts) for r in got.readings["song_huong_wq"]}
    assert water == {"ph": (7.2, expected_utc), "do": (6.1, expected_utc)}
    (rain,) = got.readings["a_luoi_rain"]
    assert (rain.param, rain.value, rain.unit) == ("rain", 0.5, "mm")
    assert before <= rain.ts <= datetime.now(UTC)  # no clock: the arrival time, as profiled
    reasons = {r.source: (r.station, r.reason.split(":")[0]) for r in got.rejected}
    assert reasons == {
        "stations/stranger/data": ("", "unknown_station"),
        "stations/hue_air_2/data": ("hue_air_2", "not_json"),
    }
    health = driver.health()
    assert health["stations"]["hue_air_2"]["messages"] == 2
    assert health["stations"]["hue_air_2"]["readings"] == 2
    assert health["stations"]["hue_air_2"]["rejected"] == 1
    assert health["rejected"] == {"unknown_station": 1, "not_json": 1}


def _site_with_mqtt_stations(tmp_path: Path, profile: str, driver: str = "mqtt") -> Path:
    import shutil

    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    source: dict[str, object] = {"driver": driver, "profile": profile}
    if driver == "modbus":
        source["connection"] = {"host": "127.0.0.1", "port": 1502}
    station = {
        "id": "hue_air_2",
        "name": "Huế air 2",
        "kind": "air",
        "district": "Huế",
        "source": source,
    }
    (site / "stations" / "mqtt.yaml").write_text(
        yaml.safe_dump({"stations": [station]}, allow_unicode=True), encoding="utf-8"
    )
    return site


def test_the_site_loads_mqtt_profiles_and_the_factory_builds_the_driver(tmp_path: Path) -> None:
    site = load_site(_site_with_mqtt_stations(tmp_path, "aqi_sensor_mqtt_json"))
    assert "aqi_sensor_mqtt_json" in site.mqtt_profiles
    assert site.mqtt_profile_of(site.stations["hue_air_2"]).shape == "flat"
    driver = mqtt_input_for(site, broker_url="mqtt://127.0.0.1:1884")
    assert driver is not None
    assert list(driver.decoder.routes) == ["hue_air_2"]
    assert driver.settings.client_id == f"quantrac-{site.settings.gateway_id}-stations"
    assert mqtt_input_for(load_site(EXAMPLE_SITE)) is None  # no MQTT station: no driver


@pytest.mark.parametrize(
    ("profile", "driver", "message"),
    [
        ("radar_level_mm", "mqtt", "is a Modbus profile"),
        ("aqi_sensor_mqtt_json", "modbus", "is an MQTT profile"),
    ],
)
def test_a_station_must_name_a_profile_of_its_protocol(
    tmp_path: Path, profile: str, driver: str, message: str
) -> None:
    with pytest.raises(SiteConfigError) as caught:
        load_site(_site_with_mqtt_stations(tmp_path, profile, driver))
    (problem,) = caught.value.problems
    assert (problem.station, problem.field) == ("hue_air_2", "source.profile")
    assert message in problem.message
