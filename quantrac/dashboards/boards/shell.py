"""What every board has: its frame (uid, Vietnamese title, the site's time zone, links to the
other boards), the district and station variables, and the incidents as annotations (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard

from quantrac.dashboards.catalog import BoardCatalog
from quantrac.dashboards.layout import place
from quantrac.dashboards.sdk import GRAFANA_ANNOTATIONS

BOARD_TAG = "quantrac"
# The alerting service's Grafana notifier tags every annotation "quantrac" (its default
# ``tags``) besides kind:, severity:, station:, incident: … (alerting/notifiers/grafana.py).
INCIDENT_TAGS = ("quantrac",)
ALL = "$__all"


@dataclass(frozen=True, slots=True)
class BoardSpec:
    slug: str  # the file name and the uid's tail
    title: str
    description: str


def custom_values(pairs: Sequence[tuple[str, str]]) -> str:
    """A custom variable's options, "text : value" separated by commas (a comma in a name is
    escaped, as Grafana's custom variable reads them)."""
    return ",".join(f"{text.replace(',', chr(92) + ',')} : {value}" for text, value in pairs)


def variables(catalog: BoardCatalog) -> list[builders.CustomVariable]:
    """District and station, both from the catalog, several at once, all by default."""
    everything = dashboard.VariableOption(selected=True, text=["All"], value=[ALL])
    district = (
        builders.CustomVariable("district")
        .label("Huyện / quận")
        .description("Đơn vị hành chính của trạm (theo danh mục trạm)")
        .values(custom_values([(d, d) for d in catalog.districts]))
        .multi(True)
        .include_all(True)
        .current(everything)
    )
    station = (
        builders.CustomVariable("station")
        .label("Trạm")
        .description("Trạm quan trắc (theo danh mục trạm)")
        .values(custom_values([(s.label, s.id) for s in catalog.stations]))
        .multi(True)
        .include_all(True)
        .current(everything)
    )
    return [district, station]


def incident_annotations() -> builders.AnnotationQuery:
    return (
        builders.AnnotationQuery()
        .name("Sự cố")
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .icon_color("#F2495C")
        .type("tags")
        .target(
            builders.AnnotationTarget()
            .type("tags")
            .tags(list(INCIDENT_TAGS))
            .match_any(False)
            .limit(200)
        )
    )


def built_in_annotations() -> builders.AnnotationQuery:
    return (
        builders.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(GRAFANA_ANNOTATIONS)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )


def uid_of(slug: str) -> str:
    """The same board in both flavours has one uid: a Grafana serves one flavour at a time."""
    return f"quantrac-{slug}"


def board(
    spec: BoardSpec,
    catalog: BoardCatalog,
    panels: Sequence[dashboard.Panel],
) -> dashboard.Dashboard:
    builder = (
        builders.Dashboard(spec.title)
        .uid(uid_of(spec.slug))
        .description(spec.description)
        .tags([BOARD_TAG])
        .timezone(catalog.timezone)
        .week_start("monday")
        .time("now-2d", "now")
        .refresh("1m")
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .annotations([built_in_annotations(), incident_annotations()])
        .link(
            builders.DashboardLink("Các bảng quan trắc")
            .type(dashboard.DashboardLinkType.DASHBOARDS)
            .tags([BOARD_TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in variables(catalog):
        builder = builder.with_variable(variable)
    built = builder.build()
    built.panels = list(place(panels))
    return built
