"""`quantrac station add|list|disable|enable|remove` and `station probe`'s device status,
against real pymodbus servers, with the technician's answers scripted on stdin."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml
from typer.testing import CliRunner

from collector.qc import QcChain, QcSettings
from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.config import TcpConnection
from gateway.model import DeviceStatus
from gateway.profiles import default_profiles_dir, load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from quantrac.cli import app as cli
from quantrac.reload import RUN_DIR, Reloader, collector_hook, gateway_hook
from quantrac.runners import GatewayService, station_catalog
from quantrac.site import load_site
from quantrac.site_edit import add_station
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running
from tests.quantrac.test_reload import gauge, write_site
from tests.servers import free_port

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")
EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
HYDRO_HEADER = "# River gauges of the test site: kept as written by station add.\n"


async def quantrac(*args: str, answers: list[str]) -> tuple[int, str]:
    """The command in a process of its own, its prompts answered line by line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantrac", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    output, _ = await process.communicate("".join(f"{a}\n" for a in answers).encode())
    assert process.returncode is not None
    return process.returncode, output.decode()


def radar(level: float, status: DeviceStatus = DeviceStatus.MEASURING) -> SimulatedDevice:
    return SimulatedDevice(1, RADAR, lambda _t: {"water_level": level}, lambda _t: status)


async def test_station_add_probes_writes_and_the_running_gateway_reads_it(tmp_path: Path) -> None:
    site_dir, data = tmp_path / "site", tmp_path / "data"
    data.mkdir()
    kim_long_port, ben_van_port = free_port(), free_port()
    write_site(site_dir, [gauge("kim_long", kim_long_port)], [])
    hydro = site_dir / "stations" / "hydro.yaml"
    original = HYDRO_HEADER + hydro.read_text("utf-8")
    hydro.write_text(original, "utf-8")
    site = load_site(site_dir)
    bus = InProcessBus()
    store = SqliteStore(data / "quantrac.sqlite3", station_catalog(site))
    collector = Collector(bus, store, qc=QcChain(QcSettings(site.stations)))
    gateway = GatewayService(site, bus, outbox_path=data / "outbox.sqlite3")
    # The running services of this site are this test process: the command's reload is a
    # SIGHUP to it, through the pid file.
    reloader = Reloader("gateway-gw-reload", site_dir, data / RUN_DIR)
    reloader.add("gateway", gateway_hook(gateway))
    reloader.add("collector", collector_hook(collector))
    endpoints = [
        SimulatedEndpoint(TcpConnection(host="127.0.0.1", port=kim_long_port), [radar(1.25)]),
        SimulatedEndpoint(TcpConnection(host="127.0.0.1", port=ben_van_port), [radar(2.25)]),
    ]
    try:
        for endpoint in endpoints:
            await endpoint.start()
        async with reloader.serving(), running(collector.run(), gateway.run()):
            code, output = await quantrac(
                "station", "add", "--site", str(site_dir), "--data-dir", str(data),
                answers=[
                    "radar_level_mm",  # profile
                    "ben_van", "Bến Văn", "Hương Trà",  # id, name, district
                    "",  # transport: tcp (the default)
                    "127.0.0.1", str(ben_van_port), "",  # host, port, unit 1 (the default)
                    "1",  # poll interval, s
                    "y", "y", "y",  # add it, write the file, reload
                ],
            )  # fmt: skip
            assert code == 0, output
            # The live device's decoded table with its verdict, then the diff of the file.
            row = next(line for line in output.splitlines() if "holding 0 int16" in line)
            assert "2.25" in row
            assert "ok" in row
            assert "device status: measuring (code 0)" in output
            assert "probe: every parameter ok" in output
            assert f"+++ {hydro}" in output
            assert "+- id: ben_van" in output
            assert "✓ gateway-gw-reload: reloaded" in output
            assert "station ben_van: started" in output

            def levels() -> list[float]:
                found = store.range("ben_van", "water_level", EARLIEST, LATEST)
                return [r.value for r in found]

            await eventually(lambda: len(levels()) >= 2, 10, "ben_van's readings stored")
            assert set(levels()) == {2.25}
    finally:
        for endpoint in endpoints:
            await endpoint.stop()
        store.close()

    text = hydro.read_text("utf-8")
    assert text.startswith(original)  # appended; the comment and kim_long as they were
    written = yaml.safe_load(text)["stations"][1]
    assert written == {
        "id": "ben_van",
        "name": "Bến Văn",
        "kind": "hydro",
        "district": "Hương Trà",
        "source": {
            "driver": "modbus",
            "profile": "radar_level_mm",
            "connection": {"transport": "tcp", "host": "127.0.0.1", "port": ben_van_port},
            "unit": 1,
            "interval_s": 1,
        },
    }
    assert "ben_van" in load_site(site_dir).stations


async def test_a_device_that_does_not_answer_is_not_added_unless_asked(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    write_site(site_dir, [gauge("kim_long", free_port())], [])
    before = (site_dir / "stations" / "hydro.yaml").read_text("utf-8")
    code, output = await quantrac(
        "station", "add", "--site", str(site_dir), "--profile", "radar_level_mm",
        "--id", "ben_van", "--name", "Bến Văn", "--district", "Hương Trà",
        "--host", "127.0.0.1", "--port", str(free_port()), "--unit", "1", "--interval", "60",
        "--transport", "tcp", answers=["n"],
    )  # fmt: skip
    assert code == 1, output
    assert "the device did not answer" in output
    assert "cannot connect" in output
    assert (site_dir / "stations" / "hydro.yaml").read_text("utf-8") == before


async def test_station_probe_fails_on_a_device_error_showing_its_raw_code(tmp_path: Path) -> None:
    port = free_port()
    site_dir = tmp_path / "site"
    write_site(site_dir, [gauge("kim_long", port)], [])
    connection = TcpConnection(host="127.0.0.1", port=port)
    async with SimulatedEndpoint(connection, [radar(1.5, DeviceStatus.ERROR)]):
        code, output = await quantrac(
            "station", "probe", "kim_long", "--site", str(site_dir), answers=[]
        )
    assert code == 1, output
    assert "device status: error (code 2)" in output
    assert "the device reports an error: status code 2 in holding register 1" in output


def test_station_list_disable_enable_remove_keep_the_file_as_written(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site_dir)
    hydro = site_dir / "stations" / "hydro.yaml"
    original = hydro.read_text("utf-8")
    runner = CliRunner()

    def station(*args: str) -> str:
        result = runner.invoke(
            cli, ["station", *args, "--site", str(site_dir), "--yes", "--no-reload"]
        )
        assert result.exit_code == 0, result.output
        return result.output

    station("disable", "phu_oc")
    text = hydro.read_text("utf-8")
    assert "  - id: phu_oc\n    enabled: false\n" in text
    site = load_site(site_dir)
    assert "phu_oc" in site.disabled
    assert "phu_oc" not in site.stations
    listing = runner.invoke(
        cli, ["station", "list", "--site", str(site_dir)], env={"COLUMNS": "200"}
    )
    row = next(line for line in listing.output.splitlines() if "phu_oc" in line)
    assert "disabled" in row
    assert "stations/hydro.yaml" in row

    station("enable", "phu_oc")
    assert hydro.read_text("utf-8") == original

    # phu_oc is named by rules.yaml: removing it would break the rules, so it is refused.
    result = runner.invoke(
        cli, ["station", "remove", "phu_oc", "--site", str(site_dir), "--yes", "--no-reload"]
    )
    assert result.exit_code == 1
    assert "rules.yaml: rule flood_levels: stations: unknown station 'phu_oc'" in result.output
    assert hydro.read_text("utf-8") == original

    # A station no rule names goes, and only it: the file is as it was before it came.
    hydro.write_text(add_station(original, gauge("ben_van", 15029)), "utf-8")
    station("remove", "ben_van")
    assert hydro.read_text("utf-8") == original
