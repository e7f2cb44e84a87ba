"""The TT10 inbox driver on a real folder: settle, archive, reject with reasons, de-duplicate."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config import StationConfig
from gateway.model import Reading
from gateway.streaming import Rejected
from gateway.tt10 import Tt10Inbox, tt10_inbox_for
from gateway.tt10.parse import Tt10Station
from tests.gateway.test_tt10_parse import CASES, assert_readings, load_case

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
AIR = "TTH_QTMTKK_KK01_20261122163000.txt"
AIR_TEXT = "PM2,5\t35.5\tµg/Nm3\t20261122163000\t00\r\nO3\t80.75\tµg/Nm3\t20261122163000\t00\r\n"


@dataclass
class Recording:
    batches: list[tuple[str, list[Reading]]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    async def sink(self, station: str, readings: Sequence[Reading]) -> None:
        self.batches.append((station, list(readings)))

    async def dead_letter(self, rejected: Rejected) -> None:
        self.rejected.append(rejected)


@dataclass
class Running:
    inbox: Tt10Inbox
    recording: Recording


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the inbox")
        await asyncio.sleep(0.02)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Callable[..., Running]]:
    tasks: list[asyncio.Task[None]] = []

    def start(
        stations: dict[str, Tt10Station] | None = None,
        now: datetime = NOW,
        settle_s: float = 0.2,
    ) -> Running:
        inbox = Tt10Inbox(
            tmp_path / "inbox",
            stations or {"KK01": Tt10Station("kk_hue", "air")},
            settle_s=settle_s,
            poll_s=0.05,
            now=lambda: now,
        )
        (tmp_path / "inbox").mkdir(exist_ok=True)
        recording = Recording()
        tasks.append(asyncio.create_task(inbox.run(recording.sink, recording.dead_letter)))
        return Running(inbox, recording)

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _files_done(inbox: Tt10Inbox) -> int:
    totals = inbox.totals
    return totals.files_processed + totals.files_rejected + totals.files_duplicate


def _inbox_files(inbox: Tt10Inbox) -> list[Path]:
    return [p for p in inbox.inbox.iterdir() if p.is_file() and not p.name.startswith(".")]


@pytest.mark.parametrize("name", CASES)
async def test_case_through_the_inbox(name: str, running: Callable[..., Running]) -> None:
    case = load_case(name)
    run = running(case.stations, case.now)
    inbox, recording = run.inbox, run.recording
    shutil.copy(case.file, inbox.inbox / case.file.name)
    # The file leaves the inbox before its counters move and its dead letters are sent.
    letters = 1 if case.rejected_line is not None else len(case.skipped)
    await until(lambda: _files_done(inbox) == 1 and len(recording.rejected) >= letters)
    assert not _inbox_files(inbox)

    if case.rejected_line is not None:
        target = inbox.rejected_dir / case.file.name
        assert target.read_bytes() == case.file.read_bytes()
        reason = (inbox.rejected_dir / f"{case.file.name}.reason").read_text(encoding="utf-8")
        expected_where = (
            f"{case.file.name}:{case.rejected_line}:" if case.rejected_line else case.file.name
        )
        assert reason.startswith(expected_where), reason
        for part in case.rejected_reason:
            assert part in reason
        assert recording.batches == []
        (dead,) = recording.rejected
        suffix = f":{case.rejected_line}" if case.rejected_line else ""
        assert dead.source == f"{target}{suffix}"
        assert dead.payload == case.file.read_bytes()
        assert inbox.totals.files_rejected == 1
        return

    archived = inbox.archive_dir / "2026" / "11" / case.file.name
    assert archived.read_bytes() == case.file.read_bytes()
    ((station, readings),) = recording.batches
    assert station == case.station.id
    assert_readings(case, readings)
    assert {int(r.source.rsplit(":", 1)[1]) for r in recording.rejected} == set(case.skipped)
    for dead in recording.rejected:
        assert dead.source.startswith(f"{archived}:")
        assert dead.station == case.station.id
    counters = inbox.per_station[case.station.id]
    assert (counters.files_processed, counters.lines_skipped) == (1, len(case.skipped))
    assert counters.readings == len(case.readings)
    if case.skipped:
        reason = archived.with_name(archived.name + ".reason").read_text(encoding="utf-8")
        for line in case.skipped:
            assert f"{case.file.name}:{line}: skipped" in reason


async def test_a_re_sent_file_is_archived_as_a_duplicate(
    running: Callable[..., Running],
) -> None:
    run = running()
    inbox, recording = run.inbox, run.recording
    (inbox.inbox / AIR).write_text(AIR_TEXT, encoding="utf-8")
    await until(lambda: inbox.totals.files_processed == 1)
    # The same content again, under the same name and under another one.
    (inbox.inbox / AIR).write_text(AIR_TEXT, encoding="utf-8")
    await until(lambda: inbox.totals.files_duplicate == 1)
    (inbox.inbox / AIR.replace("163000", "163001")).write_text(AIR_TEXT, encoding="utf-8")
    await until(lambda: inbox.totals.files_duplicate == 2)

    assert len(recording.batches) == 1
    assert inbox.per_station["kk_hue"].files_duplicate == 2
    month = inbox.archive_dir / "2026" / "11"
    assert (month / AIR).is_file()
    assert sorted(p.name for p in (month / "duplicate").iterdir()) == [
        AIR,
        AIR.replace("163000", "163001"),
    ]
    assert not _inbox_files(inbox)


async def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    sent: list[str] = []

    async def sink(station: str, readings: Sequence[Reading]) -> None:
        sent.append(station)

    async def dead_letter(rejected: Rejected) -> None:
        raise AssertionError(rejected)

    stations = {"KK01": Tt10Station("kk_hue", "air")}
    (tmp_path / "inbox").mkdir()
    for life in range(2):  # the gateway stopped and started again on the same folder
        inbox = Tt10Inbox(tmp_path / "inbox", stations, settle_s=0.05, poll_s=0.05, now=lambda: NOW)
        (tmp_path / "inbox" / AIR).write_text(AIR_TEXT, encoding="utf-8")
        task = asyncio.create_task(inbox.run(sink, dead_letter))
        try:
            await until(lambda: _files_done(inbox) == 1)  # noqa: B023 — awaited in the loop
            assert not _inbox_files(inbox)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert (inbox.totals.files_processed, inbox.totals.files_duplicate) == (
            (1, 0) if life == 0 else (0, 1)
        )
    assert sent == ["kk_hue"]


async def test_a_file_written_slowly_is_read_only_when_complete(
    running: Callable[..., Running],
) -> None:
    run = running(settle_s=1.0)
    inbox, recording = run.inbox, run.recording
    path = inbox.inbox / AIR
    cut = AIR_TEXT.index("O3") + 5  # inside the last line: alone, it would be truncated
    with path.open("w", encoding="utf-8") as upload:
        upload.write(AIR_TEXT[:cut])
        upload.flush()
        await asyncio.sleep(0.6)
        assert path.exists(), "taken before its upload was complete"
        upload.write(AIR_TEXT[cut:])
    await until(lambda: inbox.totals.files_processed == 1)
    assert inbox.totals.files_rejected == 0
    ((_, readings),) = recording.batches
    assert [r.param for r in readings] == ["pm25", "o3"]


async def test_one_bad_file_does_not_stop_the_others(running: Callable[..., Running]) -> None:
    run = running()
    inbox, recording = run.inbox, run.recording
    (inbox.inbox / "garbage.bin").write_bytes(b"\x00\x01\x02")
    (inbox.inbox / AIR.replace("KK01", "KK77")).write_text(AIR_TEXT, encoding="utf-8")
    (inbox.inbox / AIR).write_text(AIR_TEXT, encoding="utf-8")
    (inbox.inbox / "upload.txt.part").write_text("PM10", encoding="utf-8")  # still uploading
    await until(lambda: inbox.totals.files_processed + inbox.totals.files_rejected == 3)
    assert [station for station, _ in recording.batches] == ["kk_hue"]
    assert inbox.totals.files_rejected == 2
    assert inbox.unknown_codes == {"KK77": 1}
    assert (inbox.rejected_dir / "garbage.bin.reason").read_text().startswith("garbage.bin: ")
    assert [p.name for p in _inbox_files(inbox)] == ["upload.txt.part"]
    health = inbox.health()
    assert health["totals"]["files_processed"] == 1
    assert health["pending"] == 1


async def test_readings_refused_by_the_sink_stay_in_the_inbox(tmp_path: Path) -> None:
    inbox = Tt10Inbox(
        tmp_path / "inbox",
        {"KK01": Tt10Station("kk_hue", "air")},
        work_dir=tmp_path / "work",
        settle_s=0.05,
        poll_s=0.05,
        now=lambda: NOW,
    )
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / AIR).write_text(AIR_TEXT, encoding="utf-8")
    accepted: list[str] = []
    failures = 0

    async def sink(station: str, readings: Sequence[Reading]) -> None:
        nonlocal failures
        if failures < 3:
            failures += 1
            raise OSError("outbox disk full")
        accepted.append(station)

    async def dead_letter(rejected: Rejected) -> None:
        raise AssertionError(rejected)

    task = asyncio.create_task(inbox.run(sink, dead_letter))
    try:
        await until(lambda: inbox.totals.files_processed == 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert accepted == ["kk_hue"]
    assert (tmp_path / "work" / "archive" / "2026" / "11" / AIR).is_file()
    assert (tmp_path / "work" / "tt10-index.sqlite3").is_file()


@dataclass
class _Settings:
    timezone: str = "Asia/Ho_Chi_Minh"


@dataclass
class _Site:
    stations: dict[str, StationConfig]
    settings: _Settings = field(default_factory=_Settings)


def _station(sid: str, source: dict[str, object]) -> StationConfig:
    return StationConfig.model_validate(
        {"id": sid, "name": sid, "kind": "air", "district": "x", "source": source}
    )


def test_the_factory(tmp_path: Path) -> None:
    tt10 = _station("kk_hue", {"driver": "tt10", "code": "KK01"})
    mqtt = _station("mq", {"driver": "mqtt", "profile": "p"})
    site = _Site({"kk_hue": tt10, "mq": mqtt})
    driver = tt10_inbox_for(site, None, tmp_path)
    assert isinstance(driver, Tt10Inbox)
    assert driver.stations == {"KK01": Tt10Station("kk_hue", "air")}
    assert tt10_inbox_for(site, None, None) is None
    assert tt10_inbox_for(site, [mqtt], tmp_path) is None
    with pytest.raises(ValueError, match="not known"):
        tt10_inbox_for(_Site({"kk_hue": tt10}, _Settings("Mars/Olympus")), None, tmp_path)
