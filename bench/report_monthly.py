"""A monthly report of 100 stations with 5-minute data, from SQLite: how long it takes and how
much memory it needs.

    .venv/bin/python -m bench.report_monthly [--stations 100] [--month 2025-10]

The stations are the Huế example's five kinds of Modbus station in equal shares (air: 6
parameters, surface water: 6, river gauge: 1, rain gauge: 1, weather: 6), each read every 5
minutes for the whole month with its hourly means (what the collector stores; air and water
reports are computed from them). The store is written first (not timed); then one process,
started fresh, makes the report — reading every series through the ReadingStore interface,
its figures, the PDF, the XLSX — and reports the time of each step and its peak resident
memory (``ru_maxrss``), beside its resident memory before the report began (the imports).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from collector.store.sqlite import SqliteStore
from gateway.model import Reading
from gateway.parameters import registry
from quantrac.reports.period import ReportPeriod
from quantrac.runners import station_catalog
from quantrac.site import Site, load_site

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hue"
TEMPLATES = {"air": "hue_air", "water": "van_nien", "hydro": "kim_long", "rain": "nam_dong",
             "weather": "hue_weather"}  # fmt: skip
STEP = timedelta(minutes=5)


def make_site(directory: Path, stations: int) -> Site:
    """``stations`` copies of the example's Modbus stations, kinds in turn, 5-minute polls."""
    example = load_site(EXAMPLE)
    (directory / "stations").mkdir(parents=True)
    shutil.copy(EXAMPLE / "site.yaml", directory / "site.yaml")
    entries = []
    kinds = list(TEMPLATES)
    for n in range(stations):
        template = example.stations[TEMPLATES[kinds[n % len(kinds)]]]
        entry = template.model_dump(mode="json", exclude_none=True)
        entry["id"] = f"{template.id}_{n:03d}"
        entry["name"] = f"{template.name} {n:03d}"
        entry["source"]["interval_s"] = 300
        entry["source"]["connection"]["port"] = 20000 + n
        entries.append(entry)
    text = yaml.safe_dump({"stations": entries}, allow_unicode=True, sort_keys=False)
    (directory / "stations" / "all.yaml").write_text(text, encoding="utf-8")
    return load_site(directory)


def value(param: str, station: int, k: int) -> float:
    """Plausible, varying values (a day's cycle); a rain counter that only rises."""
    day = math.sin(2 * math.pi * k / 288 + station)
    if param == "rain_counter":
        return float(1000 + k // 3)
    bases = {"pm25": 40.0, "pm10": 70.0, "no2": 45.0, "so2": 10.0, "co": 900.0, "o3": 80.0,
             "water_level": 1.2, "ph": 7.2, "do": 6.8, "water_temp": 27.0}  # fmt: skip
    base = bases.get(param, 20.0)
    return round(base * (1 + 0.4 * day), 3)


def fill(site: Site, store: SqliteStore, period: ReportPeriod) -> int:
    profiles = {
        s.id: [r.param for r in site.profile_of(s).registers] for s in site.stations.values()
    }
    total = 0
    steps = int(period.duration / STEP)
    for n, station in enumerate(site.stations.values()):
        batch: list[Reading] = []
        for param in profiles[station.id]:
            unit = registry()[param].unit
            series = [value(param, n, k) for k in range(steps)]
            batch += [
                Reading(station.id, param, v, unit, period.start + k * STEP)
                for k, v in enumerate(series)
            ]
            if station.kind in ("air", "water"):
                for h in range(steps // 12):
                    mean = sum(series[h * 12 : h * 12 + 12]) / 12
                    end = period.start + (h + 1) * timedelta(hours=1)
                    batch.append(Reading(station.id, f"{param}_h", mean, unit, end))
        store.write(batch)
        total += len(batch)
    return total


def make_report(directory: str, month: str, result: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from quantrac.reports.gather import gather
    from quantrac.reports.pdf import render_pdf
    from quantrac.reports.xlsx import render_xlsx

    site = load_site(Path(directory) / "site")
    store = SqliteStore(Path(directory) / "quantrac.sqlite3", station_catalog(site))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    period = ReportPeriod.monthly(date.fromisoformat(f"{month}-01"))
    started = time.perf_counter()
    report = gather(site, store, period)
    gathered = time.perf_counter()
    pdf = render_pdf(report)
    rendered = time.perf_counter()
    xlsx = render_xlsx(report)
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.put({
        "gather_s": gathered - started, "pdf_s": rendered - gathered, "xlsx_s": done - rendered,
        "total_s": done - started, "rss_before_mb": before / 1024, "rss_peak_mb": peak / 1024,
        "pdf_kb": len(pdf) / 1024, "xlsx_kb": len(xlsx) / 1024,
    })  # fmt: skip
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--month", default="2025-10")
    args = parser.parse_args()
    period = ReportPeriod.monthly(date.fromisoformat(f"{args.month}-01"))
    with tempfile.TemporaryDirectory() as tmp:
        site = make_site(Path(tmp) / "site", args.stations)
        store = SqliteStore(Path(tmp) / "quantrac.sqlite3", station_catalog(site))
        started = time.perf_counter()
        points = fill(site, store, period)
        store.close()
        print(f"store: {points:,} points of {args.stations} stations, {args.month}, written in "
              f"{time.perf_counter() - started:.1f} s (not timed below)")  # fmt: skip
        context = multiprocessing.get_context("spawn")
        result: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
        child = context.Process(target=make_report, args=(tmp, args.month, result))
        child.start()
        child.join(timeout=900)
        if child.exitcode != 0:
            raise SystemExit(f"the report process failed (exit code {child.exitcode})")
        figures = result.get(timeout=5)
    print(f"report of {datetime.now():%Y-%m-%d}: " + ", ".join(
        f"{key} {value:.1f}" for key, value in figures.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()
