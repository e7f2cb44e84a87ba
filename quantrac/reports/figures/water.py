"""Surface water: VN_WQI per sampling and exceedances of QCVN 08:2023 (pure).

An automatic station's sampling is its hour: the WQI of each hour is computed from that hour's
means with ``collector.indices.vn_wqi`` (Decision 1460/QĐ-TCMT), as the collector derives
``vn_wqi``. A station without the minimum data the decision asks for (3 of the 5 groups, group
IV with 3 parameters — a sonde with pH, DO and NH4 has none) gets no WQI, and the report says
why. The limits are those of class A (the shipped table, quantrac/dashboards/standards.py),
compared with each hourly mean.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.indices import WqiResult, vn_wqi
from collector.indices.wqi import WqiParam
from quantrac.dashboards.standards import QCVN_08_2023
from quantrac.dashboards.standards import Pollutant as Regulated
from quantrac.reports.figures import Point
from quantrac.reports.figures.air import Exceedance, exceedance
from quantrac.reports.period import ReportPeriod

WQI_PARAMS = frozenset(p.value for p in WqiParam)
QCVN_08_CLASS = "A"


@dataclass(frozen=True, slots=True)
class WqiSample:
    hour_end: datetime
    result: WqiResult


@dataclass(frozen=True, slots=True)
class WaterStationFigures:
    station: str
    samples: tuple[WqiSample, ...]  # the hours with a WQI
    hours_without: int  # hours with WQI parameters but not enough of them
    reason: str | None  # why there is no WQI at all (the last hour's reason)
    exceedances: tuple[Exceedance, ...]
    water_class: str = QCVN_08_CLASS

    @property
    def values(self) -> list[int]:
        return [s.result.value for s in self.samples if s.result.value is not None]

    @property
    def lowest(self) -> WqiSample | None:
        """The worst sampling (the lowest WQI; the first of equals)."""
        return min(self.samples, key=lambda s: s.result.value or 0, default=None)

    @property
    def highest(self) -> WqiSample | None:
        return max(self.samples, key=lambda s: s.result.value or 0, default=None)

    @property
    def mean(self) -> float | None:
        values = self.values
        return sum(values) / len(values) if values else None

    def hours_by_category(self) -> Counter[str]:
        return Counter(s.result.category.name for s in self.samples if s.result.category)


def water_station(
    station: str,
    hourly: Mapping[str, Sequence[Point]],
    period: ReportPeriod,
    regulation: Sequence[Regulated] = QCVN_08_2023,
) -> WaterStationFigures:
    """The water section of one station from its hourly means (by parameter name)."""
    by_hour = {param: dict(series) for param, series in hourly.items()}
    samples: list[WqiSample] = []
    without = 0
    reason: str | None = None
    for end in period.hour_ends:
        values = {
            WqiParam(param): means[end]
            for param, means in by_hour.items()
            if param in WQI_PARAMS and end in means
        }
        if not values:
            continue
        result = vn_wqi(values, water_temp_c=by_hour.get("water_temp", {}).get(end))
        if result.value is None:
            without += 1
            reason = result.reason
        else:
            samples.append(WqiSample(end, result))
    exceedances = []
    for regulated in regulation:
        series = by_hour.get(regulated.param)
        if series is None:
            continue
        means = [(end, series[end]) for end in period.hour_ends if end in series]
        for limit in regulated.limits:
            exceedances.append(
                exceedance(regulated.param, regulated.label, limit, means, averaging="1 giờ")
            )
    return WaterStationFigures(
        station, tuple(samples), without, None if samples else reason, tuple(exceedances)
    )
