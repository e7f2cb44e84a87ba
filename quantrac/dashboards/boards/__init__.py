"""The boards, one module each, looked up in one table (:data:`BOARDS`), in menu order."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards.boards import air, hydro, overview, stations, water
from quantrac.dashboards.boards.shell import BoardSpec
from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.flavours import Flavour

BoardBuilder = Callable[[BoardCatalog, Flavour], dashboard.Dashboard]

BOARDS: tuple[tuple[BoardSpec, BoardBuilder], ...] = (
    (overview.SPEC, overview.build),
    (air.SPEC, air.build),
    (hydro.SPEC, hydro.build),
    (water.SPEC, water.build),
    (stations.SPEC, stations.build),
)

__all__ = ["BOARDS", "BoardBuilder", "BoardSpec"]
