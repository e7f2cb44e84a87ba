"""A report reads InfluxDB and VictoriaMetrics through the same ReadingStore interface as
SQLite, and gets the same figures: the replay loaded by the real collector into a real influxd
and a real victoria-metrics, each report compared with the one made from the collector's own
SQLite copy of what it stored (the replay's recent days: VictoriaMetrics keeps a month)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from collector.store import open_store
from collector.store.sqlite import SqliteStore
from quantrac.reports.gather import gather
from quantrac.reports.model import Report
from quantrac.reports.period import ReportPeriod
from quantrac.runners import station_catalog
from tests.conftest import EXAMPLE_SITE
from tests.dashboards.load import load, replay_site
from tests.reports.scenario import SmogThenFlood
from tests.servers import Influxd, VictoriaMetrics


def figures(report: Report) -> dict[str, object]:
    """What a report says, as plain values (VictoriaMetrics keeps no QC reason: not compared)."""
    return {
        "aqi": [(d.day, d.result.value, d.result.dominant) for a in report.air for d in a.days],
        "worst_hour": [
            (h.hour_end, h.result.value) for a in report.air if (h := a.worst_hour) is not None
        ],
        "air_limits": [
            (e.param, e.averaging, e.evaluated, e.exceeded, round(e.worst or 0, 6))
            for a in report.air
            for e in a.exceedances
        ],
        "wqi": [(s.hour_end, s.result.value) for w in report.water for s in w.samples],
        "water_limits": [
            (e.param, e.limit, e.exceeded) for w in report.water for e in w.exceedances
        ],
        "rivers": [(r.station, r.crest, r.crest_at, r.crossings) for r in report.rivers],
        "rain": [(r.station, r.total_mm, r.max_24h_mm, r.max_24h_at) for r in report.rain],
        "wind": [(w.max_speed, w.max_speed_at, w.max_gust) for w in report.wind],
        "quality": [(q.station, q.param, q.received, q.suspect, q.bad) for q in report.quality],
    }


def compare(
    url: str, data_dir: Path, tmp_path: Path, flush: Callable[[], None] = lambda: None
) -> None:
    site = replay_site(EXAMPLE_SITE, tmp_path / "site")
    replay = SmogThenFlood.recent()
    asyncio.run(load(site, replay, url, data_dir)).close()
    flush()  # VictoriaMetrics makes new rows searchable about a second after it takes them
    remote = open_store(url, station_catalog(site))
    truth = SqliteStore(data_dir / "recent.sqlite3", station_catalog(site))
    try:
        for day in (replay.smog_day, replay.flood_day):
            period = ReportPeriod.daily(day)
            expected = figures(gather(site, truth, period))
            assert expected["aqi"][0][1] is not None  # type: ignore[index]
            assert figures(gather(site, remote, period)) == expected
    finally:
        remote.close()
        truth.close()


def test_influxdb_gives_the_same_report(influxd: Influxd, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    compare(influxd.store_url, tmp_path / "data", tmp_path)


def test_victoriametrics_gives_the_same_report(
    victoria_metrics: VictoriaMetrics, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    compare(victoria_metrics.store_url, tmp_path / "data", tmp_path, victoria_metrics.flush)
