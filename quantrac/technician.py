"""Technician commands: read raw registers, scan a line, probe a configured station (read-only)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.profiles import RegisterTable
from quantrac.cli_common import DEFAULT_SITE, console, err_console, setup_logging, site_or_exit

if TYPE_CHECKING:
    from gateway.config import Connection
    from gateway.modbus.survey import ScanResult

modbus_app = typer.Typer(help="Technician tools for Modbus (read-only).", no_args_is_help=True)
station_app = typer.Typer(help="Work on one configured station.", no_args_is_help=True)


TransportOpt = Annotated[
    str, typer.Option(help="tcp, rtu (serial line) or rtu_over_tcp (serial server)")
]
HostOpt = Annotated[str | None, typer.Option(help="TCP host (tcp, rtu_over_tcp)")]
PortOpt = Annotated[int, typer.Option(help="TCP port")]
DeviceOpt = Annotated[str | None, typer.Option(help="serial device, e.g. /dev/ttyUSB0 (rtu)")]
BaudOpt = Annotated[int, typer.Option(help="serial baud rate")]
ParityOpt = Annotated[str, typer.Option(help="serial parity N, E or O")]
StopbitsOpt = Annotated[int, typer.Option(help="serial stop bits")]
TableOpt = Annotated[str, typer.Option(help="holding (function 3) or input (function 4)")]
TimeoutOpt = Annotated[float, typer.Option(help="seconds to wait for each answer")]


def _connection(
    transport: str,
    host: str | None,
    port: int,
    device: str | None,
    baudrate: int,
    parity: str,
    stopbits: int,
) -> Connection:
    from pydantic import TypeAdapter, ValidationError

    from gateway.config import Connection

    document: dict[str, object] = {"transport": transport}
    if transport == "rtu":
        document.update(device=device, baudrate=baudrate, parity=parity, stopbits=stopbits)
    else:
        document.update(host=host, port=port)
    try:
        connection: Connection = TypeAdapter(Connection).validate_python(document)
    except ValidationError as exc:
        for item in exc.errors():
            field = ".".join(str(p) for p in item["loc"][1:]) or "transport"
            err_console.print(f"[red]--{field}: {item['msg']}[/]")
        raise typer.Exit(2) from None
    return connection


def _table(table: str) -> RegisterTable:
    if table not in ("holding", "input"):
        err_console.print(f"[red]--table must be holding or input, not {table!r}[/]")
        raise typer.Exit(2)
    return "holding" if table == "holding" else "input"


@modbus_app.command("read")
def modbus_read(
    unit: Annotated[int, typer.Option(help="unit id (slave address)")] = 1,
    address: Annotated[int, typer.Option(help="first register (0-based)")] = 0,
    count: Annotated[int, typer.Option(help="how many registers (≤ 125)")] = 10,
    table: TableOpt = "holding",
    transport: TransportOpt = "tcp",
    host: HostOpt = None,
    port: PortOpt = 502,
    device: DeviceOpt = None,
    baudrate: BaudOpt = 9600,
    parity: ParityOpt = "N",
    stopbits: StopbitsOpt = 1,
    timeout: TimeoutOpt = 2.0,
) -> None:
    """Read raw registers of a live device and show them as every type and word order."""
    from gateway.modbus.hub import ModbusHub, ModbusReadError
    from gateway.modbus.survey import LAYOUTS, register_views

    setup_logging(False)
    connection = _connection(transport, host, port, device, baudrate, parity, stopbits)
    register_table = _table(table)
    if not 1 <= count <= 125:
        err_console.print("[red]--count must be 1..125 (one Modbus read)[/]")
        raise typer.Exit(2)

    async def read() -> list[int]:
        hub = ModbusHub(connection)
        try:
            return await hub.read(
                unit, register_table, address, count, timeout_s=timeout, retries=0
            )
        finally:
            await hub.close()

    try:
        words = asyncio.run(read())
    except ModbusReadError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    title = f"{connection.endpoint} unit {unit} {register_table} {address}..{address + count - 1}"
    grid = Table(title=title, caption="32-bit columns: the value starting at this register")
    for column in ("addr", "hex", "uint16", "int16"):
        grid.add_column(column, justify="right")
    for layout in LAYOUTS:
        grid.add_column(f"float32 {layout}", justify="right")
    for layout in ("ABCD", "CDAB"):
        grid.add_column(f"int32 {layout}", justify="right")
    for view in register_views(address, words):
        floats = ["" if (v := view.float32[k]) is None else f"{v:.6g}" for k in LAYOUTS]
        ints = ["" if (v32 := view.int32[k]) is None else str(v32) for k in ("ABCD", "CDAB")]
        grid.add_row(
            str(view.address),
            f"{view.word:04X}",
            str(view.uint16),
            str(view.int16),
            *floats,
            *ints,
        )
    console.print(grid)


def _units(spec: str) -> list[int]:
    units: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        try:
            units.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            err_console.print(f"[red]--units: {part!r} is not a number or a range like 1-32[/]")
            raise typer.Exit(2) from None
    if not units or min(units) < 1 or max(units) > 247:
        err_console.print("[red]--units must be within 1..247[/]")
        raise typer.Exit(2)
    return units


@modbus_app.command("scan")
def modbus_scan(
    units: Annotated[str, typer.Option(help="unit ids to try: 1-247, or 1-10,20")] = "1-247",
    address: Annotated[int, typer.Option(help="register to ask each unit for")] = 0,
    table: TableOpt = "holding",
    transport: TransportOpt = "tcp",
    host: HostOpt = None,
    port: PortOpt = 502,
    device: DeviceOpt = None,
    baudrate: BaudOpt = 9600,
    parity: ParityOpt = "N",
    stopbits: StopbitsOpt = 1,
    timeout: TimeoutOpt = 0.3,
) -> None:
    """Find the unit ids that answer on a line or endpoint."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from gateway.modbus.hub import ModbusHub
    from gateway.modbus.survey import scan_units

    setup_logging(False)
    connection = _connection(transport, host, port, device, baudrate, parity, stopbits)
    register_table = _table(table)
    candidates = _units(units)

    async def scan() -> list[ScanResult]:
        hub = ModbusHub(connection, reconnect_min_s=0.0)
        columns = (TextColumn("scanning {task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(connection.endpoint, total=len(candidates))
            try:
                return await scan_units(
                    hub,
                    candidates,
                    table=register_table,
                    address=address,
                    timeout_s=timeout,
                    progress=lambda _unit: progress.advance(task),
                )
            finally:
                await hub.close()

    found = asyncio.run(scan())
    grid = Table(title=connection.endpoint)
    grid.add_column("unit", justify="right")
    grid.add_column("answer")
    for result in found:
        grid.add_row(str(result.unit), result.answer)
    console.print(grid)
    console.print(f"{len(found)} of {len(candidates)} unit ids answer on {connection.endpoint}")
    if not found:
        raise typer.Exit(1)


@station_app.command("probe")
def station_probe(
    station_id: Annotated[str, typer.Argument(help="station id, e.g. kim_long")],
    site_dir: Annotated[Path, typer.Option("--site", help="site directory")] = DEFAULT_SITE,
) -> None:
    """Read a configured station once and show each parameter, raw and decoded, judged."""
    from gateway.modbus.hub import ModbusHub, ModbusReadError
    from gateway.modbus.station import ModbusStation, decode_station
    from gateway.modbus.survey import probe_rows

    setup_logging(False)
    site = site_or_exit(site_dir)
    config = site.stations.get(station_id)
    if config is None:
        err_console.print(
            f"[red]no station {station_id!r} in {site_dir}; known: {', '.join(site.stations)}[/]"
        )
        raise typer.Exit(2)
    if not config.is_modbus:
        err_console.print(f"[red]{station_id} is not a Modbus station: nothing to probe[/]")
        raise typer.Exit(2)
    source = config.modbus
    profile = site.profile_of(config)

    async def probe() -> tuple[dict[tuple[RegisterTable, int], int], dict[str, str]]:
        hub = ModbusHub(source.connection)
        station = ModbusStation(config, profile, hub)
        try:
            words = await station.read_words()
            info = await station.read_info()
        finally:
            await hub.close()
        return words, info

    try:
        words, info = asyncio.run(probe())
    except ModbusReadError as exc:
        err_console.print(f"[red]{station_id}: {exc}[/]")
        raise typer.Exit(1) from None
    from datetime import UTC, datetime

    readings = decode_station(config.id, profile, words, datetime.now(UTC))
    status = readings[0].status.name.lower() if readings else "?"
    grid = Table(
        title=f"{config.name} ({config.id}) — {profile.model}",
        caption=f"{source.connection.endpoint} unit {source.unit} · device status: {status}",
    )
    columns = ("parameter", "register", "raw words", "raw", "value", "unit", "limits", "verdict")
    for column in columns:
        grid.add_column(column, justify="right" if column in ("raw", "value") else "left")
    bad = 0
    for row in probe_rows(profile, words):
        style = "green" if row.verdict == "ok" else "red"
        bad += row.verdict != "ok"
        grid.add_row(
            row.param,
            row.register,
            " ".join(f"{w:04X}" for w in row.raw_words),
            "" if row.raw is None else f"{row.raw:g}",
            "" if row.value is None else f"{row.value:.6g}",
            row.unit,
            f"{row.limits[0]:g} … {row.limits[1]:g}",
            f"[{style}]{row.verdict}[/]",
        )
    console.print(grid)
    for name, text in info.items():
        console.print(f"  {name}: {text}")
    if bad:
        raise typer.Exit(1)
