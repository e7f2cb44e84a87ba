"""One replay, loaded once by the real collector into a real influxd and a real victoria-metrics,
for every query test of the boards (tests/dashboards/load.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from collector.store.sqlite import SqliteStore
from quantrac.dashboards.build import generate
from quantrac.dashboards.catalog import BoardCatalog, catalog_of
from quantrac.dashboards.execute import Stores
from quantrac.runners import station_catalog
from quantrac.site import Site
from tests.conftest import EXAMPLE_SITE
from tests.dashboards.flood_and_smog import Replay
from tests.dashboards.load import load, replay_site
from tests.servers import Influxd, VictoriaMetrics


@dataclass
class Replayed:
    site: Site
    catalog: BoardCatalog
    replay: Replay
    stores: Stores
    boards: dict[str, dict[str, Any]]  # "influxdb/toan-tinh" → the board's JSON
    truth: SqliteStore  # the collector's local copy: what it stored and derived

    def board(self, flavour: str, slug: str) -> dict[str, Any]:
        return self.boards[f"{flavour}/{slug}"]

    def panel(self, flavour: str, slug: str, title: str) -> dict[str, Any]:
        board = self.board(flavour, slug)
        return next(p for p in board["panels"] if p["title"] == title)


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    root = tmp_path_factory.mktemp("dashboards")
    (root / "influxd").mkdir()
    (root / "vm").mkdir()
    influx = Influxd(root / "influxd")
    victoria = VictoriaMetrics(root / "vm")
    influx.start()
    try:
        victoria.start()
        site = replay_site(EXAMPLE_SITE, root / "site")
        replay = Replay.days_ago(2)
        for name, url in (("influx-data", influx.store_url), ("vm-data", victoria.store_url)):
            (root / name).mkdir()
            store = asyncio.run(load(site, replay, url, root / name))
            store.close()
        victoria.flush()
        catalog = catalog_of(site)
        boards = {
            name.removesuffix(".json"): json.loads(text)
            for name, text in generate(catalog).items()
            if name.endswith(".json")
        }
        truth = SqliteStore(root / "influx-data" / "recent.sqlite3", station_catalog(site))
        yield Replayed(
            site, catalog, replay, Stores(influx.url, influx.database, victoria.url), boards, truth
        )
        truth.close()
    finally:
        victoria.stop()
        influx.stop()
