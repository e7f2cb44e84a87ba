"""Administration routes: ``POST /admin/reload`` makes this process re-read its site.

An ``admin`` key, and written to the audit log (docs/security.md). The process must have been
started with a site (``quantrac api SITE``); the answer is the reload's report: what changed,
what waits for a restart, or — a 422 — the problems for which the new config was refused while
the old one keeps running (docs/operations.md, "Hot reload").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from quantrac.api_common import PROBLEM_JSON, require
from quantrac.auth import Principal, Role
from quantrac.reload import Reloader

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/reload",
    responses={
        422: {"description": "the site's config has problems: refused, the old one runs on"},
        503: {"description": "this process was started without a site to reload"},
    },
)
async def reload_site(
    request: Request,
    _: Annotated[Principal, require(Role.ADMIN, "reload")],
) -> Any:
    """Re-read the site (stations, profiles, rules, routes) without a restart (``admin``)."""
    reloader: Reloader | None = getattr(request.app.state, "reloader", None)
    if reloader is None:
        raise HTTPException(503, "this API was started without a site directory: nothing to reload")
    report = await reloader.reload()
    if not report.ok:
        body = {
            "type": "about:blank",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": f"the new config was refused ({len(report.problems)} problem(s)); "
            "the previous one keeps running",
            **report.as_dict(),
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)
    return report.as_dict()
