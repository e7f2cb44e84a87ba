"""The storage schema, declared once (DESIGN.md): every store, the API and dashboards read it.

Long format, one series per station and parameter: measurement ``reading``, tags ``station``,
``param``, ``kind``, ``district`` (and ``derived`` for computed series); fields ``value`` and
``quality``. A point is identified by (station, param, ts), so writing it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

MEASUREMENT = "reading"
TAGS = ("station", "param", "kind", "district")
DERIVED_TAG = "derived"
FIELDS = ("value", "quality")


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a store tags a station's series with."""

    kind: str
    district: str
    name: str = ""


UNKNOWN_STATION = StationInfo(kind="unknown", district="")
