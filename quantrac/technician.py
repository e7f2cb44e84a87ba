"""Technician commands: read raw registers, scan a line (read-only); probing a station's device.

The station commands (``quantrac station probe|add|list|…``) are in ``quantrac.station_cli``;
what they show of a live device — one read, decoded and judged — is made here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.config import StationConfig
from gateway.model import DeviceStatus
from gateway.profiles import DeviceProfile, RegisterTable
from quantrac.cli_common import console, err_console, setup_logging

if TYPE_CHECKING:
    from gateway.config import Connection
    from gateway.modbus.survey import ScanResult

modbus_app = typer.Typer(help="Technician tools for Modbus (read-only).", no_args_is_help=True)


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
    # A narrow terminal wraps a number inside its cell; it never cuts it to "4.57…".
    for column in ("addr", "hex", "uint16", "int16"):
        grid.add_column(column, justify="right", overflow="fold")
    for layout in LAYOUTS:
        grid.add_column(f"float32 {layout}", justify="right", overflow="fold")
    for layout in ("ABCD", "CDAB"):
        grid.add_column(f"int32 {layout}", justify="right", overflow="fold")
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
    grid.add_column("unit", justify="right", overflow="fold")
    grid.add_column("answer", overflow="fold")
    for result in found:
        grid.add_row(str(result.unit), result.answer)
    console.print(grid)
    console.print(f"{len(found)} of {len(candidates)} unit ids answer on {connection.endpoint}")
    if not found:
        raise typer.Exit(1)


@dataclass(frozen=True, slots=True)
class Probe:
    """One read of a station's device: the registers, its identity texts, its status."""

    words: dict[tuple[RegisterTable, int], int]
    info: dict[str, str]
    status: DeviceStatus | None  # None: the profile has no status register
    status_code: int | None  # the raw word of the status register

    @property
    def device_error(self) -> bool:
        return self.status is DeviceStatus.ERROR


async def probe_device(config: StationConfig, profile: DeviceProfile) -> Probe:
    """Read the station once (read-only); raises ModbusReadError naming endpoint and register."""
    from gateway.modbus.hub import ModbusHub
    from gateway.modbus.station import ModbusStation

    hub = ModbusHub(config.modbus.connection)
    station = ModbusStation(config, profile, hub)
    try:
        words = await station.read_words()
        info = await station.read_info()
    finally:
        await hub.close()
    spec = profile.status
    code = None if spec is None else words[(spec.table, spec.address)]
    status = None if spec is None or code is None else spec.status_of(code)
    return Probe(words, info, status, code)


def probe_table(config: StationConfig, profile: DeviceProfile, probe: Probe) -> tuple[Table, int]:
    """The decoded table a technician judges a device by, and how many rows are not ok."""
    from gateway.modbus.survey import probe_rows

    source = config.modbus
    if probe.status is None:
        status = "device status: not served by this model"
    else:
        status = f"device status: {probe.status.name.lower()} (code {probe.status_code})"
    grid = Table(
        title=f"{config.name} ({config.id}) — {profile.model}",
        caption=f"{source.connection.endpoint} unit {source.unit} · {status}",
    )
    columns = ("parameter", "register", "raw words", "raw", "value", "unit", "limits", "verdict")
    for column in columns:
        numeric = column in ("raw", "value", "limits")
        grid.add_column(column, justify="right" if numeric else "left", overflow="fold")
    bad = 0
    for row in probe_rows(profile, probe.words):
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
    return grid, bad


def show_probe(config: StationConfig, profile: DeviceProfile, probe: Probe) -> int:
    """Print the probe; returns the problems found (rows not ok, a device in error)."""
    grid, bad = probe_table(config, profile, probe)
    console.print(grid)
    for name, text in probe.info.items():
        console.print(f"  {name}: {text}", highlight=False, markup=False)
    if probe.device_error:
        assert profile.status is not None
        spec = profile.status
        err_console.print(
            f"✗ the device reports an error: status code {probe.status_code} in "
            f"{spec.table} register {spec.address} (the profile maps it to error"
            f"{'' if probe.status_code in spec.map else ': not one of its known codes'})",
            style="red", highlight=False, markup=False,
        )  # fmt: skip
        bad += 1
    return bad
