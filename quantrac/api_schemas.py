"""The HTTP API's request and response schemas: what integrators send and get (docs/api.md)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from alerting.incidents import Incident, Silence
from alerting.model import Signal
from alerting.templates import render
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


class LocationPublic(BaseModel):
    lat: float
    lon: float


class StationPublic(BaseModel):
    id: str
    name: str
    kind: str
    district: str
    river: str | None = None
    basin: str | None = None
    location: LocationPublic | None = None
    flood_levels: dict[str, float] | None = None


class StatePublic(BaseModel):
    """The station at a glance, as the board colours it (docs/board.md, "Colours")."""

    colour: str = Field(description="#RRGGBB: flood level, VN_AQI or VN_WQI colour, grey offline")
    index: str = Field(description="what the colour is of: Mực nước, VN_AQI, VN_WQI, …")
    value: float | None
    text: str = Field(description="the value as officers say it: '2,25 m', '133'")
    label: str = Field(description="its meaning: 'BĐ II', 'Kém', 'mưa to', 'mất kết nối'")
    level: int = Field(description="0 normal … 5 worst on its scale; -1 offline or no data")
    online: bool | None
    as_of: datetime | None
    instantaneous: bool = Field(
        description="computed from the latest values, not the collector's hourly series"
    )


class LatestPublic(BaseModel):
    station: StationPublic
    readings: list[ReadingPublic]
    flood: FloodPublic | None = None
    state: StatePublic | None = None


class LatestAllPublic(BaseModel):
    """Every station's newest readings and state in one answer: the board's first paint."""

    site: str
    as_of: datetime
    incidents: bool = Field(
        description="whether this API has the alerting service's incidents (GET /incidents)"
    )
    stations: list[LatestPublic]


class SiteIndexPublic(BaseModel):
    site: str
    stations: list[str]
    endpoints: list[str]


class WhoAmIPublic(BaseModel):
    name: str
    role: Literal["viewer", "operator", "admin"] | None = Field(
        description="null: no key, reads open on this network"
    )
    can_act: bool = Field(description="may acknowledge incidents and add silences")
    reads_open: bool = Field(description="whether this API answers reads without a key")


class IncidentPublic(BaseModel):
    """An open incident, as published on quantrac/v1/incidents/{station} (docs/alerting.md),
    with its acknowledgement."""

    v: int = 1
    id: str
    change: str
    rule: str
    station: str
    kind: str
    state: str
    level: int
    severity: str
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None = None
    ack_note: str = ""
    message: str = Field(
        default="", description="the warning in Vietnamese, as the committee's phones get it"
    )
    facts: dict[str, Any]

    @classmethod
    def of(cls, incident: Incident, change: str) -> IncidentPublic:
        return cls(
            id=incident.id,
            change=change,
            rule=incident.rule,
            station=incident.station,
            kind=incident.kind.value,
            state=incident.state.value,
            level=incident.level,
            severity=incident.severity.name.lower(),
            started_at=incident.started_at,
            updated_at=incident.updated_at,
            resolved_at=incident.resolved_at,
            acked_by=incident.acked_by,
            acked_at=incident.acked_at,
            ack_note=incident.ack_note,
            message=_message(incident),
            facts={str(k): _plain(v) for k, v in incident.facts.items()},
        )


def _message(incident: Incident) -> str:
    """The incident's current warning text, from its facts (alerting.templates)."""
    facts = incident.facts
    value = facts.get("value")
    signal = Signal(incident.rule, incident.station, incident.kind, incident.level,
                    incident.severity, incident.updated_at, str(facts.get("param", "")),
                    value if isinstance(value, int | float) else None, facts)  # fmt: skip
    try:
        return render(signal).text
    except (KeyError, TypeError, ValueError):  # facts of an older version: the label will do
        return str(facts.get("label", ""))


def _plain(value: Any) -> Any:
    """Facts as JSON has them: what is not a JSON value is its text (as on the topic)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


class SilencePublic(BaseModel):
    id: int
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    station: str | None
    rule: str | None
    district: str | None
    maintenance: bool
    receivers: list[str] | None = Field(description="null: every receiver")


class AuditEntryPublic(BaseModel):
    at: datetime
    who: str
    action: str
    target: str
    client: str
    status: int


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
    truncated: bool = Field(
        default=False, description="more readings lie in the range than this page holds"
    )
    next: str | None = Field(
        default=None, description="the URL of the next page (also a Link: rel=next header)"
    )
