"""Gateways partitioned by station: ``quantrac gateway --stations … --gateway-id …``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantrac.partition import chosen_stations, gateway_partition
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.quantrac.test_cli import QUANTRAC

IDS = ["kim_long", "phu_oc", "hue_air", "van_nien", "nam_dong", "hue_weather", "xlnt_phu_bai"]


@pytest.mark.parametrize(
    ("spec", "chosen"),
    [
        ("kim_long", ["kim_long"]),
        ("phu_oc,kim_long", ["kim_long", "phu_oc"]),  # the site's order, not the spec's
        (" kim_long , nam_dong ,", ["kim_long", "nam_dong"]),
        ("hue_*", ["hue_air", "hue_weather"]),
        ("*", IDS),
        ("kim_long,k*", ["kim_long"]),  # named twice: once
        ("*_phu_*,van_nien", ["van_nien", "xlnt_phu_bai"]),
    ],
)
def test_stations_chosen_by_ids_and_patterns(spec: str, chosen: list[str]) -> None:
    assert chosen_stations(IDS, spec) == chosen


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kim_lung", "no station of the site is 'kim_lung'"),
        ("kim_long,hue_?x", "no station of the site is 'hue_?x'"),
        ("", "names no station"),
        (" , ", "names no station"),
        ("KIM_LONG", "no station of the site is 'KIM_LONG'"),  # ids are case-sensitive
    ],
)
def test_a_part_that_names_no_station_is_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        chosen_stations(IDS, spec)


@given(st.lists(st.sampled_from(IDS), min_size=1, unique=True))
def test_any_split_of_the_ids_keeps_the_site_order(part: list[str]) -> None:
    chosen = chosen_stations(IDS, ",".join(part))
    assert chosen == [i for i in IDS if i in part]
    rest = [i for i in IDS if i not in part]
    if rest:  # the other gateway's part: together they are the site, each station once
        assert sorted(chosen + chosen_stations(IDS, ",".join(rest))) == sorted(IDS)


def test_the_partition_is_the_site_under_another_id() -> None:
    site = load_site(EXAMPLE_SITE)
    part = gateway_partition(site, "kim_long,phu_oc", "gw-hue-2")
    assert list(part.stations) == ["kim_long", "phu_oc"]
    assert part.settings.gateway_id == "gw-hue-2"
    assert part.settings.name == site.settings.name
    assert part.profile_of(part.stations["kim_long"]) == site.profile_of(site.stations["kim_long"])
    # The site itself is left as it was: the collectors of the same process tree judge it whole.
    assert site.settings.gateway_id == "gw-hue-1"
    assert len(site.stations) == 7
    assert gateway_partition(site, None, None) == site


@pytest.mark.parametrize("gateway_id", ["gw/hue", "gw hue", "", "GW-HUE", "gw+1", "#"])
def test_a_gateway_id_that_cannot_name_a_topic_is_refused(gateway_id: str) -> None:
    with pytest.raises(ValueError, match="--gateway-id"):
        gateway_partition(load_site(EXAMPLE_SITE), None, gateway_id)


def test_the_gateway_stops_at_start_on_a_station_it_does_not_know(tmp_path: Path) -> None:
    result = subprocess.run(
        [*QUANTRAC, "gateway", str(EXAMPLE_SITE), "--stations", "kim_long,phu_oc_x",
         "--data-dir", str(tmp_path), "--broker", "mqtt://127.0.0.1:1"],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no station of the site is 'phu_oc_x'" in result.stderr, result.stderr
    assert "(the site has hue_air, kim_long, phu_oc" in result.stderr  # what it could be
    assert list(tmp_path.iterdir()) == []  # no outbox made for a gateway that never ran
