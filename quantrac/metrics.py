"""Prometheus metrics from a service's health dict (``GET /metrics`` of quantrac.health).

One snapshot of the health dict is flattened into metric families and rendered by
prometheus-client (text format 0.0.4); :func:`metric_families` gives the naming rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Maps keyed by a thing rather than a field: the key becomes a label. Besides these, any key
# ``<what>_by_<label>`` holding a map is one (``dropped_by_station`` → ``station="…"``).
LABEL_MAPS = {
    "stations": "station",
    "dead_letters": "reason",
    "rejected": "reason",
    "flags": "flag",
    "deliveries": "status",
    "streaming": "driver",
    "queues": "queue",
    "notifiers": "notifier",
}
# A numeric field is a gauge when a word of its name says it is a level, not a count.
GAUGE_WORDS = frozenset(
    {"backlog", "depth", "queued", "pending", "waiting", "open", "age", "connected", "online",
     "consecutive", "capacity", "size", "bytes", "per", "series", "dirty", "last", "inflight",
     "latency", "up"}
)  # fmt: skip


@dataclass
class _Family:
    kind: Literal["counter", "gauge"]
    doc: str
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)


def metric_families(service: str, health: Mapping[str, Any]) -> list[Metric]:
    """Prometheus metric families from a health dict.

    Names: ``quantrac_<service>_<key>`` for the service's own top-level numbers,
    ``quantrac_<component>_<key>`` for numbers in a component's dict (``outbox``, ``store``,
    ``bus``, ``qc``; nested dicts add their keys); a map in :data:`LABEL_MAPS` or named
    ``<what>_by_<label>`` (whose name keeps ``_by_<label>``) adds a label per entry. Counters
    end in ``_total``; a field is a gauge when its name has a word of :data:`GAUGE_WORDS` or
    it is a boolean (0/1); ``_s`` becomes ``_seconds``; an ISO 8601 time becomes
    ``<key>_timestamp_seconds``. Other strings, lists and None are left out.
    ``quantrac_service_status{service,status}`` is 1 for the current status, 0 for the others.
    """
    families: dict[str, _Family] = {}
    for parts, labels, key, value, level in _leaves(health, (), ()):
        name, kind = _metric_name(service, parts, key, level)
        family = families.setdefault(name, _Family(kind, f"health key {'.'.join((*parts, key))}"))
        if family.kind == kind:
            family.samples.setdefault(labels, value)  # the first of two equal names wins
    status = str(health.get("status", "ok"))
    out: list[Metric] = []
    states = GaugeMetricFamily(
        "quantrac_service_status", "1 for the service's current status (ok, degraded, down)"
    )
    for state in ("ok", "degraded", "down"):
        states.add_sample(
            "quantrac_service_status",
            {"service": service, "status": state},
            1.0 if state == status else 0.0,
        )
    out.append(states)
    for name, family in sorted(families.items()):
        metric: Metric
        if family.kind == "counter":
            metric = CounterMetricFamily(name, family.doc)
            sample_name = f"{name}_total"
        else:
            metric = GaugeMetricFamily(name, family.doc)
            sample_name = name
        for labels, value in family.samples.items():
            metric.add_sample(sample_name, dict(labels), value)
        out.append(metric)
    return out


def render_metrics(service: str, health: Mapping[str, Any]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metric_families(service, health)))
    return generate_latest(registry)


class _Fixed:
    """A prometheus-client collector of families computed beforehand (from one snapshot)."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


# (name parts, labels, key, value, whether it is a level whatever its name: a flag or a time)
Leaf = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str, float, bool]


def _leaves(
    node: Mapping[str, Any], parts: tuple[str, ...], labels: tuple[tuple[str, str], ...]
) -> Iterator[Leaf]:
    for raw_key, value in node.items():
        key = str(raw_key)
        if isinstance(value, Mapping):
            label = LABEL_MAPS.get(key)
            what, by, label_by = key.partition("_by_")
            if label is None and what and by and label_by:
                # The name keeps "_by_<label>": beside a total of the same count, the two
                # must not add up in one family.
                label = label_by
            used = {name for name, _ in labels}
            if label is not None and label not in used:
                for item, inner in value.items():
                    item_labels = (*labels, (_name(label), str(item)))
                    if isinstance(inner, Mapping):
                        yield from _leaves(inner, (*parts, key), item_labels)
                    else:
                        number = _value(inner)
                        if number is not None:
                            # The map itself is the metric: dead_letters{reason="too_deep"}.
                            yield parts, item_labels, key, number, isinstance(inner, bool)
            else:
                yield from _leaves(value, (*parts, key), labels)
            continue
        number = _value(value)
        if number is not None:
            if isinstance(value, str):
                key = f"{key}_timestamp_seconds"
            yield parts, labels, key, number, isinstance(value, bool | str)


def _metric_name(
    service: str, parts: tuple[str, ...], key: str, level: bool
) -> tuple[str, Literal["counter", "gauge"]]:
    words = set(key.lower().split("_"))
    if key.endswith("_s"):
        key = key.removesuffix("_s") + "_seconds"
    key = key.removesuffix("_total")
    gauge = level or bool(words & GAUGE_WORDS) or key.endswith("_seconds")
    name = "_".join(_name(p) for p in ("quantrac", *(parts or (service,)), key))
    return re.sub(r"_+", "_", name), "gauge" if gauge else "counter"


def _name(text: str) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", text)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"_{cleaned}"


def _value(value: object) -> float | None:
    """A sample's value: numbers, booleans as 0/1, ISO 8601 times with a zone as Unix time."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:  # an int beyond a float: report it as the largest there is
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str) and 19 <= len(value) <= 40 and value[:4].isdigit():
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
        return ts.timestamp() if ts.tzinfo is not None else None
    return None
