"""``quantrac gateway`` and ``quantrac collector`` as users run them, for the benchmark's site."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.faults.rig import Service
from tests.servers import Mosquitto

GATEWAY_ID = "gw-bench"  # bench.gateway_e2e.site writes it into site.yaml
Slot = tuple[str, int]  # (station, slot in ms since the epoch)


def services(root: Path, site: Path, broker: Mosquitto) -> tuple[Service, Service]:
    """(collector, gateway), not started; the outbox and the store on the real disk."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    collector = Service(
        "collector",
        ["collector", str(site), "--broker", broker.url, "--data-dir", str(root / "collector")],
        logs / "collector.log",
        env,
    )
    gateway = Service(
        "gateway",
        ["gateway", str(site), "--broker", broker.url, "--data-dir", str(root / "gateway")],
        logs / "gateway.log",
        env,
    )
    return collector, gateway


def walk(node: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` anywhere in a health document."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from walk(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value, key)


def wait_online(gateway: Service, stations: int, timeout_s: float = 120.0) -> None:
    """Until every station was read once (the hubs are connected)."""
    deadline = time.time() + timeout_s
    while True:
        online = sum(1 for value in walk(gateway.health(), "online") if value is True)
        if online >= stations:
            return
        if time.time() > deadline:
            raise SystemExit(
                f"only {online} of {stations} stations online after {timeout_s:.0f} s:\n"
                + gateway.tail()
            )
        time.sleep(0.5)


def log_errors(root: Path) -> int:
    """Tracebacks and ERROR lines in the services' logs: a clean stop logs neither (it used to
    log a CancelledError traceback per running poll, and the last polls as not written)."""
    count = 0
    for log in (root / "logs").iterdir():
        text = log.read_text(errors="replace")
        count += text.count("Traceback") + sum(" ERROR " in line for line in text.splitlines())
    return count


def outbox_slots(root: Path) -> set[Slot]:
    """The polls durable in the gateway's outbox and not yet receipted (after a SIGKILL too:
    SQLite replays its WAL on opening)."""
    path = root / "gateway" / f"outbox-{GATEWAY_ID}.sqlite3"
    with sqlite3.connect(path) as db:
        payloads = [bytes(row[0]) for row in db.execute("SELECT payload FROM outbox")]
    slots = set()
    for payload in payloads:
        document = json.loads(payload)
        ts = datetime.fromisoformat(document["readings"][0]["ts"])
        slots.add((str(document["station"]), round(ts.timestamp() * 1000)))
    return slots


def stored_slots(root: Path, param: str = "ph") -> set[Slot]:
    """The polls the collector stored (one parameter of each stands for its batch)."""
    path = root / "collector" / "quantrac.sqlite3"
    with sqlite3.connect(path, timeout=30) as db:
        rows = db.execute(
            "SELECT s.station, r.ts FROM reading r JOIN series s ON s.id = r.series"
            " WHERE s.param = ?",
            (param,),
        ).fetchall()
    return {(str(station), int(ts)) for station, ts in rows}
