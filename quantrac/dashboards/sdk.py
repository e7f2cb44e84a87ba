"""What grafana-foundation-sdk lacks, as typed pieces of its own kind.

The SDK types Prometheus and TestData queries; an InfluxDB (InfluxQL) query is "another
datasource's query", which the SDK takes as any :class:`Dataquery` variant. This module gives it
one (:class:`InfluxQLQuery`, the JSON Grafana's InfluxDB datasource saves for a raw InfluxQL
query) and registers it with the SDK's runtime, so that ``Dashboard.from_json`` reads our boards
back into typed objects — the round trip the tests hold the generated files to.

A mixed panel (the map: a TestData table of the catalog beside the store's queries) gives the
SDK "datasource" as the type of every target; :func:`register` lets such targets be read by their
own datasource's type, as Grafana itself does.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass

from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard, testdata
from grafana_foundation_sdk.models import datasource as datasource_model

INFLUXDB_UID = "quantrac-influxdb"
VICTORIAMETRICS_UID = "quantrac-victoriametrics"
CATALOG_UID = "quantrac-catalog"  # a TestData datasource: the station catalog as a CSV table
TESTDATA_TYPE = "grafana-testdata-datasource"
MIXED = dashboard.DataSourceRef(type_val="datasource", uid="-- Mixed --")
GRAFANA_ANNOTATIONS = dashboard.DataSourceRef(type_val="grafana", uid="-- Grafana --")


def influxdb_ref() -> dashboard.DataSourceRef:
    return dashboard.DataSourceRef(type_val="influxdb", uid=INFLUXDB_UID)


def victoriametrics_ref() -> dashboard.DataSourceRef:
    return dashboard.DataSourceRef(type_val="prometheus", uid=VICTORIAMETRICS_UID)


def catalog_ref() -> dashboard.DataSourceRef:
    return dashboard.DataSourceRef(type_val=TESTDATA_TYPE, uid=CATALOG_UID)


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL query of Grafana's InfluxDB datasource (query language InfluxQL)."""

    def __init__(
        self,
        query: str = "",
        ref_id: str = "",
        alias: str | None = None,
        result_format: typing.Literal["time_series", "table"] = "time_series",
        datasource: dashboard.DataSourceRef | None = None,
        hide: bool | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.alias = alias
        self.result_format = result_format
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        if data.get("rawQuery") is not True:
            raise ValueError(f"query {data.get('refId')!r}: only raw InfluxQL queries are used")
        return cls(
            query=str(data.get("query", "")),
            ref_id=str(data.get("refId", "")),
            alias=data.get("alias"),
            result_format=data.get("resultFormat", "time_series"),
            datasource=(
                dashboard.DataSourceRef.from_json(data["datasource"])
                if "datasource" in data
                else None
            ),
            hide=data.get("hide"),
        )


@dataclass
class Built(Builder[cogvariants.Dataquery]):
    """A finished query as the builder the SDK's panels take."""

    query: cogvariants.Dataquery

    def build(self) -> cogvariants.Dataquery:
        return self.query


def _mixed_target(data: dict[str, typing.Any]) -> cogvariants.Dataquery:
    """A target of a mixed panel, read by its own datasource's type."""
    own = data.get("datasource") or {}
    kind = own.get("type", "") if isinstance(own, dict) else ""
    if kind and kind != "datasource":
        return cogruntime.dataquery_from_json(data, kind)
    return datasource_model.Dataquery.from_json(data)


_registered = False


def register() -> None:
    """Teach the SDK's runtime our query types (idempotent)."""
    global _registered
    if _registered:
        return
    register_default_plugins()
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier="influxdb", from_json_hook=InfluxQLQuery.from_json)
    )
    # Grafana 10+ names the TestData plugin so; the SDK knows it by its old id "testdata".
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(
            identifier=TESTDATA_TYPE, from_json_hook=testdata.Dataquery.from_json
        )
    )
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier="datasource", from_json_hook=_mixed_target)
    )
    _registered = True


# -- small constructors the boards share ----------------------------------------------------


def thresholds(steps: list[tuple[float | None, str]]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig(
        mode=dashboard.ThresholdsMode.ABSOLUTE,
        steps=[dashboard.Threshold(value=value, color=colour) for value, colour in steps],
    )


class ThresholdsBuilder(Builder[dashboard.ThresholdsConfig]):
    def __init__(self, steps: list[tuple[float | None, str]]) -> None:
        self._config = thresholds(steps)

    def build(self) -> dashboard.ThresholdsConfig:
        return self._config


def range_mappings(
    ranges: Sequence[tuple[float, float, str, str | None]],
) -> list[dashboard.ValueMapping]:
    """Value → text (and colour) by range: "cấp 8", "Kém"."""
    mappings: list[dashboard.ValueMapping] = []
    for index, (low, high, text, colour) in enumerate(ranges):
        result = dashboard.ValueMappingResult(text=text, color=colour, index=index)
        mappings.append(
            dashboard.RangeMap(
                options=dashboard.DashboardRangeMapOptions(from_val=low, to=high, result=result)
            )
        )
    return mappings


def value_mappings(values: dict[str, tuple[str, str | None]]) -> list[dashboard.ValueMapping]:
    """Exact value → text (and colour): 0 → "Dưới BĐ I"."""
    options = {
        key: dashboard.ValueMappingResult(text=text, color=colour, index=index)
        for index, (key, (text, colour)) in enumerate(values.items())
    }
    return [dashboard.ValueMap(options=options)]


def rename_by_regex(pattern: str, replacement: str) -> dashboard.DataTransformerConfig:
    return dashboard.DataTransformerConfig(
        id_val="renameByRegex", options={"regex": pattern, "renamePattern": replacement}
    )
