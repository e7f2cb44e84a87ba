from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.schema import StationInfo
from collector.store import Flags
from collector.store.sqlite import SqliteStore
from gateway.model import DeviceStatus, Quality, Reading

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def level(minute: int, value: float, quality: Quality = Quality.GOOD) -> Reading:
    return Reading(
        "kim_long",
        "water_level",
        value,
        "m",
        T0 + timedelta(minutes=minute),
        DeviceStatus.MEASURING,
        quality,
        "" if quality is Quality.GOOD else "range",
    )


def test_write_latest_and_range(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3", {"kim_long": StationInfo("hydro", "Phú Xuân")})
    store.write([level(m, round(1.0 + m / 100, 2)) for m in range(60)])
    store.write(
        [
            Reading(
                "kim_long", "station_online", 1.0, "bool", T0, DeviceStatus.MEASURING, Quality.GOOD
            )
        ]
    )
    latest = {r.param: r for r in store.latest("kim_long")}
    assert latest["water_level"].value == 1.59
    assert latest["water_level"].ts == T0 + timedelta(minutes=59)
    assert latest["station_online"].value == 1.0
    found = store.range(
        "kim_long", "water_level", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    )
    assert [r.ts.minute for r in found] == list(range(10, 20))  # end excluded
    assert (
        store.range("kim_long", "water_level", T0, T0 + timedelta(hours=1), limit=5)[-1].value
        == 1.04
    )
    assert store.stations() == ["kim_long"]
    store.close()


def test_a_point_written_twice_is_stored_once_with_the_last_value(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3")
    store.write([level(0, 1.0), level(1, 1.1)])
    store.write([level(1, 1.2), level(2, 1.3)])  # at-least-once delivery resends minute 1
    assert store.count() == 3
    assert [
        r.value for r in store.range("kim_long", "water_level", T0, T0 + timedelta(hours=1))
    ] == [1.0, 1.2, 1.3]
    store.close()


def test_flags_nan_and_millisecond_timestamps_survive(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3")
    ts = datetime(2026, 11, 22, 16, 40, 0, 123000, tzinfo=UTC)
    store.write(
        [
            Reading(
                "kim_long",
                "water_level",
                math.nan,
                "m",
                ts,
                DeviceStatus.ERROR,
                Quality.BAD,
                "device_error",
            ),
        ]
    )
    (back,) = store.latest("kim_long")
    assert math.isnan(back.value)
    assert (back.status, back.quality, back.reason, back.ts) == (
        DeviceStatus.ERROR,
        Quality.BAD,
        "device_error",
        ts,
    )
    store.close()


def test_series_carry_the_schema_tags_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    store = SqliteStore(path, {"kim_long": StationInfo("hydro", "Phú Xuân")})
    store.write([level(0, 1.0)])
    store.close()
    reopened = SqliteStore(path)
    reopened.write([level(1, 1.1)])
    assert reopened.count() == 2
    reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = db.execute(
            "SELECT station, param, unit, kind, district, derived FROM series"
        ).fetchall()
    assert rows == [("kim_long", "water_level", "m", "hydro", "Phú Xuân", 0)]


def test_flags_beside_the_readings_override_their_own(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3")
    store.write([level(0, 1.0), level(1, 9.0)], Flags([0, 2], ["", "range"]))
    found = store.range("kim_long", "water_level", T0, T0 + timedelta(hours=1))
    assert [(r.quality, r.reason) for r in found] == [(Quality.GOOD, ""), (Quality.BAD, "range")]
    with pytest.raises(ValueError, match="beside 2 readings"):
        store.write([level(2, 1.0), level(3, 1.0)], Flags([0], [""]))
    store.close()


def test_prune_deletes_the_points_older_than_the_cutoff(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3")
    store.write([level(m, 1.0) for m in range(10)])
    store.write(
        [Reading("bach_ma", "pm25", 12.0, "µg/m³", T0 + timedelta(minutes=m)) for m in range(10)]
    )
    assert store.prune(T0 + timedelta(minutes=4)) == 8
    assert store.count() == 12
    assert store.range("kim_long", "water_level", T0, T0 + timedelta(hours=1))[
        0
    ].ts == T0 + timedelta(minutes=4)
    store.close()


def test_retention_days_prunes_when_writing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.sqlite3", retention_days=30)
    now = datetime.now(UTC).replace(microsecond=0)
    old = Reading("kim_long", "water_level", 1.0, "m", now - timedelta(days=31))
    store.write([old, Reading("kim_long", "water_level", 1.1, "m", now)])
    assert [
        r.value
        for r in store.range(
            "kim_long", "water_level", now - timedelta(days=40), now + timedelta(seconds=1)
        )
    ] == [1.1]
    store.close()


def test_derived_series_are_marked(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    store = SqliteStore(path)
    store.write([level(0, 1.0), Reading("kim_long", "flood_level", 2.0, "", T0)])
    store.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT param, derived FROM series ORDER BY param").fetchall()
    assert rows == [("flood_level", 1), ("water_level", 0)]
