"""The HTTP API the IOC integrator and the board read: stations, latest values, time ranges.

A store that does not answer (``StoreUnavailable``, a refused connection, a SQLite file that
cannot be opened) is a JSON 503 ``{"detail": "store unavailable: …"}`` with ``Retry-After``,
never a 500; ``/health`` says which store is read and whether it answers (503 when not).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from alerting.incidents import IncidentManager, IncidentStore, Silence
from alerting.service import incident_document
from collector.indices import flood_alarm
from collector.schema import is_derived
from collector.store import ReadingStore, StoreUnavailable
from gateway.config import StationConfig
from gateway.model import Reading
from gateway.parameters import registry
from quantrac.health import assess

log = logging.getLogger(__name__)

# What a store that does not answer raises: ours, the network's, SQLite's (a missing, locked
# or unreadable file).
STORE_DOWN = (StoreUnavailable, OSError, sqlite3.OperationalError)
RETRY_AFTER_S = 5
PROBE_TIMEOUT_S = 3.0
STORE_TYPES = {
    "SqliteStore": "sqlite",
    "InfluxStore": "influxdb",
    "VictoriaStore": "victoriametrics",
    "ForwardingStore": "forwarding",
}


@dataclass
class ApiContext:
    store: ReadingStore
    stations: dict[str, StationConfig] = field(default_factory=dict)
    site_name: str = ""
    # In one process (the demo) the gateway's and collector's live counters; apart, None.
    health: Callable[[], dict[str, Any]] | None = None
    station_health: Callable[[str], dict[str, Any] | None] | None = None
    # The alerting service's incidents file, read and acknowledged through the API.
    incidents: IncidentStore | None = None
    probe_timeout_s: float = PROBE_TIMEOUT_S


class StoreProbe:
    """Whether the store answers: a cheap query (its station list) in a worker thread with a
    timeout, one at a time — a store that hangs holds one thread, not one per request."""

    def __init__(self, store: ReadingStore, timeout_s: float) -> None:
        self.store = store
        self.timeout_s = timeout_s
        self._running: asyncio.Task[float] | None = None
        self._was_down = False
        self._last_error = ""  # of a probe that ended after its request stopped waiting

    def describe(self) -> dict[str, Any]:
        """Type and location; remote stores keep credentials out of ``url`` (LineStore)."""
        kind = type(self.store).__name__
        url = getattr(self.store, "url", None) or str(getattr(self.store, "path", ""))
        return {"type": STORE_TYPES.get(kind, kind), "url": url}

    def _query(self) -> float:
        started = time.monotonic()
        self.store.stations()
        return time.monotonic() - started

    async def check(self) -> dict[str, Any]:
        body = self.describe()
        if self._running is None or self._running.done():
            task = self._running = asyncio.ensure_future(asyncio.to_thread(self._query))
            task.add_done_callback(self._remember)
        try:
            elapsed = await asyncio.wait_for(asyncio.shield(self._running), self.timeout_s)
        except TimeoutError:
            # A store's client retries a refused connection for a while: its own error, when
            # a probe ended late, says more than the timeout.
            problem = f"no answer within {self.timeout_s:g} s"
            if self._last_error:
                problem += f" (last error: {self._last_error})"
        except Exception as exc:
            problem = str(exc) or type(exc).__name__
        else:
            if self._was_down:
                log.info("store %s answers again", body["url"])
            self._was_down = False
            return {**body, "answers": True, "latency_ms": round(elapsed * 1000, 1)}
        level = logging.DEBUG if self._was_down else logging.WARNING
        log.log(level, "store %s does not answer: %s", body["url"], problem)
        self._was_down = True
        return {**body, "answers": False, "down": f"store unavailable: {problem}"}

    def _remember(self, task: asyncio.Task[float]) -> None:
        if not task.cancelled():
            error = task.exception()
            self._last_error = "" if error is None else str(error) or type(error).__name__


class AckRequest(BaseModel):
    by: str
    note: str = ""


class SilenceRequest(BaseModel):
    """A silence: what it matches (one of station, rule, district at least) and the receivers
    it mutes (``receivers``, or ``all: true`` for everyone, the committee included)."""

    by: str
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


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def _station_public(context: ApiContext, station_id: str) -> StationPublic:
    config = context.stations.get(station_id)
    if config is None:
        if station_id not in context.store.stations():
            raise HTTPException(404, f"unknown station {station_id!r}")
        return StationPublic(id=station_id, name=station_id, kind="unknown", district="")
    return StationPublic(
        id=config.id,
        name=config.name,
        kind=config.kind,
        district=config.district,
        river=config.river,
        flood_levels=config.flood_levels.model_dump() if config.flood_levels else None,
    )


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="quantrac API",
        summary="Readings, quality flags and derived indices of the province's stations.",
    )
    app.state.context = context
    probe = StoreProbe(context.store, context.probe_timeout_s)
    failing: list[str] = []  # the first failure of a store is logged at WARNING, then DEBUG

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.OperationalError)
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        level = logging.DEBUG if failing else logging.WARNING
        failing[:] = [str(exc)]
        log.log(level, "%s %s: store unavailable: %s", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": f"store unavailable: {exc}"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.get("/")
    def index(context: Context) -> dict[str, Any]:
        return {
            "site": context.site_name,
            "stations": sorted(set(context.stations) | set(context.store.stations())),
            "endpoints": [
                "/stations",
                "/stations/{id}/latest",
                "/stations/{id}/readings?param=&from=&to=",
                "/stations/{id}/health",
                "/health",
                "/docs",
            ],
        }

    @app.get("/incidents")
    async def incidents(context: Context) -> list[dict[str, Any]]:
        """Open incidents, newest change first, as published on quantrac/v1/incidents/."""
        store = _incidents(context)
        found = await asyncio.to_thread(store.open_incidents)
        found.sort(key=lambda i: i.updated_at, reverse=True)
        return [json.loads(incident_document(i, i.state.value)) for i in found]

    @app.post("/incidents/{incident_id}/ack")
    async def acknowledge(incident_id: str, ack: AckRequest, context: Context) -> dict[str, Any]:
        """Acknowledge an open incident: its reminders stop until its level changes. The
        running alerting service takes it from the incidents file within a second."""
        store = _incidents(context)
        manager = await asyncio.to_thread(IncidentManager, store)
        try:
            acked = manager.acknowledge(incident_id, ack.by, ack.note, datetime.now(UTC))
        except KeyError:
            raise HTTPException(404, f"no open incident {incident_id!r}") from None
        body: dict[str, Any] = json.loads(incident_document(acked, "acknowledged"))
        return body

    @app.get("/silences")
    async def silences(context: Context) -> list[dict[str, Any]]:
        """Silences in force, by id (``receivers`` null: every receiver)."""
        store = _incidents(context)
        found = await asyncio.to_thread(store.silences, datetime.now(UTC))
        return [silence_document(s) for s in found]

    @app.post("/silences", status_code=201)
    async def add_silence(request: SilenceRequest, context: Context) -> dict[str, Any]:
        """Hold the notifications of matching incidents to the receivers named, for ``hours``;
        when it ends, those receivers are told the incidents' current state."""
        store = _incidents(context)
        if request.station is None and request.rule is None and request.district is None:
            raise HTTPException(422, "give station, rule or district: silencing everything "
                                "is refused")  # fmt: skip
        if not request.receivers and not request.all:
            raise HTTPException(422, 'give receivers (e.g. ["ky_thuat"]) or all: true')
        now = datetime.now(UTC)
        silence = Silence(
            0, now, now + timedelta(hours=request.hours), request.by, request.comment,
            request.station, request.rule, request.district, request.maintenance,
            None if request.all else tuple(dict.fromkeys(request.receivers)),
        )  # fmt: skip
        return silence_document(await asyncio.to_thread(store.add_silence, silence))

    @app.delete("/silences/{silence_id}")
    async def expire_silence(silence_id: int, context: Context) -> dict[str, Any]:
        """End a silence now (it is kept, ended); the running alerting service tells its
        receivers the current state within a second or two."""
        store = _incidents(context)
        try:
            ended = await asyncio.to_thread(store.expire_silence, silence_id, datetime.now(UTC))
        except KeyError:
            raise HTTPException(404, f"no silence {silence_id}") from None
        return silence_document(ended)

    @app.get("/health", responses={503: {"description": "the store does not answer"}})
    async def health(context: Context) -> JSONResponse:
        """The store read (type, URL, answers or not), and in one process (the demo) the
        services' counters; 503 when the store does not answer, status degraded when a
        service reports it (docs/operations.md)."""
        body: dict[str, Any] = {"status": "ok", "reasons": [], "store": await probe.check()}
        if context.health is not None:
            body.update(await asyncio.to_thread(context.health))
        assessment = assess(body)
        body["status"], body["reasons"] = assessment.status, list(assessment.reasons)
        return JSONResponse(_finite(jsonable_encoder(body)), status_code=assessment.http_status)

    @app.get("/stations")
    def stations(context: Context) -> list[StationPublic]:
        ids = sorted(set(context.stations) | set(context.store.stations()))
        return [_station_public(context, station_id) for station_id in ids]

    @app.get("/stations/{station_id}/latest")
    async def latest(station_id: str, context: Context) -> LatestPublic:
        station = await asyncio.to_thread(_station_public, context, station_id)
        readings = await asyncio.to_thread(context.store.latest, station_id)
        flood = None
        config = context.stations.get(station_id)
        level = next((r for r in readings if r.param == "water_level"), None)
        if config is not None and config.flood_levels is not None and level is not None:
            alarm = flood_alarm(level.value, config.flood_levels.as_tuple())
            if alarm is not None:
                flood = FloodPublic(
                    level=alarm.level,
                    label=alarm.label,
                    margin_m=round(alarm.margin_m, 3),
                    **config.flood_levels.model_dump(),
                )
        return LatestPublic(
            station=station, readings=[ReadingPublic.of(r) for r in readings], flood=flood
        )

    @app.get("/stations/{station_id}/health")
    async def station_health(station_id: str, context: Context) -> StationHealthPublic:
        """Online or not, from the gateway's ``station_online`` readings in the store; with
        the gateway's own counters (failures, last error, missed runs) when it runs here."""
        await asyncio.to_thread(_station_public, context, station_id)
        latest = await asyncio.to_thread(context.store.latest, station_id)
        online = next((r for r in latest if r.param == "station_online"), None)
        gateway = context.station_health(station_id) if context.station_health else None
        return StationHealthPublic(
            station=station_id,
            online=None if online is None else online.value >= 0.5,
            as_of=None if online is None else online.ts,
            gateway=gateway,
        )

    @app.get("/stations/{station_id}/readings")
    async def readings(
        station_id: str,
        context: Context,
        param: Annotated[str, Query(description="canonical parameter, e.g. water_level")],
        start: Annotated[
            datetime | None, Query(alias="from", description="ISO 8601; default: to − 24 h")
        ] = None,
        end: Annotated[
            datetime | None, Query(alias="to", description="ISO 8601; default: now")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
        every: Annotated[
            int | None,
            Query(ge=1, description="window in seconds: the mean of the not-bad values of each"),
        ] = None,
    ) -> RangePublic:
        await asyncio.to_thread(_station_public, context, station_id)
        if param not in registry() and not is_derived(param):
            raise HTTPException(
                422, f"{param!r} is neither a canonical parameter nor a derived series"
            )
        end = _utc(end) if end else datetime.now(UTC)
        start = _utc(start) if start else end - timedelta(hours=24)
        if start >= end:
            raise HTTPException(422, "'from' must be before 'to'")
        window = timedelta(seconds=every) if every else None
        found = await asyncio.to_thread(
            context.store.range, station_id, param, start, end, limit=limit, every=window
        )
        return RangePublic(
            station=station_id,
            param=param,
            start=start,
            end=end,
            readings=[ReadingPublic.of(r) for r in found],
        )

    return app


def _incidents(context: ApiContext) -> IncidentStore:
    if context.incidents is None:
        raise HTTPException(404, "no incidents here: the API was started without alerting data")
    return context.incidents


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a counter is null."""
    if isinstance(value, dict):
        return {str(key): _finite(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(inner) for inner in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _utc(ts: datetime) -> datetime:
    # A time without zone in a query is Vietnam local time (UTC+7, no DST), as officers type it.
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC) - timedelta(hours=7)
    return ts.astimezone(UTC)
