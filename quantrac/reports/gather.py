"""Reading what a report needs, from the store and the alerting records (the I/O side).

Everything goes through the ``ReadingStore`` interface, so a report reads SQLite, InfluxDB and
VictoriaMetrics alike. One series is read at a time and reduced to its figures at once: a month
of 5-minute data of a hundred stations never sits in memory whole (docs/benchmarks.md,
"Reports").
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.incidents import IncidentStore
from alerting.notifiers.log import NotificationLog
from collector.indices import (
    RainInterval,
    Terrain,
    TippingBucket,
    rain_from_amounts,
    rain_from_counter,
)
from collector.schema import MEAN_SUFFIX, is_derived
from collector.store import ReadingStore
from gateway.config import ModbusSource, StationConfig
from gateway.model import Reading
from quantrac.dashboards.standards import QCVN_05_2023, QCVN_08_2023
from quantrac.reports.figures import Point, points
from quantrac.reports.figures.air import LOOKBACK, air_station
from quantrac.reports.figures.hydromet import RAIN_LOOKBACK_DAYS, rain, river, wind
from quantrac.reports.figures.quality import SeriesQuality, series_quality
from quantrac.reports.figures.warnings import warnings
from quantrac.reports.figures.water import WQI_PARAMS, water_station
from quantrac.reports.model import Report
from quantrac.reports.period import ReportPeriod
from quantrac.site import Site

log = logging.getLogger(__name__)

LIMIT = 10_000_000  # a series' points in a period: a month of 1-second data fits
NOT_REPORTED = frozenset({"station_online"})  # the gateway's heartbeat, not a measurement
AIR_PARAMS = frozenset(p.param for p in QCVN_05_2023) | {"pm25", "pm10", "so2", "co", "no2", "o3"}
WATER_PARAMS = WQI_PARAMS | frozenset(p.param for p in QCVN_08_2023) | {"water_temp"}


@dataclass(frozen=True)
class AlertingRecords:
    """Where the alerting service keeps its state (its data directory)."""

    incidents: Path
    notifications: Path

    @classmethod
    def in_dir(cls, data_dir: Path) -> AlertingRecords:
        return cls(data_dir / "incidents.sqlite3", data_dir / "notifications.sqlite3")


def is_surface_water(station: StationConfig) -> bool:
    """A water station on a river or in a basin is surface water (VN_WQI, QCVN 08); one
    without is an outlet (a treatment plant's effluent), reported for its data quality only."""
    return station.kind == "water" and (station.river is not None or station.basin is not None)


def terrains(site: Site) -> dict[str, Terrain]:
    """Each rain gauge's terrain, from its heavy-rain risk rule in rules.yaml (else lowland)."""
    from alerting.rules.config import AccumulationConfig, RuleConfigError, select_stations
    from quantrac.alerting_app import site_rules

    found: dict[str, Terrain] = {}
    try:
        rules = site_rules(site)
    except (RuleConfigError, ValueError) as exc:  # `config check` names it; a report goes on
        log.warning("rules.yaml unreadable (%s): every rain gauge taken as lowland", exc)
        return found
    for rule in rules:
        if isinstance(rule, AccumulationConfig) and rule.heavy_rain_risk and rule.terrain:
            for station in select_stations(rule.id, rule.stations, site.stations):
                found[station.id] = rule.terrain
    return found


class ReportReader:
    """Reads one site's series from a store for one period."""

    def __init__(self, site: Site, store: ReadingStore, period: ReportPeriod) -> None:
        self.site = site
        self.store = store
        self.period = period
        self.series_read = 0
        self.points_read = 0

    def range(self, station: str, param: str, start: datetime, end: datetime) -> list[Reading]:
        found = self.store.range(station, param, start, end, limit=LIMIT)
        self.series_read += 1
        self.points_read += len(found)
        return found

    def hourly_means(self, station: str, params: Iterable[str]) -> dict[str, list[Point]]:
        """Hourly means (``<param>_h``, stamped with the end of their hour) over the period and
        the lookback the air figures need."""
        start = self.period.start - LOOKBACK
        end = self.period.end + timedelta(seconds=1)
        out = {}
        for param in sorted(params):
            series = points(self.range(station, f"{param}{MEAN_SUFFIX}", start, end))
            if series:
                out[param] = series
        return out

    def params_of(self, station: StationConfig) -> list[str]:
        """The measured parameters: what the store holds for the station, and what its device
        profile reads (a parameter that never arrived is 0 % complete, not absent)."""
        params = {r.param for r in self.store.latest(station.id)}
        if isinstance(station.source, ModbusSource):
            profile = self.site.profile_of(station)
            params |= {register.param for register in profile.registers}
        return sorted(p for p in params if not is_derived(p) and p not in NOT_REPORTED)

    def rain_intervals(self, station: StationConfig) -> list[RainInterval]:
        start = self.period.start - timedelta(days=RAIN_LOOKBACK_DAYS, hours=1)
        counts = self.range(station.id, "rain_counter", start, self.period.end)
        if counts:
            gauge = TippingBucket(
                bucket_mm=station.rain_gauge.bucket_mm, modulus=station.rain_gauge.counter_modulus
            )
            return rain_from_counter(points(counts), gauge)
        amounts = points(self.range(station.id, "rain", start, self.period.end))
        if len(amounts) < 2:
            return []
        # The gauge reports the rain of its own interval: its usual spacing (as the collector).
        spacing = statistics.median(
            (b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(amounts)
        )
        return rain_from_amounts(amounts, timedelta(seconds=spacing))


def expected_interval(station: StationConfig) -> timedelta | None:
    if isinstance(station.source, ModbusSource):
        return timedelta(seconds=station.source.interval_s)
    return None  # MQTT and TT10 stations send on their own: inferred from what they sent


def gather(
    site: Site,
    store: ReadingStore,
    period: ReportPeriod,
    *,
    alerting: AlertingRecords | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Report:
    """Every section's figures for the site's stations over ``period``."""
    reader = ReportReader(site, store, period)
    air, water, rivers, rains, winds = [], [], [], [], []
    quality: list[SeriesQuality] = []
    notes: list[str] = []
    terrain = terrains(site)
    for station in site.stations.values():
        params = reader.params_of(station)
        if station.kind == "air":
            hourly = reader.hourly_means(station.id, AIR_PARAMS & set(params))
            air.append(air_station(station.id, hourly, period))
        elif is_surface_water(station):
            hourly = reader.hourly_means(station.id, WATER_PARAMS & set(params))
            water.append(water_station(station.id, hourly, period))
        elif station.kind == "hydro" and station.flood_levels is not None:
            levels = reader.range(station.id, "water_level", period.start, period.end)
            rivers.append(river(station.id, levels, station.flood_levels.as_tuple()))
        elif station.kind == "rain":
            rains.append(
                rain(
                    station.id,
                    reader.rain_intervals(station),
                    period,
                    terrain.get(station.id, Terrain.LOWLAND),
                )
            )
        elif station.kind == "weather":
            speed = reader.range(station.id, "wind_speed", period.start, period.end)
            gust = reader.range(station.id, "wind_gust", period.start, period.end)
            winds.append(wind(station.id, speed, gust))
        interval = expected_interval(station)
        for param in params:
            series = reader.range(station.id, param, period.start, period.end)
            quality.append(series_quality(station.id, param, series, period, interval))
    warning_figures = None
    if alerting is not None and alerting.incidents.exists():
        incidents = IncidentStore(alerting.incidents)
        try:
            found = incidents.between(period.start, period.end)
        finally:
            incidents.close()
        entries = []
        if alerting.notifications.exists():
            with NotificationLog(alerting.notifications) as book:
                entries = book.entries()
        warning_figures = warnings(found, entries, period)
    else:
        notes.append("Không có dữ liệu cảnh báo (chưa chạy dịch vụ cảnh báo).")
    log.info(
        "report %s: %d series, %d points read", period.slug, reader.series_read, reader.points_read
    )
    return Report(
        site=site.settings.name,
        period=period,
        generated_at=now(),
        stations=dict(site.stations),
        air=tuple(air),
        water=tuple(water),
        rivers=tuple(rivers),
        rain=tuple(rains),
        wind=tuple(winds),
        warnings=warning_figures,
        quality=tuple(quality),
        notes=tuple(notes),
    )
