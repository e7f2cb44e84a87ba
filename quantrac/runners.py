"""Build and run the services from a site: gateway, collector, API (together or apart)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from collector.schema import StationInfo
from gateway.bus import Bus
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.config import StationConfig
from gateway.modbus.hub import ModbusHub
from gateway.modbus.station import ModbusStation
from gateway.model import Reading, ReadingBatch
from gateway.outbox import Outbox, OutboxSettings
from gateway.parameters import impossible_value
from gateway.poller import Poller
from gateway.streaming import Rejected, StreamingDriver
from gateway.wire import (
    DEFAULT_BOUNDS,
    TimeWindow,
    deadletter_topic,
    encode_batch,
    format_ts,
    raw_topic,
)
from quantrac.settings import Settings
from quantrac.site import Site

if TYPE_CHECKING:
    from gateway.tt10.ftp import Tt10FtpServer  # optional: pyftpdlib

log = logging.getLogger(__name__)


def station_catalog(site: Site) -> dict[str, StationInfo]:
    return {
        s.id: StationInfo(kind=s.kind, district=s.district, name=s.name)
        for s in site.stations.values()
    }


def reading_problem(station: str, reading: Reading, window: TimeWindow) -> str | None:
    """Why a gateway must not send this reading on (None: it may): a time outside the wire's
    plausible window (docs/wire-format.md), or a value outside the parameter's physically
    possible range (gateway/parameters.yaml)."""
    if not window.earliest <= reading.ts <= window.latest:
        return (
            f"station {station} param {reading.param}: time {format_ts(reading.ts)}"
            f" is outside {format_ts(window.earliest)} … {format_ts(window.latest)}"
        )
    return impossible_value(station, reading.param, reading.value)


class GatewayService:
    """Polls the site's Modbus stations (one hub per endpoint) and publishes raw batches."""

    def __init__(
        self,
        site: Site,
        bus: Bus,
        stations: Iterable[StationConfig] | None = None,
        *,
        outbox_path: Path | None = None,
        outbox_settings: OutboxSettings | None = None,
    ):
        """Build before entering the bus: the outbox subscribes to its receipts."""
        self.bus = bus
        gateway_id = site.settings.gateway_id
        self.outbox = Outbox(outbox_path, gateway_id, bus, outbox_settings) if outbox_path else None
        self.hubs: dict[str, ModbusHub] = {}
        drivers = []
        for station in stations if stations is not None else site.stations.values():
            if not station.is_modbus:
                continue
            connection = station.modbus.connection
            hub = self.hubs.get(connection.endpoint)
            if hub is None:
                hub = self.hubs[connection.endpoint] = ModbusHub(connection)
            drivers.append(ModbusStation(station, site.profile_of(station), hub))
        self.streaming: list[StreamingDriver] = []  # added by the composition (MQTT, TT10)
        self.ftp: Tt10FtpServer | None = None  # the TT10 FTP endpoint, if the composition asks
        self.rejected = 0
        self._retiring: set[asyncio.Task[None]] = set()  # hubs closing after a reload
        # With an outbox, the outbox numbers each batch as it joins its buffer (put(number=
        # True)), so numbers follow the order of the disk; the poller's own count is replaced.
        self.poller = Poller(gateway_id, drivers, self.publish)

    async def reload(
        self, site: Site, stations: Iterable[StationConfig] | None = None
    ) -> tuple[list[str], list[str]]:
        """Make the running gateway read ``site`` (hot reload), without touching the outbox:
        Modbus stations added start at their interval's next slot, removed ones stop (a poll
        already started finishes and its batch is kept), changed ones (config, profile or
        their line's settings) restart with the new. Streaming drivers (MQTT, TT10) take their
        stations too. Returns (what changed, what waits for a restart)."""
        chosen = list(stations) if stations is not None else list(site.stations.values())
        wanted = {s.id: s for s in chosen if s.is_modbus}
        running = {d.station_id: d for d in self.poller.drivers if isinstance(d, ModbusStation)}
        # A line whose settings changed gets a new hub; its stations restart on it.
        hubs: dict[str, ModbusHub] = {}
        for station in wanted.values():
            connection = station.modbus.connection
            hub = self.hubs.get(connection.endpoint)
            if hub is None or hub.connection != connection:
                hub = hubs.get(connection.endpoint) or ModbusHub(connection)
            hubs[connection.endpoint] = hub
        changes: list[str] = []
        restarted: set[str] = set()  # stopped or changed: their last polls may still run
        for station_id, driver in running.items():
            config = wanted.get(station_id)
            if config is None:
                self.poller.remove(station_id)
                restarted.add(station_id)
                changes.append(f"station {station_id}: stopped")
            elif (
                config != driver.config
                or site.profile_of(config) != driver.profile
                or hubs[config.modbus.connection.endpoint] is not driver.hub
            ):
                self.poller.remove(station_id, forget=False)
                self.poller.add(
                    ModbusStation(
                        config, site.profile_of(config), hubs[config.modbus.connection.endpoint]
                    )
                )
                restarted.add(station_id)
                changes.append(f"station {station_id}: changed")
        for station_id in wanted.keys() - running.keys():
            config = wanted[station_id]
            hub = hubs[config.modbus.connection.endpoint]
            self.poller.add(ModbusStation(config, site.profile_of(config), hub))
            changes.append(f"station {station_id}: started")
        retired = [hub for endpoint, hub in self.hubs.items() if hubs.get(endpoint) is not hub]
        self.hubs = hubs
        if retired:
            task = asyncio.create_task(self._retire(retired, restarted))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        pending: list[str] = []
        for streaming in self.streaming:
            reload = getattr(streaming, "reload", None)
            if callable(reload):
                more, waiting = reload(site, chosen)
                changes += more
                pending += waiting
        return sorted(changes), pending

    async def _retire(self, hubs: list[ModbusHub], stations: set[str]) -> None:
        """Close the hubs no station uses any more, once their last polls ended (at most a
        minute: a poll never outlives its slot)."""
        deadline = asyncio.get_running_loop().time() + 60
        try:
            while any(self.poller.polling(s) for s in stations):
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.05)
        finally:  # also when the gateway stops meanwhile
            for hub in hubs:
                await hub.close()

    async def accept(self, station: str, readings: Sequence[Reading]) -> None:
        """The sink of streaming drivers: number the readings as a batch and keep it.

        Returns once the batch is durable in the outbox (waiting for room while the disk
        fails): only then may the driver acknowledge its source (an MQTT message, a file).
        """
        batch = ReadingBatch(
            gateway=self.poller.gateway_id,
            seq=self.poller.next_seq(),  # the outbox numbers it again, in order
            station=station,
            readings=tuple(readings),
        )
        batch = await self._keepable(batch)
        if self.outbox is not None:
            await self.outbox.put(batch, number=True)
        else:
            await self.bus.publish(raw_topic(batch.station), encode_batch(batch))

    async def _keepable(self, batch: ReadingBatch) -> ReadingBatch:
        """The batch without the readings no collector should get, each dead-lettered, named.

        One pass over the readings, for every driver alike (:func:`reading_problem`): a time
        the collector's wire boundary would refuse (a whole batch refused is never receipted,
        so the outbox would resend it forever and the good readings beside it would never be
        stored), and a value no sensor can give (1e308 from an MQTT station, −999 from a Modbus
        register), which must never go out as a "measuring" reading.
        """
        window = TimeWindow.of(DEFAULT_BOUNDS)
        kept: list[Reading] = []
        for reading in batch.readings:
            problem = reading_problem(batch.station, reading, window)
            if problem is None:
                kept.append(reading)
                continue
            payload = json.dumps(
                {"param": reading.param, "value": reading.value, "ts": format_ts(reading.ts)}
            ).encode()
            await self.dead_letter(
                Rejected(f"station {batch.station}", problem, payload, batch.station)
            )
        if len(kept) == len(batch.readings):
            return batch
        return replace(batch, readings=tuple(kept))

    async def dead_letter(self, rejected: Rejected) -> None:
        """What a driver could not decode, kept on the bus for the operator (not lost)."""
        self.rejected += 1
        await self.bus.publish(deadletter_topic(self.poller.gateway_id), rejected.to_json())

    async def publish(self, batch: ReadingBatch) -> None:
        """The poller's publish: kept once its group commit is durable, or — while the disk
        fails — buffered in memory, so polls keep their schedule (gateway.outbox)."""
        batch = await self._keepable(batch)
        if self.outbox is not None:
            await self.outbox.put(batch, poll=True, number=True)
        else:
            await self.bus.publish(raw_topic(batch.station), encode_batch(batch))

    async def run(self) -> None:
        try:
            if self.ftp is not None:
                await asyncio.to_thread(self.ftp.start)  # binds now: a taken port stops the start
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.poller.run(), name="poller")
                for driver in self.streaming:
                    tasks.create_task(driver.run(self.accept, self.dead_letter))
                if self.outbox is not None:
                    tasks.create_task(self.outbox.run(), name="outbox")
        finally:
            if self.ftp is not None:
                await asyncio.to_thread(self.ftp.stop)
            for task in list(self._retiring):  # hubs a reload let go: closed now, not later
                task.cancel()
            await asyncio.gather(*self._retiring, return_exceptions=True)
            for hub in self.hubs.values():
                await hub.close()
            if self.outbox is not None:
                self.outbox.close()

    def station_health(self, station: str) -> dict[str, Any] | None:
        h = self.poller.health.get(station)
        if h is None:
            # Not polled: a streaming driver may know it (MQTT stations).
            for driver in self.streaming:
                per_station = getattr(driver, "station_health", None)
                found = per_station(station) if callable(per_station) else None
                if found is not None:
                    return dict(found)
            return None
        return {
            "online": h.online,
            "last_success": h.last_success.isoformat() if h.last_success else None,
            "consecutive_failures": h.consecutive_failures,
            "errors": h.errors,
            "polls": h.polls,
            "missed_runs": h.missed_runs,
            "last_error": h.last_error,
        }

    def health(self) -> dict[str, Any]:
        stations = {station: self.station_health(station) for station in self.poller.health}
        outbox = self.outbox.health() if self.outbox is not None else None
        streams = {type(driver).__name__: driver.health() for driver in self.streaming}
        result: dict[str, Any] = {
            "stations": stations,
            "outbox": outbox,
            "streaming": streams,
            "rejected": self.rejected,
        }
        if self.ftp is not None:
            result["tt10_ftp"] = self.ftp.health()
        return result


def mqtt_settings(settings: Settings, broker_url: str | None, client_id: str) -> MqttSettings:
    """A broker's connection settings, with the service's credentials and CA file."""
    return MqttSettings.from_url(
        broker_url or settings.broker_url,
        client_id=client_id,
        **({"username": settings.mqtt_username} if settings.mqtt_username else {}),
        **({"password": settings.mqtt_password} if settings.mqtt_password else {}),
        **({"ca_file": settings.mqtt_ca_file} if settings.mqtt_ca_file else {}),
        **({"cert_file": settings.mqtt_cert_file} if settings.mqtt_cert_file else {}),
        **({"key_file": settings.mqtt_key_file} if settings.mqtt_key_file else {}),
    )


def mqtt_bus(
    settings: Settings, broker_url: str | None, client_id: str, *, clean_session: bool = False
) -> MqttBus:
    """An MQTT bus; a fixed client id gives a persistent session across restarts, unless
    ``clean_session`` (consumers of a shared subscription: docs/deploy.md, "Scale-out")."""
    bus_settings = mqtt_settings(settings, broker_url, client_id)
    return MqttBus(replace(bus_settings, clean_session=clean_session))


class _ApiServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The runner owns SIGINT/SIGTERM and stops every part in order; uvicorn must not
        # swallow the signal and re-raise it after its own shutdown.
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Lifespan is off: the app's own "closing" (the board's live streams end) is called
        # here, before uvicorn waits for the open connections to finish.
        closing = getattr(getattr(self.config.app, "state", None), "closing", None)
        if callable(closing):
            closing()
        await super().shutdown(sockets)


def api_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    # A board's live stream never ends by itself: shutdown gives open streams 2 s, then ends them.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                            timeout_graceful_shutdown=2)  # fmt: skip
    return _ApiServer(config)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
