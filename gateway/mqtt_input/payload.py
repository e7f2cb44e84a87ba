"""Pure decoding of station MQTT messages: (topic, payload bytes, arrival time) → an Outcome.

No I/O and no clock: the arrival time is an argument, so every rule is tested by tables
(tests/gateway/test_mqtt_payload.py). :meth:`MqttDecoder.decode` never raises for a message;
what it cannot use comes back as :class:`Problem` s with a reason code.

The decoder finds the message's station (:mod:`gateway.mqtt_input.routing`) and hands the
document to the station's :class:`~gateway.mqtt_input.plan.DecodePlan`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.mqtt_input.plan import (
    _MAX_CACHED,
    _MAX_CACHED_KEY,
    MAX_MAGNITUDE,
    MAX_PAYLOAD_BYTES,
    DecodePlan,
    Outcome,
    _canonical,
)
from gateway.mqtt_input.profile import path_text
from gateway.mqtt_input.routing import DEFAULT_TOPIC, Route, TopicTemplate
from gateway.mqtt_input.values import (
    MAX_DEPTH,
    MISSING,
    BadInput,
    Problem,
    lookup_path,
    parse_json,
    parse_time,
    to_value,
)

__all__ = [
    "DEFAULT_TOPIC",
    "MAX_DEPTH",
    "MAX_MAGNITUDE",
    "DecodePlan",
    "MqttDecoder",
    "Outcome",
    "Problem",
    "Route",
    "lookup_path",
    "parse_time",
    "to_value",
]


class MqttDecoder:
    """Routes a message to its station by topic (or payload field) and decodes it."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.templates: dict[str, TopicTemplate] = {}
        self.routes: dict[str, Route] = {}
        # One plan per profile as the stations use it (kind, timezone), shared by its stations.
        self._plans: dict[str, DecodePlan] = {}  # by station id
        plans: dict[tuple[int, str, ZoneInfo, tuple[tuple[str, str], ...]], DecodePlan] = {}
        for route in routes:
            template = self.templates.setdefault(route.topic, TopicTemplate(route.topic))
            other = template.routes.get(route.device_id)
            if other is not None:
                raise ValueError(
                    f"stations {other.station.id} and {route.station.id} both use device id "
                    f"{route.device_id!r} on {route.topic}"
                )
            template.routes[route.device_id] = route
            self.routes[route.station.id] = route
            units = tuple(sorted(route.device_units.items()))
            # id(): the routes, so their profiles, live as long as this decoder.
            key = (id(route.profile), route.station.kind, route.timezone, units)
            if key not in plans:
                plans[key] = DecodePlan(
                    route.profile, route.station.kind, route.timezone, route.device_units
                )
            self._plans[route.station.id] = plans[key]
        self._symbols: dict[tuple[str, str], str | None] = {}
        self._matches: dict[str, tuple[tuple[TopicTemplate, dict[str, str]], ...]] = {}

    @property
    def filters(self) -> list[str]:
        """The topic filters to subscribe to, each once."""
        return sorted({t.filter for t in self.templates.values()})

    def decode(self, topic: str, payload: bytes, arrival: datetime) -> Outcome:
        station = ""
        try:
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise BadInput("too_large", f"{len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
            route, captured, document = self._route(topic, payload)
            station = route.station.id
            return self._plans[station].decode(station, captured, payload, document, arrival)
        except BadInput as bad:
            return Outcome(station, problems=(bad.problem,))

    # -- routing ---------------------------------------------------------------------------

    def _route(self, topic: str, payload: bytes) -> tuple[Route, dict[str, str], object]:
        document: object = MISSING
        unknown = ""
        for template, captured in self._templates_matching(topic):
            if template.station_in_topic:
                device = captured["station"]
            else:
                if document is MISSING:
                    document = parse_json(payload)
                device = self._device_in_payload(template, document)
            route = template.routes.get(device)
            if route is not None:
                return route, captured, document
            unknown = unknown or device
        if unknown:
            raise BadInput("unknown_station", f"no station has device id {unknown!r}")
        raise BadInput("unexpected_topic", "the topic matches no station topic")

    def _templates_matching(self, topic: str) -> tuple[tuple[TopicTemplate, dict[str, str]], ...]:
        """The templates that match a topic, in order, with what they captured (remembered)."""
        try:
            return self._matches[topic]
        except KeyError:
            pass
        found = tuple(
            (template, captured)
            for template in self.templates.values()
            if (captured := template.match(topic)) is not None
        )
        # A topic of no station is not remembered: it may never come again.
        if found and len(topic) <= 256:
            if len(self._matches) > _MAX_CACHED:
                self._matches.clear()
            self._matches[topic] = found
        return found

    @staticmethod
    def _device_in_payload(template: TopicTemplate, document: object) -> str:
        paths = {
            path_text(r.profile.station.path): r.profile.station.path
            for r in template.routes.values()
            if r.profile.station.path
        }
        for text in sorted(paths):
            value = lookup_path(document, paths[text])
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
        looked = ", ".join(sorted(paths))
        raise BadInput("no_station", f"no device id in the payload (looked at {looked})")

    def canonical(self, symbol: str, kind: str) -> str | None:
        if len(symbol) > _MAX_CACHED_KEY:
            return None
        key = (symbol, kind)
        if key not in self._symbols:
            if len(self._symbols) > _MAX_CACHED:
                self._symbols.clear()
            self._symbols[key] = _canonical(symbol, kind)
        return self._symbols[key]
