"""`quantrac reload` on real service processes (SIGHUP through their pid files), and the API's
``POST /admin/reload`` with its roles."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from collector.store.sqlite import SqliteStore
from quantrac.api import ApiContext, create_app
from quantrac.auth import ApiSecurity, KeyStore, Role
from quantrac.reload import RUN_DIR, Reloader, api_hook
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.quantrac.test_cli import QUANTRAC, start, stop, wait_for_text
from tests.quantrac.test_reload import gauge, write_site
from tests.servers import Mosquitto, free_port

EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def reload_command(*args: str) -> tuple[int, str]:
    done = subprocess.run(
        [*QUANTRAC, "reload", *args], capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout + done.stderr


def stored(data: Path, station: str) -> int:
    path = data / "quantrac.sqlite3"
    if not path.exists():
        return 0
    store = SqliteStore(path)
    try:
        return len(store.range(station, "water_level", EARLIEST, LATEST))
    finally:
        store.close()


def wait_until(predicate: object, what: str, timeout_s: float = 20.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.2)


def test_quantrac_reload_signals_the_running_services(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    site, simulated, data = tmp_path / "site", tmp_path / "simulated", tmp_path / "data"
    data.mkdir()
    kim_long = gauge("kim_long", free_port())
    phu_oc = gauge("phu_oc", free_port())
    write_site(simulated, [kim_long, phu_oc], [])  # the loggers of both, from the start
    write_site(site, [kim_long], [])
    logs = {name: tmp_path / f"{name}.log" for name in ("simulate", "gateway", "collector")}
    processes.append(start("simulate", str(simulated), log=logs["simulate"]))
    wait_for_text(logs["simulate"], "unit 1", 20)
    common = ["--broker", mosquitto.url, "--data-dir", str(data)]
    processes.append(start("collector", str(site), *common, log=logs["collector"]))
    processes.append(start("gateway", str(site), *common, log=logs["gateway"]))
    wait_until(lambda: stored(data, "kim_long") >= 2, "kim_long stored")
    wait_until(lambda: len(list((data / RUN_DIR).glob("*.pid"))) == 2, "both announced")

    # A broken site is refused by the command itself: nobody is signalled.
    broken = site / "stations" / "broken.yaml"
    broken.write_text(yaml.safe_dump({"stations": [{"id": "ghost"}]}), "utf-8")
    code, output = reload_command(str(site), "--data-dir", str(data))
    assert code == 1, output
    assert "nothing was reloaded" in output
    assert "broken.yaml: station ghost" in output
    # …and by each service, when the command is not given the site to check.
    code, output = reload_command("--data-dir", str(data))
    assert code == 1, output
    assert "✗ gateway-gw-reload: refused, still running on its previous config" in output
    assert "broken.yaml" in output
    broken.unlink()

    write_site(site, [kim_long, phu_oc], [])
    code, output = reload_command(str(site), "--data-dir", str(data))
    assert code == 0, output
    assert "✓ gateway-gw-reload: reloaded" in output
    assert "station phu_oc: started" in output
    assert "collector: station phu_oc added" in output
    wait_until(lambda: stored(data, "phu_oc") >= 2, "phu_oc stored after the reload")
    assert "refused" in logs["gateway"].read_text()  # the refusal was logged with its reason

    for process in reversed(processes):
        assert stop(process) == 0
    assert not list((data / RUN_DIR).glob("*.pid"))  # each service removed its pid file
    code, output = reload_command("--data-dir", str(data))
    assert code == 2
    assert "no running quantrac service" in output


@pytest.fixture
async def admin_api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    site_dir = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site_dir)
    site = load_site(site_dir)
    keys = KeyStore(tmp_path / "api-keys.sqlite3")
    now = datetime.now(UTC)
    made = {role.label: keys.create(role.label, role, now)[1] for role in Role}
    store = SqliteStore(tmp_path / "q.sqlite3")
    context = ApiContext(store=store, stations=dict(site.stations), security=ApiSecurity(keys))
    app = create_app(context)
    reloader = Reloader("api", site_dir, tmp_path / RUN_DIR)
    reloader.add("api", api_hook(context))
    app.state.reloader = reloader
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, made
    store.close()


async def test_admin_reload_route(
    admin_api: tuple[httpx.AsyncClient, dict[str, str]], tmp_path: Path
) -> None:
    client, keys = admin_api
    site_dir = tmp_path / "site"

    def as_(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    async def station_ids() -> set[str]:
        response = await client.get("/stations", headers=as_("viewer"))
        return {station["id"] for station in response.json()}

    assert (await client.post("/admin/reload")).status_code == 401
    assert (await client.post("/admin/reload", headers=as_("operator"))).status_code == 403
    response = await client.post("/admin/reload", headers=as_("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert response.json()["changes"] == []

    (site_dir / "stations" / "air.yaml").unlink()
    (site_dir / "rules.yaml").write_text("[]\n")  # its rules name the air station
    response = await client.post("/admin/reload", headers=as_("admin"))
    assert response.status_code == 200, response.text
    assert "api: station hue_air removed" in response.json()["changes"]
    assert "hue_air" not in await station_ids()

    (site_dir / "rules.yaml").write_text("- {id: x, type: threshold, stations: [nowhere]}\n")
    response = await client.post("/admin/reload", headers=as_("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any("rules.yaml" in p for p in response.json()["problems"])
    assert "kim_long" in await station_ids()  # the previous config still serves
    audit = (await client.get("/audit", headers=as_("admin"))).json()
    assert [e["action"] for e in audit][:3] == ["reload", "reload", "reload"]
