"""Device profiles: the shipped ones load; broken ones list every problem in a ProfileError."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.model import DeviceStatus
from gateway.profiles import (
    DeviceProfile,
    ProfileError,
    default_profiles_dir,
    load_profile,
    load_profiles,
)
from gateway.registers import DataType, Order
from tests.conftest import REPO

SHIPPED = sorted((REPO / "firmware_configs").glob("*.yaml"))


def test_there_are_shipped_profiles() -> None:
    assert len(SHIPPED) >= 2
    assert default_profiles_dir() == REPO / "firmware_configs"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.id == path.stem
    assert len(profile.registers) >= 1


def test_load_profiles_of_the_shipped_directory() -> None:
    profiles, errors = load_profiles(default_profiles_dir())
    assert errors == []
    assert sorted(profiles) == [p.stem for p in SHIPPED]


def test_radar_level_profile_details() -> None:
    profile = load_profile(REPO / "firmware_configs" / "radar_level_mm.yaml")
    (level,) = profile.registers
    assert (level.param, level.unit, level.type, level.address) == (
        "water_level",
        "m",
        DataType.INT16,
        0,
    )
    assert level.scale == 0.001
    assert level.sentinels == (32767.0,)
    assert profile.orders(level) == (Order.BIG, Order.BIG)
    assert profile.status is not None
    assert profile.status.address == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, DeviceStatus.MEASURING),
        (1, DeviceStatus.CALIBRATING),
        (2, DeviceStatus.ERROR),
        (3, DeviceStatus.ERROR),
        (99, DeviceStatus.ERROR),  # unknown code: the default, error
    ],
)
def test_radar_level_status_map(code: int, status: DeviceStatus) -> None:
    profile = load_profile(REPO / "firmware_configs" / "radar_level_mm.yaml")
    assert profile.status is not None
    assert profile.status.status_of(code) is status


def test_air_profile_registers_are_float32_pairs() -> None:
    profile = load_profile(REPO / "firmware_configs" / "air_quality_analyser.yaml")
    assert [r.param for r in profile.registers] == ["pm25", "pm10", "no2", "so2", "co", "o3"]
    assert [r.address for r in profile.registers] == [0, 2, 4, 6, 8, 10]
    assert all(r.type is DataType.FLOAT32 and r.count == 2 for r in profile.registers)
    assert all(r.table == "input" for r in profile.registers)


# --- broken profiles ------------------------------------------------------------------------

HEADER = "model: test\nkind: air\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = HEADER + 'registers:\n  - {param: pm25, address: 0, type: float32, unit: "µg/m³"}\n'


def test_minimal_profile_loads_with_defaults(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, "minimal", GOOD))
    assert profile.id == "minimal"
    assert profile.byte_order is Order.BIG
    (spec,) = profile.registers
    assert spec.table == "holding"
    assert profile.orders(spec) == (Order.BIG, Order.BIG)


def test_register_orders_override_the_profile(tmp_path: Path) -> None:
    text = (
        "model: sonde\nkind: water\nword_order: little\nregisters:\n"
        "  - {param: ph, address: 0, type: float32, unit: pH}\n"
        "  - {param: do, address: 2, type: float32, unit: mg/L, word_order: big,"
        " byte_order: little}\n"
    )
    profile = load_profile(_write(tmp_path, "sonde", text))
    ph, do = profile.registers
    assert profile.orders(ph) == (Order.BIG, Order.LITTLE)
    assert profile.orders(do) == (Order.LITTLE, Order.BIG)


def test_same_address_in_different_tables_is_not_an_overlap(tmp_path: Path) -> None:
    text = HEADER + (
        "registers:\n"
        '  - {param: pm25, table: holding, address: 0, unit: "µg/m³"}\n'
        '  - {param: pm10, table: input, address: 0, unit: "µg/m³"}\n'
    )
    assert len(load_profile(_write(tmp_path, "tables", text)).registers) == 2


def test_float32_ending_exactly_at_65535_is_allowed(tmp_path: Path) -> None:
    text = HEADER + 'registers:\n  - {param: pm25, address: 65534, type: float32, unit: "µg/m³"}\n'
    assert load_profile(_write(tmp_path, "top", text)).registers[0].address == 65534


BROKEN: list[object] = [
    pytest.param(
        "unknown_param",
        HEADER + 'registers:\n  - {param: pm1, address: 0, unit: "µg/m³"}\n',
        ["'pm1' is not a canonical parameter"],
        id="unknown-param",
    ),
    pytest.param(
        "unit",
        HEADER + 'registers:\n  - {param: pm25, address: 0, unit: "mg/m³"}\n',
        ["registers.0", "unit 'mg/m³' is not the canonical 'µg/m³'"],
        id="non-canonical-unit",
    ),
    pytest.param(
        "unit_level",
        "model: t\nkind: hydro\nregisters:\n  - {param: water_level, address: 0, unit: mm}\n",
        ["register 0 (water_level): unit 'mm' is not the canonical 'm'"],
        id="level-in-mm",
    ),
    pytest.param(
        "overlap",
        HEADER
        + "registers:\n"
        + '  - {param: pm25, address: 0, type: float32, unit: "µg/m³"}\n'
        + '  - {param: pm10, address: 1, unit: "µg/m³"}\n',
        ["holding register 1 is used by both pm25 and pm10"],
        id="overlapping-registers",
    ),
    pytest.param(
        "overlap_status",
        HEADER
        + 'registers:\n  - {param: pm25, table: input, address: 4, type: float64, unit: "µg/m³"}\n'
        + "status: {table: input, address: 7, map: {0: measuring}}\n",
        ["input register 7 is used by both pm25 and status"],
        id="status-overlaps-register",
    ),
    pytest.param(
        "past_end",
        HEADER + 'registers:\n  - {param: pm25, address: 65535, type: float32, unit: "µg/m³"}\n',
        ["register 65535 (pm25) runs past address 65535"],
        id="float32-past-65535",
    ),
    pytest.param(
        "too_high",
        HEADER + 'registers:\n  - {param: pm25, address: 65536, unit: "µg/m³"}\n',
        ["registers.0.address", "less than or equal to 65535"],
        id="address-65536",
    ),
    pytest.param(
        "named_file",
        "id: other_name\n" + GOOD,
        ["id 'other_name' differs from the file name"],
        id="id-differs-from-file-name",
    ),
    pytest.param(
        "bad_yaml",
        HEADER + "registers: [\n  {param: pm25\n",
        ["line"],
        id="bad-yaml",
    ),
    pytest.param(
        "not_mapping",
        "- pm25\n- pm10\n",
        ["a profile is a YAML mapping"],
        id="yaml-list",
    ),
    pytest.param("empty", "", ["a profile is a YAML mapping"], id="empty-file"),
    pytest.param(
        "unknown_field",
        GOOD + "colour: red\n",
        ["colour: Extra inputs are not permitted"],
        id="unknown-top-level-field",
    ),
    pytest.param(
        "unknown_register_field",
        HEADER + 'registers:\n  - {param: pm25, address: 0, unit: "µg/m³", gain: 2}\n',
        ["registers.0.gain: Extra inputs are not permitted"],
        id="unknown-register-field",
    ),
    pytest.param(
        "bad_type",
        HEADER + 'registers:\n  - {param: pm25, address: 0, type: float16, unit: "µg/m³"}\n',
        ["registers.0.type"],
        id="unknown-data-type",
    ),
    pytest.param(
        "bad_order",
        "byte_order: middle\n" + GOOD,
        ["byte_order"],
        id="unknown-byte-order",
    ),
    pytest.param(
        "bad_kind",
        'model: t\nkind: sky\nregisters:\n  - {param: pm25, address: 0, unit: "µg/m³"}\n',
        ["kind"],
        id="unknown-kind",
    ),
    pytest.param("no_registers", HEADER + "registers: []\n", ["registers"], id="no-registers"),
    pytest.param(
        "bad_status",
        GOOD + "status: {address: 9, map: {0: fine}}\n",
        ["status.map.0"],
        id="unknown-status-name",
    ),
]


@pytest.mark.parametrize(("name", "text", "fragments"), BROKEN)
def test_broken_profile(tmp_path: Path, name: str, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    error = caught.value
    assert error.path == path
    assert error.problems
    joined = "\n".join(error.problems)
    for fragment in fragments:
        assert fragment in joined
    # Every problem in the message names the file.
    assert str(error).startswith(f"{path}: ")
    assert str(error).count(f"{path}: ") == len(error.problems)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = (
        "model: t\nkind: air\ncolour: red\nregisters:\n"
        '  - {param: pm25, address: 0, unit: "mg/m³"}\n'
        '  - {param: pm10, address: 2, unit: "µg/m³", gain: 2}\n'
        '  - {param: no2, address: 4, unit: "µg/m³"}\n'
    )
    path = _write(tmp_path, "many", text)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("colour" in p for p in problems)
    assert any("registers.0" in p and "'mg/m³'" in p for p in problems)
    assert any("registers.1.gain" in p for p in problems)
    assert str(caught.value).count(str(path)) == 3


def test_load_profiles_keeps_good_ones_and_reports_bad_ones(tmp_path: Path) -> None:
    _write(tmp_path, "good", GOOD)
    bad = _write(tmp_path, "bad", "id: wrong\n" + GOOD)
    (tmp_path / "notes.txt").write_text("not a profile", encoding="utf-8")
    profiles, errors = load_profiles(tmp_path)
    assert list(profiles) == ["good"]
    assert isinstance(profiles["good"], DeviceProfile)
    assert [e.path for e in errors] == [bad]


def test_load_profiles_survives_an_unknown_param(tmp_path: Path) -> None:
    _write(tmp_path, "good", GOOD)
    _write(tmp_path, "typo", HEADER + 'registers:\n  - {param: pm2.5, address: 0, unit: "µg/m³"}\n')
    profiles, errors = load_profiles(tmp_path)
    assert list(profiles) == ["good"]
    assert [e.path.stem for e in errors] == ["typo"]
