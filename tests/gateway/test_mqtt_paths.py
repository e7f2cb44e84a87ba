"""MQTT mapping (issue 17): keys with dots, listed fields a message leaves out, two templates
that could claim one message, and symbols two parameters share — tables."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.bus.mqtt import MqttSettings
from gateway.config import StationConfig
from gateway.model import Reading
from gateway.mqtt_input.driver import MqttInput
from gateway.mqtt_input.payload import MqttDecoder, Route
from gateway.mqtt_input.profile import MqttProfile, path_text, split_path
from gateway.mqtt_input.routing import route_conflicts, templates_overlap
from gateway.mqtt_input.values import compile_path, lookup
from gateway.streaming import Rejected
from quantrac.site import SiteConfigError, load_site
from tests.conftest import EXAMPLE_SITE

ARRIVAL = datetime(2026, 11, 22, 9, 41, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("pm25", ["pm25"]),
        ("data.sensors.pm25.value", ["data", "sensors", "pm25", "value"]),
        (r"SDS0X1.PM2\.5", ["SDS0X1", "PM2.5"]),
        (r"PM2\.5", ["PM2.5"]),
        (r"a\.b\.c.d", ["a.b.c", "d"]),
        (r"dir\x.y", [r"dir\x", "y"]),  # only "\." is an escape
        ("readings.0", ["readings", "0"]),
    ],
)
def test_split_path(path: str, keys: list[str]) -> None:
    assert split_path(path) == keys
    assert split_path(path_text(tuple(keys))) == keys  # written back, read again


DOCUMENT = {"SDS0X1": {"PM2.5": 12.5, "PM10": 20}, "list": [{"a.b": 1}], "PM2.5": 9}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (r"SDS0X1.PM2\.5", 12.5),
        (("SDS0X1", "PM2.5"), 12.5),
        ("SDS0X1.PM10", 20),
        (r"PM2\.5", 9),
        ("PM2.5", None),  # split on the dot: PM2 → 5, which is not there
        (("list", 0, "a.b"), 1),
        (r"list.0.a\.b", 1),
    ],
)
def test_lookup_with_dotted_keys(path: Any, value: object) -> None:
    found = lookup(DOCUMENT, compile_path(path))
    assert (None if not isinstance(found, int | float) else found) == value


def sds_profile(fields: list[dict[str, Any]]) -> MqttProfile:
    return MqttProfile.model_validate(
        {
            "id": "sds_nested",
            "model": "Nova SDS011 behind a hobby logger",
            "kind": "air",
            "shape": "nested",
            "fields": fields,
            "timestamp": {"path": "ts", "missing": "arrival"},
        }
    )


def station(station_id: str, profile: str, **source: Any) -> StationConfig:
    return StationConfig.model_validate(
        {
            "id": station_id,
            "name": station_id,
            "kind": "air",
            "district": "Thuận Hóa",
            "source": {"driver": "mqtt", "profile": profile, **source},
        }
    )


SDS = sds_profile(
    [
        {"path": r"SDS0X1.PM2\.5", "param": "pm25"},
        {"path": ["SDS0X1", "PM10"], "param": "pm10"},
    ]
)
DECODER = MqttDecoder([Route.of(station("hue_sds", "sds_nested"), SDS)])


@pytest.mark.parametrize(
    ("payload", "values", "missing"),
    [
        ({"SDS0X1": {"PM2.5": 12.5, "PM10": 20}}, {"pm25": 12.5, "pm10": 20.0}, ()),
        ({"SDS0X1": {"PM10": 20}}, {"pm10": 20.0}, (r"SDS0X1.PM2\.5",)),
        ({"SDS0X1": {"PM2.5": 12.5}}, {"pm25": 12.5}, ("SDS0X1.PM10",)),
        ({"SDS0X1": {"PM2": {"5": 3}, "PM10": 1}}, {"pm10": 1.0}, (r"SDS0X1.PM2\.5",)),
    ],
)
def test_nested_fields_with_dots_and_the_ones_left_out(
    payload: dict[str, Any], values: dict[str, float], missing: tuple[str, ...]
) -> None:
    outcome = DECODER.decode("stations/hue_sds/data", json.dumps(payload).encode(), ARRIVAL)
    assert {r.param: r.value for r in outcome.readings} == values
    assert outcome.missing == missing
    assert outcome.problems == ()


async def test_a_missing_field_is_counted_per_station_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = MqttInput(DECODER, MqttSettings())
    got: list[Reading] = []

    async def sink(station_id: str, readings: Any) -> None:
        got.extend(readings)

    async def dead_letter(rejected: Rejected) -> None:
        raise AssertionError(f"nothing is rejected: {rejected}")

    caplog.set_level(logging.DEBUG, "gateway.mqtt_input.driver")
    for _ in range(3):
        payload = json.dumps({"SDS0X1": {"PM10": 20}}).encode()
        await driver.handle("stations/hue_sds/data", payload, sink, dead_letter, ARRIVAL)
    assert len(got) == 3
    health = driver.health()
    assert health["missing_fields"] == 3
    assert health["stations"]["hue_sds"]["missing_fields"] == {r"SDS0X1.PM2\.5": 3}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert r"station hue_sds sent a message without SDS0X1.PM2\.5" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("first", "second", "topic"),
    [
        ("stations/{station}/data", "stations/{station}/data", "stations/x/data"),
        ("stations/{station}/data", "stations/+/+", "stations/x/data"),
        ("stations/{station}/data", "stations/#", "stations/x/data"),
        ("a/#", "a", "a"),  # "a/#" matches its parent level
        ("stations/{station}/data", "stations/{station}/status", None),
        ("a/+", "a", None),
        ("stations/{station}/data", "sensors/{station}/data", None),
        ("a/b/c", "a/b", None),
    ],
)
def test_templates_overlap(first: str, second: str, topic: str | None) -> None:
    assert templates_overlap(first, second) == topic
    assert (templates_overlap(second, first) is None) == (topic is None)


FLAT_AIR = MqttProfile.model_validate(
    {"id": "flat_air", "model": "m", "kind": "air", "shape": "flat"}
)
# The device id in the payload: its topic template needs no {station} level.
BY_PAYLOAD = {"id": "by_payload", "model": "m", "kind": "air", "shape": "flat",
              "station": {"source": "payload", "path": "sn"}}  # fmt: skip
FLAT_BY_PAYLOAD = MqttProfile.model_validate(BY_PAYLOAD)


@pytest.mark.parametrize(
    ("topics", "devices", "conflict"),
    [
        # One device id on two templates one topic fits: the file order would decide.
        (("stations/{station}/data", "stations/+/data"), ("hue_1", "hue_1"), True),
        (("stations/{station}/data", "stations/#"), ("hue_1", "hue_1"), True),
        # Different device ids, or templates no topic fits both: each message has one station.
        (("stations/{station}/data", "stations/{station}/data"), ("hue_1", "hue_2"), False),
        (("stations/{station}/data", "sensors/{station}/data"), ("hue_1", "hue_1"), False),
        (("a/{station}/x", "a/y/{station}"), ("y", "y"), False),  # a/y/x, a/y/y differ
    ],
)
def test_route_conflicts(topics: tuple[str, str], devices: tuple[str, str], conflict: bool) -> None:
    routes = [
        Route.of(
            station(f"s{n}", "flat_air", topic=topic, device_id=device),
            FLAT_AIR if "{station}" in topic else FLAT_BY_PAYLOAD,
        )
        for n, (topic, device) in enumerate(zip(topics, devices, strict=True))
    ]
    assert bool(route_conflicts(routes)) == conflict


def test_config_check_names_both_stations_of_a_template_conflict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    (site / "profiles" / "mqtt").mkdir(parents=True)
    (site / "profiles" / "mqtt" / "by_payload.yaml").write_text(
        yaml.safe_dump({**BY_PAYLOAD, "protocol": "mqtt"})
    )
    with (site / "site.yaml").open("a") as handle:
        handle.write("profiles_dir: profiles\n")
    (site / "stations" / "mqtt_a.yaml").write_text(
        yaml.safe_dump(
            {
                "stations": [
                    {
                        "id": "air_a",
                        "name": "A",
                        "kind": "air",
                        "district": "x",
                        "source": {
                            "driver": "mqtt",
                            "profile": "aqi_sensor_mqtt_json",
                            "device_id": "sn42",
                            "topic": "sensors/{station}/data",
                        },
                    }
                ]
            }
        )
    )
    (site / "stations" / "mqtt_b.yaml").write_text(
        yaml.safe_dump(
            {
                "stations": [
                    {
                        "id": "air_b",
                        "name": "B",
                        "kind": "air",
                        "district": "x",
                        "source": {
                            "driver": "mqtt",
                            "profile": "by_payload",
                            "device_id": "sn42",
                            "topic": "sensors/+/data",
                        },
                    }
                ]
            }
        )
    )
    with pytest.raises(SiteConfigError) as caught:
        load_site(site)
    (problem,) = caught.value.problems
    assert problem.file == site / "stations" / "mqtt_b.yaml"
    assert problem.station == "air_b"
    assert str(problem).endswith(
        "source.topic: device id 'sn42' on sensors/+/data is also station air_a's, on "
        f"sensors/{{station}}/data ({site / 'stations' / 'mqtt_a.yaml'}): a message on "
        "sensors/sn42/data would go to whichever comes first in the files"
    )


@pytest.mark.parametrize(
    ("kind", "key", "param", "problem"),
    [
        # The TT10 rule for every driver: at an air station "Temp" is the air temperature.
        ("air", "Temp", "air_temp", None),
        ("water", "Temp", "water_temp", None),
        ("weather", "Temp", "air_temp", None),
        # NO2 at a hydro station: air no2 or water n_no2, and neither kind is hydro.
        ("hydro", "NO2", None, "ambiguous_param"),
        ("air", "wat", None, "unknown_param"),
    ],
)
def test_a_symbol_resolves_at_the_stations_kind_or_says_it_is_ambiguous(
    kind: str, key: str, param: str | None, problem: str | None
) -> None:
    config = station("s1", "flat_air").model_copy(update={"kind": kind})
    decoder = MqttDecoder([Route.of(config, FLAT_AIR)])
    payload = json.dumps({"ts": "2026-11-22T16:40:00", key: 21.5}).encode()
    outcome = decoder.decode("stations/s1/data", payload, ARRIVAL)
    assert [r.param for r in outcome.readings] == ([param] if param else [])
    assert [p.code for p in outcome.problems] == ([problem] if problem else [])
    if problem == "ambiguous_param":
        detail = outcome.problems[0].detail
        assert "no2 (air) and n_no2 (water)" in detail
        assert "gateway/parameters.yaml" in detail


def test_an_ambiguous_listed_field_is_a_profile_problem_naming_both() -> None:
    with pytest.raises(ValueError, match=r"NO2.*no2 \(air\) and n_no2 \(water\)"):
        MqttProfile.model_validate(
            {"id": "x", "model": "m", "kind": "hydro", "shape": "nested",
             "fields": [{"path": "data.no2", "param": "NO2"}]}
        )  # fmt: skip
