"""Wire format v1: batch round trips, topic helpers and a table of malformed payloads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.model import DeviceStatus, Quality, Reading, ReadingBatch
from gateway.wire import (
    CLEAN_FILTER,
    INCIDENTS_FILTER,
    RAW_FILTER,
    WireError,
    clean_topic,
    decode_batch,
    encode_batch,
    format_ts,
    incidents_topic,
    raw_topic,
    receipts_topic,
    station_of_topic,
)

TS = datetime(2026, 11, 22, 16, 40, tzinfo=UTC)
ICT = timezone(timedelta(hours=7))
TOPIC = "quantrac/v1/raw/kim_long"


def _reading(param: str, value: float, unit: str, **changes: Any) -> Reading:
    fields: dict[str, Any] = {"station": "kim_long", "param": param, "value": value, "unit": unit}
    fields["ts"] = TS
    fields.update(changes)
    return Reading(**fields)


def _batch(*readings: Reading, gateway: str = "gw-hue-1", seq: int = 42) -> ReadingBatch:
    return ReadingBatch(
        gateway=gateway,
        seq=seq,
        station="kim_long",
        readings=readings,
        produced_at=TS + timedelta(seconds=3),
    )


def _assert_same(decoded: ReadingBatch, original: ReadingBatch) -> None:
    assert (decoded.gateway, decoded.seq, decoded.station) == (
        original.gateway,
        original.seq,
        original.station,
    )
    assert decoded.produced_at == original.produced_at
    assert decoded.produced_at.tzinfo is not None
    assert len(decoded.readings) == len(original.readings)
    for got, want in zip(decoded.readings, original.readings, strict=True):
        if math.isnan(want.value):
            assert math.isnan(got.value)
        else:
            assert got.value == want.value
        assert (got.station, got.param, got.unit, got.ts, got.status, got.quality, got.reason) == (
            want.station,
            want.param,
            want.unit,
            want.ts,
            want.status,
            want.quality,
            want.reason,
        )


ROUND_TRIPS: list[Any] = [
    pytest.param(_batch(), id="no-readings"),
    pytest.param(_batch(_reading("water_level", 1.234, "m")), id="one-reading"),
    pytest.param(_batch(_reading("water_level", -0.25, "m")), id="negative-value"),
    pytest.param(_batch(_reading("water_level", math.nan, "m")), id="nan-value"),
    pytest.param(
        _batch(_reading("water_level", 2.0, "m", status=DeviceStatus.CALIBRATING)),
        id="status-calibrating",
    ),
    pytest.param(
        _batch(_reading("water_level", 2.0, "m", status=DeviceStatus.ERROR)), id="status-error"
    ),
    pytest.param(
        _batch(_reading("water_level", 2.0, "m", quality=Quality.GOOD)), id="quality-good"
    ),
    pytest.param(
        _batch(_reading("water_level", 99.0, "m", quality=Quality.BAD, reason="range")),
        id="quality-bad-with-reason",
    ),
    pytest.param(
        _batch(
            _reading("water_level", math.nan, "m", quality=Quality.SUSPECT, reason="ngoài ngưỡng")
        ),
        id="nan-suspect-vietnamese-reason",
    ),
    pytest.param(
        _batch(_reading("pm25", 35.5, "µg/m³"), _reading("air_temp", 31.0, "°C")),
        id="unicode-units",
    ),
    pytest.param(
        _batch(_reading("water_level", 1.0, "m"), gateway="tram-hue-so-1", seq=0),
        id="hyphenated-gateway-seq-0",
    ),
    pytest.param(
        _batch(_reading("water_level", 1.0, "m", ts=datetime(2026, 11, 22, 23, 40, tzinfo=ICT))),
        id="ts-in-ict",
    ),
    pytest.param(
        _batch(_reading("water_level", 1.0, "m", ts=TS.replace(microsecond=123000)), seq=2**40),
        id="milliseconds-and-large-seq",
    ),
]


@pytest.mark.parametrize("batch", ROUND_TRIPS)
def test_round_trip(batch: ReadingBatch) -> None:
    payload = encode_batch(batch)
    assert isinstance(payload, bytes)
    _assert_same(decode_batch(payload, topic=TOPIC), batch)
    _assert_same(decode_batch(payload.decode()), batch)


def test_nan_travels_as_null() -> None:
    document = json.loads(encode_batch(_batch(_reading("water_level", math.nan, "m"))))
    assert document["readings"][0]["value"] is None
    assert math.isnan(
        decode_batch(encode_batch(_batch(_reading("pm25", math.nan, "µg/m³")))).readings[0].value
    )


def test_document_shape_of_an_unchecked_reading() -> None:
    document = json.loads(encode_batch(_batch(_reading("water_level", 1.5, "m"))))
    assert document == {
        "v": 1,
        "gateway": "gw-hue-1",
        "seq": 42,
        "station": "kim_long",
        "produced_at": "2026-11-22T16:40:03.000Z",
        "readings": [
            {
                "param": "water_level",
                "value": 1.5,
                "unit": "m",
                "ts": "2026-11-22T16:40:00.000Z",
                "status": "measuring",
            }
        ],
    }


@pytest.mark.parametrize(
    ("quality", "reason", "expected_quality"),
    [
        (Quality.GOOD, "", "good"),
        (Quality.SUSPECT, "spike", "suspect"),
        (Quality.BAD, "range", "bad"),
    ],
)
def test_quality_and_reason_present_once_checked(
    quality: Quality, reason: str, expected_quality: str
) -> None:
    reading = _reading("water_level", 1.5, "m", quality=quality, reason=reason)
    item = json.loads(encode_batch(_batch(reading)))["readings"][0]
    assert item["quality"] == expected_quality
    assert item["reason"] == reason


def test_vietnamese_text_is_utf8_not_escaped() -> None:
    reading = _reading("water_level", 1.0, "m", quality=Quality.SUSPECT, reason="mực nước")
    payload = encode_batch(_batch(reading, gateway="huế"))
    assert "mực nước".encode() in payload
    assert "huế".encode() in payload
    assert b"\\u" not in payload


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        pytest.param(TS, "2026-11-22T16:40:00.000Z", id="utc"),
        pytest.param(
            datetime(2026, 11, 22, 23, 40, tzinfo=ICT),
            "2026-11-22T16:40:00.000Z",
            id="ict-converted",
        ),
        pytest.param(
            datetime(2026, 1, 1, 6, 59, 59, 999999, tzinfo=ICT),
            "2025-12-31T23:59:59.999Z",
            id="previous-day-truncated-ms",
        ),
        pytest.param(TS.replace(microsecond=123456), "2026-11-22T16:40:00.123Z", id="ms"),
    ],
)
def test_format_ts(ts: datetime, expected: str) -> None:
    assert format_ts(ts) == expected


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (raw_topic, "kim_long", "quantrac/v1/raw/kim_long"),
        (clean_topic, "phu_oc", "quantrac/v1/clean/phu_oc"),
        (incidents_topic, "hue_air", "quantrac/v1/incidents/hue_air"),
        (receipts_topic, "gw-hue-1", "quantrac/v1/receipts/gw-hue-1"),
        (raw_topic, "0", "quantrac/v1/raw/0"),
        (raw_topic, "a" * 64, "quantrac/v1/raw/" + "a" * 64),
    ],
)
def test_topic_helpers(make: Any, name: str, expected: str) -> None:
    assert make(name) == expected
    assert station_of_topic(expected) == name


def test_filters() -> None:
    assert RAW_FILTER == "quantrac/v1/raw/+"
    assert CLEAN_FILTER == "quantrac/v1/clean/+"
    assert INCIDENTS_FILTER == "quantrac/v1/incidents/+"


@pytest.mark.parametrize("make", [raw_topic, clean_topic, incidents_topic, receipts_topic])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("Kim_Long", id="upper-case"),
        pytest.param("kim long", id="space"),
        pytest.param("kim/long", id="slash"),
        pytest.param("+", id="plus-wildcard"),
        pytest.param("#", id="hash-wildcard"),
        pytest.param("_kim", id="leading-underscore"),
        pytest.param("-kim", id="leading-dash"),
        pytest.param("a" * 65, id="65-chars"),
        pytest.param("huế", id="non-ascii"),
        pytest.param("kim_long\n", id="trailing-newline"),
    ],
)
def test_topic_helpers_reject_invalid_ids(make: Any, name: str) -> None:
    with pytest.raises(ValueError, match="is not a valid id for a topic"):
        make(name)


@pytest.mark.parametrize(
    "topic",
    [
        "quantrac/v1/raw",
        "quantrac/v1/raw/kim_long/extra",
        "quantrac/v2/raw/kim_long",
        "other/v1/raw/kim_long",
        "kim_long",
        "",
    ],
)
def test_station_of_topic_rejects(topic: str) -> None:
    with pytest.raises(WireError, match="is not of the form quantrac/v1/<kind>/<station>"):
        station_of_topic(topic)


# --- malformed payloads ---------------------------------------------------------------------

_DROP = object()


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "param": "water_level",
        "value": 1.5,
        "unit": "m",
        "ts": "2026-11-22T16:40:00.000Z",
        "status": "measuring",
    }
    for key, value in changes.items():
        if value is _DROP:
            item.pop(key)
        else:
            item[key] = value
    return item


def _doc(**changes: Any) -> bytes:
    document: dict[str, Any] = {
        "v": 1,
        "gateway": "gw-hue-1",
        "seq": 7,
        "station": "kim_long",
        "produced_at": "2026-11-22T16:40:03.000Z",
        "readings": [_item()],
    }
    for key, value in changes.items():
        if value is _DROP:
            document.pop(key)
        else:
            document[key] = value
    return json.dumps(document, ensure_ascii=False).encode()


def test_the_malformed_table_starts_from_a_valid_payload() -> None:
    batch = decode_batch(_doc(), topic=TOPIC)
    assert batch.station == "kim_long"
    assert batch.seq == 7
    assert batch.readings[0].value == 1.5


_PREFIX = f"{TOPIC} station kim_long"

MALFORMED: list[Any] = [
    pytest.param(b"{not json", TOPIC, [TOPIC, "not JSON"], id="not-json"),
    pytest.param(b"\xff\xfe\xfa", TOPIC, [TOPIC, "not JSON"], id="not-utf8"),
    pytest.param(b"", None, ["payload: not JSON"], id="empty-without-topic"),
    pytest.param(b"[]", TOPIC, [TOPIC, "a batch is a JSON object, not list"], id="json-array"),
    pytest.param(b'"x"', TOPIC, ["a batch is a JSON object, not str"], id="json-string"),
    pytest.param(b"null", TOPIC, ["a batch is a JSON object, not NoneType"], id="json-null"),
    pytest.param(
        _doc(v=2), TOPIC, [TOPIC, "wire version 2 is not supported (expected 1)"], id="version-2"
    ),
    pytest.param(_doc(v="1"), TOPIC, ["wire version '1' is not supported"], id="version-string"),
    pytest.param(
        _doc(v=_DROP), TOPIC, ["wire version None is not supported"], id="version-missing"
    ),
    pytest.param(_doc(v=True), TOPIC, ["wire version True is not supported"], id="version-true"),
    pytest.param(
        _doc(station=_DROP), TOPIC, [TOPIC, "missing field 'station'"], id="station-missing"
    ),
    pytest.param(
        _doc(station=_DROP),
        None,
        ["payload: missing field 'station'"],
        id="station-missing-without-topic",
    ),
    pytest.param(
        _doc(station=5), TOPIC, ["field 'station' should be str, not 5"], id="station-number"
    ),
    pytest.param(
        _doc(),
        "quantrac/v1/raw/phu_oc",
        ["quantrac/v1/raw/phu_oc station kim_long", "does not match the topic"],
        id="station-mismatches-topic",
    ),
    pytest.param(_doc(), "quantrac/v2/raw/kim_long", ["is not of the form"], id="bad-topic"),
    pytest.param(
        _doc(gateway=_DROP), TOPIC, [_PREFIX, "missing field 'gateway'"], id="gateway-missing"
    ),
    pytest.param(
        _doc(seq="7"), TOPIC, [_PREFIX, "field 'seq' should be int, not '7'"], id="seq-string"
    ),
    pytest.param(
        _doc(seq=True), TOPIC, [_PREFIX, "field 'seq' should be int, not True"], id="seq-bool"
    ),
    pytest.param(_doc(seq=7.5), TOPIC, ["field 'seq' should be int, not 7.5"], id="seq-float"),
    pytest.param(_doc(seq=_DROP), TOPIC, ["missing field 'seq'"], id="seq-missing"),
    pytest.param(
        _doc(produced_at="2026-11-22T16:40:03"),
        TOPIC,
        [_PREFIX, "timestamp '2026-11-22T16:40:03' has no timezone"],
        id="produced-at-naive",
    ),
    pytest.param(
        _doc(produced_at="yesterday"),
        TOPIC,
        [_PREFIX, "timestamp 'yesterday' is not ISO 8601"],
        id="produced-at-not-iso",
    ),
    pytest.param(
        _doc(produced_at=1764000000),
        TOPIC,
        ["field 'produced_at' should be str, not 1764000000"],
        id="produced-at-epoch",
    ),
    pytest.param(
        _doc(readings={"param": "x"}),
        TOPIC,
        [_PREFIX, "field 'readings' should be list"],
        id="readings-object",
    ),
    pytest.param(_doc(readings=_DROP), TOPIC, ["missing field 'readings'"], id="readings-missing"),
    pytest.param(
        _doc(readings=[42]),
        TOPIC,
        [f"{_PREFIX} reading 0", "a reading is a JSON object, not 42"],
        id="reading-not-object",
    ),
    pytest.param(
        _doc(readings=[_item(), "x"]),
        TOPIC,
        [f"{_PREFIX} reading 1", "a reading is a JSON object, not 'x'"],
        id="second-reading-not-object",
    ),
    pytest.param(
        _doc(readings=[_item(param=_DROP)]),
        TOPIC,
        [f"{_PREFIX} reading 0", "missing field 'param'"],
        id="param-missing",
    ),
    pytest.param(
        _doc(readings=[_item(param=3)]),
        TOPIC,
        [f"{_PREFIX} reading 0", "field 'param' should be str"],
        id="param-number",
    ),
    pytest.param(
        _doc(readings=[_item(value=True)]),
        TOPIC,
        [f"{_PREFIX} param water_level", "value should be a number or null, not True"],
        id="value-bool",
    ),
    pytest.param(
        _doc(readings=[_item(value="1.5")]),
        TOPIC,
        ["param water_level", "value should be a number or null, not '1.5'"],
        id="value-string",
    ),
    pytest.param(
        _doc(readings=[_item(value=[1])]),
        TOPIC,
        ["value should be a number or null, not [1]"],
        id="value-list",
    ),
    pytest.param(
        _doc(readings=[_item(unit=_DROP)]),
        TOPIC,
        [f"{_PREFIX} param water_level", "missing field 'unit'"],
        id="unit-missing",
    ),
    pytest.param(
        _doc(readings=[_item(ts="2026-11-22T16:40:00")]),
        TOPIC,
        [f"{_PREFIX} param water_level", "timestamp '2026-11-22T16:40:00' has no timezone"],
        id="reading-ts-naive",
    ),
    pytest.param(
        _doc(readings=[_item(ts="22/11/2026 16:40")]),
        TOPIC,
        ["param water_level", "is not ISO 8601"],
        id="reading-ts-not-iso",
    ),
    pytest.param(
        _doc(readings=[_item(ts=_DROP)]), TOPIC, ["missing field 'ts'"], id="reading-ts-missing"
    ),
    pytest.param(
        _doc(readings=[_item(status="broken")]),
        TOPIC,
        [f"{_PREFIX} param water_level", "'broken' is not one of measuring, calibrating, error"],
        id="status-unknown",
    ),
    pytest.param(
        _doc(readings=[_item(status=0)]),
        TOPIC,
        ["field 'status' should be str, not 0"],
        id="status-number",
    ),
    pytest.param(
        _doc(readings=[_item(status=_DROP)]), TOPIC, ["missing field 'status'"], id="status-missing"
    ),
    pytest.param(
        _doc(readings=[_item(quality="excellent")]),
        TOPIC,
        ["param water_level", "'excellent' is not one of good, suspect, bad, unchecked"],
        id="quality-unknown",
    ),
    pytest.param(
        _doc(readings=[_item(quality=1)]),
        TOPIC,
        ["field 'quality' should be str, not 1"],
        id="quality-number",
    ),
]


@pytest.mark.parametrize(("payload", "topic", "fragments"), MALFORMED)
def test_malformed_payload(payload: bytes, topic: str | None, fragments: list[str]) -> None:
    with pytest.raises(WireError) as caught:
        decode_batch(payload, topic=topic)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        pytest.param({"status": "CALIBRATING"}, "status", id="status-upper-case"),
        pytest.param({"value": None}, "nan", id="value-null"),
        pytest.param({"value": _DROP}, "nan", id="value-absent"),
        pytest.param({"value": 2}, "int", id="value-int"),
        pytest.param({"ts": "2026-11-22T23:40:00+07:00"}, "ts", id="ts-with-offset"),
        pytest.param({"quality": None}, "unchecked", id="quality-null"),
    ],
)
def test_lenient_but_valid_payloads(changes: dict[str, Any], check: str) -> None:
    reading = decode_batch(_doc(readings=[_item(**changes)]), topic=TOPIC).readings[0]
    if check == "status":
        assert reading.status is DeviceStatus.CALIBRATING
    elif check == "nan":
        assert math.isnan(reading.value)
        assert not reading.has_value
    elif check == "int":
        assert reading.value == 2.0
        assert isinstance(reading.value, float)
    elif check == "ts":
        assert reading.ts == TS
        assert reading.ts.utcoffset() == timedelta(0)
    else:
        assert reading.quality is Quality.UNCHECKED


def test_wire_error_is_a_value_error() -> None:
    assert issubclass(WireError, ValueError)
