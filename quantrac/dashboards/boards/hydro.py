"""Thủy văn: the water level of each gauge inside its own BĐ I/II/III bands, the alarm level
over time, rain totals as bars, the day's heavy-rain picture, cấp gió and gusts (pure)."""

from __future__ import annotations

from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards import panels
from quantrac.dashboards.boards.shell import BoardSpec, board
from quantrac.dashboards.catalog import BoardCatalog, StationEntry
from quantrac.dashboards.flavours import Flavour
from quantrac.dashboards.sdk import range_mappings, value_mappings
from quantrac.dashboards.standards import (
    FLOOD_COLOURS,
    FLOOD_NAMES,
    RAIN_RISK_24H,
    WIND_STEPS,
    beaufort_ranges,
    flood_steps,
    rain_risk_steps,
)

SPEC = BoardSpec(
    "thuy-van",
    "Thủy văn",
    "Mực nước và báo động lũ (Quyết định 05/2020/QĐ-TTg), lượng mưa, rủi ro mưa lớn và cấp gió "
    "(Quyết định 18/2021/QĐ-TTg).",
)
RAIN_TOTALS = (
    ("rain_1h", "1 giờ"),
    ("rain_3h", "3 giờ"),
    ("rain_6h", "6 giờ"),
    ("rain_24h", "24 giờ"),
)


def water_level(gauge: StationEntry, flavour: Flavour) -> dashboard.Panel:
    levels = gauge.flood_levels
    marks = (
        f"BĐ I {levels[0]:g} m, BĐ II {levels[1]:g} m, BĐ III {levels[2]:g} m"
        if levels
        else "trạm chưa khai báo mức báo động"
    )
    return panels.time_series(
        f"Mực nước {gauge.label}",
        f"Mực nước (m) tại {gauge.name}; dải màu: {marks}.",
        [flavour.series("A", "water_level", [gauge.id])],
        [gauge],
        unit="lengthm",
        steps=flood_steps(levels),
        style=common_model.GraphThresholdsStyleMode.LINE_AND_AREA,
        width=12,
        height=8,
    )


def build(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Dashboard:
    gauges = catalog.of_kind("hydro")
    rain = catalog.of_kind("rain")
    weather = catalog.of_kind("weather")
    flood_mappings = value_mappings(
        {str(level): (FLOOD_NAMES[level], FLOOD_COLOURS[level]) for level in range(4)}
    )
    levels = [water_level(gauge, flavour) for gauge in gauges]
    alarm = panels.state_timeline(
        "Báo động lũ",
        "Mức báo động theo thời gian: dưới BĐ I, BĐ I, BĐ II, BĐ III.",
        [flavour.series("A", "flood_level", [s.id for s in gauges], agg="max")],
        gauges,
        steps=[(float(i) if i else None, c) for i, c in enumerate(FLOOD_COLOURS)],
        mappings=flood_mappings,
        width=24,
        height=max(4, 2 + 2 * len(gauges)),
    )
    rain_ids = [s.id for s in rain]
    rain_bars = panels.time_series(
        "Lượng mưa 1 giờ",
        "Lượng mưa trong 1 giờ trước mỗi lần đo (mm), từ bộ đếm gầu lật hoặc lượng mưa từng kỳ.",
        [flavour.series("A", "rain_1h", rain_ids, agg="max")],
        rain,
        unit="lengthmm",
        bars=True,
        width=12,
        height=8,
    )
    totals = panels.bar_gauge(
        "Tổng lượng mưa 1, 3, 6, 24 giờ",
        "Tổng mới nhất của từng trạm; màu theo ngưỡng mưa 24 giờ của rủi ro mưa lớn.",
        [
            flavour.series(chr(ord("A") + i), param, rain_ids, agg="last", suffix=f" · {label}")
            for i, (param, label) in enumerate(RAIN_TOTALS)
        ],
        rain,
        unit="lengthmm",
        steps=[(None, "#8AB8FF"), *[(mm, colour) for mm, colour, _ in RAIN_RISK_24H]],
        width=12,
        height=8,
    )
    risk = panels.stat_panel(
        "Rủi ro mưa lớn (theo mưa 24 giờ)",
        "Cấp rủi ro thiên tai do mưa lớn mà lượng mưa 24 giờ mới nhất đạt trong một ngày "
        "(Quyết định 18/2021/QĐ-TTg: cấp 1 từ 100 mm, cấp 2 trên 200 mm, cấp 3 trên 400 mm). "
        "Cấp theo nhiều ngày mưa liên tiếp và địa hình do dịch vụ cảnh báo xét.",
        [flavour.latest("A", "rain_24h", rain_ids)],
        rain,
        unit="lengthmm",
        steps=rain_risk_steps(),
        mappings=range_mappings(
            [(0.0, 99.999, "Chưa tới cấp 1", None)]
            + [
                (mm, upper - 0.001, f"{name} ({mm:g} mm)", colour)
                for (mm, colour, name), upper in zip(
                    RAIN_RISK_24H, [mm for mm, _, _ in RAIN_RISK_24H[1:]] + [10_000.0], strict=True
                )
            ]
        ),
        background=True,
        width=8,
        height=6,
    )
    weather_ids = [s.id for s in weather]
    wind = panels.time_series(
        "Gió và gió giật",
        "Tốc độ gió và gió giật (m/s); đường đứt ở cấp 6, 8 (bão), 10 (bão mạnh), "
        "12 (bão rất mạnh).",
        [
            flavour.series("A", "wind_speed", weather_ids, suffix=" · gió"),
            flavour.series("B", "wind_gust", weather_ids, agg="max", suffix=" · giật"),
        ],
        weather,
        unit="velocityms",
        steps=WIND_STEPS,
        style=common_model.GraphThresholdsStyleMode.DASHED,
        width=16,
        height=6,
    )
    beaufort = [(low, high, text, None) for low, high, text in beaufort_ranges()]
    cap_gio = panels.stat_panel(
        "Cấp gió",
        "Cấp gió (thang Beaufort mở rộng tới cấp 17) của gió và gió giật mới nhất.",
        [
            flavour.latest("A", "wind_speed", weather_ids, suffix=" · gió"),
            flavour.latest("B", "wind_gust", weather_ids, suffix=" · giật"),
        ],
        weather,
        steps=WIND_STEPS,
        mappings=range_mappings(beaufort),
        width=8,
        height=6,
    )
    return board(SPEC, catalog, [*levels, alarm, rain_bars, totals, risk, wind, cap_gio])
