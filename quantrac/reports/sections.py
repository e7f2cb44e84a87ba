"""The report's five sections as tables, in Vietnamese (pure): air, water, hydro-meteorology,
warnings, data quality. The PDF prints them in this order, the XLSX gives each its sheet; the
summary lines open the PDF."""

from __future__ import annotations

from alerting.templates import vi_number
from quantrac.reports.model import Report
from quantrac.reports.period import ReportKind
from quantrac.reports.sections_air_water import (
    WQI_MINIMUM,
    air_section,
    pollutant_label,
    water_section,
)
from quantrac.reports.sections_hydromet import hydromet_section, warnings_section
from quantrac.reports.tables import (
    Cell,
    Cells,
    Section,
    Table,
    param_label,
)


def quality_section(report: Report, c: Cells) -> Section:
    rows = []
    for q in report.quality:
        label = param_label(q.param)
        expected = c.integer(q.expected)
        if q.inferred and q.expected is not None:
            expected = Cell(q.expected, f"{expected.text} (ước tính)", number_format="#,##0")
        completeness = q.completeness
        low = completeness is not None and completeness < 0.8
        rows.append(
            (
                c.text(report.name_of(q.station)),
                c.text(label),
                c.integer(q.received),
                expected,
                Cell(
                    completeness, c.percent(completeness).text, "#FF7E00" if low else None, "0.0%"
                ),
                c.percent(q.suspect_share),
                c.percent(q.bad_share),
            )
        )
    table = Table(
        "Mức đầy đủ và chất lượng số liệu theo trạm, thông số",
        (
            "Trạm",
            "Thông số",
            "Số bản ghi nhận được",
            "Số bản ghi theo tần suất",
            "Mức đầy đủ",
            "Nghi ngờ",
            "Sai",
        ),
        tuple(rows),
        (2.2, 1.6, 1.2, 1.4, 1.0, 0.9, 0.9),
    )
    paragraphs = (
        "Mức đầy đủ: tỷ lệ số bản ghi nhận được trên số bản ghi phải có theo tần suất đo của "
        "trạm. Nghi ngờ, sai: tỷ lệ bản ghi bị kiểm tra chất lượng (QC) gắn cờ; các bản ghi "
        "sai không được dùng để tính các chỉ số.",
    )
    return Section("5. Chất lượng số liệu", "Chất lượng số liệu", (table,), paragraphs)


def sections(report: Report) -> list[Section]:
    c = Cells(report.period.zone)
    return [
        air_section(report, c),
        water_section(report, c),
        hydromet_section(report, c),
        warnings_section(report, c),
        quality_section(report, c),
    ]


def _air_lines(report: Report, c: Cells) -> list[str]:
    lines = []
    for figures in report.air:
        name = report.name_of(figures.station)
        day = figures.worst_day
        if day is None or day.result.category is None:
            lines.append(f"{name}: chưa tính được VN_AQI ngày (thiếu số liệu bụi PM).")
        else:
            when = "" if report.period.kind is ReportKind.DAILY else f" ngày {day.day:%d/%m}"
            lines.append(
                f"{name}: VN_AQI ngày cao nhất {day.result.label} ({day.result.category.name})"
                f"{when}, chất quyết định {pollutant_label(day.result.dominant)}."
            )
        for e in figures.exceedances:
            if e.exceeded:
                lines.append(
                    f"{name}: {e.label} trung bình {e.averaging} vượt QCVN 05:2023/BTNMT "
                    f"{e.exceeded}/{e.evaluated} lần, cao nhất {vi_number(e.worst or 0, 1)} "
                    f"µg/Nm³ (giới hạn {vi_number(e.limit, 0)})."
                )
    for water in report.water:
        name = report.name_of(water.station)
        low, high = water.lowest, water.highest
        if low is None or high is None or low.result.category is None:
            lines.append(f"{name}: không tính được VN_WQI, {WQI_MINIMUM}.")
        else:
            lines.append(
                f"{name}: VN_WQI từ {low.result.value} ({low.result.category.name}, lúc "
                f"{c.hour_end(low.hour_end).text}) đến {high.result.value}."
            )
    return lines


def _hydromet_lines(report: Report, c: Cells) -> list[str]:
    lines = []
    for river in report.rivers:
        name = report.name_of(river.station)
        if river.crest is None or river.alarm is None:
            lines.append(f"{name}: không có số liệu mực nước.")
            continue
        lines.append(
            f"{name}: đỉnh {vi_number(river.crest, 2)} m lúc {c.time(river.crest_at).text}, "
            f"{river.alarm.description.replace('.', ',')}."
        )
    for rain in report.rain:
        name = report.name_of(rain.station)
        text = f"{name}: tổng lượng mưa {vi_number(rain.total_mm, 1)} mm"
        if rain.max_24h_mm is not None:
            text += f", mưa 24 giờ lớn nhất {vi_number(rain.max_24h_mm, 1)} mm"
        risky = [d for d in rain.risk_days if d.risk.level is not None]
        if risky:
            worst = max(risky, key=lambda d: int(d.risk.level or 0))
            assert worst.risk.level is not None
            text += f"; {worst.risk.level.label} ngày {worst.day.day:%d/%m}"
        lines.append(text + ".")
    for wind in report.wind:
        if wind.cap is None:
            continue
        gust = f", {wind.gust_cap.gust_label}" if wind.gust_cap else ""
        lines.append(
            f"{report.name_of(wind.station)}: gió mạnh nhất {wind.cap.label} "
            f"({vi_number(wind.max_speed or 0, 1)} m/s){gust}, lúc "
            f"{c.time(wind.max_speed_at).text}."
        )
    return lines


def summary_lines(report: Report) -> list[str]:
    """The findings a reader needs first, one sentence each (the PDF's "Tóm tắt")."""
    c = Cells(report.period.zone)
    lines = _air_lines(report, c) + _hydromet_lines(report, c)
    if report.warnings is not None:
        sent = sum(ch.sent for ch in report.warnings.channels)
        failed = sum(ch.failed for ch in report.warnings.channels)
        lines.append(
            f"Cảnh báo: {len(report.warnings.incidents)} sự cố; {sent} tin nhắn đã gửi, "
            f"{failed} gửi thất bại."
        )
    complete = [q for q in report.quality if q.completeness is not None]
    if complete:
        worst = min(complete, key=lambda q: q.completeness or 0.0)
        lines.append(
            f"Số liệu: mức đầy đủ thấp nhất {c.percent(worst.completeness).text} "
            f"({report.name_of(worst.station)}, {param_label(worst.param)})."
        )
    return lines
