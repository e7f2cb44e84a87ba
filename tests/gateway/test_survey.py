"""Pure technician decoding: every layout side by side, probe verdicts."""

from __future__ import annotations

import math

import pytest

from gateway.modbus.survey import probe_rows, register_views
from gateway.profiles import RegisterTable, default_profiles_dir, load_profile
from gateway.registers import DataType, Order, encode

RADAR = load_profile(default_profiles_dir() / "radar_level_mm.yaml")


@pytest.mark.parametrize(
    ("layout", "byte_order", "word_order"),
    [
        ("ABCD", Order.BIG, Order.BIG),
        ("CDAB", Order.BIG, Order.LITTLE),
        ("BADC", Order.LITTLE, Order.BIG),
        ("DCBA", Order.LITTLE, Order.LITTLE),
    ],
)
def test_a_float_shows_up_in_the_column_of_its_layout(
    layout: str, byte_order: Order, word_order: Order
) -> None:
    words = encode(7.25, DataType.FLOAT32, byte_order, word_order)
    first = register_views(100, words)[0]
    assert first.address == 100
    assert first.float32[layout] == 7.25
    others = [v for k, v in first.float32.items() if k != layout]
    assert 7.25 not in others
    assert register_views(100, words)[1].float32[layout] is None  # no second register after it


def test_register_view_integers() -> None:
    views = register_views(0, [0xFFFF, 0xFFFE])
    assert (views[0].uint16, views[0].int16) == (65535, -1)
    assert views[0].int32["ABCD"] == -2
    assert views[0].uint32["CDAB"] == 0xFFFEFFFF


def _radar_words(level_raw: int, status: int = 0) -> dict[tuple[RegisterTable, int], int]:
    return {("holding", 0): level_raw & 0xFFFF, ("holding", 1): status}


@pytest.mark.parametrize(
    ("raw", "value", "verdict"),
    [
        (2250, 2.25, "ok"),
        (-500, -0.5, "ok"),
        (32767, None, "no value (sentinel)"),
        (-12000, -12.0, "out of limits"),
    ],
)
def test_probe_rows_judge_each_register(raw: int, value: float | None, verdict: str) -> None:
    (row,) = probe_rows(RADAR, _radar_words(raw))
    assert row.param == "water_level"
    assert row.register == "holding 0 int16 ABCD"
    assert row.raw_words == (raw & 0xFFFF,)
    assert row.verdict == verdict
    if value is None:
        assert row.value is None
    else:
        assert row.value is not None
        assert math.isclose(row.value, value)
    assert row.limits == (-10.0, 60.0)
