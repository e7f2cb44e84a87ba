"""The HTTP API the IOC integrator and the board read: stations, latest values, time ranges.

Every route but ``/health`` and the docs wants an API key (``quantrac.auth``): reads a
``viewer``, actions (acknowledging, silencing) an ``operator``, the audit log an ``admin``;
reads are open without a key only when the site says so (``QUANTRAC_API_OPEN_READS``). Each
action is written to the audit log with who, what, when and from where.

Errors are problem+json (RFC 9457: ``type``, ``title``, ``status``, ``detail``). A store that
does not answer (``StoreUnavailable``, a refused connection, a SQLite file that cannot be
opened) is a 503 ``"detail": "store unavailable: …"`` with ``Retry-After``, never a 500;
``/health`` says which store is read and whether it answers (503 when not).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerting.incidents import IncidentManager, IncidentStore, Silence
from alerting.service import incident_document
from collector.indices import flood_alarm
from collector.schema import is_derived
from collector.store import ReadingStore, StoreUnavailable
from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ
from gateway.parameters import registry
from quantrac.api_schemas import (
    AckRequest,
    FloodPublic,
    LatestPublic,
    RangePublic,
    ReadingPublic,
    SilenceRequest,
    StationHealthPublic,
    StationPublic,
    silence_document,
)
from quantrac.auth import ANONYMOUS, ApiSecurity, AuditEntry, Principal, Role
from quantrac.health import assess

log = logging.getLogger(__name__)

# What a store that does not answer raises: ours, the network's, SQLite's (a missing, locked
# or unreadable file).
STORE_DOWN = (StoreUnavailable, OSError, sqlite3.OperationalError)
RETRY_AFTER_S = 5
PROBE_TIMEOUT_S = 3.0
# Times a store can hold: before 1970 no station measured, and InfluxDB's nanosecond
# timestamps end in 2262. Outside, a query is a 422, not an overflow deep in a store (a 500).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# Aggregation windows up to ten years: a decade's mean is the longest a report asks for.
MAX_EVERY_S = 3650 * 86400
PROBLEM_JSON = "application/problem+json"
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
    # Keys, open reads, CORS. The default is closed: no key store, so no route but /health
    # and the docs answers anything but 401.
    security: ApiSecurity = field(default_factory=ApiSecurity)


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


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]

_bearer = HTTPBearer(auto_error=False, description="an API key (quantrac keys create)")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="an API key (quantrac keys create)"
)


def problem(
    status: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem: the status's phrase as title, ``detail`` for the person."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail, **extra}  # fmt: skip
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def client_address(request: Request) -> str:
    # The peer's address. Behind a reverse proxy this is the proxy (docs/security.md).
    return request.client.host if request.client else "unknown"


async def authenticate(
    request: Request,
    context: Context,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal | None:
    """The key's principal; None when no key is given. A wrong key is a 401 and counts
    against the client's address; too many of them, a 429 until the window passes."""
    key = bearer.credentials if bearer is not None else api_key
    if key is None:
        return None
    security = context.security
    client = client_address(request)
    wait = security.limiter.retry_after(client, security.clock())
    if wait > 0:
        seconds = str(math.ceil(wait))
        raise HTTPException(
            429, f"too many failed authentications from {client}: try again in {seconds} s",
            headers={"Retry-After": seconds},
        )  # fmt: skip
    found = None
    if security.keys is not None:
        found = await asyncio.to_thread(security.keys.authenticate, key)
    if found is None:
        security.limiter.failed(client, security.clock())
        log.warning("%s %s: unknown or revoked API key from %s",
                    request.method, request.url.path, client)  # fmt: skip
        raise HTTPException(401, "unknown or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    request.state.principal = found
    return found


def require(role: Role, action: str | None = None) -> Any:
    """A dependency: a key of ``role`` or above (reads may be open: ``viewer`` without a key
    when the site says so). ``action`` names an action for the audit log."""

    async def check(
        request: Request,
        context: Context,
        found: Annotated[Principal | None, Depends(authenticate)],
    ) -> Principal:
        if action is not None:
            request.state.audit_action = action
            request.state.audit_target = ",".join(map(str, request.path_params.values()))
        if found is None:
            if role is Role.VIEWER and context.security.open_reads:
                return ANONYMOUS
            raise HTTPException(
                401, "an API key is needed: 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        assert found.role is not None
        if found.role < role:
            raise HTTPException(403, f"the {role.label} role is needed; key {found.who} is "
                                f"{found.role.label}")  # fmt: skip
        return found

    return Depends(check)


Viewer = Annotated[Principal, require(Role.VIEWER)]


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
    security = context.security
    if security.cors_origins:  # off unless the site names the origins a browser may use
        app.add_middleware(
            CORSMiddleware,
            allow_origins=security.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )

    @app.middleware("http")
    async def audit(request: Request, call_next: Callable[[Request], Any]) -> Response:
        """Writes each action a key attempted, with the status it got, to the audit log."""
        response: Response = await call_next(request)
        action = getattr(request.state, "audit_action", None)
        principal = getattr(request.state, "principal", None)
        if action is not None and principal is not None and security.keys is not None:
            target = getattr(request.state, "audit_target", "")
            entry = AuditEntry(datetime.now(UTC), principal.who, action, target,
                               client_address(request), response.status_code)  # fmt: skip
            try:
                await asyncio.to_thread(security.keys.record, entry)
            except sqlite3.Error as exc:  # the action is done: say loudly it went unrecorded
                log.error("audit: could not record %s: %s", entry, exc)
            log.info("audit: %s %s %s from %s: %d", entry.who, action, target, entry.client,
                     entry.status)  # fmt: skip
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
        detail = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors
        )
        return problem(422, detail, errors=errors)

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.OperationalError)
    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        level = logging.DEBUG if failing else logging.WARNING
        failing[:] = [str(exc)]
        log.log(level, "%s %s: store unavailable: %s", request.method, request.url.path, exc)
        return problem(
            503, f"store unavailable: {exc}", headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.get("/")
    def index(context: Context, _: Viewer) -> dict[str, Any]:
        return {
            "site": context.site_name,
            "stations": sorted(set(context.stations) | set(context.store.stations())),
            "endpoints": [
                "/stations",
                "/stations/{id}/latest",
                "/stations/{id}/readings?param=&from=&to=",
                "/stations/{id}/health",
                "/incidents",
                "/silences",
                "/audit",
                "/health",
                "/docs",
            ],
        }

    @app.get("/incidents")
    async def incidents(context: Context, _: Viewer) -> list[dict[str, Any]]:
        """Open incidents, newest change first, as published on quantrac/v1/incidents/."""
        store = _incidents(context)
        found = await asyncio.to_thread(store.open_incidents)
        found.sort(key=lambda i: i.updated_at, reverse=True)
        return [json.loads(incident_document(i, i.state.value)) for i in found]

    @app.post("/incidents/{incident_id}/ack")
    async def acknowledge(
        incident_id: str,
        ack: AckRequest,
        context: Context,
        who: Annotated[Principal, require(Role.OPERATOR, "incident.ack")],
    ) -> dict[str, Any]:
        """Acknowledge an open incident (``operator``): its reminders stop until its level
        changes. The running alerting service takes it from the incidents file within a
        second."""
        store = _incidents(context)
        manager = await asyncio.to_thread(IncidentManager, store)
        try:
            acked = manager.acknowledge(
                incident_id, ack.by or who.name, ack.note, datetime.now(UTC)
            )
        except KeyError:
            raise HTTPException(404, f"no open incident {incident_id!r}") from None
        body: dict[str, Any] = json.loads(incident_document(acked, "acknowledged"))
        return body

    @app.get("/silences")
    async def silences(context: Context, _: Viewer) -> list[dict[str, Any]]:
        """Silences in force, by id (``receivers`` null: every receiver)."""
        store = _incidents(context)
        found = await asyncio.to_thread(store.silences, datetime.now(UTC))
        return [silence_document(s) for s in found]

    @app.post("/silences", status_code=201)
    async def add_silence(
        request: SilenceRequest,
        context: Context,
        http: Request,
        who: Annotated[Principal, require(Role.OPERATOR, "silence.create")],
    ) -> dict[str, Any]:
        """Hold the notifications of matching incidents to the receivers named, for ``hours``
        (``operator``); when it ends, those receivers are told the incidents' current state."""
        store = _incidents(context)
        if request.station is None and request.rule is None and request.district is None:
            raise HTTPException(422, "give station, rule or district: silencing everything "
                                "is refused")  # fmt: skip
        if not request.receivers and not request.all:
            raise HTTPException(422, 'give receivers (e.g. ["ky_thuat"]) or all: true')
        now = datetime.now(UTC)
        silence = Silence(
            0, now, now + timedelta(hours=request.hours), request.by or who.name, request.comment,
            request.station, request.rule, request.district, request.maintenance,
            None if request.all else tuple(dict.fromkeys(request.receivers)),
        )  # fmt: skip
        made = await asyncio.to_thread(store.add_silence, silence)
        scope = {"station": request.station, "rule": request.rule, "district": request.district}
        http.state.audit_target = f"{made.id} " + " ".join(
            f"{key}={value}" for key, value in scope.items() if value is not None
        )
        return silence_document(made)

    @app.delete("/silences/{silence_id}")
    async def expire_silence(
        silence_id: int,
        context: Context,
        _: Annotated[Principal, require(Role.OPERATOR, "silence.expire")],
    ) -> dict[str, Any]:
        """End a silence now (``operator``; it is kept, ended); the running alerting service
        tells its receivers the current state within a second or two."""
        store = _incidents(context)
        try:
            ended = await asyncio.to_thread(store.expire_silence, silence_id, datetime.now(UTC))
        except KeyError:
            raise HTTPException(404, f"no silence {silence_id}") from None
        return silence_document(ended)

    @app.get("/audit")
    async def audit_log(
        context: Context,
        _: Annotated[Principal, require(Role.ADMIN)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """The audit log of actions (``admin``), newest first: who (key name and id), what,
        on what, when, from which address, and the status answered."""
        if context.security.keys is None:
            return []
        entries = await asyncio.to_thread(context.security.keys.audit, limit)
        return [
            {"at": e.at.isoformat(), "who": e.who, "action": e.action, "target": e.target,
             "client": e.client, "status": e.status}
            for e in entries
        ]  # fmt: skip

    # Open: monitoring scrapes it without a key; it holds no readings, and store URLs in it
    # are without credentials (docs/security.md).
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
    def stations(context: Context, _: Viewer) -> list[StationPublic]:
        ids = sorted(set(context.stations) | set(context.store.stations()))
        return [_station_public(context, station_id) for station_id in ids]

    @app.get("/stations/{station_id}/latest")
    async def latest(station_id: str, context: Context, _: Viewer) -> LatestPublic:
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
    async def station_health(station_id: str, context: Context, _: Viewer) -> StationHealthPublic:
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
        _: Viewer,
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
            Query(
                ge=1,
                le=MAX_EVERY_S,
                description="window in seconds: the mean of the not-bad values of each",
            ),
        ] = None,
    ) -> RangePublic:
        await asyncio.to_thread(_station_public, context, station_id)
        if param not in registry() and not is_derived(param):
            raise HTTPException(
                422, f"{param!r} is neither a canonical parameter nor a derived series"
            )
        end = _utc(end, "to") if end else datetime.now(UTC)
        start = _utc(start, "from") if start else end - timedelta(hours=24)
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


def _utc(ts: datetime, name: str) -> datetime:
    """In UTC, and within the times a store holds (EARLIEST…LATEST), else a 422."""
    try:
        # A time without zone in a query is Vietnam local time (UTC+7, no DST), as officers
        # type it.
        utc = ts.replace(tzinfo=VIETNAM_TZ) if ts.tzinfo is None else ts
        utc = utc.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST - timedelta(days=1) if ts.year < 2000 else LATEST + timedelta(days=1)
    if not EARLIEST <= utc <= LATEST:
        raise HTTPException(
            422, f"{name!r} {ts.isoformat()} is out of range: give a time between "
            f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}",
        )  # fmt: skip
    return utc
