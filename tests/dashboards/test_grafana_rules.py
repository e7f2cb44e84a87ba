"""Grafana's interpolation as the tests do it, and the grid layout: tables and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from grafana_foundation_sdk.models import dashboard
from hypothesis import given
from hypothesis import strategies as st

from quantrac.dashboards.boards.shell import custom_values
from quantrac.dashboards.grafana import (
    TimeRange,
    Variable,
    align_range,
    custom_options,
    format_ms,
    influx_regex_escape,
    interpolate,
    interval_ms,
    prom_regex_escape,
    prometheus_step_s,
    round_interval,
)
from quantrac.dashboards.layout import GRID_COLUMNS, place

START = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 00:00 on 5 December in Huế
STATIONS = Variable("station", ("kim_long", "phu_oc"), multi=True, include_all=True)
DISTRICTS = Variable("district", ("Phú Xuân", "Hương Trà"), multi=True, include_all=True)


@pytest.mark.parametrize(
    ("ms", "step"),
    [(10, 10), (14, 10), (20, 20), (1_499, 1_000), (60_000, 60_000), (129_600, 120_000),
     (400_000, 300_000), (3_000_000, 3_600_000), (86_400_000, 86_400_000),
     (10**12, 31_536_000_000)],
)  # fmt: skip
def test_round_interval_is_grafanas(ms: float, step: int) -> None:
    assert round_interval(ms) == step


@pytest.mark.parametrize(
    ("ms", "text"),
    [(60_000, "1m"), (120_000, "2m"), (86_400_000, "1d"), (3_600_000, "1h"), (1_500, "1500ms"),
     (90_000, "90s"), (604_800_000, "1w")],
)  # fmt: skip
def test_format_ms(ms: int, text: str) -> None:
    assert format_ms(ms) == text


def test_interval_of_a_range_never_below_the_minimum() -> None:
    two_days = TimeRange(START, START + timedelta(days=2))
    assert interval_ms(two_days) == 120_000  # 172.8 s a point → 2m
    assert interval_ms(two_days, "5m") == 300_000
    hour = TimeRange(START, START + timedelta(hours=1))
    assert interval_ms(hour, "1m") == 60_000  # 3.6 s a point, but stations poll each minute


def test_influxql_as_grafana_sends_it() -> None:
    span = TimeRange(START, START + timedelta(hours=6))
    query = (
        'SELECT mean("value") FROM "reading" WHERE "district" =~ /^$district$/ AND '
        '"station" =~ /^$station$/ AND $timeFilter AND time > ${__to}ms - 15m '
        "GROUP BY time($__interval)"
    )
    sent = interpolate(
        query, language="influxql", span=span, interval=60_000,
        variables={"station": STATIONS, "district": DISTRICTS},
        selection={"station": ["kim_long"]},
    )  # fmt: skip
    assert sent == (
        'SELECT mean("value") FROM "reading" WHERE "district" =~ /^(Phú Xuân|Hương Trà)$/ AND '
        f'"station" =~ /^kim_long$/ AND time >= {span.from_ms}ms and time <= {span.to_ms}ms '
        f"AND time > {span.to_ms}ms - 15m GROUP BY time(1m)"
    )


def test_promql_as_grafana_sends_it() -> None:
    span = TimeRange(START, START + timedelta(hours=2))
    sent = interpolate(
        'rate(x{station=~"$station"}[$__rate_interval]) and last_over_time(y[$__range])',
        language="promql", span=span, interval=60_000, variables={"station": STATIONS},
    )  # fmt: skip
    assert sent == 'rate(x{station=~"(kim_long|phu_oc)"}[4m]) and last_over_time(y[7200s])'


@pytest.mark.parametrize(
    ("value", "influx", "prom"),
    [("kim_long", "kim_long", "kim_long"), ("a.b", r"a\.b", r"a\\.b"), ("x/y", r"x\/y", "x/y"),
     ("Thành phố Huế", "Thành phố Huế", "Thành phố Huế"), ("(1)", r"\(1\)", r"\\(1\\)")],
)  # fmt: skip
def test_regex_escapes_of_a_multi_value(value: str, influx: str, prom: str) -> None:
    assert influx_regex_escape(value) == influx
    assert prom_regex_escape(value) == prom


def test_a_one_day_step_is_aligned_to_local_midnight() -> None:
    span = TimeRange(START + timedelta(hours=5), START + timedelta(days=2, hours=3))
    step = prometheus_step_s(span, 86_400_000)
    start, end = align_range(span, step, 7 * 3600)
    assert step == 86_400
    assert (start, end) == (int(START.timestamp()), int((START + timedelta(days=2)).timestamp()))


names = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":\\"),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
ids = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@given(st.lists(st.tuples(names, ids), min_size=1, max_size=8))
def test_custom_variable_values_read_back(pairs: list[tuple[str, str]]) -> None:
    """A station's name may hold a comma ("Trạm A, B"): the values still come back whole."""
    assert custom_options(custom_values(pairs)) == tuple(value for _, value in pairs)


sizes = st.lists(
    st.tuples(st.integers(1, GRID_COLUMNS), st.integers(1, 20)), min_size=1, max_size=25
)


@given(sizes)
def test_layout_keeps_every_panel_on_the_grid_and_apart(shape: list[tuple[int, int]]) -> None:
    panels = [
        dashboard.Panel(title=str(i), grid_pos=dashboard.GridPos(w=w, h=h))
        for i, (w, h) in enumerate(shape)
    ]
    placed = place(panels)
    cells: set[tuple[int, int]] = set()
    for panel, (w, h) in zip(placed, shape, strict=True):
        grid = panel.grid_pos
        assert grid is not None
        assert (grid.w, grid.h) == (w, h)
        assert grid.x >= 0
        assert grid.x + grid.w <= GRID_COLUMNS
        mine = {(x, y) for x in range(grid.x, grid.x + w) for y in range(grid.y, grid.y + h)}
        assert not mine & cells
        cells |= mine
    assert [p.id_val for p in placed] == list(range(1, len(shape) + 1))


def test_layout_refuses_a_panel_wider_than_the_grid() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        place([dashboard.Panel(title="x", grid_pos=dashboard.GridPos(w=25, h=4))])
