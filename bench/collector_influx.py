"""QC + InfluxDB writes, against a bare POST of the same line protocol (bench.collector_write).

Starts Debian's influxd (InfluxDB 1.x) in the temporary directory, as the tests do. The store
path is the collector's with a direct InfluxDB store: columns, QC, render line protocol, POST
in requests of 5,000 points (v1 ``/write``, gzip). The baseline POSTs the same points, rendered
beforehand, to another database of the same server, with the same batching and gzip.
"""

from __future__ import annotations

import gzip
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench.collector_write import START, Stopwatch, check_and_write, report
from collector.qc import QcChain
from collector.schema import StationInfo
from collector.store.influx import InfluxStore
from collector.store.lines import LineRenderer
from gateway.model import Reading
from tests.servers import Influxd


def bare_post(server: Influxd, bodies: list[str]) -> float:
    server.query('CREATE DATABASE "bare"')
    url = f"{server.url}/write?db=bare&precision=ms"
    start = time.perf_counter()
    for body in bodies:
        request = urllib.request.Request(
            url, data=gzip.compress(body.encode(), 1), headers={"Content-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 204, response.status
    return time.perf_counter() - start


def influx_run(directory: Path, parts: list[list[Reading]], out: Callable[[str], None]) -> None:
    (directory / "influxd").mkdir()
    server = Influxd(directory / "influxd")
    server.start()
    try:
        catalog = {r.station: StationInfo("air", "Huế") for part in parts for r in part}
        renderer = LineRenderer(catalog)
        bodies = ["\n".join(renderer.render(part)) for part in parts]
        bare_s = bare_post(server, bodies)
        store = InfluxStore.v1(server.url, server.database, stations=catalog)
        qc = QcChain(clock=lambda: START + timedelta(days=1))
        watch = Stopwatch()
        for part in parts:
            check_and_write(part, qc, store, watch)
        store.close()
        readings = sum(len(p) for p in parts)
        report("InfluxDB 1.x (v1 /write, gzip)", readings, watch, bare_s, out)
        stored = server.count()
        out(f"  points in InfluxDB   {stored:>12,} (sent {readings:,})")
    finally:
        server.stop()
