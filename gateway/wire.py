"""JSON wire format v1 and the topic scheme. docs/wire-format.md describes the same, for people.

Version 1 is in every topic (``quantrac/v1/...``) and in every payload (``"v": 1``): a consumer
refuses a payload of another version with a clear error instead of misreading it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway.model import DeviceStatus, Quality, Reading, ReadingBatch

WIRE_VERSION = 1
TOPIC_ROOT = f"quantrac/v{WIRE_VERSION}"
RAW_FILTER = f"{TOPIC_ROOT}/raw/+"
CLEAN_FILTER = f"{TOPIC_ROOT}/clean/+"
INCIDENTS_FILTER = f"{TOPIC_ROOT}/incidents/+"

E = TypeVar("E", DeviceStatus, Quality)

_STATION_ID = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")


class WireError(ValueError):
    """A payload that is not a valid v1 batch; the message says what is wrong and where."""


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
        raise WireError(f"topic {topic!r} is not of the form {TOPIC_ROOT}/<kind>/<station>")
    return parts[3]


def format_ts(ts: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a Z, e.g. 2026-11-22T16:40:00.000Z."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reading_to_json(reading: Reading) -> dict[str, Any]:
    item: dict[str, Any] = {
        "param": reading.param,
        # JSON has no NaN: a device's "no value" sentinel travels as null.
        "value": reading.value if math.isfinite(reading.value) else None,
        "unit": reading.unit,
        "ts": format_ts(reading.ts),
        "status": reading.status.name.lower(),
    }
    if reading.quality is not Quality.UNCHECKED:
        item["quality"] = reading.quality.name.lower()
        item["reason"] = reading.reason
    return item


def encode_batch(batch: ReadingBatch) -> bytes:
    document = {
        "v": WIRE_VERSION,
        "gateway": batch.gateway,
        "seq": batch.seq,
        "station": batch.station,
        "produced_at": format_ts(batch.produced_at),
        **({"epoch": batch.epoch} if batch.epoch else {}),
        "readings": [_reading_to_json(r) for r in batch.readings],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _field(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in obj:
        raise WireError(f"{where}: missing field {name!r}")
    value = obj[name]
    # bool is an int in Python; a JSON true is never a valid number here.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise WireError(f"{where}: field {name!r} should be {_kind_name(kind)}, not {value!r}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _parse_ts(text: str, where: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as exc:
        raise WireError(f"{where}: timestamp {text!r} is not ISO 8601") from exc
    if ts.tzinfo is None:
        raise WireError(f"{where}: timestamp {text!r} has no timezone (the wire format is UTC)")
    return ts.astimezone(UTC)


def _enum_member(enum: type[E], text: str, where: str) -> E:
    try:
        return enum[text.upper()]
    except KeyError:
        names = ", ".join(m.name.lower() for m in enum)
        raise WireError(f"{where}: {text!r} is not one of {names}") from None


def _v1_document(payload: bytes | str, where: str, what: str) -> dict[str, Any]:
    """A JSON object of wire version 1, or a WireError saying what is wrong."""
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise WireError(f"{where}: {what} is a JSON object, not {type(document).__name__}")
    version = document.get("v")
    if type(version) is not int or version != WIRE_VERSION:  # true == 1 in Python
        raise WireError(f"{where}: wire version {version!r} is not supported (expected 1)")
    return document


def decode_batch(payload: bytes | str, *, topic: str | None = None) -> ReadingBatch:
    """Parse a v1 batch. Raises :class:`WireError` naming the topic, station and field."""
    where = topic or "payload"
    document = _v1_document(payload, where, "a batch")
    station = _field(document, "station", str, where)
    where = f"{where} station {station}"
    if topic is not None and station_of_topic(topic) != station:
        raise WireError(f"{where}: payload station does not match the topic")
    gateway = _field(document, "gateway", str, where)
    seq = _field(document, "seq", int, where)
    produced_at = _parse_ts(_field(document, "produced_at", str, where), where)
    items = _field(document, "readings", list, where)
    readings = []
    for index, item in enumerate(items):
        at = f"{where} reading {index}"
        if not isinstance(item, dict):
            raise WireError(f"{at}: a reading is a JSON object, not {item!r}")
        param = _field(item, "param", str, at)
        at = f"{where} param {param}"
        raw_value = item.get("value")
        if raw_value is None:
            value = math.nan
        elif isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
            raise WireError(f"{at}: value should be a number or null, not {raw_value!r}")
        else:
            value = float(raw_value)
        quality_text = item.get("quality")
        readings.append(
            Reading(
                station=station,
                param=param,
                value=value,
                unit=_field(item, "unit", str, at),
                ts=_parse_ts(_field(item, "ts", str, at), at),
                status=_enum_member(DeviceStatus, _field(item, "status", str, at), at),
                quality=(
                    Quality.UNCHECKED
                    if quality_text is None
                    else _enum_member(Quality, _field(item, "quality", str, at), at)
                ),
                reason=str(item.get("reason") or ""),
            )
        )
    return ReadingBatch(
        gateway=gateway,
        seq=seq,
        station=station,
        readings=tuple(readings),
        produced_at=produced_at,
        epoch=str(document.get("epoch") or ""),
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A collector's word that it has stored these batches of a gateway (DESIGN.md).

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


def decode_receipt(payload: bytes | str, *, topic: str | None = None) -> Receipt:
    where = topic or "receipt"
    document = _v1_document(payload, where, "a receipt")
    seqs = _field(document, "seqs", list, where)
    ranges = []
    for item in seqs:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(type(n) is int for n in item)
            or item[0] > item[1]
        ):
            raise WireError(f"{where}: {item!r} is not a [first, last] range of seqs")
        ranges.append((item[0], item[1]))
    return Receipt(
        gateway=_field(document, "gateway", str, where),
        epoch=_field(document, "epoch", str, where),
        seqs=tuple(ranges),
        collector=str(document.get("collector") or ""),
    )
