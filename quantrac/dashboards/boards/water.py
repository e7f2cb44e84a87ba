"""Nước mặt: VN_WQI in its colour scale, and pH, DO, COD, N-NH4, TSS against QCVN 08:2023
class A (pure)."""

from __future__ import annotations

from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard

from collector.indices import WQI_CATEGORIES
from quantrac.dashboards import panels
from quantrac.dashboards.boards.shell import BoardSpec, board
from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.flavours import Flavour
from quantrac.dashboards.sdk import range_mappings
from quantrac.dashboards.standards import QCVN_08_2023, WQI_STEPS, category_ranges, limit_steps

SPEC = BoardSpec(
    "nuoc-mat",
    "Nước mặt",
    "VN_WQI (Quyết định 1460/QĐ-TCMT) và các thông số so với QCVN 08:2023/BTNMT, mức A.",
)


def build(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Dashboard:
    water = catalog.of_kind("water")
    ids = [s.id for s in water]
    wqi = [
        panels.time_series(
            "VN_WQI giờ",
            "Chỉ số chất lượng nước theo giờ; nền màu theo thang của Quyết định 1460/QĐ-TCMT. "
            "Chỉ tính được khi trạm đo đủ 3 nhóm thông số (nhóm IV ít nhất 3 thông số).",
            [flavour.series("A", "vn_wqi", ids, agg="min")],
            water,
            unit="none",
            steps=WQI_STEPS,
            style=common_model.GraphThresholdsStyleMode.AREA,
            width=16,
            height=8,
        ),
        panels.stat_panel(
            "VN_WQI mới nhất",
            "Giá trị giờ mới nhất và tên mức: Rất tốt, Tốt, Trung bình, Xấu, Kém, "
            "Ô nhiễm rất nặng.",
            [flavour.latest("A", "vn_wqi", ids)],
            water,
            steps=WQI_STEPS,
            mappings=range_mappings(
                [
                    (low, high, name, colour)
                    for low, high, name, colour in category_ranges(WQI_CATEGORIES)
                ]
            ),
            width=8,
            height=8,
        ),
    ]
    limits = [
        panels.time_series(
            p.label if p.unit == "none" else f"{p.label} ({p.unit})",
            f"{p.label}; đường đứt: QCVN 08:2023/BTNMT mức A "
            + " – ".join(f"{'≥' if limit.lower else '≤'} {limit.value:g}" for limit in p.limits)
            + ".",
            [flavour.series("A", p.param, ids)],
            water,
            unit=p.unit if p.unit != "mg/L" else "none",
            steps=limit_steps(p),
            style=common_model.GraphThresholdsStyleMode.DASHED,
            width=12 if index < 4 else 24,
            height=8,
        )
        for index, p in enumerate(QCVN_08_2023)
    ]
    return board(SPEC, catalog, [*wqi, *limits])
