"""The line-protocol renderer, as tables: reading (+ flags) → the exact line."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from collector.schema import StationInfo
from collector.store import Flags
from collector.store.lines import (
    LineRenderer,
    epoch_ms,
    escape_string,
    escape_tag,
    from_epoch_ms,
    render_fields,
    series_key,
)
from gateway.model import DeviceStatus, Quality, Reading

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
T0_MS = 1795363200000
HUE = StationInfo("hydro", "Thành phố Huế")
KIM_LONG = "reading,district=Thành\\ phố\\ Huế,kind=hydro,param=water_level,station=kim_long,unit=m"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("kim_long", "kim_long"),
        ("Thành phố Huế", "Thành\\ phố\\ Huế"),
        ("a,b", "a\\,b"),
        ("k=v", "k\\=v"),
        ("a, b=c", "a\\,\\ b\\=c"),
        ('say "hi"', 'say\\ "hi"'),  # quotes need no escape in tags
        ("two\nlines", "two\\ lines"),  # no newline in a tag: an escaped space
        ("C:\\data", "C:\\data"),  # backslashes stay (1.x and VictoriaMetrics read them as is)
        ("Phường Vĩnh Ninh", "Phường\\ Vĩnh\\ Ninh"),
    ],
)
def test_tag_values_escape_comma_equals_and_space(text: str, escaped: str) -> None:
    assert escape_tag(text) == escaped


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("range", "range"),
        ("mất tín hiệu", "mất tín hiệu"),
        ('say "hi"', 'say \\"hi\\"'),
        ("a\\b", "a\\\\b"),
        ("one\ntwo", "one two"),
        ("a,b=c d", "a,b=c d"),  # nothing else needs escaping inside quotes
    ],
)
def test_string_fields_escape_quote_and_backslash(text: str, escaped: str) -> None:
    assert escape_string(text) == escaped


@pytest.mark.parametrize(
    ("tags", "key"),
    [
        ({"station": "s", "param": "p"}, "reading,param=p,station=s"),
        ({"station": "s", "param": "p", "district": ""}, "reading,param=p,station=s"),
        ({"station": "a b", "derived": "true"}, "reading,derived=true,station=a\\ b"),
    ],
)
def test_series_key_sorts_tags_and_leaves_empty_ones_out(tags: dict[str, str], key: str) -> None:
    assert series_key("reading", tags) == key


@pytest.mark.parametrize(
    ("value", "quality", "status", "reason", "fields"),
    [
        (1.59, 0, 0, "", "value=1.59,quality=0i,status=0i"),
        (2, 0, 0, "", "value=2.0,quality=0i,status=0i"),  # always a float: no type conflict
        (-0.5, 1, 1, "rate", 'value=-0.5,quality=1i,status=1i,reason="rate"'),
        (1e-7, 0, 0, "", "value=1e-07,quality=0i,status=0i"),
        (1e21, 0, 0, "", "value=1e+21,quality=0i,status=0i"),
        (math.nan, 2, 2, "status", 'quality=2i,status=2i,reason="status"'),  # NaN: no value
        (math.inf, 2, 0, "range", 'quality=2i,status=0i,reason="range"'),
        (0.1 + 0.2, 9, 0, "", "value=0.30000000000000004,quality=9i,status=0i"),  # exact
    ],
)
def test_fields(value: float, quality: int, status: int, reason: str, fields: str) -> None:
    assert render_fields(value, quality, status, reason) == fields


def reading(
    value: float = 1.59,
    *,
    station: str = "kim_long",
    param: str = "water_level",
    unit: str = "m",
    ts: datetime = T0,
    status: DeviceStatus = DeviceStatus.MEASURING,
    quality: Quality = Quality.GOOD,
    reason: str = "",
) -> Reading:
    return Reading(station, param, value, unit, ts, status, quality, reason)


@pytest.mark.parametrize(
    ("given", "line"),
    [
        (reading(), f"{KIM_LONG} value=1.59,quality=0i,status=0i {T0_MS}"),
        (
            reading(math.nan, status=DeviceStatus.ERROR, quality=Quality.BAD, reason="status"),
            f'{KIM_LONG} quality=2i,status=2i,reason="status" {T0_MS}',
        ),
        (
            reading(ts=T0 + timedelta(microseconds=123_999)),  # ms precision, truncated
            f"{KIM_LONG} value=1.59,quality=0i,status=0i {T0_MS + 123}",
        ),
        (
            reading(42.0, param="vn_aqi_h", unit=""),  # derived; no unit tag when empty
            "reading,derived=true,district=Thành\\ phố\\ Huế,kind=hydro,param=vn_aqi_h,"
            f"station=kim_long value=42.0,quality=0i,status=0i {T0_MS}",
        ),
        (
            reading(3.0, station="trạm mới, bờ=trái", param="pm25", unit="µg/m³"),  # unknown
            "reading,kind=unknown,param=pm25,station=trạm\\ mới\\,\\ bờ\\=trái,unit=µg/m³"
            f" value=3.0,quality=0i,status=0i {T0_MS}",
        ),
        (
            reading(quality=Quality.SUSPECT, reason='lệch "nhiều"'),
            f'{KIM_LONG} value=1.59,quality=1i,status=0i,reason="lệch \\"nhiều\\"" {T0_MS}',
        ),
    ],
)
def test_readings_render_as_lines(given: Reading, line: str) -> None:
    renderer = LineRenderer({"kim_long": HUE})
    assert renderer.render([given]) == [line]


def test_flags_override_quality_and_reason() -> None:
    renderer = LineRenderer({"kim_long": HUE})
    readings = [reading(1.0, reason="old"), reading(2.0, ts=T0 + timedelta(minutes=1))]
    lines = renderer.render(readings, Flags([2, 0], ["range", ""]))
    assert lines == [
        f'{KIM_LONG} value=1.0,quality=2i,status=0i,reason="range" {T0_MS}',
        f"{KIM_LONG} value=2.0,quality=0i,status=0i {T0_MS + 60_000}",
    ]


def test_flags_must_be_parallel_to_the_readings() -> None:
    with pytest.raises(ValueError, match="beside 2 readings"):
        LineRenderer().render([reading(), reading()], Flags([0], [""]))


def test_without_reason_for_stores_that_drop_strings() -> None:
    renderer = LineRenderer({"kim_long": HUE}, with_reason=False)
    line = renderer.render([reading(quality=Quality.BAD, reason="range")])[0]
    assert line == f"{KIM_LONG} value=1.59,quality=2i,status=0i {T0_MS}"


def test_derived_params_can_be_named() -> None:
    renderer = LineRenderer(derived_params={"water_level"})
    assert ",derived=true," in renderer.render([reading()])[0]
    assert "derived" not in renderer.render([reading(param="vn_aqi_h")])[0]


@pytest.mark.parametrize(
    ("ts", "ms"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (T0, T0_MS),
        (datetime(2026, 11, 22, 16, 0, 0, 1000, tzinfo=UTC), T0_MS + 1),
        (datetime(2038, 1, 19, 3, 14, 8, 999000, tzinfo=UTC), 2147483648999),
    ],
)
def test_epoch_milliseconds_are_exact_both_ways(ts: datetime, ms: int) -> None:
    assert epoch_ms(ts) == ms
    assert from_epoch_ms(ms) == ts
