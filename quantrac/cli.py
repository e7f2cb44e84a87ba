"""The ``quantrac`` command: demo, the services one by one, and technician tools."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from quantrac.alerting_cli import (
    alerting,
    incidents_app,
    notifications_app,
    rules_app,
    silences_app,
)
from quantrac.auth import ApiSecurity, KeyStore
from quantrac.backup import backup
from quantrac.cli_common import (
    DEFAULT_SITE,
    console,
    err_console,
    readable_help,
    settings_with,
    setup_logging,
    site_or_exit,
    version,
)
from quantrac.config_cli import config_app
from quantrac.dashboards.cli import dashboards_app
from quantrac.keys_cli import audit_app, keys_app
from quantrac.partition import partition_or_exit
from quantrac.reload_cli import reload
from quantrac.reports.cli import report_app
from quantrac.settings import Settings, get_settings
from quantrac.station_cli import station_app
from quantrac.tail_cli import tail
from quantrac.technician import modbus_app

if TYPE_CHECKING:
    from collector.schema import StationInfo
    from collector.store import ReadingStore

# A traceback must not print local variables: URLs with passwords live there (issue 13).
app = typer.Typer(
    help="quantrac: the sensor side of a provincial IOC.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(config_app, name="config")
app.add_typer(modbus_app, name="modbus")
app.add_typer(station_app, name="station")
app.add_typer(rules_app, name="rules")
app.add_typer(incidents_app, name="incidents")
app.add_typer(silences_app, name="silences")
app.add_typer(notifications_app, name="notifications")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(report_app, name="report")
app.command("alerting")(alerting)
app.command("backup")(backup)
app.command("reload")(reload)
app.command("tail")(tail)

SiteArg = Annotated[Path, typer.Argument(help="site directory (site.yaml + stations/)")]
BrokerOpt = Annotated[
    str | None, typer.Option("--broker", help="mqtt://user:pass@host:port or mqtts://…")
]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="where SQLite lives")]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLite path, or influxdb://user:pass@host:8086/db, influxdb2://host:8086?org=&"
        "bucket=&token=, victoriametrics://host:8428 (docs/storage.md); env QUANTRAC_STORE_URL",
    ),
]


def redacted(url: str) -> str:
    """A store or broker URL fit for a log line: no password, no token (issue 13).

    Not through urlsplit: a password written with an unquoted "/" or "@" would end its netloc
    early and be printed whole. Everything between "://" and the last "@" is the user part.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        rest = f"{user}:***@{host}" if colon else rest
    rest = _SECRET_PARAMETER.sub(r"\1***", rest)
    return f"{scheme}://{rest}"


_SECRET_PARAMETER = re.compile(r"([?&](?:token|password|p)=)[^&#]*", re.IGNORECASE)


def broker_or_exit(*urls: str | None) -> None:
    """A broker URL that cannot be used stops the service at start, named masked (issue 13)."""
    from gateway.bus.mqtt import MqttSettings

    for url in urls:
        if url is None:
            continue
        try:
            MqttSettings.from_url(url)
        except ValueError as exc:
            err_console.print(f"[red]--broker {escape(redacted(url))}: {escape(str(exc))}[/]")
            raise typer.Exit(2) from None


def _run(main: Callable[[], Awaitable[None]]) -> None:
    """Run a service until SIGINT/SIGTERM, then let it stop in order."""

    async def supervised() -> None:
        task = asyncio.ensure_future(main())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(supervised())


@app.command()
def demo(
    site_dir: Annotated[Path, typer.Option("--site", help="site to simulate")] = DEFAULT_SITE,
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option(help="API address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port")] = 8000,
    interval: Annotated[float, typer.Option(help="poll interval of every station, s")] = 2.0,
    duration: Annotated[
        float | None, typer.Option(help="stop after this many seconds (default: Ctrl-C)")
    ] = None,
    keep_data: Annotated[
        bool,
        typer.Option(
            "--keep-data",
            help="carry on in --data-dir itself (default: a fresh demo-TIME "
            "folder in it, so a run never starts from the last one's state)",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run everything in one process: simulated stations → gateway → collector → API."""
    from quantrac.demo import demo_data_dir, run_demo
    from quantrac.runners import port_is_free

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    if not port_is_free(host, port):
        err_console.print(f"[red]port {port} on {host} is taken: choose another with --port[/]")
        raise typer.Exit(1)
    settings = get_settings()
    asyncio.run(
        run_demo(
            site,
            data_dir=demo_data_dir(data_dir or settings.data_dir, keep_data),
            host=host,
            port=port,
            interval_s=interval,
            duration_s=duration,
            console=console,
        )
    )


@app.command()
def gateway(
    site_dir: SiteArg,
    broker: BrokerOpt = None,
    data_dir: DataDirOpt = None,
    client_id: Annotated[str | None, typer.Option(help="MQTT client id")] = None,
    replay_rate: Annotated[
        float,
        typer.Option(
            help="batches/s the outbox hands to the broker, at most (0: as fast as the broker "
            "acknowledges)"
        ),
    ] = 0.0,
    stations_broker: Annotated[
        str | None,
        typer.Option(help="broker the MQTT stations publish to (default: the bus broker)"),
    ] = None,
    tt10_inbox: Annotated[
        Path | None, typer.Option(help="folder the FTP server writes TT10 data files into")
    ] = None,
    tt10_work_dir: Annotated[
        Path | None, typer.Option(help="archive/, rejected/ and the index (default: the inbox)")
    ] = None,
    tt10_settle: Annotated[
        float, typer.Option(help="seconds a TT10 file must stay unchanged before it is read")
    ] = 10.0,
    tt10_ftp: Annotated[
        str | None,
        typer.Option(
            help="also run the FTP endpoint the TT10 stations upload to, writing into "
            "--tt10-inbox: HOST:PORT[,passive=FIRST-LAST][,public=ADDRESS]"
            "[,tls_cert=PATH[,tls_key=PATH][,tls=required|optional]] (FTPS; docs/tt10.md)"
        ),
    ] = None,
    health: Annotated[
        str | None,
        typer.Option(
            envvar="QUANTRAC_GATEWAY_HEALTH",
            help="serve GET /health (JSON) and /metrics (Prometheus) on HOST:PORT",
        ),
    ] = None,
    stations: Annotated[
        str | None,
        typer.Option(
            envvar="QUANTRAC_GATEWAY_STATIONS",
            help="only these stations: ids or patterns, comma-separated (one gateway of several)",
        ),
    ] = None,
    gateway_id: Annotated[
        str | None,
        typer.Option(envvar="QUANTRAC_GATEWAY_ID", help="this gateway's id (default: site.yaml)"),
    ] = None,
    resend_after: Annotated[
        float, typer.Option(help="s without a receipt before the outbox sends a batch again")
    ] = 30.0,
    tt10_forward: Annotated[
        bool,
        typer.Option(
            envvar="QUANTRAC_TT10_FORWARD",
            help="also forward the readings as TT10 files to site.yaml's tt10_forward receiver "
            "(FTP/FTPS, through a durable queue in the data dir; docs/tt10.md)",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Read the site's stations and publish raw batches to the broker, through the outbox."""
    from gateway.mqtt_input.driver import mqtt_input_for
    from gateway.outbox import OutboxSettings
    from gateway.tt10 import tt10_ftp_for, tt10_inbox_for
    from quantrac.health import listen_or_exit, serve_health, service_snapshot
    from quantrac.partition import gateway_partition
    from quantrac.reload import RUN_DIR, Reloader, gateway_hook
    from quantrac.runners import GatewayService, mqtt_bus, mqtt_settings

    setup_logging(verbose)
    site = partition_or_exit(site_or_exit(site_dir), stations, gateway_id)
    partition = (stations, gateway_id)
    health_listener = listen_or_exit(health)
    try:
        tt10_ftp_server = tt10_ftp_for(site, None, tt10_inbox, tt10_ftp)
    except (ImportError, ValueError) as exc:
        err_console.print(f"[red]--tt10-ftp: {exc}[/]")
        raise typer.Exit(2) from exc
    settings = settings_with(data_dir)
    broker_or_exit(broker or settings.broker_url, stations_broker)
    gateway_id = site.settings.gateway_id
    bus = mqtt_bus(settings, broker, client_id or f"quantrac-{gateway_id}")
    outbox_path = settings.data_dir / f"outbox-{gateway_id}.sqlite3"
    gateway_service: Callable[..., GatewayService] = GatewayService
    if tt10_forward:  # TT10 files upstream (issue 18)
        from functools import partial

        from quantrac.tt10_forwarding import ForwardingGatewayService, tt10_forwarder_for

        try:
            forwarder = tt10_forwarder_for(site, None, settings.data_dir)
        except ValueError as exc:
            err_console.print(f"[red]--tt10-forward: {escape(str(exc))}[/]")
            raise typer.Exit(2) from None
        gateway_service = partial(ForwardingGatewayService, forwarder=forwarder)

    async def main() -> None:
        # Built before the bus connects: the outbox subscribes to its receipts.
        service = gateway_service(
            site,
            bus,
            outbox_path=outbox_path,
            outbox_settings=OutboxSettings(
                rate_per_s=replay_rate or None, resend_after_s=resend_after
            ),
        )
        tt10 = tt10_inbox_for(site, None, tt10_inbox, work_dir=tt10_work_dir, settle_s=tt10_settle)
        if tt10 is not None:
            service.streaming.append(tt10)
        service.ftp = tt10_ftp_server
        stations_broker_settings = mqtt_settings(
            settings, stations_broker or broker, f"quantrac-{gateway_id}-stations"
        )
        stations_input = mqtt_input_for(site, None, stations_broker_settings)
        if stations_input is not None:
            service.streaming.append(stations_input)
        logging.getLogger("quantrac").info(
            "gateway %s: %d station(s) → %s (outbox %s)",
            gateway_id,
            len(site.stations),
            redacted(broker or settings.broker_url),
            outbox_path,
        )
        snapshot = service_snapshot(
            service.health,
            buses={"bus": bus, "stations_bus": lambda: getattr(stations_input, "bus", None)},
        )
        # quantrac reload / SIGHUP: this gateway's part of the site, read again.
        reloader = Reloader(f"gateway-{gateway_id}", site_dir, settings.data_dir / RUN_DIR)
        reloader.add("gateway", gateway_hook(service, lambda s: gateway_partition(s, *partition)))
        async with reloader.serving(), serve_health(health_listener, "gateway", snapshot), bus:
            await service.run()

    _run(main)


@app.command()
def collector(
    site_dir: SiteArg,
    broker: BrokerOpt = None,
    data_dir: DataDirOpt = None,
    group: Annotated[str, typer.Option(help="shared-subscription group")] = "collectors",
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id; distinct per collector")
    ] = None,
    store_url: StoreOpt = None,
    health: Annotated[
        str | None,
        typer.Option(
            envvar="QUANTRAC_COLLECTOR_HEALTH",
            help="serve GET /health (JSON) and /metrics (Prometheus) on HOST:PORT",
        ),
    ] = None,
    clean_session: Annotated[
        bool,
        typer.Option(
            envvar="QUANTRAC_COLLECTOR_CLEAN_SESSION",
            help="the broker forgets this collector when it goes: with several on the shared "
            "subscription, a dead one holds no share (docs/deploy.md)",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Quality-check raw batches from the broker and store them (SQLite, InfluxDB, VM)."""
    from collector.derived import DerivedSeries
    from collector.qc import QcChain, QcSettings
    from collector.service import Collector
    from quantrac.health import listen_or_exit, serve_health, service_snapshot
    from quantrac.reload import RUN_DIR, Reloader, collector_hook
    from quantrac.runners import mqtt_bus, station_catalog

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    health_listener = listen_or_exit(health)
    settings = settings_with(data_dir, store_url)
    broker_or_exit(broker or settings.broker_url)
    bus_client_id = client_id or f"quantrac-collector-{socket.gethostname()}"
    bus = mqtt_bus(settings, broker, bus_client_id, clean_session=clean_session)
    # A remote store is written through a local copy (what the derived series read) and a
    # durable queue: neither an outage nor a slow database stops the clean stream.
    store = _open_store(
        settings,
        station_catalog(site),
        queue_path=settings.forward_queue_path,
        recent_path=settings.recent_copy_path,
    )

    # Collector subscribes in its constructor, which must happen before the bus connects.
    async def ordered() -> None:
        qc = QcChain(QcSettings(site.stations))
        derived = DerivedSeries(store, site.stations)
        service = Collector(bus, store, group=group, qc=qc, derived=derived)
        logging.getLogger("quantrac").info(
            "collector: %s → %s", redacted(broker or settings.broker_url), redacted(settings.store)
        )
        snapshot = service_snapshot(
            service.health, buses={"bus": bus}, queues={"raw": service.subscription}
        )
        reloader = Reloader(bus_client_id, site_dir, settings.data_dir / RUN_DIR)
        reloader.add("collector", collector_hook(service))
        try:
            async with (
                reloader.serving(),
                serve_health(health_listener, "collector", snapshot),
                bus,
            ):
                await service.run()
        finally:
            store.close()

    _run(ordered)


def _open_store(
    settings: Settings,
    catalog: Mapping[str, StationInfo] | None,
    queue_path: Path | None = None,
    recent_path: Path | None = None,
) -> ReadingStore:
    from collector.store import open_store

    try:
        return open_store(settings.store, catalog, queue_path=queue_path, recent_path=recent_path)
    except ValueError as exc:
        # The store's own message quotes the URL: masked too (issue 13).
        masked = str(exc).replace(settings.store, redacted(settings.store))
        console.print(f"[red]--store {redacted(settings.store)}: {escape(masked)}[/red]")
        raise typer.Exit(2) from None


@app.command()
def api(
    site_dir: Annotated[Path | None, typer.Argument(help="site directory (optional)")] = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    store_url: StoreOpt = None,
    init: Annotated[
        bool,
        typer.Option(
            "--init",
            help="make --data-dir if it does not exist (else that is an error: a "
            "mistyped folder must not serve an empty store)",
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve the HTTP API from the store."""
    from alerting.incidents import IncidentStore
    from quantrac.api import ApiContext, create_app
    from quantrac.api_board import province_outline
    from quantrac.reload import RUN_DIR, Reloader, api_hook
    from quantrac.runners import api_server, station_catalog

    setup_logging(verbose)
    settings = settings_with(data_dir, store_url)
    if not settings.data_dir.is_dir():
        if not init:
            err_console.print(
                f"--data-dir {settings.data_dir} does not exist: give the services' data "
                "directory, or --init to make an empty one",
                style="red", markup=False, highlight=False,
            )  # fmt: skip
            raise typer.Exit(2)
        settings.data_dir.mkdir(parents=True)
    site = site_or_exit(site_dir) if site_dir else None
    store = _open_store(settings, station_catalog(site) if site else None)
    incidents_file = settings.data_dir / "incidents.sqlite3"
    context = ApiContext(
        store=store,
        stations=dict(site.stations) if site else {},
        site_name=site.settings.name if site else "",
        outline=province_outline(site.directory) if site else None,  # the board's map
        incidents=IncidentStore(incidents_file) if incidents_file.exists() else None,
        security=ApiSecurity(
            KeyStore(settings.api_keys_path), settings.api_open_reads, settings.cors_origins
        ),
    )
    application = create_app(context)
    reloader = None
    if site_dir is not None:  # POST /admin/reload, SIGHUP, quantrac reload: the site again
        reloader = Reloader("api", site_dir, settings.data_dir / RUN_DIR)
        reloader.add("api", api_hook(context))
        application.state.reloader = reloader
    server = api_server(application, host or settings.api_host, port or settings.api_port)
    console.print(f"API on http://{server.config.host}:{server.config.port}/stations")
    console.print(f"  IOC board: http://{server.config.host}:{server.config.port}/")
    if settings.api_open_reads:
        console.print("  reads open without a key (QUANTRAC_API_OPEN_READS); actions need one")

    async def serve() -> None:
        if reloader is None:
            await server.serve()
        else:
            async with reloader.serving():
                await server.serve()

    async def main() -> None:
        serving = asyncio.ensure_future(serve())
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            # Stopped, not cancelled: the server ends the board's open streams and answers
            # what is in flight before the loop goes (no traceback per open board).
            server.should_exit = True
            await serving
            raise
        finally:
            store.close()

    _run(main)


@app.command()
def simulate(
    site_dir: SiteArg,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve simulated stations on the host/port each station's connection names."""
    from quantrac.scenario import simulators_for

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    simulators = simulators_for(site, site.stations.values())

    async def main() -> None:
        try:
            for simulator in simulators:
                await simulator.start()
                units = ", ".join(str(d.unit) for d in simulator.devices)
                console.print(f"simulating {simulator.connection.endpoint} (unit {units})")
            await asyncio.Event().wait()
        finally:
            for simulator in simulators:
                await simulator.stop()

    _run(main)


def _show_version(asked: bool) -> None:
    if asked:
        console.print(f"quantrac {version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print quantrac's version and exit",
            is_eager=True,
            callback=_show_version,
        ),
    ] = False,
) -> None:
    """quantrac: the sensor side of a provincial IOC."""


def main() -> None:
    readable_help()
    app()
