"""``quantrac dashboards build``: the files of ``dashboards/`` from a site.

:func:`generate` is pure (a catalog in, file name → text out); :func:`write` puts them on disk
and removes board files it no longer generates, so the folder is exactly the generator's output
(the drift test compares the two).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards.boards import BOARDS
from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.flavours import flavour_of
from quantrac.dashboards.provisioning import (
    DATASOURCES_FILE,
    PROVIDERS_FILE,
    datasources_yaml,
    providers_yaml,
)
from quantrac.dashboards.sdk import register

STORES = ("influxdb", "victoriametrics")


def dashboard_json(board: dashboard.Dashboard) -> str:
    """A board as Grafana reads it: stable key order, UTF-8 letters kept, a final newline.

    Written in the SDK model's own form — read back once, so the defaults its typed panel
    options carry are spelled out — which is what makes the file a fixed point of the round
    trip the checks hold it to.
    """
    register()
    plain = json.loads(json.dumps(board, cls=JSONEncoder))
    typed = dashboard.Dashboard.from_json(plain)
    return json.dumps(typed, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def boards(catalog: BoardCatalog, store: str) -> dict[str, dashboard.Dashboard]:
    """slug → board, for one flavour."""
    register()
    flavour = flavour_of(store, catalog.timezone)
    return {spec.slug: build(catalog, flavour) for spec, build in BOARDS}


def generate(catalog: BoardCatalog, stores: Iterable[str] = STORES) -> dict[str, str]:
    """Every file of the output folder: relative path → text."""
    files = {DATASOURCES_FILE: datasources_yaml(), PROVIDERS_FILE: providers_yaml()}
    for store in stores:
        for slug, board in boards(catalog, store).items():
            files[f"{store}/{slug}.json"] = dashboard_json(board)
    return files


def write(files: Mapping[str, str], out: Path) -> list[Path]:
    """Write the files under ``out``; delete other ``*.json`` in the flavour folders written
    (a board that was removed from the generator must not stay provisioned)."""
    written = []
    for relative, text in sorted(files.items()):
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    folders = {out / relative.split("/")[0] for relative in files if relative.endswith(".json")}
    for folder in folders:
        for stale in folder.glob("*.json"):
            if stale not in written:
                stale.unlink()
    return written
