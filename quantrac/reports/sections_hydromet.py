"""Sections 3 and 4: hydro-meteorology (water levels, rain, wind) and warnings."""

from __future__ import annotations

from alerting.templates import vi_number
from collector.indices import rain_intensity
from quantrac.reports.model import Report
from quantrac.reports.tables import (
    CHANNEL_NAMES,
    KIND_NAMES,
    MISSING,
    Cells,
    Section,
    Table,
)


def hydromet_section(report: Report, c: Cells) -> Section:
    rivers = []
    crossings = []
    for figures in report.rivers:
        config = report.stations.get(figures.station)
        river = f" (sông {config.river})" if config is not None and config.river else ""
        name = report.name_of(figures.station) + river
        bd1, bd2, bd3 = figures.levels
        alarm = figures.alarm
        rivers.append(
            (
                c.text(name),
                c.text(f"{vi(bd1)} / {vi(bd2)} / {vi(bd3)}"),
                c.number(figures.crest, 2),
                c.time(figures.crest_at),
                c.text(alarm.label if alarm else MISSING),
                c.text(alarm.description.replace(".", ",") if alarm else MISSING),
            )
        )
        for crossing in figures.crossings:
            stay = (
                crossing.down_at - crossing.up_at
                if crossing.down_at is not None and crossing.up_at is not None
                else None
            )
            crossings.append(
                (
                    c.text(name),
                    c.text(("BĐ I", "BĐ II", "BĐ III")[crossing.level - 1]),
                    c.time(crossing.up_at) if crossing.up_at else c.text("từ đầu kỳ"),
                    c.time(crossing.down_at) if crossing.down_at else c.text("chưa xuống"),
                    c.duration(stay),
                )
            )
    rain_rows = []
    rain_days = []
    for rain in report.rain:
        name = report.name_of(rain.station)
        risk_days = rain.risk_days
        top_risk = max((d.risk.level for d in risk_days if d.risk.level), default=None)
        rain_rows.append(
            (
                c.text(name),
                c.number(rain.total_mm, 1),
                c.text("đủ" if rain.complete else "thiếu số liệu (tối thiểu)"),
                c.number(rain.max_24h_mm, 1),
                c.time(rain.max_24h_at),
                c.integer(len(risk_days)),
                c.text(f"cấp độ {int(top_risk)}" if top_risk else "không"),
            )
        )
        for day in rain.days:
            intensity = rain_intensity(day.total_mm)
            rain_days.append(
                (
                    c.text(name),
                    c.day(day.day.day),
                    c.number(day.known_mm, 1),
                    c.percent(day.day.total.coverage),
                    c.text(intensity.value if intensity else "không đáng kể"),
                    c.text(day.risk.level.label if day.risk.level else "không"),
                )
            )
    wind_rows = []
    for wind in report.wind:
        wind_rows.append(
            (
                c.text(report.name_of(wind.station)),
                c.number(wind.max_speed, 1),
                c.text(wind.cap.label if wind.cap else MISSING),
                c.time(wind.max_speed_at),
                c.number(wind.max_gust, 1),
                c.text(wind.gust_cap.gust_label if wind.gust_cap else MISSING),
                c.time(wind.max_gust_at),
                c.text(wind.storm.label if wind.storm else "không"),
            )
        )
    tables = (
        Table(
            "Mực nước các trạm thủy văn (mức báo động theo Quyết định 05/2020/QĐ-TTg)",
            ("Trạm", "BĐ I / II / III (m)", "Đỉnh lũ (m)", "Lúc", "Mức cao nhất", "So với mức"),
            tuple(rivers),
            (2.4, 1.6, 1.0, 1.2, 1.1, 1.8),
        ),
        Table(
            "Thời gian vượt các mức báo động",
            ("Trạm", "Mức", "Vượt lúc", "Xuống dưới lúc", "Thời gian"),
            tuple(crossings),
            (2.4, 0.8, 1.3, 1.3, 1.3),
            empty="Không trạm nào vượt mức báo động I.",
        ),
        Table(
            "Lượng mưa (rủi ro thiên tai do mưa lớn theo Quyết định 18/2021/QĐ-TTg)",
            (
                "Trạm",
                "Tổng lượng mưa (mm)",
                "Số liệu",
                "Mưa 24 giờ lớn nhất (mm)",
                "Lúc",
                "Số ngày có rủi ro",
                "Cấp độ cao nhất",
            ),
            tuple(rain_rows),
            (1.8, 1.2, 1.6, 1.3, 1.2, 1.0, 1.2),
        ),
        Table(
            "Lượng mưa ngày",
            ("Trạm", "Ngày", "Lượng mưa (mm)", "Số liệu", "Cường độ", "Rủi ro thiên tai"),
            tuple(rain_days),
            (1.8, 1.1, 1.1, 0.9, 1.3, 2.2),
        ),
        Table(
            "Gió mạnh nhất",
            (
                "Trạm",
                "Gió (m/s)",
                "Cấp gió",
                "Lúc",
                "Gió giật (m/s)",
                "Cấp giật",
                "Lúc",
                "Phân loại",
            ),
            tuple(wind_rows),
            (1.9, 0.9, 0.8, 1.1, 1.0, 1.1, 1.1, 1.2),
        ),
    )
    plots = tuple(
        name
        for name, present in (("water_levels", report.rivers), ("rain_bars", report.rain))
        if present
    )
    return Section("3. Khí tượng thủy văn", "Khí tượng thủy văn", tables, (), plots)


def vi(value: float) -> str:
    """A BĐ level as the decision prints it: 1,5 m, 3 m."""
    return vi_number(value, 2).rstrip("0").rstrip(",")


def warnings_section(report: Report, c: Cells) -> Section:
    figures = report.warnings
    if figures is None:
        return Section("4. Cảnh báo", "Cảnh báo", (), ("Không có dữ liệu cảnh báo.",))
    by_kind = tuple(
        (c.text(KIND_NAMES.get(kind, kind.value)), c.integer(level), c.integer(count))
        for kind, level, count in figures.by_kind_level
    )
    channels = tuple(
        (
            c.text(CHANNEL_NAMES.get(ch.channel, ch.channel)),
            c.integer(ch.sent),
            c.integer(ch.failed, "#FF0000" if ch.failed else None),
        )
        for ch in figures.channels
    )
    acks = (
        (
            c.integer(len(figures.ack_delays) + figures.unacked),
            c.integer(len(figures.ack_delays)),
            c.integer(figures.unacked),
            c.duration(figures.median_ack),
            c.duration(figures.max_ack),
        ),
    )
    listing = tuple(
        (
            c.text(report.name_of(i.station)),
            c.text(KIND_NAMES.get(i.kind, i.kind.value)),
            c.text(i.rule),
            c.integer(max(i.peak_level, i.level)),
            c.time(i.started_at),
            c.time(i.resolved_at) if i.resolved_at else c.text("đang diễn ra"),
            c.time(i.acked_at),
            c.text(i.acked_by),
        )
        for i in figures.incidents
    )
    tables = (
        Table(
            "Sự cố theo loại và cấp cao nhất đã đạt",
            ("Loại", "Cấp", "Số sự cố"),
            by_kind,
            (3.0, 1.0, 1.0),
            empty="Không có sự cố nào trong kỳ.",
        ),
        Table(
            "Tin nhắn cảnh báo theo kênh",
            ("Kênh", "Đã gửi", "Gửi thất bại"),
            channels,
            (3.0, 1.0, 1.0),
            empty="Không có tin nhắn nào được gửi trong kỳ.",
        ),
        Table(
            "Thời gian từ khi cảnh báo đến khi xác nhận (sự cố bắt đầu trong kỳ)",
            ("Số sự cố", "Đã xác nhận", "Chưa xác nhận", "Trung vị", "Lâu nhất"),
            acks,
        ),
        Table(
            "Danh sách sự cố",
            (
                "Trạm",
                "Loại",
                "Quy tắc",
                "Cấp cao nhất",
                "Bắt đầu",
                "Kết thúc",
                "Xác nhận lúc",
                "Người xác nhận",
            ),
            listing,
            (1.8, 1.5, 1.4, 0.8, 1.1, 1.1, 1.1, 1.2),
        ),
    )
    return Section("4. Cảnh báo", "Cảnh báo", tables)
