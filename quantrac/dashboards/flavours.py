"""The boards' queries in the two languages, from one set of shapes (pure).

Both read the schema the collector writes (docs/storage.md, ``collector/schema.py``):

- **InfluxQL** (InfluxDB 1.x, 2.x through its DBRP mapping, 3.x): measurement ``reading``, tags
  ``station``, ``param``, ``kind``, ``district``, ``unit``, ``derived``; fields ``value``,
  ``quality`` (0 good, 1 suspect, 2 bad, 9 unchecked), ``status``.
- **PromQL / MetricsQL** (VictoriaMetrics through Grafana's Prometheus datasource): the same
  point as the metrics ``reading_value``, ``reading_quality``, ``reading_status`` with the tags
  as labels.

Every query of a board is one of the shapes below, so a board reads the same in both
languages; each shape says what it returns. Grafana substitutes ``$district``, ``$station``,
``$timeFilter``, ``$__interval``, ``$__range`` and ``${__to}`` before sending a query
(tests/dashboards/ do the same against real servers). A value flagged bad by QC is never drawn
as a measurement; suspect values are (they are real, only doubtful).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard, prometheus

from collector.schema import DERIVED_TAG, MEASUREMENT
from quantrac.dashboards.sdk import InfluxQLQuery, influxdb_ref, victoriametrics_ref

BAD = 2  # collector's Quality.BAD
SEEN_WINDOW = "15m"  # a station heard within this before the range's end counts as online
SUBQUERY_STEP = "1m"  # the shortest poll interval: every point is seen by the subquery

Agg = Literal["mean", "max", "min", "last", "sum"]


def regex_of(values: Sequence[str]) -> str:
    """``kim_long|phu_oc``: ids are ``[a-z0-9_]`` (gateway.config), nothing to escape."""
    return "|".join(values)


class Flavour(Protocol):
    """One query language: the shapes every board is made of."""

    name: str  # "influxdb" | "victoriametrics": the folder of its JSON under dashboards/
    datasource: dashboard.DataSourceRef
    series_label: str  # what names a series in a legend before the catalog renames it

    def series(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        agg: Agg = "mean",
        suffix: str = "",
    ) -> cogvariants.Dataquery:
        """One line per station over time, in steps of ``$__interval`` (bad values left out)."""
        ...

    def latest(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        name: str = "",
        table: bool = False,
        suffix: str = "",
    ) -> cogvariants.Dataquery:
        """The last not-bad value of each station in the range (as a table row when ``table``,
        the value column named ``name``)."""
        ...

    def seen(self, ref: str) -> cogvariants.Dataquery:
        """A table: stations heard in the 15 min before the range's end, column ``online`` =
        how many readings (the gateway's heartbeat and derived series do not count)."""
        ...

    def online_count(self, ref: str) -> cogvariants.Dataquery:
        """How many stations were heard in the 15 min before the range's end."""
        ...

    def count_at_least(self, ref: str, param: str, level: float) -> cogvariants.Dataquery:
        """How many stations' last ``param`` in the range is at least ``level``."""
        ...

    def heartbeat(self, ref: str) -> cogvariants.Dataquery:
        """The gateway's ``station_online`` per station in steps of ``$__interval`` (the panel
        sets it to the longest poll interval): 1 online, 0 not answering, nothing when the
        gateway itself was silent."""
        ...

    def completeness(
        self, ref: str, stations: Sequence[str], polls_per_day: int
    ) -> cogvariants.Dataquery:
        """Per station and local day: successful polls as % of the polls a day expects."""
        ...

    def flagged_share(self, ref: str, quality: int, suffix: str = "") -> cogvariants.Dataquery:
        """Per station: % of its readings in the range that QC flagged ``quality`` (1, 2)."""
        ...

    def last_seen(self, ref: str) -> cogvariants.Dataquery:
        """A table: per station, when it last sent a reading — in the column
        ``last_seen_column``; the table's other columns ``last_seen_hidden`` are noise."""
        ...

    @property
    def last_seen_column(self) -> str: ...

    @property
    def last_seen_hidden(self) -> tuple[str, ...]: ...


class InfluxQL:
    name = "influxdb"
    series_label = "$tag_station"

    def __init__(self, timezone: str) -> None:
        self.datasource = influxdb_ref()
        self.timezone = timezone

    # -- pieces ------------------------------------------------------------------------------

    @staticmethod
    def _where(*conditions: str) -> str:
        variables = '"district" =~ /^$district$/ AND "station" =~ /^$station$/'
        return " AND ".join([*conditions, variables])

    @staticmethod
    def _param(param: str) -> str:
        return f"\"param\" = '{param}'"

    @staticmethod
    def _stations(stations: Sequence[str]) -> list[str]:
        return [f'"station" =~ /^({regex_of(stations)})$/'] if stations else []

    def _query(
        self, ref: str, text: str, alias: str | None = None, table: bool = False
    ) -> InfluxQLQuery:
        return InfluxQLQuery(
            query=text,
            ref_id=ref,
            alias=alias,
            result_format="table" if table else "time_series",
            datasource=self.datasource,
        )

    _FROM = f'FROM "{MEASUREMENT}"'
    _NOT_DERIVED = f"\"{DERIVED_TAG}\" <> 'true'"
    _NOT_HEARTBEAT = "\"param\" <> 'station_online'"
    _RECENT = f"time > ${{__to}}ms - {SEEN_WINDOW} AND time <= ${{__to}}ms"

    # -- shapes ------------------------------------------------------------------------------

    def series(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        agg: Agg = "mean",
        suffix: str = "",
    ) -> InfluxQLQuery:
        where = self._where(self._param(param), f'"quality" <> {BAD}', *self._stations(stations))
        text = (
            f'SELECT {agg}("value") {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY time($__interval), "station" fill(none)'
        )
        return self._query(ref, text, alias=f"$tag_station{suffix}")

    def latest(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        name: str = "",
        table: bool = False,
        suffix: str = "",
    ) -> InfluxQLQuery:
        where = self._where(self._param(param), f'"quality" <> {BAD}', *self._stations(stations))
        column = f' AS "{name}"' if name else ""
        text = (
            f'SELECT last("value"){column} {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY "station"'
        )
        return self._query(ref, text, alias=None if table else f"$tag_station{suffix}", table=table)

    def _seen_inner(self) -> str:
        where = self._where(self._NOT_HEARTBEAT, self._NOT_DERIVED)
        return (
            f'SELECT count("quality") AS "online" {self._FROM} WHERE {where} AND {self._RECENT} '
            'GROUP BY "station"'
        )

    def seen(self, ref: str) -> InfluxQLQuery:
        return self._query(ref, self._seen_inner(), table=True)

    def online_count(self, ref: str) -> InfluxQLQuery:
        return self._query(ref, f'SELECT count("online") FROM ({self._seen_inner()})')

    def count_at_least(self, ref: str, param: str, level: float) -> InfluxQLQuery:
        where = self._where(self._param(param))
        inner = (
            f'SELECT last("value") AS "level" {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY "station"'
        )
        return self._query(ref, f'SELECT count("level") FROM ({inner}) WHERE "level" >= {level:g}')

    def heartbeat(self, ref: str) -> InfluxQLQuery:
        where = self._where(self._param("station_online"))
        text = (
            f'SELECT min("value") {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY time($__interval), "station" fill(null)'
        )
        return self._query(ref, text, alias="$tag_station")

    def completeness(self, ref: str, stations: Sequence[str], polls_per_day: int) -> InfluxQLQuery:
        where = self._where(self._param("station_online"), *self._stations(stations))
        # tz(): the days are the province's calendar days, not UTC ones.
        text = (
            f'SELECT sum("value") * 100 / {polls_per_day} {self._FROM} WHERE {where} '
            f"AND $timeFilter GROUP BY time(1d), \"station\" fill(0) tz('{self.timezone}')"
        )
        return self._query(ref, text, alias="$tag_station")

    def flagged_share(self, ref: str, quality: int, suffix: str = "") -> InfluxQLQuery:
        # InfluxQL has no CASE: for q in {0, 1, 2}, q·(2−q) is 1 only for 1 (suspect) and
        # q·(q−1)/2 only for 2 (bad); the mean of that indicator is the share.
        indicator = (
            '"quality" * (2 - "quality")' if quality == 1 else '"quality" * ("quality" - 1) / 2'
        )
        where = self._where(f'"quality" <= {BAD}', self._NOT_HEARTBEAT, self._NOT_DERIVED)
        inner = (
            f'SELECT {indicator} AS "flag" {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY "station"'
        )
        text = f'SELECT mean("flag") * 100 FROM ({inner}) GROUP BY "station"'
        return self._query(ref, text, alias=f"$tag_station{suffix}")

    # InfluxQL gives a last() row the time of the point it picked: that is the answer.
    last_seen_column = "Time"
    last_seen_hidden = ("quality",)

    def last_seen(self, ref: str) -> InfluxQLQuery:
        where = self._where(self._NOT_HEARTBEAT, self._NOT_DERIVED)
        text = (
            f'SELECT last("quality") AS "quality" {self._FROM} WHERE {where} AND $timeFilter '
            'GROUP BY "station"'
        )
        return self._query(ref, text, table=True)


class PromQL:
    name = "victoriametrics"
    series_label = "{{station}}"

    def __init__(self, timezone: str) -> None:
        self.datasource = victoriametrics_ref()
        self.timezone = timezone

    @staticmethod
    def _selector(metric: str, *matchers: str) -> str:
        variables = 'district=~"$district", station=~"$station"'
        return f"{MEASUREMENT}_{metric}{{{', '.join([*matchers, variables])}}}"

    @staticmethod
    def _stations(stations: Sequence[str]) -> list[str]:
        return [f'station=~"{regex_of(stations)}"'] if stations else []

    def _query(
        self,
        ref: str,
        expr: str,
        legend: str | None = "{{station}}",
        instant: bool = False,
        table: bool = False,
        interval: str | None = None,
    ) -> prometheus.Dataquery:
        return prometheus.Dataquery(
            expr=expr,
            ref_id=ref,
            legend_format=legend,
            instant=True if instant else None,
            range_val=None if instant else True,
            format_val=prometheus.PromQueryFormat.TABLE if table else None,
            editor_mode=prometheus.QueryEditorMode.CODE,
            datasource=self.datasource,
            interval=interval,
        )

    _NOT_DERIVED = f'{DERIVED_TAG}!="true"'
    _NOT_HEARTBEAT = 'param!="station_online"'

    def series(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        agg: Agg = "mean",
        suffix: str = "",
    ) -> prometheus.Dataquery:
        matchers = [f'param="{param}"', *self._stations(stations)]
        value = self._selector("value", *matchers)
        # Value and quality of a point share its timestamp: at each step both are that point.
        expr = f"{value} and {self._selector('quality', *matchers)} != {BAD}"
        return self._query(ref, expr, legend=f"{{{{station}}}}{suffix}")

    def latest(
        self,
        ref: str,
        param: str,
        stations: Sequence[str] = (),
        name: str = "",
        table: bool = False,
        suffix: str = "",
    ) -> prometheus.Dataquery:
        matchers = [f'param="{param}"', *self._stations(stations)]
        value = self._selector("value", *matchers)
        good = f"{value} and {self._selector('quality', *matchers)} != {BAD}"
        # A subquery: the last value that was not bad, as InfluxQL's last() WHERE quality <> 2.
        expr = f"last_over_time(({good})[$__range:{SUBQUERY_STEP}])"
        legend = name or f"{{{{station}}}}{suffix}"
        return self._query(ref, expr, legend=legend, instant=True, table=table)

    def _seen_inner(self) -> str:
        quality = self._selector("quality", self._NOT_HEARTBEAT, self._NOT_DERIVED)
        return f"sum by (station) (count_over_time({quality}[{SEEN_WINDOW}]))"

    def seen(self, ref: str) -> prometheus.Dataquery:
        return self._query(ref, self._seen_inner(), legend="online", instant=True, table=True)

    def online_count(self, ref: str) -> prometheus.Dataquery:
        return self._query(ref, f"count({self._seen_inner()})", legend=None, instant=True)

    def count_at_least(self, ref: str, param: str, level: float) -> prometheus.Dataquery:
        value = self._selector("value", f'param="{param}"')
        expr = f"count(last_over_time({value}[$__range]) >= {level:g})"
        return self._query(ref, expr, legend=None, instant=True)

    def heartbeat(self, ref: str) -> prometheus.Dataquery:
        value = self._selector("value", 'param="station_online"')
        return self._query(ref, f"min_over_time({value}[$__interval])")

    def completeness(
        self, ref: str, stations: Sequence[str], polls_per_day: int
    ) -> prometheus.Dataquery:
        value = self._selector("value", 'param="station_online"', *self._stations(stations))
        # Grafana aligns a 1d step to the dashboard's local midnight; "offset -1d" makes the
        # point at midnight D count the day that starts there, as InfluxQL's time(1d) does.
        expr = f"sum by (station) (sum_over_time({value}[1d] offset -1d)) * 100 / {polls_per_day}"
        return self._query(ref, expr, interval="1d")

    def flagged_share(self, ref: str, quality: int, suffix: str = "") -> prometheus.Dataquery:
        selector = self._selector("quality", self._NOT_HEARTBEAT, self._NOT_DERIVED)
        flagged = f"sum by (station) (count_eq_over_time({selector}[$__range], {quality}))"
        checked = f"sum by (station) (count_le_over_time({selector}[$__range], {BAD}))"
        legend = f"{{{{station}}}}{suffix}"
        return self._query(ref, f"{flagged} / {checked} * 100", legend=legend, instant=True)

    # An instant query's rows carry the evaluation time; the value is the last sample's time.
    last_seen_column = "Value"
    last_seen_hidden = ("Time",)

    def last_seen(self, ref: str) -> prometheus.Dataquery:
        selector = self._selector("quality", self._NOT_HEARTBEAT, self._NOT_DERIVED)
        expr = f"max by (station) (tlast_over_time({selector}[$__range])) * 1000"
        return self._query(ref, expr, legend="last_seen", instant=True, table=True)


def flavour_of(name: str, timezone: str) -> Flavour:
    if name == "influxdb":
        return InfluxQL(timezone)
    if name == "victoriametrics":
        return PromQL(timezone)
    raise ValueError(f"unknown store {name!r}: influxdb or victoriametrics")
