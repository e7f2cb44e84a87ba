"""``quantrac demo``: the whole pipeline in one process on embedded defaults.

Simulated stations (pymodbus servers from the profiles) → gateway → in-process bus →
collector (QC, SQLite) → HTTP API on 127.0.0.1, while the Hương rises through báo động I–III
and falls again over a few minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import io
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from alerting.config import AlertingConfig
from alerting.templates import vi_number
from collector.derived import DerivedSeries
from collector.indices import flood_alarm
from collector.qc import QcChain, QcSettings
from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.memory import InProcessBus
from gateway.config import StationConfig, TcpConnection, Tt10Source
from gateway.model import VIETNAM_TZ, local_time
from gateway.tt10 import tt10_inbox_for
from quantrac.alerting_app import build_alerting, compressed_rules, site_rules
from quantrac.api import ApiContext, create_app
from quantrac.api_board import province_outline
from quantrac.auth import KEYS_FILE, ApiSecurity, KeyStore
from quantrac.board import index_board, instant_indices
from quantrac.runners import GatewayService, api_server, free_port, station_catalog
from quantrac.scenario import WastewaterOutlet, simulators_for
from quantrac.site import Site

if TYPE_CHECKING:
    from gateway.tt10.ftp import Tt10FtpServer  # optional: pyftpdlib

log = logging.getLogger(__name__)


def demo_stations(site: Site, interval_s: float) -> list[StationConfig]:
    """The site's stations on free loopback ports, polled every ``interval_s`` seconds."""
    stations = []
    for station in site.stations.values():
        if not station.is_modbus:
            stations.append(station)
            continue
        # Every simulated station gets its own loopback TCP endpoint, whatever its line is
        # in the field: the demo needs no serial ports.
        connection = TcpConnection(host="127.0.0.1", port=free_port())
        source = station.modbus.model_copy(
            update={"connection": connection, "interval_s": interval_s}
        )
        stations.append(station.model_copy(update={"source": source}))
    return stations


def demo_tt10_ftp(stations: list[StationConfig], inbox: Path) -> Tt10FtpServer | None:
    """The TT10 FTP endpoint on a free loopback port, for the stations with an ``ftp`` account.

    Their passwords come from the environment as in production; the demo sets each variable to
    a demo value when it is not set. None without pyftpdlib (the files are then dropped into
    the inbox directly).
    """
    try:
        from gateway.tt10.ftp import Tt10FtpServer
        from gateway.tt10.ftp_accounts import ftp_accounts
    except ImportError as exc:
        log.info("%s; the demo drops the TT10 files into the inbox directly", exc)
        return None
    for station in stations:
        source = station.source
        if isinstance(source, Tt10Source) and source.ftp and source.ftp.password_env:
            os.environ.setdefault(source.ftp.password_env, f"demo-{station.id}")
    try:
        accounts = ftp_accounts(stations)
    except ValueError as exc:
        log.warning("%s; the demo drops the TT10 files into the inbox directly", exc)
        return None
    return Tt10FtpServer(inbox, accounts, host="127.0.0.1", port=0) if accounts else None


def upload_tt10_file(
    address: tuple[str, int], user: str, password: str, name: str, text: str
) -> None:
    """One file, as a station's data logger sends it: log in, STOR, quit."""
    with ftplib.FTP() as ftp:
        ftp.connect(*address, timeout=10)
        ftp.login(user, password)
        ftp.storbinary(f"STOR {name}", io.BytesIO(text.encode("utf-8")))


async def write_tt10_files(
    inbox: Path, codes: list[str], *, every_s: float, ftp: Tt10FtpServer | None = None
) -> None:
    """Send a TT10 data file per station every ``every_s`` seconds: uploaded to ``ftp`` with the
    station's account, or, for a station without one, dropped into the inbox directly."""
    await asyncio.to_thread(inbox.mkdir, parents=True, exist_ok=True)
    logins = {a.code: a for a in ftp.accounts.values()} if ftp is not None else {}
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        local = datetime.now(VIETNAM_TZ).replace(microsecond=0)
        for code in codes:
            name, text = WastewaterOutlet(code=code).file(elapsed, local)
            account = logins.get(code.upper())
            if ftp is not None and account is not None:
                secret = account.password.get_secret_value()
                try:
                    await asyncio.to_thread(
                        upload_tt10_file, ftp.address, account.user, secret, name, text
                    )
                except (OSError, ftplib.Error) as exc:
                    log.warning("demo: %s could not upload %s: %s", account.station, name, exc)
                continue
            part = inbox / f"{name}.part"
            # Written whole, then renamed: the inbox never sees half a file.
            await asyncio.to_thread(part.write_text, text, "utf-8")
            await asyncio.to_thread(part.rename, inbox / name)
        await asyncio.sleep(every_s)


class FloodWatch:
    """Prints each gauge's alarm level when it changes, as the store (and the API) sees it."""

    def __init__(
        self,
        console: Console,
        store: SqliteStore,
        stations: list[StationConfig],
        zone: tzinfo = VIETNAM_TZ,
    ) -> None:
        self.console = console
        self.store = store
        self.zone = zone  # the site's: every time the demo prints is local_time in it
        self.gauges = [s for s in stations if s.flood_levels is not None]
        self.levels: dict[str, int] = {}

    def check(self) -> None:
        for gauge in self.gauges:
            assert gauge.flood_levels is not None
            latest = {r.param: r for r in self.store.latest(gauge.id)}
            reading = latest.get("water_level")
            if reading is None:
                continue
            alarm = flood_alarm(reading.value, gauge.flood_levels.as_tuple())
            if alarm is None or self.levels.get(gauge.id) == alarm.level:
                continue
            previous = self.levels.get(gauge.id)
            self.levels[gauge.id] = alarm.level
            local = local_time(reading.ts, self.zone)
            where = f"{gauge.name} (sông {gauge.river})" if gauge.river else gauge.name
            if alarm.level == 0:
                text = f"dưới BĐ I {vi_number(-alarm.margin_m)} m"
                style = "green"
            else:
                text = f"trên {alarm.label} {vi_number(alarm.margin_m)} m"
                style = ("yellow", "dark_orange", "red")[alarm.level - 1]
            arrow = "" if previous is None else (" ↑" if alarm.level > previous else " ↓")
            self.console.print(
                f"[{style}]{local}  {where}: {vi_number(reading.value)} m{arrow} {text}[/]"
            )


DEMO_TIME_SCALE = 60.0  # a demo minute is about an hour of a real storm

# What any client of a broker could send the collector: each is refused at the wire boundary
# (docs/wire-format.md), counted as a dead letter by reason, and the stream goes on.
_STRANGER = "quantrac/v1/raw/"
HOSTILE_MESSAGES: tuple[tuple[str, bytes], ...] = (
    (_STRANGER + "kim_long", b"[" * 100_000 + b"]" * 100_000),
    (
        _STRANGER + "kim_long",
        b'{"v":1,"gateway":"x","seq":1,"station":"kim_long","produced_at":'
        b'"2026-11-22T16:40:00Z","readings":[{"param":"water_level","value":1'
        + b"0" * 400
        + b',"unit":"m","ts":"0001-01-01T00:00:00+14:00","status":"measuring"}]}',
    ),
    (_STRANGER + "KIM", b'{"v":1,"station":"KIM"}'),
    (_STRANGER + "kim_long", bytes(range(256)) * 32),
)


async def hostile_stranger(bus: InProcessBus, collector: Collector, console: Console) -> None:
    """Midway through the storm a stranger on the bus sends junk; the demo shows it refused."""
    await asyncio.sleep(20.0)
    before = collector.dead_letters.total
    for topic, payload in HOSTILE_MESSAGES:
        await bus.publish(topic, payload)
    await asyncio.sleep(2.0)
    counts = collector.dead_letters.counts
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()))
    console.print(
        f"[dim]wire boundary: {collector.dead_letters.total - before} hostile message(s) on the "
        f"raw topic refused ({reasons}); counted in /health, the stations go on[/]"
    )


def demo_data_dir(base: Path, keep_data: bool, now: datetime | None = None) -> Path:
    """Where a demo run keeps its data: a fresh folder ``BASE/demo-YYYYmmdd-HHMMSS`` (local
    time), so a run never starts from the last one's all-clears and rain totals; with
    ``keep_data``, BASE itself, carrying on from what is there."""
    if keep_data:
        return base
    stamp = (now or datetime.now(UTC)).astimezone(VIETNAM_TZ).strftime("%Y%m%d-%H%M%S")
    fresh = base / f"demo-{stamp}"
    index = 1
    while fresh.exists():  # two runs within a second
        index += 1
        fresh = base / f"demo-{stamp}-{index}"
    return fresh


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost")


async def run_demo(
    site: Site,
    *,
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    interval_s: float = 2.0,
    duration_s: float | None = None,
    console: Console | None = None,
) -> None:
    console = console or Console()
    stations = demo_stations(site, interval_s)
    store = SqliteStore(data_dir / "quantrac.sqlite3", station_catalog(site))
    bus = InProcessBus()
    # The storm plays in minutes what a river does in a day: QC's rates of change follow.
    qc = QcChain(QcSettings(site.stations, time_scale=DEMO_TIME_SCALE))
    derived = DerivedSeries(store, site.stations)  # flood levels, rain totals, hourly AQI/WQI
    collector = Collector(bus, store, qc=qc, derived=derived)
    # Warnings on the console (the embedded default), from the site's rules on demo time.
    console_only = AlertingConfig.model_validate(
        {
            "notifiers": {"console": {}},
            "routing": {
                "endpoints": {"console": "console"},
                "routes": [{"to": ["console"]}],
                "group_wait_s": 3,  # one storm, one message: stations changing together
            },
        }
    )
    alerting = build_alerting(
        site, bus, data_dir, config=console_only,
        rules=compressed_rules(site_rules(site), DEMO_TIME_SCALE),
    )  # fmt: skip
    gateway = GatewayService(
        site, bus, stations, outbox_path=data_dir / f"outbox-{site.settings.gateway_id}.sqlite3"
    )
    # TT10 stations: the demo uploads their data files to the gateway's FTP endpoint, which
    # writes them into the inbox.
    inbox = data_dir / "tt10-inbox"
    tt10_codes = [s.source.code for s in stations if isinstance(s.source, Tt10Source)]
    tt10 = tt10_inbox_for(site, stations, inbox if tt10_codes else None, settle_s=1.0, poll_s=0.5)
    if tt10 is not None:
        gateway.streaming.append(tt10)
    tt10_ftp = demo_tt10_ftp(stations, inbox) if tt10_codes else None
    context = ApiContext(
        store=store,
        stations={s.id: s for s in stations},
        site_name=site.settings.name,
        health=lambda: {
            "gateway": gateway.health(),
            "collector": collector.health(),
            "alerting": alerting.service.health(),
        },
        incidents=alerting.incidents,
        station_health=gateway.station_health,
        # A laptop demo on the loopback address: reads open so a newcomer's browser and curl
        # work at once; actions still want an operator key, made with the command printed
        # below (not made and printed here: a key in a terminal's scrollback is a secret in a
        # log). Listening on another address, reads want a key too.
        security=ApiSecurity(KeyStore(data_dir / KEYS_FILE), open_reads=_loopback(host)),
        outline=province_outline(site.directory),  # the IOC board's map
        live_poll_s=1.0,  # the storm moves fast: the board follows it every second
    )
    server = api_server(create_app(context), host, port)
    zone = site.settings.zone
    watch = FloodWatch(console, store, stations, zone)
    simulators = simulators_for(site, stations)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    base = f"http://{host}:{port}"
    console.print(
        f"[bold]quantrac demo[/] — {site.settings.name}, {len(stations)} simulated stations"
    )
    console.print(f"  data:   {store.path}")
    console.print(f"  board:  {base}/   (the IOC board: map, stations, incidents, live)")
    console.print(f"  API:    {base}/stations/kim_long/latest")
    console.print(f"          {base}/stations/kim_long/readings?param=water_level")
    console.print(f"          {base}/stations   {base}/health   {base}/docs")
    reads = "open on this machine" if context.security.open_reads else "need a viewer key"
    console.print(f"          reads {reads}; to acknowledge or silence, make a key:")
    console.print(
        f"          quantrac keys create --role operator --name me --data-dir {data_dir}",
        highlight=False,
    )
    console.print("  Ctrl-C stops the demo.\n")

    def show_board() -> None:
        console.print(index_board(store, stations, local_time(datetime.now(UTC), zone)))

    def write_indices() -> None:
        # What the boards show of VN_AQI and VN_WQI, kept as series the API serves.
        found = [r for s in stations for r in instant_indices(s, store.latest(s.id))]
        if found:
            store.write(found)

    async def every(period_s: float, job: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(period_s)
            await asyncio.to_thread(job)

    def spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.create_task(coro, name=name)

    started = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    try:
        for simulator in simulators:
            await simulator.start()
        if tt10_ftp is not None:
            await asyncio.to_thread(tt10_ftp.start)
            host_port = ":".join(map(str, tt10_ftp.address))
            console.print(
                f"TT10: {', '.join(a.station for a in tt10_ftp.accounts.values())} upload "
                f"their data files to the gateway's FTP endpoint {host_port} every 10 s",
                highlight=False,
            )
            # One line per login and upload, every 10 s, would bury the storm: the endpoint's
            # counters are in /health.
            logging.getLogger("gateway.tt10.ftp").setLevel(logging.WARNING)
        tasks = [
            spawn(collector.run(), "collector"),
            spawn(alerting.service.run(), "alerting"),
            spawn(gateway.run(), "gateway"),
            spawn(server.serve(), "api"),
            spawn(every(1.0, watch.check), "flood-watch"),
            spawn(every(30.0, show_board), "index-board"),
            spawn(every(5.0, write_indices), "indices"),
            spawn(hostile_stranger(bus, collector, console), "stranger"),
        ]
        if tt10_codes:
            feed = write_tt10_files(inbox, tt10_codes, every_s=10.0, ftp=tt10_ftp)
            tasks.append(spawn(feed, "tt10-feed"))
        waiter = asyncio.create_task(stop.wait())
        # The stranger's task ends once its junk is sent; the demo goes on without it.
        lasting = [task for task in tasks if task.get_name() != "stranger"]
        await asyncio.wait([waiter, *lasting], timeout=duration_s, return_when="FIRST_COMPLETED")
        waiter.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError(f"{task.get_name()} stopped") from task.exception()
    finally:
        console.print("\nstopping…")
        server.should_exit = True
        # Gateway first, then give the collector one flush interval to store what is in
        # flight, then the rest: nothing polled before Ctrl-C is lost on the way out.
        by_name = {task.get_name(): task for task in tasks}
        names = (
            "stranger", "tt10-feed", "gateway", "flood-watch", "index-board", "indices",
            "collector", "alerting",
        )  # fmt: skip
        for name in (*names, "api"):
            running = by_name.get(name)
            if running is None:
                continue
            if name == "collector":
                await asyncio.sleep(collector.flush_interval_s * 2)
            if name != "api":
                running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
        await alerting.aclose()
        for simulator in simulators:
            await simulator.stop()
        if tt10_ftp is not None:
            await asyncio.to_thread(tt10_ftp.stop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        stats = collector.stats
        console.print(
            f"stored {stats.readings} readings in {stats.batches} batches over "
            f"{time.monotonic() - started:.0f} s; data kept in {store.path}"
        )
        store.close()
