"""The HTTP API's request and response schemas: what integrators send and get (docs/api.md)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from alerting.incidents import Silence
from gateway.model import Reading


class AckRequest(BaseModel):
    by: str | None = None  # the person; default: the name of the key used
    note: str = ""


class SilenceRequest(BaseModel):
    """A silence: what it matches (one of station, rule, district at least) and the receivers
    it mutes (``receivers``, or ``all: true`` for everyone, the committee included)."""

    by: str | None = None  # the person; default: the name of the key used
    comment: str
    hours: float = Field(default=2.0, gt=0, le=24 * 30)
    station: str | None = None
    rule: str | None = None
    district: str | None = None
    receivers: list[str] = Field(default_factory=list)
    all: bool = False
    maintenance: bool = False


def silence_document(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "station": silence.station,
        "rule": silence.rule,
        "district": silence.district,
        "maintenance": silence.maintenance,
        "receivers": None if silence.receivers is None else list(silence.receivers),
    }


class ReadingPublic(BaseModel):
    param: str
    value: float | None
    unit: str
    ts: datetime
    status: str
    quality: str
    reason: str

    @classmethod
    def of(cls, reading: Reading) -> ReadingPublic:
        return cls(
            param=reading.param,
            value=reading.value if math.isfinite(reading.value) else None,
            unit=reading.unit,
            ts=reading.ts,
            status=reading.status.name.lower(),
            quality=reading.quality.name.lower(),
            reason=reading.reason,
        )


class FloodPublic(BaseModel):
    level: int
    label: str
    margin_m: float
    bd1: float
    bd2: float
    bd3: float


class StationPublic(BaseModel):
    id: str
    name: str
    kind: str
    district: str
    river: str | None = None
    flood_levels: dict[str, float] | None = None


class LatestPublic(BaseModel):
    station: StationPublic
    readings: list[ReadingPublic]
    flood: FloodPublic | None = None


class StationHealthPublic(BaseModel):
    station: str
    online: bool | None  # None: nothing heard from the gateway about it yet
    as_of: datetime | None
    gateway: dict[str, Any] | None = None  # the poller's counters, when the API runs beside it


class RangePublic(BaseModel):
    station: str
    param: str
    start: datetime
    end: datetime
    readings: list[ReadingPublic]
