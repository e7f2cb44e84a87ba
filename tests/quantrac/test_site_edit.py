"""Editing a station file as text: comments and layout kept, only the station's lines change."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from quantrac.site_edit import SiteEditError, add_station, remove_station, set_enabled
from tests.conftest import EXAMPLE_SITE

HYDRO = (EXAMPLE_SITE / "stations" / "hydro.yaml").read_text("utf-8")
BEN_VAN: dict[str, Any] = {
    "id": "ben_van",
    "name": "Bến Văn",
    "kind": "hydro",
    "district": "Hương Trà",
    "source": {"profile": "radar_level_mm", "connection": {"host": "10.20.1.11", "port": 502}},
}
TWO = """# two gauges
stations:
  - id: a   # the first
    name: A
    kind: hydro
    district: x
    source: {profile: p, connection: {host: h}}

  # the second, on the same logger
  - id: b
    name: B
    kind: hydro
    district: x
    source: {profile: p, connection: {host: h}, unit: 2}
"""


def ids(text: str) -> list[str]:
    return [s["id"] for s in yaml.safe_load(text)["stations"]]


@pytest.mark.parametrize(
    ("text", "expected_ids"),
    [
        ("", ["ben_van"]),  # a new file
        ("# only a comment\n", ["ben_van"]),
        (TWO, ["a", "b", "ben_van"]),
        (TWO.rstrip("\n"), ["a", "b", "ben_van"]),  # no newline at the end
        (TWO + "\n\n# trailing remark\n", ["a", "b", "ben_van"]),
        ("stations:\n- id: a\n  name: A\n", ["a", "ben_van"]),  # PyYAML's own indentation
        (HYDRO, ["kim_long", "phu_oc", "ben_van"]),
        ("stations:\n  - id: a\nother: 1\n", ["a", "ben_van"]),  # a key after the list
    ],
)
def test_add_station_appends_to_the_list_and_keeps_the_rest(
    text: str, expected_ids: list[str]
) -> None:
    after = add_station(text, BEN_VAN)
    assert ids(after) == expected_ids
    assert yaml.safe_load(after)["stations"][-1] == BEN_VAN
    for line in text.splitlines():
        assert line in after  # nothing written by a person is lost


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("stations: [{id: a}]\n", "inline"),
        ("stations: 3\n", "not a list"),
        ("- a\n", "mapping"),
        ("name: x\n", "no stations"),
        ("stations:\n  - id: ben_van\n", "already"),
        ("stations: [\n", "not valid YAML"),
    ],
)
def test_add_station_refuses_what_it_cannot_edit(text: str, problem: str) -> None:
    with pytest.raises(SiteEditError, match=problem):
        add_station(text, BEN_VAN)


@pytest.mark.parametrize("station", ["a", "b"])
def test_remove_station_takes_only_its_lines(station: str) -> None:
    after = remove_station(TWO, station)
    assert ids(after) == [s for s in ("a", "b") if s != station]
    assert after.startswith("# two gauges\nstations:\n")
    # The comment above b belongs to b's neighbourhood; a's own comment goes with a.
    assert ("# the first" in after) == (station != "a")


def test_add_then_remove_is_the_file_as_it_was() -> None:
    for text in (TWO, HYDRO):
        assert remove_station(add_station(text, BEN_VAN), "ben_van") == text


@pytest.mark.parametrize("text", [TWO, HYDRO])
def test_disable_then_enable_is_the_file_as_it_was(text: str) -> None:
    station = ids(text)[-1]
    disabled = set_enabled(text, station, False)
    entries = yaml.safe_load(disabled)["stations"]
    assert [e.get("enabled", True) for e in entries] == [True] * (len(entries) - 1) + [False]
    assert set_enabled(disabled, station, False) == disabled  # already disabled
    assert set_enabled(disabled, station, True) == text
    assert set_enabled(text, station, True) == text


def test_an_unknown_station_is_named() -> None:
    with pytest.raises(SiteEditError, match="no station 'zz'"):
        remove_station(TWO, "zz")


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@given(name=names, district=names, port=st.integers(1, 65535), unit=st.integers(0, 247))
def test_any_station_written_reads_back_the_same(
    name: str, district: str, port: int, unit: int
) -> None:
    entry = {
        **BEN_VAN,
        "name": name,
        "district": district,
        "source": {"profile": "p", "connection": {"host": "h", "port": port}, "unit": unit},
    }
    after = add_station(TWO, entry)
    assert yaml.safe_load(after)["stations"][-1] == entry
    assert remove_station(after, "ben_van") == TWO
