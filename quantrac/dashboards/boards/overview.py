"""Toàn tỉnh: the province at a glance — the map of stations by state, how many are heard, who
is above an alarm, the latest VN_AQI and water levels, the recent incidents (pure)."""

from __future__ import annotations

import csv
import io

from grafana_foundation_sdk.builders import geomap
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard, testdata
from grafana_foundation_sdk.models import geomap as geomap_model

from quantrac.dashboards import panels
from quantrac.dashboards.boards.shell import BoardSpec, board
from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.flavours import Flavour
from quantrac.dashboards.panels import Steps
from quantrac.dashboards.sdk import (
    MIXED,
    Built,
    catalog_ref,
    rename_by_regex,
    thresholds,
    value_mappings,
)
from quantrac.dashboards.standards import (
    AQI_STEPS,
    FLOOD_COLOURS,
    FLOOD_NAMES,
    OFFLINE_GREY,
    flood_steps,
)

SPEC = BoardSpec(
    "toan-tinh",
    "Toàn tỉnh",
    "Các trạm quan trắc của tỉnh trên bản đồ: trạng thái, báo động lũ, VN_AQI, sự cố.",
)
CATALOG_COLUMNS = ("station", "name", "district", "kind", "lat", "lon")
# The map's joined table names its value columns so in both flavours (a Prometheus table names
# them "Value #<refId>").
MAP_FIELDS = {"FLOOD": "flood_level", "AQI": "vn_aqi_h", "SEEN": "online"}


def catalog_csv(catalog: BoardCatalog) -> str:
    """The located stations as the CSV table the map's first query returns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CATALOG_COLUMNS)
    for s in catalog.located:
        writer.writerow([s.id, s.label, s.district, s.kind, f"{s.lat:.5f}", f"{s.lon:.5f}"])
    return out.getvalue()


def _layer(name: str, field: str, size: int, symbol: str) -> common_model.MapLayerOptions:
    return common_model.MapLayerOptions(
        type_val="markers",
        name=name,
        config={
            "showLegend": True,
            "style": {
                "color": {"field": field, "fixed": OFFLINE_GREY},
                "opacity": 0.9,
                "size": {"fixed": size},
                "symbol": {"fixed": f"img/icons/marker/{symbol}.svg", "mode": "fixed"},
                "text": {"field": "name", "mode": "field", "fixed": ""},
                "textConfig": {"fontSize": 11, "offsetY": -14, "textAlign": "center"},
            },
        },
        location=common_model.FrameGeometrySource(
            mode=common_model.FrameGeometrySourceMode.COORDS, latitude="lat", longitude="lon"
        ),
        tooltip=True,
    )


def station_map(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Panel:
    """Every located station: grey when not heard for 15 minutes, and over it a square in its
    flood alarm colour (gauges) or a circle in its VN_AQI colour (air stations)."""
    stations = testdata.Dataquery(
        ref_id="CAT",
        scenario_id="csv_content",
        csv_content=catalog_csv(catalog),
        datasource=catalog_ref(),
    )
    targets = [
        stations,
        flavour.latest("FLOOD", "flood_level", name="flood_level", table=True),
        flavour.latest("AQI", "vn_aqi_h", name="vn_aqi_h", table=True),
        flavour.seen("SEEN"),
    ]
    transformations = [
        *(rename_by_regex(f"^Value #{ref}$", field) for ref, field in MAP_FIELDS.items()),
        dashboard.DataTransformerConfig(
            id_val="joinByField", options={"byField": "station", "mode": "outer"}
        ),
    ]
    transparent = "transparent"  # a station without that value (not a gauge) shows nothing
    overrides: list[tuple[str, Steps]] = [
        ("online", [(None, OFFLINE_GREY), (1.0, "#5794F2")]),
        (
            "flood_level",
            [(None, transparent)] + [(float(i), c) for i, c in enumerate(FLOOD_COLOURS)],
        ),
        ("vn_aqi_h", [(None, transparent), (0.0, AQI_STEPS[0][1]), *AQI_STEPS[1:]]),
    ]
    builder = (
        geomap.Panel()
        .title("Bản đồ trạm")
        .description(
            "Xám: không nhận được số liệu trong 15 phút. Ô vuông: mức báo động lũ của trạm "
            "thủy văn. Hình tròn: VN_AQI giờ của trạm không khí, theo màu của Quyết định "
            "1459/QĐ-TCMT."
        )
        .datasource(MIXED)
        .targets([Built(t) for t in targets])
        .transformations(transformations)
    )
    for field, steps in overrides:
        builder = builder.override_by_name(
            field,
            [
                dashboard.DynamicConfigValue(id_val="thresholds", value=thresholds(steps)),
                dashboard.DynamicConfigValue(id_val="color", value={"mode": "thresholds"}),
            ],
        )
    panel = builder.build()
    panel.options = geomap_model.Options(
        view=geomap_model.MapViewConfig(id_val="fit", padding=20, all_layers=True),
        controls=geomap_model.ControlsOptions(
            show_zoom=True, mouse_wheel_zoom=True, show_scale=True
        ),
        basemap=common_model.MapLayerOptions(type_val="default", name="Bản đồ nền"),
        layers=[
            _layer("Trạng thái trạm", "online", 8, "circle"),
            _layer("Mực nước (báo động)", "flood_level", 16, "square"),
            _layer("VN_AQI giờ", "vn_aqi_h", 16, "circle"),
        ],
        tooltip=geomap_model.TooltipOptions(mode=geomap_model.TooltipMode.DETAILS),
    )
    panel.grid_pos = dashboard.GridPos(w=14, h=16)
    return panel


def build(catalog: BoardCatalog, flavour: Flavour) -> dashboard.Dashboard:
    gauges = catalog.of_kind("hydro")
    air = catalog.of_kind("air")
    flood_mappings = value_mappings(
        {str(level): (FLOOD_NAMES[level], FLOOD_COLOURS[level]) for level in range(4)}
    )
    counts = [
        panels.stat_panel(
            "Trạm đang hoạt động",
            f"Số trạm gửi số liệu trong 15 phút cuối của khoảng thời gian (trên tổng số "
            f"{len(catalog.stations)} trạm của danh mục).",
            [flavour.online_count("A")],
            steps=[(None, OFFLINE_GREY), (1.0, "#5794F2")],
            no_value="0",
            width=5,
            height=4,
        ),
        panels.stat_panel(
            "Trạm trên báo động lũ",
            "Số trạm thủy văn có mực nước mới nhất từ báo động I trở lên "
            "(Quyết định 05/2020/QĐ-TTg).",
            [flavour.count_at_least("A", "flood_level", 1)],
            steps=[(None, FLOOD_COLOURS[0]), (1.0, FLOOD_COLOURS[2])],
            no_value="0",
            width=5,
            height=4,
        ),
        panels.stat_panel(
            "Trạm có VN_AQI từ Kém",
            "Số trạm không khí có VN_AQI giờ mới nhất từ 101 (Kém) trở lên.",
            [flavour.count_at_least("A", "vn_aqi_h", 101)],
            steps=[(None, AQI_STEPS[0][1]), (1.0, AQI_STEPS[2][1])],
            no_value="0",
            width=5,
            height=4,
        ),
    ]
    latest = [
        panels.stat_panel(
            "VN_AQI giờ mới nhất",
            "Chỉ số chất lượng không khí giờ (Quyết định 1459/QĐ-TCMT), màu theo 6 mức.",
            [flavour.latest("A", "vn_aqi_h", [s.id for s in air])],
            air,
            steps=AQI_STEPS,
            decimals=0,
            width=5,
            height=6,
        ),
        panels.stat_panel(
            "Mực nước mới nhất",
            "Mực nước mới nhất của từng trạm, màu theo báo động I/II/III của chính trạm đó.",
            [flavour.latest("A", "water_level", [s.id for s in gauges])],
            gauges,
            unit="lengthm",
            decimals=2,
            # A gauge's colours are its own BĐ I/II/III.
            series_steps={s.label: flood_steps(s.flood_levels) for s in gauges},
            width=5,
            height=6,
        ),
        panels.stat_panel(
            "Báo động lũ",
            "Mức báo động mới nhất của từng trạm thủy văn.",
            [flavour.latest("A", "flood_level", [s.id for s in gauges])],
            gauges,
            steps=[(float(i) if i else None, c) for i, c in enumerate(FLOOD_COLOURS)],
            mappings=flood_mappings,
            width=5,
            height=6,
        ),
    ]
    return board(
        SPEC,
        catalog,
        [station_map(catalog, flavour), *counts, *latest, panels.incidents_list(10, 8)],
    )
