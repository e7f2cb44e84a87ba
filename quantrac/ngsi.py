"""FIWARE NGSI-LD, read-only: the stations as Smart Data Models entities (docs/api.md, "NGSI-LD").

``GET /ngsi-ld/v1/entities?type=…`` and ``GET /ngsi-ld/v1/entities/{id}``, so that a city's
context broker (Orion-LD, Scorpio, Stellio: as a registered context source) or a FIWARE
dashboard takes the stations as they are:

- an air station is an AirQualityObserved: pm25, pm10, no2, no, so2, co, o3, sh2, temperature,
  relativeHumidity, windSpeed, windDirection, precipitation; airQualityIndex (VN_AQI) and
  airQualityLevel (its category);
- a water-quality station a WaterQualityObserved: temperature, pH, O2, conductivity,
  turbidity, tss, salinity, NH4, NO3, Cl-; its other parameters (COD, BOD5…) in measurand;
- a river gauge a WaterObserved: height (the water level, m), flow, floodAlarmLevel (0–3)
  and floodAlarmThresholds (BĐ I/II/III);
- a weather station or a rain gauge a WeatherObserved: temperature, relativeHumidity,
  atmosphericPressure, windSpeed, gustSpeed, windDirection, precipitation (the last hour's).

Units are the models' (relative humidity as a fraction of 1), given in the normalised form as
UN/CEFACT common codes (``unitCode``). Readings flagged bad by QC are left out: an NGSI-LD
consumer has nowhere to read the flag. Pure builders here; the routes at the end.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.config import StationConfig
from gateway.model import Quality, Reading
from quantrac.api_common import Context, Viewer, station_ids
from quantrac.api_export import iso_z
from quantrac.api_state import station_state

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
SDM = "https://raw.githubusercontent.com/smart-data-models"
CONTEXTS = {
    "AirQualityObserved": f"{SDM}/dataModel.Environment/master/context.jsonld",
    "WaterQualityObserved": f"{SDM}/dataModel.WaterQuality/master/context.jsonld",
    "WaterObserved": f"{SDM}/dataModel.Environment/master/context.jsonld",
    "WeatherObserved": f"{SDM}/dataModel.Weather/master/context.jsonld",
}
TYPE_OF_KIND = {
    "air": "AirQualityObserved",
    "water": "WaterQualityObserved",
    "hydro": "WaterObserved",
    "weather": "WeatherObserved",
    "rain": "WeatherObserved",
}
# UN/CEFACT common codes of the canonical units (gateway/parameters.yaml).
UNIT_CODES = {
    "µg/m³": "GQ", "mg/L": "M1", "m": "MTR", "mm": "MMT", "°C": "CEL", "%": "P1",
    "hPa": "A97", "m/s": "MTS", "°": "DD", "µS/cm": "G42", "m³/h": "MQH", "‰": "NX",
    "pH": "C62", "1": "C62",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str  # the Smart Data Models attribute
    convert: Callable[[float], float] = float
    unit: str | None = None  # the model's unit when it is not the canonical one


def _fraction(percent: float) -> float:
    return round(percent / 100, 6)


def _signed_degrees(degrees: float) -> float:
    # AirQualityObserved's windDirection runs −180…180, the station's vane 0…360.
    return degrees - 360 if degrees > 180 else degrees


_HUMIDITY = Attribute("relativeHumidity", _fraction, "1")
ATTRIBUTES: dict[str, dict[str, Attribute]] = {
    "AirQualityObserved": {
        "pm25": Attribute("pm25"), "pm10": Attribute("pm10"), "no2": Attribute("no2"),
        "no": Attribute("no"), "so2": Attribute("so2"), "co": Attribute("co"),
        "o3": Attribute("o3"), "h2s": Attribute("sh2"), "air_temp": Attribute("temperature"),
        "humidity": _HUMIDITY, "wind_speed": Attribute("windSpeed"),
        "wind_dir": Attribute("windDirection", _signed_degrees), "rain": Attribute("precipitation"),
    },
    "WaterQualityObserved": {
        "water_temp": Attribute("temperature"), "ph": Attribute("pH"), "do": Attribute("O2"),
        "conductivity": Attribute("conductivity"), "turbidity": Attribute("turbidity"),
        "tss": Attribute("tss"), "salinity": Attribute("salinity"), "n_nh4": Attribute("NH4"),
        "n_no3": Attribute("NO3"), "chloride": Attribute("Cl-"),
    },
    "WaterObserved": {"water_level": Attribute("height"), "flow": Attribute("flow")},
    "WeatherObserved": {
        "air_temp": Attribute("temperature"), "humidity": _HUMIDITY,
        "pressure": Attribute("atmosphericPressure"), "wind_speed": Attribute("windSpeed"),
        "wind_gust": Attribute("gustSpeed"), "wind_dir": Attribute("windDirection"),
        "rain_1h": Attribute("precipitation"),
    },
}  # fmt: skip
# Parameters a model has no attribute for, but which its measurand list may carry.
MEASURAND_TYPES = {"WaterQualityObserved"}
# Attributes whose model bounds them below by 0: a value under it (a water level below the
# gauge's datum) is left out rather than sent out of the model.
NON_NEGATIVE = {"height", "flow", "precipitation", "windSpeed", "gustSpeed", "tss", "turbidity",
                "conductivity", "salinity", "O2", "NH4", "NO3", "Cl-"}  # fmt: skip


def entity_id(entity_type: str, station: str) -> str:
    return f"urn:ngsi-ld:{entity_type}:{station}"


def _property(value: Any, unit: str | None, observed: datetime | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Property", "value": value}
    code = UNIT_CODES.get(unit or "")
    if code is not None:
        body["unitCode"] = code
    if observed is not None:
        body["observedAt"] = iso_z(observed)
    return body


def station_entity(
    station: StationConfig, latest: Sequence[Reading], now: datetime, *, province: str = ""
) -> dict[str, Any] | None:
    """The station as a normalised NGSI-LD entity (without ``@context``); None for a station
    whose kind has no model, or that has no location or nothing measured yet."""
    entity_type = TYPE_OF_KIND.get(station.kind)
    if entity_type is None or station.location is None:
        return None
    usable = {
        r.param: r
        for r in latest
        if r.has_value and math.isfinite(r.value) and r.quality is not Quality.BAD
    }
    if "rain_1h" not in usable and "rain" in usable and entity_type == "WeatherObserved":
        usable["rain_1h"] = usable["rain"]  # a gauge without the collector's hourly total
    measured = [r for r in usable.values() if r.param != "station_online"]
    if not measured:
        return None
    observed = max(r.ts for r in measured)
    entity: dict[str, Any] = {
        "id": entity_id(entity_type, station.id),
        "type": entity_type,
        "name": _property(station.name, None, None),
        "dateObserved": {"type": "Property", "value": {"@type": "DateTime",
                                                       "@value": iso_z(observed)}},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [station.location.lon, station.location.lat]},
        },
        "address": _property(
            {"addressCountry": "VN", "addressRegion": province, "district": station.district},
            None, None,
        ),
        "areaServed": _property(station.district, None, None),
        "source": _property("quantrac", None, None),
    }  # fmt: skip
    table = ATTRIBUTES[entity_type]
    measurands: list[str] = []
    for param, reading in sorted(usable.items()):
        attribute = table.get(param)
        if attribute is None:
            if entity_type in MEASURAND_TYPES and param != "station_online":
                code = UNIT_CODES.get(reading.unit, reading.unit)
                measurands.append(f"{param}, {reading.value:g}, {code}, {param}")
            continue
        value = attribute.convert(reading.value)
        if attribute.name in NON_NEGATIVE and value < 0:
            continue
        entity[attribute.name] = _property(value, attribute.unit or reading.unit, reading.ts)
    if measurands:
        entity["measurand"] = _property(measurands, None, observed)
    _add_indices(entity, entity_type, station, latest, now)
    return entity


def _add_indices(entity: dict[str, Any], entity_type: str, station: StationConfig,
                 latest: Sequence[Reading], now: datetime) -> None:  # fmt: skip
    state = station_state(station, latest, now)
    if entity_type == "AirQualityObserved" and state.index == "VN_AQI" and state.value is not None:
        entity["airQualityIndex"] = _property(int(state.value), None, state.as_of)
        entity["airQualityLevel"] = _property(state.label, None, state.as_of)
    if entity_type == "WaterObserved" and station.flood_levels is not None and state.level >= 0:
        entity["floodAlarmLevel"] = _property(state.level, None, state.as_of)
        entity["floodAlarmThresholds"] = _property(station.flood_levels.model_dump(), "m", None)


def key_values(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The simplified form (``options=keyValues``): each attribute's value alone, as the
    Smart Data Models' JSON schemas describe an entity."""
    out: dict[str, Any] = {}
    for name, attribute in entity.items():
        if isinstance(attribute, dict) and "type" in attribute and "value" in attribute:
            value = attribute["value"]
            if isinstance(value, dict) and value.get("@type") == "DateTime":
                value = value["@value"]
            out[name] = value
        else:
            out[name] = attribute
    return out


def contexts(types: Sequence[str]) -> list[str]:
    return [*dict.fromkeys(CONTEXTS[t] for t in types), CORE_CONTEXT]


class NgsiEntity(BaseModel):
    """An NGSI-LD entity; its attributes are those of its Smart Data Model (see the table)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(examples=["urn:ngsi-ld:WaterObserved:kim_long"])
    type: Literal["AirQualityObserved", "WaterQualityObserved", "WaterObserved", "WeatherObserved"]
    context: list[str] | None = Field(default=None, alias="@context")


router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"])
LD_JSON = "application/ld+json"
BAD_REQUEST = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
NOT_FOUND = "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
EntityType = Literal["AirQualityObserved", "WaterQualityObserved", "WaterObserved",
                     "WeatherObserved"]  # fmt: skip
Options = Annotated[
    Literal["keyValues", "normalized", "sysAttrs"] | None,
    Query(description="keyValues: each attribute's value alone"),
]


class NgsiError(HTTPException):
    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(status, detail)
        self.kind = kind


async def _entities(context: Context, types: Sequence[str]) -> list[dict[str, Any]]:
    now = datetime.now().astimezone()

    def build() -> list[dict[str, Any]]:
        found = []
        for station_id in station_ids(context):
            station = context.stations.get(station_id)
            if station is None or TYPE_OF_KIND.get(station.kind) not in types:
                continue
            entity = station_entity(station, context.store.latest(station_id), now,
                                    province=context.site_name)  # fmt: skip
            if entity is not None:
                found.append(entity)
        return found

    return await asyncio.to_thread(build)


def _answer(request: Request, body: Any, types: Sequence[str], options: str | None,
            headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    simplified = options == "keyValues" or request.query_params.get("format") == "simplified"
    many = isinstance(body, list)
    items = body if many else [body]
    if simplified:
        items = [key_values(e) for e in items]
    headers = dict(headers or {})
    ld = LD_JSON in request.headers.get("accept", "")
    if ld:  # JSON-LD: the context in the body
        items = [{**e, "@context": contexts([e["type"]])} for e in items]
    elif types:  # plain JSON: the context in a Link header
        headers["Link"] = (f'<{CONTEXTS[types[0]]}>; rel="http://www.w3.org/ns/json-ld#context";'
                           ' type="application/ld+json"')  # fmt: skip
    return JSONResponse(items if many else items[0], headers=headers,
                        media_type=LD_JSON if ld else "application/json")  # fmt: skip


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "no type, an unknown type or a malformed id (BadRequestData)",
          "content": {"application/problem+json": {}}},
    404: {"description": "no such entity (ResourceNotFound)",
          "content": {"application/problem+json": {}}},
}  # fmt: skip


@router.get("/entities", response_model=list[NgsiEntity], response_model_by_alias=True,
            responses=ERRORS)  # fmt: skip
async def query_entities(
    request: Request,
    context: Context,
    _: Viewer,
    type: Annotated[
        str | None, Query(description="one or more of the four types, comma-separated")
    ] = None,
    id: Annotated[str | None, Query(description="entity ids, comma-separated")] = None,
    options: Options = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    count: Annotated[bool, Query(description="the total in NGSILD-Results-Count")] = False,
) -> JSONResponse:
    """Entities of the given types, ordered by id, in pages (``limit``, ``offset``)."""
    if not type:
        raise NgsiError(400, BAD_REQUEST, "give type: one of " + ", ".join(CONTEXTS))
    types = [t.strip() for t in type.split(",") if t.strip()]
    unknown = [t for t in types if t not in CONTEXTS]
    if unknown:
        raise NgsiError(400, BAD_REQUEST, f"unknown type {unknown[0]!r}: one of "
                        + ", ".join(CONTEXTS))  # fmt: skip
    found = sorted(await _entities(context, types), key=lambda e: str(e["id"]))
    if id:
        wanted = {i.strip() for i in id.split(",")}
        found = [e for e in found if e["id"] in wanted]
    headers = {"NGSILD-Results-Count": str(len(found))} if count else {}
    page = found[offset : offset + limit]
    if offset + limit < len(found):
        following = request.url.include_query_params(offset=offset + limit, limit=limit)
        headers["Link"] = f'<{following}>; rel="next"'
    return _answer(request, page, types, options, headers)


@router.get("/entities/{entity_id}", response_model=NgsiEntity, response_model_by_alias=True,
            responses=ERRORS)  # fmt: skip
async def entity(
    entity_id: str, request: Request, context: Context, _: Viewer, options: Options = None
) -> JSONResponse:
    """One entity by its id (``urn:ngsi-ld:<type>:<station>``)."""
    parts = entity_id.split(":")
    if len(parts) != 4 or parts[:2] != ["urn", "ngsi-ld"] or parts[2] not in CONTEXTS:
        raise NgsiError(400, BAD_REQUEST, f"{entity_id!r} is not urn:ngsi-ld:<type>:<station>")
    found = [e for e in await _entities(context, [parts[2]]) if e["id"] == entity_id]
    if not found:
        raise NgsiError(404, NOT_FOUND, f"no entity {entity_id!r}")
    return _answer(request, found[0], [parts[2]], options)
