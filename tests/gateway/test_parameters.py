"""The canonical parameter registry: aliases, homonyms resolved by station kind, limits."""

from __future__ import annotations

import math

import pytest

from gateway.parameters import (
    Parameter,
    UnknownParameterError,
    impossible_value,
    normalise_symbol,
    registry,
)


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


# The physically possible range of every parameter (gateway/parameters.yaml ``possible``): the
# table the gateway's bounds check is held to, edge by edge.
POSSIBLE = {
    "pm25": (0, 10_000),
    "pm10": (0, 20_000),
    "tsp": (0, 50_000),
    "no2": (0, 100_000),
    "no": (0, 100_000),
    "so2": (0, 100_000),
    "co": (0, 1_200_000),
    "o3": (0, 20_000),
    "h2s": (0, 100_000),
    "nh3": (0, 100_000),
    "air_temp": (-60, 70),
    "humidity": (0, 100),
    "pressure": (300, 1100),
    "wind_speed": (0, 120),
    "wind_gust": (0, 150),
    "wind_dir": (0, 360),
    "rain": (0, 2000),
    "rain_counter": (0, 2**32),
    "water_level": (-50, 100),
    "flow": (0, 1e9),
    "water_temp": (-5, 100),
    "ph": (0, 14),
    "do": (0, 60),
    "cod": (0, 200_000),
    "bod5": (0, 100_000),
    "toc": (0, 100_000),
    "tss": (0, 200_000),
    "turbidity": (0, 100_000),
    "conductivity": (0, 300_000),
    "color": (0, 100_000),
    "n_nh4": (0, 10_000),
    "n_no3": (0, 10_000),
    "n_no2": (0, 10_000),
    "p_po4": (0, 10_000),
    "coliform": (0, 1e9),
    "tn": (0, 20_000),
    "tp": (0, 10_000),
    "chloride": (0, 200_000),
    "salinity": (0, 300),
    "station_online": (0, 1),
}
EDGES = [
    pytest.param(name, value, ok, id=f"{name}-{label}")
    for name, (low, high) in POSSIBLE.items()
    for label, value, ok in (
        ("low", low, True),
        ("high", high, True),
        ("below", low - max(1e-6, abs(low) * 1e-9), False),
        ("above", high + max(1e-6, high * 1e-9), False),
    )
]


def test_every_parameter_has_a_possible_range_in_the_table() -> None:
    assert set(POSSIBLE) == {p.name for p in registry()}


def test_every_possible_range_holds_the_qc_limits() -> None:
    for p in registry():
        assert p.possible_low <= p.low <= p.high <= p.possible_high, p.name


@pytest.mark.parametrize(("name", "value", "possible"), EDGES)
def test_the_possible_range_edges(name: str, value: float, possible: bool) -> None:
    problem = impossible_value("st_1", name, value)
    assert (problem is None) == possible
    if problem is not None:
        assert problem.startswith(f"station st_1 param {name}: value ")


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (
            "pm25",
            1e308,
            "station s param pm25: value 1e+308 µg/m³ is outside the possible range"
            " 0 … 10000 µg/m³",
        ),
        (
            "water_level",
            -999.0,
            "station s param water_level: value -999 m is outside the possible range -50 … 100 m",
        ),
        (
            "pm25",
            math.inf,
            "station s param pm25: value inf µg/m³ is outside the possible range 0 … 10000 µg/m³",
        ),
        (
            "pm25",
            -math.inf,
            "station s param pm25: value -inf µg/m³ is outside the possible range 0 … 10000 µg/m³",
        ),
        ("pm25", math.nan, None),  # "no value" is not an impossible value
        ("not_in_registry", 1e308, None),  # no range known: not this check's to refuse
        ("air_temp", 42.0, None),
    ],
)
def test_impossible_value_names_station_parameter_and_range(
    param: str, value: float, expected: str | None
) -> None:
    assert impossible_value("s", param, value) == expected
