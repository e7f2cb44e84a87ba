"""The report as an XLSX workbook for officers who rework the numbers: a summary sheet, then one
sheet per section with its tables one under the other, numbers as numbers and times as local
date-times (openpyxl). The long per-hour listings the PDF leaves out are here."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from quantrac.reports.model import Report
from quantrac.reports.sections import sections, summary_lines
from quantrac.reports.tables import Section, Table

TITLE = Font(bold=True, size=12)
BOLD = Font(bold=True)
HEADING_FILL = PatternFill(fill_type="solid", fgColor="DDEBF7")
SUMMARY_SHEET = "Tóm tắt"
MAX_WIDTH = 60


def _fill(hex_colour: str) -> PatternFill:
    return PatternFill(fill_type="solid", fgColor=hex_colour.lstrip("#").upper())


def _font_for(hex_colour: str) -> Font:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    dark = 0.299 * r + 0.587 * g + 0.114 * b <= 140
    return Font(color="FFFFFF" if dark else "000000")


def _write_table(sheet: Worksheet, row: int, table: Table, widths: dict[int, int]) -> int:
    """Writes ``table`` from ``row``; returns the next free row."""
    sheet.cell(row, 1, table.title).font = BOLD
    row += 1
    for column, name in enumerate(table.columns, start=1):
        cell = sheet.cell(row, column, name)
        cell.font = BOLD
        cell.fill = HEADING_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        widths[column] = max(widths.get(column, 0), min(len(name), 24))
    row += 1
    if not table.rows:
        sheet.cell(row, 1, table.empty)
        return row + 2
    for cells in table.rows:
        for column, source in enumerate(cells, start=1):
            # The value for numbers and times, the text where there is none ("—", "chưa xuống").
            value = source.value if source.value is not None else source.text
            cell = sheet.cell(row, column, value)
            if source.number_format and source.value is not None:
                cell.number_format = source.number_format
            if source.fill:
                cell.fill = _fill(source.fill)
                cell.font = _font_for(source.fill)
            widths[column] = max(widths.get(column, 0), min(len(source.text), MAX_WIDTH))
        row += 1
    return row + 1


def _section_sheet(book: Workbook, section: Section) -> None:
    sheet = book.create_sheet(section.sheet[:31])
    sheet.cell(1, 1, section.title).font = TITLE
    row = 2
    for text in section.paragraphs:
        sheet.cell(row, 1, text)
        row += 1
    row += 1
    widths: dict[int, int] = {}
    for table in section.tables:
        row = _write_table(sheet, row, table, widths)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = width + 2


def render_xlsx(report: Report) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None  # a new workbook has its first sheet
    summary.title = SUMMARY_SHEET
    summary.cell(1, 1, f"Báo cáo quan trắc {report.period.title} — {report.site}").font = TITLE
    generated = report.generated_at.astimezone(report.period.zone).replace(tzinfo=None)
    summary.cell(2, 1, "Lập lúc")
    summary.cell(2, 2, generated).number_format = "dd/mm/yyyy hh:mm"
    summary.cell(3, 1, "Từ")
    summary.cell(3, 2, report.period.first).number_format = "dd/mm/yyyy"
    summary.cell(4, 1, "Đến")
    summary.cell(4, 2, report.period.last).number_format = "dd/mm/yyyy"
    row = 6
    for line in [*summary_lines(report), *report.notes]:
        summary.cell(row, 1, line)
        row += 1
    summary.column_dimensions["A"].width = 14
    summary.column_dimensions["B"].width = 18
    for section in sections(report):
        _section_sheet(book, section)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
