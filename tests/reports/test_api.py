"""The reports through the API: listed and downloaded with a viewer key; nothing but the
archive's own report files is served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from collector.store.sqlite import SqliteStore
from quantrac.api import ApiContext, create_app
from quantrac.auth import ApiSecurity, KeyStore, Role
from quantrac.reports.archive import ReportArchive, ReportFormat
from quantrac.reports.period import ReportKind

PDF = b"%PDF-1.4 a report"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    keys = KeyStore(tmp_path / "api-keys.sqlite3")  # the data directory: reports/ beside it
    _, key = keys.create("board", Role.VIEWER, datetime.now(UTC))
    archive = ReportArchive.in_dir(tmp_path)
    archive.write(ReportKind.DAILY, "2025-10-28", ReportFormat.PDF, PDF)
    archive.write(ReportKind.DAILY, "2025-10-27", ReportFormat.XLSX, b"PK\x03\x04 xlsx")
    archive.write(ReportKind.MONTHLY, "2025-10", ReportFormat.PDF, PDF)
    (tmp_path / "reports" / "daily" / "notes.txt").write_text("not a report")
    store = SqliteStore(tmp_path / "q.sqlite3")
    app = create_app(ApiContext(store=store, security=ApiSecurity(keys)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, key
    store.close()


async def test_list_and_download(client: tuple[httpx.AsyncClient, str]) -> None:
    http, key = client
    assert (await http.get("/reports")).status_code == 401
    auth = {"Authorization": f"Bearer {key}"}
    listed = (await http.get("/reports", headers=auth)).json()
    assert [(r["kind"], r["period"], r["format"]) for r in listed] == [
        ("daily", "2025-10-28", "pdf"),
        ("daily", "2025-10-27", "xlsx"),
        ("monthly", "2025-10", "pdf"),
    ]
    monthly = (await http.get("/reports?kind=monthly", headers=auth)).json()
    assert [r["name"] for r in monthly] == ["bao-cao-thang-2025-10.pdf"]
    answer = await http.get(listed[0]["url"], headers=auth)
    assert answer.status_code == 200
    assert answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert 'filename="bao-cao-ngay-2025-10-28.pdf"' in answer.headers["content-disposition"]


@pytest.mark.parametrize(
    "path",
    [
        "/reports/daily/notes.txt",  # in the folder, but not a report's name
        "/reports/daily/bao-cao-thang-2025-10.pdf",  # a monthly name under daily
        "/reports/daily/bao-cao-ngay-2025-10-29.pdf",  # not made
        "/reports/daily/..%2F..%2Fapi-keys.sqlite3",
    ],
)
async def test_only_report_files_are_served(
    client: tuple[httpx.AsyncClient, str], path: str
) -> None:
    http, key = client
    answer = await http.get(path, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_kind_is_refused(client: tuple[httpx.AsyncClient, str]) -> None:
    http, key = client
    answer = await http.get("/reports/weekly/x.pdf", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 422
