"""The reports as officers get them: the PDF rendered by poppler (pdftoppm, pdftotext,
pdffonts) with its Vietnamese intact and its fonts embedded, the XLSX read back by openpyxl,
and ``quantrac report`` writing both from the command line."""

from __future__ import annotations

import subprocess
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from quantrac.cli import app
from quantrac.reports.model import Report
from quantrac.reports.pdf import render_pdf
from quantrac.reports.xlsx import render_xlsx
from tests.reports.conftest import Replayed
from tests.servers import require_binary


def poppler(tool: str, *args: str) -> str:
    binary = require_binary(tool, "poppler-utils")
    return subprocess.run(
        [binary, *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout


@pytest.fixture(scope="module")
def flood_pdf(flood_day: Report, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "flood.pdf"
    path.write_bytes(render_pdf(flood_day))
    return path


def test_pdf_text_keeps_its_vietnamese(flood_pdf: Path) -> None:
    text = poppler("pdftotext", "-layout", str(flood_pdf), "-")
    for phrase in (
        "BÁO CÁO QUAN TRẮC NGÀY",
        "Thừa Thiên Huế, ngày 28/10/2025",
        "Kim Long: đỉnh 3,80 m lúc 18:00 28/10, trên BĐ III 0,30 m.",
        "Nam Đông: tổng lượng mưa 320,0 mm, mưa 24 giờ lớn nhất 320,0 mm; rủi ro thiên tai "
        "cấp độ 3 ngày 28/10.",
        "Trạm khí tượng Huế: gió mạnh nhất cấp 8 (19,3 m/s), giật cấp 10",
        "Vượt giới hạn QCVN 08:2023/BTNMT, mức A",
        "Thời gian vượt các mức báo động",
        "Sự cố theo loại và cấp cao nhất đã đạt",
        "Lũ (mực nước)",
        "Mức đầy đủ và chất lượng số liệu",
        "Mực nước tại Kim Long và các mức báo động",
    ):
        assert phrase in " ".join(text.split()), phrase


def test_pdf_is_a4_with_its_fonts_embedded(flood_pdf: Path) -> None:
    info = poppler("pdfinfo", str(flood_pdf))
    assert "595.28 x 841.89 pts (A4)" in info
    fonts = poppler("pdffonts", str(flood_pdf)).splitlines()[2:]
    assert fonts
    for line in fonts:  # name, type, encoding, emb, sub, uni …
        assert "DejaVuSans" in line
        assert line.split()[-5:-2] == ["yes", "yes", "yes"], line  # embedded, subset, unicode


def test_pdf_renders_to_pages_with_ink(flood_pdf: Path, tmp_path: Path) -> None:
    poppler("pdftoppm", "-r", "40", "-png", str(flood_pdf), str(tmp_path / "page"))
    pages = sorted(tmp_path.glob("page-*.png"))
    pages_in_info = int(next(
        line.split()[-1] for line in poppler("pdfinfo", str(flood_pdf)).splitlines()
        if line.startswith("Pages:")
    ))  # fmt: skip
    assert len(pages) == pages_in_info >= 3
    for page in pages:
        with Image.open(page) as image:
            assert image.size == (331, 468)  # A4 at 40 dpi
            dark = sum(image.convert("L").histogram()[:128])  # pixels darker than mid-grey
            assert dark > 1000, page  # text and tables, not a blank page


def test_monthly_pdf_has_the_aqi_calendar(october: Report, tmp_path: Path) -> None:
    path = tmp_path / "october.pdf"
    path.write_bytes(render_pdf(october))
    text = " ".join(poppler("pdftotext", str(path), "-").split())
    assert "BÁO CÁO QUAN TRẮC THÁNG" in text
    assert "VN_AQI ngày tháng 10/2025 — Trạm không khí TP Huế" in text
    assert "Lượng mưa ngày tháng 10/2025 — Nam Đông" in text


def test_xlsx_reads_back(flood_day: Report, smog_day: Report) -> None:
    book = load_workbook(BytesIO(render_xlsx(smog_day)))
    assert book.sheetnames == [
        "Tóm tắt", "Không khí", "Nước mặt", "Khí tượng thủy văn", "Cảnh báo", "Chất lượng số liệu",
    ]  # fmt: skip
    air = book["Không khí"]
    rows = [[cell.value for cell in row] for row in air.iter_rows()]
    daily = next(r for r in rows if r[:2] == ["Trạm không khí TP Huế", datetime(2025, 10, 27)])
    assert daily[2:5] == [115, "Kém", "PM2.5"]
    aqi_cell = next(row[2] for row in air.iter_rows() if row[1].value == datetime(2025, 10, 27))
    assert aqi_cell.fill.fgColor.rgb.endswith("FF7E00")  # "Kém" orange, Decision 1459
    no2 = next(r for r in rows if r[1] == "NO2" and r[2] == "1 giờ")
    assert no2[4:8] == [2, 18, pytest.approx(216.8), datetime(2025, 10, 27, 16, 0)]
    hourly = [r for r in rows if r[0] == "Trạm không khí TP Huế" and isinstance(r[2], int)]
    assert len(hourly) >= 24  # the per-hour VN_AQI, in the workbook only
    quality = [[c.value for c in row] for row in book["Chất lượng số liệu"].iter_rows()]
    no2_quality = next(r for r in quality if r[:2] == ["Trạm không khí TP Huế", "NO2"])
    assert no2_quality[2:5] == [216, 288, 0.75]

    flood = load_workbook(BytesIO(render_xlsx(flood_day)))
    hydro = [[c.value for c in row] for row in flood["Khí tượng thủy văn"].iter_rows()]
    kim_long = next(r for r in hydro if r[0] == "Kim Long (sông Hương)" and r[2] is not None)
    assert kim_long[2:5] == [3.8, datetime(2025, 10, 28, 18, 0), "BĐ III"]
    rain_day = next(r for r in hydro if r[0] == "Nam Đông" and r[1] == datetime(2025, 10, 28))
    assert rain_day[2] == 320.0


def test_cli_writes_both_formats(replayed: Replayed, tmp_path: Path) -> None:
    store = replayed.data_dir / "quantrac.sqlite3"
    common = ["--data-dir", str(replayed.data_dir), "--store", str(store)]
    result = CliRunner().invoke(
        app,
        ["report", "daily", str(replayed.site.directory), "--date", "2025-10-28",
         "--format", "pdf", "--format", "xlsx", "--out", str(tmp_path), *common],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bao-cao-ngay-2025-10-28.pdf").read_bytes().startswith(b"%PDF-")
    assert load_workbook(tmp_path / "bao-cao-ngay-2025-10-28.xlsx").sheetnames[0] == "Tóm tắt"

    archive = tmp_path / "archive"
    result = CliRunner().invoke(
        app,
        ["report", "monthly", str(replayed.site.directory), "--date", "2025-10",
         "--format", "xlsx", "--data-dir", str(archive), "--store", str(store)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (archive / "reports" / "monthly" / "bao-cao-thang-2025-10.xlsx").is_file()
    listed = CliRunner().invoke(app, ["report", "list", "--data-dir", str(archive)])
    assert "monthly  2025-10" in listed.output


def test_cli_refuses_a_bad_date(replayed: Replayed) -> None:
    result = CliRunner().invoke(
        app, ["report", "daily", str(replayed.site.directory), "--date", "28/10/2025"]
    )
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output
