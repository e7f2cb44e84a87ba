"""Pure decoding of station MQTT messages: tables of (topic, payload) → readings or reasons."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import StationConfig
from gateway.model import DeviceStatus
from gateway.mqtt_input.payload import MqttDecoder, Route
from gateway.mqtt_input.profile import MqttProfile
from gateway.profiles import ProfileError, load_any_profile, load_profile
from tests.gateway.mqtt_stations import PROFILES, decoder

ARRIVAL = datetime(2026, 11, 22, 9, 41, 3, tzinfo=UTC)
# 16:40 local (Asia/Ho_Chi_Minh, UTC+7) is 09:40 UTC.
DEVICE_UTC = datetime(2026, 11, 22, 9, 40, tzinfo=UTC)
EPOCH_S = int(DEVICE_UTC.timestamp())
DECODER = decoder()


def _decode(
    topic: str, payload: object
) -> tuple[str, dict[str, tuple[float, str, datetime, DeviceStatus]], list[str]]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    outcome = DECODER.decode(topic, raw, ARRIVAL)
    readings = {r.param: (r.value, r.unit, r.ts, r.status) for r in outcome.readings}
    return outcome.station, readings, [p.code for p in outcome.problems]


AIR = "stations/hue_air_2/data"

# (payload, expected readings {param: (value, ts)}, expected problem codes)
FLAT_CASES: list[tuple[object, dict[str, tuple[float, datetime]], list[str]]] = [
    ({"ts": "2026-11-22T16:40:00", "pm25": 35.2}, {"pm25": (35.2, DEVICE_UTC)}, []),
    ({"ts": "2026-11-22 16:40:00", "PM2,5": 35.2}, {"pm25": (35.2, DEVICE_UTC)}, []),
    ({"ts": "2026-11-22T09:40:00Z", "pm2_5": 35.2}, {"pm25": (35.2, DEVICE_UTC)}, []),
    ({"ts": "2026-11-22T16:40:00+07:00", "PM10": 51}, {"pm10": (51.0, DEVICE_UTC)}, []),
    ({"ts": EPOCH_S, "CO": 1.2}, {"co": (1200.0, DEVICE_UTC)}, []),  # mg/m³ → µg/m³
    ({"ts": EPOCH_S * 1000, "O3": 60}, {"o3": (60.0, DEVICE_UTC)}, []),
    ({"ts": str(EPOCH_S), "SO2": "12,5"}, {"so2": (12.5, DEVICE_UTC)}, []),
    ({"ts": EPOCH_S, "pm25": 35.2, "rssi": -71}, {"pm25": (35.2, DEVICE_UTC)}, []),
    ({"ts": EPOCH_S, "pm25": 35.2, "wat": 1}, {"pm25": (35.2, DEVICE_UTC)}, ["unknown_param"]),
    ({"ts": EPOCH_S, "pm25": "abc"}, {}, ["bad_value"]),
    ({"ts": EPOCH_S, "pm25": True}, {}, ["bad_value"]),
    ({"ts": EPOCH_S, "pm25": [1]}, {}, ["bad_value"]),
    ({"ts": EPOCH_S, "pm25": 35, "PM2.5": 36}, {"pm25": (35.0, DEVICE_UTC)}, ["duplicate_param"]),
    ({"pm25": 35.2}, {}, ["no_timestamp"]),
    ({"ts": "yesterday", "pm25": 35.2}, {}, ["bad_timestamp"]),
    ({"ts": "2036-01-01T00:00:00Z", "pm25": 35.2}, {}, ["bad_timestamp"]),
    ({"ts": 1e300, "pm25": 35.2}, {}, ["bad_timestamp"]),
    ({"ts": EPOCH_S}, {}, ["no_values"]),
    ([1, 2], {}, ["shape"]),
    (b"\xff\xfe", {}, ["not_utf8"]),
    (b"{not json", {}, ["not_json"]),
    (b'{"ts": 1, "pm25": NaN}', {}, ["not_json"]),
    (b"[" * 60_000, {}, ["not_json"]),  # deeper than the JSON parser recurses
    (b"[" * 70_000, {}, ["too_large"]),
]


@pytest.mark.parametrize(("payload", "expected", "problems"), FLAT_CASES)
def test_flat_json(
    payload: object, expected: dict[str, tuple[float, datetime]], problems: list[str]
) -> None:
    station, readings, codes = _decode(AIR, payload)
    assert station == "hue_air_2"
    assert {p: ts for p, (_v, _u, ts, _s) in readings.items()} == {
        p: ts for p, (_v, ts) in expected.items()
    }
    assert {p: v for p, (v, _u, _t, _s) in readings.items()} == pytest.approx(
        {p: v for p, (v, _t) in expected.items()}
    )
    assert codes == problems


def test_a_null_value_is_no_value_not_an_error() -> None:
    _, readings, codes = _decode(AIR, {"ts": EPOCH_S, "pm25": None})
    assert math.isnan(readings["pm25"][0])
    assert codes == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("00", DeviceStatus.MEASURING),
        ("01", DeviceStatus.CALIBRATING),
        (2, DeviceStatus.ERROR),
        ("calibrating", DeviceStatus.CALIBRATING),
        ("07", DeviceStatus.ERROR),
    ],
)
def test_device_status(status: object, expected: DeviceStatus) -> None:
    _, readings, codes = _decode(AIR, {"ts": EPOCH_S, "pm25": 1, "status": status})
    assert readings["pm25"][3] is expected
    assert codes == []


def test_units_are_canonical() -> None:
    _, readings, _ = _decode(AIR, {"ts": EPOCH_S, "pm25": 1, "CO": 2})
    assert {p: u for p, (_v, u, _t, _s) in readings.items()} == {"pm25": "µg/m³", "co": "µg/m³"}


NESTED = "hydro/uplink"


def _level(value: object, **extra: object) -> dict[str, object]:
    return {
        "device": {"id": "WL-0042"},
        "time": EPOCH_S * 1000,
        "data": {"sensors": {"level": {"value": value, "unit": "cm"}}},
        **extra,
    }


@pytest.mark.parametrize(
    ("payload", "station", "expected", "problems"),
    [
        (_level(215.0), "kim_long_2", {"water_level": 2.15}, []),
        (_level(215.0, state="adjust"), "kim_long_2", {"water_level": 2.15}, []),
        (_level("x"), "kim_long_2", {}, ["bad_value"]),
        ({**_level(1), "device": {"id": "WL-9"}}, "", {}, ["unknown_station"]),
        ({"time": 1, "data": {}}, "", {}, ["no_station"]),
        ({"device": {"id": "WL-0042"}, "time": EPOCH_S * 1000}, "kim_long_2", {}, ["no_values"]),
    ],
)
def test_nested_json(
    payload: object, station: str, expected: dict[str, float], problems: list[str]
) -> None:
    got_station, readings, codes = _decode(NESTED, payload)
    assert got_station == station
    assert {p: v for p, (v, _u, _t, _s) in readings.items()} == pytest.approx(expected)
    assert all(ts == DEVICE_UTC for (_v, _u, ts, _s) in readings.values())
    assert codes == problems


def test_nested_status_names() -> None:
    _, readings, _ = _decode(NESTED, _level(215.0, state="adjust"))
    assert readings["water_level"][3] is DeviceStatus.CALIBRATING


ARRAY = "stations/sonde-7/readings"


def test_array_of_readings_each_with_its_time() -> None:
    items = [
        {"param": "pH", "value": 7.2, "unit": "pH", "ts": "2026-11-22T09:40:00Z"},
        {"param": "DO", "value": 6.1, "unit": "mg/L", "ts": "2026-11-22T16:40:00"},
        {"param": "Temp", "value": 27.5, "unit": "°C", "ts": EPOCH_S, "status": "01"},
        {"param": "EC", "value": 0.31, "unit": "mS/cm", "ts": EPOCH_S},
        {"param": "COD", "value": 12, "unit": "g/L", "ts": EPOCH_S},
        {"param": "nope", "value": 1, "ts": EPOCH_S},
        "junk",
    ]
    station, readings, codes = _decode(ARRAY, {"readings": items})
    assert station == "song_huong_wq"
    assert {p: v for p, (v, _u, _t, _s) in readings.items()} == pytest.approx(
        {"ph": 7.2, "do": 6.1, "water_temp": 27.5, "conductivity": 310.0}
    )
    assert {ts for (_v, _u, ts, _s) in readings.values()} == {DEVICE_UTC}
    assert readings["water_temp"][3] is DeviceStatus.CALIBRATING
    assert codes == ["bad_unit", "unknown_param", "shape"]


def test_array_without_the_list_is_a_shape_error() -> None:
    assert _decode(ARRAY, {"readings": 5})[2] == ["shape"]


def test_plain_numeric_payload_takes_the_parameter_from_the_topic() -> None:
    station, readings, codes = _decode("stations/a_luoi_rain/rain", b"0.5")
    assert (station, codes) == ("a_luoi_rain", [])
    assert readings["rain"] == (0.5, "mm", ARRIVAL, DeviceStatus.MEASURING)
    assert _decode("stations/a_luoi_rain/Temp", b" 27,4\n")[1]["air_temp"][0] == 27.4
    assert _decode("stations/a_luoi_rain/rain", b"lots")[2] == ["bad_value"]
    assert _decode("stations/a_luoi_rain/wat", b"1")[2] == ["unknown_param"]


def test_unknown_station_and_unexpected_topic() -> None:
    assert _decode("stations/nobody/data", {"ts": EPOCH_S, "pm25": 1})[::2] == (
        "",
        ["unknown_station"],
    )
    assert _decode("elsewhere/x", b"1")[2] == ["unexpected_topic"]


def test_a_timestamp_within_a_day_ahead_is_kept_beyond_it_is_refused() -> None:
    ahead = int((ARRIVAL + timedelta(hours=2)).timestamp())
    assert _decode(AIR, {"ts": ahead, "pm25": 1})[2] == []
    far = int((ARRIVAL + timedelta(days=2)).timestamp())
    assert _decode(AIR, {"ts": far, "pm25": 1})[2] == ["bad_timestamp"]


def test_profile_timezone_overrides_the_site_timezone() -> None:
    profile = PROFILES["aqi_sensor_mqtt_json"].model_copy(
        update={
            "timestamp": PROFILES["aqi_sensor_mqtt_json"].timestamp.model_copy(
                update={"timezone": "UTC"}
            )
        }
    )
    station = StationConfig.model_validate(
        {
            "id": "x",
            "name": "x",
            "kind": "air",
            "district": "d",
            "source": {"driver": "mqtt", "profile": "aqi_sensor_mqtt_json"},
        }
    )
    outcome = MqttDecoder([Route.of(station, profile)]).decode(
        "stations/x/data", b'{"ts": "2026-11-22T09:40:00", "pm25": 1}', ARRIVAL
    )
    assert outcome.readings[0].ts == DEVICE_UTC


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text("protocol: mqtt\nmodel: m\nkind: air\n" + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("shape: flat\nunits: {co: ppm}\n", "'ppm' is neither the canonical"),
        ("shape: flat\nunits: {pm2.6: µg/m³}\n", "unknown parameter"),
        ("shape: nested\n", "lists its fields"),
        ("shape: numeric\ntopic: 's/{station}/{param}'\n", "timestamp.missing: arrival"),
        ("shape: flat\ntopic: 'up/link'\n", "no {station} level"),
        ("shape: flat\ntimestamp: {timezone: Mars/Olympus}\n", "unknown timezone"),
        ("shape: array\n", "array: goes with shape: array"),
    ],
)
def test_profile_mistakes_are_load_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_any_profile(_write(tmp_path, text))
    assert message in str(caught.value)


def test_load_profile_stays_modbus_and_dispatch_gives_the_mqtt_model(tmp_path: Path) -> None:
    path = _write(tmp_path, "shape: flat\n")
    assert isinstance(load_any_profile(path), MqttProfile)
    with pytest.raises(ProfileError, match="not a Modbus one"):
        load_profile(path)
