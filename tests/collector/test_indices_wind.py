"""Cấp gió of sustained wind and gusts, and storm category names (Decision 18/2021/QĐ-TTg)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.indices.wind import (
    CapGio,
    StormCategory,
    cap_gio,
    storm_category,
    storm_category_of_speed,
    wind_text,
)

# The Beaufort table of docs/indices.md: (cấp, lowest m/s, highest m/s as printed).
TABLE = [
    (0, 0.0, 0.2),
    (1, 0.3, 1.5),
    (2, 1.6, 3.3),
    (3, 3.4, 5.4),
    (4, 5.5, 7.9),
    (5, 8.0, 10.7),
    (6, 10.8, 13.8),
    (7, 13.9, 17.1),
    (8, 17.2, 20.7),
    (9, 20.8, 24.4),
    (10, 24.5, 28.4),
    (11, 28.5, 32.6),
    (12, 32.7, 36.9),
    (13, 37.0, 41.4),
    (14, 41.5, 46.1),
    (15, 46.2, 50.9),
    (16, 51.0, 56.0),
    (17, 56.1, 61.2),
]


@pytest.mark.parametrize(("level", "low", "high"), TABLE)
def test_both_ends_of_every_level(level: int, low: float, high: float) -> None:
    assert cap_gio(low) == CapGio(level)
    assert cap_gio(high) == CapGio(level)


@pytest.mark.parametrize(
    ("speed", "level"),
    [
        (0.29, 0),  # "< 0.3"
        (1.55, 1),  # between the printed 1.5 and 1.6: a level runs up to the next one's start
        (17.15, 7),
        (17.19, 7),
        (32.65, 11),
        (56.05, 16),
    ],
)
def test_between_the_printed_bounds(speed: float, level: int) -> None:
    result = cap_gio(speed)
    assert result is not None
    assert result.level == level


@pytest.mark.parametrize("speed", [61.21, 70.0, 90.0])
def test_above_level_17(speed: float) -> None:
    result = cap_gio(speed)
    assert result == CapGio(17, above_scale=True)
    assert result is not None
    assert result.label == "trên cấp 17"
    assert result.gust_label == "giật trên cấp 17"


@pytest.mark.parametrize("speed", [None, math.nan, -0.1])
def test_missing_or_negative_speed_has_no_level(speed: float | None) -> None:
    assert cap_gio(speed) is None


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100))
def test_cap_gio_is_monotone(a: float, b: float) -> None:
    low, high = cap_gio(min(a, b)), cap_gio(max(a, b))
    assert low is not None
    assert high is not None
    assert low.level <= high.level


def test_labels_of_sustained_wind_and_gusts() -> None:
    level_8 = cap_gio(18.0)
    assert level_8 is not None
    assert level_8.label == "cấp 8"
    assert level_8.gust_label == "giật cấp 8"
    assert wind_text(18.0, 26.0) == "cấp 8, giật cấp 10"
    assert wind_text(18.0) == "cấp 8"
    assert wind_text(None, 26.0) is None


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (0, None),
        (5, None),
        (6, "áp thấp nhiệt đới"),
        (7, "áp thấp nhiệt đới"),
        (8, "bão"),
        (9, "bão"),
        (10, "bão mạnh"),
        (11, "bão mạnh"),
        (12, "bão rất mạnh"),
        (15, "bão rất mạnh"),
        (16, "siêu bão"),
        (17, "siêu bão"),
    ],
)
def test_storm_category_names(level: int, name: str | None) -> None:
    category = storm_category(level)
    assert (category.label if category else None) == name


def test_storm_category_above_level_17_is_a_super_typhoon() -> None:
    assert storm_category(CapGio(17, above_scale=True)) is StormCategory.SUPER_TYPHOON
    assert storm_category_of_speed(65.0) is StormCategory.SUPER_TYPHOON
    assert storm_category_of_speed(13.0) is StormCategory.TROPICAL_DEPRESSION
    assert storm_category_of_speed(None) is None


def test_storm_category_is_named_by_sustained_wind_not_gusts() -> None:
    # Yagi, 5 Sep 2024 forecast: "cấp 13, giật cấp 16" is bão rất mạnh, not siêu bão.
    sustained, gust = 39.0, 53.0
    assert wind_text(sustained, gust) == "cấp 13, giật cấp 16"
    assert storm_category_of_speed(sustained) is StormCategory.VERY_STRONG_STORM


def test_storm_category_table_is_configurable() -> None:
    table = ((6, StormCategory.TROPICAL_DEPRESSION), (8, StormCategory.STORM))
    assert storm_category(16, table) is StormCategory.STORM
    assert storm_category(None) is None
