"""The report as a PDF for printing: A4 portrait, DejaVu Sans embedded, the five sections'
tables and pictures, a page footer with the page number (fpdf2)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

from quantrac.reports.fonts import FontFiles, report_font
from quantrac.reports.model import Report
from quantrac.reports.plots import PLOTS, Picture
from quantrac.reports.sections import sections, summary_lines
from quantrac.reports.tables import Section, Table

FONT = "report"
MARGIN_MM = 15
HEADINGS = FontFace(emphasis="B", fill_color=(221, 235, 247))


class ReportPdf(FPDF):
    def __init__(self, report: Report, font: FontFiles) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.add_font(FONT, "", str(font.regular))
        self.add_font(FONT, "B", str(font.bold))
        self.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        self.set_auto_page_break(True, margin=MARGIN_MM)
        self.alias_nb_pages()
        self.set_title(f"Báo cáo {report.period.title} — {report.site}")
        self.set_author("quantrac")
        self.set_lang("vi")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 7)
        self.set_text_color(110, 110, 110)
        local = self.report.generated_at.astimezone(self.report.period.zone)
        self.cell(0, 4, f"{self.report.site} — báo cáo {self.report.period.title}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"Lập lúc {local:%H:%M %d/%m/%Y} · Trang {self.page_no()}/{{nb}}",
                  align="R")  # fmt: skip
        self.set_text_color(0, 0, 0)


def _heading(pdf: FPDF, text: str, size: float) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _paragraph(pdf: FPDF, text: str, size: float = 9) -> None:
    pdf.set_font(FONT, "", size)
    pdf.multi_cell(0, size * 0.48, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def _ink(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _table(pdf: FPDF, table: Table) -> None:
    # A title never ends a page alone: its heading row and a first row must fit under it.
    if pdf.get_y() > pdf.h - MARGIN_MM - 25:
        pdf.add_page()
    pdf.set_font(FONT, "B", 9)
    pdf.multi_cell(0, 4.5, table.title, new_x="LMARGIN", new_y="NEXT")
    if not table.rows:
        _paragraph(pdf, table.empty, 8)
        return
    pdf.set_font(FONT, "", 7)
    widths = table.widths or tuple(1.0 for _ in table.columns)
    with pdf.table(
        col_widths=widths,
        headings_style=HEADINGS,
        line_height=3.4,
        text_align="LEFT",
        padding=0.8,
        width=pdf.epw,
    ) as grid:
        heading = grid.row()
        for column in table.columns:
            heading.cell(column)
        for cells in table.rows:
            row = grid.row()
            for cell in cells:
                if cell.fill:
                    rgb = _rgb(cell.fill)
                    row.cell(cell.text, style=FontFace(fill_color=rgb, color=_ink(rgb)))
                else:
                    row.cell(cell.text)
    pdf.ln(3)


def _pictures(pdf: FPDF, pictures: Sequence[Picture]) -> None:
    for caption, png in pictures:
        # Keep a picture with its caption: start a page when it would not fit.
        if pdf.get_y() > pdf.h - MARGIN_MM - 70:
            pdf.add_page()
        pdf.image(io.BytesIO(png), w=pdf.epw)
        pdf.set_font(FONT, "", 7.5)
        pdf.multi_cell(0, 3.5, caption, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)


def _section(pdf: FPDF, section: Section, report: Report) -> None:
    _heading(pdf, section.title, 12)
    for text in section.paragraphs:
        _paragraph(pdf, text)
    for table in section.tables:
        if table.printed:
            _table(pdf, table)
    for name in section.figures:
        _pictures(pdf, PLOTS[name](report))


def render_pdf(
    report: Report, *, font: FontFiles | None = None, clock: Callable[[], datetime] | None = None
) -> bytes:
    """The PDF's bytes."""
    pdf = ReportPdf(report, font or report_font())
    if clock is not None:
        pdf.set_creation_date(clock())
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 7, f"BÁO CÁO QUAN TRẮC {report.period.kind.label.upper()}",
                   align="C", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 5.5, f"Môi trường và khí tượng thủy văn — {report.site}, "
                   f"{report.period.title}", align="C", new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(3)
    _heading(pdf, "Tóm tắt", 12)
    for line in summary_lines(report):
        _paragraph(pdf, f"• {line}")
    for note in report.notes:
        _paragraph(pdf, note, 8)
    for section in sections(report):
        pdf.ln(2)
        _section(pdf, section, report)
    return bytes(pdf.output())
