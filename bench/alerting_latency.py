"""Alerting benchmark (issue 7): rule evaluation per clean batch, and raw reading → webhook.

    .venv/bin/python -m bench.alerting_latency [--rules 10000] [--series 10000] [--load 5000]
                                               [--seconds 30] [--warmup 10] [--one-process]
                                               [--failing none|500|hang]

The site is synthetic, built in memory as tests/alerting/test_rules_evaluator.py builds it:
``--series`` / 10 water-quality stations (kind water) of ten parameters each, and one
threshold rule per series (``--rules`` of them, each its own entry in the rules list, with a
warning and a critical level from the parameter's QCVN-like limits; DO is a "below" rule),
plus one flood rule (``from_station: flood_levels``) over ten probe gauges (kind hydro).

1. **Evaluation** (in a child process, so that its RSS is the rules' alone): an hour of history
   at one reading a minute per series is fed first, so that every rule's rate window is full as
   in a running service; then each station's next clean batch (its ten readings) goes through
   ``Evaluator.on_batch``, timed one by one: batches whose values stay under the levels, and
   batches where one reading crosses a level (a signal is built: facts, rate fit). Baseline in
   the same run: ``decode_batch`` of the same clean batch from its JSON — the work the service
   does on every batch before the rules see it, so the ratio says what evaluation adds to the
   unavoidable cost of a batch. The cost of a batch of a station without rules is printed too.
2. **End to end**: a real Mosquitto (tests.servers.Mosquitto); a Collector (MqttBus, SQLite
   store, the real QcChain with the site's QC settings) and an AlertingService (MqttBus,
   ``build_alerting`` with one signed webhook notifier to an HttpReceiver on loopback, a route
   sending everything to it, ``group_wait_s: 0``), each in its own process as in production
   (``--one-process``: both in one process, sharing one GIL); a load generator process (the
   gateway: MqttBus, ``encode_batch``) publishing the stations' raw batches at ``--load``
   readings/s with values under every level. This process publishes a probe every
   ``--probe-interval`` s on a probe gauge (in turn over ten, so that no incident changes twice
   within a group), alternately above BĐ I and back below it, so each probe is a level change
   and a notification; the probe's number is in its value. Its latency is the webhook's arrival
   (HttpReceiver's monotonic stamp) minus the probe's publish time. This process also listens on
   the probes' clean and incidents topics: raw → clean is the collector's share (the baseline
   of the ratio), clean → incident the rules and incident store, incident → webhook grouping,
   routing and the HTTP POST. After ``--warmup`` s of load, probes run for ``--seconds`` s.
   Defaults kept: the collector's flush interval (0.2 s) and the alerting service's tick.
   Two receivers, each with its own delivery queue (alerting.delivery): the IOC webhook and
   the committee's SMS (two members, a ``custom`` SMS gateway on the same loopback receiver,
   whose request carries the notification's key). Arrivals are matched to probes by key.
   ``--failing 500`` makes the IOC answer 500 all along, ``--failing hang`` answer after 30 s
   (past the webhook's 10 s timeout): then the end-to-end figure is the SMS's, which must
   stay under 1 s while the webhook's queue grows (issue 11).

Peak RSS (``ru_maxrss``) of every process, their CPU use and RSS growth over the measured
window. Targets: end-to-end p99 < 1 s; a batch's evaluation < 1 ms; < 300 MB with 10,000
rules. The rules' rate windows keep an hour of points, so the alerting process grows with the
load until an hour has passed: the RSS verdict holds for the run, and the growth is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from alerting.model import Signal
from alerting.rules import Evaluator, parse_rules
from alerting.rules.series import RATE_POINTS
from alerting.service import TICK_S
from bench.alerting_eval import (
    EvalReport,
    evaluation_process,
    print_evaluation,
    us,
)
from bench.alerting_workload import (
    DRAIN_S,
    FAILING,
    FLOOD_LEVELS,
    HANG_S,
    PARAMS,
    PROBE_BASE,
    PROBE_STEP,
    PROBES,
    SECRET_ENV,
    SMS_TOKEN_ENV,
    TARGET_BATCH_S,
    TARGET_E2E_S,
    TARGET_RSS_MB,
    bench_alerting,
    bench_rules,
    peak_rss_mb,
    percentile,
    probe_ids,
    rss_now_mb,
    site_of,
    station_batch,
    station_ids,
)
from collector.qc import QcChain, QcSettings
from collector.schema import StationInfo
from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus import Subscription
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import clean_topic, encode_batch, incidents_topic, raw_topic
from quantrac.alerting_app import build_alerting

# -- 2. end to end: the processes --------------------------------------------------------------


@dataclass
class Sample:
    t: float  # time.monotonic()
    cpu: float  # time.process_time()
    count: int
    rss_mb: float


@dataclass
class WorkerReport:
    role: str
    samples: list[Sample]
    peak_rss_mb: float
    health: dict[str, Any] = field(default_factory=dict)
    # (monotonic end, seconds) of each Evaluator.on_batch in the running service
    evaluations: list[tuple[float, float]] = field(default_factory=list)


async def sample(samples: list[Sample], count: Callable[[], int]) -> None:
    while True:
        samples.append(Sample(time.monotonic(), time.process_time(), count(), rss_now_mb()))
        await asyncio.sleep(0.25)


class TimedRules:
    """The service's rules with each ``on_batch`` timed in place (the service is unchanged)."""

    def __init__(self, inner: Evaluator) -> None:
        self.inner = inner
        self.readings = 0
        self.times: list[tuple[float, float]] = []

    def on_batch(self, readings: Sequence[Reading]) -> list[Signal]:
        started = time.perf_counter()
        out = self.inner.on_batch(readings)
        self.times.append((time.monotonic(), time.perf_counter() - started))
        self.readings += len(readings)
        return out

    def tick(self, now: datetime) -> list[Signal]:
        return self.inner.tick(now)


@dataclass
class Role:
    """One service run by a worker process: what it counts and how it reports."""

    name: str
    count: Callable[[], int]
    health: Callable[[], dict[str, object]]
    timed: TimedRules | None = None
    samples: list[Sample] = field(default_factory=list)


async def wait_for(stop: Event) -> None:
    while not stop.is_set():  # noqa: ASYNC110 — a multiprocessing event, not an asyncio one
        await asyncio.sleep(0.05)


async def services(
    roles: Sequence[str],
    port: int,
    series: int,
    rules: int,
    directory: Path,
    base_url: str,
    ready: Connection,
    stop: Event,
) -> list[WorkerReport]:
    """The collector and/or the alerting service, each on its own MQTT client."""
    site = site_of(series, directory)
    runs: list[Callable[[], Any]] = []
    buses: list[MqttBus] = []
    roles_run: list[Role] = []
    closers: list[Callable[[], Any]] = []
    if "collector" in roles:
        catalog = {s.id: StationInfo(s.kind, s.district, s.name) for s in site.stations.values()}
        store = SqliteStore(directory / "quantrac.sqlite3", catalog)
        bus = MqttBus(MqttSettings(host="127.0.0.1", port=port, client_id="bench-collector"))
        collector = Collector(bus, store, qc=QcChain(QcSettings(site.stations)))
        stats = collector.stats
        buses.append(bus)
        runs.append(collector.run)
        roles_run.append(Role("collector", lambda: stats.readings, collector.health))
        closers.append(store.close)
    if "alerting" in roles:
        bus = MqttBus(MqttSettings(host="127.0.0.1", port=port, client_id="bench-alerting"))
        app = build_alerting(
            site,
            bus,
            directory / "alerting",
            config=bench_alerting(base_url),
            rules=parse_rules(bench_rules(series, rules)),
            environ={SECRET_ENV: "bench-secret", SMS_TOKEN_ENV: "bench-token"},
        )
        timed = TimedRules(app.evaluator)
        app.service.rules = timed
        buses.append(bus)
        runs.append(app.service.run)
        roles_run.append(Role("alerting", lambda: timed.readings, app.service.health, timed))
        closers.append(app.aclose)
    async with contextlib.AsyncExitStack() as stack:
        for bus in buses:
            await stack.enter_async_context(bus)
        for bus in buses:
            await asyncio.wait_for(bus.connected.wait(), 30)
        await asyncio.sleep(0.5)  # the subscriptions are made right after connecting
        tasks = [asyncio.create_task(run()) for run in runs]
        tasks += [asyncio.create_task(sample(r.samples, r.count)) for r in roles_run]
        ready.send([r.name for r in roles_run])
        await wait_for(stop)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    # Health first: the alerting service's reads its SQLite files (queues, silences).
    reports = [
        WorkerReport(
            r.name,
            r.samples,
            peak_rss_mb(),
            json.loads(json.dumps(r.health(), default=str)),
            r.timed.times if r.timed is not None else [],
        )
        for r in roles_run
    ]
    for close in closers:
        result = close()
        if asyncio.iscoroutine(result):
            await result
    return reports


def services_process(
    roles: Sequence[str],
    port: int,
    series: int,
    rules: int,
    directory: str,
    base_url: str,
    conn: Connection,
    stop: Event,
) -> None:
    reports = asyncio.run(
        services(roles, port, series, rules, Path(directory), base_url, conn, stop)
    )
    conn.send(reports)
    conn.close()


async def load(
    port: int, series: int, rate: float, ready: Connection, go: Event, stop: Event
) -> WorkerReport:
    """The gateway: every station's raw batch in turn, ``rate`` readings a second in all."""
    sids = station_ids(series)
    per_station = [min(len(PARAMS), series - i * len(PARAMS)) for i in range(len(sids))]
    per_second = rate / statistics.fmean(per_station)  # batches
    samples: list[Sample] = []
    published = 0
    bus = MqttBus(MqttSettings(host="127.0.0.1", port=port, client_id="bench-load"))
    async with bus:
        await asyncio.wait_for(bus.connected.wait(), 30)
        ready.send(["load"])
        while not go.is_set():  # noqa: ASYNC110 — a multiprocessing event
            await asyncio.sleep(0.01)
        sampler = asyncio.create_task(sample(samples, lambda: published))
        started = time.monotonic()
        sent = 0
        while not stop.is_set():
            due = int((time.monotonic() - started) * per_second)
            now = datetime.now(UTC)
            t_s = time.time()
            while sent < due:
                index = sent % len(sids)
                sid = sids[index]
                readings = station_batch(
                    sid, index, now, t_s, Quality.UNCHECKED, per_station[index]
                )
                batch = ReadingBatch("bench-load", sent + 1, sid, tuple(readings), now)
                await bus.publish(raw_topic(sid), encode_batch(batch))
                sent += 1
                published += len(readings)
            await asyncio.sleep(0.01)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    return WorkerReport("load", samples, peak_rss_mb(), {"bus": vars(bus.stats)})


def load_process(
    port: int, series: int, rate: float, conn: Connection, go: Event, stop: Event
) -> None:
    conn.send(asyncio.run(load(port, series, rate, conn, go, stop)))
    conn.close()


# -- 2. end to end: this process (probes, observer, receiver) --------------------------------------


@dataclass
class Probes:
    published: dict[int, float] = field(default_factory=dict)  # probe → monotonic publish
    clean: dict[int, float] = field(default_factory=dict)
    incident: dict[int, float] = field(default_factory=dict)
    webhook: dict[int, float] = field(default_factory=dict)
    sms: dict[int, float] = field(default_factory=dict)  # the first of the committee's two
    # (incident ref, change) of each incident message → its probe: a notification's key names
    # its transitions as "<ref>#<revision>:<change>" (alerting.incidents.Transition.key)
    changes: dict[tuple[str, str], int] = field(default_factory=dict)

    def stamp(self, into: dict[int, float], key: str, at: float) -> None:
        """The arrival of a notification (its key) at a receiver, for each probe it carries."""
        for part in key.split("|"):
            ref, _, change = part.partition("#")
            probe = self.changes.get((ref, change.partition(":")[2]))
            if probe is not None:
                into.setdefault(probe, at)


def probe_number(value: float) -> int:
    base = PROBE_BASE[value >= FLOOD_LEVELS["bd1"]]
    return round((value - base) / PROBE_STEP)


Subscriptions = list[tuple[Subscription, dict[int, float]]]


def subscribe_probes(bus: MqttBus, probes: Probes) -> Subscriptions:
    """The probes' clean batches and incident changes (subscribed before the bus connects)."""
    return [(bus.subscribe(clean_topic(sid)), probes.clean) for sid in probe_ids()] + [
        (bus.subscribe(incidents_topic(sid)), probes.incident) for sid in probe_ids()
    ]


async def observe(subscriptions: Subscriptions, probes: Probes) -> None:
    """Stamp each probe's clean batch and incident change on arrival."""

    async def drain(subscription: Subscription, into: dict[int, float]) -> None:
        while True:
            message = await subscription.get()
            at = time.monotonic()
            document = json.loads(message.payload)
            if "readings" in document:
                values = [r["value"] for r in document["readings"]]
            else:
                values = [document["facts"].get("value")]
            for value in values:
                if isinstance(value, int | float):
                    into.setdefault(probe_number(value), at)
                    if "change" in document:
                        started = datetime.fromisoformat(document["started_at"])
                        ref = f"{document['id']}@{int(started.timestamp())}"
                        probes.changes[(ref, document["change"])] = probe_number(value)

    async with asyncio.TaskGroup() as group:
        for subscription, into in subscriptions:
            group.create_task(drain(subscription, into))


async def publish_probes(bus: MqttBus, probes: Probes, interval: float, seconds: float) -> None:
    level = dict.fromkeys(probe_ids(), False)
    started = time.monotonic()
    number = 0
    while time.monotonic() - started < seconds:
        sid = probe_ids()[number % PROBES]
        level[sid] = not level[sid]
        value = PROBE_BASE[level[sid]] + number * PROBE_STEP
        reading = Reading(sid, "water_level", value, "m", datetime.now(UTC))
        payload = encode_batch(ReadingBatch("bench-probe", number + 1, sid, (reading,)))
        probes.published[number] = time.monotonic()
        await bus.publish(raw_topic(sid), payload)
        number += 1
        await asyncio.sleep(max(0.0, started + number * interval - time.monotonic()))


def window(samples: Sequence[Sample], start: float, end: float) -> tuple[float, float, float]:
    """Count per second, CPU share of one core, RSS growth in MB/min, from ``start`` to ``end``."""
    inside = [s for s in samples if start <= s.t <= end]
    if len(inside) < 2:
        return math.nan, math.nan, math.nan
    first, last = inside[0], inside[-1]
    span = last.t - first.t
    return (
        (last.count - first.count) / span,
        (last.cpu - first.cpu) / span,
        (last.rss_mb - first.rss_mb) / span * 60,
    )


def mosquitto_peak_mb(pid: int) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


@dataclass
class EndToEnd:
    probes: Probes
    reports: list[WorkerReport]
    start: float
    end: float
    broker_mb: float
    receiver_requests: int


async def end_to_end(args: argparse.Namespace, directory: Path) -> EndToEnd:
    from tests.alerting.receivers import HttpReceiver, Reply
    from tests.servers import Mosquitto

    broker = Mosquitto(directory / "broker")
    broker.directory.mkdir()
    broker.start()
    assert broker.process is not None
    receiver = HttpReceiver().start()
    # --failing: how the IOC's webhook answers all along (the committee's SMS always 200)
    receiver.script(
        "/ioc",
        {
            "none": Reply(200, json={"ok": True}),
            "500": Reply(500, body=b"IOC: internal error"),
            "hang": Reply(200, json={"ok": True}, delay_s=HANG_S),
        }[args.failing],
    )
    receiver.script("/sms", Reply(200, json={"ok": True}))
    context = multiprocessing.get_context("spawn")
    stop, go = context.Event(), context.Event()
    roles = [("collector", "alerting")] if args.one_process else [("collector",), ("alerting",)]
    workers: list[tuple[Any, Connection]] = []
    try:
        for group in roles:
            parent, child = context.Pipe()
            data = directory / "_".join(group)
            data.mkdir()
            process = context.Process(
                target=services_process,
                args=(group, broker.port, args.series, args.rules, str(data),
                      receiver.url, child, stop),
            )  # fmt: skip
            process.start()
            workers.append((process, parent))
        parent, child = context.Pipe()
        process = context.Process(
            target=load_process, args=(broker.port, args.series, args.load, child, go, stop)
        )
        process.start()
        workers.append((process, parent))
        for _, conn in workers:
            await asyncio.to_thread(conn.recv)  # "ready"; EOFError if the worker died
        probes = Probes()
        bus = MqttBus(MqttSettings(host="127.0.0.1", port=broker.port, client_id="bench-probe"))
        subscriptions = subscribe_probes(bus, probes)
        async with bus:
            observer = asyncio.create_task(observe(subscriptions, probes))
            await asyncio.wait_for(bus.connected.wait(), 30)
            go.set()
            print(f"   warm-up: {args.warmup:.0f} s of background load", flush=True)
            await asyncio.sleep(args.warmup)
            start = time.monotonic()
            await publish_probes(bus, probes, args.probe_interval, args.seconds)
            end = time.monotonic()
            await asyncio.sleep(DRAIN_S)  # the last probes' way through
            stop.set()
            observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer
        reports: list[WorkerReport] = []
        for process, conn in workers:
            got = await asyncio.to_thread(conn.recv)
            reports.extend(got if isinstance(got, list) else [got])
            process.join(30)
        accepted = args.failing == "none"  # otherwise no request to /ioc counts as arrived
        for request in receiver.to("/ioc") if accepted else []:
            probes.stamp(probes.webhook, request.headers["idempotency-key"], request.at)
        for request in receiver.to("/sms"):
            probes.stamp(probes.sms, request.json()["key"], request.at)
        return EndToEnd(
            probes,
            reports,
            start,
            end,
            mosquitto_peak_mb(broker.process.pid),
            len(receiver.to("/ioc")),
        )
    finally:
        stop.set()
        for process, _ in workers:
            process.join(10)
            if process.is_alive():
                process.kill()
        receiver.stop()
        broker.stop()


def latencies(since: dict[int, float], until: dict[int, float]) -> list[float]:
    return [until[n] - since[n] for n in since if n in until]


def ms_line(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"   {name:28} none"
    return (
        f"   {name:28} p50 {percentile(values, 0.5) * 1e3:6.0f} ms  p99 "
        f"{percentile(values, 0.99) * 1e3:6.0f} ms  max {max(values) * 1e3:6.0f} ms  "
        f"(n={len(values)})"
    )


def print_end_to_end(result: EndToEnd, args: argparse.Namespace) -> tuple[float, float, float]:
    probes = result.probes
    e2e = latencies(probes.published, probes.webhook)
    raw_clean = latencies(probes.published, probes.clean)
    print(
        f"   {len(probes.published)} probes published, {len(probes.clean)} seen clean, "
        f"{len(probes.incident)} as incident changes, {len(probes.webhook)} in "
        f"{result.receiver_requests} webhook requests"
    )
    sms = latencies(probes.published, probes.sms)
    if args.failing == "none":
        print(ms_line("raw → webhook (end to end)", e2e))
    else:
        print(f"   raw → webhook (end to end)   none: the IOC answers {args.failing} all along "
              f"({result.receiver_requests} requests refused or timed out)")  # fmt: skip
    print(ms_line("raw → committee SMS", sms))
    print(ms_line("raw → clean (collector)", raw_clean))
    print(ms_line("clean → incident published", latencies(probes.clean, probes.incident)))
    print(ms_line("incident → webhook", latencies(probes.incident, probes.webhook)))
    print(ms_line("incident → committee SMS", latencies(probes.incident, probes.sms)))
    working = e2e if args.failing == "none" else sms
    if working and raw_clean:
        p50, base = percentile(working, 0.5), percentile(raw_clean, 0.5)
        print(
            f"   ratio end to end / raw → clean (p50): {p50 / base:.1f}; the alerting stage's "
            f"share of the end-to-end p50: {1 - base / p50:.0%}"
        )
    by_role = {r.role: r for r in result.reports}
    load_rate, load_cpu, _ = window(by_role["load"].samples, result.start, result.end)
    print(f"   background load: {load_rate:,.0f} readings/s published (asked {args.load:,.0f})")
    growth = math.nan
    for role in ("collector", "alerting"):
        report = by_role[role]
        rate, cpu, growth = window(report.samples, result.start, result.end)
        print(
            f"   {role}: {rate:,.0f} readings/s, CPU {cpu:.0%} of a core, RSS "
            f"{report.samples[-1].rss_mb:.0f} MB at the end, growing {growth:+.1f} MB/min"
        )
    print(f"   load generator: CPU {load_cpu:.0%} of a core")
    evaluations = [s for t, s in by_role["alerting"].evaluations if result.start <= t <= result.end]
    if evaluations:
        print(
            f"   on_batch in the running service: median {us(evaluations):.1f} µs, p99 "
            f"{us(evaluations, 0.99):.1f} µs, max {us(evaluations, 1.0):.0f} µs "
            f"({len(evaluations):,} batches)"
        )
    collector = by_role["collector"].health
    flags = collector.get("qc", {}).get("flags", {})
    checked = collector.get("qc", {}).get("checked", 0) or 1
    alerting = by_role["alerting"].health
    print(
        f"   collector: {collector.get('flushes', 0):,} flushes, QC good "
        f"{flags.get('good', 0) / checked:.1%} of {checked:,} readings; alerting: "
        f"{alerting.get('batches', 0):,} batches, {alerting.get('signals', 0)} signals, "
        f"{alerting.get('notifications', 0)} notifications, deliveries "
        f"{alerting.get('deliveries', {})}"
    )
    for receiver, channels in (alerting.get("delivery") or {}).items():
        for channel, queue in channels.items():
            print(
                f"   queue {receiver}/{channel}: {queue['delivered']} delivered, depth "
                f"{queue['depth']} (oldest {queue['oldest_age_s']:.0f} s), {queue['attempts']} "
                f"round(s){', ' + queue['degraded'] if queue.get('degraded') else ''}"
            )
    names = {"collector": "collector+alerting (one process)"} if args.one_process else {}
    rss = ", ".join(
        f"{names.get(r.role, r.role)} {r.peak_rss_mb:.0f} MB"
        for r in result.reports
        if not (args.one_process and r.role == "alerting")
    )
    print(
        f"   peak RSS: {rss}, mosquitto {result.broker_mb:.0f} MB, this process "
        f"{peak_rss_mb():.0f} MB"
    )
    # The receivers that work: both, or the SMS while the IOC fails.
    measured = [e2e, sms] if args.failing == "none" else [sms]
    p99 = max((percentile(v, 0.99) if v else math.inf) for v in measured)
    alerting_rss = by_role["alerting"].peak_rss_mb
    if growth > 0:
        print(
            f"   growing {growth:.1f} MB/min while the rate windows fill; they stop at "
            f"{RATE_POINTS} points each (see the evaluation section for the bound)"
        )
    return p99, alerting_rss, growth


# -- main --------------------------------------------------------------------------------------


def run_evaluation(args: argparse.Namespace) -> EvalReport:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=evaluation_process, args=(child, args.series, args.rules, args.eval_rounds)
    )
    process.start()
    report: EvalReport = parent.recv()
    process.join()
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rules", type=int, default=10_000, help="threshold rules (≤ series)")
    parser.add_argument("--series", type=int, default=10_000, help="ten per station")
    parser.add_argument("--load", type=float, default=5_000, help="background readings/s")
    parser.add_argument("--seconds", type=float, default=30, help="probes for this long")
    parser.add_argument("--warmup", type=float, default=10, help="load before the probes, s")
    parser.add_argument("--probe-interval", type=float, default=0.2, help="s between probes")
    parser.add_argument("--eval-rounds", type=int, default=8, help="timed batches per station")
    parser.add_argument(
        "--one-process", action="store_true", help="collector and alerting in one process"
    )
    parser.add_argument(
        "--failing",
        choices=FAILING,
        default="none",
        help="the IOC webhook answers 500, or hangs (30 s, past its 10 s timeout), all along",
    )
    args = parser.parse_args(argv)
    if not 0 < args.rules <= args.series:
        parser.error("--rules must be between 1 and --series")
    if args.seconds / args.probe_interval * PROBE_STEP >= 0.5:
        parser.error("too many probes for their numbering: fewer --seconds or a longer interval")
    clock = time.monotonic()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}"
    )
    evaluation_report = run_evaluation(args)
    print_evaluation(evaluation_report, args.load, args.series)
    layout = "collector + alerting in one process" if args.one_process else "separate processes"
    print(
        f"\n2. End to end: {args.load:,.0f} readings/s over {args.series:,} series, a probe every "
        f"{args.probe_interval} s for {args.seconds:.0f} s ({layout}; collector flush 0.2 s, "
        f"alerting tick {TICK_S:g} s, group_wait 0: sent at once); receivers: the IOC webhook "
        f"({'answering 200' if args.failing == 'none' else f'failing: {args.failing}'}) and "
        "the committee's SMS (two members), each with its own delivery queue",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as directory:
        result = asyncio.run(end_to_end(args, Path(directory)))
    p99, alerting_rss, growth = print_end_to_end(result, args)
    batches = evaluation_report.steady + evaluation_report.crossing
    batch_p99 = percentile(batches, 0.99)
    arrived = [result.probes.sms] + ([result.probes.webhook] if args.failing == "none" else [])
    lost = max(len(result.probes.published) - len(a) for a in arrived)
    rss_ok = max(alerting_rss, evaluation_report.peak_rss_mb) < TARGET_RSS_MB
    verdicts = [
        f"end-to-end p99 {p99:.2f} s "
        f"{'(webhook and SMS' if args.failing == 'none' else f'(SMS, the IOC {args.failing}'}"
        f" < {TARGET_E2E_S:.0f} s: "
        f"{'PASS' if p99 < TARGET_E2E_S and not lost else 'FAIL'}"
        f"{f', {lost} probes missing' if lost else ''})",
        f"batch evaluation p99 {batch_p99 * 1e6:.0f} µs (< 1 ms: "
        f"{'PASS' if batch_p99 < TARGET_BATCH_S else 'FAIL'})",
        f"alerting peak RSS {alerting_rss:.0f} MB, evaluator with an hour of history "
        f"{evaluation_report.peak_rss_mb:.0f} MB (< {TARGET_RSS_MB:.0f} MB: "
        f"{'PASS' if rss_ok else 'FAIL'} over this run; growing {growth:.0f} MB/min at this load)",
    ]
    print(f"\nSUMMARY {'; '.join(verdicts)} | {time.monotonic() - clock:.0f} s")


if __name__ == "__main__":
    main()
