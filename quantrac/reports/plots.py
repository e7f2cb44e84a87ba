"""The report's pictures, drawn with matplotlib (Agg, no display): an AQI calendar for the
month, the hourly VN_AQI of a day, water levels against their BĐ bands, rain bars.

Each function returns ``(caption, PNG bytes)`` per station, sized for an A4 page's text width.
Colours are the decisions' own: the VN_AQI categories (1459/QĐ-TCMT) and the flood bulletins'
BĐ colours (quantrac/dashboards/standards.py, as the boards draw them).
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Callable
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # before pyplot: reports are drawn in services, with no display

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from collector.indices import AQI_CATEGORIES, aqi_category
from quantrac.dashboards.standards import FLOOD_COLOURS, FLOOD_NAMES
from quantrac.reports.model import Report
from quantrac.reports.period import ReportKind

Picture = tuple[str, bytes]
WIDTH_IN = 6.7  # A4's 21 cm less two 2 cm margins, in inches
DPI = 150
HOUR = timedelta(hours=1)
WEEKDAYS = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _date_number(wall_clock: datetime) -> float:
    return float(mdates.date2num(wall_clock))  # type: ignore[no-untyped-call]


def _local(report: Report, moment: datetime) -> float:
    """A moment as matplotlib's date number of its local wall-clock time."""
    return _date_number(moment.astimezone(report.period.zone).replace(tzinfo=None))


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"


def aqi_calendar(report: Report) -> list[Picture]:
    """Each air station's month as a calendar, each day in its daily VN_AQI's colour."""
    out = []
    year, month = report.period.first.year, report.period.first.month
    weeks = calendar.Calendar().monthdatescalendar(year, month)
    for figures in report.air:
        by_day = {d.day: d.result for d in figures.days}
        figure, axes = plt.subplots(figsize=(WIDTH_IN * 0.75, 0.55 * len(weeks) + 0.8))
        for row, week in enumerate(weeks):
            for column, day in enumerate(week):
                if day.month != month:
                    continue
                result = by_day.get(day)
                colour = result.category.hex if result and result.category else "#E6E6E6"
                axes.add_patch(
                    Rectangle((column, -row), 0.95, 0.9, facecolor=colour, edgecolor="white")
                )
                label = (result.label if result else None) or "–"
                ink = _text_colour(colour)
                axes.text(column + 0.06, -row + 0.72, str(day.day), fontsize=6, color=ink)
                axes.text(column + 0.48, -row + 0.32, label, fontsize=9, ha="center", color=ink,
                          weight="bold")  # fmt: skip
        axes.set_xlim(0, 7)
        axes.set_ylim(-len(weeks) + 1, 1)
        axes.set_xticks([c + 0.48 for c in range(7)], WEEKDAYS)
        axes.xaxis.tick_top()
        axes.set_yticks([])
        for side in axes.spines.values():
            side.set_visible(False)
        handles = [Rectangle((0, 0), 1, 1, color=c.hex) for c in AQI_CATEGORIES]
        axes.legend(handles, [c.name for c in AQI_CATEGORIES], loc="center left",
                    bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)  # fmt: skip
        name = report.name_of(figures.station)
        out.append((f"VN_AQI ngày tháng {report.period.first:%m/%Y} — {name}", _png(figure)))
    return out


def aqi_hours(report: Report) -> list[Picture]:
    """Each air station's hourly VN_AQI over the day, each bar in its category's colour."""
    out = []
    for figures in report.air:
        figure, axes = plt.subplots(figsize=(WIDTH_IN, 2.3))
        for hour in figures.hours:
            value = hour.result.value
            if value is None:
                continue
            local = _local(report, hour.hour_end - HOUR)
            axes.bar(local, value, width=1 / 24 * 0.9, align="edge",
                     color=aqi_category(value).hex, edgecolor="#555555", linewidth=0.3)  # fmt: skip
        axes.set_ylabel("VN_AQI giờ")
        _time_axis(report, axes)
        axes.grid(axis="y", alpha=0.3)
        name = report.name_of(figures.station)
        out.append((f"VN_AQI giờ ngày {report.period.first:%d/%m/%Y} — {name}", _png(figure)))
    return out


def water_levels(report: Report) -> list[Picture]:
    """Each gauge's water level over the period against its BĐ I/II/III bands."""
    out = []
    for figures in report.rivers:
        if not figures.series:
            continue
        times = [_local(report, ts) for ts, _ in figures.series]
        values = [v for _, v in figures.series]
        figure, axes = plt.subplots(figsize=(WIDTH_IN, 2.6))
        bd1, bd2, bd3 = figures.levels
        low = min(min(values), bd1) - 0.3
        high = max(max(values), bd3) + 0.3
        bands = ((low, bd1), (bd1, bd2), (bd2, bd3), (bd3, high))
        for (bottom, top), colour, label in zip(bands, FLOOD_COLOURS, FLOOD_NAMES, strict=True):
            axes.axhspan(bottom, top, color=colour, alpha=0.18, linewidth=0, label=label)
        for level, name in zip((bd1, bd2, bd3), ("BĐ I", "BĐ II", "BĐ III"), strict=True):
            axes.axhline(level, color="#444444", linewidth=0.6, linestyle="--")
            axes.text(times[0], level, f" {name}", fontsize=7, va="bottom")
        axes.plot(times, values, color="#1F4E9A", linewidth=1.2)
        if figures.crest is not None and figures.crest_at is not None:
            axes.plot([_local(report, figures.crest_at)], [figures.crest], "o", color="#C00000")
        axes.set_ylim(low, high)
        axes.set_ylabel("Mực nước (m)")
        _time_axis(report, axes)
        axes.grid(alpha=0.3)
        name = report.name_of(figures.station)
        out.append((f"Mực nước tại {name} và các mức báo động", _png(figure)))
    return out


def rain_bars(report: Report) -> list[Picture]:
    """Each gauge's rain: per hour in a daily report, per day in a monthly one."""
    out = []
    for figures in report.rain:
        figure, axes = plt.subplots(figsize=(WIDTH_IN, 2.3))
        if report.period.kind is ReportKind.DAILY:
            # Each hour's rain drawn over its hour: it is stamped with the hour's end.
            bars = [(_local(report, end - HOUR), mm or 0.0) for end, mm in figures.hourly_mm]
            width = 1 / 24 * 0.85
            axes.set_ylabel("Mưa giờ (mm)")
            caption = f"Lượng mưa từng giờ ngày {report.period.first:%d/%m/%Y}"
        else:
            bars = [
                (_date_number(datetime.combine(d.day.day, datetime.min.time())), d.known_mm)
                for d in figures.days
            ]
            width = 0.85
            axes.set_ylabel("Mưa ngày (mm)")
            caption = f"Lượng mưa ngày tháng {report.period.first:%m/%Y}"
        axes.bar([t for t, _ in bars], [mm for _, mm in bars], width=width, color="#2E75B6",
                 align="edge")  # fmt: skip
        _time_axis(report, axes)
        axes.grid(axis="y", alpha=0.3)
        out.append((f"{caption} — {report.name_of(figures.station)}", _png(figure)))
    return out


def _time_axis(report: Report, axes: Axes) -> None:
    if report.period.kind is ReportKind.DAILY:
        hours = mdates.HourLocator(byhour=range(0, 24, 3))  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(hours)
        pattern = "%H:%M"
    else:
        pattern = "%d/%m"
    axes.xaxis.set_major_formatter(mdates.DateFormatter(pattern))  # type: ignore[no-untyped-call]


PLOTS: dict[str, Callable[[Report], list[Picture]]] = {
    "aqi_calendar": aqi_calendar,
    "aqi_hours": aqi_hours,
    "water_levels": water_levels,
    "rain_bars": rain_bars,
}
