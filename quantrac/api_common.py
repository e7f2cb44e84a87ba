"""What every route of the HTTP API shares: its context, the store probe, keys and roles,
problem+json errors, and the times a query may name (docs/api.md)."""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from alerting.incidents import IncidentStore
from collector.store import ReadingStore, StoreUnavailable
from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ
from quantrac.api_schemas import LocationPublic, StationPublic
from quantrac.auth import ANONYMOUS, ApiSecurity, Principal, Role

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
    # The province's outline (GeoJSON), drawn under the board's map: the site's
    # province.geojson (docs/board.md).
    outline: dict[str, Any] | None = None
    # How often the board's live stream looks for new readings and incident changes.
    live_poll_s: float = 2.0
    # A station with nothing newer is offline on the board (grey).
    stale_after: timedelta = timedelta(hours=1)


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
        return allowed(context, found, role)

    return Depends(check)


def allowed(context: ApiContext, found: Principal | None, role: Role) -> Principal:
    """``found`` if it may act as ``role``: 401 without a key (unless reads are open and
    ``role`` is viewer), 403 for a key of a lower role."""
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


Authenticated = Annotated[Principal | None, Depends(authenticate)]


Viewer = Annotated[Principal, require(Role.VIEWER)]




def station_public(context: ApiContext, station_id: str) -> StationPublic:
    """The station's public description; a station only in the store has its id as name.
    Unknown: a 404."""
    config = context.stations.get(station_id)
    if config is None:
        if station_id not in context.store.stations():
            raise HTTPException(404, f"unknown station {station_id!r}")
        return StationPublic(id=station_id, name=station_id, kind="unknown", district="")
    return station_of(config)


def station_of(config: StationConfig) -> StationPublic:
    location = config.location
    return StationPublic(
        id=config.id,
        name=config.name,
        kind=config.kind,
        district=config.district,
        river=config.river,
        basin=config.basin,
        location=LocationPublic(lat=location.lat, lon=location.lon) if location else None,
        flood_levels=config.flood_levels.model_dump() if config.flood_levels else None,
    )


def station_ids(context: ApiContext) -> list[str]:
    """Configured and stored stations, sorted."""
    return sorted(set(context.stations) | set(context.store.stations()))


def incidents_of(context: ApiContext) -> IncidentStore:
    if context.incidents is None:
        raise HTTPException(404, "no incidents here: the API was started without alerting data")
    return context.incidents


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a counter is null."""
    if isinstance(value, dict):
        return {str(key): finite(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [finite(inner) for inner in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_utc(ts: datetime, name: str) -> datetime:
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
