"""One contract for every store: SQLite, InfluxDB 1.x (v1 mode, real influxd) and
VictoriaMetrics (v2 writes through influxdb-client, reads through its export API, real VM).

A store's documented capabilities (``keeps_reason``, ``replaces_points``) say where the
contract is weaker; everything else must hold everywhere.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.forward import ForwardingStore
from collector.schema import StationInfo
from collector.store import (
    Flags,
    ReadingStore,
    StoreRejected,
    StoreUnavailable,
    open_store,
)
from collector.store.influx import InfluxStore
from collector.store.lines import epoch_ms
from collector.store.sqlite import SqliteStore
from collector.store.victoria import VictoriaStore
from gateway.model import DeviceStatus, Quality, Reading
from tests.servers import Influxd, VictoriaMetrics, free_port

# Near now: VictoriaMetrics refuses points outside its retention (a month) or days ahead.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
KIM_LONG = "kim_long"
# A station id with what line protocol must escape, in a district with Vietnamese letters.
ODD = "trạm Kim Long, bờ=trái"
STATIONS = {
    KIM_LONG: StationInfo("hydro", "Phú Xuân"),
    ODD: StationInfo("hydro", "Thành phố Huế"),
    "bach_ma": StationInfo("air", "Phú Lộc"),
}


@dataclass
class Backend:
    name: str
    store: ReadingStore
    settle: Callable[[], None]  # make what was written readable (VictoriaMetrics buffers ~1 s)
    tags: Callable[[str, str], dict[str, str]]  # a series' tags, read from the store directly

    def write(self, readings: list[Reading], flags: Flags | None = None) -> None:
        self.store.write(readings, flags)
        self.settle()


def _sqlite_tags(path: Path) -> Callable[[str, str], dict[str, str]]:
    def tags(station: str, param: str) -> dict[str, str]:
        with sqlite3.connect(path) as db:
            kind, district, unit, derived = db.execute(
                "SELECT kind, district, unit, derived FROM series WHERE station = ? AND param = ?",
                (station, param),
            ).fetchone()
        found = {"station": station, "param": param, "kind": kind, "district": district}
        return {**found, "unit": unit, **({"derived": "true"} if derived else {})}

    return tags


def _influx_tags(server: Influxd) -> Callable[[str, str], dict[str, str]]:
    def tags(station: str, param: str) -> dict[str, str]:
        station_q = station.replace("'", "\\'")
        (series,) = server.query(
            f"SELECT * FROM reading WHERE station = '{station_q}' AND param = '{param}' LIMIT 1"
        )["results"][0]["series"]
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        keys = ("station", "param", "kind", "district", "unit", "derived")
        return {key: row[key] for key in keys if row.get(key) is not None}

    return tags


def _victoria_tags(server: VictoriaMetrics) -> Callable[[str, str], dict[str, str]]:
    def tags(station: str, param: str) -> dict[str, str]:
        # The export API itself, not the store: what VictoriaMetrics really keeps.
        (line,) = server.export(
            f'{{__name__="reading_quality",station="{station}",param="{param}"}}'
        )
        labels: dict[str, str] = line["metric"]
        return {key: value for key, value in labels.items() if key != "__name__"}

    return tags


@pytest.fixture(params=["sqlite", "influxdb", "victoriametrics", "forwarded-influxdb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "q.sqlite3"
        store = open_store(f"sqlite://{path}", STATIONS)
        assert isinstance(store, SqliteStore)
        yield Backend("sqlite", store, lambda: None, _sqlite_tags(path))
    elif request.param == "influxdb":
        influxd: Influxd = request.getfixturevalue("influxd")
        store = open_store(influxd.store_url, STATIONS)
        assert isinstance(store, InfluxStore)
        yield Backend("influxdb", store, lambda: None, _influx_tags(influxd))
    elif request.param == "forwarded-influxdb":
        # Through the durable queue: the same contract once the queue has drained.
        influxd = request.getfixturevalue("influxd")
        store = open_store(influxd.store_url, STATIONS, queue_path=tmp_path / "queue.sqlite3")
        assert isinstance(store, ForwardingStore)
        forward = store

        def drained() -> None:
            assert forward.flush(10), forward.health()

        yield Backend("forwarded-influxdb", store, drained, _influx_tags(influxd))
    else:
        vm: VictoriaMetrics = request.getfixturevalue("victoria_metrics")
        store = open_store(vm.store_url, STATIONS)
        assert isinstance(store, VictoriaStore)
        yield Backend("victoriametrics", store, vm.flush, _victoria_tags(vm))
    store.close()


def level(
    minute: float,
    value: float,
    *,
    station: str = KIM_LONG,
    param: str = "water_level",
    quality: Quality = Quality.GOOD,
    status: DeviceStatus = DeviceStatus.MEASURING,
    reason: str = "",
) -> Reading:
    unit = "m" if param == "water_level" else ""
    return Reading(
        station, param, value, unit, T0 + timedelta(minutes=minute), status, quality, reason
    )


def test_latest_is_the_newest_point_of_each_parameter(backend: Backend) -> None:
    backend.write([level(m, 1.0 + m / 100) for m in range(30)])
    backend.write([level(5, 0.0, param="station_online"), level(3, 1.0, param="station_online")])
    latest = backend.store.latest(KIM_LONG)
    assert [r.param for r in latest] == ["station_online", "water_level"]
    online, water = latest
    assert (water.station, water.value, water.unit, water.ts) == (
        KIM_LONG,
        1.29,
        "m",
        T0 + timedelta(minutes=29),
    )
    assert (online.value, online.ts) == (0.0, T0 + timedelta(minutes=5))
    assert backend.store.latest("nowhere") == []


def test_range_is_oldest_first_start_included_end_excluded(backend: Backend) -> None:
    points = [level(m, round(1.0 + m / 100, 2)) for m in range(60)]
    random.Random(7).shuffle(points)  # arrival order is not time order
    backend.write(points[:25])
    backend.write(points[25:])
    found = backend.store.range(
        KIM_LONG, "water_level", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)
    )
    assert [r.ts for r in found] == [T0 + timedelta(minutes=m) for m in range(10, 20)]
    assert [r.value for r in found] == [round(1.0 + m / 100, 2) for m in range(10, 20)]
    assert all(r.unit == "m" and r.station == KIM_LONG for r in found)
    first = backend.store.range(KIM_LONG, "water_level", T0, T0 + timedelta(hours=1), limit=5)
    assert [r.value for r in first] == [1.0, 1.01, 1.02, 1.03, 1.04]
    # Millisecond bounds: a point exactly at `end` is out, exactly at `start` is in.
    edge = T0 + timedelta(minutes=30)
    assert [
        r.ts
        for r in backend.store.range(
            KIM_LONG, "water_level", edge, edge + timedelta(milliseconds=1)
        )
    ] == [edge]
    assert (
        backend.store.range(KIM_LONG, "water_level", edge - timedelta(milliseconds=1), edge) == []
    )
    assert backend.store.range(KIM_LONG, "pm25", T0, T0 + timedelta(hours=1)) == []


def test_a_point_written_twice_is_one_point(backend: Backend) -> None:
    backend.write([level(0, 1.0), level(1, 1.1)])
    backend.write([level(1, 1.1), level(2, 1.3)])  # at-least-once delivery resends minute 1
    found = backend.store.range(KIM_LONG, "water_level", T0, T0 + timedelta(hours=1))
    assert [(r.ts.minute, r.value) for r in found] == [(0, 1.0), (1, 1.1), (2, 1.3)]
    backend.write([level(2, 1.4)])  # a corrected value for the same instant
    (point,) = backend.store.range(
        KIM_LONG, "water_level", T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)
    )
    if backend.store.replaces_points:
        assert point.value == 1.4
    else:
        assert point.value in (1.3, 1.4)


def test_nan_is_kept_as_no_value(backend: Backend) -> None:
    backend.write(
        [
            level(0, 1.0),
            level(1, math.nan, quality=Quality.BAD, status=DeviceStatus.ERROR, reason="status"),
        ]
    )
    (latest,) = backend.store.latest(KIM_LONG)
    assert math.isnan(latest.value)
    assert not latest.has_value
    assert (latest.ts, latest.quality, latest.status) == (
        T0 + timedelta(minutes=1),
        Quality.BAD,
        DeviceStatus.ERROR,
    )
    found = backend.store.range(KIM_LONG, "water_level", T0, T0 + timedelta(hours=1))
    assert [r.has_value for r in found] == [True, False]


def test_flags_override_and_quality_status_reason_round_trip(backend: Backend) -> None:
    statuses = [DeviceStatus.MEASURING, DeviceStatus.CALIBRATING, DeviceStatus.ERROR]
    readings = [  # as they arrive: unchecked, a stale reason that the flags replace
        level(m, 1.0 + m, status=status, quality=Quality.UNCHECKED, reason="stale")
        for m, status in enumerate(statuses)
    ]
    backend.write(readings, Flags([0, 1, 2], ["", "rate", 'trạng thái "lỗi", mã=2']))
    backend.write([level(3, 4.0, quality=Quality.SUSPECT, reason="flatline")])  # own flags
    found = backend.store.range(KIM_LONG, "water_level", T0, T0 + timedelta(hours=1))
    assert [r.quality for r in found] == [
        Quality.GOOD,
        Quality.SUSPECT,
        Quality.BAD,
        Quality.SUSPECT,
    ]
    assert [r.status for r in found] == [*statuses, DeviceStatus.MEASURING]
    reasons = ["", "rate", 'trạng thái "lỗi", mã=2', "flatline"]
    assert [r.reason for r in found] == (reasons if backend.store.keeps_reason else [""] * 4)


def test_vietnamese_spaces_commas_and_equals_in_tags(backend: Backend) -> None:
    backend.write([level(0, 2.5, station=ODD), level(0, 61.0, station=ODD, param="vn_aqi_h")])
    assert [r.value for r in backend.store.latest(ODD)] == [61.0, 2.5]
    (found,) = backend.store.range(ODD, "water_level", T0, T0 + timedelta(hours=1))
    assert (found.station, found.value) == (ODD, 2.5)
    assert ODD in backend.store.stations()
    assert backend.tags(ODD, "water_level") == {
        "station": ODD,
        "param": "water_level",
        "kind": "hydro",
        "district": "Thành phố Huế",
        "unit": "m",
    }
    derived = backend.tags(ODD, "vn_aqi_h")
    assert (derived["derived"], derived["district"]) == ("true", "Thành phố Huế")


def test_aggregation_windows_mean_the_usable_values(backend: Backend) -> None:
    points = [level(m, float(m)) for m in range(0, 60, 10)]  # hour 0: 0..50, mean 25
    points += [  # hour 1: BAD and value-less points do not count; the worst used is SUSPECT
        level(60, 10.0),
        level(70, 20.0, quality=Quality.SUSPECT, reason="rate"),
        level(80, 1000.0, quality=Quality.BAD, reason="range"),
        level(90, math.nan, quality=Quality.UNCHECKED),
        level(100, 30.0, status=DeviceStatus.CALIBRATING),
    ]
    points += [level(m, 99.0, quality=Quality.BAD) for m in (120, 130)]  # hour 2: none usable
    points += [level(185, 7.0)]  # hour 3
    backend.write(points)
    hourly = backend.store.range(
        KIM_LONG,
        "water_level",
        T0 + timedelta(minutes=5),  # inside hour 0: the minute-0 point is out of range
        T0 + timedelta(hours=4),
        every=timedelta(hours=1),
    )
    assert [(r.ts, round(r.value, 6), r.quality, r.status) for r in hourly] == [
        (T0, 30.0, Quality.GOOD, DeviceStatus.MEASURING),  # window start, before `start`
        (T0 + timedelta(hours=1), 20.0, Quality.SUSPECT, DeviceStatus.CALIBRATING),
        (T0 + timedelta(hours=3), 7.0, Quality.GOOD, DeviceStatus.MEASURING),
    ]
    assert all(r.unit == "m" and r.reason == "" for r in hourly)
    two = backend.store.range(
        KIM_LONG, "water_level", T0, T0 + timedelta(hours=4), every=timedelta(minutes=20), limit=2
    )
    assert [(r.ts, r.value) for r in two] == [(T0, 5.0), (T0 + timedelta(minutes=20), 25.0)]


def test_stations_are_those_with_series(backend: Backend) -> None:
    assert backend.store.stations() == []
    backend.write([level(0, 1.0), level(0, 12.0, station="bach_ma", param="pm25")])
    assert backend.store.stations() == ["bach_ma", KIM_LONG]


# -- errors, translated at the boundary


def test_influxdb_refusal_and_outage_name_the_store(influxd: Influxd) -> None:
    store = InfluxStore.v1(influxd.url, influxd.database, retries=0)
    store.write([level(0, 1.0)])
    with pytest.raises(StoreRejected, match=f"{influxd.url} refused the data.*field type conflict"):
        store.write_lines(
            f'reading,station=kim_long,param=water_level value="high" {epoch_ms(T0)}', 1
        )
    influxd.stop()
    with pytest.raises(StoreUnavailable, match=f"{influxd.url} unreachable.*refused"):
        store.write([level(1, 1.1)])
    with pytest.raises(StoreUnavailable, match=influxd.url):
        store.latest(KIM_LONG)
    store.close()


def test_influxdb_missing_database_is_unavailable_not_rejected(influxd: Influxd) -> None:
    # The data is fine; the configuration is not: keep the data for when it is fixed.
    store = InfluxStore.v1(influxd.url, "no_such_db", retries=0)
    with pytest.raises(StoreUnavailable, match=r"HTTP 404.*database not found"):
        store.write([level(0, 1.0)])
    store.close()


def test_victoriametrics_outage_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = VictoriaStore(url, retries=0)
    with pytest.raises(StoreUnavailable, match=f"{url} unreachable"):
        store.write([level(0, 1.0)])
    with pytest.raises(StoreUnavailable, match=url):
        store.range(KIM_LONG, "water_level", T0, T0 + timedelta(hours=1))
    store.close()


# -- the factory


def test_open_store_urls(tmp_path: Path) -> None:
    relative = open_store("sqlite://data/q.sqlite3")
    assert isinstance(relative, SqliteStore)
    assert relative.path == Path("data/q.sqlite3")
    relative.close()
    absolute = open_store(f"sqlite://{tmp_path}/a.sqlite3?retention_days=90")
    assert isinstance(absolute, SqliteStore)
    assert (absolute.path, absolute.retention) == (tmp_path / "a.sqlite3", timedelta(days=90))
    absolute.close()
    bare = open_store(str(tmp_path / "b.sqlite3"))
    assert isinstance(bare, SqliteStore)
    bare.close()

    v1 = open_store("influxdb://ioc:p%40ss@influx.local/quantrac?rp=one_year")
    assert isinstance(v1, InfluxStore)
    assert (v1.url, v1.database) == ("http://influx.local:8086", "quantrac")
    assert v1.reader.headers["Authorization"] == "Basic aW9jOnBAc3M="  # ioc:p@ss
    v2 = open_store("influxdb2+https://cloud.example:443?org=hue&bucket=quantrac&token=T0K")
    assert isinstance(v2, InfluxStore)
    assert (v2.url, v2.database) == ("https://cloud.example:443", "quantrac")
    assert v2.reader.headers["Authorization"] == "Token T0K"
    vm = open_store("victoriametrics://vm")
    assert isinstance(vm, VictoriaStore)
    assert vm.url == "http://vm:8428"
    for store in (v1, v2, vm):
        store.close()

    with pytest.raises(ValueError, match="lacks token"):
        open_store("influxdb2://h:8086?org=o&bucket=b")
    with pytest.raises(ValueError, match="name the database"):
        open_store("influxdb://h:8086")
    with pytest.raises(ValueError, match="unknown scheme 'postgres'"):
        open_store("postgres://h/db")
