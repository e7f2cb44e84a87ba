"""A profile compiled for stations of one kind and zone: a message's document → readings.

What a profile says about its messages is worked out once, when the decoder is made: field
paths split, parameter symbols resolved, unit conversions and the timestamp format looked up
(:class:`DecodePlan`, one per profile as its stations use it). Decoding a message then only
walks the document: a six-parameter flat message costs about 10 µs (docs/benchmarks.md). Pure:
no I/O, no clock (the arrival time is an argument).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from gateway.model import DeviceStatus, Reading
from gateway.mqtt_input.profile import (
    ArraySpec,
    FieldPath,
    MqttProfile,
    StatusSpec,
    conversion,
    path_keys,
    path_text,
)
from gateway.mqtt_input.routing import (
    resolve_known,
)
from gateway.mqtt_input.values import (
    MISSING,
    BadInput,
    CompiledPath,
    Problem,
    compile_path,
    json_type,
    lookup,
    parse_json,
    parse_time_as,
    short,
    to_value,
)
from gateway.parameters import AmbiguousParameterError, UnknownParameterError, registry

# Bytes read before the station (and so its profile's limit) is known.
MAX_PAYLOAD_BYTES = 1_048_576
# A device clock more than this ahead of the gateway's is wrong, not early.
MAX_CLOCK_AHEAD = timedelta(days=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# JSON integers below this in size become floats without overflow (float's limit is ≈2**1024).
_FLOAT_INT = 2**1000
# Device times remembered per plan (the last minute of a few thousand stations).
_MAX_TIMES = 4_096
# Symbols, units and status codes remembered per plan: random keys from a broken device must
# not grow memory. Nor long ones: no symbol or status code is longer than _MAX_CACHED_KEY.
_MAX_CACHED = 10_000
_MAX_CACHED_KEY = 64
# No sensor reads beyond this (the registry's widest range is a flow's 1e9 m³/h): such a
# number is no measurement, refused here as bad_value before it is even a reading (it keeps
# unit conversions, sums and means finite). Each parameter's physical range is checked once,
# for every driver, by the gateway (gateway.parameters.impossible_value): not here.
MAX_MAGNITUDE = 1e12


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one message gave: the station it is from ("" if unknown), readings, problems.

    Readings and problems can both be present: the good values of a message are kept, the bad
    ones reported (docs/mqtt-stations.md: nothing else lost).
    """

    station: str
    readings: tuple[Reading, ...] = ()
    problems: tuple[Problem, ...] = ()
    missing: tuple[str, ...] = ()  # fields the profile lists that the message did not have

    @property
    def reason(self) -> str:
        """The message's rejection reason code ("" when nothing was wrong)."""
        return self.problems[0].code if self.problems else ""


# A parameter as a station sends it: (canonical name, canonical unit, factor, offset, and the
# bad_unit detail when the device's unit has no conversion, else "").
_Slot = tuple[str, str, float, float, str]
# Flat keys that are no parameter: the time, the status, ignored ones (rssi…); unknown symbols.
# (Told apart by identity; their contents differ so that Python does not merge the constants.)
_SKIP: Final[_Slot] = ("", "", 1.0, 0.0, "skip")
_UNKNOWN: Final[_Slot] = ("", "", 1.0, 0.0, "unknown")


class DecodePlan:
    """A profile compiled for stations of one kind and timezone: messages → readings.

    Built with the :class:`MqttDecoder` (so at start, when the site's config loads) and shared
    by the stations that use the profile alike; per message only :meth:`decode` runs. Symbols
    are resolved with the station's kind (flat keys, array items, numeric topics) or the
    profile's (listed fields), as the profile check did. What a station sends (symbols, units,
    status codes) is remembered on first sight.
    """

    def __init__(
        self, profile: MqttProfile, kind: str, zone: ZoneInfo, device_units: Mapping[str, str]
    ) -> None:
        self.kind = kind
        self.shape = profile.shape
        self.max_payload_bytes = profile.max_payload_bytes
        self.device_units = dict(device_units)
        stamp = profile.timestamp
        self.ts_path = compile_path(stamp.path or "")
        self.ts_format = stamp.format
        self.ts_missing_arrival = stamp.missing == "arrival"
        self.zone = zone
        self.status_spec: StatusSpec | None = profile.status
        self.status_path = compile_path(profile.status.path) if profile.status else None
        self.array: ArraySpec | None = profile.array
        self.array_path = compile_path(profile.array.path) if profile.array else None
        self.fields: tuple[tuple[str, CompiledPath, str, str | None], ...] = tuple(
            (
                path_text(spec.path),
                compile_path(spec.path),
                resolve_known(spec.param, profile.kind),
                spec.unit,
            )
            for spec in profile.fields
        )
        self.reserved = frozenset(
            {
                _first_key(stamp.path),
                _first_key(profile.status.path if profile.status else None),
                _first_key(profile.station.path),
                *profile.ignore,
            }
        )
        self._slots: dict[str, _Slot] = {}  # canonical param → its slot in the device's unit
        self._symbols: dict[str, str | None] = {}  # symbol → canonical param (None: unknown)
        self._keys: dict[str, _Slot] = {}  # flat key → its slot, _SKIP or _UNKNOWN
        self._statuses: dict[str, DeviceStatus] = {}  # status code → status
        self._times: dict[object, datetime] = {}  # a device time as sent → UTC

    def decode(
        self,
        station: str,
        captured: Mapping[str, str],
        payload: bytes,
        document: object,
        arrival: datetime,
    ) -> Outcome:
        if len(payload) > self.max_payload_bytes:
            raise BadInput("too_large", f"{len(payload)} bytes (at most {self.max_payload_bytes})")
        found = _Found(station)
        if self.shape == "numeric":
            self._numeric(captured["param"], payload, arrival, found)
        else:
            if document is MISSING:
                document = parse_json(payload)
            if self.shape == "array":
                self._array(document, arrival, found)
            elif self.fields:
                self._fields(document, arrival, found)
            else:
                self._flat(document, arrival, found)
        readings, problems = found.readings, found.problems
        if not readings and not problems:
            problems.append(Problem("no_values", "the message holds no parameter value"))
        return Outcome(station, tuple(readings), tuple(problems), tuple(found.missing))

    # -- the shapes ------------------------------------------------------------------------

    def _flat(self, document: object, arrival: datetime, found: _Found) -> None:
        """Every key of the object is a parameter, but the time, the status and ignored ones.

        The most common shape (and the benchmark's), so :meth:`_add` is written out here,
        with JSON's own number types first.
        """
        if not isinstance(document, dict):
            raise BadInput("shape", f"expected a JSON object, got {json_type(document)}")
        ts = self._time(lookup(document, self.ts_path), "timestamp", arrival)
        status = self._status(document)
        station, readings, problems, seen = (
            found.station,
            found.readings,
            found.problems,
            found.seen,
        )
        keys = self._keys
        isfinite = math.isfinite
        for key, raw in document.items():
            slot = keys.get(key)
            if slot is None:
                slot = self._key_slot(key)
            if slot is _SKIP:
                continue
            if slot is _UNKNOWN:
                problems.append(unknown_symbol(key, self.kind, ""))
                continue
            param, unit, factor, offset, bad_unit = slot
            if param in seen:
                problems.append(Problem("duplicate_param", f"{param} given twice ({key})"))
                continue
            if bad_unit:
                problems.append(Problem("bad_unit", bad_unit))
                continue
            if type(raw) is float and isfinite(raw):
                value = raw
            elif type(raw) is int and -_FLOAT_INT < raw < _FLOAT_INT:
                value = float(raw)
            else:
                try:
                    value = to_value(raw)
                except BadInput as bad:
                    problems.append(Problem(bad.problem.code, f"{param}: {bad.problem.detail}"))
                    continue
            if value == value:  # not NaN, the "no value" a null stands for
                value = value * factor + offset
                if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:  # also inf
                    problems.append(Problem("bad_value", f"{param}: out of range"))
                    continue
            seen.add(param)
            readings.append(Reading(station, param, value, unit, ts, status))

    def _fields(self, document: object, arrival: datetime, found: _Found) -> None:
        if not isinstance(document, dict):
            raise BadInput("shape", f"expected a JSON object, got {json_type(document)}")
        ts = self._time(lookup(document, self.ts_path), "timestamp", arrival)
        status = self._status(document)
        for where, path, param, unit in self.fields:
            raw = lookup(document, path)
            if raw is MISSING:
                # Not an error (a sensor left out for maintenance), but never silent: the
                # driver counts it per station and field and logs its first time.
                found.missing.append(where)
                continue
            self._add(found, where, param, raw, unit, ts, status)

    def _array(self, document: object, arrival: datetime, found: _Found) -> None:
        spec = self.array
        assert spec is not None  # the profile's validator pairs shape array with array:
        items = lookup(document, self.array_path or ()) if spec.path else document
        if not isinstance(items, list):
            raise BadInput("shape", f"expected a JSON list at {spec.path or 'the top'}")
        problems = found.problems
        message_ts: datetime | None = None
        status = self._status(document) if isinstance(document, dict) else DeviceStatus.MEASURING
        for index, item in enumerate(items):
            where = f"item {index}"
            if not isinstance(item, dict):
                problems.append(Problem("shape", f"{where} is {json_type(item)}"))
                continue
            symbol = item.get(spec.param)
            if not isinstance(symbol, str):
                problems.append(Problem("unknown_param", f"{where}: no {spec.param!r} text"))
                continue
            param = self.canonical(symbol)
            if param is None:
                problems.append(unknown_symbol(symbol, self.kind, f"{where}: "))
                continue
            unit = item.get(spec.unit) if spec.unit else None
            if unit is not None and not isinstance(unit, str):
                problems.append(Problem("bad_unit", f"{where} ({param}): unit is not text"))
                continue
            try:
                if spec.ts is not None and spec.ts in item:
                    ts = self._time(item[spec.ts], f"{where} time", arrival)
                else:
                    if message_ts is None:
                        raw = lookup(document, self.ts_path)
                        message_ts = self._time(raw, "timestamp", arrival)
                    ts = message_ts
                item_status = status
                if spec.status is not None and spec.status in item:
                    item_status = self._status_of(item[spec.status])
            except BadInput as bad:
                problems.append(bad.problem)
                continue
            raw_value = item.get(spec.value, MISSING)
            self._add(found, where, param, raw_value, unit, ts, item_status)

    def _numeric(self, symbol: str, payload: bytes, arrival: datetime, found: _Found) -> None:
        param = self.canonical(symbol)
        if param is None:
            raise BadInput(*_code_detail(unknown_symbol(symbol, self.kind, "the topic's ")))
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise BadInput("not_utf8", "the payload is not UTF-8 text") from None
        ts = self._time(MISSING, "timestamp", arrival)
        self._add(found, "payload", param, text, None, ts, DeviceStatus.MEASURING)

    # -- parts -----------------------------------------------------------------------------

    def _add(
        self,
        found: _Found,
        where: str,
        param: str,
        raw: object,
        unit: str | None,
        ts: datetime,
        status: DeviceStatus,
    ) -> None:
        problems = found.problems
        if param in found.seen:
            problems.append(Problem("duplicate_param", f"{param} given twice ({where})"))
            return
        # An empty unit is no unit, as a missing one: the profile's (or the canonical) applies.
        _, canonical, factor, offset, bad_unit = (
            self._slot(param, unit) if unit else self._default_slot(param)
        )
        if bad_unit:
            problems.append(Problem("bad_unit", bad_unit))
            return
        if raw is MISSING:
            problems.append(Problem("bad_value", f"{param}: no value ({where})"))
            return
        try:
            value = to_value(raw)
        except BadInput as bad:
            problems.append(Problem(bad.problem.code, f"{param}: {bad.problem.detail}"))
            return
        if not math.isnan(value):
            value = value * factor + offset
            if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:  # also inf
                problems.append(Problem("bad_value", f"{param}: out of range"))
                return
        found.seen.add(param)
        found.readings.append(Reading(found.station, param, value, canonical, ts, status))

    def _default_slot(self, param: str) -> _Slot:
        """``param`` in the unit the profile says the device sends it in, or the canonical."""
        try:
            return self._slots[param]
        except KeyError:
            pass
        slot = self._slots[param] = self._slot(param, None)  # bounded by the registry
        return slot

    def _slot(self, param: str, unit: str | None) -> _Slot:
        """``param`` sent in ``unit`` (None: the profile's unit for it, else the canonical)."""
        canonical = registry()[param].unit
        device_unit = unit or self.device_units.get(param) or canonical
        factor_offset = _conversion(device_unit, canonical)
        if factor_offset is None:
            problem = f"{param}: {short(device_unit)!r} is not {canonical!r}"
            return (param, canonical, 1.0, 0.0, problem)
        return (param, canonical, *factor_offset, "")

    def canonical(self, symbol: str) -> str | None:
        """A symbol the station sends → the canonical parameter name (None: unknown)."""
        if len(symbol) > _MAX_CACHED_KEY:
            return None
        try:
            return self._symbols[symbol]
        except KeyError:
            pass
        if len(self._symbols) > _MAX_CACHED:
            self._symbols.clear()
        param = self._symbols[symbol] = _canonical(symbol, self.kind)
        return param

    def _key_slot(self, key: str) -> _Slot:
        if len(key) > _MAX_CACHED_KEY:
            return _UNKNOWN
        if key in self.reserved:
            slot = _SKIP
        else:
            param = self.canonical(key)
            slot = _UNKNOWN if param is None else self._default_slot(param)
        if len(self._keys) > _MAX_CACHED:
            self._keys.clear()
        self._keys[key] = slot
        return slot

    def _time(self, raw: object, what: str, arrival: datetime) -> datetime:
        if raw is MISSING or raw is None:
            if self.ts_missing_arrival:
                return arrival
            raise BadInput("no_timestamp", f"no {what} and the profile does not allow arrival time")
        # Stations report on the minute, so the same time comes from many of them at once:
        # placing a naive ISO time in its zone costs ≈1.6 µs (an epoch number ≈0.5), a lookup ≈0.15.
        kind = type(raw)
        if kind is str or kind is int or kind is float:
            ts = self._times.get(raw)
            if ts is None:
                ts = parse_time_as(raw, self.ts_format, self.zone)
                if len(self._times) >= _MAX_TIMES:
                    self._times.clear()
                self._times[raw] = ts
        else:
            ts = parse_time_as(raw, self.ts_format, self.zone)
        if ts < EARLIEST:
            raise BadInput("bad_timestamp", f"{what} {ts.isoformat()} is before {EARLIEST.year}")
        if ts > arrival + MAX_CLOCK_AHEAD:
            raise BadInput("bad_timestamp", f"{what} {ts.isoformat()} is in the future")
        return ts

    def _status(self, document: dict[str, object]) -> DeviceStatus:
        if self.status_path is None:
            return DeviceStatus.MEASURING
        raw = lookup(document, self.status_path)
        if raw is MISSING or raw is None:
            return DeviceStatus.MEASURING
        return self._status_of(raw)

    def _status_of(self, raw: object) -> DeviceStatus:
        if type(raw) is str:  # the common case: a code seen before
            known = self._statuses.get(raw)
            if known is not None:
                return known
        spec = self.status_spec
        if spec is None:
            return DeviceStatus.MEASURING
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise BadInput("bad_status", f"status {short(repr(raw))} is not a code or a name")
        code = str(raw)
        try:
            return self._statuses[code]
        except KeyError:
            pass
        if len(code) > _MAX_CACHED_KEY:
            return spec.status_of(code)
        if len(self._statuses) > _MAX_CACHED:
            self._statuses.clear()
        status = self._statuses[code] = spec.status_of(code)
        return status


class _Found:
    """What one message gave so far: its readings, its problems, the parameters seen."""

    __slots__ = ("missing", "problems", "readings", "seen", "station")

    def __init__(self, station: str) -> None:
        self.station = station
        self.readings: list[Reading] = []
        self.problems: list[Problem] = []
        self.seen: set[str] = set()
        self.missing: list[str] = []  # listed fields the message does not have


def _canonical(symbol: str, kind: str) -> str | None:
    try:
        return registry().at_station(symbol, kind).name
    except UnknownParameterError:
        return None


def unknown_symbol(symbol: str, kind: str, where: str) -> Problem:
    """The problem of a symbol that names no parameter at a station of this kind: unknown, or
    ambiguous (two parameters list it and the kind does not decide) — said as such, with the
    parameters, so the fix (a listed field with its parameter) is plain."""
    try:
        registry().at_station(symbol, kind)
    except AmbiguousParameterError as exc:
        return Problem("ambiguous_param", f"{where}{exc}; map it under fields: with its param")
    except UnknownParameterError:
        pass
    return Problem("unknown_param", f"{where}{short(symbol)!r}")


def _code_detail(problem: Problem) -> tuple[str, str]:
    return problem.code, problem.detail


def _first_key(path: FieldPath | None) -> str:
    """The top-level key of a path (what a flat payload's key is compared with)."""
    keys = path_keys(path) if path else []
    return str(keys[0]) if keys else ""


@functools.lru_cache(maxsize=256)
def _conversion(device_unit: str, canonical: str) -> tuple[float, float] | None:
    return conversion(device_unit, canonical)
