"""Hot reload on running services (issue 17): gateway, collector and alerting in one process on
the in-process bus, real pymodbus servers, a real outbox and SQLite store. A Modbus station and
a rule are added, changed and removed by editing the site and reloading; a broken site is
refused while the old one runs on; the outbox keeps every batch throughout."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from collector.qc import QcChain, QcSettings
from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.config import TcpConnection
from gateway.profiles import default_profiles_dir, load_profile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint
from quantrac.alerting_app import build_alerting
from quantrac.reload import (
    RUN_DIR,
    Reloader,
    alerting_hook,
    collector_hook,
    gateway_hook,
    running_services,
)
from quantrac.runners import GatewayService, station_catalog
from quantrac.site import load_site
from tests.helpers import eventually, running
from tests.servers import free_port

EARLIEST = datetime(2020, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")


def gauge(station_id: str, port: int, **source: Any) -> dict[str, Any]:
    return {
        "id": station_id,
        "name": station_id.replace("_", " ").title(),
        "kind": "hydro",
        "district": "Phú Xuân",
        "source": {
            "profile": "radar_level_mm",
            "connection": {"host": "127.0.0.1", "port": port},
            "interval_s": 1,
            "timeout_s": 0.5,
            "retries": 0,
            **source,
        },
    }


def high_water(rule_id: str, station: str, above: float) -> dict[str, Any]:
    return {
        "id": rule_id,
        "type": "threshold",
        "stations": [station],
        "param": "water_level",
        "levels": [{"above": above, "recovery": above - 0.1, "label": "cao"}],
    }


def write_site(site: Path, stations: list[dict[str, Any]], rules: list[dict[str, Any]]) -> None:
    (site / "stations").mkdir(parents=True, exist_ok=True)
    (site / "site.yaml").write_text("name: Thử nghiệm\ngateway_id: gw-reload\n", "utf-8")
    document = {"stations": stations}
    (site / "stations" / "hydro.yaml").write_text(yaml.safe_dump(document), "utf-8")
    (site / "rules.yaml").write_text(yaml.safe_dump(rules), "utf-8")


def fixed_level(level: float, _elapsed: float) -> dict[str, float]:
    return {"water_level": level}


@contextlib.asynccontextmanager
async def gauges(levels: dict[int, float]) -> AsyncIterator[None]:
    """A radar gauge serving a fixed water level on each port."""
    async with contextlib.AsyncExitStack() as stack:
        for port, level in levels.items():
            connection = TcpConnection(host="127.0.0.1", port=port)
            device = SimulatedDevice(1, RADAR, functools.partial(fixed_level, level))
            await stack.enter_async_context(SimulatedEndpoint(connection, [device]))
        yield


async def test_stations_and_rules_change_on_running_services(tmp_path: Path) -> None:
    site_dir, data = tmp_path / "site", tmp_path / "data"
    data.mkdir()
    kim_long_port, phu_oc_port = free_port(), free_port()
    write_site(site_dir, [gauge("kim_long", kim_long_port)], [high_water("high", "kim_long", 5)])
    site = load_site(site_dir)

    bus = InProcessBus()
    store = SqliteStore(data / "quantrac.sqlite3", station_catalog(site))
    collector = Collector(bus, store, qc=QcChain(QcSettings(site.stations)))
    alerting = build_alerting(site, bus, data)
    gateway = GatewayService(site, bus, outbox_path=data / "outbox.sqlite3")
    reloader = Reloader("everything", site_dir, data / RUN_DIR)
    reloader.add("gateway", gateway_hook(gateway))
    reloader.add("collector", collector_hook(collector))
    reloader.add("alerting", alerting_hook(alerting))

    def levels(station: str) -> list[float]:
        return [r.value for r in store.range(station, "water_level", EARLIEST, LATEST)]

    try:
        async with (
            gauges({kim_long_port: 1.25, phu_oc_port: 3.5}),
            reloader.serving(),
            running(collector.run(), alerting.service.run(), gateway.run()),
        ):
            assert set(running_services(data / RUN_DIR)) == {"everything"}
            await eventually(lambda: len(levels("kim_long")) >= 2, 10, "kim_long stored")

            # Add a station and a rule on it: its readings arrive, its rule judges them.
            write_site(
                site_dir,
                [gauge("kim_long", kim_long_port), gauge("phu_oc", phu_oc_port)],
                [high_water("high", "kim_long", 5), high_water("high_phu_oc", "phu_oc", 3)],
            )
            report = await reloader.reload()
            assert report.ok, report
            assert "station phu_oc: started" in report.changes
            assert "rule high_phu_oc: added" in report.changes
            assert "collector: station phu_oc added" in report.changes
            await eventually(lambda: len(levels("phu_oc")) >= 2, 10, "phu_oc stored")
            await eventually(
                lambda: any(
                    i.station == "phu_oc" for i in alerting.service.incidents.open.values()
                ),
                10,
                "the new rule fired on the new station (3.5 m above 3 m)",
            )
            assert (data / RUN_DIR / "everything.reload.json").exists()

            # Change the station (a register rescaled in the field) and the rule's level.
            write_site(
                site_dir,
                [
                    gauge("kim_long", kim_long_port, registers=[{"param": "water_level",
                                                                  "scale": 0.002}]),
                    gauge("phu_oc", phu_oc_port),
                ],
                [high_water("high", "kim_long", 2), high_water("high_phu_oc", "phu_oc", 3)],
            )  # fmt: skip
            report = await reloader.reload()
            assert report.ok, report
            assert {"station kim_long: changed", "rule high: changed"} <= set(report.changes)
            assert "station phu_oc: changed" not in report.changes
            await eventually(lambda: 2.5 in levels("kim_long"), 10, "kim_long read rescaled")
            await eventually(
                lambda: any(
                    i.station == "kim_long" for i in alerting.service.incidents.open.values()
                ),
                10,
                "the changed rule fired on the changed station (2.5 m above 2 m)",
            )
            assert alerting.evaluator.slot("high_phu_oc", "phu_oc").level == 1  # kept

            # A broken site is refused, naming the file; the old one runs on.
            broken = site_dir / "stations" / "broken.yaml"
            broken.write_text(
                yaml.safe_dump({"stations": [gauge("ghost", free_port(), profile="no_such")]}),
                "utf-8",
            )
            report = await reloader.reload()
            assert not report.ok
            assert any("broken.yaml" in p and "no_such" in p for p in report.problems), report
            assert "ghost" not in gateway.poller.health
            polled = gateway.poller.health["kim_long"].polls
            await eventually(
                lambda: gateway.poller.health["kim_long"].polls >= polled + 2, 5, "still polled"
            )
            broken.unlink()

            # Remove the station and its rule: its polls stop, the other goes on.
            write_site(
                site_dir, [gauge("phu_oc", phu_oc_port)], [high_water("high_phu_oc", "phu_oc", 3)]
            )
            report = await reloader.reload()
            assert report.ok, report
            assert {"station kim_long: stopped", "rule high: removed"} <= set(report.changes)
            await asyncio.sleep(1.5)  # a poll started before the reload is stored
            stopped = len(levels("kim_long"))
            before = len(levels("phu_oc"))
            await eventually(lambda: len(levels("phu_oc")) >= before + 2, 10, "phu_oc goes on")
            assert len(levels("kim_long")) == stopped
            assert set(gateway.poller.health) == {"phu_oc"}
            assert [s.rule.id for s in alerting.evaluator.slots] == ["high_phu_oc"]

            # Nothing polled was lost: every batch the outbox took was stored and receipted.
            outbox = gateway.outbox
            assert outbox is not None
            await eventually(
                lambda: outbox.health()["backlog_batches"] == 0, 10, "the outbox emptied"
            )
            added = outbox.stats.added
            assert added == outbox.stats.acknowledged
            assert collector.stats.batches >= added
    finally:
        await alerting.aclose()
        store.close()
    assert running_services(data / RUN_DIR) == {}
