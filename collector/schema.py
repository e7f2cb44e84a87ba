"""The storage schema, declared once (DESIGN.md): every store, the API and dashboards read it.

Long format, one series per station and parameter: measurement ``reading``, tags ``station``,
``param``, ``kind``, ``district``, ``unit`` (and ``derived`` for computed series); fields
``value``, ``quality``, ``status`` and ``reason``. A point is identified by (station, param,
ts), so writing it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

MEASUREMENT = "reading"
# unit is constant per series (no cardinality): it lets a reading come back whole from
# InfluxDB and VictoriaMetrics, which keep no side table of series.
TAGS = ("station", "param", "kind", "district", "unit")
DERIVED_TAG = "derived"
FIELDS = ("value", "quality", "status", "reason")  # reason: omitted when empty

MEAN_SUFFIX = "_h"  # hourly means: pm25_h is the mean of pm25 over the hour ending at its ts


class _DerivedParams(frozenset[str]):
    """The named derived series, plus every hourly mean (``<param>_h``)."""

    def __contains__(self, param: object) -> bool:
        return frozenset.__contains__(self, param) or (
            isinstance(param, str) and param.endswith(MEAN_SUFFIX)
        )


DERIVED_PARAMS: frozenset[str] = _DerivedParams(
    {
        "vn_aqi_h",
        "vn_aqi_d",
        "vn_wqi",
        "rain_1h",
        "rain_3h",
        "rain_6h",
        "rain_12h",
        "rain_24h",
        "flood_level",
    }
)
"""Series computed by the collector (DESIGN.md): the stores tag them ``derived=true``."""


def is_derived(param: str) -> bool:
    return param in DERIVED_PARAMS
@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a store tags a station's series with."""

    kind: str
    district: str
    name: str = ""


UNKNOWN_STATION = StationInfo(kind="unknown", district="")
