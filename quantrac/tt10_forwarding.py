"""The gateway with TT10 forwarding: every batch it keeps for the collector — polled from
Modbus, taken from an MQTT station or a received TT10 file — also goes to the TT10 forwarder
(gateway/tt10/forward.py), which files it per station and interval for the upstream receiver.

Only what the gateway itself would send on is forwarded (``reading_problem``: a time outside
the wire's window or a value no sensor can give stays home), and forwarding never holds up the
collector's stream: the batch is in the outbox before the forwarder sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.bus import Bus
from gateway.config import StationConfig
from gateway.model import Reading, ReadingBatch
from gateway.outbox import OutboxSettings
from gateway.tt10.forward import Tt10Forwarder
from gateway.wire import DEFAULT_BOUNDS, TimeWindow
from quantrac.reports.period import site_zone
from quantrac.runners import GatewayService, reading_problem
from quantrac.site import Site


def forward_queue_path(data_dir: Path, gateway_id: str) -> Path:
    return data_dir / f"tt10-forward-{gateway_id}.sqlite3"


def tt10_forwarder_for(
    site: Site,
    stations: Iterable[StationConfig] | None,
    data_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> Tt10Forwarder:
    """The forwarder of site.yaml's ``tt10_forward``; ValueError when it is not configured or
    cannot start (a password missing, two stations with one code) — at start, named."""
    config = site.settings.tt10_forward
    if config is None:
        raise ValueError("site.yaml has no tt10_forward: section (docs/tt10.md)")
    chosen = list(stations) if stations is not None else list(site.stations.values())
    return Tt10Forwarder.open(
        config,
        chosen,
        forward_queue_path(data_dir, site.settings.gateway_id),
        site_zone(site.settings.timezone),
        environ,
    )


class ForwardingGatewayService(GatewayService):
    def __init__(
        self,
        site: Site,
        bus: Bus,
        forwarder: Tt10Forwarder,
        stations: Iterable[StationConfig] | None = None,
        *,
        outbox_path: Path | None = None,
        outbox_settings: OutboxSettings | None = None,
    ) -> None:
        super().__init__(
            site, bus, stations, outbox_path=outbox_path, outbox_settings=outbox_settings
        )
        self.forwarder = forwarder

    async def _forward(self, station: str, readings: Sequence[Reading]) -> None:
        window = TimeWindow.of(DEFAULT_BOUNDS)
        kept = [r for r in readings if reading_problem(station, r, window) is None]
        await self.forwarder.put(station, kept)

    async def publish(self, batch: ReadingBatch) -> None:
        await super().publish(batch)
        await self._forward(batch.station, batch.readings)

    async def accept(self, station: str, readings: Sequence[Reading]) -> None:
        await super().accept(station, readings)
        await self._forward(station, readings)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            forwarding = tasks.create_task(self.forwarder.run(), name="tt10-forward")
            try:
                await super().run()
            finally:
                forwarding.cancel()

    def health(self) -> dict[str, Any]:
        found = super().health()
        found["tt10_forward"] = self.forwarder.health()
        return found
