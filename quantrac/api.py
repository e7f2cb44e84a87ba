"""The HTTP API the IOC integrator and the board read: stations, latest values, time ranges.

Every route but ``/health`` and the docs wants an API key (``quantrac.auth``): reads a
``viewer``, actions (acknowledging, silencing) an ``operator``, the audit log an ``admin``;
reads are open without a key only when the site says so (``QUANTRAC_API_OPEN_READS``). Each
action is written to the audit log with who, what, when and from where.

Errors are problem+json (RFC 9457: ``type``, ``title``, ``status``, ``detail``). A store that
does not answer (``StoreUnavailable``, a refused connection, a SQLite file that cannot be
opened) is a 503 ``"detail": "store unavailable: …"`` with ``Retry-After``, never a 500;
``/health`` says which store is read and whether it answers (503 when not).

The routes live by idea: the board and what it reads (``api_board``), time ranges and
exports (``api_series``), NGSI-LD (``ngsi``); incidents, silences, audit and health here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from alerting.incidents import IncidentManager, Silence
from collector.store import StoreUnavailable
from quantrac import api_admin, api_openapi, api_reports, api_series, ngsi
from quantrac.api_board import mount_board, open_incidents
from quantrac.api_common import (
    PROBLEM_JSON,
    RETRY_AFTER_S,
    ApiContext,
    Context,
    StoreProbe,
    Viewer,
    client_address,
    finite,
    incidents_of,
    problem,
    require,
    station_ids,
    station_public,
)
from quantrac.api_schemas import (
    AckRequest,
    AuditEntryPublic,
    IncidentPublic,
    SilencePublic,
    SilenceRequest,
    StationHealthPublic,
    StationPublic,
    silence_document,
)
from quantrac.auth import AuditEntry, Principal, Role
from quantrac.health import assess

__all__ = ["ApiContext", "create_app"]

log = logging.getLogger(__name__)


class HealthPublic(BaseModel):
    """``status`` ok, degraded or down, its ``reasons``, the ``store`` read; in one process
    (the demo) also the services' counters (docs/operations.md)."""

    model_config = ConfigDict(extra="allow")

    status: str
    reasons: list[str]
    store: dict[str, Any]


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="quantrac API",
        summary="Readings, quality flags and derived indices of the province's stations.",
        # The OpenAPI pages load their scripts from this API, never a CDN (api_board).
        docs_url=None,
        redoc_url=None,
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
        kind = getattr(exc, "kind", "about:blank")  # NGSI-LD's error types (ngsi.NgsiError)
        return problem(exc.status_code, str(exc.detail), headers=exc.headers, type=kind)

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

    missing: dict[int | str, dict[str, Any]] = {
        404: {"description": "not found", "content": {PROBLEM_JSON: {}}}
    }

    @app.get("/incidents", responses=missing)
    async def incidents(context: Context, _: Viewer) -> list[IncidentPublic]:
        """Open incidents, newest change first, as published on quantrac/v1/incidents/."""
        return await open_incidents(context)

    @app.post("/incidents/{incident_id}/ack", responses=missing)
    async def acknowledge(
        incident_id: str,
        ack: AckRequest,
        context: Context,
        who: Annotated[Principal, require(Role.OPERATOR, "incident.ack")],
    ) -> IncidentPublic:
        """Acknowledge an open incident (``operator``): its reminders stop until its level
        changes. The running alerting service takes it from the incidents file within a
        second."""
        store = incidents_of(context)
        manager = await asyncio.to_thread(IncidentManager, store)
        try:
            acked = manager.acknowledge(
                incident_id, ack.by or who.name, ack.note, datetime.now(UTC)
            )
        except KeyError:
            raise HTTPException(404, f"no open incident {incident_id!r}") from None
        return IncidentPublic.of(acked, "acknowledged")

    @app.get("/silences", responses=missing)
    async def silences(context: Context, _: Viewer) -> list[SilencePublic]:
        """Silences in force, by id (``receivers`` null: every receiver)."""
        store = incidents_of(context)
        found = await asyncio.to_thread(store.silences, datetime.now(UTC))
        return [SilencePublic.model_validate(silence_document(s)) for s in found]

    @app.post("/silences", status_code=201, responses=missing)
    async def add_silence(
        request: SilenceRequest,
        context: Context,
        http: Request,
        who: Annotated[Principal, require(Role.OPERATOR, "silence.create")],
    ) -> SilencePublic:
        """Hold the notifications of matching incidents to the receivers named, for ``hours``
        (``operator``); when it ends, those receivers are told the incidents' current state."""
        store = incidents_of(context)
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
        return SilencePublic.model_validate(silence_document(made))

    @app.delete("/silences/{silence_id}", responses=missing)
    async def expire_silence(
        # SQLite's integers are 64-bit: a larger id is no silence, not an overflow (a 500).
        silence_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        context: Context,
        _: Annotated[Principal, require(Role.OPERATOR, "silence.expire")],
    ) -> SilencePublic:
        """End a silence now (``operator``; it is kept, ended); the running alerting service
        tells its receivers the current state within a second or two."""
        store = incidents_of(context)
        try:
            ended = await asyncio.to_thread(store.expire_silence, silence_id, datetime.now(UTC))
        except KeyError:
            raise HTTPException(404, f"no silence {silence_id}") from None
        return SilencePublic.model_validate(silence_document(ended))

    @app.get("/audit")
    async def audit_log(
        context: Context,
        _: Annotated[Principal, require(Role.ADMIN)],
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[AuditEntryPublic]:
        """The audit log of actions (``admin``), newest first: who (key name and id), what,
        on what, when, from which address, and the status answered."""
        if context.security.keys is None:
            return []
        entries = await asyncio.to_thread(context.security.keys.audit, limit)
        return [
            AuditEntryPublic(at=e.at, who=e.who, action=e.action, target=e.target,
                             client=e.client, status=e.status)
            for e in entries
        ]  # fmt: skip

    # Open: monitoring scrapes it without a key; it holds no readings, and store URLs in it
    # are without credentials (docs/security.md).
    @app.get(
        "/health",
        response_model=HealthPublic,
        responses={503: {"description": "the store does not answer", "model": HealthPublic}},
    )
    async def health(context: Context) -> JSONResponse:
        """The store read (type, URL, answers or not), and in one process (the demo) the
        services' counters; 503 when the store does not answer, status degraded when a
        service reports it (docs/operations.md)."""
        body: dict[str, Any] = {"status": "ok", "reasons": [], "store": await probe.check()}
        if context.health is not None:
            body.update(await asyncio.to_thread(context.health))
        assessment = assess(body)
        body["status"], body["reasons"] = assessment.status, list(assessment.reasons)
        return JSONResponse(finite(jsonable_encoder(body)), status_code=assessment.http_status)

    @app.get("/stations")
    def stations(context: Context, _: Viewer) -> list[StationPublic]:
        """Every configured or stored station: id, name, kind, district, river, location,
        flood levels."""
        return [station_public(context, station_id) for station_id in station_ids(context)]

    @app.get("/stations/{station_id}/health", responses=missing)
    async def station_health(station_id: str, context: Context, _: Viewer) -> StationHealthPublic:
        """Online or not, from the gateway's ``station_online`` readings in the store; with
        the gateway's own counters (failures, last error, missed runs) when it runs here."""
        await asyncio.to_thread(station_public, context, station_id)
        latest = await asyncio.to_thread(context.store.latest, station_id)
        online = next((r for r in latest if r.param == "station_online"), None)
        gateway = context.station_health(station_id) if context.station_health else None
        return StationHealthPublic(
            station=station_id,
            online=None if online is None else online.value >= 0.5,
            as_of=None if online is None else online.ts,
            gateway=gateway,
        )

    app.include_router(api_series.router)
    app.include_router(ngsi.router)
    app.include_router(api_admin.router)  # POST /admin/reload (issue 17)
    app.include_router(api_reports.router)  # GET /reports, /reports/{kind}/{name} (issue 18)
    mount_board(app, context)
    api_openapi.install(app)
    return app


