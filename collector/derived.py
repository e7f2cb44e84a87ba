"""Derived series: computed by the collector from stored readings, stored beside them.

As readings arrive (``on_flush``): the flood alarm level of each water level, and the rain
totals over 1/3/6/12/24 h at each rain reading. On schedule (``quantrac.runners`` /
``DerivedScheduler``): at the top of each hour, hourly means of every series (``<param>_h``),
then the hourly VN_AQI and VN_WQI; after local midnight, the daily VN_AQI. A reading arriving
for an hour already computed marks that hour dirty, and ``recompute_dirty`` computes it, and
the hours whose NowCast it feeds, again (docs/indices.md).

Only readings whose quality allows it are used: good ones, and late ones (suspect
``out_of_order``: they passed every check that could judge them); ``use_suspect`` adds the
other suspect ones. Every derived point is written with the same (station, param, ts) each
time it is computed, so computing it again replaces it.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from collector.indices import (
    VIETNAM_TZ,
    Pollutant,
    TippingBucket,
    flood_alarm,
    rain_from_amounts,
    rain_from_counter,
    rain_totals,
    vn_aqi_d,
    vn_aqi_h,
    vn_wqi,
)
from collector.indices.wqi import WqiParam
from collector.schema import MEAN_SUFFIX, is_derived
from collector.store import ReadingStore
from gateway.config import StationConfig
from gateway.model import Quality, Reading

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
NOWCAST_HOURS = 12
RAIN_LOOKBACK = timedelta(hours=25)  # 24 h totals, and the reading before the window
# Series that are not averaged per hour: counters, rain (it has totals), the gateway's health,
# and what is itself derived.
NOT_AVERAGED = frozenset({"rain", "rain_counter", "station_online", "flood_level"})
WQI_PARAMS = frozenset(p.value for p in WqiParam)


def hourly_mean_param(param: str) -> str:
    return f"{param}{MEAN_SUFFIX}"


def hour_end(ts: datetime) -> datetime:
    """The end of the hour a reading belongs to: readings of [09:00, 10:00) make 10:00's mean."""
    start = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start + HOUR


@dataclass
class DerivedStats:
    computed: int = 0
    hours: int = 0
    days: int = 0
    recomputed_hours: int = 0
    failures: int = 0
    last_hour: datetime | None = None
    last_day: date | None = None


@dataclass
class DerivedSeries:
    store: ReadingStore
    stations: Mapping[str, StationConfig]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    use_suspect: bool = False
    stats: DerivedStats = field(default_factory=DerivedStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[str, set[str]] = defaultdict(set)  # station → params seen
        self._dirty: set[tuple[str, datetime]] = set()  # (station, hour end) to compute again
        self._computed_until: datetime | None = None  # the last hour end computed on schedule

    # -- helpers ----------------------------------------------------------------------------

    def _usable(self, reading: Reading) -> bool:
        if not reading.has_value or reading.quality is Quality.BAD:
            return False
        if reading.quality is Quality.GOOD or self.use_suspect:
            return True
        # A late point is suspect only because the checks against its neighbours could not
        # run; it passed the others. A logger's backlog must count in the hours it belongs to.
        return reading.reason == "out_of_order"

    @staticmethod
    def _derived(
        station: str,
        param: str,
        value: float,
        unit: str,
        ts: datetime,
        quality: Quality = Quality.GOOD,
        reason: str = "",
    ) -> Reading:
        return Reading(station, param, value, unit, ts, quality=quality, reason=reason)

    def _range(self, station: str, param: str, start: datetime, end: datetime) -> list[Reading]:
        return [r for r in self.store.range(station, param, start, end) if self._usable(r)]

    # -- as readings arrive -------------------------------------------------------------------

    def on_flush(self, readings: Sequence[Reading]) -> list[Reading]:
        """Derived readings of a stored flush (flags applied); marks late hours dirty."""
        out: list[Reading] = []
        rain_stations: dict[str, datetime] = {}
        ends: dict[datetime, datetime] = {}  # the readings of a flush share a few times
        with self._lock:
            for reading in readings:
                self._series[reading.station].add(reading.param)
                end = ends.get(reading.ts)
                if end is None:
                    end = ends[reading.ts] = hour_end(reading.ts)
                if self._computed_until is not None and end <= self._computed_until:
                    self._dirty.add((reading.station, end))
        for reading in readings:
            station = self.stations.get(reading.station)
            if station is None:
                continue
            if reading.param == "water_level" and station.flood_levels and self._usable(reading):
                alarm = flood_alarm(reading.value, station.flood_levels.as_tuple())
                if alarm is not None:
                    level = float(alarm.level)
                    out.append(
                        self._derived(
                            reading.station,
                            "flood_level",
                            level,
                            "level",
                            reading.ts,
                            reason=alarm.label,
                        )
                    )
            elif reading.param in ("rain_counter", "rain"):
                newest = rain_stations.get(reading.station)
                if newest is None or reading.ts > newest:
                    rain_stations[reading.station] = reading.ts
        for station_id, at in rain_stations.items():
            out.extend(self.rain_totals(station_id, at))
        self.stats.computed += len(out)
        return out

    def rain_totals(self, station_id: str, at: datetime) -> list[Reading]:
        """rain_1h … rain_24h ending at ``at``, from the counter or the reported amounts."""
        station = self.stations[station_id]
        start = at - RAIN_LOOKBACK
        end = at + timedelta(milliseconds=1)
        counts = self._range(station_id, "rain_counter", start, end)
        if counts:
            gauge = TippingBucket(
                bucket_mm=station.rain_gauge.bucket_mm, modulus=station.rain_gauge.counter_modulus
            )
            intervals = rain_from_counter([(r.ts, r.value) for r in counts], gauge)
        else:
            amounts = self._range(station_id, "rain", start, end)
            if len(amounts) < 2:
                return []
            spacing = statistics.median(
                (b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(amounts)
            )
            intervals = rain_from_amounts(
                [(r.ts, r.value) for r in amounts], timedelta(seconds=spacing)
            )
        out = []
        for total in rain_totals(intervals, at).values():
            if total.complete and total.total_mm is not None:
                out.append(self._derived(station_id, total.param, total.total_mm, "mm", at))
            else:
                # A lower bound, flagged: the gauge was not heard for part of the window.
                known = total.known_mm
                out.append(
                    self._derived(
                        station_id, total.param, known, "mm", at, Quality.SUSPECT, "incomplete"
                    )
                )
        return out

    # -- on schedule ----------------------------------------------------------------------------

    def hourly(self, end: datetime) -> list[Reading]:
        """Everything of the hour ending at ``end`` (on the hour): means, VN_AQI, VN_WQI."""
        end = hour_end(end - timedelta(microseconds=1))
        out: list[Reading] = []
        for station_id in sorted(set(self.stations) | set(self._series)):
            out.extend(self._hour_of(station_id, end))
        with self._lock:
            if self._computed_until is None or end > self._computed_until:
                self._computed_until = end
        self.stats.hours += 1
        self.stats.last_hour = end
        self.stats.computed += len(out)
        return out

    def _params_of(self, station_id: str) -> set[str]:
        if station_id not in self._series:
            # After a restart: the series the store knows.
            self._series[station_id].update(r.param for r in self.store.latest(station_id))
        return {p for p in self._series[station_id] if p not in NOT_AVERAGED and not is_derived(p)}

    def _hour_of(self, station_id: str, end: datetime) -> list[Reading]:
        out = []
        means: dict[str, float] = {}
        for param in sorted(self._params_of(station_id)):
            readings = self._range(station_id, param, end - HOUR, end)
            if not readings:
                continue
            mean = math.fsum(r.value for r in readings) / len(readings)
            means[param] = mean
            out.append(
                self._derived(station_id, hourly_mean_param(param), mean, readings[0].unit, end)
            )
        if any(p.value in means for p in Pollutant):
            aqi = self._aqi_hour(station_id, end, means)
            if aqi is not None:
                out.append(aqi)
        if WQI_PARAMS & means.keys():
            wqi = vn_wqi(
                {WqiParam(p): v for p, v in means.items() if p in WQI_PARAMS},
                water_temp_c=means.get("water_temp"),
            )
            if wqi.value is not None:
                out.append(self._derived(station_id, "vn_wqi", float(wqi.value), "WQI", end))
        return out

    def _hourly_means(
        self, station_id: str, start: datetime, end: datetime, current: Mapping[str, float]
    ) -> dict[Pollutant, list[tuple[datetime, float]]]:
        """Stored hourly means of each pollutant in (start, end], with this hour's fresh ones."""
        series: dict[Pollutant, list[tuple[datetime, float]]] = {}
        for pollutant in Pollutant:
            stored = self.store.range(
                station_id, hourly_mean_param(pollutant.value), start, end + timedelta(seconds=1)
            )
            points = {r.ts: r.value for r in stored if r.has_value and start < r.ts}
            if pollutant.value in current:
                points[end] = current[pollutant.value]
            else:
                points.pop(end, None)
            if points:
                series[pollutant] = sorted(points.items())
        return series

    def _aqi_hour(
        self, station_id: str, end: datetime, means: Mapping[str, float]
    ) -> Reading | None:
        history = self._hourly_means(station_id, end - NOWCAST_HOURS * HOUR, end, means)
        result = vn_aqi_h(history, end)
        if result.value is None:
            return None
        dominant = result.dominant.value if result.dominant else ""
        value = float(result.value)
        return self._derived(station_id, "vn_aqi_h", value, "AQI", end, reason=dominant)

    def daily(self, day: date) -> list[Reading]:
        """The daily VN_AQI of a local day, stamped at its end (24:00 local)."""
        zone = VIETNAM_TZ
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        # O3's 8-hour windows of the day's first hours start the evening before.
        start = end - timedelta(hours=24 + 8)
        out = []
        for station_id in sorted(self.stations):
            if self.stations[station_id].kind != "air":
                continue
            history = self._hourly_means(station_id, start, end, {})
            if not history:
                continue
            result = vn_aqi_d(history, day, zone)
            if result.value is not None:
                dominant = result.dominant.value if result.dominant else ""
                out.append(
                    self._derived(
                        station_id, "vn_aqi_d", float(result.value), "AQI", end, reason=dominant
                    )
                )
        self.stats.days += 1
        self.stats.last_day = day
        self.stats.computed += len(out)
        return out

    def recompute_dirty(self) -> list[Reading]:
        """Hours that late readings touched, and the NowCast hours after them, again."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            until = self._computed_until
        if not dirty or until is None:
            return []
        hours: dict[str, set[datetime]] = defaultdict(set)
        days: set[date] = set()
        for station_id, end in dirty:
            for k in range(NOWCAST_HOURS):
                if end + k * HOUR <= until:
                    hours[station_id].add(end + k * HOUR)
            days.add((end - timedelta(microseconds=1)).astimezone(VIETNAM_TZ).date())
        out: list[Reading] = []
        for station_id, ends in hours.items():
            for end in sorted(ends):
                # Written as it goes: the NowCast of the next hour reads this hour's means.
                computed = self._hour_of(station_id, end)
                self.store.write(computed)
                out.extend(computed)
                self.stats.recomputed_hours += 1
        today = until.astimezone(VIETNAM_TZ).date()
        for day in sorted(d for d in days if d < today):
            computed = self.daily(day)
            self.store.write(computed)
            out.extend(computed)
        return out

    def health(self) -> dict[str, object]:
        return {
            "computed": self.stats.computed,
            "hours": self.stats.hours,
            "days": self.stats.days,
            "recomputed_hours": self.stats.recomputed_hours,
            "failures": self.stats.failures,
            "last_hour": self.stats.last_hour.isoformat() if self.stats.last_hour else None,
            "last_day": self.stats.last_day.isoformat() if self.stats.last_day else None,
            "dirty_hours": len(self._dirty),
        }


def by_station(readings: Iterable[Reading]) -> dict[str, list[Reading]]:
    grouped: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        grouped[reading.station].append(reading)
    return grouped
