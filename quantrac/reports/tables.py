"""A report as sections of tables, in Vietnamese (pure): what both the PDF and the XLSX show.

Each cell keeps its value (a number, a time) for the spreadsheet, where officers rework the
numbers, and the text the printed page shows (decimal comma, local time "15:00 27/10"), with
the official colour of an index category where it has one (Decisions 1459 and 1460).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from alerting.model import AlertKind
from alerting.templates import vi_number
from collector.indices import Category
from gateway.parameters import UnknownParameterError, registry

# Vietnamese names of the alert kinds, as a bulletin titles them.
KIND_NAMES = {
    AlertKind.FLOOD: "Lũ (mực nước)",
    AlertKind.RAIN: "Mưa lớn",
    AlertKind.STORM: "Gió mạnh, bão",
    AlertKind.AIR: "Chất lượng không khí",
    AlertKind.WATER: "Chất lượng nước",
    AlertKind.STATION: "Trạm mất tín hiệu",
}
CHANNEL_NAMES = {
    "sms": "SMS",
    "zalo": "Zalo ZNS",
    "email": "Thư điện tử",
    "webhook": "IOC (webhook)",
    "grafana": "Grafana",
    "console": "Màn hình",
    "log": "Nhật ký",
}
MISSING = "—"


@dataclass(frozen=True, slots=True)
class Cell:
    value: str | float | int | datetime | date | None
    text: str
    fill: str | None = None  # "#RRGGBB": an index category's colour
    number_format: str | None = None  # the spreadsheet's format for the value

    @property
    def is_empty(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...] = ()  # relative column widths on the page; equal if empty
    empty: str = "Không có số liệu."  # what the page says instead of an empty table
    printed: bool = True  # False: the spreadsheet only (long per-hour listings)


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # "1. Chất lượng không khí"
    sheet: str  # its worksheet's name (≤ 31 characters, no : / ? * [ ])
    tables: tuple[Table, ...]
    paragraphs: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()  # plot names (quantrac.reports.plots) drawn in this section


class Cells:
    """Cell makers for one report's time zone."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone

    @staticmethod
    def text(value: str | None) -> Cell:
        return Cell(value, value if value else MISSING)

    @staticmethod
    def number(value: float | None, decimals: int = 1, suffix: str = "") -> Cell:
        if value is None or value != value:
            return Cell(None, MISSING)
        form = "#,##0" if decimals == 0 else "#,##0." + "0" * decimals
        return Cell(float(value), vi_number(value, decimals) + suffix, number_format=form)

    @staticmethod
    def integer(value: int | None, fill: str | None = None) -> Cell:
        if value is None:
            return Cell(None, MISSING)
        return Cell(int(value), f"{value:,}".replace(",", "."), fill, "#,##0")

    @staticmethod
    def percent(share: float | None) -> Cell:
        if share is None:
            return Cell(None, MISSING)
        return Cell(share, vi_number(share * 100, 1) + " %", number_format="0.0%")

    def time(self, moment: datetime | None, with_date: bool = True) -> Cell:
        if moment is None:
            return Cell(None, MISSING)
        local = moment.astimezone(self.zone)
        text = f"{local:%H:%M %d/%m}" if with_date else f"{local:%H:%M}"
        # Spreadsheets have no time zones: the local wall clock, as officers read it.
        return Cell(local.replace(tzinfo=None), text, number_format="dd/mm/yyyy hh:mm")

    def hour_end(self, moment: datetime | None) -> Cell:
        """An hourly mean's hour, written as officers count a day's hours: 24:00, not 00:00."""
        if moment is None:
            return Cell(None, MISSING)
        local = moment.astimezone(self.zone)
        if local.hour == 0 and local.minute == 0:
            previous = local - timedelta(days=1)
            text = f"24:00 {previous:%d/%m}"
        else:
            text = f"{local:%H:%M %d/%m}"
        return Cell(local.replace(tzinfo=None), text, number_format="dd/mm/yyyy hh:mm")

    @staticmethod
    def day(value: date | None) -> Cell:
        if value is None:
            return Cell(None, MISSING)
        return Cell(value, f"{value:%d/%m/%Y}", number_format="dd/mm/yyyy")

    @staticmethod
    def category(value: int | None, category: Category | None, label: str | None = None) -> Cell:
        if value is None or category is None:
            return Cell(None, MISSING)
        return Cell(int(value), label or str(value), category.hex, "0")

    @staticmethod
    def duration(delta: timedelta | None) -> Cell:
        if delta is None:
            return Cell(None, MISSING)
        minutes = round(delta.total_seconds() / 60)
        hours, rest = divmod(minutes, 60)
        text = f"{hours} giờ {rest:02d} phút" if hours else f"{rest} phút"
        # The spreadsheet keeps minutes: a number officers can sum and average.
        return Cell(minutes, text, number_format="0")


def param_label(param: str) -> str:
    try:
        return registry()[param].label
    except (KeyError, UnknownParameterError):
        return param


def param_unit(param: str) -> str:
    try:
        return registry()[param].unit
    except (KeyError, UnknownParameterError):
        return ""
