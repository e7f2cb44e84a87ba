"""Air: the daily VN_AQI with its category, the worst hour and its dominant pollutant, and
exceedances of QCVN 05:2023 per parameter (pure).

Everything is computed from the station's hourly means (``pm25_h`` …, stamped with the end of
their hour), with the functions the collector derives ``vn_aqi_h`` and ``vn_aqi_d`` with
(collector.indices.aqi): the report and the boards cannot disagree. A limit is exceeded when the
mean is *above* it ("không vượt quá": at the limit complies). An 8-hour mean needs its 8 hours
and a 24-hour mean 18 of its 24 (the rule the daily VN_AQI uses for PM): fewer hours are
reported as not evaluated, never as compliant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from collector.indices import AqiResult, Pollutant, hourly_aqi, vn_aqi_d
from collector.indices.aqi import DAILY_MIN_HOURS, NOWCAST_HOURS, O3_WINDOW_HOURS, PARTICULATES
from quantrac.dashboards.standards import QCVN_05_2023, Limit
from quantrac.dashboards.standards import Pollutant as Regulated
from quantrac.reports.figures import Point, in_period
from quantrac.reports.period import ReportPeriod

HOUR = timedelta(hours=1)
AVERAGING_HOURS = {"1 giờ": 1, "8 giờ": 8, "24 giờ": 24}
# What the period's first hours look back on: the NowCast's 12 hours, and the 8-hour O3 windows
# that start the evening before.
LOOKBACK = timedelta(hours=max(NOWCAST_HOURS, O3_WINDOW_HOURS) + 24)

HourlyMeans = Mapping[Pollutant, Sequence[Point]]


@dataclass(frozen=True, slots=True)
class DailyAqi:
    day: date
    result: AqiResult


@dataclass(frozen=True, slots=True)
class HourlyAqi:
    hour_end: datetime
    result: AqiResult


@dataclass(frozen=True, slots=True)
class Exceedance:
    """One limit of one parameter over the period."""

    param: str
    label: str  # as officers write it: PM2.5
    averaging: str  # "1 giờ", "8 giờ", "24 giờ", or "" for a sample (water)
    limit: float
    lower: bool  # a floor (DO ≥ 6) rather than a ceiling
    evaluated: int  # hours, 8-hour windows or days that could be judged
    exceeded: int
    worst: float | None  # the highest mean (the lowest, for a floor)
    worst_at: datetime | None  # the end of its hour, window or day
    first_at: datetime | None  # the end of the first one exceeding

    @property
    def limit_text(self) -> str:
        """ "≤ 45", "≥ 6,5": decimal comma, as the regulation prints it."""
        number = f"{self.limit:g}".replace(".", ",")
        return f"{'≥' if self.lower else '≤'} {number}"


@dataclass(frozen=True, slots=True)
class AirStationFigures:
    station: str
    days: tuple[DailyAqi, ...]
    hours: tuple[HourlyAqi, ...]  # each hour of the period with an hourly VN_AQI
    exceedances: tuple[Exceedance, ...]

    @property
    def worst_hour(self) -> HourlyAqi | None:
        """The hour with the highest VN_AQI (the first of equals)."""
        best: HourlyAqi | None = None
        for hour in self.hours:
            value = hour.result.value
            if value is not None and (best is None or value > (best.result.value or 0)):
                best = hour
        return best

    @property
    def worst_day(self) -> DailyAqi | None:
        best: DailyAqi | None = None
        for day in self.days:
            value = day.result.value
            if value is not None and (best is None or value > (best.result.value or 0)):
                best = day
        return best


def _by_hour(series: Sequence[Point]) -> dict[datetime, float]:
    return {ts: v for ts, v in series if v == v and v >= 0}  # NaN and negatives are missing


def hourly_aqi_series(hourly: HourlyMeans, ends: Sequence[datetime]) -> list[HourlyAqi]:
    """The hourly VN_AQI at each hour end (``vn_aqi_h``'s rule, each hour's means looked up
    once): gases on their own hour, PM on the NowCast of its last 12 hours."""
    by_hour = {pollutant: _by_hour(series) for pollutant, series in hourly.items()}
    out = []
    for end in ends:
        gases: dict[Pollutant, float | None] = {}
        pm: dict[Pollutant, list[float | None]] = {}
        for pollutant, values in by_hour.items():
            if pollutant in PARTICULATES:
                pm[pollutant] = [values.get(end - k * HOUR) for k in range(NOWCAST_HOURS)]
            else:
                gases[pollutant] = values.get(end)
        result = hourly_aqi(gases, pm)
        if result.value is not None:
            out.append(HourlyAqi(end, result))
    return out


def daily_aqi_series(hourly: HourlyMeans, period: ReportPeriod) -> list[DailyAqi]:
    """The daily VN_AQI of each day of the period (``vn_aqi_d``), with why one is missing."""
    out = []
    for day in period.days:
        one_day = ReportPeriod.daily(day, period.zone)
        start = one_day.start - timedelta(hours=O3_WINDOW_HOURS)
        sliced = {p: in_period(series, start, one_day.end) for p, series in hourly.items()}
        out.append(DailyAqi(day, vn_aqi_d(sliced, day, period.zone)))
    return out


def _windows(series: Sequence[Point], hours: int, period: ReportPeriod) -> list[Point]:
    """Means over ``hours``-hour windows ending at each hour of the period, whole windows only;
    24 hours are the local days instead (with at least 18 of their hours)."""
    by_hour = _by_hour(series)
    if hours == 1:
        return [(end, by_hour[end]) for end in period.hour_ends if end in by_hour]
    if hours == 24:
        days = []
        for day in period.days:
            one_day = ReportPeriod.daily(day, period.zone)
            values = [by_hour[t] for t in one_day.hour_ends if t in by_hour]
            if len(values) >= DAILY_MIN_HOURS:
                days.append((one_day.end, sum(values) / len(values)))
        return days
    out = []
    for end in period.hour_ends:
        window = [by_hour.get(end - k * HOUR) for k in range(hours)]
        present = [v for v in window if v is not None]
        if len(present) == hours:
            out.append((end, sum(present) / hours))
    return out


def exceedance(
    param: str, label: str, limit: Limit, means: Sequence[Point], averaging: str = ""
) -> Exceedance:
    """How ``means`` compare with one limit: above a ceiling, or below a floor, is exceeded."""
    exceeded = [(ts, v) for ts, v in means if (v < limit.value if limit.lower else v > limit.value)]
    worst = (min if limit.lower else max)(means, key=lambda p: p[1], default=None)
    return Exceedance(
        param=param,
        label=label,
        averaging=averaging if averaging else limit.averaging,
        limit=limit.value,
        lower=limit.lower,
        evaluated=len(means),
        exceeded=len(exceeded),
        worst=None if worst is None else worst[1],
        worst_at=None if worst is None else worst[0],
        first_at=exceeded[0][0] if exceeded else None,
    )


def air_exceedances(
    hourly: Mapping[str, Sequence[Point]],
    period: ReportPeriod,
    regulation: Sequence[Regulated] = QCVN_05_2023,
) -> list[Exceedance]:
    """Each limit of each regulated parameter the station measures, over the period."""
    out = []
    for regulated in regulation:
        series = hourly.get(regulated.param)
        if series is None:
            continue
        for limit in regulated.limits:
            means = _windows(series, AVERAGING_HOURS[limit.averaging], period)
            out.append(exceedance(regulated.param, regulated.label, limit, means))
    return out


_POLLUTANTS = frozenset(p.value for p in Pollutant)


def air_station(
    station: str, hourly: Mapping[str, Sequence[Point]], period: ReportPeriod
) -> AirStationFigures:
    """The air section of one station from its hourly means (by parameter name)."""
    pollutants = {Pollutant(p): s for p, s in hourly.items() if p in _POLLUTANTS}
    return AirStationFigures(
        station=station,
        days=tuple(daily_aqi_series(pollutants, period)),
        hours=tuple(hourly_aqi_series(pollutants, period.hour_ends)),
        exceedances=tuple(air_exceedances(hourly, period)),
    )
