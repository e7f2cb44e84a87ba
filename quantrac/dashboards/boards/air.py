"""Không khí: VN_AQI hourly and daily in the six official colours, and each pollutant against
its QCVN 05:2023 limits drawn as lines (pure)."""

from __future__ import annotations

from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard

from collector.indices import AQI_CATEGORIES
from quantrac.dashboards import panels
from quantrac.dashboards.boards.shell import BoardSpec, board
from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.flavours import Flavour
from quantrac.dashboards.sdk import range_mappings
from quantrac.dashboards.standards import AQI_STEPS, QCVN_05_2023, category_ranges, limit_steps

SPEC = BoardSpec(
    "khong-khi",
    "Không khí",
    "VN_AQI giờ và ngày (Quyết định 1459/QĐ-TCMT) và nồng độ các chất so với QCVN 05:2023/BTNMT.",
)
AREA = common_model.GraphThresholdsStyleMode.AREA
LINE = common_model.GraphThresholdsStyleMode.DASHED


def aqi_mappings() -> list[dashboard.ValueMapping]:
    return range_mappings(
        [
            (low, high, f"{name}", colour)
            for low, high, name, colour in category_ranges(AQI_CATEGORIES)
        ]
    )


def build(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Dashboard:
    air = catalog.of_kind("air")
    ids = [s.id for s in air]
    aqi = [
        panels.time_series(
            "VN_AQI giờ",
            "Chỉ số giờ (NowCast cho bụi), nền màu theo 6 mức: Tốt, Trung bình, Kém, Xấu, "
            "Rất xấu, Nguy hại.",
            [flavour.series("A", "vn_aqi_h", ids, agg="max")],
            air,
            unit="none",
            steps=AQI_STEPS,
            style=AREA,
            width=16,
            height=9,
        ),
        panels.stat_panel(
            "VN_AQI ngày",
            "Chỉ số của ngày gần nhất đã tính (sau nửa đêm), với tên mức.",
            [flavour.latest("A", "vn_aqi_d", ids)],
            air,
            steps=AQI_STEPS,
            mappings=aqi_mappings(),
            width=8,
            height=9,
        ),
        panels.time_series(
            "VN_AQI ngày theo ngày",
            "Mỗi cột là một ngày (tính lúc 24:00 giờ Việt Nam).",
            [flavour.series("A", "vn_aqi_d", ids, agg="max")],
            air,
            unit="none",
            steps=AQI_STEPS,
            style=AREA,
            bars=True,
            width=24,
            height=7,
        ),
    ]
    pollutants = [
        panels.time_series(
            f"{p.label} ({p.unit})",
            f"Nồng độ {p.label}; đường đứt: giới hạn QCVN 05:2023/BTNMT "
            + ", ".join(
                f"{limit.value:g} µg/Nm³ trung bình {limit.averaging}" for limit in p.limits
            )
            + ".",
            [flavour.series("A", p.param, ids)],
            air,
            unit="conμgm3",
            steps=limit_steps(p),
            style=LINE,
            width=12,
            height=8,
        )
        for p in QCVN_05_2023
    ]
    return board(SPEC, catalog, [*aqi, *pollutants])
