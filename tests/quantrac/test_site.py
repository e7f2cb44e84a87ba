"""Site directories: the Huế example loads; broken copies report every problem with its place."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import TcpConnection
from quantrac.site import ConfigProblem, SiteConfigError, load_site
from tests.conftest import EXAMPLE_SITE


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "hue"
    shutil.copytree(EXAMPLE_SITE, directory)
    return directory


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def _station(document: dict[str, Any], station_id: str) -> dict[str, Any]:
    for entry in document["stations"]:
        if entry["id"] == station_id:
            found: dict[str, Any] = entry
            return found
    raise AssertionError(f"no station {station_id} in the example")


def _problems(directory: Path) -> list[ConfigProblem]:
    with pytest.raises(SiteConfigError) as caught:
        load_site(directory)
    return caught.value.problems


# --- the example ----------------------------------------------------------------------------


def test_example_site_loads() -> None:
    site = load_site(EXAMPLE_SITE)
    assert sorted(site.stations) == [
        "hue_air",
        "hue_weather",
        "kim_long",
        "nam_dong",
        "phu_oc",
        "van_nien",
        "xlnt_phu_bai",
    ]
    assert site.settings.name == "Thừa Thiên Huế"
    assert site.settings.gateway_id == "gw-hue-1"
    assert site.settings.timezone == "Asia/Ho_Chi_Minh"
    assert site.directory == EXAMPLE_SITE


def test_kim_long_flood_levels() -> None:
    kim_long = load_site(EXAMPLE_SITE).stations["kim_long"]
    assert kim_long.flood_levels is not None
    assert kim_long.flood_levels.as_tuple() == (1.0, 2.0, 3.5)
    assert kim_long.name == "Kim Long"
    assert kim_long.kind == "hydro"
    assert kim_long.river == "Hương"


@pytest.mark.parametrize(
    ("station", "kind", "profile", "port", "flood_levels"),
    [
        ("kim_long", "hydro", "radar_level_mm", 15021, (1.0, 2.0, 3.5)),
        ("phu_oc", "hydro", "radar_level_mm", 15022, (1.5, 3.0, 4.5)),
        ("hue_air", "air", "air_quality_analyser", 15023, None),
        ("van_nien", "water", "water_station_wqi_cdab", 15024, None),
        ("nam_dong", "rain", "rain_logger_tipping_bucket", 15025, None),
        ("hue_weather", "weather", "weather_transmitter", 15026, None),
    ],
)
def test_example_stations(
    station: str,
    kind: str,
    profile: str,
    port: int,
    flood_levels: tuple[float, float, float] | None,
) -> None:
    site = load_site(EXAMPLE_SITE)
    config = site.stations[station]
    assert config.kind == kind
    assert config.modbus.profile == profile
    assert isinstance(config.modbus.connection, TcpConnection)
    assert config.modbus.connection.port == port
    assert site.profile_of(config).id == profile
    levels = config.flood_levels.as_tuple() if config.flood_levels else None
    assert levels == flood_levels


# --- three mistakes in two files ------------------------------------------------------------


def test_three_mistakes_are_all_reported(site_dir: Path) -> None:
    hydro = site_dir / "stations" / "hydro.yaml"
    air = site_dir / "stations" / "air.yaml"

    def break_hydro(document: dict[str, Any]) -> None:
        _station(document, "kim_long")["source"]["unit"] = 300
        _station(document, "phu_oc")["flood_levels"] = {"bd1": 3.5, "bd2": 3.0, "bd3": 4.5}

    def break_air(document: dict[str, Any]) -> None:
        del _station(document, "hue_air")["source"]["profile"]

    _edit(hydro, break_hydro)
    _edit(air, break_air)

    with pytest.raises(SiteConfigError) as caught:
        load_site(site_dir)
    problems = caught.value.problems
    assert len(problems) == 3

    by_station = {p.station: p for p in problems}
    assert sorted(s for s in by_station if s) == ["hue_air", "kim_long", "phu_oc"]
    expected = {
        "kim_long": (hydro, "source.unit", "less than or equal to 247"),
        "phu_oc": (hydro, "flood_levels", "need bd1 < bd2 < bd3, got 3.5, 3.0, 4.5"),
        "hue_air": (air, "source.profile", "Field required"),
    }
    for station, (file, field, message) in expected.items():
        problem = by_station[station]
        assert (problem.file, problem.field) == (file, field)
        assert message in problem.message
        text = str(problem)
        assert str(file) in text
        assert f"station {station}" in text
        assert field in text
        assert message in text

    summary = str(caught.value)
    assert summary.startswith("3 problem(s) in the site config:")
    assert all(str(p) in summary for p in problems)


# --- one mistake each -----------------------------------------------------------------------


def _set(station: str, *path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *keys, value = path_and_value

    def change(document: dict[str, Any]) -> None:
        target = _station(document, station)
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _drop(station: str, *keys: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = _station(document, station)
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return change


ONE_MISTAKE: list[Any] = [
    pytest.param(
        "hydro",
        _set("kim_long", "source", "unit", 300),
        "kim_long",
        "source.unit",
        "less than or equal to 247",
        id="unit-300",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "source", "unit", -1),
        "kim_long",
        "source.unit",
        "greater than or equal to 0",
        id="unit-negative",
    ),
    pytest.param(
        "air",
        _set("hue_air", "source", "profile", "no_such_profile"),
        "hue_air",
        "source.profile",
        "no profile 'no_such_profile'",
        id="unknown-profile",
    ),
    pytest.param(
        "air",
        _drop("hue_air", "source", "profile"),
        "hue_air",
        "source.profile",
        "Field required",
        id="profile-missing",
    ),
    pytest.param(
        "hydro",
        _set("phu_oc", "flood_levels", "bd3", 2.0),
        "phu_oc",
        "flood_levels",
        "need bd1 < bd2 < bd3",
        id="bd3-below-bd2",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "flood_levels", "bd2", 1.0),
        "kim_long",
        "flood_levels",
        "need bd1 < bd2 < bd3",
        id="bd1-equals-bd2",
    ),
    pytest.param(
        "hydro",
        _drop("kim_long", "flood_levels", "bd3"),
        "kim_long",
        "flood_levels.bd3",
        "Field required",
        id="bd3-missing",
    ),
    pytest.param(
        "air",
        _set("hue_air", "flood_levels", {"bd1": 1, "bd2": 2, "bd3": 3}),
        "hue_air",
        "",
        "flood_levels belong to hydro",
        id="flood-levels-on-air",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "kind", "river"),
        "kim_long",
        "kind",
        "Input should be",
        id="unknown-kind",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "location", "lat", 48.8),
        "kim_long",
        "location.lat",
        "less than or equal to 24",
        id="lat-outside-vietnam",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "source", "connection", "port", 70000),
        "kim_long",
        "source.connection.port",
        "less than or equal to 65535",
        id="port-70000",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "source", "interval_s", 0.5),
        "kim_long",
        "source.interval_s",
        "greater than or equal to 1",
        id="interval-too-short",
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "gauge", "radar"),
        "kim_long",
        "gauge",
        "Extra inputs are not permitted",
        id="unknown-field",
    ),
    pytest.param(
        "hydro", _drop("kim_long", "name"), "kim_long", "name", "Field required", id="name-missing"
    ),
    pytest.param(
        "hydro",
        _set("kim_long", "id", "Kim Long"),
        "Kim Long",
        "id",
        "lower-case letters",
        id="invalid-id",
    ),
]


@pytest.mark.parametrize(("file", "change", "station", "field", "message"), ONE_MISTAKE)
def test_one_mistake(
    site_dir: Path,
    file: str,
    change: Callable[[dict[str, Any]], None],
    station: str,
    field: str,
    message: str,
) -> None:
    path = site_dir / "stations" / f"{file}.yaml"
    _edit(path, change)
    (problem,) = _problems(site_dir)
    assert problem.file == path
    assert problem.station == station
    assert problem.field == field
    assert message in problem.message
    assert str(problem).startswith(f"{path}: station {station}: ")


def test_duplicate_station_id(site_dir: Path) -> None:
    hydro = yaml.safe_load((site_dir / "stations" / "hydro.yaml").read_text(encoding="utf-8"))
    copy = _station(hydro, "kim_long")
    more = site_dir / "stations" / "more.yaml"
    more.write_text(yaml.safe_dump({"stations": [copy]}, allow_unicode=True), "utf-8")
    (problem,) = _problems(site_dir)
    assert (problem.file, problem.station, problem.field) == (more, "kim_long", "id")
    assert problem.message == "defined twice"
    assert str(problem) == f"{more}: station kim_long: id: defined twice"


def test_duplicate_within_one_file(site_dir: Path) -> None:
    path = site_dir / "stations" / "hydro.yaml"
    _edit(path, lambda document: document["stations"].append(dict(document["stations"][0])))
    (problem,) = _problems(site_dir)
    assert (problem.file, problem.station, problem.message) == (path, "kim_long", "defined twice")


def test_missing_site_yaml(site_dir: Path) -> None:
    (site_dir / "site.yaml").unlink()
    (problem,) = _problems(site_dir)
    assert problem.file == site_dir / "site.yaml"
    assert problem.station is None
    assert "missing" in problem.message
    assert "site.yaml" in str(problem)


def test_no_station_files(site_dir: Path) -> None:
    shutil.rmtree(site_dir / "stations")
    (problem,) = _problems(site_dir)
    assert problem.file == site_dir / "stations"
    assert problem.message == "no station files"


def test_unknown_field_in_site_yaml(site_dir: Path) -> None:
    _edit(site_dir / "site.yaml", lambda document: document.update(colour="blue"))
    (problem,) = _problems(site_dir)
    assert (problem.file, problem.station, problem.field) == (
        site_dir / "site.yaml",
        None,
        "colour",
    )


def test_stations_not_a_list(site_dir: Path) -> None:
    path = site_dir / "stations" / "air.yaml"
    path.write_text("stations: {id: hue_air}\n", encoding="utf-8")
    (problem,) = _problems(site_dir)
    assert (problem.file, problem.field, problem.message) == (
        path,
        "stations",
        "expected a list of stations",
    )


@pytest.mark.parametrize(
    ("relative", "text", "line"),
    [
        pytest.param(
            "stations/hydro.yaml",
            "stations:\n  - id: kim_long\n    kind: hydro\n   name: Kim Long\n",
            4,
            id="station-bad-indent",
        ),
        pytest.param(
            "stations/air.yaml",
            "stations:\n  - id: hue_air\n    name: [unclosed\n    kind: air\n",
            4,
            id="station-unclosed-list",
        ),
        pytest.param("site.yaml", 'name: "Huế\nprovince: x\n', 3, id="site-unclosed-quote"),
    ],
)
def test_invalid_yaml_reports_the_line(site_dir: Path, relative: str, text: str, line: int) -> None:
    path = site_dir / relative
    path.write_text(text, encoding="utf-8")
    (problem,) = _problems(site_dir)
    assert problem.file == path
    assert problem.field == f"line {line}"
    assert "not valid YAML" in problem.message
    assert f"{path}: line {line}: not valid YAML" in str(problem)


def test_problems_in_a_profile_are_reported_against_the_profile(site_dir: Path) -> None:
    profiles = site_dir / "profiles"
    shutil.copytree(EXAMPLE_SITE.parents[1] / "firmware_configs", profiles)
    _edit(site_dir / "site.yaml", lambda document: document.update(profiles_dir="profiles"))
    radar = profiles / "radar_level_mm.yaml"
    radar.write_text(radar.read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    (problem,) = _problems(site_dir)
    assert problem.file == radar
    assert "colour" in problem.message
    # The stations that use the broken profile are not reported again as "no profile".
    assert problem.station is None


def test_site_with_its_own_profiles_dir_loads(site_dir: Path) -> None:
    profiles = site_dir / "profiles"
    shutil.copytree(EXAMPLE_SITE.parents[1] / "firmware_configs", profiles)
    _edit(site_dir / "site.yaml", lambda document: document.update(profiles_dir="profiles"))
    site = load_site(site_dir)
    assert sorted(site.profiles) == [
        "air_quality_analyser",
        "radar_level_mm",
        "rain_logger_tipping_bucket",
        "water_sonde_float32_lw",
        "water_station_wqi_cdab",
        "weather_transmitter",
    ]
