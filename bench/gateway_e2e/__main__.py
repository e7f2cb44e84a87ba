"""``python -m bench.gateway_e2e``: see the package docstring."""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from pathlib import Path
from typing import Any

from bench.gateway_e2e.floor import FLOOR_TOPIC, run_floor
from bench.gateway_e2e.kill import KillResult, kill_check
from bench.gateway_e2e.listener import listen
from bench.gateway_e2e.services import log_errors, services, wait_online, walk
from bench.gateway_e2e.site import write_site
from bench.modbus_poll import VALUES, cpu_model, free_ports, serve_slaves
from gateway.wire import RAW_FILTER
from tests.servers import Mosquitto

SLAVES_PER_PROCESS = 500
TICK = os.sysconf("SC_CLK_TCK")
TARGET_CPU_PER_1000 = 0.04
TARGET_RATIO = 1.4
TARGET_P50_S, TARGET_P99_S = 0.050, 0.250


@dataclass
class Figures:
    who: str
    stations: int
    expected: int
    delivered: int
    duplicates: int
    cpu_s: float
    collector_cpu_s: float | None
    rss_mb: float
    lags: list[float]
    skipped: int
    failed: int
    log_errors: int | None = None

    @property
    def share(self) -> float:
        return self.delivered / self.expected if self.expected else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.expected if self.expected else math.nan

    def lag(self, q: float) -> float:
        if not self.lags:
            return math.nan
        return self.lags[min(len(self.lags) - 1, int(q * len(self.lags)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else math.nan


def next_slot(interval_s: float, after: float) -> float:
    return (math.floor(after / interval_s) + 1) * interval_s


def sleep_until(wall: float) -> None:
    time.sleep(max(0.0, wall - time.time()))


def _start_slaves(ctx: SpawnContext, ports: list[int], stop: Any) -> list[Any]:
    processes = []
    for first in range(0, len(ports), SLAVES_PER_PROCESS):
        parent, child = ctx.Pipe()
        chunk = ports[first : first + SLAVES_PER_PROCESS]
        process = ctx.Process(target=serve_slaves, args=(chunk, 1, child, stop), daemon=True)
        process.start()
        processes.append((process, parent))
    return processes


def _stop_slaves(processes: list[Any], stop: Any) -> None:
    stop.set()
    for process, _parent in processes:
        process.join(10)
        if process.is_alive():
            process.kill()


@contextmanager
def slaves(ctx: SpawnContext, count: int) -> Iterator[list[int]]:
    """Real pymodbus servers, one endpoint per station, SLAVES_PER_PROCESS per process; yields
    their ports. A port another program took between choosing and binding it costs a retry
    with fresh ports (tests running beside the bench do take them)."""
    for attempt in range(3):
        ports = free_ports(count)
        stop = ctx.Event()
        processes = _start_slaves(ctx, ports, stop)
        try:
            for _process, parent in processes:
                if not parent.poll(120):
                    raise SystemExit("the pymodbus servers did not start in 120 s")
                parent.recv()
        except EOFError:  # a server process died: it could not listen
            _stop_slaves(processes, stop)
            if attempt == 2:
                raise SystemExit("the pymodbus servers could not listen, three times") from None
            continue
        try:
            yield ports
        finally:
            _stop_slaves(processes, stop)
        return


@contextmanager
def listening(ctx: SpawnContext, broker: Mosquitto, topic_filter: str) -> Iterator[Any]:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=listen, args=(broker.port, topic_filter, child), daemon=True)
    process.start()
    if not parent.poll(30):
        raise SystemExit("the listener did not connect in 30 s")
    parent.recv()
    try:
        yield parent
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()


def window(interval_s: float, duration_s: float) -> tuple[float, float]:
    t0 = next_slot(interval_s, time.time() + 0.2)
    slots = max(1, round(duration_s / interval_s))
    return t0, t0 + slots * interval_s


def measure_gateway(
    ctx: SpawnContext, root: Path, broker: Mosquitto, ports: list[int], args: argparse.Namespace
) -> Figures:
    site = write_site(root, ports, args.interval)
    collector, gateway = services(root, site, broker)
    n = len(ports)
    with ExitStack() as stack, listening(ctx, broker, RAW_FILTER) as listener:
        for service in (collector, gateway):
            service.start()
            stack.callback(service.stop)
        wait_online(gateway, n)  # warm-up: every station read once, then whole slots more
        time.sleep(args.warmup)
        t0, t1 = window(args.interval, args.duration)
        sleep_until(t0 - 0.05)
        missed0 = sum(walk(gateway.health(), "missed_runs"))
        cpu0, ccpu0 = cpu_seconds(gateway.pid), cpu_seconds(collector.pid)
        sleep_until(t1 - 0.05)
        cpu1, ccpu1 = cpu_seconds(gateway.pid), cpu_seconds(collector.pid)
        missed1 = sum(walk(gateway.health(), "missed_runs"))
        rss = peak_rss_mb(gateway.pid)
        time.sleep(args.grace)
        listener.send((t0, t1))
        counted = listener.recv()
        stack.close()  # SIGTERM, as systemd stops them
    return Figures(
        "quantrac",
        n,
        n * len(VALUES) * round((t1 - t0) / args.interval),
        counted["readings"],
        counted["duplicates"],
        cpu1 - cpu0,
        ccpu1 - ccpu0,
        rss,
        counted["lags"],
        missed1 - missed0,
        0,
        log_errors(root),
    )


def measure_floor(
    ctx: SpawnContext, broker: Mosquitto, ports: list[int], args: argparse.Namespace
) -> Figures:
    n = len(ports)
    with listening(ctx, broker, f"{FLOOR_TOPIC}/+") as listener:
        parent, child = ctx.Pipe()
        stop = ctx.Event()
        process = ctx.Process(
            target=run_floor, args=(ports, args.interval, broker.port, child, stop), daemon=True
        )
        process.start()
        if not parent.poll(120):
            raise SystemExit("the floor did not start in 120 s")
        parent.recv()
        assert process.pid is not None
        time.sleep(args.warmup)
        t0, t1 = window(args.interval, args.duration)
        sleep_until(t0 - 0.05)
        cpu0 = cpu_seconds(process.pid)
        sleep_until(t1 - 0.05)
        cpu1 = cpu_seconds(process.pid)
        rss = peak_rss_mb(process.pid)
        time.sleep(args.grace)
        listener.send((t0, t1))
        counted = listener.recv()
        stop.set()
        skipped, failed = parent.recv() if parent.poll(30) else (-1, -1)
        process.join(10)
    return Figures(
        "floor",
        n,
        n * len(VALUES) * round((t1 - t0) / args.interval),
        counted["readings"],
        counted["duplicates"],
        cpu1 - cpu0,
        None,
        rss,
        counted["lags"],
        skipped,
        failed,
    )


def ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


def summary(gateway: Figures, floor: Figures | None) -> dict[str, Any]:
    """The figures of one N as JSON (``--json``; tests/test_gateway_e2e.py reads them)."""

    def of(figures: Figures) -> dict[str, Any]:
        return {
            "delivered": figures.share,
            "duplicates": figures.duplicates,
            "cpu_per_1000": figures.cpu_per_1000,
            "rss_mb": figures.rss_mb,
            "lag_p50_s": figures.lag(0.5),
            "lag_p99_s": figures.lag(0.99),
            "skipped": figures.skipped,
        }

    return {
        "stations": gateway.stations,
        "quantrac": {**of(gateway), "log_errors": gateway.log_errors},
        "floor": None if floor is None else of(floor),
    }


def report(n: int, gateway: Figures, measured_floor: Figures | None) -> None:
    # --no-floor: the floor's column says "—" (its figures would read as zeros).
    floor = measured_floor or Figures("floor", n, 0, 0, 0, math.nan, None, math.nan, [], 0, 0)
    ratio = gateway.cpu_per_1000 / floor.cpu_per_1000
    rows = [
        ("delivered / expected", f"{gateway.share:.3f}", f"{floor.share:.3f}"),
        ("duplicates at the subscriber", f"{gateway.duplicates}", f"{floor.duplicates}"),
        (
            "gateway CPU s per 1000 readings",
            f"{gateway.cpu_per_1000:.4f}",
            f"{floor.cpu_per_1000:.4f}",
        ),
        (
            "collector CPU s per 1000 readings",
            f"{1000 * (gateway.collector_cpu_s or 0) / gateway.expected:.4f}",
            "—",
        ),
        ("peak RSS, MB", f"{gateway.rss_mb:.0f}", f"{floor.rss_mb:.0f}"),
        ("lag slot → subscriber p50, ms", ms(gateway.lag(0.5)), ms(floor.lag(0.5))),
        ("lag slot → subscriber p99, ms", ms(gateway.lag(0.99)), ms(floor.lag(0.99))),
        ("skipped polls", f"{gateway.skipped}", f"{floor.skipped}"),
        ("tracebacks and ERRORs in the logs (stop included)", f"{gateway.log_errors}", "—"),
    ]
    print(f"\nN = {n} stations, {gateway.expected:,} readings expected in the window")
    print("| | quantrac | floor |\n| --- | --- | --- |")
    for name, ours, theirs in rows:
        print(f"| {name} | {ours} | {theirs if measured_floor else '—'} |")
    if measured_floor is not None:
        print(
            f"CPU ratio quantrac / floor: {ratio:.2f} (target ≤ {TARGET_RATIO}); "
            f"lag p50 ratio {gateway.lag(0.5) / floor.lag(0.5):.2f}"
        )
    verdicts = [
        ("delivered 1.00", gateway.share >= 0.9995),
        (f"CPU ≤ {TARGET_CPU_PER_1000}", gateway.cpu_per_1000 <= TARGET_CPU_PER_1000),
        ("no poll skipped", gateway.skipped == 0),
    ]
    if n == 500:
        verdicts += [
            ("lag p50 < 50 ms", gateway.lag(0.5) < TARGET_P50_S),
            ("lag p99 < 250 ms", gateway.lag(0.99) < TARGET_P99_S),
        ]
    print("targets: " + ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in verdicts))


def report_kill(n: int, result: KillResult) -> None:
    print(
        f"\nkill -9 of the gateway mid-run, N = {n}: {result.durable_at_kill} batch(es) durable"
        f" in the outbox at the kill, {result.lost} of them lost after the restart (caught up"
        f" in {result.caught_up_s:.1f} s); {result.stored:,} polls stored;"
        f" {result.log_errors} traceback(s) or ERROR(s) in the logs"
    )
    sys.stdout.flush()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_e2e")
    parser.add_argument(
        "--stations",
        default="200,500,1000,2000",
        help="comma-separated numbers of stations (one endpoint each)",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval, s")
    parser.add_argument("--duration", type=float, default=30.0, help="measured window, s")
    parser.add_argument("--warmup", type=float, default=8.0, help="s after every station is up")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="s after the window for late deliveries"
    )
    parser.add_argument("--repeat", type=int, default=1, help="interleaved runs per N")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare asyncio floor")
    parser.add_argument(
        "--kill",
        type=int,
        default=200,
        help="stations of the SIGKILL check (gateway killed mid-run; 0: skip it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    counts = [int(part) for part in args.stations.split(",") if part.strip()]
    ctx = mp.get_context("spawn")
    print(
        f"gateway end to end: {platform.python_version()}, {cpu_model()}, "
        f"{os.cpu_count()} CPUs; interval {args.interval} s, window {args.duration} s"
    )
    work = Path(tempfile.mkdtemp(prefix="gateway-e2e-", dir=os.environ.get("BENCH_DIR")))
    print(f"work directory (real disk): {work}")
    results: dict[str, Any] = {"runs": [], "kill": None}
    try:
        if args.kill:
            root = work / f"kill-{args.kill}"
            root.mkdir(parents=True)
            (root / "broker").mkdir()
            broker = Mosquitto(root / "broker")
            broker.start()
            try:
                with slaves(ctx, args.kill) as ports:
                    killed = kill_check(root, broker, ports, args.interval)
                    report_kill(args.kill, killed)
                    results["kill"] = vars(killed)
            finally:
                broker.stop()
        for n in counts:
            for run in range(args.repeat):
                root = work / f"n{n}-run{run}"
                root.mkdir(parents=True)
                broker = Mosquitto(root / "broker")
                (root / "broker").mkdir()
                broker.start()
                try:
                    with slaves(ctx, n) as ports:
                        gateway = measure_gateway(ctx, root, broker, ports, args)
                        floor = None if args.no_floor else measure_floor(ctx, broker, ports, args)
                finally:
                    broker.stop()
                report(n, gateway, floor)
                results["runs"].append(summary(gateway, floor))
                sys.stdout.flush()
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
