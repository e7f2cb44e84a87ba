"""TT10 forwarding without a network: the files written (read back by the gateway's own parser,
for every parameter and any value), and the durable queue (intervals sealed, late readings,
re-sends, a restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model import VIETNAM_TZ, DeviceStatus, Reading
from gateway.parameters import registry
from gateway.tt10.forward_format import (
    FileIdentity,
    NotForwardable,
    slot_start,
    tt10_file,
    tt10_symbol,
)
from gateway.tt10.forward_queue import ForwardQueue, Row
from gateway.tt10.parse import Tt10Station, parse_tt10

IDENTITY = FileIdentity("TTH", "QTTD", "KIMLONG")
SLOT = datetime(2025, 10, 28, 9, 35, tzinfo=UTC)  # 16:35 local
KINDS = ("air", "water", "hydro", "rain", "weather")
FORWARDABLE = [
    (p.name, kind)
    for p in registry()
    for kind in KINDS
    if p.kind in (kind, "weather") and p.kind != "station" and p.name not in ("station_online",)
]


def read_back(name: str, content: bytes, kind: str, code: str = "KIMLONG") -> list[Reading]:
    parsed = parse_tt10(
        name, content, {code: Tt10Station("kim_long", kind)}, now=SLOT + timedelta(days=1)
    )
    assert parsed.skipped == (), parsed.skipped
    return list(parsed.readings)


def test_a_file_as_the_circular_writes_it() -> None:
    readings = [
        Reading("hue_air", "pm25", 35.5, "µg/m³", SLOT, DeviceStatus.MEASURING),
        Reading("hue_air", "co", 950.0, "µg/m³", SLOT, DeviceStatus.CALIBRATING),
        Reading("hue_air", "air_temp", 27.4, "°C", SLOT + timedelta(seconds=30)),
        Reading("hue_air", "station_online", 1.0, "bool", SLOT),  # the heartbeat stays home
    ]
    name, content, left_out = tt10_file(
        FileIdentity("TTH", "QTMTKK", "KK01"), SLOT, readings, "air"
    )
    assert name == "TTH_QTMTKK_KK01_20251028163500.txt"
    assert content.decode() == (
        "air_temp\t27.4\toC\t20251028163530\t00\r\n".replace("air_temp", "Temp")
        + "CO\t950.0\tug/Nm3\t20251028163500\t01\r\n"
        + "PM2,5\t35.5\tug/Nm3\t20251028163500\t00\r\n"
    )
    assert left_out == ["station_online: station health, not a measurement"]


@pytest.mark.parametrize(("param", "kind"), FORWARDABLE)
def test_every_parameter_reads_back_as_itself(param: str, kind: str) -> None:
    try:
        symbol = tt10_symbol(param, kind)
    except NotForwardable:
        pytest.fail(f"{param} cannot be forwarded from a {kind} station")
    unit = registry()[param].unit
    reading = Reading("kim_long", param, 12.5, unit, SLOT, DeviceStatus.ERROR)
    name, content, _ = tt10_file(IDENTITY, SLOT, [reading], kind)
    (back,) = read_back(name, content, kind)
    assert (back.param, back.value, back.unit, back.ts, back.status) == (
        param, 12.5, unit, SLOT, DeviceStatus.ERROR,
    ), symbol  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(FORWARDABLE),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
    st.integers(min_value=0, max_value=299),  # seconds into the interval
    st.sampled_from(list(DeviceStatus)),
)
def test_any_value_reads_back_equal(
    param_kind: tuple[str, str], value: float, offset_s: int, status: DeviceStatus
) -> None:
    param, kind = param_kind
    unit = registry()[param].unit
    ts = SLOT + timedelta(seconds=offset_s)
    reading = Reading("kim_long", param, value, unit, ts, status)
    name, content, _ = tt10_file(IDENTITY, slot_start(ts, timedelta(minutes=5)), [reading], kind)
    (back,) = read_back(name, content, kind)
    assert (back.value, back.ts, back.status) == (value, ts, status)


@pytest.mark.parametrize(
    ("local", "minutes", "start"),
    [
        ("16:37:12", 5, "16:35:00"),
        ("16:35:00", 5, "16:35:00"),
        ("00:04:59", 5, "00:00:00"),
        ("16:59:59", 60, "16:00:00"),
        ("23:59:59", 15, "23:45:00"),
    ],
)
def test_intervals_start_from_local_midnight(local: str, minutes: int, start: str) -> None:
    hh, mm, ss = (int(x) for x in local.split(":"))
    moment = datetime(2025, 10, 28, hh, mm, ss, tzinfo=VIETNAM_TZ)
    found = slot_start(moment, timedelta(minutes=minutes)).astimezone(VIETNAM_TZ)
    assert f"{found:%H:%M:%S}" == start


# -- the queue ---------------------------------------------------------------------------------

MS = 300_000  # 5 minutes


def row(slot: int, param: str, value: float, *, ts: int | None = None, station: str = "s") -> Row:
    return (station, slot * MS, param, ts if ts is not None else slot * MS, value, "m", 0)


def make(station: str, slot: int, rows: list[Row]) -> tuple[str, bytes]:
    text = ";".join(f"{r[2]}={r[4]}" for r in rows)
    return f"{station}_{slot // MS}.txt", text.encode()


def files(queue: ForwardQueue) -> list[tuple[str, bytes]]:
    out = []
    while heads := queue.heads():
        for head in heads:
            out.append((head.name, head.content))
            queue.sent(head.id)
    return out


def test_intervals_become_files_once_over(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(1, "a", 1.0), row(1, "b", 2.0), row(2, "a", 3.0)])
    assert queue.seal(1 * MS, make) == 0  # interval 1 not over yet
    assert queue.seal(2 * MS, make) == 1
    assert files(queue) == [("s_1.txt", b"a=1.0;b=2.0")]
    assert queue.seal(3 * MS, make) == 1
    assert files(queue) == [("s_2.txt", b"a=3.0")]


def test_the_same_readings_again_make_no_file(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(1, "a", 1.0)])
    queue.seal(2 * MS, make)
    assert len(files(queue)) == 1
    queue.add([row(1, "a", 1.0)])  # an outbox resend
    queue.add([row(1, "a", 0.5, ts=1 * MS - 1)])  # an older reading of the interval
    assert queue.seal(2 * MS, make) == 0
    assert files(queue) == []


def test_a_late_reading_remakes_its_file_whole(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(1, "a", 1.0)])
    queue.seal(2 * MS, make)
    queue.add([row(1, "b", 2.0)])  # before the file went: it takes its place in the queue
    assert queue.seal(2 * MS, make) == 1
    assert files(queue) == [("s_1.txt", b"a=1.0;b=2.0")]
    queue.add([row(1, "c", 3.0)])  # after it went: sent again, whole, under the same name
    queue.seal(2 * MS, make)
    assert files(queue) == [("s_1.txt", b"a=1.0;b=2.0;c=3.0")]
    assert queue.state().sent == 2


def test_files_go_in_order_per_station_and_survive_a_restart(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(k, "a", float(k), station=s) for k in range(1, 4) for s in ("x", "y")])
    queue.seal(4 * MS, make)
    first = queue.heads()
    assert [(h.station, h.name) for h in first] == [("x", "x_1.txt"), ("y", "y_1.txt")]
    queue.sent(first[0].id)
    queue.failed(first[1].id, "ConnectionRefusedError")
    queue.add([row(5, "a", 5.0, station="x")])  # not yet sealed when the gateway stops
    queue.close()

    again = ForwardQueue(tmp_path / "q.sqlite3")
    assert [(h.station, h.name, h.attempts) for h in again.heads()] == [
        ("y", "y_1.txt", 1),  # still first of its station, after the failed attempt
        ("x", "x_2.txt", 0),
    ]
    again.seal(6 * MS, make)
    assert [name for name, _ in files(again)] == [
        "y_1.txt", "x_2.txt", "y_2.txt", "x_3.txt", "y_3.txt", "x_5.txt",
    ]  # fmt: skip
    state = again.state()
    assert (state.queued, state.sent, state.open_readings) == (0, 7, 0)


def test_a_refused_file_does_not_hold_up_the_next(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(1, "a", 1.0), row(2, "a", 2.0)])
    queue.seal(3 * MS, make)
    (head,) = queue.heads()
    queue.failed(head.id, "553 name refused", rejected=True)
    assert [h.name for h in queue.heads()] == ["s_2.txt"]
    assert queue.state().rejected == 1


def test_prune_keeps_what_late_readings_need(tmp_path: Path) -> None:
    queue = ForwardQueue(tmp_path / "q.sqlite3")
    queue.add([row(1, "a", 1.0), row(9, "a", 9.0)])
    queue.seal(10 * MS, make)
    files(queue)
    queue.prune(5 * MS, sent_before=0.0)  # interval 1's readings go, its sent file stays
    queue.add([row(9, "b", 2.0)])
    queue.seal(10 * MS, make)
    assert files(queue) == [("s_9.txt", b"a=9.0;b=2.0")]
