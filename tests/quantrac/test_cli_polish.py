"""The CLI as a new user meets it (issue 17): --version, readable help, plain errors off a
terminal, whole incident ids, numbers that wrap instead of being cut, a --data-dir that must
exist, one time format."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.incidents import IncidentManager, IncidentStore
from alerting.model import AlertKind, Severity, Signal
from gateway.config import TcpConnection
from gateway.model import VIETNAM_TZ, local_time, zone_of
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from tests.quantrac.test_cli import QUANTRAC
from tests.quantrac.test_technician_cli import AIR, AIR_VALUES
from tests.servers import free_port

BOXES = set("╭╮╰╯│━┃")


def run(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    # Off a terminal, as in a script, a pipe or a log file.
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [*QUANTRAC, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("quantrac 0.")


def test_help_and_usage_errors_are_plain_and_readable() -> None:
    done = run("gateway", "--help")
    assert done.returncode == 0
    assert "Usage: python -m quantrac gateway [OPTIONS] SITE_DIR" in done.stdout
    assert "{site_dir}" not in done.stdout
    assert "<bool>" not in done.stdout  # --help and --verbose are flags, not booleans to type
    assert not BOXES & set(done.stdout)
    missing = run("gateway")
    assert missing.returncode == 2
    assert "Error: Missing argument 'SITE_DIR'." in missing.stderr
    assert not BOXES & set(missing.stderr)


def test_incidents_list_shows_the_whole_id_on_a_narrow_terminal(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / "incidents.sqlite3")
    now = datetime.now(UTC) - timedelta(minutes=5)
    rule = "phu_oc_raises_kim_long_flood_levels"
    IncidentManager(store).on_signal(
        Signal(rule, "kim_long", AlertKind.FLOOD, 2, Severity.CRITICAL, now)
    )
    store.close()
    done = run("incidents", "list", "--data-dir", str(tmp_path), columns=60)
    assert done.returncode == 0, done.stderr
    assert f"{rule}:kim_long" in done.stdout  # on one line, as `incidents ack` needs it
    assert local_time(now) in done.stdout


async def test_modbus_read_wraps_numbers_instead_of_cutting_them() -> None:
    port = free_port()
    connection = TcpConnection(host="127.0.0.1", port=port)
    async with SimulatedEndpoint(connection, [SimulatedDevice(1, AIR, lambda _t: AIR_VALUES)]):
        done = await _run_async(
            "modbus", "read", "--host", "127.0.0.1", "--port", str(port), "--table", "input",
            "--count", "4",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout


async def _run_async(*args: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(run, *args)


def test_a_data_dir_that_does_not_exist_is_an_error_unless_init(tmp_path: Path) -> None:
    typo = tmp_path / "dta"
    done = run("api", "--data-dir", str(typo), "--port", str(free_port()))
    assert done.returncode == 2
    assert f"--data-dir {typo} does not exist" in done.stderr
    assert "--init" in done.stderr
    assert not typo.exists()


def test_one_time_format_in_the_sites_zone() -> None:
    at = datetime(2026, 11, 22, 16, 40, 5, tzinfo=UTC)
    assert local_time(at) == "23:40 22/11"
    assert local_time(at, seconds=True) == "23:40:05 22/11"
    assert zone_of("Asia/Ho_Chi_Minh") is VIETNAM_TZ
    assert local_time(at, zone_of("Asia/Bangkok")) == "23:40 22/11"
    assert local_time(at, zone_of("UTC")) == "16:40 22/11"
