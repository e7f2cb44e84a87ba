"""Run a board's queries against a store as Grafana's datasources would (I/O).

For the tests (every query of every panel against a real influxd and victoria-metrics) and for
the pictures in docs/dashboards.md: a target of a board's JSON is interpolated
(:mod:`quantrac.dashboards.grafana`), sent the way the datasource sends it — InfluxQL to
``/query`` with ``epoch=ms``, PromQL to ``/api/v1/query_range`` (step aligned in the board's time
zone) or ``/api/v1/query`` for an instant query — and its answer becomes :class:`Series`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from quantrac.dashboards.grafana import (
    TimeRange,
    align_range,
    board_variables,
    interpolate,
    interval_ms,
    prometheus_step_s,
)
from quantrac.dashboards.provisioning import MIN_INTERVAL


class QueryError(Exception):
    """The store refused a query: the message has the query as sent and the store's answer."""


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an answer: a name (column or metric), its tags or labels, points in ms."""

    name: str
    labels: Mapping[str, str]
    points: tuple[tuple[int, float | None], ...]

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points if v is not None]


@dataclass(frozen=True, slots=True)
class Answer:
    ref: str
    sent: str  # the query as the store got it
    series: tuple[Series, ...] = field(default_factory=tuple)

    def by_label(self, key: str = "station") -> dict[str, Series]:
        return {s.labels.get(key, ""): s for s in self.series}


@dataclass(frozen=True, slots=True)
class Stores:
    influxdb_url: str = ""
    influxdb_database: str = "quantrac"
    victoriametrics_url: str = ""


def _get_json(url: str, data: bytes | None, what: str) -> Any:
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise QueryError(f"{what}: HTTP {exc.code}: {exc.read()[:500]!r}") from None


def run_influxql(stores: Stores, text: str, ref: str) -> Answer:
    body = urllib.parse.urlencode(
        {"q": text, "db": stores.influxdb_database, "epoch": "ms"}
    ).encode()
    answer = _get_json(f"{stores.influxdb_url}/query", body, text)
    out = []
    for result in answer.get("results", []):
        if "error" in result:
            raise QueryError(f"{text}: {result['error']}")
        for series in result.get("series", []):
            columns = series["columns"]
            tags = series.get("tags") or {}
            for index, column in enumerate(columns[1:], start=1):
                points = tuple((int(row[0]), _number(row[index])) for row in series["values"])
                out.append(Series(column, dict(tags), points))
    return Answer(ref, text, tuple(out))


def run_promql(
    stores: Stores, expr: str, ref: str, *, instant: bool, span: TimeRange, step_s: int,
    utc_offset_s: int,
) -> Answer:  # fmt: skip
    base = f"{stores.victoriametrics_url}/api/v1"
    if instant:
        query = {"query": expr, "time": str(span.to_ms / 1000)}
        answer = _get_json(f"{base}/query?{urllib.parse.urlencode(query)}", None, expr)
    else:
        start, end = align_range(span, step_s, utc_offset_s)
        query = {"query": expr, "start": str(start), "end": str(end), "step": str(step_s)}
        answer = _get_json(f"{base}/query_range?{urllib.parse.urlencode(query)}", None, expr)
    if answer.get("status") != "success":
        raise QueryError(f"{expr}: {answer}")
    out = []
    for item in answer["data"]["result"]:
        labels = dict(item.get("metric", {}))
        pairs = item.get("values") or ([item["value"]] if "value" in item else [])
        points = tuple((int(float(t) * 1000), _number(v)) for t, v in pairs)
        out.append(Series(labels.get("__name__", ""), labels, points))
    return Answer(ref, expr, tuple(out))


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def run_target(
    board: Mapping[str, Any],
    panel: Mapping[str, Any],
    target: Mapping[str, Any],
    stores: Stores,
    span: TimeRange,
    *,
    selection: Mapping[str, Sequence[str]] | None = None,
) -> Answer:
    """One target of one panel, as Grafana would run it over ``span``."""
    datasource = target.get("datasource") or panel.get("datasource") or {}
    kind = datasource.get("type")
    variables = board_variables(board)
    # The panel's "min interval" wins over the datasource's, as in Grafana's query options.
    minimum = panel.get("interval") or target.get("interval") or MIN_INTERVAL
    interval = interval_ms(span, minimum)
    ref = str(target.get("refId", ""))
    if kind == "influxdb":
        text = interpolate(
            str(target["query"]), language="influxql", span=span, interval=interval,
            variables=variables, selection=selection,
        )  # fmt: skip
        return run_influxql(stores, text, ref)
    if kind == "prometheus":
        expr = interpolate(
            str(target["expr"]), language="promql", span=span, interval=interval,
            variables=variables, selection=selection,
        )  # fmt: skip
        step = prometheus_step_s(span, interval)
        # Grafana aligns the step in the dashboard's zone (a day starts at local midnight).
        offset = span.end.astimezone(ZoneInfo(str(board.get("timezone") or "UTC"))).utcoffset()
        utc_offset_s = int(offset.total_seconds()) if offset else 0
        return run_promql(
            stores, expr, ref, instant=bool(target.get("instant")), span=span, step_s=step,
            utc_offset_s=utc_offset_s,
        )  # fmt: skip
    raise ValueError(f"panel {panel.get('title')!r}: no store behind a {kind!r} query")


def store_targets(panel: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The targets of a panel that read a store (not the catalog's TestData table)."""
    out = []
    for target in panel.get("targets") or []:
        datasource = target.get("datasource") or panel.get("datasource") or {}
        if datasource.get("type") in ("influxdb", "prometheus"):
            out.append(target)
    return out
