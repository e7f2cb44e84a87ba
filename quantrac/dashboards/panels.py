"""Panel shapes the boards share, on grafana-foundation-sdk's builders (pure).

Each function returns a finished panel, sized in grid units (Grafana's grid is 24 columns wide)
but not yet placed: :mod:`quantrac.dashboards.layout` places them. Series are named by station
id in the queries (the stores' tag) and renamed to the catalog's Vietnamese names here, so a
legend reads "Kim Long (sông Hương)", never ``kim_long``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from grafana_foundation_sdk.builders import (
    annotationslist,
    bargauge,
    common,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards.catalog import StationEntry
from quantrac.dashboards.sdk import Built, ThresholdsBuilder, rename_by_regex, thresholds

Steps = list[tuple[float | None, str]]


def renames(stations: Sequence[StationEntry]) -> list[dashboard.DataTransformerConfig]:
    """One rename per station: the id a query names a series by → the station's label."""
    return [rename_by_regex(f"^{s.id}(.*)$", f"{s.label}$1") for s in stations]


def station_names(stations: Sequence[StationEntry]) -> list[dashboard.ValueMapping]:
    """Station ids in a table column → their names."""
    options = {
        s.id: dashboard.ValueMappingResult(text=s.label, index=index)
        for index, s in enumerate(stations)
    }
    return [dashboard.ValueMap(options=options)]


def _sized(panel: dashboard.Panel, width: int, height: int) -> dashboard.Panel:
    panel.grid_pos = dashboard.GridPos(w=width, h=height)
    return panel


def time_series(
    title: str,
    description: str,
    targets: Sequence[cogvariants.Dataquery],
    stations: Sequence[StationEntry],
    *,
    unit: str,
    steps: Steps | None = None,
    style: common_model.GraphThresholdsStyleMode = common_model.GraphThresholdsStyleMode.LINE,
    bars: bool = False,
    mappings: list[dashboard.ValueMapping] | None = None,
    width: int = 12,
    height: int = 8,
    interval: str | None = None,
) -> dashboard.Panel:
    """Lines (or bars) over time, one per station, thresholds drawn as ``style``."""
    builder = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .targets([Built(t) for t in targets])
        .unit(unit)
        .transformations(renames(stations))
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(common_model.LegendDisplayMode.LIST)
            .placement(common_model.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common.VizTooltipOptions()
            .mode(common_model.TooltipDisplayMode.MULTI)
            .sort(common_model.SortOrder.NONE)
        )
        .span_nulls(False)
    )
    if bars:
        builder = builder.draw_style(common_model.GraphDrawStyle.BARS).fill_opacity(70)
    if interval is not None:
        builder = builder.interval(interval)
    if steps is not None:
        builder = builder.thresholds(ThresholdsBuilder(steps)).thresholds_style(
            common.GraphThresholdsStyleConfig().mode(style)
        )
    if mappings:
        builder = builder.mappings(mappings)
    return _sized(builder.build(), width, height)


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[cogvariants.Dataquery],
    stations: Sequence[StationEntry] = (),
    *,
    unit: str = "none",
    steps: Steps | None = None,
    mappings: list[dashboard.ValueMapping] | None = None,
    background: bool = True,
    no_value: str | None = None,
    decimals: float | None = None,
    series_steps: Mapping[str, Steps] | None = None,
    width: int = 6,
    height: int = 5,
) -> dashboard.Panel:
    """The last value of each series, coloured by its thresholds (``series_steps``: a series'
    own, by its displayed name)."""
    builder = (
        stat.Panel()
        .title(title)
        .description(description)
        .targets([Built(t) for t in targets])
        .unit(unit)
        .graph_mode(common_model.BigValueGraphMode.NONE)
        .color_mode(
            common_model.BigValueColorMode.BACKGROUND
            if background
            else common_model.BigValueColorMode.VALUE
        )
        .text_mode(common_model.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .transformations(renames(stations))
    )
    if steps is not None:
        builder = builder.thresholds(ThresholdsBuilder(steps))
    if mappings:
        builder = builder.mappings(mappings)
    if no_value is not None:
        builder = builder.no_value(no_value)
    if decimals is not None:
        builder = builder.decimals(decimals)
    for name, own in (series_steps or {}).items():
        builder = builder.override_by_name(
            name,
            [
                dashboard.DynamicConfigValue(id_val="thresholds", value=thresholds(own)),
                dashboard.DynamicConfigValue(id_val="color", value={"mode": "thresholds"}),
            ],
        )
    return _sized(builder.build(), width, height)


def state_timeline(
    title: str,
    description: str,
    targets: Sequence[cogvariants.Dataquery],
    stations: Sequence[StationEntry],
    *,
    steps: Steps,
    mappings: list[dashboard.ValueMapping],
    width: int = 24,
    height: int = 8,
    interval: str | None = None,
) -> dashboard.Panel:
    builder = (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .targets([Built(t) for t in targets])
        .transformations(renames(stations))
        .thresholds(ThresholdsBuilder(steps))
        .mappings(mappings)
        .color_scheme(_by_thresholds())
        .show_value(common_model.VisibilityMode.NEVER)
        .merge_values(True)
    )
    if interval is not None:
        builder = builder.interval(interval)
    return _sized(builder.build(), width, height)


def bar_gauge(
    title: str,
    description: str,
    targets: Sequence[cogvariants.Dataquery],
    stations: Sequence[StationEntry],
    *,
    unit: str,
    steps: Steps,
    maximum: float | None = None,
    width: int = 12,
    height: int = 8,
) -> dashboard.Panel:
    builder = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .targets([Built(t) for t in targets])
        .transformations(renames(stations))
        .unit(unit)
        .min(0)
        .thresholds(ThresholdsBuilder(steps))
        .display_mode(common_model.BarGaugeDisplayMode.BASIC)
        .orientation(common_model.VizOrientation.HORIZONTAL)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if maximum is not None:
        builder = builder.max(maximum)
    return _sized(builder.build(), width, height)


def station_table(
    title: str,
    description: str,
    targets: Sequence[cogvariants.Dataquery],
    stations: Sequence[StationEntry],
    *,
    transformations: list[dashboard.DataTransformerConfig],
    overrides: list[tuple[str, list[dashboard.DynamicConfigValue]]],
    width: int = 12,
    height: int = 8,
) -> dashboard.Panel:
    builder = (
        table.Panel()
        .title(title)
        .description(description)
        .targets([Built(t) for t in targets])
        .transformations(transformations)
        .override_by_name(
            "station",
            [
                dashboard.DynamicConfigValue(id_val="displayName", value="Trạm"),
                dashboard.DynamicConfigValue(id_val="mappings", value=station_names(stations)),
            ],
        )
    )
    for name, properties in overrides:
        builder = builder.override_by_name(name, properties)
    return _sized(builder.build(), width, height)


def incidents_list(width: int = 12, height: int = 10) -> dashboard.Panel:
    """The incidents the alerting service drew on Grafana (docs/notifiers.md, Grafana)."""
    builder = (
        annotationslist.Panel()
        .title("Sự cố gần đây")
        .description(
            "Cảnh báo của dịch vụ alerting (lũ, mưa lớn, gió, VN_AQI, mất dữ liệu): mỗi sự cố "
            "là một chú thích trên mọi bảng, kết thúc khi sự cố được giải quyết."
        )
        .tags(["quantrac"])
        .only_from_this_dashboard(False)
        .only_in_time_range(True)
        .limit(20)
        .show_tags(True)
        .show_time(True)
        .show_user(False)
    )
    return _sized(builder.build(), width, height)


def _by_thresholds() -> dashboard_builders.FieldColor:
    return dashboard_builders.FieldColor().mode(dashboard.FieldColorModeId.THRESHOLDS)
