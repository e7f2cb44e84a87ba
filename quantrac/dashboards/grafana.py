"""What Grafana does to a query before it sends it, for checking the boards without Grafana (pure).

Grafana cannot run on the machines the tests run on, so this module does its part: it works out
``$__interval`` from the time range as Grafana does (the range over the panel's resolution,
rounded to a "nice" step, never below the datasource's or the panel's minimum), substitutes the
time macros of the InfluxDB datasource (``$timeFilter``) and the Prometheus datasource
(``$__range``, ``$__rate_interval``), the global ``${__from}``/``${__to}``, and the dashboard's
variables with the escaping each datasource applies to a multi-value selection; and it aligns a
Prometheus range query's start and end to its step in the dashboard's time zone. The rules are
those of Grafana 11's frontend (``rangeutil.roundInterval``, ``InfluxDatasource.
interpolateQueryExpr``, ``PrometheusDatasource.interpolateQueryExpr``, ``alignRange``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

DEFAULT_RESOLUTION = 1000  # points: a panel about a thousand pixels wide
ALL = "$__all"

# rangeutil.roundInterval: (below this many ms, use this step)
_ROUND = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000),
    (3_500, 2_000), (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000),
    (45_000, 30_000), (90_000, 60_000), (210_000, 120_000), (450_000, 300_000),
    (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000), (2_700_000, 1_800_000),
    (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)  # fmt: skip
_UNITS = (("y", 31_536_000), ("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")


def round_interval(ms: float) -> int:
    for below, step in _ROUND:
        if ms < below:
            return step
    return 31_536_000_000


def duration_ms(text: str) -> int:
    """ "1m" → 60000 (Grafana's interval strings)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a Grafana interval: {text!r}")
    number, unit = int(match.group(1)), match.group(2)
    if unit == "ms":
        return number
    return number * 1000 * dict(_UNITS)[unit]


def format_ms(ms: int) -> str:
    """60000 → "1m", 86400000 → "1d", 1500 → "1500ms" (the largest whole unit)."""
    if ms % 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("seconds are always whole in some unit")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def from_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def to_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


def interval_ms(
    span: TimeRange, min_interval: str | None = None, resolution: int = DEFAULT_RESOLUTION
) -> int:
    """``$__interval`` in ms: the range over the resolution, rounded, at least the minimum."""
    interval = round_interval((span.to_ms - span.from_ms) / resolution)
    if min_interval:
        interval = max(interval, duration_ms(min_interval))
    return interval


# -- variables --------------------------------------------------------------------------------

_INFLUX_SPECIAL = re.compile(r"[\\^$*+?.()|{}\[\]/]")
_PROM_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


def influx_regex_escape(value: str) -> str:
    return _INFLUX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def prom_regex_escape(value: str) -> str:
    # Inside a PromQL string literal a regex backslash is itself escaped.
    return _PROM_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    options: tuple[str, ...]  # every value it can take, in order
    multi: bool
    include_all: bool

    def values(self, selected: Sequence[str] | None) -> list[str]:
        """What a selection means: All (the default) is every option, as Grafana sends it
        without a custom "all value"."""
        if selected is None or ALL in selected:
            return list(self.options)
        return list(selected)


def custom_options(query: str) -> tuple[str, ...]:
    """The values of a custom variable's "text : value, …" list (``\\,`` is a comma)."""
    parts = re.split(r"(?<!\\),", query)
    values = []
    for part in parts:
        text = part.replace("\\,", ",").strip()
        if not text:
            continue
        _, sep, value = text.rpartition(" : ")
        values.append(value.strip() if sep else text)
    return tuple(values)


def board_variables(board: Mapping[str, object]) -> dict[str, Variable]:
    """The custom variables of a board's JSON."""
    templating = board.get("templating")
    entries = templating.get("list", []) if isinstance(templating, dict) else []
    out = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("type") != "custom":
            continue
        out[entry["name"]] = Variable(
            entry["name"],
            custom_options(str(entry.get("query", ""))),
            bool(entry.get("multi")),
            bool(entry.get("includeAll")),
        )
    return out


def _format(values: list[str], variable: Variable, escape: str) -> str:
    escaper = influx_regex_escape if escape == "influx" else prom_regex_escape
    if not variable.multi and not variable.include_all:
        return values[0] if values else ""
    escaped = [escaper(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def _substitute(text: str, names: Mapping[str, str]) -> str:
    """``$name`` and ``${name}``, longest names first (``$__interval_ms`` before
    ``$__interval``)."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace("${" + name + "}", names[name]).replace("$" + name, names[name])
    return text


def interpolate(
    text: str,
    *,
    language: str,
    span: TimeRange,
    interval: int,
    variables: Mapping[str, Variable],
    selection: Mapping[str, Sequence[str]] | None = None,
    scrape_interval: str = "1m",
) -> str:
    """A query as Grafana sends it: ``language`` is "influxql" or "promql"."""
    chosen = selection or {}
    names = {
        name: _format(variable.values(chosen.get(name)), variable,
                      "influx" if language == "influxql" else "prom")
        for name, variable in variables.items()
    }  # fmt: skip
    range_s = max(1, round((span.to_ms - span.from_ms) / 1000))
    names |= {
        "__from": str(span.from_ms),
        "__to": str(span.to_ms),
        "__interval": format_ms(interval),
        "__interval_ms": str(interval),
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
        "__range_ms": str(range_s * 1000),
    }
    if language == "influxql":
        names["timeFilter"] = f"time >= {span.from_ms}ms and time <= {span.to_ms}ms"
    else:
        scrape = duration_ms(scrape_interval)
        names["__rate_interval"] = format_ms(max(interval + scrape, 4 * scrape))
    return _substitute(text, names)


def prometheus_step_s(span: TimeRange, interval: int) -> int:
    """A range query's step: ``$__interval``, but never more than 11,000 points."""
    safe = math.ceil((span.to_ms - span.from_ms) / 1000 / 11_000)
    return max(interval // 1000, safe, 1)


def align_range(span: TimeRange, step_s: int, utc_offset_s: int) -> tuple[int, int]:
    """Start and end (s) of a range query, each floored to its step in the dashboard's zone."""
    start = span.from_ms // 1000
    end = span.to_ms // 1000
    aligned_start = (start + utc_offset_s) // step_s * step_s - utc_offset_s
    aligned_end = (end + utc_offset_s) // step_s * step_s - utc_offset_s
    return aligned_start, aligned_end
