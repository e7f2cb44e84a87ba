"""Pure decoding of station MQTT messages: (topic, payload bytes, arrival time) → an Outcome.

No I/O and no clock: the arrival time is an argument, so every rule is tested by tables
(tests/gateway/test_mqtt_payload.py). :meth:`MqttDecoder.decode` never raises for a message;
what it cannot use comes back as :class:`Problem` s with a reason code.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from gateway.config import MqttSource, StationConfig
from gateway.model import DeviceStatus, Reading
from gateway.mqtt_input.profile import MqttProfile, TimestampSpec, conversion, topic_problems
from gateway.parameters import UnknownParameterError, registry

DEFAULT_TOPIC = "stations/{station}/data"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
# Bytes read before the station (and so its profile's limit) is known.
MAX_PAYLOAD_BYTES = 1_048_576
# A device clock more than this ahead of the gateway's is wrong, not early.
MAX_CLOCK_AHEAD = timedelta(days=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Epoch numbers from 1e11 on are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_EPOCH_MS_FROM = 1e11

_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # not_utf8, not_json, shape, unexpected_topic, unknown_station, no_station,
    # too_large, unknown_param, bad_value, bad_unit, no_timestamp, bad_timestamp, bad_status,
    # duplicate_param, no_values
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one message gave: the station it is from ("" if unknown), readings, problems.

    Readings and problems can both be present: the good values of a message are kept, the bad
    ones reported (DESIGN.md: nothing else lost).
    """

    station: str
    readings: tuple[Reading, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def reason(self) -> str:
        """The message's rejection reason code ("" when nothing was wrong)."""
        return self.problems[0].code if self.problems else ""


class _BadInput(Exception):  # noqa: N818 (a signal inside this module, never raised out)
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.problem = Problem(code, detail)


@dataclass(frozen=True)
class Route:
    """One configured MQTT station: its config, its profile, its device id and topic."""

    station: StationConfig
    profile: MqttProfile
    device_id: str
    topic: str
    timezone: ZoneInfo
    device_units: dict[str, str] = field(default_factory=dict)  # canonical param → unit

    @classmethod
    def of(
        cls,
        station: StationConfig,
        profile: MqttProfile,
        *,
        default_topic: str = DEFAULT_TOPIC,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Route:
        """Raises ValueError naming the station when its topic cannot work with its profile."""
        source = station.source
        if not isinstance(source, MqttSource):
            raise ValueError(f"station {station.id} is read by {source.driver}, not MQTT")
        topic = source.topic or profile.topic or default_topic
        problems = topic_problems(topic, profile.station.source, profile.shape)
        if problems:
            raise ValueError(f"station {station.id}: " + "; ".join(problems))
        return cls(
            station=station,
            profile=profile,
            device_id=source.device_id or station.id,
            topic=topic,
            timezone=ZoneInfo(profile.timestamp.timezone or timezone),
            device_units={resolve_known(k, profile.kind): v for k, v in profile.units.items()},
        )


@dataclass
class TopicTemplate:
    """``stations/{station}/{param}`` → the filter ``stations/+/+`` and a matcher."""

    template: str
    routes: dict[str, Route] = field(default_factory=dict)  # by device id

    def __post_init__(self) -> None:
        levels = self.template.split("/")
        self.filter = "/".join("+" if level.startswith("{") else level for level in levels)
        parts = []
        for level in levels:
            if level in ("{station}", "{param}"):
                parts.append(f"(?P<{level[1:-1]}>[^/]+)")
            elif level == "+":
                parts.append("[^/]+")
            elif level == "#":
                parts.append(".*")
            else:
                parts.append(re.escape(level))
        pattern = "/".join(parts)
        if levels[-1] == "#":  # "a/#" also matches "a" itself (MQTT 3.1.1 §4.7.1.2)
            pattern = pattern[: -len("/.*")] + "(?:/.*)?"
        self._regex = re.compile(pattern)
        self.station_in_topic = "{station}" in levels

    def match(self, topic: str) -> dict[str, str] | None:
        found = self._regex.fullmatch(topic)
        return None if found is None else found.groupdict()


class MqttDecoder:
    """Routes a message to its station by topic (or payload field) and decodes it."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.templates: dict[str, TopicTemplate] = {}
        self.routes: dict[str, Route] = {}
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
        self._symbols: dict[tuple[str, str], str | None] = {}

    @property
    def filters(self) -> list[str]:
        """The topic filters to subscribe to, each once."""
        return sorted({t.filter for t in self.templates.values()})

    def decode(self, topic: str, payload: bytes, arrival: datetime) -> Outcome:
        station = ""
        try:
            if len(payload) > MAX_PAYLOAD_BYTES:
                raise _BadInput("too_large", f"{len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})")
            route, captured, document = self._route(topic, payload)
            station = route.station.id
            return self._decode(route, captured, payload, document, arrival)
        except _BadInput as bad:
            return Outcome(station, problems=(bad.problem,))

    # -- routing ---------------------------------------------------------------------------

    def _route(self, topic: str, payload: bytes) -> tuple[Route, dict[str, str], object]:
        document: object = _MISSING
        unknown = ""
        for template in self.templates.values():
            captured = template.match(topic)
            if captured is None:
                continue
            if template.station_in_topic:
                device = captured["station"]
            else:
                if document is _MISSING:
                    document = _parse_json(payload)
                device = self._device_in_payload(template, document)
            route = template.routes.get(device)
            if route is not None:
                return route, captured, document
            unknown = unknown or device
        if unknown:
            raise _BadInput("unknown_station", f"no station has device id {unknown!r}")
        raise _BadInput("unexpected_topic", "the topic matches no station topic")

    @staticmethod
    def _device_in_payload(template: TopicTemplate, document: object) -> str:
        paths = {r.profile.station.path for r in template.routes.values() if r.profile.station.path}
        for path in sorted(paths):
            value = lookup_path(document, path)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
        looked = ", ".join(sorted(paths))
        raise _BadInput("no_station", f"no device id in the payload (looked at {looked})")

    # -- decoding --------------------------------------------------------------------------

    def _decode(
        self,
        route: Route,
        captured: Mapping[str, str],
        payload: bytes,
        document: object,
        arrival: datetime,
    ) -> Outcome:
        profile = route.profile
        if len(payload) > profile.max_payload_bytes:
            raise _BadInput(
                "too_large", f"{len(payload)} bytes (at most {profile.max_payload_bytes})"
            )
        message = _Message(self, route, arrival)
        if profile.shape == "numeric":
            message.numeric(captured["param"], payload)
        else:
            if document is _MISSING:
                document = _parse_json(payload)
            if profile.shape == "array":
                message.array(document)
            else:
                message.fields(document)
        if not message.readings and not message.problems:
            message.problems.append(Problem("no_values", "the message holds no parameter value"))
        return Outcome(route.station.id, tuple(message.readings), tuple(message.problems))

    def canonical(self, symbol: str, kind: str) -> str | None:
        key = (symbol, kind)
        if key not in self._symbols:
            if len(self._symbols) > 10_000:  # random keys from a broken device: stay bounded
                self._symbols.clear()
            try:
                self._symbols[key] = registry().lookup(symbol, kind).name
            except UnknownParameterError:
                self._symbols[key] = None
        return self._symbols[key]


class _Message:
    """The decoding of one message: readings and problems collected side by side."""

    def __init__(self, decoder: MqttDecoder, route: Route, arrival: datetime) -> None:
        self.decoder = decoder
        self.route = route
        self.profile = route.profile
        self.arrival = arrival
        self.readings: list[Reading] = []
        self.problems: list[Problem] = []
        self._seen: set[str] = set()

    def fields(self, document: object) -> None:
        if not isinstance(document, dict):
            raise _BadInput("shape", f"expected a JSON object, got {_json_type(document)}")
        ts = self._time(lookup_path(document, self.profile.timestamp.path or ""), "timestamp")
        status = self._status(document)
        if self.profile.fields:
            for spec in self.profile.fields:
                value = lookup_path(document, spec.path)
                if value is _MISSING:
                    continue  # a sensor left out (maintenance, not fitted) is not an error
                name = resolve_known(spec.param, self.profile.kind)
                self._add(spec.path, name, value, spec.unit, ts, status)
            return
        reserved = {
            (self.profile.timestamp.path or "").split(".")[0],
            self.profile.status.path.split(".")[0] if self.profile.status else "",
            (self.profile.station.path or "").split(".")[0],
            *self.profile.ignore,
        }
        for key, value in document.items():
            if key in reserved:
                continue
            param = self.decoder.canonical(key, self.route.station.kind)
            if param is None:
                self.problems.append(Problem("unknown_param", f"{_short(key)!r}"))
                continue
            self._add(key, param, value, None, ts, status)

    def array(self, document: object) -> None:
        spec = self.profile.array
        assert spec is not None  # the profile's validator pairs shape array with array:
        items = lookup_path(document, spec.path) if spec.path else document
        if not isinstance(items, list):
            raise _BadInput("shape", f"expected a JSON list at {spec.path or 'the top'}")
        message_ts: datetime | None = None
        status = self._status(document) if isinstance(document, dict) else DeviceStatus.MEASURING
        for index, item in enumerate(items):
            where = f"item {index}"
            if not isinstance(item, dict):
                self.problems.append(Problem("shape", f"{where} is {_json_type(item)}"))
                continue
            symbol = item.get(spec.param)
            if not isinstance(symbol, str):
                self.problems.append(Problem("unknown_param", f"{where}: no {spec.param!r} text"))
                continue
            param = self.decoder.canonical(symbol, self.route.station.kind)
            if param is None:
                self.problems.append(Problem("unknown_param", f"{where}: {_short(symbol)!r}"))
                continue
            unit = item.get(spec.unit) if spec.unit else None
            if unit is not None and not isinstance(unit, str):
                self.problems.append(Problem("bad_unit", f"{where} ({param}): unit is not text"))
                continue
            try:
                if spec.ts is not None and spec.ts in item:
                    ts = self._time(item[spec.ts], f"{where} time")
                else:
                    if message_ts is None:
                        path = self.profile.timestamp.path
                        raw = lookup_path(document, path) if path else _MISSING
                        message_ts = self._time(raw, "timestamp")
                    ts = message_ts
                item_status = status
                if spec.status is not None and spec.status in item:
                    item_status = self._status_of(item[spec.status])
            except _BadInput as bad:
                self.problems.append(bad.problem)
                continue
            self._add(f"{where}", param, item.get(spec.value, _MISSING), unit, ts, item_status)

    def numeric(self, symbol: str, payload: bytes) -> None:
        param = self.decoder.canonical(symbol, self.route.station.kind)
        if param is None:
            raise _BadInput("unknown_param", f"{_short(symbol)!r} (from the topic)")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _BadInput("not_utf8", "the payload is not UTF-8 text") from None
        ts = self._time(_MISSING, "timestamp")
        self._add("payload", param, text, None, ts, DeviceStatus.MEASURING)

    # -- parts -----------------------------------------------------------------------------

    def _add(
        self,
        where: str,
        param: str,
        raw: object,
        unit: str | None,
        ts: datetime,
        status: DeviceStatus,
    ) -> None:
        if param in self._seen:
            self.problems.append(Problem("duplicate_param", f"{param} given twice ({where})"))
            return
        parameter = registry()[param]
        device_unit = unit or self.route.device_units.get(param) or parameter.unit
        factor_offset = _conversion(device_unit, parameter.unit)
        if factor_offset is None:
            self.problems.append(
                Problem("bad_unit", f"{param}: {_short(device_unit)!r} is not {parameter.unit!r}")
            )
            return
        if raw is _MISSING:
            self.problems.append(Problem("bad_value", f"{param}: no value ({where})"))
            return
        try:
            value = to_value(raw)
        except _BadInput as bad:
            self.problems.append(Problem(bad.problem.code, f"{param}: {bad.problem.detail}"))
            return
        factor, offset = factor_offset
        if not math.isnan(value):
            value = value * factor + offset
            if not math.isfinite(value):
                self.problems.append(Problem("bad_value", f"{param}: out of range"))
                return
        self._seen.add(param)
        self.readings.append(
            Reading(self.route.station.id, param, value, parameter.unit, ts, status)
        )

    def _time(self, raw: object, what: str) -> datetime:
        spec = self.profile.timestamp
        if raw is _MISSING or raw is None:
            if spec.missing == "arrival":
                return self.arrival
            raise _BadInput(
                "no_timestamp", f"no {what} and the profile does not allow arrival time"
            )
        ts = parse_time(raw, spec, self.route.timezone)
        if ts < EARLIEST:
            raise _BadInput("bad_timestamp", f"{what} {ts.isoformat()} is before {EARLIEST.year}")
        if ts > self.arrival + MAX_CLOCK_AHEAD:
            raise _BadInput("bad_timestamp", f"{what} {ts.isoformat()} is in the future")
        return ts

    def _status(self, document: dict[str, object]) -> DeviceStatus:
        if self.profile.status is None:
            return DeviceStatus.MEASURING
        raw = lookup_path(document, self.profile.status.path)
        if raw is _MISSING or raw is None:
            return DeviceStatus.MEASURING
        return self._status_of(raw)

    def _status_of(self, raw: object) -> DeviceStatus:
        spec = self.profile.status
        if spec is None:
            return DeviceStatus.MEASURING
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise _BadInput("bad_status", f"status {_short(repr(raw))} is not a code or a name")
        return spec.status_of(str(raw))


def resolve_known(symbol: str, kind: str) -> str:
    # Checked when the profile loaded, so it resolves.
    return registry().lookup(symbol, kind).name


@functools.lru_cache(maxsize=256)
def _conversion(device_unit: str, canonical: str) -> tuple[float, float] | None:
    return conversion(device_unit, canonical)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _parse_json(payload: bytes) -> object:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadInput("not_utf8", "the payload is not UTF-8 text") from None
    try:
        return _JSON.decode(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" thousands deep
        raise _BadInput("not_json", f"not JSON: {_short(str(exc))}") from None


def lookup_path(document: object, path: str) -> object:
    """The value at a dotted path ("data.sensors.pm25.value", "readings.0"), or _MISSING."""
    if not path:
        return _MISSING
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return _MISSING
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def to_value(raw: object) -> float:
    """A JSON number, or a number as text ("35.2", "35,2"); null is "no value" (NaN)."""
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise _BadInput("bad_value", "true/false is not a measurement")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            raise _BadInput("bad_value", "too large") from None
    elif isinstance(raw, str):
        # Some firmware writes the decimal comma, as TT10 files do.
        text = raw.strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise _BadInput("bad_value", f"{_short(raw)!r} is not a number") from None
    else:
        raise _BadInput("bad_value", f"{_json_type(raw)} is not a number")
    if not math.isfinite(value):
        raise _BadInput("bad_value", f"{_short(str(raw))!r} is not a finite number")
    return value


_NUMBER = re.compile(r"\d+(\.\d+)?")


def parse_time(raw: object, spec: TimestampSpec, zone: ZoneInfo) -> datetime:
    """A device time as UTC: ISO 8601 (naive = the station's local time), epoch s or ms."""
    fmt = spec.format
    if isinstance(raw, bool):
        raise _BadInput("bad_timestamp", "true/false is not a time")
    if isinstance(raw, str) and fmt != "iso8601" and _NUMBER.fullmatch(raw.strip()):
        raw = float(raw)
    if isinstance(raw, int | float):
        if fmt == "iso8601":
            raise _BadInput("bad_timestamp", f"{_short(repr(raw))} is not an ISO 8601 time")
        seconds = float(raw)
        if fmt == "epoch_ms" or (fmt == "auto" and abs(seconds) >= _EPOCH_MS_FROM):
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise _BadInput("bad_timestamp", f"{_short(repr(raw))} is not a time") from None
    if isinstance(raw, str):
        if fmt in ("epoch_s", "epoch_ms"):
            raise _BadInput("bad_timestamp", f"{_short(raw)!r} is not an epoch number")
        try:
            ts = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise _BadInput("bad_timestamp", f"{_short(raw)!r} is not ISO 8601") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=zone)  # a naive time is the station's local time
        try:
            return ts.astimezone(UTC)
        except (OverflowError, ValueError):
            raise _BadInput("bad_timestamp", f"{_short(raw)!r} is out of range") from None
    raise _BadInput("bad_timestamp", f"{_json_type(raw)} is not a time")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number"
    )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
