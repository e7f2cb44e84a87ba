"""Modbus polling benchmark: the gateway's Poller against simulated slaves in another process.

    .venv/bin/python -m bench.modbus_poll [--stations 200] [--interval 1] [--duration 30]
                                          [--large 1000] [--large-interval 5] ...

The layout is a province's: every endpoint is one station logger (or RS-485-to-Ethernet
converter) on Modbus TCP with ``--units`` slaves behind it (unit ids 1…10 by default), so 200
stations are 20 endpoints. Every slave is a water-quality analyser serving ten float32
parameters in holding registers 0…19: one read of 20 registers per poll, ten readings.

Each phase runs in its own freshly spawned process, so the CPU time and peak RSS printed are
the gateway's alone; the simulated slaves (real pymodbus servers, gateway.simulator) run in one
more process for the whole run.

1. gateway  — a real Poller with ModbusStations (one ModbusHub per endpoint), ``--stations``
   at ``--interval`` for ``--duration`` s, publishing to a counter (no bus).
2. baseline — the plain pymodbus client reading the same registers in a tight loop, one loop
   per endpoint (one request in flight per connection, as on a real logger); then the
   gateway's own driver path (ModbusStation.read through ModbusHub) in the same tight loop.
3. large    — ``--large`` stations at ``--large-interval`` s: 1000 stations at 5 s is 12 times
   the request rate of 1000 stations at 60 s, and the same burst, since every station of an
   interval is aligned to the same slot. It decides the verdict on the 60 s target.

How to read the figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import multiprocessing as mp
import platform
import resource
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from multiprocessing.connection import Connection as Pipe
from multiprocessing.context import SpawnContext
from multiprocessing.synchronize import Event
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from gateway.config import StationConfig, TcpConnection
from gateway.modbus.hub import ModbusHub
from gateway.modbus.station import ModbusStation
from gateway.model import ReadingBatch
from gateway.parameters import registry
from gateway.poller import Poller, next_slot
from gateway.profiles import DeviceProfile
from gateway.simulator import SimulatedDevice, SimulatedEndpoint

HOST = "127.0.0.1"
# Ten canonical parameters of a water-quality station (gateway/parameters.yaml), with values
# inside their limits so that nothing downstream would flag them.
VALUES: Mapping[str, float] = {
    "water_temp": 27.5,
    "ph": 7.2,
    "do": 6.1,
    "cod": 12.0,
    "bod5": 4.5,
    "toc": 3.3,
    "tss": 18.0,
    "turbidity": 9.5,
    "conductivity": 310.0,
    "n_nh4": 0.3,
}
REGISTERS = 2 * len(VALUES)  # float32: two registers each
TARGET_INTERVAL_S = 60.0
TARGET_STATIONS = 1000
TARGET_JITTER_P99_S = 1.0
TARGET_RSS_MB = 250.0

# --- the device and the stations -------------------------------------------------------------


def bench_profile() -> DeviceProfile:
    return DeviceProfile.model_validate(
        {
            "id": "bench_water_logger",
            "model": "Benchmark water-quality analyser, 10 × float32",
            "kind": "water",
            "registers": [
                {
                    "param": param,
                    "address": 2 * index,
                    "type": "float32",
                    "unit": registry()[param].unit,
                }
                for index, param in enumerate(VALUES)
            ],
        }
    )


def layout(ports: list[int], stations: int, units: int) -> Iterator[tuple[int, int, int]]:
    """(station number, endpoint port, unit id): ``units`` slaves behind each endpoint."""
    for number in range(stations):
        yield number, ports[number // units], number % units + 1


def endpoints_for(stations: int, units: int) -> int:
    return math.ceil(stations / units)


def station_configs(
    ports: list[int], stations: int, units: int, interval_s: float
) -> list[StationConfig]:
    return [
        StationConfig.model_validate(
            {
                "id": f"bench_{number:04d}",
                "name": f"Bench station {number}",
                "kind": "water",
                "district": "Phú Xuân",
                # Everything else (timeout 3 s, 1 retry, fill_gap 8) is the shipped default.
                "source": {
                    "profile": "bench_water_logger",
                    "connection": {"host": HOST, "port": port},
                    "unit": unit,
                    "interval_s": interval_s,
                },
            }
        )
        for number, port, unit in layout(ports, stations, units)
    ]


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0…100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayResult:
    stations: int
    endpoints: int
    interval_s: float
    window_s: float
    polls: int
    readings: int
    expected_readings: int
    cpu_s: float
    jitter_p50_s: float
    jitter_p99_s: float
    jitter_max_s: float
    jitter_samples: int
    published_p50_s: float  # slot → batch published: the jitter plus the reads on the line
    published_p99_s: float
    missed_runs: int
    failures: int
    rss_start_mb: float
    rss_peak_mb: float

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.window_s

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.readings if self.readings else math.nan

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.window_s

    def meets_target(self) -> bool:
        """The 60 s target, judged on a run with at least as many stations and shorter slots."""
        return (
            self.stations >= TARGET_STATIONS
            and self.interval_s <= TARGET_INTERVAL_S
            and self.jitter_p99_s < TARGET_JITTER_P99_S
            and self.rss_peak_mb < TARGET_RSS_MB
            and self.missed_runs == 0
            and self.failures == 0
            and self.readings >= self.expected_readings
        )


@dataclass(frozen=True)
class LoopResult:
    """A tight loop: as many reads as the slaves answer, one in flight per endpoint."""

    window_s: float
    requests: int
    readings: int
    errors: int
    cpu_s: float

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.window_s

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.readings if self.readings else math.nan


# --- the simulated slaves (their own process) --------------------------------------------------


def serve_slaves(ports: list[int], units: int, ready: Pipe, stop: Event) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve_slaves(ports, units, ready, stop))


def _fixed(values: Mapping[str, float]) -> Callable[[float], Mapping[str, float]]:
    return lambda _elapsed: values


async def _serve_slaves(ports: list[int], units: int, ready: Pipe, stop: Event) -> None:
    profile = bench_profile()
    async with contextlib.AsyncExitStack() as stack:
        for port in ports:
            devices = [
                SimulatedDevice(
                    unit, profile, _fixed({p: v + unit / 100 for p, v in VALUES.items()})
                )
                for unit in range(1, units + 1)
            ]
            # Fixed values: the ticker that rewrites them would only steal the servers' CPU.
            endpoint = SimulatedEndpoint(TcpConnection(host=HOST, port=port), devices, tick_s=3600)
            await stack.enter_async_context(endpoint)
        ready.send("ready")
        await asyncio.to_thread(stop.wait)
    ready.send(time.process_time())


# --- phase 1 and 3: the gateway on its schedule -------------------------------------------------


def gateway_phase(
    ports: list[int], stations: int, units: int, interval_s: float, duration_s: float, out: Pipe
) -> None:
    logging.basicConfig(level=logging.WARNING)
    out.send(asyncio.run(_gateway_phase(ports, stations, units, interval_s, duration_s)))


async def _sleep_until(wall_time: float) -> None:
    await asyncio.sleep(max(0.0, wall_time - time.time()))


async def _gateway_phase(
    ports: list[int], stations: int, units: int, interval_s: float, duration_s: float
) -> GatewayResult:
    rss_start = peak_rss_mb()  # the interpreter with the gateway imported, before any station
    profile = bench_profile()
    hubs: dict[str, ModbusHub] = {}
    drivers = []
    for config in station_configs(ports, stations, units, interval_s):
        connection = config.modbus.connection
        hub = hubs.get(connection.endpoint)
        if hub is None:
            hub = hubs[connection.endpoint] = ModbusHub(connection)
        drivers.append(ModbusStation(config, profile, hub))

    readings = 0
    published: list[float] = []

    async def publish(batch: ReadingBatch) -> None:
        nonlocal readings
        readings += len(batch.readings) - 1  # not station_online: the same ten as the baseline
        published.append(time.time() - batch.readings[-1].ts.timestamp())  # ts is the slot

    def totals() -> tuple[int, int, int]:
        health = poller.health.values()
        return (
            sum(h.polls for h in health),
            sum(h.missed_runs for h in health),
            sum(h.errors for h in health),
        )

    poller = Poller("bench", drivers, publish)
    task = asyncio.create_task(poller.run())
    try:
        # One whole slot of warm-up (it connects the hubs), then whole slots only: the window
        # opens and closes just before a slot, so no burst is cut in two.
        lead = min(0.1, interval_s / 10)
        start = next_slot(time.time() + interval_s, interval_s) - lead
        slots = max(1, round(duration_s / interval_s))
        await _sleep_until(start)
        poller.jitter.clear()
        published.clear()
        readings = 0
        polls0, missed0, errors0 = totals()
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        await _sleep_until(start + slots * interval_s)
        cpu = time.process_time() - cpu0
        window = time.perf_counter() - wall0
        polls1, missed1, errors1 = totals()
        counted = readings
        jitter = list(poller.jitter)
        delays = list(published)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for hub in hubs.values():
            await hub.close()
    return GatewayResult(
        stations=stations,
        endpoints=len(hubs),
        interval_s=interval_s,
        window_s=window,
        polls=polls1 - polls0,
        readings=counted,
        expected_readings=stations * slots * len(VALUES),
        cpu_s=cpu,
        jitter_p50_s=percentile(jitter, 50),
        jitter_p99_s=percentile(jitter, 99),
        jitter_max_s=max(jitter, default=math.nan),
        jitter_samples=len(jitter),
        published_p50_s=percentile(delays, 50),
        published_p99_s=percentile(delays, 99),
        missed_runs=missed1 - missed0,
        failures=errors1 - errors0,
        rss_start_mb=rss_start,
        rss_peak_mb=peak_rss_mb(),
    )


# --- phase 2: the tight loops ------------------------------------------------------------------


def baseline_phase(
    ports: list[int], stations: int, units: int, duration_s: float, out: Pipe
) -> None:
    logging.basicConfig(level=logging.WARNING)

    async def both() -> tuple[LoopResult, LoopResult]:
        return (
            await _plain_pymodbus(ports, stations, units, duration_s),
            await _gateway_drivers(ports, stations, units, duration_s),
        )

    out.send(asyncio.run(both()))


def _units_by_port(ports: list[int], stations: int, units: int) -> dict[int, list[int]]:
    by_port: dict[int, list[int]] = {}
    for _number, port, unit in layout(ports, stations, units):
        by_port.setdefault(port, []).append(unit)
    return by_port


Counts = tuple[int, int, int]  # requests, readings, errors
Loop = Callable[[float], Awaitable[Counts]]  # runs until the deadline (perf_counter)


async def _measure_loops(loops: list[Loop], duration_s: float) -> LoopResult:
    """Run ``loops`` (each returns (requests, readings, errors)) until ``duration_s`` is up."""
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    deadline = wall0 + duration_s
    counts: list[Counts] = await asyncio.gather(*(loop(deadline) for loop in loops))
    return LoopResult(
        window_s=time.perf_counter() - wall0,
        requests=sum(c[0] for c in counts),
        readings=sum(c[1] for c in counts),
        errors=sum(c[2] for c in counts),
        cpu_s=time.process_time() - cpu0,
    )


async def _plain_pymodbus(
    ports: list[int], stations: int, units: int, duration_s: float
) -> LoopResult:
    clients: list[tuple[AsyncModbusTcpClient, list[int]]] = []
    for port, unit_ids in _units_by_port(ports, stations, units).items():
        client = AsyncModbusTcpClient(HOST, port=port, timeout=3.0, retries=0)
        if not await client.connect():
            raise SystemExit(f"baseline: cannot connect to {HOST}:{port}")
        clients.append((client, unit_ids))

    def loop(client: AsyncModbusTcpClient, unit_ids: list[int]) -> Loop:
        async def run(deadline: float) -> Counts:
            requests = readings = errors = 0
            while time.perf_counter() < deadline:
                for unit in unit_ids:
                    response = await client.read_holding_registers(
                        0, count=REGISTERS, device_id=unit
                    )
                    requests += 1
                    if response.isError():
                        errors += 1
                    else:
                        readings += len(response.registers) // 2  # float32 values
            return requests, readings, errors

        return run

    try:
        return await _measure_loops([loop(c, u) for c, u in clients], duration_s)
    finally:
        for client, _units in clients:
            client.close()


async def _gateway_drivers(
    ports: list[int], stations: int, units: int, duration_s: float
) -> LoopResult:

    profile = bench_profile()
    by_hub: dict[str, list[ModbusStation]] = {}
    hubs: dict[str, ModbusHub] = {}
    for config in station_configs(ports, stations, units, 60.0):
        connection = config.modbus.connection
        hub = hubs.get(connection.endpoint)
        if hub is None:
            hub = hubs[connection.endpoint] = ModbusHub(connection)
        by_hub.setdefault(connection.endpoint, []).append(ModbusStation(config, profile, hub))
    ts = datetime.now(UTC).replace(microsecond=0)
    for drivers in by_hub.values():
        await drivers[0].read(ts)  # connect outside the measurement, as the baseline does

    def loop(drivers: list[ModbusStation]) -> Loop:
        async def run(deadline: float) -> Counts:
            requests = readings = errors = 0
            while time.perf_counter() < deadline:
                for driver in drivers:
                    requests += 1
                    try:
                        readings += len(await driver.read(ts))
                    except Exception:
                        errors += 1
            return requests, readings, errors

        return run

    try:
        return await _measure_loops([loop(d) for d in by_hub.values()], duration_s)
    finally:
        for hub in hubs.values():
            await hub.close()


# --- the orchestration and the report ----------------------------------------------------------


def run_in_process(ctx: SpawnContext, target: Callable[..., None], *args: Any) -> Any:
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(*args, send), daemon=True)
    process.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:
        raise SystemExit(f"{target.__name__} died (exit code {process.exitcode})") from None
    finally:
        process.join()


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def report(
    args: argparse.Namespace,
    gateway: GatewayResult,
    plain: LoopResult | None,
    drivers: LoopResult | None,
    large: GatewayResult | None,
    simulator_cpu_s: float,
    elapsed_s: float,
) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped into a file, rich would wrap at 80 columns: the tables are wider than that.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(
        f"[bold]quantrac Modbus polling benchmark[/] — {cpu_model()}, "
        f"{mp.cpu_count()} cores, Python {platform.python_version()}, "
        f"pymodbus {version('pymodbus')}, APScheduler {version('APScheduler')}"
    )
    console.print(
        f"slaves: {args.units} per TCP endpoint, {REGISTERS} holding registers "
        f"(10 × float32) each, served by pymodbus in a separate process"
    )

    phases = [gateway] + ([large] if large is not None else [])
    table = Table(title="Gateway on its schedule (Poller + ModbusStation + ModbusHub)")
    table.add_column("")
    for phase in phases:
        table.add_column(f"{phase.stations} stations @ {phase.interval_s:g} s", justify="right")
    rows: list[tuple[str, Callable[[GatewayResult], str]]] = [
        ("endpoints × units", lambda r: f"{r.endpoints} × {args.units}"),
        ("measured window", lambda r: f"{r.window_s:.1f} s"),
        ("polls", lambda r: f"{r.polls:,}"),
        ("readings (of expected)", lambda r: f"{r.readings:,} / {r.expected_readings:,}"),
        ("readings/s", lambda r: f"{r.readings_per_s:,.0f}"),
        ("CPU s per 1000 readings", lambda r: f"{r.cpu_per_1000:.3f}"),
        ("CPU use (of one core)", lambda r: f"{100 * r.cpu_share:.1f} %"),
        ("jitter p50", lambda r: ms(r.jitter_p50_s)),
        ("jitter p99", lambda r: ms(r.jitter_p99_s)),
        ("jitter max", lambda r: ms(r.jitter_max_s)),
        (
            "slot → published p50 / p99",
            lambda r: f"{ms(r.published_p50_s)} / {ms(r.published_p99_s)}",
        ),
        ("missed runs", lambda r: f"{r.missed_runs}"),
        ("failed polls", lambda r: f"{r.failures}"),
        ("RSS before stations", lambda r: f"{r.rss_start_mb:.0f} MB"),
        ("peak RSS", lambda r: f"{r.rss_peak_mb:.0f} MB"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(phase) for phase in phases))
    console.print(table)

    if plain is not None and drivers is not None:
        base = Table(
            title=f"Against the plain pymodbus client ({gateway.stations} slaves, "
            f"tight loop, one request in flight per endpoint)"
        )
        for column in ("", "readings/s", "CPU s / 1000 readings", "rate ratio", "CPU ratio"):
            base.add_column(column, justify="right" if column else "left")
        lines: list[tuple[str, float, float]] = [
            ("plain pymodbus client, tight loop", plain.readings_per_s, plain.cpu_per_1000),
            ("gateway drivers, tight loop", drivers.readings_per_s, drivers.cpu_per_1000),
            (
                f"gateway on schedule ({gateway.interval_s:g} s)",
                gateway.readings_per_s,
                gateway.cpu_per_1000,
            ),
        ]
        for label, rate, cpu in lines:
            base.add_row(
                label,
                f"{rate:,.0f}",
                f"{cpu:.3f}",
                f"{rate / plain.readings_per_s:.2f}",
                f"{cpu / plain.cpu_per_1000:.2f}",
            )
        console.print(base)
        console.print(
            "rate ratio: readings/s over the plain client's. The scheduled gateway is capped by "
            "its schedule, so its rate ratio only says how far below capacity it runs; the CPU "
            "ratio (CPU per reading over the plain client's) is the fair cost of the gateway."
        )
        if plain.errors or drivers.errors:
            console.print(f"[red]errors: plain {plain.errors}, drivers {drivers.errors}[/]")

    console.print(f"simulated slaves' process: {simulator_cpu_s:.1f} CPU s over the whole run")
    verdict = "not measured (--large 0)"
    if large is not None:
        scale = TARGET_INTERVAL_S / large.interval_s
        verdict = (
            f"{'PASS' if large.meets_target() else 'FAIL'} — {large.stations} stations at "
            f"{large.interval_s:g} s ({scale:g}× the request rate of as many at "
            f"{TARGET_INTERVAL_S:g} s, the same burst per slot; the target is ≥ "
            f"{TARGET_STATIONS}): p99 jitter {ms(large.jitter_p99_s)} "
            f"(target < {ms(TARGET_JITTER_P99_S)}), peak RSS {large.rss_peak_mb:.0f} MB "
            f"(target < {TARGET_RSS_MB:.0f} MB), {large.missed_runs} missed, "
            f"{large.failures} failed"
        )
    console.print(f"[bold]60 s target:[/] {verdict}")
    summary = (
        f"SUMMARY {gateway.stations}@{gateway.interval_s:g}s: "
        f"{gateway.readings_per_s:,.0f} readings/s, {gateway.cpu_per_1000:.3f} CPU s/1000, "
        f"jitter p50 {ms(gateway.jitter_p50_s)} p99 {ms(gateway.jitter_p99_s)}, "
        f"RSS {gateway.rss_peak_mb:.0f} MB"
    )
    if plain is not None:
        summary += (
            f" | baseline {plain.readings_per_s:,.0f} readings/s: rate ratio "
            f"{gateway.readings_per_s / plain.readings_per_s:.2f}, CPU/reading ratio "
            f"{gateway.cpu_per_1000 / plain.cpu_per_1000:.2f}"
        )
    if large is not None:
        summary += (
            f" | {large.stations}@{large.interval_s:g}s: jitter p99 {ms(large.jitter_p99_s)}, "
            f"RSS {large.rss_peak_mb:.0f} MB → 60 s target "
            f"{'PASS' if large.meets_target() else 'FAIL'}"
        )
    console.print(f"{summary} | {elapsed_s:.0f} s", soft_wrap=True, highlight=False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.modbus_poll", description=__doc__)
    parser.add_argument("--stations", type=int, default=200, help="slaves polled (default 200)")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, s (≥ 1)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured window, s")
    parser.add_argument("--units", type=int, default=10, help="slaves per TCP endpoint")
    parser.add_argument(
        "--baseline-duration", type=float, default=10.0, help="each tight loop, s (0: skip)"
    )
    parser.add_argument(
        "--large", type=int, default=TARGET_STATIONS, help="stations of phase 3 (0: skip)"
    )
    parser.add_argument("--large-interval", type=float, default=5.0)
    parser.add_argument("--large-duration", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.interval < 1 or args.large_interval < 1:
        parser.error("a station's interval is at least 1 s (gateway.config.ModbusSource)")
    if not 1 <= args.units <= 247 or args.stations < 1 or args.large < 0:
        parser.error("need 1 ≤ --units ≤ 247, --stations ≥ 1, --large ≥ 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    began = time.perf_counter()
    ctx = mp.get_context("spawn")  # fresh interpreters: no memory inherited from this one
    ports = free_ports(endpoints_for(max(args.stations, args.large), args.units))
    from_slaves, to_parent = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    slaves = ctx.Process(
        target=serve_slaves, args=(ports, args.units, to_parent, stop), daemon=True
    )
    slaves.start()
    to_parent.close()
    try:
        if not from_slaves.poll(120) or from_slaves.recv() != "ready":
            raise SystemExit("the simulated slaves did not start")
        print(f"{len(ports)} endpoints of simulated slaves up; gateway phase…", file=sys.stderr)
        gateway: GatewayResult = run_in_process(
            ctx, gateway_phase, ports, args.stations, args.units, args.interval, args.duration
        )
        plain = drivers = None
        if args.baseline_duration > 0:
            print("baseline phase…", file=sys.stderr)
            plain, drivers = run_in_process(
                ctx, baseline_phase, ports, args.stations, args.units, args.baseline_duration
            )
        large = None
        if args.large:
            print(f"large phase ({args.large} stations)…", file=sys.stderr)
            large = run_in_process(
                ctx,
                gateway_phase,
                ports,
                args.large,
                args.units,
                args.large_interval,
                args.large_duration,
            )
    finally:
        stop.set()
        simulator_cpu_s = math.nan
        if from_slaves.poll(30):
            with contextlib.suppress(EOFError):
                simulator_cpu_s = float(from_slaves.recv())
        slaves.join(5)
        if slaves.is_alive():
            slaves.terminate()
    report(args, gateway, plain, drivers, large, simulator_cpu_s, time.perf_counter() - began)


if __name__ == "__main__":
    main()
