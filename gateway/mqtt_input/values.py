"""What decoding a station's MQTT message is made of: JSON, paths, numbers, times (pure).

Used by :mod:`gateway.mqtt_input.payload`; every function raises :class:`BadInput` (a problem
with its reason code) for what it cannot use, never anything else.

Field paths are dotted (``data.sensors.pm25.value``; digits index a list: ``readings.0``). A key
that holds a dot itself — ``PM2.5`` in ``{"SDS0X1": {"PM2.5": 12}}`` — is written with ``\\.``
(``SDS0X1.PM2\\.5``) or the path is given as a list of keys (``[SDS0X1, PM2.5]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from gateway.mqtt_input.profile import FieldPath, TimestampSpec, path_keys
from gateway.wire import too_deep

# Epoch numbers from 1e11 on are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_EPOCH_MS_FROM = 1e11
# JSON nesting: the deepest profile path is a few levels; the parser must never recurse far.
MAX_DEPTH = 32

MISSING: Final = object()
# A path, compiled: (key, list index when the key is digits) per level.
CompiledPath = tuple[tuple[str, int | None], ...]


# Why a station's message (or part of it) is refused: the dead letter's reason and the key of
# MqttInput.rejected (docs/mqtt-stations.md, "Bad input"; docs/operations.md lists them).
PROBLEM_CODES = (
    "not_utf8", "not_json", "too_deep", "shape", "too_large", "unexpected_topic",
    "unknown_station", "no_station", "unknown_param", "ambiguous_param", "bad_value", "bad_unit",
    "no_timestamp", "bad_timestamp", "bad_status", "duplicate_param", "no_values", "internal",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # one of PROBLEM_CODES
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class BadInput(Exception):  # noqa: N818 (a signal inside the decoder, never raised out)
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.problem = Problem(code, detail)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(parse_constant=_reject_constant)
# The decoder's C scanner: (text, index) → (value, end), StopIteration where no value starts.
_SCAN: Callable[[str, int], tuple[object, int]] = _JSON.scan_once  # type: ignore[attr-defined]


def parse_json(payload: bytes) -> object:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("not_utf8", "the payload is not UTF-8 text") from None
    # A document with nothing around it (what stations send) goes straight to the C scanner:
    # 1.5 µs instead of 3.2 µs for a six-parameter message, as JSONDecoder.decode looks for
    # whitespace around it with two regular expressions. Anything else goes the whole way.
    if too_deep(text, MAX_DEPTH):
        raise BadInput("too_deep", f"JSON nested deeper than {MAX_DEPTH}")
    try:
        document, end = _SCAN(text, 0)
        if end == len(text):
            return document
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return _JSON.decode(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" thousands deep
        raise BadInput("not_json", f"not JSON: {short(str(exc))}") from None


def lookup_path(document: object, path: FieldPath) -> object:
    """The value at a path ("data.sensors.pm25.value", "readings.0", ["SDS0X1", "PM2.5"]), or
    MISSING."""
    return lookup(document, compile_path(path))


def compile_path(path: FieldPath) -> CompiledPath:
    """A path as :func:`lookup` walks it: each key, and its list index when it is one (an int
    in a list path, or a key of digits; a key of digits is a mapping's key first)."""
    compiled: list[tuple[str, int | None]] = []
    for key in path_keys(path):
        if isinstance(key, int):
            compiled.append((str(key), key))
            continue
        index: int | None = None
        if key.isdigit():
            try:
                index = int(key)
            except ValueError:  # digits int() does not read, such as "²"
                index = None
        compiled.append((key, index))
    return tuple(compiled)


def lookup(document: object, path: CompiledPath) -> object:
    if len(path) == 1 and type(document) is dict:  # a flat payload's "ts" or "status"
        return document.get(path[0][0], MISSING)
    if not path:
        return MISSING
    node = document
    for key, index in path:
        if isinstance(node, dict):
            node = node.get(key, MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(node, list) and index is not None and index < len(node):
            node = node[index]
        else:
            return MISSING
    return node


def to_value(raw: object) -> float:
    """A JSON number, or a number as text ("35.2", "35,2"); null is "no value" (NaN)."""
    # JSON numbers first, by exact type (a bool is not an int here): the common case.
    if type(raw) is float:
        if math.isfinite(raw):
            return raw
        raise BadInput("bad_value", f"{short(str(raw))!r} is not a finite number")
    if type(raw) is int:
        try:
            return float(raw)
        except OverflowError:
            raise BadInput("bad_value", "too large") from None
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise BadInput("bad_value", "true/false is not a measurement")
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:
            raise BadInput("bad_value", "too large") from None
    elif isinstance(raw, str):
        # Some firmware writes the decimal comma, as TT10 files do.
        text = raw.strip().replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise BadInput("bad_value", f"{short(raw)!r} is not a number") from None
    else:
        raise BadInput("bad_value", f"{json_type(raw)} is not a number")
    if not math.isfinite(value):
        raise BadInput("bad_value", f"{short(str(raw))!r} is not a finite number")
    return value


def parse_time(raw: object, spec: TimestampSpec, zone: ZoneInfo) -> datetime:
    """A device time as UTC: ISO 8601 (naive = the station's local time), epoch s or ms."""
    return parse_time_as(raw, spec.format, zone)


def _is_number(text: str) -> bool:
    r"""Whether ``text`` is ``\d+(\.\d+)?`` (Unicode decimal digits, as re's ``\d``)."""
    if text.isdecimal():
        return True
    whole, dot, fraction = text.partition(".")
    return bool(dot) and whole.isdecimal() and fraction.isdecimal()


def parse_time_as(raw: object, fmt: str, zone: ZoneInfo) -> datetime:
    # JSON's types first, by exact type (a bool is not an int here): the common cases.
    if type(raw) is int or type(raw) is float:
        if fmt == "iso8601":
            raise BadInput("bad_timestamp", f"{short(repr(raw))} is not an ISO 8601 time")
        return _from_epoch(raw, fmt)
    if type(raw) is str:
        text = raw.strip()
        if fmt != "iso8601" and _is_number(text):
            return _from_epoch(float(text), fmt)
        return _from_iso(raw, text, fmt, zone)
    if isinstance(raw, bool):
        raise BadInput("bad_timestamp", "true/false is not a time")
    if isinstance(raw, int | float):
        if fmt == "iso8601":
            raise BadInput("bad_timestamp", f"{short(repr(raw))} is not an ISO 8601 time")
        return _from_epoch(raw, fmt)
    if isinstance(raw, str):
        text = raw.strip()
        if fmt != "iso8601" and _is_number(text):
            return _from_epoch(float(text), fmt)
        return _from_iso(raw, text, fmt, zone)
    raise BadInput("bad_timestamp", f"{json_type(raw)} is not a time")


def _from_epoch(number: float, fmt: str) -> datetime:
    try:
        seconds = float(number)
        if fmt == "epoch_ms" or (fmt == "auto" and abs(seconds) >= _EPOCH_MS_FROM):
            seconds /= 1000.0
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadInput("bad_timestamp", f"{short(repr(number))} is not a time") from None


def _from_iso(raw: str, text: str, fmt: str, zone: ZoneInfo) -> datetime:
    if fmt in ("epoch_s", "epoch_ms"):
        raise BadInput("bad_timestamp", f"{short(raw)!r} is not an epoch number")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput("bad_timestamp", f"{short(raw)!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=zone)  # a naive time is the station's local time
    elif ts.tzinfo is UTC:
        return ts  # "…Z" or "+00:00": UTC already
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadInput("bad_timestamp", f"{short(raw)!r} is out of range") from None


def json_type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number"
    )


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
