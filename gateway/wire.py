"""JSON wire format v1 and the topic scheme. docs/wire-format.md describes the same, for people.

Version 1 is in every topic (``quantrac/v1/...``) and in every payload (``"v": 1``): a consumer
refuses a payload of another version with a clear error instead of misreading it.

The decoders are the services' boundary: one strict function per kind of message
(:func:`decode_batch`, :func:`decode_receipt`; ``alerting.service.decode_incident`` is built
from the same parts), which refuses with a :class:`WireError` and its reason code whatever is
out of bounds, and never raises anything else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import orjson

from gateway.model import DeviceStatus, Quality, Reading, ReadingBatch
from gateway.parameters import registry

WIRE_VERSION = 1
TOPIC_ROOT = f"quantrac/v{WIRE_VERSION}"
RAW_FILTER = f"{TOPIC_ROOT}/raw/+"
CLEAN_FILTER = f"{TOPIC_ROOT}/clean/+"
INCIDENTS_FILTER = f"{TOPIC_ROOT}/incidents/+"

E = TypeVar("E", DeviceStatus, Quality)

_STATION_ID = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")


# Reason codes of WireError: services count refusals (dead letters) by them.
REASONS = (
    "too_large",  # more bytes, readings or ranges than the bounds allow
    "too_deep",  # JSON nested deeper than the bounds allow
    "not_json",  # not UTF-8, or not JSON
    "version",  # not wire version 1
    "schema",  # a field missing or of the wrong type, text too long, an unknown status
    "bad_number",  # a value that is not a finite number within the 64-bit integer range
    "bad_time",  # a time that is not ISO 8601 with a zone, or outside the plausible window
    "bad_station",  # a station id (payload or topic) that is not a valid id, or they differ
    "bad_gateway",  # a gateway id that is not a valid id, or not the topic's
    "bad_param",  # a parameter the registry does not know
    "bad_seq",  # a sequence number or range outside 0 … 2**63 - 1
)

MAX_SEQ = 2**63 - 1  # SQLite's INTEGER, and what a gateway can ever number
_INT64 = 2**63
_MAX_UNIT = 32
_MAX_EPOCH = 64
_EPOCH = re.compile(r"[A-Za-z0-9_\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WireError(ValueError):
    """A payload the boundary refuses; the message says what is wrong and where.

    ``reason`` is one of :data:`REASONS`, so refusals can be counted by it.
    """

    def __init__(self, message: str, reason: str = "schema") -> None:
        super().__init__(message)
        self.reason = reason


def _topic(kind: str, name: str) -> str:
    if not _STATION_ID.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid id for a topic (a-z, 0-9, _ and -)")
    return f"{TOPIC_ROOT}/{kind}/{name}"


def raw_topic(station: str) -> str:
    return _topic("raw", station)


def clean_topic(station: str) -> str:
    return _topic("clean", station)


def incidents_topic(station: str) -> str:
    return _topic("incidents", station)


def receipts_topic(gateway: str) -> str:
    return _topic("receipts", gateway)


def deadletter_topic(gateway: str) -> str:
    """Inputs a gateway's drivers could not decode, with the reason (gateway.streaming)."""
    return _topic("deadletter", gateway)


def station_of_topic(topic: str) -> str:
    """The station id in ``quantrac/v1/<kind>/<station>``."""
    parts = topic.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT or not parts[3]:
        raise WireError(
            f"topic {short(topic, 200)!r} is not of the form {TOPIC_ROOT}/<kind>/<station>",
            "bad_station",
        )
    return parts[3]


def format_ts(ts: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z, e.g. 2026-11-22T16:40:00.000Z."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_STATUS_TEXT = {m: m.name.lower() for m in DeviceStatus}
_QUALITY_TEXT = {m: m.name.lower() for m in Quality}


def _reading_to_json(reading: Reading, ts: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "param": reading.param,
        # JSON has no NaN: a device's "no value" sentinel travels as null (orjson writes any
        # non-finite float as null).
        "value": reading.value,
        "unit": reading.unit,
        "ts": ts,
        "status": _STATUS_TEXT[reading.status],
    }
    if reading.quality is not Quality.UNCHECKED:
        item["quality"] = _QUALITY_TEXT[reading.quality]
        item["reason"] = reading.reason
    return item


def encode_batch(batch: ReadingBatch) -> bytes:
    """The batch as compact UTF-8 JSON. Once per batch, not per reading: the readings of a poll
    share their time, which is formatted once, and orjson serialises (a fifth of the json
    module's time: 14 µs for ten readings instead of 70, issue 12)."""
    stamps: dict[datetime, str] = {}
    readings = []
    for reading in batch.readings:
        ts = stamps.get(reading.ts)
        if ts is None:
            ts = stamps[reading.ts] = format_ts(reading.ts)
        readings.append(_reading_to_json(reading, ts))
    document = {
        "v": WIRE_VERSION,
        "gateway": batch.gateway,
        "seq": batch.seq,
        "station": batch.station,
        "produced_at": format_ts(batch.produced_at),
        **({"epoch": batch.epoch} if batch.epoch else {}),
        "readings": readings,
    }
    return orjson.dumps(document)


# --- the boundary: strict decoding ----------------------------------------------------------
#
# Anyone who can publish to the broker can send anything on any topic. So every message a
# service reads is decoded here, by one strict function per kind, which bounds whatever could
# make the service fail later (a float() that overflows, an astimezone() past year 9999, an id
# that no topic may carry, a sequence number SQLite cannot hold). Nothing but WireError ever
# leaves a decoder (tests/gateway/test_wire_boundary.py tries arbitrary bytes and documents).


@dataclass(frozen=True, slots=True)
class WireBounds:
    """What the decoders accept (docs/wire-format.md, "The boundary")."""

    max_bytes: int = 1_048_576  # a batch, receipt or incident
    max_depth: int = 32  # JSON nesting; a batch needs 3
    max_readings: int = 10_000  # per batch
    max_ranges: int = 10_000  # per receipt
    max_text: int = 256  # reasons, a clean batch's gateway, a receipt's collector
    # The plausible window for readings and batch times; a device clock outside it is broken,
    # and year 1 or 9999 with an offset cannot even be converted to UTC.
    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    ahead: timedelta = timedelta(days=1)  # beyond now


DEFAULT_BOUNDS = WireBounds()

# Series the collector derives and publishes on the clean stream beside the readings: these,
# and the hourly mean "<param>_h" of any series. collector.schema builds the stores' rule from
# them (the contract belongs to the producer side; collector imports gateway, never back).
DERIVED_PARAMS = frozenset(
    {
        "vn_aqi_h",
        "vn_aqi_d",
        "vn_wqi",
        "rain_1h",
        "rain_3h",
        "rain_6h",
        "rain_12h",
        "rain_24h",
        "flood_level",
    }
)
MEAN_SUFFIX = "_h"


@cache
def raw_params() -> frozenset[str]:
    """What a raw batch may carry: the registry's canonical parameters, as gateways send."""
    return frozenset(p.name for p in registry())


@cache
def clean_params() -> frozenset[str]:
    """What a clean batch may carry: the raw parameters, the derived series, hourly means."""
    series = raw_params() | DERIVED_PARAMS
    return series | frozenset(f"{name}{MEAN_SUFFIX}" for name in series)


def short(text: str, limit: int = 60) -> str:
    """Text for an error message: a hostile payload must not put a megabyte in the log."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: object) -> str:
    return short(repr(value))


def field(
    obj: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    where: str,
    reason: str = "schema",
) -> Any:
    """``obj[name]`` if it is of ``kind``, else a WireError with ``reason``."""
    if name not in obj:
        raise WireError(f"{where}: missing field {name!r}", reason)
    value = obj[name]
    # bool is an int in Python; a JSON true is never a valid number here.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise WireError(
            f"{where}: field {name!r} should be {_kind_name(kind)}, not {_show(value)}", reason
        )
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def text(value: str, name: str, where: str, limit: int, reason: str = "schema") -> str:
    """Text of at most ``limit`` characters without control characters (logs, tags, lines)."""
    if len(value) > limit:
        raise WireError(f"{where}: {name} is longer than {limit} characters", reason)
    if _CONTROL.search(value):
        raise WireError(f"{where}: {name} {_show(value)} holds control characters", reason)
    return value


def optional_text(obj: dict[str, Any], name: str, where: str, limit: int) -> str:
    """An optional text field: absent, null and "" are ""."""
    value = obj.get(name)
    if value is None:
        return ""
    if type(value) is not str:
        raise WireError(f"{where}: field {name!r} should be str, not {_show(value)}")
    return text(value, f"field {name!r}", where, limit) if value else ""


def station_id(value: str, where: str, what: str = "station", reason: str = "bad_station") -> str:
    if not _STATION_ID.fullmatch(value):
        raise WireError(
            f"{where}: {what} {_show(value)} is not a valid id (a-z, 0-9, _ and -)", reason
        )
    return value


def seq_number(value: int, where: str) -> int:
    if not 0 <= value <= MAX_SEQ:
        raise WireError(f"{where}: seq {_show(value)} is outside 0 … 2**63 - 1", "bad_seq")
    return value


@dataclass(frozen=True, slots=True)
class TimeWindow:
    earliest: datetime
    latest: datetime

    @classmethod
    def of(cls, bounds: WireBounds, now: datetime | None = None) -> TimeWindow:
        return cls(bounds.earliest, (now or datetime.now(UTC)) + bounds.ahead)


def parse_time(value: str, where: str, window: TimeWindow) -> datetime:
    """An ISO 8601 time with a zone, as UTC, within the window; else a ``bad_time`` refusal."""
    try:
        if len(value) > 40:  # the longest ISO form is 32: 2026-11-22T16:40:00.000000+07:00
            raise ValueError
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise WireError(f"{where}: timestamp {_show(value)} is not ISO 8601", "bad_time") from None
    if ts.tzinfo is None:
        raise WireError(
            f"{where}: timestamp {value!r} has no timezone (the wire format is UTC)", "bad_time"
        )
    if ts.tzinfo is not UTC:
        try:
            ts = ts.astimezone(UTC)
        except (OverflowError, ValueError):  # year 1 at +14:00, year 9999 at -14:00
            raise WireError(f"{where}: timestamp {value!r} is out of range", "bad_time") from None
    if not window.earliest <= ts <= window.latest:
        raise WireError(
            f"{where}: timestamp {value!r} is outside {format_ts(window.earliest)}"
            f" … {format_ts(window.latest)}",
            "bad_time",
        )
    return ts


# Nesting is checked before json.loads: the parser recurses, and JSON nested 100,000 deep
# raised RecursionError out of it. Counting brackets is enough for most messages (a batch of
# up to 30 readings has fewer than 32); else the brackets alone are reduced, one level a pass.
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_PAIR = re.compile(r"\[\]|\{\}")


def _depth_exceeds(brackets: str, limit: int) -> bool:
    for _ in range(limit):
        inner = _PAIR.sub("", brackets)
        if not inner or len(inner) == len(brackets):  # done, or unbalanced: JSON will say
            return False
        brackets = inner
    return True


def too_deep(document: str, limit: int) -> bool:
    """Whether JSON text nests deeper than ``limit`` (brackets inside strings do not count)."""
    if document.count("[") + document.count("{") <= limit:
        return False
    if not _depth_exceeds(_NOT_BRACKET.sub("", document), limit):
        return False  # brackets inside strings can only make it look deeper
    return _depth_exceeds(_NOT_BRACKET.sub("", _STRING.sub("", document)), limit)


def read_document(
    payload: bytes | str, where: str, what: str, bounds: WireBounds = DEFAULT_BOUNDS
) -> dict[str, Any]:
    """A JSON object of wire version 1 within the bounds, or a WireError saying what is wrong."""
    if len(payload) > bounds.max_bytes:
        raise WireError(
            f"{where}: {len(payload)} bytes, more than a {what.split()[-1]} may have"
            f" ({bounds.max_bytes})",
            "too_large",
        )
    if isinstance(payload, str):
        document_text = payload
    else:
        try:
            document_text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"{where}: not JSON (not UTF-8: {exc.reason})", "not_json") from None
    if too_deep(document_text, bounds.max_depth):
        raise WireError(f"{where}: JSON nested deeper than {bounds.max_depth}", "too_deep")
    try:
        document = json.loads(document_text)
    except json.JSONDecodeError as exc:
        raise WireError(f"{where}: not JSON ({exc})", "not_json") from None
    except RecursionError:  # the pre-scan should have caught it; never let it out
        raise WireError(f"{where}: JSON nested too deep", "too_deep") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise WireError(f"{where}: {short(str(exc))}", "bad_number") from None
    if not isinstance(document, dict):
        raise WireError(f"{where}: {what} is a JSON object, not {type(document).__name__}")
    version = document.get("v")
    if type(version) is not int or version != WIRE_VERSION:  # true == 1 in Python
        raise WireError(
            f"{where}: wire version {_show(version)} is not supported (expected 1)", "version"
        )
    return document


def _where(topic: str | None, default: str) -> str:
    return default if topic is None else short(topic, 200)


def _topic_id(topic: str, where: str, reason: str) -> tuple[str, str]:
    """(kind, id) of ``quantrac/v1/<kind>/<id>``, the id checked."""
    name = station_of_topic(topic)
    kind = topic.split("/")[2]
    what = "station" if reason == "bad_station" else "gateway"
    return kind, station_id(name, where, f"the topic's {what}", reason)


_STATUS = {m.name.lower(): m for m in DeviceStatus}
_QUALITY = {m.name.lower(): m for m in Quality}
# Units seen valid, so that each is checked once (the registry has about twenty).
_UNITS: set[str] = set()


def _enum_member(members: dict[str, E], value: object, name: str, where: str) -> E:
    if type(value) is not str:
        if value is None:
            raise WireError(f"{where}: missing field {name!r}")
        raise WireError(f"{where}: field {name!r} should be str, not {_show(value)}")
    member = members.get(value) or members.get(value.lower())
    if member is None:
        names = ", ".join(members)
        raise WireError(f"{where}: {_show(value)} is not one of {names}")
    return member


def _unit(value: object, where: str) -> str:
    if type(value) is str and value in _UNITS:
        return value
    if type(value) is not str:
        if value is None:
            raise WireError(f"{where}: missing field 'unit'")
        raise WireError(f"{where}: field 'unit' should be str, not {_show(value)}")
    text(value, "unit", where, _MAX_UNIT)
    if len(_UNITS) < 1_000:  # random units from a hostile client must not grow memory
        _UNITS.add(value)
    return value


def _value(raw: object, where: str) -> float:
    kind = type(raw)
    if kind is float:
        if math.isfinite(raw):  # type: ignore[arg-type]
            return raw  # type: ignore[return-value]
        # JSON has no NaN: "no value" travels as null; 1e400 parses as inf.
        raise WireError(f"{where}: value {_show(raw)} is not a finite number", "bad_number")
    if kind is int:
        if -_INT64 <= raw < _INT64:  # type: ignore[operator]
            return float(raw)  # type: ignore[arg-type]
        raise WireError(f"{where}: value {_show(raw)} is beyond the 64-bit range", "bad_number")
    if raw is None:
        return math.nan
    raise WireError(f"{where}: value should be a number or null, not {_show(raw)}", "bad_number")


def decode_batch(
    payload: bytes | str,
    *,
    topic: str | None = None,
    bounds: WireBounds = DEFAULT_BOUNDS,
    now: datetime | None = None,
) -> ReadingBatch:
    """Parse a v1 batch. Raises :class:`WireError` naming the topic, station and field.

    On a raw topic the gateway must be a valid id (receipts are published on its topic) and
    every parameter a canonical one; on a clean topic, or without a topic, derived series
    are allowed too and the gateway is any short text (a collector's name).
    """
    where = _where(topic, "payload")
    raw = False
    topic_station = None
    if topic is not None:
        kind, topic_station = _topic_id(topic, where, "bad_station")
        raw = kind == "raw"
    document = read_document(payload, where, "a batch", bounds)
    station = station_id(field(document, "station", str, where, "bad_station"), where)
    where = f"{where} station {station}"
    if topic_station is not None and topic_station != station:
        raise WireError(f"{where}: payload station does not match the topic", "bad_station")
    gateway = field(document, "gateway", str, where, "bad_gateway")
    if raw:
        station_id(gateway, where, "gateway", "bad_gateway")
    else:
        text(gateway, "gateway", where, bounds.max_text, "bad_gateway")
    seq = seq_number(field(document, "seq", int, where, "bad_seq"), where)
    epoch = optional_text(document, "epoch", where, _MAX_EPOCH)
    if not _EPOCH.fullmatch(epoch):
        raise WireError(f"{where}: epoch {_show(epoch)} is not a-z, A-Z, 0-9, _ and -")
    window = TimeWindow.of(bounds, now)
    produced_at = parse_time(field(document, "produced_at", str, where, "bad_time"), where, window)
    items = field(document, "readings", list, where)
    if len(items) > bounds.max_readings:
        raise WireError(
            f"{where}: {len(items)} readings, more than {bounds.max_readings}", "too_large"
        )
    params = raw_params() if raw else clean_params()
    times: dict[str, datetime] = {}  # the readings of a poll share their time
    readings = []
    for index, item in enumerate(items):
        if type(item) is not dict:
            raise WireError(
                f"{where} reading {index}: a reading is a JSON object, not {_show(item)}"
            )
        param = item.get("param")
        if type(param) is not str:
            field(item, "param", str, f"{where} reading {index}", "bad_param")
        if param not in params:
            raise WireError(
                f"{where} reading {index}: {_show(param)} is not a canonical parameter"
                f"{'' if raw else ' or derived series'}",
                "bad_param",
            )
        at = f"{where} param {param}"
        value = _value(item.get("value"), at)
        unit = _unit(item.get("unit"), at)
        ts_text = item.get("ts")
        ts = times.get(ts_text) if type(ts_text) is str else None
        if ts is None:
            ts_text = field(item, "ts", str, at, "bad_time")
            ts = times[ts_text] = parse_time(ts_text, at, window)
        status = _enum_member(_STATUS, item.get("status"), "status", at)
        quality_text = item.get("quality")
        quality = (
            Quality.UNCHECKED
            if quality_text is None
            else _enum_member(_QUALITY, quality_text, "quality", at)
        )
        reason = item.get("reason")
        if reason:
            if type(reason) is not str:
                raise WireError(f"{at}: field 'reason' should be str, not {_show(reason)}")
            text(reason, "reason", at, bounds.max_text)
        else:
            reason = ""
        readings.append(Reading(station, param, value, unit, ts, status, quality, reason))
    return ReadingBatch(
        gateway=gateway,
        seq=seq,
        station=station,
        readings=tuple(readings),
        produced_at=produced_at,
        epoch=epoch,
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A collector's word that it has stored these batches of a gateway (docs/architecture.md,
    "Store and forward").

    ``seqs`` are inclusive ranges, not one high-water mark: collectors sharing one stream each
    store only some of a gateway's batches, so no single collector sees a contiguous run.
    """

    gateway: str
    epoch: str
    seqs: tuple[tuple[int, int], ...]
    collector: str = ""

    def covers(self, seq: int) -> bool:
        return any(first <= seq <= last for first, last in self.seqs)


def seq_ranges(seqs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """[1, 2, 3, 7, 8] → ((1, 3), (7, 8))."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return tuple(ranges)


def encode_receipt(receipt: Receipt) -> bytes:
    document = {
        "v": WIRE_VERSION,
        "gateway": receipt.gateway,
        "epoch": receipt.epoch,
        "seqs": [list(r) for r in receipt.seqs],
        "collector": receipt.collector,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode_receipt(
    payload: bytes | str, *, topic: str | None = None, bounds: WireBounds = DEFAULT_BOUNDS
) -> Receipt:
    """Parse a v1 receipt. Raises :class:`WireError` naming the topic and field.

    Every seq is within 0 … 2**63 - 1 (a receipt of seq 2**70 once stopped a gateway inside
    SQLite) and, on a receipts topic, the gateway is the topic's.
    """
    where = _where(topic, "receipt")
    topic_gateway = None if topic is None else _topic_id(topic, where, "bad_gateway")[1]
    document = read_document(payload, where, "a receipt", bounds)
    seqs = field(document, "seqs", list, where, "bad_seq")
    if len(seqs) > bounds.max_ranges:
        raise WireError(f"{where}: {len(seqs)} ranges, more than {bounds.max_ranges}", "too_large")
    ranges = []
    for item in seqs:
        if (
            type(item) is not list
            or len(item) != 2
            or not all(type(n) is int for n in item)
            or not 0 <= item[0] <= item[1] <= MAX_SEQ
        ):
            raise WireError(
                f"{where}: {_show(item)} is not a [first, last] range of seqs", "bad_seq"
            )
        ranges.append((item[0], item[1]))
    gateway = field(document, "gateway", str, where, "bad_gateway")
    station_id(gateway, where, "gateway", "bad_gateway")
    if topic_gateway is not None and gateway != topic_gateway:
        raise WireError(f"{where}: gateway {gateway} is not the topic's", "bad_gateway")
    epoch = text(field(document, "epoch", str, where), "epoch", where, _MAX_EPOCH)
    return Receipt(
        gateway=gateway,
        epoch=epoch,
        seqs=tuple(ranges),
        collector=optional_text(document, "collector", where, bounds.max_text),
    )
