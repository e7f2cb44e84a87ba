"""The Reading contract: its fields, defaults, checks and immutability, whatever its __init__."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.model import DeviceStatus, Quality, Reading, ReadingBatch

TS = datetime(2026, 11, 22, 9, 40, tzinfo=UTC)


def _reading(**changes: object) -> Reading:
    fields: dict[str, object] = {
        "station": "hue_air_2",
        "param": "pm25",
        "value": 35.2,
        "unit": "µg/m³",
        "ts": TS,
    }
    fields.update(changes)
    return Reading(**fields)  # type: ignore[arg-type]


def test_fields_in_order_with_their_defaults() -> None:
    fields = [(f.name, f.default) for f in dataclasses.fields(Reading)]
    assert fields == [
        ("station", dataclasses.MISSING),
        ("param", dataclasses.MISSING),
        ("value", dataclasses.MISSING),
        ("unit", dataclasses.MISSING),
        ("ts", dataclasses.MISSING),
        ("status", DeviceStatus.MEASURING),
        ("quality", Quality.UNCHECKED),
        ("reason", ""),
    ]
    assert Reading.__match_args__ == tuple(name for name, _ in fields)


def test_positional_and_keyword_construction_agree() -> None:
    positional = Reading("hue_air_2", "pm25", 35.2, "µg/m³", TS, DeviceStatus.ERROR)
    keywords = _reading(status=DeviceStatus.ERROR)
    assert positional == keywords
    assert hash(positional) == hash(keywords)
    assert (keywords.quality, keywords.reason) == (Quality.UNCHECKED, "")
    assert repr(positional) == (
        "Reading(station='hue_air_2', param='pm25', value=35.2, unit='µg/m³', "
        f"ts={TS!r}, status=<DeviceStatus.ERROR: 2>, quality=<Quality.UNCHECKED: 9>, "
        "reason='')"
    )


@pytest.mark.parametrize(
    ("changes", "equal"),
    [
        ({}, True),
        ({"value": 35.3}, False),
        ({"ts": TS + timedelta(seconds=1)}, False),
        ({"ts": TS.astimezone(timezone(timedelta(hours=7)))}, True),  # the same instant
        ({"quality": Quality.GOOD}, False),
        ({"reason": "range"}, False),
    ],
)
def test_equality(changes: dict[str, object], equal: bool) -> None:
    assert (_reading(**changes) == _reading()) is equal


@pytest.mark.parametrize(
    "ts",
    [
        TS,
        TS.astimezone(timezone(timedelta(hours=7))),
        datetime(2026, 11, 22, 16, 40, tzinfo=timezone(timedelta(hours=7), "ICT")),
    ],
)
def test_an_aware_time_is_taken(ts: datetime) -> None:
    assert _reading(ts=ts).ts is ts


def test_a_naive_time_is_refused_naming_station_and_parameter() -> None:
    with pytest.raises(ValueError, match=r"^hue_air_2/pm25: timestamp 2026-11-22 09:40:00 has no"):
        _reading(ts=TS.replace(tzinfo=None))
    with pytest.raises(ValueError, match="has no timezone"):
        dataclasses.replace(_reading(), ts=TS.replace(tzinfo=None))


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Reading)])
def test_frozen(name: str) -> None:
    reading = _reading()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(reading, name, getattr(reading, name))
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(reading, name)
    with pytest.raises((AttributeError, TypeError)):
        reading.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(reading, "__dict__")


@pytest.mark.parametrize(("value", "has_value"), [(35.2, True), (0.0, True), (math.nan, False)])
def test_has_value(value: float, has_value: bool) -> None:
    assert _reading(value=value).has_value is has_value


def test_flagged_is_a_new_reading_with_the_quality_and_reason() -> None:
    reading = _reading(status=DeviceStatus.CALIBRATING)
    flagged = reading.flagged(Quality.SUSPECT, "status")
    assert flagged == dataclasses.replace(reading, quality=Quality.SUSPECT, reason="status")
    assert type(flagged) is Reading
    assert (reading.quality, reading.reason) == (Quality.UNCHECKED, "")  # unchanged
    assert flagged.flagged(Quality.GOOD) == dataclasses.replace(reading, quality=Quality.GOOD)


def test_replace_copy_and_pickle_keep_every_field() -> None:
    reading = _reading(value=math.inf, quality=Quality.BAD, reason="range")
    assert dataclasses.replace(reading, value=1.0).value == 1.0
    assert dataclasses.asdict(reading)["reason"] == "range"
    for twin in (copy.copy(reading), copy.deepcopy(reading), pickle.loads(pickle.dumps(reading))):
        assert twin == reading
        assert type(twin) is Reading


def test_a_batch_holds_only_its_station() -> None:
    reading = _reading()
    batch = ReadingBatch("gw", 1, "hue_air_2", (reading, reading.flagged(Quality.GOOD)))
    assert len(batch.readings) == 2
    with pytest.raises(ValueError, match="holds a reading of 'hue_air_2'"):
        ReadingBatch("gw", 2, "kim_long", (reading,))
