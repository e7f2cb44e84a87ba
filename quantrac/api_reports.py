"""The daily and monthly reports through the API: ``GET /reports`` lists what the archive holds
(``quantrac report`` and the scheduler write it, docs/reports.md), ``GET /reports/{kind}/{name}``
hands out one file. Reads need a viewer key, as every read does.

The archive is ``reports/`` in the data directory: ``app.state.report_archive`` when the app's
maker sets it, else beside the API's key store (which lives in the data directory).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from quantrac.api_common import PROBLEM_JSON, Context, Viewer
from quantrac.reports.archive import ArchivedReport, ReportArchive
from quantrac.reports.period import ReportKind
from quantrac.settings import get_settings

router = APIRouter(tags=["reports"])


class ReportPublic(BaseModel):
    kind: ReportKind
    period: str  # 2025-10-27 (daily) or 2025-10 (monthly)
    format: str  # pdf | xlsx
    name: str
    size: int  # bytes
    made_at: datetime
    url: str  # where to download it (relative to the API)

    @classmethod
    def of(cls, entry: ArchivedReport) -> ReportPublic:
        return cls(
            kind=entry.kind,
            period=entry.period,
            format=entry.format.value,
            name=entry.name,
            size=entry.size,
            made_at=entry.made_at,
            url=f"/reports/{entry.kind.value}/{entry.name}",
        )


def report_archive(request: Request, context: Context) -> ReportArchive:
    explicit = getattr(request.app.state, "report_archive", None)
    if isinstance(explicit, ReportArchive):
        return explicit
    keys = context.security.keys
    data_dir = keys.path.parent if keys is not None else get_settings().data_dir
    return ReportArchive.in_dir(Path(data_dir))


Archive = Annotated[ReportArchive, Depends(report_archive)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such report", "content": {PROBLEM_JSON: {}}}
}


@router.get("/reports")
async def list_reports(
    archive: Archive,
    _: Viewer,
    kind: Annotated[ReportKind | None, Query(description="daily or monthly")] = None,
) -> list[ReportPublic]:
    """The reports made, newest period first."""
    entries = await asyncio.to_thread(archive.list, kind)
    return [ReportPublic.of(entry) for entry in entries]


@router.get(
    "/reports/{kind}/{name}",
    responses={
        200: {
            "description": "the report's file",
            "content": {
                "application/pdf": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
        },
        **NOT_FOUND,
    },
    response_class=FileResponse,
)
async def download_report(kind: ReportKind, name: str, archive: Archive, _: Viewer) -> FileResponse:
    """One report file, as an attachment (``bao-cao-ngay-2025-10-27.pdf``)."""
    entry = await asyncio.to_thread(archive.find, kind, name)
    if entry is None:
        raise HTTPException(404, f"no {kind.value} report named {name!r}")
    return FileResponse(entry.path, media_type=entry.format.media_type, filename=entry.name)
