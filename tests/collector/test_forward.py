"""Durable forwarding: order, bounds, dead letters, restarts, and an InfluxDB outage of a minute.

The queue's own behaviour is tested against a recording ``LineStore`` (our interface); refusal
and the outage against a real influxd.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.forward import ForwardingStore
from collector.store import StoreRejected, StoreUnavailable
from collector.store.influx import InfluxStore
from collector.store.lines import LineRenderer
from gateway.model import Reading
from tests.servers import Influxd

T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


class RecordingRemote:
    """A LineStore that keeps what it is sent; it can be down, and refuses marked lines."""

    url = "fake://remote"
    keeps_reason = True
    replaces_points = True

    def __init__(self) -> None:
        self.renderer = LineRenderer()
        self.lines: list[str] = []
        self.available = True
        self.requests = 0

    def write_lines(self, body: str, points: int) -> None:
        self.requests += 1
        if not self.available:
            raise StoreUnavailable(f"{self.url} is down")
        lines = body.split("\n")
        assert len(lines) == points
        if any("station=refused" in line for line in lines):
            raise StoreRejected(f"{self.url} refused the data")
        self.lines.extend(lines)

    def values(self) -> list[float]:
        return [float(line.split("value=")[1].split(",")[0]) for line in self.lines]

    def write(self, readings: object, flags: object = None) -> None:
        raise AssertionError("the forwarder writes lines")

    def latest(self, station: str) -> list[Reading]:
        return []

    def range(self, *args: object, **kwargs: object) -> list[Reading]:
        return []

    def stations(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def readings(first: int, count: int, station: str = "kim_long") -> list[Reading]:
    return [
        Reading(station, "water_level", float(i), "m", T0 + timedelta(seconds=i))
        for i in range(first, first + count)
    ]


def test_chunks_are_sent_oldest_first(tmp_path: Path) -> None:
    remote = RecordingRemote()
    forward = ForwardingStore(tmp_path / "queue.sqlite3", remote, chunk_points=3)
    for n in range(10):
        forward.write(readings(n * 7, 7))
    assert forward.health().backlog_points == 70
    assert forward.health().backlog_chunks == 30  # 7 readings: chunks of 3, 3, 1
    forward.start()
    assert forward.flush(10)
    assert remote.values() == [float(i) for i in range(70)]
    health = forward.health()
    assert (health.sent_points, health.backlog_points, health.oldest_age_s) == (70, 0, None)
    forward.close()


def test_a_full_queue_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remote = RecordingRemote()
    forward = ForwardingStore(tmp_path / "queue.sqlite3", remote, max_points=10, chunk_points=5)
    for n in range(5):
        forward.write(readings(n * 5, 5))
    health = forward.health()
    assert (health.backlog_points, health.dropped_points) == (10, 15)
    assert "forward queue full (10 points): dropped the oldest 5 points" in caplog.text
    forward.start()
    assert forward.flush(10)
    assert remote.values() == [float(i) for i in range(15, 25)]  # the newest are kept
    forward.close()


def test_a_refused_line_is_set_aside_and_the_rest_flows(tmp_path: Path) -> None:
    remote = RecordingRemote()
    forward = ForwardingStore(tmp_path / "queue.sqlite3", remote, chunk_points=8)
    forward.write([*readings(0, 5), *readings(5, 1, station="refused"), *readings(6, 10)])
    forward.start()
    assert forward.flush(10)
    assert remote.values() == [float(i) for i in range(16) if i != 5]
    health = forward.health()
    assert (health.sent_points, health.dead_letter_points, health.backlog_points) == (15, 1, 0)
    forward.close()
    # The dead letter is kept in the queue file, with why, for an operator to look at.
    again = ForwardingStore(tmp_path / "queue.sqlite3", RecordingRemote())
    assert again.health().dead_letter_points == 1
    again.close()


def test_a_new_forwarder_on_the_same_file_sends_what_was_left(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    first_remote = RecordingRemote()
    first = ForwardingStore(path, first_remote, chunk_points=4)
    first.write(readings(0, 8))
    first.start()
    assert first.flush(10)
    first_remote.available = False
    first.write(readings(8, 8))
    deadline = time.monotonic() + 10
    while first.health().failures == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.health().last_error == "fake://remote is down"
    first.close()  # the process ends with 8 points unsent

    second_remote = RecordingRemote()
    second = ForwardingStore(path, second_remote, chunk_points=4)
    assert second.health().backlog_points == 8
    second.start()
    assert second.flush(10)
    assert first_remote.values() + second_remote.values() == [float(i) for i in range(16)]
    second.close()


def test_a_point_influxdb_refuses_is_dead_lettered(tmp_path: Path, influxd: Influxd) -> None:
    remote = InfluxStore.v1(influxd.url, influxd.database, retries=0)
    forward = ForwardingStore(tmp_path / "queue.sqlite3", remote, chunk_points=50)
    # A clock gone wild: InfluxDB keeps nanoseconds in an int64, so the year 2300 is refused.
    wild = Reading("kim_long", "water_level", 9.9, "m", datetime(2300, 1, 1, tzinfo=UTC))
    batch = readings(0, 20)
    forward.write([*batch[:10], wild, *batch[10:]])
    forward.start()
    assert forward.flush(30)
    health = forward.health()
    assert (health.sent_points, health.dead_letter_points) == (20, 1)
    assert influxd.count() == 20
    forward.close()


def test_an_influxdb_outage_of_a_minute_loses_nothing(tmp_path: Path, influxd: Influxd) -> None:
    """~10 points/s for 80 s; influxd is stopped from 10 s to 70 s; all arrive, once."""
    remote = InfluxStore.v1(influxd.url, influxd.database, retries=1, timeout_s=2)
    forward = ForwardingStore(
        tmp_path / "queue.sqlite3", remote, chunk_points=100, max_backoff_s=2.0
    )
    forward.start()
    start = time.monotonic()
    sent = 0
    during_outage = None
    for tick in range(160):  # 5 readings every 0.5 s
        elapsed = tick * 0.5
        time.sleep(max(0.0, start + elapsed - time.monotonic()))
        if tick == 20:
            influxd.stop()
        if tick == 140:
            during_outage = forward.health()
            influxd.start()
        forward.write(readings(sent, 5))
        sent += 5
    assert forward.flush(60), forward.health()
    health = forward.health()

    assert during_outage is not None
    assert during_outage.backlog_points >= 550  # 60 s of points waited on disk
    assert during_outage.oldest_age_s is not None
    assert during_outage.oldest_age_s > 50
    assert during_outage.failures > 0
    assert influxd.url in during_outage.last_error
    assert (health.sent_points, health.dropped_points, health.dead_letter_points) == (sent, 0, 0)
    assert influxd.count() == sent == 800
    forward.close()
