"""Disk per station-year in each store: what docs/deploy.md sizes a deployment with.

    .venv/bin/python -m bench.store_disk [--stations 20] [--params 20] [--days 7]

Writes ``days`` of one reading a minute for ``stations`` × ``params`` series — values that move
like sensor readings (a random walk with the sensor's resolution, mostly good quality), the
production tags (station, param, kind, district, unit) — into SQLite (the collector's own
schema, through ``SqliteStore``), into Debian's InfluxDB 1.6 (TSM, the engine InfluxDB 2 also
uses; line protocol as the collector renders it, compacted fully before measuring) and into
VictoriaMetrics (merged before measuring). Prints bytes per point and MB per station-year at
that rate. Derived series (hourly means, rain totals, indices) add to this: measure with your
site's mix if it matters.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.schema import StationInfo
from collector.store.lines import LineRenderer
from collector.store.sqlite import SqliteStore
from gateway.model import Quality, Reading
from tests.servers import Influxd, VictoriaMetrics, _wait_http

# Recent days: VictoriaMetrics refuses points older than its retention (a month by default).
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
PARAMS = ["water_temp", "ph", "do", "cod", "bod5", "toc", "tss", "turbidity", "conductivity",
          "n_nh4", "pm25", "pm10", "no2", "so2", "co", "o3", "air_temp", "humidity", "pressure",
          "wind_speed"]  # fmt: skip
MINUTES_PER_YEAR = 365 * 24 * 60


def readings(
    stations: int, params: int, day: int, days: int, rng: random.Random
) -> Iterator[Reading]:
    """One day of one reading a minute per series, in minute order; the last day ends today."""
    start = TODAY - timedelta(days=days)
    levels = {(s, p): rng.uniform(5, 50) for s in range(stations) for p in range(params)}
    for minute in range(day * 1440, (day + 1) * 1440):
        ts = start + timedelta(minutes=minute)
        for (s, p), level in levels.items():
            level = max(0.0, level + rng.gauss(0, 0.2))
            levels[(s, p)] = level
            quality = Quality.SUSPECT if rng.random() < 0.01 else Quality.GOOD
            yield Reading(f"st_{s:03d}", PARAMS[p % len(PARAMS)], round(level, 2), "mg/L", ts,
                          quality=quality)  # fmt: skip


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def catalog(stations: int) -> dict[str, StationInfo]:
    return {f"st_{s:03d}": StationInfo("water", "Phú Xuân") for s in range(stations)}


def chunks(items: Iterator[Reading], size: int) -> Iterator[list[Reading]]:
    chunk: list[Reading] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def post(url: str, body: str) -> None:
    request = urllib.request.Request(
        url, data=gzip.compress(body.encode(), 1), headers={"Content-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 204, response.status


def run(stations: int, params: int, days: int, work: Path) -> list[tuple[str, int]]:
    points = stations * params * days * 1440
    sizes: list[tuple[str, int]] = []
    # SQLite, through the collector's store.
    store = SqliteStore(work / "quantrac.sqlite3", catalog(stations))
    for day in range(days):
        for chunk in chunks(readings(stations, params, day, days, random.Random(day)), 5000):
            store.write(chunk)
    store.close()  # a checkpoint: the WAL goes into the file
    sizes.append(("SQLite", size_of(work)))
    renderer = LineRenderer(catalog(stations))
    # InfluxDB 1.6 (TSM), compacted: cold shards are fully compacted after 1 s instead of 4 h.
    (work / "influxd").mkdir()
    influxd = Influxd(work / "influxd")
    influxd.start()
    url = f"{influxd.url}/write?db={influxd.database}&precision=ms"
    for day in range(days):
        for chunk in chunks(readings(stations, params, day, days, random.Random(day)), 5000):
            post(url, "\n".join(renderer.render(chunk)))
    assert influxd.count() == points, influxd.count()
    influxd.stop()
    config = influxd.directory / "influxdb.conf"
    config.write_text(config.read_text().replace(
        "[data]\n", '[data]\n  cache-snapshot-write-cold-duration = "1s"\n'
        '  compact-full-write-cold-duration = "1s"\n'))  # fmt: skip
    with (influxd.directory / "influxd.log").open("ab") as log:
        process = subprocess.Popen(["influxd", "-config", str(config)], stdout=log, stderr=log)
    _wait_http(f"{influxd.url}/ping", 204, process, 30)
    # The snapshot of the WAL and the full compaction of every shard: until the files settle.
    shape: tuple[int, int] = (-1, -1)
    for _ in range(60):
        time.sleep(5)
        tsm = sorted((influxd.directory / "data").rglob("*.tsm"))
        now_shape = (len(tsm), size_of(influxd.directory / "wal"))
        if now_shape == shape:
            break
        shape = now_shape
    process.terminate()
    process.wait(30)
    wal = size_of(influxd.directory / "wal")
    sizes.append(("InfluxDB (TSM)", size_of(influxd.directory / "data") + wal))
    print(f"  InfluxDB: {shape[0]} TSM file(s), WAL {wal / 1e6:.1f} MB of it")
    # VictoriaMetrics, merged.
    (work / "vm").mkdir()
    vm = VictoriaMetrics(work / "vm")
    vm.start()
    for day in range(days):
        for chunk in chunks(readings(stations, params, day, days, random.Random(day)), 5000):
            post(f"{vm.url}/api/v2/write?precision=ms", "\n".join(renderer.render(chunk)))
    vm.flush()
    with urllib.request.urlopen(f"{vm.url}/internal/force_merge", timeout=600) as response:
        response.read()
    time.sleep(5)
    vm.stop()
    sizes.append(("VictoriaMetrics", size_of(work / "vm" / "data")))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    points = args.stations * args.params * args.days * 1440
    print(f"{args.stations} stations × {args.params} parameters × {args.days} days, one reading "
          f"a minute: {points:,} points")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as directory:
        for name, size in run(args.stations, args.params, args.days, Path(directory)):
            per_point = size / points
            year = per_point * args.params * MINUTES_PER_YEAR / 1e6
            print(
                f"{name:<16} {size / 1e6:8.1f} MB  {per_point:6.2f} B/point  "
                f"{year:7.1f} MB per station-year ({args.params} parameters a minute)"
            )


if __name__ == "__main__":
    main()
