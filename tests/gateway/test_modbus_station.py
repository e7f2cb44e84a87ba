"""The Modbus slice against real pymodbus servers on loopback TCP."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from gateway.config import StationConfig, TcpConnection
from gateway.modbus.hub import ModbusHub, ModbusReadError
from gateway.modbus.station import ModbusStation, ReadBlock, decode_station, plan_reads
from gateway.model import DeviceStatus, ReadingBatch
from gateway.poller import Poller
from gateway.profiles import DeviceProfile, RegisterTable, default_profiles_dir, load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint, profile_registers
from tests.servers import free_port

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")
AIR = load_profile(default_profiles_dir() / "air_quality_analyser.yaml")
NOW = datetime(2026, 11, 22, 16, 40, tzinfo=UTC)


def station(
    station_id: str, port: int, *, unit: int = 1, profile: str = "radar_level_mm"
) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": station_id,
            "name": station_id,
            "kind": "hydro" if profile == "radar_level_mm" else "air",
            "district": "Phú Xuân",
            "source": {
                "profile": profile,
                "connection": {"host": "127.0.0.1", "port": port},
                "unit": unit,
                "interval_s": 1,
                "timeout_s": 0.5,
                "retries": 0,
            },
        }
    )


def tcp(port: int, pause_ms: float = 0.0) -> TcpConnection:
    return TcpConnection(host="127.0.0.1", port=port, frame_pause_ms=pause_ms)


def fixed(values: Mapping[str, float]) -> SimulatedDevice:
    return SimulatedDevice(1, RADAR, lambda _t: values)


@pytest.mark.parametrize(
    ("profile", "fill_gap", "expected"),
    [
        (RADAR, 0, [ReadBlock("holding", 0, 2)]),
        # Six float32 in input 0..11 and the status at input 20: a gap of 8 registers.
        (AIR, 0, [ReadBlock("input", 0, 12), ReadBlock("input", 20, 1)]),
        (AIR, 8, [ReadBlock("input", 0, 21)]),
        (AIR, 7, [ReadBlock("input", 0, 12), ReadBlock("input", 20, 1)]),
    ],
    ids=["radar", "air-no-gap", "air-gap-8-merges", "air-gap-7-splits"],
)
def test_plan_reads_merges_adjacent_registers(
    profile: DeviceProfile, fill_gap: int, expected: list[ReadBlock]
) -> None:
    assert plan_reads(profile, fill_gap=fill_gap) == expected


def test_plan_reads_never_exceeds_the_protocol_limit() -> None:
    registers = [
        {"param": "water_level", "address": 0, "type": "int16", "unit": "m", "scale": 0.001},
        {"param": "rain", "address": 124, "type": "float32", "unit": "mm"},
    ]
    profile = DeviceProfile.model_validate(
        {"id": "wide", "model": "wide", "kind": "hydro", "registers": registers}
    )
    assert plan_reads(profile, fill_gap=200) == [
        ReadBlock("holding", 0, 1),
        ReadBlock("holding", 124, 2),
    ]


@pytest.mark.parametrize(
    ("words", "value", "status"),
    [
        ({("holding", 0): 1234, ("holding", 1): 0}, 1.234, DeviceStatus.MEASURING),
        ({("holding", 0): 0xFFFF, ("holding", 1): 0}, -0.001, DeviceStatus.MEASURING),
        ({("holding", 0): 2250, ("holding", 1): 1}, 2.25, DeviceStatus.CALIBRATING),
        ({("holding", 0): 2250, ("holding", 1): 3}, 2.25, DeviceStatus.ERROR),
        ({("holding", 0): 2250, ("holding", 1): 77}, 2.25, DeviceStatus.ERROR),  # unknown code
        ({("holding", 0): 32767, ("holding", 1): 0}, math.nan, DeviceStatus.ERROR),  # sentinel
    ],
    ids=["level", "negative", "calibrating", "fault", "unknown-status", "echo-lost"],
)
def test_decode_radar_registers(
    words: dict[tuple[RegisterTable, int], int], value: float, status: DeviceStatus
) -> None:
    (reading,) = decode_station("kim_long", RADAR, words, NOW)
    assert reading.param == "water_level"
    assert reading.unit == "m"
    assert reading.ts == NOW
    assert reading.status is status
    if math.isnan(value):
        assert math.isnan(reading.value)
    else:
        assert reading.value == pytest.approx(value)


def test_simulator_registers_decode_back_to_the_same_values() -> None:
    values = {"pm25": 35.5, "pm10": 61.25, "no2": 40.0, "so2": 12.5, "co": 950.0, "o3": 80.75}
    words = profile_registers(AIR, values, DeviceStatus.CALIBRATING)
    readings = decode_station("hue_air", AIR, words, NOW)
    assert {r.param: r.value for r in readings} == values
    assert {r.status for r in readings} == {DeviceStatus.CALIBRATING}


async def test_station_read_from_a_real_server() -> None:
    port = free_port()
    async with SimulatedEndpoint(tcp(port), [fixed({"water_level": 2.25})]):
        hub = ModbusHub(tcp(port))
        readings = await ModbusStation(station("kim_long", port), RADAR, hub).read(NOW)
        await hub.close()
    assert [(r.param, r.value, r.status) for r in readings] == [
        ("water_level", 2.25, DeviceStatus.MEASURING)
    ]


async def test_several_slaves_share_one_endpoint_through_one_hub() -> None:
    port = free_port()
    devices = [
        SimulatedDevice(1, RADAR, lambda _t: {"water_level": 1.5}),
        SimulatedDevice(2, RADAR, lambda _t: {"water_level": 2.5}),
        SimulatedDevice(3, AIR, lambda _t: {"pm25": 42.0}),
    ]
    async with SimulatedEndpoint(tcp(port), devices):
        hub = ModbusHub(tcp(port, pause_ms=5))
        stations = [
            ModbusStation(station("a", port, unit=1), RADAR, hub),
            ModbusStation(station("b", port, unit=2), RADAR, hub),
            ModbusStation(station("c", port, unit=3, profile="air_quality_analyser"), AIR, hub),
        ]
        # Concurrent reads on one hub are serialised by its lock, not interleaved on the wire.
        results = await asyncio.gather(*(s.read(NOW) for s in stations))
        await hub.close()
    assert results[0][0].value == 1.5
    assert results[1][0].value == 2.5
    assert {r.param: r.value for r in results[2]}["pm25"] == 42.0


async def test_an_exception_response_names_unit_table_and_address() -> None:
    port = free_port()
    async with SimulatedEndpoint(tcp(port), [fixed({"water_level": 1.0})]):
        hub = ModbusHub(tcp(port))
        with pytest.raises(
            ModbusReadError, match=r"unit 1 holding registers 500\.\.501: exception 2"
        ):
            await hub.read(1, "holding", 500, 2, timeout_s=0.5, retries=0)
        # The line still works after the device said no.
        assert await hub.read(1, "holding", 0, 1, timeout_s=0.5) == [1000]
        await hub.close()


async def test_no_server_is_a_read_error_naming_the_endpoint() -> None:
    port = free_port()
    hub = ModbusHub(tcp(port))
    with pytest.raises(
        ModbusReadError, match=rf"tcp://127\.0\.0\.1:{port} unit 1 .*cannot connect"
    ):
        await hub.read(1, "holding", 0, 2, timeout_s=0.3, retries=1)


async def test_a_dead_station_is_offline_logged_once_and_others_keep_flowing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    live_port, dead_port = free_port(), free_port()
    batches: list[ReadingBatch] = []

    async def publish(batch: ReadingBatch) -> None:
        batches.append(batch)

    async with SimulatedEndpoint(tcp(live_port), [fixed({"water_level": 1.75})]):
        live = ModbusStation(station("kim_long", live_port), RADAR, ModbusHub(tcp(live_port)))
        dead_hub = ModbusHub(tcp(dead_port), reconnect_min_s=0.0)
        dead = ModbusStation(station("phu_oc", dead_port), RADAR, dead_hub)
        poller = Poller("gw-test", [live, dead], publish)
        with caplog.at_level(logging.DEBUG, logger="gateway.poller"):
            for _ in range(3):
                await asyncio.gather(poller.poll_once(live, NOW), poller.poll_once(dead, NOW))
        # The dead station comes to life: polling resumes by itself.
        async with SimulatedEndpoint(tcp(dead_port), [fixed({"water_level": 0.9})]):
            with caplog.at_level(logging.INFO, logger="gateway.poller"):
                recovered = await poller.poll_once(dead, NOW)

    live_batches = [b for b in batches if b.station == "kim_long"]
    assert [r.value for b in live_batches for r in b.readings if r.param == "water_level"] == [
        1.75
    ] * 3
    dead_batches = [b for b in batches if b.station == "phu_oc"][:3]
    for batch in dead_batches:
        assert [(r.param, r.value) for r in batch.readings] == [("station_online", 0.0)]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "phu_oc: offline" in errors[0].getMessage()
    assert f"127.0.0.1:{dead_port}" in errors[0].getMessage()
    assert any("back online after 3" in r.getMessage() for r in caplog.records)
    health = poller.health["phu_oc"]
    assert (health.online, health.errors, health.consecutive_failures) == (True, 3, 0)
    assert {(r.param, r.value) for r in recovered.readings} == {
        ("water_level", 0.9),
        ("station_online", 1.0),
    }
    assert [b.seq for b in batches] == sorted({b.seq for b in batches})  # numbered, no repeats


async def test_poller_runs_each_station_on_its_aligned_interval() -> None:
    port = free_port()
    batches: list[ReadingBatch] = []

    async def publish(batch: ReadingBatch) -> None:
        batches.append(batch)

    async with SimulatedEndpoint(tcp(port), [fixed({"water_level": 1.0})]):
        hub = ModbusHub(tcp(port))
        poller = Poller("gw-test", [ModbusStation(station("kim_long", port), RADAR, hub)], publish)
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(3.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await hub.close()
    assert 2 <= len(batches) <= 4
    for batch in batches:
        ts = batch.readings[0].ts
        assert ts.microsecond == 0  # aligned to whole seconds of the 1 s interval
