"""How fast the collector checks and stores readings: QC + SQLite, and QC + InfluxDB.

    .venv/bin/python -m bench.collector_write [--series 20000] [--minutes 10] [--flush 5000]
                                              [--influx]

The readings are those of ``--series`` series (stations × 20 parameters) over ``--minutes``
minutes, one point per series per minute, written in flushes of ``--flush`` readings as the
collector does (``Collector.flush_max``).

Baselines in the same run, on the same points and the same disk:
- SQLite: a bare ``executemany`` of the prepared rows into the same table, one transaction per
  flush — the cost of the write itself. The ratio says what QC and the store's own work add.
- InfluxDB (``--influx``, starts Debian's influxd): a bare POST of the same line protocol,
  rendered beforehand, with the same batching.
QC's own share is printed as its time over the bare write time (the issue's bound: ≤ 30 %),
and the memory: QC state per series, and the process's peak RSS (bound: 200 MB at 20,000).
"""

from __future__ import annotations

import argparse
import math
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from collector.points import Points
from collector.qc import QcChain
from collector.schema import StationInfo
from collector.store import Flags, ReadingStore
from collector.store.sqlite import SqliteStore
from gateway.model import Reading

PARAMS = {  # 20 parameters of the kinds a province has, with a plausible level each
    "pm25": 35.0, "pm10": 60.0, "no2": 40.0, "so2": 20.0, "co": 900.0, "o3": 80.0,
    "air_temp": 27.0, "humidity": 80.0, "pressure": 1008.0, "wind_speed": 3.0,
    "water_level": 1.2, "water_temp": 26.0, "ph": 7.1, "do": 6.5, "cod": 12.0,
    "tss": 30.0, "turbidity": 15.0, "conductivity": 250.0, "n_nh4": 0.3, "rain": 0.0,
}  # fmt: skip
START = datetime(2026, 11, 20, tzinfo=UTC)


def flushes(series: int, minutes: int, flush: int, seed: int = 1) -> list[list[Reading]]:
    rng = np.random.default_rng(seed)
    stations = math.ceil(series / len(PARAMS))
    keys = [(f"st{s:05d}", p) for s in range(stations) for p in PARAMS][:series]
    levels = np.array([PARAMS[p] for _, p in keys])
    readings: list[Reading] = []
    for minute in range(minutes):
        ts = START + timedelta(minutes=minute)
        noise = rng.normal(0, 0.01, len(keys)) * (levels + 1)
        values = np.round(levels + noise, 3).tolist()
        readings.extend(
            Reading(station, param, value, "u", ts)
            for (station, param), value in zip(keys, values, strict=True)
        )
    return [readings[i : i + flush] for i in range(0, len(readings), flush)]


@dataclass
class Stopwatch:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def check_and_write(
    part: list[Reading], qc: QcChain, store: ReadingStore, watch: Stopwatch
) -> None:
    """The collector's path for one flush, each stage on the stopwatch."""
    with watch("extract"):
        points = Points.of(part)
    with watch("qc"):
        checked = qc.check(points)
        flags = Flags(checked.quality.tolist(), checked.reasons())
    with watch("write"):
        store.write(part, flags)


def qc_and_sqlite(
    directory: Path, parts: list[list[Reading]], warm: int
) -> tuple[Stopwatch, Stopwatch, QcChain]:
    """The collector's path; the first ``warm`` flushes (every series' first point) apart."""
    catalog = {r.station: StationInfo("air", "Huế") for part in parts for r in part}
    store = SqliteStore(directory / "qc.sqlite3", catalog)
    qc = QcChain(clock=lambda: START + timedelta(days=1))
    first, steady = Stopwatch(), Stopwatch()
    for n, part in enumerate(parts):
        check_and_write(part, qc, store, first if n < warm else steady)
    store.close()
    return first, steady, qc


def bare_sqlite(directory: Path, parts: list[list[Reading]], warm: int) -> float:
    db = sqlite3.connect(directory / "bare.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE reading (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL,"
        " quality INTEGER NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (series, ts)) WITHOUT ROWID"
    )
    ids: dict[tuple[str, str], int] = {}
    prepared = [
        [
            (
                ids.setdefault((r.station, r.param), len(ids)),
                int(r.ts.timestamp() * 1000),
                r.value,
                0,
                0,
                "",
            )
            for r in part
        ]
        for part in parts
    ]
    start = 0.0
    for n, rows in enumerate(prepared):
        if n == warm:
            start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT OR REPLACE INTO reading VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(
    title: str, readings: int, watch: Stopwatch, bare_s: float, out: Callable[[str], None]
) -> None:
    total = sum(watch.seconds.values())
    qc = watch.seconds["qc"]
    out(f"{title}")
    out(f"  through QC + store   {readings / total:>12,.0f} readings/s")
    out(f"  bare batched write   {readings / bare_s:>12,.0f} readings/s")
    out(f"  ratio                {bare_s / total:>12.2f} of the bare write's rate")
    per = {stage: s / readings * 1e6 for stage, s in watch.seconds.items()}
    out("  µs per reading       " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    out(f"  QC / bare write      {qc / bare_s:>12.0%} (columns shared with the store:"
        f" {watch.seconds['extract'] / bare_s:.0%} more)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--flush", type=int, default=5_000)
    parser.add_argument("--influx", action="store_true", help="also QC + InfluxDB (influxd)")
    args = parser.parse_args()
    parts = flushes(args.series, args.minutes, args.flush)
    # The first minute (each series seen for the first time: its QC settings resolved, its
    # store row created) is timed apart; a collector runs for months after it.
    warm = math.ceil(args.series / args.flush)
    readings = sum(len(p) for p in parts[warm:])
    print(f"{readings:,} readings timed: {args.series:,} series × {args.minutes - 1} min,"
          f" flushes of {args.flush:,}, after a first minute apart")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        bare_s = bare_sqlite(directory, parts, warm)
        first, steady, qc = qc_and_sqlite(directory, parts, warm)
        report("SQLite", readings, steady, bare_s, print)
        first_s = sum(first.seconds.values())
        new_series_us = first.seconds["qc"] / args.series * 1e6
        print(f"  first minute         {args.series / first_s:>12,.0f} readings/s"
              f" (new series: QC {new_series_us:.1f} µs each)")  # fmt: skip
        print(f"  QC state             {qc.state.bytes_per_series():>12.0f} B per series"
              f" ({qc.state.size:,} series)")  # fmt: skip
        held = len(parts) * args.flush
        print(f"  peak RSS             {peak_rss_mb():>12.0f} MB (the bench's {held:,}"
              " readings held in memory included)")  # fmt: skip
        if args.influx:
            from bench.collector_influx import influx_run

            influx_run(directory, parts, print)


if __name__ == "__main__":
    main()
