"""The storage schema, declared once (docs/storage.md): every store, the API and dashboards
read it.

Long format, one series per station and parameter: measurement ``reading``, tags ``station``,
``param``, ``kind``, ``district``, ``unit`` (and ``derived`` for computed series); fields
``value``, ``quality``, ``status`` and ``reason``. A point is identified by (station, param,
ts), so writing it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.wire import DERIVED_PARAMS as NAMED_DERIVED_PARAMS
from gateway.wire import MEAN_SUFFIX as MEAN_SUFFIX  # pm25_h: the mean over the hour ending at ts

MEASUREMENT = "reading"
# unit is constant per series (no cardinality): it lets a reading come back whole from
# InfluxDB and VictoriaMetrics, which keep no side table of series.
TAGS = ("station", "param", "kind", "district", "unit")
DERIVED_TAG = "derived"
FIELDS = ("value", "quality", "status", "reason")  # reason: omitted when empty


class _DerivedParams(frozenset[str]):
    """The named derived series, plus every hourly mean (``<param>_h``)."""

    def __contains__(self, param: object) -> bool:
        return frozenset.__contains__(self, param) or (
            isinstance(param, str) and param.endswith(MEAN_SUFFIX)
        )


# The names belong to the wire contract (gateway.wire): the clean stream carries them too.
DERIVED_PARAMS: frozenset[str] = _DerivedParams(NAMED_DERIVED_PARAMS)
"""Series computed by the collector (docs/indices.md): the stores tag them ``derived=true``."""


def is_derived(param: str) -> bool:
    return param in DERIVED_PARAMS


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a store tags a station's series with."""

    kind: str
    district: str
    name: str = ""


UNKNOWN_STATION = StationInfo(kind="unknown", district="")
