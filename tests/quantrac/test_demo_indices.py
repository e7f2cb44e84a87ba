"""The demo (issue 17): a fresh data folder per run, and the indices its boards show kept as
series the API serves — VN_WQI included, now that Vạn Niên measures enough groups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.model import Quality, Reading
from quantrac.board import INSTANTANEOUS, index_rows, instant_indices
from quantrac.demo import demo_data_dir
from quantrac.scenario import VAN_NIEN, hue_air
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

SITE = load_site(EXAMPLE_SITE)
T0 = datetime(2026, 11, 22, 16, 40, 5, tzinfo=UTC)  # 23:40:05 in Huế


def test_each_run_gets_a_fresh_folder_unless_keep_data(tmp_path: Path) -> None:
    fresh = demo_data_dir(tmp_path, False, T0)
    assert fresh == tmp_path / "demo-20261122-234005"
    fresh.mkdir()
    assert demo_data_dir(tmp_path, False, T0) == tmp_path / "demo-20261122-234005-2"
    assert demo_data_dir(tmp_path, True, T0) == tmp_path


def latest(station: str, values: dict[str, float]) -> list[Reading]:
    units = {spec.param: spec.unit for spec in SITE.profiles["water_station_wqi_cdab"].registers}
    return [
        Reading(station, param, value, units.get(param, ""), T0, quality=Quality.GOOD)
        for param, value in values.items()
    ]


@pytest.mark.parametrize(("elapsed_s", "at_most"), [(0.0, 100), (100.0, 75)])
def test_van_nien_measures_enough_for_vn_wqi(elapsed_s: float, at_most: int) -> None:
    station = SITE.stations["van_nien"]
    readings = latest("van_nien", dict(VAN_NIEN.values(elapsed_s)))
    (wqi,) = instant_indices(station, readings)
    assert wqi.param == "vn_wqi"
    assert wqi.reason == INSTANTANEOUS
    assert wqi.ts == T0
    assert 0 < wqi.value <= at_most  # the flood's coliform and COD lower it
    (row,) = index_rows(station, readings)
    assert row[0] == "VN_WQI tức thời"
    assert row[1] == str(int(wqi.value))


def test_the_air_stations_aqi_is_a_series_as_the_board_shows_it() -> None:
    station = SITE.stations["hue_air"]
    readings = [Reading("hue_air", p, v, "µg/m³", T0, quality=Quality.GOOD)
                for p, v in hue_air(60.0).items()]  # fmt: skip
    (aqi,) = instant_indices(station, readings)
    assert aqi.param == "vn_aqi_h"
    assert aqi.unit == "AQI"
    shown = next(row for row in index_rows(station, readings) if row[0] == "VN_AQI tức thời")
    assert shown[1] == str(int(aqi.value))


def test_a_bad_value_is_left_out_of_the_index() -> None:
    station = SITE.stations["van_nien"]
    readings = latest("van_nien", dict(VAN_NIEN.values(0.0)))
    bad = [r.flagged(Quality.BAD, "range") if r.param == "coliform" else r for r in readings]
    # Without coliform only groups I and IV remain: no WQI (at least 3 of 5 groups).
    assert instant_indices(station, bad) == []
