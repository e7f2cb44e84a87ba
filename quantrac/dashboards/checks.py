"""The generated boards held to the library's model and to the Grafana rules that bite (pure).

- **Round trip**: a board's JSON read into grafana-foundation-sdk's typed model and written
  again is the same JSON — nothing in it is outside what the SDK (and Grafana's schema behind
  it) knows, no query is read as an unknown kind.
- **Grafana's rules**: panel ids unique; every panel inside the 24 columns and no two
  overlapping; every datasource uid one the provisioning file defines; thresholds ascending,
  the first open below (``null``), colours Grafana can draw; every ``$variable`` a query uses
  defined on the board.

Each check returns the problems it found, as sentences naming the board and the panel; the
build refuses to write boards with problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards.layout import GRID_COLUMNS
from quantrac.dashboards.sdk import register

# Grafana's own datasources a board may name without provisioning them.
BUILT_IN_UIDS = frozenset({"-- Grafana --", "-- Mixed --", "-- Dashboard --", "grafana"})
# The named colours of Grafana's palette the boards use, besides #RRGGBB and rgba().
NAMED_COLOURS = frozenset({"transparent", "green", "red", "orange", "yellow", "blue", "purple"})
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
_RGBA = re.compile(r"^rgba?\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*(,\s*(0|1|0?\.\d+)\s*)?\)$")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# Macros and globals Grafana substitutes itself (docs/dashboards.md, "Queries").
GRAFANA_NAMES = frozenset(
    {"timeFilter", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
     "__rate_interval", "__from", "__to", "tag_station", "tag_param"}
)  # fmt: skip


def round_trip(board: Mapping[str, Any]) -> list[str]:
    """Problems reading the board into the SDK's model and back (empty: the same JSON)."""
    register()
    typed = dashboard.Dashboard.from_json(dict(board))
    again = json.loads(json.dumps(typed, cls=JSONEncoder))
    if again == board:
        return []
    return [
        f"{board.get('title')}: {path} differs after the SDK's round trip"
        for path in _diff(board, again)
    ]


def _diff(a: object, b: object, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _diff(a.get(key), b.get(key), f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _diff(x, y, f"{path}[{index}]")
    elif a != b:
        yield path or "."


def _panels(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board.get("panels") or [] if isinstance(p, dict)]


def datasource_uids(board: Mapping[str, Any]) -> set[str]:
    """Every datasource uid the board names: panels, targets, annotations."""
    uids = set()
    for panel in _panels(board):
        for holder in [panel, *(panel.get("targets") or [])]:
            datasource = holder.get("datasource")
            if isinstance(datasource, dict) and datasource.get("uid"):
                uids.add(str(datasource["uid"]))
    for annotation in (board.get("annotations") or {}).get("list", []):
        datasource = annotation.get("datasource") or {}
        if datasource.get("uid"):
            uids.add(str(datasource["uid"]))
    return uids


def _all_thresholds(panel: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    config = panel.get("fieldConfig") or {}
    defaults = config.get("defaults") or {}
    if "thresholds" in defaults:
        yield "defaults", defaults["thresholds"]
    for override in config.get("overrides") or []:
        for prop in override.get("properties") or []:
            if prop.get("id") == "thresholds":
                yield f"override {override.get('matcher', {}).get('options')}", prop.get("value")


def colour_ok(colour: object) -> bool:
    return isinstance(colour, str) and bool(
        _HEX.match(colour) or _RGBA.match(colour) or colour in NAMED_COLOURS
    )


def threshold_problems(where: str, config: Any) -> list[str]:
    steps = config.get("steps") if isinstance(config, dict) else None
    if not steps:
        return [f"{where}: thresholds without steps"]
    problems = []
    if steps[0].get("value") is not None:
        problems.append(f"{where}: the first threshold step must be open below (value null)")
    values = [s.get("value") for s in steps[1:]]
    if any(v is None for v in values) or values != sorted(v for v in values if v is not None):
        problems.append(f"{where}: threshold values must ascend: {values}")
    for step in steps:
        if not colour_ok(step.get("color")):
            problems.append(f"{where}: {step.get('color')!r} is not a colour Grafana draws")
    return problems


def grafana_problems(board: Mapping[str, Any], provisioned: set[str]) -> list[str]:
    """Grafana's rules for one board; ``provisioned``: the uids the datasource file defines."""
    title = board.get("title")
    problems: list[str] = []
    panels = _panels(board)
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids) or None in ids:
        problems.append(f"{title}: panel ids are not unique: {ids}")
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        where = f"{title} / {panel.get('title')}"
        grid = panel.get("gridPos") or {}
        x, y, w, h = (int(grid.get(k, -1)) for k in ("x", "y", "w", "h"))
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            problems.append(f"{where}: gridPos {grid} is outside the 24 columns")
            continue
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in cells:
                problems.append(f"{where}: overlaps {cells[cell]!r}")
                break
            cells[cell] = str(panel.get("title"))
        for part, config in _all_thresholds(panel):
            problems.extend(threshold_problems(f"{where} ({part})", config))
    for uid in sorted(datasource_uids(board) - provisioned - BUILT_IN_UIDS):
        problems.append(f"{title}: datasource uid {uid!r} is not in the provisioning file")
    defined = {v.get("name") for v in (board.get("templating") or {}).get("list", [])}
    for panel in panels:
        for target in panel.get("targets") or []:
            text = str(target.get("query") or target.get("expr") or "")
            for name in set(_VARIABLE.findall(text)) - GRAFANA_NAMES - defined:
                problems.append(f"{title} / {panel.get('title')}: ${name} is not defined")
    return problems
