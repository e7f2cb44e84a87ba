"""NGSI-LD, read-only: every entity of the Huế example, in both forms, against the Smart Data
Models' own JSON schemas (tests/web/schemas, resolved offline), and the units they imply."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.model import Quality, Reading
from quantrac.ngsi import ATTRIBUTES, CONTEXTS, key_values, station_entity
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.web.board_site import BoardSite

SCHEMAS = Path(__file__).parent / "schemas"
# AirQualityObserved refers to the Environment base schema by its raw.githubusercontent address.
ALIASES = {"Environment-schema.json": [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
    "Environment-schema.json"]}  # fmt: skip


def registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.json"):
        body = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(body, default_specification=DRAFT202012)
        resources.append((body["$id"], resource))
        resources += [(alias, resource) for alias in ALIASES.get(path.name, [])]
    return Registry().with_resources(resources)


def validator(entity_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{entity_type}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=registry(), format_checker=FormatChecker())


def errors(entity: dict[str, Any]) -> list[str]:
    found = validator(entity["type"]).iter_errors(entity)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def query(site: BoardSite, path: str, **headers: str) -> httpx.Response:
    return httpx.get(site.url + path, timeout=10,
                     headers={"X-API-Key": site.keys["viewer"], **headers})  # fmt: skip


@pytest.mark.parametrize("entity_type", sorted(CONTEXTS))
def test_each_type_validates_against_its_smart_data_model(
    site: BoardSite, entity_type: str
) -> None:
    simplified = query(site, f"/ngsi-ld/v1/entities?type={entity_type}&options=keyValues").json()
    normalized = query(site, f"/ngsi-ld/v1/entities?type={entity_type}").json()
    assert simplified, entity_type
    assert [key_values(e) for e in normalized] == simplified
    for entity in simplified:
        assert errors(entity) == [], entity
        datetime.fromisoformat(entity["dateObserved"])  # ISO 8601 UTC, as the models say
    for entity in normalized:
        for name, attribute in entity.items():
            if name in ("id", "type"):
                continue
            assert attribute["type"] in ("Property", "GeoProperty", "Relationship"), name


def test_attributes_names_and_units(site: BoardSite) -> None:
    water = query(site, "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:kim_long").json()
    assert water["height"]["value"] == 2.3
    assert water["height"]["unitCode"] == "MTR"
    assert water["floodAlarmLevel"]["value"] == 2
    assert water["location"]["value"]["coordinates"] == [107.5489, 16.4637]
    air = query(site, "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:hue_air").json()
    assert (air["pm25"]["value"], air["pm25"]["unitCode"]) == (60.0, "GQ")  # µg/m³
    assert (air["airQualityIndex"]["value"], air["airQualityLevel"]["value"]) == (117, "Kém")
    weather = query(site, "/ngsi-ld/v1/entities?type=WeatherObserved&options=keyValues").json()
    by_id = {e["id"]: e for e in weather}
    hue = by_id["urn:ngsi-ld:WeatherObserved:hue_weather"]
    assert hue["relativeHumidity"] == 0.92  # the model's fraction of 1, from 92 %
    assert hue["windSpeed"] == pytest.approx(17.4)
    assert by_id["urn:ngsi-ld:WeatherObserved:nam_dong"]["precipitation"] == 2.0


def test_json_ld_context_and_paging(site: BoardSite) -> None:
    ld = query(site, "/ngsi-ld/v1/entities?type=WaterObserved", Accept="application/ld+json")
    assert ld.headers["content-type"] == "application/ld+json"
    assert all(CONTEXTS["WaterObserved"] in e["@context"] for e in ld.json())
    plain = query(site, "/ngsi-ld/v1/entities?type=WaterObserved&limit=1&count=true")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in plain.headers["link"].split(",")[0]
    assert plain.headers["ngsild-results-count"] == "2"
    assert len(plain.json()) == 1


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/ngsi-ld/v1/entities", 400, "BadRequestData"),
        ("/ngsi-ld/v1/entities?type=Building", 400, "BadRequestData"),
        ("/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:nowhere", 404, "ResourceNotFound"),
        ("/ngsi-ld/v1/entities/kim_long", 400, "BadRequestData"),
    ],
)
def test_ngsi_errors(site: BoardSite, path: str, status: int, kind: str) -> None:
    answer = query(site, path)
    assert answer.status_code == status
    assert answer.json()["type"] == f"https://uri.etsi.org/ngsi-ld/errors/{kind}"


STATION = load_site(EXAMPLE_SITE).stations
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@given(
    station=st.sampled_from(sorted(STATION)),
    values=st.dictionaries(
        st.sampled_from(sorted({p for table in ATTRIBUTES.values() for p in table})),
        st.floats(min_value=-500, max_value=5000, allow_nan=False),
        max_size=8,
    ),
)
def test_any_values_in_range_of_the_registry_give_a_valid_entity(
    station: str, values: dict[str, float]
) -> None:
    """Whatever a station sends within its registry's physical range, its entity is valid."""
    from gateway.parameters import registry as parameters

    known = parameters()
    readings = [
        Reading(station, param, value, known[param].unit if param in known else "mm",
                NOW - timedelta(minutes=1), quality=Quality.GOOD)
        for param, value in values.items()
        if param not in known or known[param].is_possible(value)
    ]  # fmt: skip
    entity = station_entity(STATION[station], readings, NOW, province="Thừa Thiên Huế")
    if entity is None:
        return
    simplified = key_values(entity)
    assert errors(simplified) == [], simplified
