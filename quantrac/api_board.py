"""The IOC board and what it reads: the page itself at ``/`` (Vietnamese, its assets served
here: no CDN, no tile server), every station's latest state in one call (``/latest``), the map
(``/stations.geojson``, ``/province.geojson``), the live stream (``/events``) and who the key
is (``/whoami``). docs/board.md shows it; docs/api.md lists the routes.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from collector.indices import flood_alarm
from gateway.config import StationConfig
from gateway.model import Reading
from quantrac.api_common import (
    PROBLEM_JSON,
    ApiContext,
    Authenticated,
    Context,
    Viewer,
    allowed,
    incidents_of,
    station_ids,
    station_of,
    station_public,
)
from quantrac.api_export import dumps, reading_row
from quantrac.api_live import LiveFeed
from quantrac.api_schemas import (
    IncidentPublic,
    LatestAllPublic,
    LatestPublic,
    SiteIndexPublic,
    StationPublic,
    WhoAmIPublic,
)
from quantrac.api_state import HOURLY_FRESH, station_state
from quantrac.auth import Role

router = APIRouter()
GEO_JSON = "application/geo+json"
ENDPOINTS = [
    "/latest", "/stations", "/stations.geojson", "/province.geojson", "/stations/{id}/latest",
    "/stations/{id}/readings?param=&from=&to=", "/stations/{id}/export?format=xlsx",
    "/stations/{id}/health", "/incidents", "/silences", "/audit", "/events", "/health",
    "/ngsi-ld/v1/entities?type=", "/docs",
]  # fmt: skip


def web_dir() -> Path:
    """The board's files (HTML, JS, CSS, vendored libraries), installed with the package."""
    return Path(str(resources.files("quantrac") / "web"))


def province_outline(site_dir: Path) -> dict[str, Any] | None:
    """The site's ``province.geojson``, drawn under the board's map; None without one."""
    path = site_dir / "province.geojson"
    if not path.is_file():
        return None
    outline: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return outline


# A station's description changes only with its config: made once per config object.
_described: dict[int, tuple[StationConfig, dict[str, Any]]] = {}


def _description(config: StationConfig | None, station_id: str) -> dict[str, Any]:
    if config is None:
        return StationPublic(id=station_id, name=station_id, kind="unknown",
                             district="").model_dump(mode="json")  # fmt: skip
    known = _described.get(id(config))
    if known is None or known[0] is not config:
        known = (config, station_of(config).model_dump(mode="json"))
        _described[id(config)] = known
    return known[1]


def latest_document(
    context: ApiContext, station_id: str, readings: Sequence[Reading], now: datetime
) -> dict[str, Any]:
    """``LatestPublic`` as JSON: the station, its newest readings, flood level and state."""
    config = context.stations.get(station_id)
    state = station_state(config, readings, now, context.stale_after)
    return {
        "station": _description(config, station_id),
        "readings": [reading_row(r) for r in readings],
        "flood": _flood(config, readings),
        "state": {
            "colour": state.colour, "index": state.index, "value": state.value,
            "text": state.text, "label": state.label, "level": state.level,
            "online": state.online, "as_of": state.as_of,
            "instantaneous": state.instantaneous,
        },
    }  # fmt: skip


def _flood(config: StationConfig | None, readings: Sequence[Reading]) -> dict[str, Any] | None:
    level = next((r for r in readings if r.param == "water_level"), None)
    if config is None or config.flood_levels is None or level is None:
        return None
    alarm = flood_alarm(level.value, config.flood_levels.as_tuple())
    if alarm is None:
        return None
    return {"level": alarm.level, "label": alarm.label, "margin_m": round(alarm.margin_m, 3),
            **config.flood_levels.model_dump()}  # fmt: skip


# A station's document is kept while its readings are the same and its state cannot change
# with the clock alone: until it would go stale, until an hourly index ages out, a minute at most.
Kept = dict[str, tuple[list[Reading], datetime, dict[str, Any]]]
KEEP_AT_MOST = timedelta(minutes=1)


def _valid_until(readings: Sequence[Reading], now: datetime, stale_after: timedelta) -> datetime:
    """The next time the clock alone changes the state: a boundary already passed (a station
    long stale, an hourly index long aged) changes nothing more."""
    boundaries = [r.ts + HOURLY_FRESH for r in readings if r.param in ("vn_aqi_h", "vn_wqi")]
    measured = [r.ts for r in readings if r.param != "station_online"]
    if measured:
        boundaries.append(max(measured) + stale_after)
    return min([b for b in boundaries if b > now] + [now + KEEP_AT_MOST])


def all_latest(context: ApiContext, kept: Kept | None = None) -> list[dict[str, Any]]:
    """Every station's latest document (blocking). A store that reads every station's latest
    in one query offers ``latest_all`` (SQLite); the others are asked station by station.
    ``kept``: the documents of the last call, reused for the stations with nothing new."""
    now = datetime.now(UTC)
    one_query = getattr(context.store, "latest_all", None)
    found: dict[str, list[Reading]] = one_query() if callable(one_query) else {}
    documents = []
    for station_id in station_ids(context):
        if callable(one_query):
            readings = found.get(station_id, [])
        else:
            readings = context.store.latest(station_id)
        known = kept.get(station_id) if kept is not None else None
        if known is not None and now < known[1] and known[0] == readings:
            documents.append(known[2])
            continue
        document = latest_document(context, station_id, readings, now)
        if kept is not None:
            kept[station_id] = (readings, _valid_until(readings, now, context.stale_after),
                                document)  # fmt: skip
        documents.append(document)
    return documents


# /latest, /stations.geojson and the live stream read one snapshot of every station, at most
# this old: the board asks the first two at once, and a thousand stations cost a store query
# each (docs/benchmarks.md, "API and board").
SNAPSHOT_TTL_S = 0.5


class Snapshot:
    """Every station's latest document, shared by the requests of the same half second."""

    def __init__(self, context: ApiContext, ttl_s: float = SNAPSHOT_TTL_S) -> None:
        self.context = context
        self.ttl_s = ttl_s
        self._taken = -math.inf
        self._documents: list[dict[str, Any]] = []
        self._kept: Kept = {}
        self._lock = asyncio.Lock()

    async def documents(self) -> list[dict[str, Any]]:
        async with self._lock:  # one reads the store; the others wait for its answer
            if time.monotonic() - self._taken > self.ttl_s:
                self._documents = await asyncio.to_thread(all_latest, self.context, self._kept)
                self._taken = time.monotonic()
            return self._documents


def snapshot(request: Request) -> Snapshot:
    found: Snapshot = request.app.state.snapshot
    return found


def feature(document: dict[str, Any]) -> dict[str, Any]:
    """A station as a GeoJSON Feature: its place, description and state."""
    station = document["station"]
    location = station.get("location")
    geometry = None
    if location is not None:
        geometry = {"type": "Point", "coordinates": [location["lon"], location["lat"]]}
    properties = {k: v for k, v in station.items() if k != "location"}
    properties["state"] = document["state"]
    properties["flood"] = document["flood"]
    return {"type": "Feature", "id": station["id"], "geometry": geometry,
            "properties": properties}  # fmt: skip


def live_feed(context: ApiContext, shared: Snapshot) -> LiveFeed:
    async def stations() -> dict[str, dict[str, Any]]:
        return {d["station"]["id"]: d for d in await shared.documents()}

    async def incidents() -> list[dict[str, Any]] | None:
        if context.incidents is None:
            return None
        return [i.model_dump(mode="json") for i in await open_incidents(context)]

    return LiveFeed(stations, incidents, context.live_poll_s)


async def open_incidents(context: ApiContext) -> list[IncidentPublic]:
    """Open incidents, newest change first."""
    store = incidents_of(context)
    found = await asyncio.to_thread(store.open_incidents)
    found.sort(key=lambda i: i.updated_at, reverse=True)
    return [IncidentPublic.of(i, i.state.value) for i in found]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


@router.get(
    "/",
    response_model=SiteIndexPublic,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                     "description": "the board (a browser), or the site's index (JSON)"}},
)  # fmt: skip
def index(request: Request, context: Context, found: Authenticated) -> Response:
    """The IOC board for a browser (``Accept: text/html``): the page itself holds no data, so
    it needs no key, and asks for one when reads are not open. For anything else the site's
    stations and endpoints (a viewer key)."""
    if _wants_html(request):
        return HTMLResponse((web_dir() / "index.html").read_text(encoding="utf-8"))
    allowed(context, found, Role.VIEWER)
    body = SiteIndexPublic(site=context.site_name, stations=station_ids(context),
                           endpoints=ENDPOINTS)  # fmt: skip
    return JSONResponse(body.model_dump(mode="json"))


@router.get("/whoami", response_model=WhoAmIPublic)
def whoami(context: Context, found: Authenticated) -> WhoAmIPublic:
    """Who the key is (no key: anonymous), whether it may act, and whether reads are open
    without a key: the board asks for a key only when it needs one, and shows the acknowledge
    button only to an operator. A wrong key is a 401, as everywhere."""
    role = found.role if found is not None else None
    return WhoAmIPublic(
        name=found.name if found is not None else "",
        role=role.label if role is not None else None,
        can_act=role is not None and role >= Role.OPERATOR,
        reads_open=context.security.open_reads,
    )


@router.get("/latest", response_model=LatestAllPublic)
async def latest_all(request: Request, context: Context, _: Viewer) -> Response:
    """Every station's newest readings, flood level and state in one call: the board's first
    paint (the map, the cards). At most half a second old."""
    documents = await snapshot(request).documents()
    body = {"site": context.site_name, "as_of": datetime.now(UTC),
            "incidents": context.incidents is not None, "stations": documents}  # fmt: skip
    return Response(dumps(body), media_type="application/json")


@router.get("/stations/{station_id}/latest", response_model=LatestPublic,
            responses={404: {"description": "unknown station",
                             "content": {PROBLEM_JSON: {}}}})  # fmt: skip
async def latest(station_id: str, context: Context, _: Viewer) -> Response:
    """The newest reading of each parameter of the station, with status, quality and reason;
    ``flood`` for a gauge with flood levels; ``state`` as the board colours it."""
    await asyncio.to_thread(station_public, context, station_id)
    readings = await asyncio.to_thread(context.store.latest, station_id)
    body = latest_document(context, station_id, readings, datetime.now(UTC))
    return Response(dumps(body), media_type="application/json")


STATIONS_GEOJSON = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "id", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "id": {"type": "string"},
                "geometry": {"anyOf": [{"type": "null"}, {
                    "type": "object", "required": ["type", "coordinates"],
                    "properties": {"type": {"type": "string", "enum": ["Point"]},
                                   "coordinates": {"type": "array", "items": {"type": "number"},
                                                   "minItems": 2, "maxItems": 2}}}]},
                "properties": {"type": "object", "required": ["name", "kind", "state"]},
            }}},
    },
}  # fmt: skip


@router.get(
    "/stations.geojson",
    responses={200: {"description": "a FeatureCollection: each station at its location (lon, "
                     "lat), with kind, district, river, flood levels and state",
                     "content": {GEO_JSON: {"schema": STATIONS_GEOJSON}}}},
    response_class=Response,
)  # fmt: skip
async def stations_geojson(request: Request, _: Viewer) -> Response:
    """Every station as a GeoJSON Feature (a station without a location has a null geometry),
    for the board's map or any GIS."""
    documents = await snapshot(request).documents()
    body = {"type": "FeatureCollection", "features": [feature(d) for d in documents]}
    return Response(dumps(body), media_type=GEO_JSON)


@router.get(
    "/province.geojson",
    responses={200: {"description": "the province's outline, as the site ships it (an empty "
                     "FeatureCollection for a site without one)",
                     "content": {GEO_JSON: {"schema": {"type": "object"}}}}},
    response_class=Response,
)  # fmt: skip
def province(context: Context, _: Viewer) -> Response:
    """The outline drawn under the map (the site's ``province.geojson``)."""
    outline = context.outline or {"type": "FeatureCollection", "features": []}
    return Response(dumps(outline), media_type=GEO_JSON)


@router.get(
    "/events",
    responses={200: {"description": "Server-Sent Events: `ready`, then `station` (a station's "
                     "/latest document) and `incidents` (the open incidents) as they change",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    response_class=StreamingResponse,
)  # fmt: skip
async def events(request: Request, _: Viewer) -> StreamingResponse:
    """The board's live stream (docs/board.md, "Live updates")."""
    feed: LiveFeed = request.app.state.live
    return StreamingResponse(
        feed.listen(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip


def mount_board(app: FastAPI, context: ApiContext) -> None:
    """The board's routes, its files under /board/, and the OpenAPI pages from local files."""
    app.include_router(router)
    app.state.snapshot = Snapshot(context)
    app.state.live = live_feed(context, app.state.snapshot)
    app.state.closing = app.state.live.close  # called as the server stops (runners.api_server)
    app.mount("/board", StaticFiles(directory=web_dir()), name="board")
    vendor = "/board/vendor"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="quantrac API",
            swagger_js_url=f"{vendor}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/board/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None},
        )  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json", title="quantrac API",
            redoc_js_url=f"{vendor}/redoc/redoc.standalone.js",
            redoc_favicon_url="/board/favicon.svg", with_google_fonts=False,
        )  # fmt: skip
