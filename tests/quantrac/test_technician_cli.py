"""`quantrac modbus read|scan` and `quantrac station probe` against real pymodbus servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import yaml

from gateway.config import TcpConnection
from gateway.profiles import default_profiles_dir, load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from tests.conftest import EXAMPLE_SITE
from tests.servers import free_port

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")
AIR = load_profile(default_profiles_dir() / "air_quality_analyser.yaml")
AIR_VALUES = {"pm25": 45.75, "pm10": 77.5, "no2": 40.0, "so2": 11.25, "co": 1986.0, "o3": 90.5}


async def quantrac(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quantrac",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "250"},
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


def endpoint(port: int) -> TcpConnection:
    return TcpConnection(host="127.0.0.1", port=port)


async def test_modbus_read_shows_each_float_in_every_layout() -> None:
    port = free_port()
    async with SimulatedEndpoint(endpoint(port), [SimulatedDevice(1, AIR, lambda _t: AIR_VALUES)]):
        code, output = await quantrac(
            "modbus",
            "read",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--table",
            "input",
            "--address",
            "0",
            "--count",
            "12",
        )
    assert code == 0, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if line.count("│") > 8}
    assert set(rows) >= {str(a) for a in range(12)}
    cells = [c.strip() for c in rows["0"].split("│")]
    # addr, hex, uint16, int16, float32 ABCD … : PM2.5 is big-endian float32 at input 0.
    assert cells[1:6] == ["0", "4237", "16951", "16951", "45.75"]
    assert [c.strip() for c in rows["2"].split("│")][5] == "77.5"


async def test_modbus_read_of_a_dead_endpoint_says_where() -> None:
    port = free_port()
    code, output = await quantrac("modbus", "read", "--host", "127.0.0.1", "--port", str(port))
    assert code == 1
    assert f"tcp://127.0.0.1:{port} unit 1 holding registers 0..9" in output
    assert "cannot connect" in output


async def test_modbus_scan_finds_exactly_the_units_on_the_line() -> None:
    port = free_port()
    devices = [
        SimulatedDevice(2, RADAR, lambda _t: {"water_level": 1.0}),
        SimulatedDevice(5, RADAR, lambda _t: {"water_level": 2.0}),
    ]
    async with SimulatedEndpoint(endpoint(port), devices):
        code, output = await quantrac(
            "modbus",
            "scan",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--units",
            "1-6",
            "--timeout",
            "0.2",
        )
    assert code == 0, output
    assert "2 of 6 unit ids answer" in output
    found = [line.split("│")[1].strip() for line in output.splitlines() if "holding 0 =" in line]
    assert found == ["2", "5"]
    assert "holding 0 = 2000 (0x07D0)" in output


def probe_site(tmp_path: Path, port: int, limits: tuple[float, float] | None = None) -> Path:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    hydro = site / "stations" / "hydro.yaml"
    document = yaml.safe_load(hydro.read_text())
    kim_long = document["stations"][0]
    kim_long["source"]["connection"]["port"] = port
    if limits is not None:
        kim_long["source"]["registers"] = [{"param": "water_level", "limits": list(limits)}]
    hydro.write_text(yaml.safe_dump(document, allow_unicode=True))
    return site


async def test_station_probe_shows_raw_value_and_verdict(tmp_path: Path) -> None:
    port = free_port()
    site = probe_site(tmp_path, port)
    device = SimulatedDevice(1, RADAR, lambda _t: {"water_level": 2.25})
    async with SimulatedEndpoint(endpoint(port), [device]):
        code, output = await quantrac("station", "probe", "kim_long", "--site", str(site))
    assert code == 0, output
    row = next(line for line in output.splitlines() if "water_level" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == [
        "water_level",
        "holding 0 int16 ABCD",
        "08CA",
        "2250",
        "2.25",
        "m",
        "-10 … 60",
        "ok",
    ]
    assert "device status: measuring" in output


async def test_station_probe_flags_a_value_outside_the_sensors_limits(tmp_path: Path) -> None:
    port = free_port()
    site = probe_site(tmp_path, port, limits=(0.0, 10.0))  # a 10 m radar
    device = SimulatedDevice(1, RADAR, lambda _t: {"water_level": 12.5})
    async with SimulatedEndpoint(endpoint(port), [device]):
        code, output = await quantrac("station", "probe", "kim_long", "--site", str(site))
    assert code == 1
    row = next(line for line in output.splitlines() if "water_level" in line)
    assert "out of limits" in row
    assert "0 … 10" in row


async def test_station_probe_of_an_unknown_station_lists_the_known_ones() -> None:
    code, output = await quantrac("station", "probe", "nowhere", "--site", str(EXAMPLE_SITE))
    assert code == 2
    assert "no station 'nowhere'" in output
    assert "kim_long" in output
