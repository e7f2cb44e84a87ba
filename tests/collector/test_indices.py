"""Flood alarm levels from a gauge's BĐ I/II/III (Decision 05/2020/QĐ-TTg, docs/indices.md)."""

from __future__ import annotations

import math

import pytest

from collector.indices import flood, flood_alarm

KIM_LONG = (1.0, 2.0, 3.5)


@pytest.mark.parametrize(
    ("level", "alarm", "margin", "label"),
    [
        (0.6, 0, -0.4, "dưới BĐ I"),
        (0.999, 0, -0.001, "dưới BĐ I"),
        (1.0, 1, 0.0, "BĐ I"),  # at the level counts as reached
        (1.99, 1, 0.99, "BĐ I"),
        (2.0, 2, 0.0, "BĐ II"),
        (2.25, 2, 0.25, "BĐ II"),
        (3.5, 3, 0.0, "BĐ III"),
        (4.1, 3, 0.6, "BĐ III"),
    ],
)
def test_flood_alarm_levels_of_kim_long(
    level: float, alarm: int, margin: float, label: str
) -> None:
    result = flood_alarm(level, KIM_LONG)
    assert result is not None
    assert result.level == alarm
    assert result.margin_m == pytest.approx(margin)
    assert result.label == label


def test_flood_alarm_of_a_missing_value_is_none() -> None:
    assert flood_alarm(math.nan, KIM_LONG) is None
    assert flood_alarm(None, KIM_LONG) is None


@pytest.mark.parametrize(
    ("level", "description"),
    [
        (0.6, "dưới BĐ I 0.40 m"),
        (1.0, "ở mức BĐ I"),
        (2.25, "trên BĐ II 0.25 m"),
        (4.1, "trên BĐ III 0.60 m"),
    ],
)
def test_flood_alarm_description(level: float, description: str) -> None:
    result = flood_alarm(level, KIM_LONG)
    assert result is not None
    assert result.description == description


def test_flood_alarm_is_the_same_function_in_the_flood_module() -> None:
    assert flood_alarm is flood.flood_alarm
