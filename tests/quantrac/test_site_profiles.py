"""A site's own profiles add to the shipped ones; a station may move, remap or drop its
profile's status register."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import StatusOverride
from gateway.model import DeviceStatus
from gateway.profiles import default_profiles_dir, load_profile
from quantrac.site import SiteConfigError, load_site
from tests.conftest import EXAMPLE_SITE

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")
SHIPPED = sorted(p.stem for p in default_profiles_dir().glob("*.yaml"))
CUSTOM = """model: "Ultrasonic level sensor, cm (uint16)"
kind: hydro
registers:
  - {param: water_level, address: 4, type: uint16, scale: 0.01, unit: m}
"""


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    with (site / "site.yaml").open("a", encoding="utf-8") as handle:
        handle.write("profiles_dir: profiles\n")
    (site / "profiles").mkdir()
    return site


def edit_station(site: Path, station: str, change: dict[str, Any]) -> None:
    path = site / "stations" / "hydro.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    entry = next(s for s in document["stations"] if s["id"] == station)
    entry["source"].update(change)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")


def test_a_sites_profiles_add_to_the_shipped_ones(site_dir: Path) -> None:
    (site_dir / "profiles" / "ultrasonic_cm.yaml").write_text(CUSTOM, "utf-8")
    edit_station(site_dir, "phu_oc", {"profile": "ultrasonic_cm"})
    site = load_site(site_dir)
    assert sorted(site.profiles) == sorted([*SHIPPED, "ultrasonic_cm"])
    assert site.profile_of(site.stations["phu_oc"]).model.startswith("Ultrasonic")
    assert site.profile_of(site.stations["kim_long"]) == RADAR  # still the shipped radar
    assert "water_level_mqtt_nested" in site.mqtt_profiles  # the shipped MQTT ones too
    assert site.notes == []


def test_a_sites_profile_of_a_shipped_name_replaces_it_with_a_note(site_dir: Path) -> None:
    mine = site_dir / "profiles" / "radar_level_mm.yaml"
    mine.write_text(CUSTOM.replace("kind: hydro", "kind: hydro\ndescription: ours"), "utf-8")
    site = load_site(site_dir)
    assert site.profiles["radar_level_mm"].description == "ours"
    (note,) = site.notes
    assert note == (
        f"{mine}: profile radar_level_mm replaces the shipped "
        f"{default_profiles_dir() / 'radar_level_mm.yaml'}"
    )


def test_a_missing_profiles_dir_and_an_unknown_profile_are_problems(site_dir: Path) -> None:
    shutil.rmtree(site_dir / "profiles")
    edit_station(site_dir, "phu_oc", {"profile": "ultrasonic_cm"})
    with pytest.raises(SiteConfigError) as caught:
        load_site(site_dir)
    messages = [str(p) for p in caught.value.problems]
    assert f"{site_dir / 'site.yaml'}: profiles_dir: no folder {site_dir / 'profiles'}" in messages
    assert any("no profile 'ultrasonic_cm' in" in m and "firmware_configs" in m for m in messages)


@pytest.mark.parametrize(
    ("override", "address", "code", "expected"),
    [
        # Moved: this unit serves its status in holding register 7.
        ({"address": 7}, 7, 0, DeviceStatus.MEASURING),
        # Remapped: its firmware says 4 for "echo lost".
        ({"map": {0: "measuring", 4: "error"}}, 1, 4, DeviceStatus.ERROR),
        ({"map": {0: "measuring"}, "default": "calibrating"}, 1, 9, DeviceStatus.CALIBRATING),
    ],
)
def test_a_station_changes_its_profiles_status_register(
    override: dict[str, Any], address: int, code: int, expected: DeviceStatus
) -> None:
    profile = RADAR.with_overrides((), StatusOverride.model_validate(override))
    assert profile.status is not None
    assert profile.status.address == address
    assert profile.status.status_of(code) is expected
    assert profile.registers == RADAR.registers


def test_a_station_drops_its_profiles_status_register(site_dir: Path) -> None:
    edit_station(site_dir, "kim_long", {"status": {"enabled": False}})
    site = load_site(site_dir)
    assert site.profile_of(site.stations["kim_long"]).status is None
    assert site.profile_of(site.stations["phu_oc"]).status == RADAR.status


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ({"address": 0}, "holding register 0 is used by both water_level and status"),
        ({"map": {0: "fine"}}, "source.status.map.0"),
        ({"colour": "red"}, "source.status.colour"),
    ],
)
def test_a_status_override_that_does_not_fit_is_a_problem(
    site_dir: Path, status: dict[str, Any], problem: str
) -> None:
    edit_station(site_dir, "kim_long", {"status": status})
    with pytest.raises(SiteConfigError) as caught:
        load_site(site_dir)
    (found,) = caught.value.problems
    assert found.station == "kim_long"
    assert problem in str(found)


def test_a_status_register_for_a_profile_without_one_needs_address_and_map() -> None:
    plain = RADAR.model_copy(update={"status": None})
    with pytest.raises(ValueError, match="has no status register: give its address and map"):
        plain.with_overrides((), StatusOverride(address=3))
    added = plain.with_overrides((), StatusOverride(address=3, map={0: "measuring"}))
    assert added.status is not None
    assert added.status.address == 3


def test_config_check_prints_the_note_and_plain_problems(site_dir: Path) -> None:
    from typer.testing import CliRunner

    from quantrac.cli import app

    mine = site_dir / "profiles" / "radar_level_mm.yaml"
    mine.write_text(CUSTOM, "utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(site_dir)])
    assert result.exit_code == 0, result.output
    assert f"note: {mine}: profile radar_level_mm replaces the shipped" in result.output

    # Two mistakes in one station file and one in the rules: all three at once, as plain text,
    # and the rules' "unknown station" of the broken station is not said a second time.
    edit_station(site_dir, "kim_long", {"unit": 300})
    rules = site_dir / "rules.yaml"
    rules.write_text(rules.read_text("utf-8") + "- {id: x, type: nonsense}\n", "utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(site_dir)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("  ✗")]
    assert len(lines) == 2, result.output
    assert "[red]" not in result.output
    assert any("station kim_long: source.unit" in line for line in lines)
    assert any("rules.yaml: rule x" in line for line in lines)
    assert "unknown station 'kim_long'" not in result.output
