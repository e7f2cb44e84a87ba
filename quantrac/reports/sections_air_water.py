"""Sections 1 and 2: air (VN_AQI, QCVN 05:2023) and surface water (VN_WQI, QCVN 08:2023)."""

from __future__ import annotations

from collections import Counter

from collector.indices import AqiResult, aqi_category, wqi_category
from quantrac.reports.figures.air import AirStationFigures, Exceedance
from quantrac.reports.model import Report
from quantrac.reports.period import ReportKind
from quantrac.reports.tables import (
    MISSING,
    Cell,
    Cells,
    Section,
    Table,
    param_unit,
)

POLLUTANT_LABELS = {
    "pm25": "PM2.5",
    "pm10": "PM10",
    "so2": "SO2",
    "co": "CO",
    "no2": "NO2",
    "o3": "O3",
}


def pollutant_label(value: object) -> str:
    text = str(getattr(value, "value", value)) if value is not None else ""
    return POLLUTANT_LABELS.get(text, text) if text else MISSING


# Decision 1460/QĐ-TCMT, section 2.1.b, as officers quote it.
WQI_MINIMUM = "chưa đủ số liệu tối thiểu (3 trong 5 nhóm thông số, nhóm IV ít nhất 3 thông số)"


def aqi_note(result: AqiResult) -> str:
    """Why a daily VN_AQI is missing or partial, in the officers' words."""
    if result.value is None:
        return "không tính được: thiếu số liệu bụi PM10 và PM2.5"
    if result.missing:
        return "thiếu số liệu: " + ", ".join(pollutant_label(p) for p in result.missing)
    return ""


def _exceedance_rows(
    c: Cells, station: str, rows: tuple[Exceedance, ...]
) -> list[tuple[Cell, ...]]:
    out: list[tuple[Cell, ...]] = []
    for e in rows:
        unit = param_unit(e.param)
        unit = "" if unit == "pH" else unit  # pH has no unit: "≥ 6,5", not "≥ 6,5 pH"
        out.append(
            (
                c.text(station),
                c.text(e.label),
                c.text(f"{e.averaging}" if e.averaging else "mẫu"),
                Cell(e.limit, f"{e.limit_text} {unit}".strip(), number_format="General"),
                c.integer(e.exceeded, "#FF7E00" if e.exceeded else None),
                c.integer(e.evaluated),
                c.number(e.worst, 2 if abs(e.worst or 0) < 10 else 1),
                c.hour_end(e.worst_at),
                c.hour_end(e.first_at),
            )
        )
    return out


EXCEEDANCE_COLUMNS = (
    "Trạm",
    "Thông số",
    "Trung bình",
    "Giới hạn",
    "Số lần vượt",
    "Số lần đánh giá",
    "Giá trị xấu nhất",
    "Lúc",
    "Vượt lần đầu",
)
EXCEEDANCE_WIDTHS = (2.2, 1.1, 1.1, 1.6, 1.0, 1.1, 1.2, 1.3, 1.3)


def air_section(report: Report, c: Cells) -> Section:
    daily_rows = []
    summary_rows = []
    exceed_rows: list[tuple[Cell, ...]] = []
    paragraphs = []
    for figures in report.air:
        name = report.name_of(figures.station)
        for day in figures.days:
            result = day.result
            daily_rows.append(
                (
                    c.text(name),
                    c.day(day.day),
                    c.category(result.value, result.category, result.label),
                    c.text(result.category.name if result.category else MISSING),
                    c.text(pollutant_label(result.dominant)),
                    c.text(aqi_note(result)),
                )
            )
        summary_rows.append(_air_summary(report, figures, c))
        exceed_rows.extend(_exceedance_rows(c, name, figures.exceedances))
        worst = figures.worst_hour
        if worst is not None and worst.result.value is not None:
            category = aqi_category(worst.result.value)
            paragraphs.append(
                f"{name}: giờ có VN_AQI cao nhất là {c.hour_end(worst.hour_end).text} với "
                f"{worst.result.label} ({category.name}), chất quyết định "
                f"{pollutant_label(worst.result.dominant)}."
            )
    if not report.air:
        paragraphs.append("Tỉnh chưa có trạm quan trắc không khí tự động nào trong cấu hình.")
    daily_columns = ("Trạm", "Ngày", "VN_AQI ngày", "Mức", "Chất quyết định", "Ghi chú")
    summary = Table(
        "VN_AQI theo trạm (Quyết định 1459/QĐ-TCMT)",
        (
            "Trạm",
            "VN_AQI ngày cao nhất",
            "Mức",
            "Ngày",
            "VN_AQI giờ cao nhất",
            "Giờ",
            "Chất quyết định",
            "Số ngày theo mức",
        ),
        tuple(summary_rows),
        (2.0, 1.1, 1.0, 1.3, 1.1, 1.2, 1.1, 2.4),
    )
    daily = Table(
        "VN_AQI ngày",
        daily_columns,
        tuple(daily_rows),
        (2.0, 1.1, 1.1, 1.2, 1.2, 3.4),
        printed=report.period.kind is ReportKind.DAILY,
    )
    hourly_rows = tuple(
        (
            c.text(report.name_of(f.station)),
            c.hour_end(h.hour_end),
            c.category(h.result.value, h.result.category, h.result.label),
            c.text(h.result.category.name if h.result.category else MISSING),
            c.text(pollutant_label(h.result.dominant)),
        )
        for f in report.air
        for h in f.hours
    )
    hourly = Table(
        "VN_AQI giờ",
        ("Trạm", "Giờ", "VN_AQI giờ", "Mức", "Chất quyết định"),
        hourly_rows,
        printed=False,
    )
    exceed = Table(
        "Vượt giới hạn QCVN 05:2023/BTNMT (nồng độ trung bình, µg/Nm³)",
        EXCEEDANCE_COLUMNS,
        tuple(exceed_rows),
        EXCEEDANCE_WIDTHS,
    )
    plots = ("aqi_calendar",) if report.period.kind is ReportKind.MONTHLY else ("aqi_hours",)
    return Section(
        "1. Chất lượng không khí",
        "Không khí",
        (summary, daily, exceed, hourly),
        tuple(paragraphs),
        plots if report.air else (),
    )


def _air_summary(report: Report, figures: AirStationFigures, c: Cells) -> tuple[Cell, ...]:
    worst_day = figures.worst_day
    worst_hour = figures.worst_hour
    by_category = Counter(
        d.result.category.name for d in figures.days if d.result.category is not None
    )
    spread = ", ".join(f"{name}: {count}" for name, count in by_category.items())
    day_result = worst_day.result if worst_day else None
    hour_result = worst_hour.result if worst_hour else None
    return (
        c.text(report.name_of(figures.station)),
        c.category(
            day_result.value if day_result else None,
            day_result.category if day_result else None,
            day_result.label if day_result else None,
        ),
        c.text(day_result.category.name if day_result and day_result.category else MISSING),
        c.day(worst_day.day if worst_day else None),
        c.category(
            hour_result.value if hour_result else None,
            hour_result.category if hour_result else None,
            hour_result.label if hour_result else None,
        ),
        c.hour_end(worst_hour.hour_end if worst_hour else None),
        c.text(pollutant_label(hour_result.dominant) if hour_result else MISSING),
        c.text(spread or "chưa tính được VN_AQI ngày"),
    )


def water_section(report: Report, c: Cells) -> Section:
    rows = []
    samples = []
    exceed_rows: list[tuple[Cell, ...]] = []
    for figures in report.water:
        name = report.name_of(figures.station)
        low, high = figures.lowest, figures.highest
        counts = figures.hours_by_category()
        rows.append(
            (
                c.text(name),
                c.integer(len(figures.samples)),
                c.category(low.result.value if low else None, low.result.category if low else None),
                c.hour_end(low.hour_end if low else None),
                c.category(
                    high.result.value if high else None, high.result.category if high else None
                ),
                c.number(figures.mean, 1),
                c.text(
                    ", ".join(f"{k}: {v} giờ" for k, v in counts.items())
                    or f"không tính được: {WQI_MINIMUM}"
                ),
            )
        )
        for sample in figures.samples:
            value = sample.result.value
            samples.append(
                (
                    c.text(name),
                    c.hour_end(sample.hour_end),
                    c.category(value, wqi_category(value) if value is not None else None),
                    c.text(sample.result.category.name if sample.result.category else MISSING),
                )
            )
        exceed_rows.extend(_exceedance_rows(c, name, figures.exceedances))
    wqi = Table(
        "VN_WQI theo giờ quan trắc (Quyết định 1460/QĐ-TCMT)",
        (
            "Trạm",
            "Số giờ có WQI",
            "WQI thấp nhất",
            "Lúc",
            "WQI cao nhất",
            "WQI trung bình",
            "Số giờ theo mức",
        ),
        tuple(rows),
        (2.0, 1.0, 1.0, 1.3, 1.0, 1.0, 3.6),
    )
    each = Table("VN_WQI từng giờ", ("Trạm", "Giờ", "VN_WQI", "Mức"), tuple(samples), printed=False)
    exceed = Table(
        "Vượt giới hạn QCVN 08:2023/BTNMT, mức A (trung bình giờ)",
        EXCEEDANCE_COLUMNS,
        tuple(exceed_rows),
        EXCEEDANCE_WIDTHS,
    )
    paragraphs = () if report.water else ("Không có trạm quan trắc nước mặt tự động.",)
    return Section("2. Chất lượng nước mặt", "Nước mặt", (wqi, exceed, each), paragraphs)
