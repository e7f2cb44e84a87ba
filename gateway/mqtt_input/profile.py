"""MQTT payload profiles: how one station model's messages map to canonical parameters.

A profile file in ``firmware_configs/mqtt/`` starts with ``protocol: mqtt`` (docs/mqtt-stations.md).
Everything that can be checked without a message is checked here, at load: parameter symbols,
units (canonical, or one with a declared conversion), topic placeholders, timezone.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.model import DeviceStatus
from gateway.parameters import UnknownParameterError, registry

StationKind = Literal["air", "water", "rain", "hydro", "weather"]
StatusName = Literal["measuring", "calibrating", "error"]

# Device unit → (canonical unit, factor, offset): canonical = raw · factor + offset.
CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("mg/m³", "µg/m³"): (1000.0, 0.0),  # CO is often sent in mg/m³; VN_AQI wants µg/m³
    ("ng/m³", "µg/m³"): (0.001, 0.0),
    ("cm", "m"): (0.01, 0.0),
    ("mm", "m"): (0.001, 0.0),
    ("°F", "°C"): (5.0 / 9.0, -32.0 * 5.0 / 9.0),
    ("K", "°C"): (1.0, -273.15),
    ("kPa", "hPa"): (10.0, 0.0),
    ("Pa", "hPa"): (0.01, 0.0),
    ("km/h", "m/s"): (1.0 / 3.6, 0.0),
    ("µg/L", "mg/L"): (0.001, 0.0),
    ("mS/cm", "µS/cm"): (1000.0, 0.0),
    ("m³/s", "m³/h"): (3600.0, 0.0),
}

# Spellings stations use for the same unit (ASCII firmware, Greek mu instead of the micro sign).
_UNIT_SPELLINGS: dict[str, str] = {
    "ug/m3": "µg/m³",
    "μg/m³": "µg/m³",
    "μg/m3": "µg/m³",
    "µg/m3": "µg/m³",
    "mg/m3": "mg/m³",
    "ng/m3": "ng/m³",
    "degc": "°C",
    "c": "°C",
    "°c": "°C",
    "degf": "°F",
    "f": "°F",
    "°f": "°F",
    "mg/l": "mg/L",
    "ug/l": "µg/L",
    "μg/l": "µg/L",
    "us/cm": "µS/cm",
    "μs/cm": "µS/cm",
    "ms/cm": "mS/cm",
    "m3/h": "m³/h",
    "m3/s": "m³/s",
}


def normalise_unit(unit: str) -> str:
    text = unit.strip()
    return _UNIT_SPELLINGS.get(text.lower(), text)


def conversion(device_unit: str, canonical: str) -> tuple[float, float] | None:
    """(factor, offset) from a device unit to the canonical one; None if there is none."""
    unit = normalise_unit(device_unit)
    if unit == canonical:
        return (1.0, 0.0)
    return CONVERSIONS.get((unit, canonical))


def resolve(symbol: str, kind: str) -> str:
    """A station's parameter symbol ("PM2,5", "pm2_5", "CO") → the canonical name."""
    return registry().at_station(symbol, kind).name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FieldPath = str | tuple[str | int, ...]  # "data.pm25", r"SDS0X1.PM2\.5" or ["SDS0X1", "PM2.5"]


def split_path(path: str) -> list[str]:
    r"""A dotted path's keys; ``\.`` is a dot inside a key: ``SDS0X1.PM2\.5`` → SDS0X1, PM2.5.
    Any other backslash is itself."""
    keys: list[str] = []
    key: list[str] = []
    index = 0
    while index < len(path):
        char = path[index]
        if char == "\\" and path[index + 1 : index + 2] == ".":
            key.append(".")
            index += 2
            continue
        if char == ".":
            keys.append("".join(key))
            key = []
        else:
            key.append(char)
        index += 1
    keys.append("".join(key))
    return keys


def path_keys(path: FieldPath) -> list[str | int]:
    """The keys of a path as written in a profile (text or a list)."""
    if isinstance(path, str):
        return list(split_path(path)) if path else []
    return list(path)


def path_text(path: FieldPath) -> str:
    """A path as messages quote it: dotted, a dot inside a key escaped."""
    if isinstance(path, str):
        return path
    return ".".join(str(key).replace(".", "\\.") for key in path)


def _check_path(value: FieldPath) -> FieldPath:
    """A path of keys that are not empty: text without spaces, or a list (any key text)."""
    keys = path_keys(value)
    if isinstance(value, str):
        if not keys or any(not key or any(c.isspace() for c in str(key)) for key in keys):
            raise ValueError(
                f"{value!r} is not a dotted path (e.g. data.sensors.pm25.value; a dot inside a "
                "key is \\., or give the keys as a list)"
            )
    elif not keys or any(key == "" or (isinstance(key, int) and key < 0) for key in keys):
        raise ValueError(f"{list(value)!r} is not a list of keys (text, or list positions)")
    return value


def _check_optional_path(value: FieldPath | None) -> FieldPath | None:
    return None if value is None else _check_path(value)


class FieldSpec(_Strict):
    """One value in a JSON object: where it sits, which parameter it is, in which unit."""

    # dotted: "pm25" (flat), "data.sensors.pm25.value" (nested), digits index lists; a dot in a
    # key as \. ("SDS0X1.PM2\.5") or the keys as a list (["SDS0X1", "PM2.5"])
    path: FieldPath
    param: str  # a symbol the registry knows: "pm25", "PM2,5", "CO"
    unit: str | None = None  # the unit the device sends; default: the profile's units, canonical

    _path = field_validator("path")(_check_path)


class ArraySpec(_Strict):
    """A list of {param, value, unit, ts} items (field names as the device spells them)."""

    path: FieldPath = ""  # where the list sits; "" is the payload itself
    param: str = "param"
    value: str = "value"
    unit: str | None = "unit"  # None: items carry no unit (the profile's units apply)
    ts: str | None = "ts"  # None: items carry no time (the message's applies)
    status: str | None = None


class TimestampSpec(_Strict):
    path: FieldPath | None = "ts"  # None: the payload has no time (needs missing: arrival)
    _path = field_validator("path")(_check_optional_path)
    # auto: a number (or digits) is epoch seconds, or milliseconds above 1e11; text is ISO 8601.
    format: Literal["auto", "iso8601", "epoch_s", "epoch_ms"] = "auto"
    # For an ISO time without offset: the station's local time. None: the site's timezone
    # (Asia/Ho_Chi_Minh, UTC+7, by default).
    timezone: str | None = None
    # reject: a message without time is dead-lettered. arrival: stamped with its arrival time
    # (only for devices without a clock; the docs say what that costs).
    missing: Literal["reject", "arrival"] = "reject"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {value!r} (e.g. Asia/Ho_Chi_Minh)") from None
        return value


_DEFAULT_STATUS: dict[str, StatusName] = {
    "00": "measuring",
    "0": "measuring",
    "01": "calibrating",
    "1": "calibrating",
    "02": "error",
    "2": "error",
    "measuring": "measuring",
    "ok": "measuring",
    "normal": "measuring",
    "calibrating": "calibrating",
    "calibration": "calibrating",
    "maintenance": "calibrating",
    "error": "error",
    "fault": "error",
}


class StatusSpec(_Strict):
    """A device status field: TT10's 00/01/02, or names, mapped to measuring/calibrating/error."""

    path: FieldPath = "status"
    _path = field_validator("path")(_check_path)
    map: dict[str, StatusName] = Field(default_factory=lambda: dict(_DEFAULT_STATUS))
    # A code not in the map: a state we do not know, so an error (as for Modbus profiles).
    default: StatusName = "error"

    def status_of(self, code: str) -> DeviceStatus:
        name = self.map.get(code.strip().lower(), self.map.get(code.strip(), self.default))
        return DeviceStatus[name.upper()]


class StationFieldSpec(_Strict):
    """Where the device id comes from: the topic's {station}, or a payload field."""

    source: Literal["topic", "payload"] = "topic"
    path: FieldPath | None = None  # payload only: e.g. "device_id" or "meta.sn"
    _path = field_validator("path")(_check_optional_path)

    @model_validator(mode="after")
    def _path_for_payload(self) -> StationFieldSpec:
        if (self.source == "payload") != (self.path is not None):
            raise ValueError("station.path goes with source: payload (and only with it)")
        return self


class MqttProfile(_Strict):
    protocol: Literal["mqtt"] = "mqtt"
    id: str
    model: str
    kind: StationKind
    description: str = ""
    shape: Literal["flat", "nested", "array", "numeric"]
    # Topic template; {station} is the device id, {param} (numeric only) the parameter symbol.
    # None: the station's own topic, else the gateway's default (stations/{station}/data).
    topic: str | None = None
    station: StationFieldSpec = StationFieldSpec()
    fields: tuple[FieldSpec, ...] = ()  # flat (optional: every key is looked up) and nested
    ignore: tuple[str, ...] = ()  # flat without fields: keys that are not parameters (rssi…)
    array: ArraySpec | None = None
    # Device units that are not canonical, by parameter: {co: "mg/m³", water_level: cm}.
    units: dict[str, str] = Field(default_factory=dict)
    timestamp: TimestampSpec = TimestampSpec()
    status: StatusSpec | None = None
    max_payload_bytes: Annotated[int, Field(ge=16, le=1_048_576)] = 65_536

    @model_validator(mode="after")
    def _consistent(self) -> MqttProfile:
        problems: list[str] = []
        for symbol, unit in self.units.items():
            problems.extend(self._unit_problem(f"units.{symbol}", symbol, unit))
        for index, spec in enumerate(self.fields):
            problems.extend(self._unit_problem(f"fields.{index}", spec.param, spec.unit))
        if self.shape == "nested" and not self.fields:
            problems.append("a nested profile lists its fields (path + param)")
        if self.shape in ("array", "numeric") and self.fields:
            problems.append(f"fields do not apply to shape {self.shape}")
        if (self.shape == "array") != (self.array is not None):
            problems.append("array: goes with shape: array (and only with it)")
        if self.shape == "numeric":
            if self.timestamp.missing != "arrival":
                problems.append(
                    "a plain numeric payload carries no time: set timestamp.missing: arrival"
                )
            if self.topic is not None and "{param}" not in self.topic:
                problems.append("a numeric profile's topic names the parameter: {param}")
            if self.station.source != "topic":
                problems.append("a numeric payload has no fields: the station comes from the topic")
        elif self.topic is not None and "{param}" in self.topic:
            problems.append("{param} in the topic is for shape: numeric only")
        if self.topic is not None:
            problems.extend(topic_problems(self.topic, self.station.source, self.shape))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _unit_problem(self, where: str, symbol: str, unit: str | None) -> list[str]:
        try:
            canonical = registry().at_station(symbol, self.kind)
        except UnknownParameterError as exc:
            return [f"{where}: {exc}"]
        if unit is not None and conversion(unit, canonical.unit) is None:
            return [
                f"{where} ({canonical.name}): unit {unit!r} is neither the canonical "
                f"{canonical.unit!r} nor one with a conversion to it"
            ]
        return []

    def device_unit(self, param: str) -> str | None:
        """The unit the profile says the device sends ``param`` in (canonical name), if any."""
        for symbol, unit in self.units.items():
            if resolve(symbol, self.kind) == param:
                return unit
        return None


def topic_problems(template: str, station_source: str, shape: str) -> list[str]:
    """What is wrong with a topic template for a profile (empty: nothing)."""
    problems = []
    levels = template.split("/")
    if not template or any(level == "" for level in levels):
        problems.append(f"topic {template!r} has an empty level")
    for index, level in enumerate(levels):
        if level == "#" and index != len(levels) - 1:
            problems.append(f"topic {template!r}: # must be the last level")
        if level not in ("{station}", "{param}", "+", "#") and any(c in level for c in "{}+#"):
            problems.append(f"topic {template!r}: placeholders and wildcards fill a whole level")
    if station_source == "topic" and "{station}" not in levels:
        problems.append(f"topic {template!r} has no {{station}} level to take the station from")
    if shape == "numeric" and "{param}" not in levels:
        problems.append(f"topic {template!r} has no {{param}} level for a numeric payload")
    return problems
