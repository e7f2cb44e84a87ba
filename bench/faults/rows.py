"""The faults, one function each, and the run of one row around any of them.

A row: a fresh :class:`Rig`; warm-up (not counted); the steady stream (eight river gauges and
two rain gauges, one message a second each) for ``lead_s``; the fault; then polling the store
from the fault's end until it holds everything acknowledged up to that end (time to catch up,
or "> limit"); the steady stream goes on for ``tail_s`` after the end, then stops; a last wait
for what was still on its way, and the tally of everything acknowledged against everything
stored.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.faults.accounting import Key, Row, drop_counters, flow, tally, worse
from bench.faults.rig import BURST, CHECK, FLOOD, STEADY, Rig, serves_health

POLL_S = 0.5
WARNING_ON_TIME_S = 5.0  # a flood warning later than this during an outage is "late"


@dataclass(frozen=True)
class Profile:
    name: str
    outage_s: float  # broker, InfluxDB, VictoriaMetrics stopped; disk full
    down_s: float  # a killed service stays down this long before it is started again
    burst: int  # messages of the burst row
    backlog: int  # messages waiting in the gateway's session
    kill_burst: int  # messages in flight when a service is killed
    lead_s: float = 10.0
    tail_s: float = 5.0
    catch_up_limit_s: float = 120.0
    settle_s: float = 45.0  # last wait for the tail (longer than the outbox's 30 s resend)
    rate_hz: float = 1.0


FULL = Profile("full", outage_s=60, down_s=5, burst=50_000, backlog=20_000, kill_burst=2_000)
SHORT = Profile(
    "short",
    outage_s=8,
    down_s=2,
    # Above the gateway's 10,000-message input queue: a queue that drops shows here.
    burst=12_000,
    backlog=12_000,
    kill_burst=1_000,
    lead_s=2,
    tail_s=1,
    catch_up_limit_s=60,
    settle_s=40,
)


@dataclass
class Fault:
    """What a fault function reports: its window and what it saw."""

    start: float = 0.0  # wall clock, s
    end: float = 0.0
    end_mono: float = 0.0
    notes: list[str] = field(default_factory=list)
    warning_sent_mono: float | None = None  # a BĐ II crossing injected during the fault

    def begin(self) -> None:
        self.start = time.time()

    def finish(self) -> None:
        self.end = time.time()
        self.end_mono = time.monotonic()


def _inject_warning(rig: Rig, fault: Fault) -> None:
    """wl_flood's first reading, 2.5 m: above BĐ II (2.0 m), the flood rule fires at level 2."""
    rig.stations.publish(FLOOD, 250.0)
    fault.warning_sent_mono = time.monotonic()


def _kill_mid_burst(rig: Rig, p: Profile, which: str, fault: Fault) -> None:
    service = rig.gateway if which == "gateway" else rig.collector
    fault.begin()
    rig.stations.burst(BURST, p.kill_burst)
    # Killed while the burst is on its way through: batches in its queues, unacknowledged.
    time.sleep(0.5 if which == "gateway" else 1.5)
    service.kill()
    time.sleep(p.down_s)
    service.start()
    fault.finish()
    fault.notes.append(f"killed mid-burst of {p.kill_burst:,}, down {p.down_s:.0f} s")


def gateway_sigkill(rig: Rig, p: Profile, fault: Fault) -> None:
    _kill_mid_burst(rig, p, "gateway", fault)


def collector_sigkill(rig: Rig, p: Profile, fault: Fault) -> None:
    _kill_mid_burst(rig, p, "collector", fault)


def broker_stopped(rig: Rig, p: Profile, fault: Fault) -> None:
    fault.begin()
    rig.bus.stop()
    time.sleep(p.outage_s)
    rig.bus.start()
    fault.finish()


def _database_stopped(rig: Rig, p: Profile, fault: Fault) -> None:
    server = rig.influxd or rig.victoria
    assert server is not None
    fault.begin()
    server.stop()
    inject_after = min(10.0, p.outage_s / 4)
    time.sleep(inject_after)
    _inject_warning(rig, fault)
    time.sleep(p.outage_s - inject_after)
    server.start()
    fault.finish()


def influxdb_stopped(rig: Rig, p: Profile, fault: Fault) -> None:
    _database_stopped(rig, p, fault)


def victoriametrics_stopped(rig: Rig, p: Profile, fault: Fault) -> None:
    _database_stopped(rig, p, fault)


def disk_full(rig: Rig, p: Profile, fault: Fault) -> None:
    assert rig.disk is not None
    fault.notes.append(rig.disk.method)
    fault.begin()
    rig.disk.fill()
    time.sleep(p.outage_s)
    rig.disk.free()
    fault.finish()


def burst(rig: Rig, p: Profile, fault: Fault) -> None:
    fault.begin()
    rig.stations.burst(BURST, p.burst)
    pending = rig.stations.wait_acked(timeout_s=120)
    fault.finish()  # the burst is over when the broker has it all
    took = fault.end - fault.start
    fault.notes.append(f"{p.burst:,} messages published in {took:.1f} s (QoS 1, acknowledged)")
    if pending:
        fault.notes.append(f"{pending:,} not acknowledged by the broker within 120 s")


def gateway_backlog(rig: Rig, p: Profile, fault: Fault) -> None:
    fault.begin()
    rig.gateway.stop()  # its persistent session on the stations' broker keeps what comes
    rig.stations.burst(BURST, p.backlog)
    pending = rig.stations.wait_acked(timeout_s=120)
    rig.gateway.start()
    fault.finish()
    if pending:
        fault.notes.append(f"{pending:,} not acknowledged by the broker within 120 s")


@dataclass(frozen=True)
class Spec:
    key: str
    title: Callable[[Profile], str]
    run: Callable[[Rig, Profile, Fault], None]
    store: str = "sqlite"
    alerting: bool = False
    disk_full: bool = False
    catch_up_extra_s: float = 0.0


def _s(seconds: float) -> str:
    return f"{seconds:.0f} s"


SPECS: tuple[Spec, ...] = (
    Spec("gateway-kill", lambda p: "gateway SIGKILL", gateway_sigkill),
    Spec("broker", lambda p: f"broker stopped {_s(p.outage_s)}", broker_stopped),
    Spec("collector-kill", lambda p: "collector SIGKILL", collector_sigkill),
    Spec(
        "influxdb",
        lambda p: f"InfluxDB stopped {_s(p.outage_s)}",
        influxdb_stopped,
        store="influxdb",
        alerting=True,
    ),
    Spec(
        "victoriametrics",
        lambda p: f"VictoriaMetrics stopped {_s(p.outage_s)}",
        victoriametrics_stopped,
        store="victoriametrics",
        alerting=True,
    ),
    Spec(
        "disk-full",
        lambda p: f"gateway's disk full {_s(p.outage_s)}",
        disk_full,
        disk_full=True,
    ),
    Spec(
        "burst",
        lambda p: f"burst of {p.burst:,} from one MQTT station",
        burst,
        catch_up_extra_s=60,
    ),
    Spec(
        "backlog",
        lambda p: f"gateway restart, {p.backlog:,} waiting in its session",
        gateway_backlog,
        catch_up_extra_s=60,
    ),
)


def run_row(
    spec: Spec,
    p: Profile,
    root: Path,
    *,
    disk_method: str = "tmpfs",
    vm_dedup: bool = True,
    say: Callable[[str], None] = print,
) -> Row:
    title = spec.title(p)
    limit = p.catch_up_limit_s + spec.catch_up_extra_s
    root.mkdir(parents=True, exist_ok=True)
    rig = Rig(
        root,
        store=spec.store,
        alerting=spec.alerting,
        disk_full=disk_method if spec.disk_full else None,
        vm_dedup=vm_dedup,
    )
    with rig:
        notes: list[str] = []
        if spec.store == "victoriametrics" and not vm_dedup:
            notes.append("VictoriaMetrics WITHOUT -dedup.minScrapeInterval")
        rig.warm_up(timeout_s=60)
        rig.stations.start_steady(STEADY, p.rate_hz)
        if spec.alerting:
            # Before the fault, the same path with everything up: BĐ I at wl_check.
            rig.stations.publish(CHECK, 150.0)
            sent = time.monotonic()
            baseline = _first_after(rig, 1, sent, timeout_s=max(p.lead_s, 15.0))
            notes.append(
                "warning with the store up: "
                + (f"{baseline - sent:.1f} s" if baseline else "NONE within 15 s (rig broken?)")
            )
        time.sleep(p.lead_s)
        say(f"  {title}: fault …")
        fault = Fault()
        with _HealthWatch(rig) as watch:
            spec.run(rig, p, fault)
        expected_at_end = rig.stations.acked_keys()
        say(f"  {title}: fault over, {len(expected_at_end):,} acknowledged; catching up …")

        catch_up = _catch_up(rig, expected_at_end, fault.end_mono, limit)
        remaining_tail = fault.end_mono + p.tail_s - time.monotonic()
        if remaining_tail > 0:
            time.sleep(remaining_tail)
        rig.stations.stop_steady()
        unacked = rig.stations.wait_acked(timeout_s=15)
        expected = rig.stations.acked_keys()
        # What was still on its way: a resend after a loss takes the outbox's 30 s.
        _wait_stored(rig, expected, p.settle_s if catch_up is not None else 5.0)
        samples = rig.reader.samples()
        counted = tally(expected, samples)
        rig.check_services()

        notes.extend(fault.notes)
        notes.append("health during the fault: " + watch.describe())
        for service in rig.services:
            drops = drop_counters(service.health() or {})
            if drops:
                counted_drops = ", ".join(f"{k} {v:,.0f}" for k, v in sorted(drops.items()))
                notes.append(f"{service.name} counted drops: {counted_drops}")
        if unacked:
            notes.append(f"{unacked:,} published, never acknowledged by the broker (not counted)")
        if counted.lost:
            notes.append("lost by station: " + _lost_by_station(expected, samples))
        on_time = None
        if spec.alerting:
            flow_notes, on_time = _outage_flow(rig, fault)
            notes.extend(flow_notes)
        notes.extend(rig.unexpected_exits())
    return Row(title, counted, catch_up, limit, tuple(notes), outage_on_time=on_time)


class _HealthWatch:
    """Each service's worst /health status (and its reasons) while the fault runs."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.worst: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-watch", daemon=True)

    def __enter__(self) -> _HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for service in self.rig.services:
                if service.process is None:
                    continue  # killed on purpose, or not yet started again
                health = service.health()
                status = str(health.get("status", "?")) if health else "no answer"
                reasons = tuple(map(str, health.get("reasons") or ())) if health else ()
                before, _ = self.worst.get(service.name, ("ok", ()))
                if worse(status, before) == status and status != before:
                    self.worst[service.name] = (status, reasons)
                else:
                    self.worst.setdefault(service.name, (before, ()))
            self._stop.wait(1.0)

    def describe(self) -> str:
        if not serves_health():
            return "not served (this quantrac has no --health)"
        parts = []
        for name, (status, reasons) in sorted(self.worst.items()):
            why = f" ({'; '.join(reasons)[:160]})" if reasons else ""
            parts.append(f"{name} {status}{why}")
        return ", ".join(parts) or "not sampled"


def _first_after(rig: Rig, level: int, since: float, timeout_s: float) -> float | None:
    deadline = time.monotonic() + timeout_s
    while True:
        later = [at for at in rig.warnings(level) if at >= since]
        if later:
            return min(later)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def _catch_up(rig: Rig, expected: set[Key], since: float, limit_s: float) -> float | None:
    while True:
        stored = rig.reader.raw_keys()
        now = time.monotonic()
        if stored is not None and expected <= stored:
            return now - since
        if now - since > limit_s:
            return None
        rig.check_services()
        time.sleep(POLL_S)


def _wait_stored(rig: Rig, expected: set[Key], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stored = rig.reader.raw_keys()
        if stored is not None and expected <= stored:
            return
        time.sleep(POLL_S)


def _lost_by_station(expected: set[Key], samples: Counter[Key]) -> str:
    lost = Counter(key[0] for key in expected if samples.get(key, 0) == 0)
    return ", ".join(f"{station} {count:,}" for station, count in lost.most_common())


def _outage_flow(rig: Rig, fault: Fault) -> tuple[list[str], bool]:
    """The clean stream and the flood warning while the database was down; on time?"""
    steady = set(STEADY)
    published = [key[2] / 1000 for key in rig.stations.acked_keys() if key[0] in steady]
    arrivals = [(at, ts) for at, station, ts in rig.clean.snapshot() if station in steady]
    during = flow(published, arrivals, fault.start, fault.end)
    notes = [f"during the outage: {during.describe()}"]
    warning_on_time = False
    sent = fault.warning_sent_mono
    arrived = None if sent is None else _first_after(rig, 2, sent, timeout_s=0)
    if sent is None or arrived is None:
        notes.append("flood warning (BĐ II, sent during the outage): NONE")
    else:
        delay = arrived - sent
        during_outage = arrived <= fault.end_mono
        warning_on_time = during_outage and delay <= WARNING_ON_TIME_S
        notes.append(
            f"flood warning (BĐ II): {delay:.1f} s, "
            f"{'during' if during_outage else 'after'} the outage, "
            f"{'on time' if warning_on_time else 'LATE'}"
        )
    stream_on_time = (
        during.published > 0
        and during.arrived >= 0.9 * during.published
        and during.p95_delay_s <= WARNING_ON_TIME_S  # False for NaN: nothing arrived
    )
    if not stream_on_time:
        notes.append("clean stream NOT on time during the outage")
    return notes, warning_on_time and stream_on_time
