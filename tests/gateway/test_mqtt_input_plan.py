"""The compiled decode plans and their fast paths: tables of device times, values and JSON text.

Each fast path (exact JSON types first, the C JSON scanner, remembered symbols, units, status
codes and device times) must give what the general path gives, including every refusal.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from gateway.config import StationConfig
from gateway.model import DeviceStatus
from gateway.mqtt_input.payload import MqttDecoder, Outcome, Route
from gateway.mqtt_input.plan import _MAX_CACHED
from gateway.mqtt_input.profile import MqttProfile
from tests.gateway.mqtt_stations import PROFILES

ARRIVAL = datetime(2026, 11, 22, 9, 41, 3, tzinfo=UTC)
# 16:40 local (Asia/Ho_Chi_Minh, UTC+7) is 09:40 UTC.
DEVICE_UTC = datetime(2026, 11, 22, 9, 40, tzinfo=UTC)
EPOCH_S = int(DEVICE_UTC.timestamp())
MS = timedelta(milliseconds=1)
AIR = "stations/air_1/data"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

TimeFormat = Literal["auto", "iso8601", "epoch_s", "epoch_ms"]


def _station(station_id: str, kind: str = "air") -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": station_id,
            "name": station_id,
            "kind": kind,
            "district": "Huế",
            "source": {"driver": "mqtt", "profile": "aqi_sensor_mqtt_json"},
        }
    )


def _profile(fmt: TimeFormat = "auto") -> MqttProfile:
    profile = PROFILES["aqi_sensor_mqtt_json"]
    return profile.model_copy(
        update={"timestamp": profile.timestamp.model_copy(update={"format": fmt})}
    )


DECODERS: dict[TimeFormat, MqttDecoder] = {
    fmt: MqttDecoder([Route.of(_station("air_1"), _profile(fmt))])
    for fmt in ("auto", "iso8601", "epoch_s", "epoch_ms")
}


def _decode(document: object, fmt: TimeFormat = "auto", arrival: datetime = ARRIVAL) -> Outcome:
    return DECODERS[fmt].decode(AIR, json.dumps(document).encode(), arrival)


# (device time as sent, format, expected UTC time or the expected problem code)
TIMES: list[tuple[object, TimeFormat, datetime | str]] = [
    # ISO 8601: a naive time is the station's local time (UTC+7); "Z" and offsets are kept.
    ("2026-11-22T16:40:00", "auto", DEVICE_UTC),
    ("2026-11-22 16:40:00", "auto", DEVICE_UTC),
    ("2026-11-22T16:40:00.250", "auto", DEVICE_UTC + 250 * MS),
    ("20261122T164000", "auto", DEVICE_UTC),
    ("2026-11-22T09:40:00Z", "auto", DEVICE_UTC),
    ("2026-11-22T09:40:00.5Z", "auto", DEVICE_UTC + 500 * MS),
    ("2026-11-22T09:40:00+00:00", "auto", DEVICE_UTC),
    ("2026-11-22T16:40:00+07:00", "auto", DEVICE_UTC),
    ("2026-11-22T10:40:00+01:00", "auto", DEVICE_UTC),
    (" 2026-11-22T09:40:00Z\n", "auto", DEVICE_UTC),
    ("2026-11-22T09:40:00Z", "iso8601", DEVICE_UTC),
    ("2026-11-22T16:40:00", "iso8601", DEVICE_UTC),
    # Epoch numbers: seconds, or milliseconds from 1e11 on (auto); fractions kept.
    (EPOCH_S, "auto", DEVICE_UTC),
    (EPOCH_S + 0.25, "auto", DEVICE_UTC + 250 * MS),
    (EPOCH_S * 1000, "auto", DEVICE_UTC),
    (EPOCH_S * 1000 + 250, "auto", DEVICE_UTC + 250 * MS),
    (EPOCH_S, "epoch_s", DEVICE_UTC),
    (EPOCH_S * 1000, "epoch_ms", DEVICE_UTC),
    (EPOCH_S * 1000 + 0.5, "epoch_ms", DEVICE_UTC + timedelta(microseconds=500)),
    # Epoch numbers written as text, as some firmware does.
    (str(EPOCH_S), "auto", DEVICE_UTC),
    (f" {EPOCH_S} ", "auto", DEVICE_UTC),
    (f"{EPOCH_S}.5", "auto", DEVICE_UTC + 500 * MS),
    (str(EPOCH_S * 1000), "auto", DEVICE_UTC),
    (str(EPOCH_S * 1000), "epoch_ms", DEVICE_UTC),
    (str(EPOCH_S).translate(ARABIC_INDIC), "auto", DEVICE_UTC),  # digits as re's \d knows them
    # Refused, each with the reason.
    (99_999_999_999, "auto", "bad_timestamp"),  # seconds: the year 5138
    (100_000_000_000, "auto", "bad_timestamp"),  # milliseconds: 1973, before 2000
    (EPOCH_S * 1000, "epoch_s", "bad_timestamp"),  # seconds: far in the future
    (EPOCH_S, "epoch_ms", "bad_timestamp"),  # milliseconds: 1970
    (10**400, "auto", "bad_timestamp"),  # no float holds it
    (1e300, "auto", "bad_timestamp"),
    (-1, "auto", "bad_timestamp"),
    (EPOCH_S, "iso8601", "bad_timestamp"),
    ("2026-11-22T09:40:00Z", "epoch_s", "bad_timestamp"),
    ("2026-11-22T09:40:00Z", "epoch_ms", "bad_timestamp"),
    ("1.", "auto", "bad_timestamp"),  # neither a number nor ISO 8601
    (".5", "auto", "bad_timestamp"),
    ("1.2.3", "auto", "bad_timestamp"),
    ("²", "auto", "bad_timestamp"),  # a digit to str.isdigit, not to re's \d
    ("yesterday", "auto", "bad_timestamp"),
    ("", "auto", "bad_timestamp"),
    ("2026-11-24T00:00:00Z", "auto", "bad_timestamp"),  # more than a day ahead
    ("1999-12-31T23:59:59Z", "auto", "bad_timestamp"),
    ("0001-01-01T00:00:00", "auto", "bad_timestamp"),  # local → UTC would leave datetime
    (True, "auto", "bad_timestamp"),
    ([EPOCH_S], "auto", "bad_timestamp"),
    ({"s": EPOCH_S}, "auto", "bad_timestamp"),
    (None, "auto", "no_timestamp"),
]


@pytest.mark.parametrize(("raw", "fmt", "expected"), TIMES)
def test_device_times(raw: object, fmt: TimeFormat, expected: datetime | str) -> None:
    for _ in range(2):  # the second time from what the plan remembered
        outcome = _decode({"ts": raw, "pm25": 35.2}, fmt)
        if isinstance(expected, datetime):
            assert outcome.problems == ()
            (reading,) = outcome.readings
            assert reading.ts == expected
            assert reading.ts.utcoffset() == timedelta(0)
        else:
            assert outcome.readings == ()
            assert [p.code for p in outcome.problems] == [expected]


def test_a_remembered_time_is_still_checked_against_each_arrival() -> None:
    message = {"ts": EPOCH_S, "pm25": 1}
    two_days_before = DEVICE_UTC - timedelta(days=2)
    assert [p.code for p in _decode(message, arrival=two_days_before).problems] == ["bad_timestamp"]
    assert _decode(message).problems == ()
    assert [p.code for p in _decode(message, arrival=two_days_before).problems] == ["bad_timestamp"]


# (a flat JSON value as sent, the expected value in µg/m³ or the expected problem code)
VALUES: list[tuple[str, float | str]] = [
    ("51", 51.0),
    ("35.2", 35.2),
    ("-0.0", 0.0),
    ("1e-3", 0.001),
    ('"35,2"', 35.2),
    ('" 12 "', 12.0),
    ("null", math.nan),
    ("1" + "0" * 400, "bad_value"),  # an integer no float holds
    ("1e400", "bad_value"),  # Python's JSON reads it as infinity
    ("true", "bad_value"),
    ('"abc"', "bad_value"),
    ("[1]", "bad_value"),
    ('{"v": 1}', "bad_value"),
]


@pytest.mark.parametrize(("text", "expected"), VALUES)
def test_values(text: str, expected: float | str) -> None:
    payload = f'{{"ts": {EPOCH_S}, "pm25": {text}}}'.encode()
    outcome = DECODERS["auto"].decode(AIR, payload, ARRIVAL)
    if isinstance(expected, str):
        assert [p.code for p in outcome.problems] == [expected]
        assert outcome.problems[0].detail.startswith("pm25: ")
        return
    assert outcome.problems == ()
    (reading,) = outcome.readings
    if math.isnan(expected):
        assert math.isnan(reading.value)
    else:
        assert reading.value == expected
        assert math.copysign(1.0, reading.value) == math.copysign(1.0, expected)


def test_a_conversion_that_overflows_is_out_of_range() -> None:
    outcome = _decode({"ts": EPOCH_S, "CO": 1e306})  # mg/m³ × 1000
    assert [str(p) for p in outcome.problems] == ["bad_value: co: out of range"]


# (payload text, expected problem codes): the C scanner takes a bare document, the full
# decoder everything else, with its error messages.
JSON_TEXTS: list[tuple[str, list[str]]] = [
    (f'{{"ts": {EPOCH_S}, "pm25": 1}}', []),
    (f' \n{{"ts": {EPOCH_S}, "pm25": 1}}\r\n', []),
    (f'{{"ts": {EPOCH_S}, "pm25": 1}} {{}}', ["not_json"]),
    (f'{{"ts": {EPOCH_S}, "pm25": 1}}x', ["not_json"]),
    (f'\ufeff{{"ts": {EPOCH_S}, "pm25": 1}}', ["not_json"]),
    (f'{{"ts": {EPOCH_S}, "pm25": NaN}}', ["not_json"]),
    (f'{{"ts": {EPOCH_S}, "pm25": Infinity}}', ["not_json"]),
    ('{"ts": 1, ', ["not_json"]),
    ("", ["not_json"]),
    ("[" * 60_000, ["not_json"]),
]


@pytest.mark.parametrize(("text", "problems"), JSON_TEXTS)
def test_json_text(text: str, problems: list[str]) -> None:
    outcome = DECODERS["auto"].decode(AIR, text.encode(), ARRIVAL)
    assert [p.code for p in outcome.problems] == problems
    assert len(outcome.readings) == (0 if problems else 1)


def test_json_errors_say_what_the_json_module_says() -> None:
    outcome = DECODERS["auto"].decode(AIR, b'{"pm25": 1} {}', ARRIVAL)
    assert str(outcome.problems[0]) == "not_json: not JSON: Extra data: line 1 column 13 (char 12)"


def test_the_same_message_decodes_the_same_every_time() -> None:
    message = {
        "ts": "2026-11-22T16:40:00",
        "PM2,5": 35.2,
        "pm2_5": 36,  # the same parameter again: refused, every time
        "CO": 1.2,
        "wat": 1,
        "rssi": -70,
        "status": "01",
    }
    outcomes = [_decode(message) for _ in range(3)]
    assert outcomes[0] == outcomes[1] == outcomes[2]
    readings = {r.param: (r.value, r.unit, r.status) for r in outcomes[0].readings}
    assert readings == {
        "pm25": (35.2, "µg/m³", DeviceStatus.CALIBRATING),
        "co": (1200.0, "µg/m³", DeviceStatus.CALIBRATING),
    }
    assert [str(p) for p in outcomes[0].problems] == [
        "duplicate_param: pm25 given twice (pm2_5)",
        "unknown_param: 'wat'",
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("00", DeviceStatus.MEASURING),
        (" 01 ", DeviceStatus.CALIBRATING),
        ("Calibrating", DeviceStatus.CALIBRATING),
        (2, DeviceStatus.ERROR),
        (0, DeviceStatus.MEASURING),
        ("07", DeviceStatus.ERROR),  # unknown: an error, as for Modbus profiles
        (None, DeviceStatus.MEASURING),
    ],
)
def test_status_codes(status: object, expected: DeviceStatus) -> None:
    for _ in range(2):
        (reading,) = _decode({"ts": EPOCH_S, "pm25": 1, "status": status}).readings
        assert reading.status is expected


@pytest.mark.parametrize("status", [True, 1.5, ["00"]])
def test_a_status_that_is_no_code_is_refused(status: object) -> None:
    outcome = _decode({"ts": EPOCH_S, "pm25": 1, "status": status})
    assert [p.code for p in outcome.problems] == ["bad_status"]


def test_stations_alike_share_one_plan_and_what_it_remembers_stays_bounded() -> None:
    profile = _profile()
    decoder = MqttDecoder(
        [
            Route.of(_station("air_1"), profile),
            Route.of(_station("air_2"), profile),
            Route.of(_station("weather_1", "weather"), profile),  # symbols resolve by kind
        ]
    )
    plans = decoder._plans
    assert plans["air_1"] is plans["air_2"]
    assert plans["weather_1"] is not plans["air_1"]
    for index in range(_MAX_CACHED + 500):  # a broken device inventing keys
        outcome = decoder.decode(
            "stations/air_2/data", f'{{"ts": {EPOCH_S}, "k{index}": 1}}'.encode(), ARRIVAL
        )
        assert [p.code for p in outcome.problems] == ["unknown_param"]
    assert len(plans["air_1"]._keys) <= _MAX_CACHED + 1
    assert len(plans["air_1"]._symbols) <= _MAX_CACHED + 1
    outcome = decoder.decode(
        "stations/air_1/data", f'{{"ts": {EPOCH_S}, "pm25": 1}}'.encode(), ARRIVAL
    )
    assert (outcome.station, outcome.problems) == ("air_1", ())
