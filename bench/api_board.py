"""The IOC board's reads against the real API on SQLite, over HTTP on loopback.

    .venv/bin/python -m bench.api_board [--stations 1000] [--days 30] [--runs 20]

- first paint: what the board asks before it can draw the map and the cards — ``GET /latest``
  and ``GET /stations.geojson`` for ``--stations`` stations (a mix of river gauges, air,
  water-quality, rain and weather stations, 6 parameters each), one after the other and, as
  the browser does, both at once; target under 100 ms;
- a month of one series: ``GET /stations/{id}/readings`` for ``--days`` days of a gauge read
  every minute (43,200 readings), in one answer (``limit=50000``) and in the default pages of
  10,000 following ``next``; target under 500 ms.

Medians and 95th percentiles over ``--runs`` runs, after one warm-up run; the API runs in
its own process, the client in this one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from collector.schema import StationInfo
from collector.store.sqlite import SqliteStore
from gateway.config import StationConfig
from gateway.model import Quality, Reading
from quantrac.api import ApiContext, create_app
from quantrac.api_board import SNAPSHOT_TTL_S
from quantrac.auth import ApiSecurity
from quantrac.runners import api_server, free_port

KINDS = {
    "hydro": [("water_level", "m", 1.5), ("flow", "m³/h", 900.0)],
    "air": [("pm25", "µg/m³", 40.0), ("pm10", "µg/m³", 60.0), ("no2", "µg/m³", 30.0),
            ("so2", "µg/m³", 12.0), ("co", "µg/m³", 900.0), ("o3", "µg/m³", 50.0)],
    "water": [("ph", "pH", 7.1), ("do", "mg/L", 6.2), ("cod", "mg/L", 12.0),
              ("n_nh4", "mg/L", 0.2), ("water_temp", "°C", 26.0), ("turbidity", "NTU", 30.0)],
    "rain": [("rain", "mm", 0.5), ("rain_1h", "mm", 4.0), ("rain_24h", "mm", 60.0)],
    "weather": [("wind_speed", "m/s", 6.0), ("wind_gust", "m/s", 9.0), ("air_temp", "°C", 27.0),
                ("humidity", "%", 85.0), ("pressure", "hPa", 1008.0)],
}  # fmt: skip


def synthetic_site(count: int) -> dict[str, StationConfig]:
    """``count`` stations across the province's box, every kind in turn."""
    kinds = list(KINDS)
    stations: dict[str, StationConfig] = {}
    for n in range(count):
        kind = kinds[n % len(kinds)]
        body: dict[str, object] = {
            "id": f"st_{n:04d}", "name": f"Trạm {n}", "kind": kind, "district": f"Huyện {n % 9}",
            "location": {"lat": 16.0 + (n % 37) / 50, "lon": 107.0 + (n % 41) / 40},
            "source": {"driver": "tt10", "code": f"S{n:04d}"},
        }  # fmt: skip
        if kind == "hydro":
            body |= {"river": "Hương", "flood_levels": {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}}
        station = StationConfig.model_validate(body)
        stations[station.id] = station
    return stations


def seed(store: SqliteStore, stations: dict[str, StationConfig], now: datetime, days: int) -> str:
    """Ten readings a series for every station, and ``days`` of a minute gauge: its id."""
    batch: list[Reading] = []
    for station in stations.values():
        for i in range(10):
            ts = now - timedelta(minutes=10 * i)
            batch += [Reading(station.id, p, v + i / 10, u, ts, quality=Quality.GOOD)
                      for p, u, v in KINDS[station.kind]]  # fmt: skip
            batch.append(Reading(station.id, "station_online", 1.0, "bool", ts,
                                 quality=Quality.GOOD))  # fmt: skip
        if len(batch) > 50_000:
            store.write(batch)
            batch = []
    store.write(batch)
    gauge = next(s.id for s in stations.values() if s.kind == "hydro")
    minutes = days * 24 * 60
    month = [Reading(gauge, "water_level", 1.0 + (i % 600) / 300, "m",
                     now - timedelta(minutes=minutes - i), quality=Quality.GOOD)
             for i in range(minutes)]  # fmt: skip
    for start in range(0, len(month), 20_000):
        store.write(month[start : start + 20_000])
    return gauge


def timed(job: Callable[[], object], runs: int, pause_s: float = 0.0) -> tuple[float, float]:
    """Median and 95th percentile in ms, after a warm-up; ``pause_s`` before each run (not
    counted) lets the API's half-second snapshot expire, so every run reads the store."""
    job()
    samples = []
    for _ in range(runs):
        time.sleep(pause_s)
        started = time.perf_counter()
        job()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    stations = synthetic_site(args.stations)
    with tempfile.TemporaryDirectory() as directory:
        catalog = {s.id: StationInfo(s.kind, s.district) for s in stations.values()}
        store = SqliteStore(Path(directory) / "q.sqlite3", catalog)
        started = time.perf_counter()
        gauge = seed(store, stations, now, args.days)
        print(f"seeded {store.count():,} readings in {time.perf_counter() - started:.1f} s")
        store.close()
        port = free_port()
        # The API in its own process, as in production: the client's parsing does not share
        # its interpreter.
        server = multiprocessing.get_context("fork").Process(
            target=serve, args=(Path(directory) / "q.sqlite3", args.stations, port), daemon=True
        )
        server.start()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            report(client, gauge, now, args)
        server.terminate()
        server.join(10)


def serve(path: Path, count: int, port: int) -> None:
    stations = synthetic_site(count)
    catalog = {s.id: StationInfo(s.kind, s.district) for s in stations.values()}
    context = ApiContext(store=SqliteStore(path, catalog), stations=stations, site_name="bench",
                         security=ApiSecurity(open_reads=True))  # fmt: skip
    api_server(create_app(context), "127.0.0.1", port).run()


def report(client: httpx.Client, gauge: str, now: datetime, args: argparse.Namespace) -> None:
    # Timed: until the last byte arrived. Parsing is the client's (a browser's JSON.parse is
    # several times faster than Python's); the answers are checked whole once, below.
    def latest() -> None:
        client.get("/latest").raise_for_status()

    def geojson() -> None:
        client.get("/stations.geojson").raise_for_status()

    assert len(client.get("/latest").json()["stations"]) == args.stations
    assert len(client.get("/stations.geojson").json()["features"]) == args.stations

    pool = ThreadPoolExecutor(2)

    def first_paint() -> None:
        latest()
        geojson()

    def first_paint_together() -> None:
        for future in [pool.submit(latest), pool.submit(geojson)]:
            future.result()

    start = (now - timedelta(days=args.days)).isoformat()
    query = {"param": "water_level", "from": start, "to": now.isoformat()}
    minutes = args.days * 24 * 60

    def month() -> None:
        client.get(f"/stations/{gauge}/readings", params={**query, "limit": 50_000})

    whole = client.get(f"/stations/{gauge}/readings", params={**query, "limit": 50_000}).json()
    assert len(whole["readings"]) == minutes, len(whole["readings"])

    def month_paged() -> None:
        url: str | None = str(client.build_request("GET", f"/stations/{gauge}/readings",
                                                   params=query).url)  # fmt: skip
        got = 0
        while url:
            body = client.get(url).json()
            got += len(body["readings"])
            url = body["next"]
        assert got == minutes, got

    runs = args.runs
    cold = SNAPSHOT_TTL_S + 0.1
    rows = [
        (f"GET /latest ({args.stations} stations)", timed(latest, runs, cold)),
        (f"GET /stations.geojson ({args.stations} stations)", timed(geojson, runs, cold)),
        ("first paint, one after the other", timed(first_paint, runs, cold)),
        ("first paint, both at once (as a browser)", timed(first_paint_together, runs, cold)),
        (f"GET /stations/{{id}}/readings, {args.days} days, one answer",
         timed(month, max(5, runs // 2))),
        (f"GET /stations/{{id}}/readings, {args.days} days, pages of 10,000",
         timed(month_paged, max(5, runs // 2))),
    ]  # fmt: skip
    pool.shutdown()
    size = len(client.get("/latest").content)
    month_size = len(client.get(f"/stations/{gauge}/readings",
                                params={**query, "limit": 50_000}).content)  # fmt: skip
    print(f"/latest: {size / 1e6:.2f} MB; {args.days} days of readings: {month_size / 1e6:.2f} MB")
    print(f"{'request':58} {'median ms':>10} {'p95 ms':>8}")
    for name, (median, p95) in rows:
        print(f"{name:58} {median:10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
