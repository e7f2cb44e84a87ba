"""Time ranges of a station: ``/stations/{id}/readings`` (JSON pages with a ``next`` link, or
CSV) and ``/stations/{id}/export`` (the officers' CSV or XLSX of several parameters)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from collector.schema import is_derived
from gateway.model import VIETNAM_TZ, Reading
from gateway.parameters import registry
from quantrac.api_common import (
    MAX_EVERY_S,
    PROBLEM_JSON,
    Context,
    Viewer,
    station_public,
    to_utc,
)
from quantrac.api_export import (
    XLSX_TYPE,
    iso_z,
    range_json,
    readings_csv,
    table_csv,
    table_xlsx,
    wide_table,
)
from quantrac.api_schemas import RangePublic

router = APIRouter()

# An export holds at most this many points per parameter (31 days at one a minute, and some):
# a report of a longer time asks for hourly means (every=3600).
EXPORT_MAX_POINTS = 50_000
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown station", "content": {PROBLEM_JSON: {}}},
    422: {"description": "a parameter or time that cannot be", "content": {PROBLEM_JSON: {}}},
    503: {"description": "the store does not answer", "content": {PROBLEM_JSON: {}}},
}

Start = Annotated[
    datetime | None,
    Query(alias="from", description="ISO 8601; no zone: Vietnam time; default: to − 24 h"),
]
End = Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: now")]
Every = Annotated[
    int | None,
    Query(ge=1, le=MAX_EVERY_S, description="window in seconds: the mean of the not-bad values"),
]


def _check_param(param: str) -> None:
    if param not in registry() and not is_derived(param):
        raise HTTPException(422, f"{param!r} is neither a canonical parameter nor a derived series")


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = to_utc(end, "to") if end else datetime.now(UTC)
    start = to_utc(start, "from") if start else end - timedelta(hours=24)
    if start >= end:
        raise HTTPException(422, "'from' must be before 'to'")
    return start, end


def _wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/stations/{station_id}/readings",
    response_model=RangePublic,
    responses={
        200: {
            "description": "one series, oldest first; `truncated` and `next` when more remain",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **PROBLEMS,
    },
)
async def readings(
    station_id: str,
    request: Request,
    context: Context,
    _: Viewer,
    param: Annotated[str, Query(description="canonical parameter, e.g. water_level")],
    start: Start = None,
    end: End = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="readings in a page")] = 10_000,
    every: Every = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv: the same as 'Accept: text/csv'"),
    ] = None,
) -> Response:
    """One series, ``from`` ≤ ts < ``to``, oldest first, in pages of ``limit``: when more
    remain, ``truncated`` is true and ``next`` (and the ``Link`` header) gives the next page.
    As CSV with ``Accept: text/csv`` or ``?format=csv``."""
    await asyncio.to_thread(station_public, context, station_id)
    _check_param(param)
    start, end = _window(start, end)
    window = timedelta(seconds=every) if every else None
    # One more than asked: whether the range goes on, without counting it.
    found = await asyncio.to_thread(
        context.store.range, station_id, param, start, end, limit=limit + 1, every=window
    )
    truncated = len(found) > limit
    page, rest = found[:limit], found[limit:]
    next_url = None
    headers = {}
    if truncated:
        # Times are unique in a series (and windows in an aggregate): the next page starts at
        # the first reading this one left out.
        next_url = str(request.url.include_query_params(**{"from": iso_z(rest[0].ts),
                                                           "to": iso_z(end)}))  # fmt: skip
        headers["Link"] = f'<{next_url}>; rel="next"'
    if _wants_csv(request, format):
        text = await asyncio.to_thread(readings_csv, page)
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
    body = await asyncio.to_thread(
        range_json, station_id, param, start, end, page, truncated=truncated, next_url=next_url
    )
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/stations/{station_id}/export",
    responses={
        200: {
            "description": "the table, one column per parameter (and its QC flag)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **PROBLEMS,
    },
    response_class=Response,
)
async def export(
    station_id: str,
    context: Context,
    _: Viewer,
    param: Annotated[
        list[str] | None, Query(description="parameters; default: every one the station has")
    ] = None,
    start: Start = None,
    end: End = None,
    every: Every = None,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")] = "xlsx",
) -> Response:
    """A station's range for an officer's report: Vietnam local time, one column per
    parameter followed by its QC flag, at most 50,000 points per parameter (ask hourly means
    with ``every=3600`` for longer ranges)."""
    station = await asyncio.to_thread(station_public, context, station_id)
    start, end = _window(start, end)
    if param:
        for name in param:
            _check_param(name)
        params = list(dict.fromkeys(param))
    else:
        latest = await asyncio.to_thread(context.store.latest, station_id)
        params = [r.param for r in latest if r.param != "station_online"]
    window = timedelta(seconds=every) if every else None

    def read() -> dict[str, list[Reading]]:
        return {
            p: context.store.range(
                station_id, p, start, end, limit=EXPORT_MAX_POINTS, every=window
            )
            for p in params
        }

    series = await asyncio.to_thread(read)
    header, rows = wide_table(series)
    local = "%H:%M %d/%m/%Y"
    span = (
        f"Từ {start.astimezone(VIETNAM_TZ):{local}} đến {end.astimezone(VIETNAM_TZ):{local}}"
        " (giờ Việt Nam)"
    )
    full = [p for p, found in series.items() if len(found) >= EXPORT_MAX_POINTS]
    notes = [span, f"Trạm {station.id} — {station.kind}, {station.district}".rstrip(", ")]
    if every:
        notes.append(f"Trung bình mỗi {every} giây, không tính giá trị bị đánh dấu bad")
    if full:
        notes.append(f"Cắt ở {EXPORT_MAX_POINTS} điểm: {', '.join(full)}")
    stem = f"{station_id}_{start.astimezone(VIETNAM_TZ):%Y%m%d%H%M}"
    if format == "csv":
        body = await asyncio.to_thread(table_csv, header, rows)
        media, suffix = "text/csv; charset=utf-8", "csv"
    else:
        title = f"Số liệu quan trắc — {station.name}"
        body = await asyncio.to_thread(table_xlsx, title, notes, header, rows)
        media, suffix = XLSX_TYPE, "xlsx"
    disposition = f'attachment; filename="{stem}.{suffix}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
