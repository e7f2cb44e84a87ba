"""The canonical parameter registry: aliases, homonyms resolved by station kind, limits."""

from __future__ import annotations

import pytest

from gateway.parameters import Parameter, UnknownParameterError, normalise_symbol, registry


@pytest.mark.parametrize(
    ("symbol", "kind", "expected"),
    [
        pytest.param("PM2,5", None, "pm25", id="PM2,5"),
        pytest.param("PM2.5", None, "pm25", id="PM2.5"),
        pytest.param("pm2_5", None, "pm25", id="pm2_5"),
        pytest.param("PM25", None, "pm25", id="PM25"),
        pytest.param("pm25", None, "pm25", id="canonical-pm25"),
        pytest.param("PM 2.5", None, "pm25", id="PM-space-2.5"),
        pytest.param("PM2,5", "air", "pm25", id="PM2,5-air"),
        pytest.param("PM10", None, "pm10", id="PM10"),
        pytest.param("PM", None, "tsp", id="PM-is-tsp"),
        pytest.param("Temp", "water", "water_temp", id="Temp-water"),
        pytest.param("Temp", "weather", "air_temp", id="Temp-weather"),
        pytest.param("temperature", "water", "water_temp", id="temperature-water"),
        pytest.param("TEMP", "weather", "air_temp", id="TEMP-weather"),
        pytest.param("NO2", "air", "no2", id="NO2-air"),
        pytest.param("NO2", "water", "n_no2", id="NO2-water"),
        pytest.param("no2", None, "no2", id="canonical-no2-needs-no-kind"),
        pytest.param("N-NO2", None, "n_no2", id="N-NO2"),
        pytest.param("N-NO2", "air", "n_no2", id="N-NO2-even-at-air"),
        pytest.param("NO", None, "no", id="NO"),
        pytest.param("NO", "air", "no", id="NO-air"),
        pytest.param("NO3", None, "n_no3", id="NO3"),
        pytest.param("NH4", None, "n_nh4", id="NH4"),
        pytest.param("NH3", None, "nh3", id="NH3"),
        pytest.param("DO", None, "do", id="DO"),
        pytest.param("O2", "water", "do", id="O2"),
        pytest.param("pH", None, "ph", id="pH"),
        pytest.param("WL", "hydro", "water_level", id="WL"),
        pytest.param("muc_nuoc", None, "water_level", id="muc_nuoc"),
        pytest.param("H", None, "water_level", id="H"),
        pytest.param("RH", None, "humidity", id="RH"),
        pytest.param("P", None, "pressure", id="P"),
        pytest.param("Q", None, "flow", id="Q"),
        pytest.param("mua", "rain", "rain", id="mua"),
        pytest.param("tips", None, "rain_counter", id="tips"),
        pytest.param("EC", None, "conductivity", id="EC"),
        pytest.param("P-PO4", None, "p_po4", id="P-PO4"),
        pytest.param("BOD", None, "bod5", id="BOD"),
        pytest.param("online", None, "station_online", id="online"),
    ],
)
def test_lookup(symbol: str, kind: str | None, expected: str) -> None:
    parameter = registry().lookup(symbol, kind)
    assert parameter.name == expected
    assert parameter is registry()[expected]


@pytest.mark.parametrize(
    ("symbol", "kind", "fragments"),
    [
        pytest.param(
            "Temp", None, ["'Temp' is ambiguous", "air_temp", "water_temp"], id="Temp-no-kind"
        ),
        pytest.param("temperature", None, ["ambiguous"], id="temperature-no-kind"),
        pytest.param("NO2", None, ["'NO2' is ambiguous", "no2", "n_no2"], id="NO2-no-kind"),
        pytest.param("Temp", "air", ["ambiguous"], id="Temp-kind-with-neither"),
        pytest.param("Temp", "hydro", ["the station's kind decides"], id="Temp-hydro"),
        pytest.param("PM1", None, ["unknown parameter 'PM1'"], id="PM1"),
        pytest.param("benzene", "air", ["unknown parameter 'benzene'"], id="benzene"),
        pytest.param("", None, ["unknown parameter ''"], id="empty"),
        pytest.param("Nhiệt độ", "water", ["unknown parameter 'Nhiệt độ'"], id="label-not-alias"),
    ],
)
def test_lookup_errors(symbol: str, kind: str | None, fragments: list[str]) -> None:
    with pytest.raises(UnknownParameterError) as caught:
        registry().lookup(symbol, kind)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PM2,5", "pm25"),
        ("PM2.5", "pm25"),
        ("pm2_5", "pm25"),
        ("PM 2.5", "pm25"),
        ("N-NO2", "nno2"),
        (" Temp\t", "temp"),
        ("water_level", "waterlevel"),
        ("µg", "µg"),
    ],
)
def test_normalise_symbol(name: str, expected: str) -> None:
    assert normalise_symbol(name) == expected


ALL = sorted(registry(), key=lambda p: p.name)


@pytest.mark.parametrize("parameter", ALL, ids=[p.name for p in ALL])
def test_every_parameter_is_complete(parameter: Parameter) -> None:
    assert parameter.low < parameter.high
    assert parameter.unit.strip() != ""
    assert parameter.kind in {"air", "water", "rain", "hydro", "weather", "station"}
    assert parameter.label.strip() != ""
    assert parameter.within_limits(parameter.low)
    assert parameter.within_limits(parameter.high)
    assert not parameter.within_limits(parameter.high + 1)
    assert not parameter.within_limits(parameter.low - 1)


ALIASES = [(p, alias) for p in ALL for alias in (p.name, *p.aliases)]


@pytest.mark.parametrize(
    ("parameter", "alias"), ALIASES, ids=[f"{alias}->{p.name}" for p, alias in ALIASES]
)
def test_every_alias_resolves_to_its_parameter_at_its_kind(
    parameter: Parameter, alias: str
) -> None:
    assert registry().lookup(alias, parameter.kind) is parameter


@pytest.mark.parametrize(
    ("name", "unit", "kind"),
    [
        ("pm25", "µg/m³", "air"),
        ("co", "µg/m³", "air"),
        ("no", "µg/m³", "air"),
        ("air_temp", "°C", "weather"),
        ("water_temp", "°C", "water"),
        ("water_level", "m", "hydro"),
        ("rain", "mm", "rain"),
        ("do", "mg/L", "water"),
        ("n_no2", "mg/L", "water"),
        ("conductivity", "µS/cm", "water"),
        ("flow", "m³/h", "water"),
        ("station_online", "bool", "station"),
    ],
)
def test_canonical_units(name: str, unit: str, kind: str) -> None:
    assert registry()[name].unit == unit
    assert registry()[name].kind == kind


def test_yaml_no_is_read_as_a_name_not_false() -> None:
    assert "no" in registry()
    assert registry()["no"].name == "no"


@pytest.mark.parametrize("name", ["x", "PM2.5", "Temp", "", "pm 25"])
def test_registry_getitem_unknown(name: str) -> None:
    with pytest.raises(UnknownParameterError) as caught:
        registry()[name]
    assert str(caught.value) == f"{name!r} is not a canonical parameter"
    assert isinstance(caught.value, KeyError)
    assert name not in registry()


def test_registry_is_cached_and_complete() -> None:
    assert registry() is registry()
    names = {p.name for p in registry()}
    assert {"pm25", "pm10", "no2", "water_level", "rain", "air_temp", "water_temp"} <= names
    assert len(names) == len(ALL)
