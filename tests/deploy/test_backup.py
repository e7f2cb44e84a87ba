"""``quantrac backup``: SQLite's online backup of a data directory while a service writes it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.store.sqlite import SqliteStore
from gateway.model import Reading
from quantrac.auth import KeyStore, Role
from quantrac.backup import back_up, backup_name, is_side_file, sha256_of, to_prune
from tests.quantrac.test_cli import QUANTRAC

T0 = datetime(2026, 12, 7, 3, 15, tzinfo=UTC)
PAST = datetime(2025, 6, 1, tzinfo=UTC)  # before any clock that runs these tests


def test_a_backup_is_named_by_its_utc_second() -> None:
    assert backup_name(T0) == "quantrac-backup-20261207T031500Z"
    hue = T0.astimezone(datetime.now().astimezone().tzinfo)
    assert backup_name(hue) == backup_name(T0)  # whatever zone the clock is given in


@pytest.mark.parametrize(
    ("names", "keep", "pruned"),
    [
        ([], 3, []),
        (["quantrac-backup-20261201T000000Z"], 1, []),
        (
            ["quantrac-backup-20261203T000000Z", "quantrac-backup-20261201T000000Z",
             "quantrac-backup-20261202T000000Z"],
            2, ["quantrac-backup-20261201T000000Z"],
        ),
        # Never a run still being written, nor anything else in the folder.
        (["quantrac-backup-20261201T000000Z.partial", "notes", "quantrac-backup-x",
          "quantrac-backup-20261202T000000Z"], 1, []),
    ],
)  # fmt: skip
def test_only_complete_backups_beyond_the_newest_are_pruned(
    names: list[str], keep: int, pruned: list[str]
) -> None:
    assert to_prune(names, keep) == pruned


@given(st.lists(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1))),
       st.integers(min_value=1, max_value=5))  # fmt: skip
def test_pruning_keeps_the_newest(times: list[datetime], keep: int) -> None:
    names = {backup_name(t.replace(tzinfo=UTC)) for t in times}
    gone = to_prune(names, keep)
    kept = sorted(names - set(gone))
    assert len(kept) == min(keep, len(names))
    assert all(old < new for old in gone for new in kept)


@pytest.mark.parametrize(
    ("name", "side"),
    [("quantrac.sqlite3-wal", True), ("q.sqlite3-shm", True), ("a.db-journal", True),
     ("quantrac.sqlite3", False), ("outbox-gw-hue-1.sqlite3", False), ("wal", False)],
)  # fmt: skip
def test_sqlite_side_files_are_not_copied_alone(name: str, side: bool) -> None:
    assert is_side_file(name) is side


def readings(minute: int) -> list[Reading]:
    ts = T0 + timedelta(minutes=minute)
    return [Reading("kim_long", "water_level", 1.0 + minute / 1000, "m", ts)]


def test_a_backup_taken_while_the_store_is_written_is_whole_and_consistent(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    store = SqliteStore(data / "quantrac.sqlite3")
    store.write([r for m in range(500) for r in readings(m)])
    _, key = KeyStore(data / "api-keys.sqlite3").create("board", Role.VIEWER, T0)
    archive = data / "tt10" / "archive" / "TTH_KCNPHUBAI_NT01_20261207101500.txt"
    archive.parent.mkdir(parents=True)
    archive.write_text("COD\t12.5\tmg/L\t20261207101500\t00\n", encoding="utf-8")
    written = [500]
    stop = threading.Event()

    def write_on() -> None:  # the collector, flushing while the backup runs
        while not stop.is_set():
            store.write(readings(written[0]))
            written[0] += 1

    writer = threading.Thread(target=write_on)
    writer.start()
    try:
        dest = tmp_path / "backups"
        result = subprocess.run(
            [*QUANTRAC, "backup", str(dest), "--data-dir", str(data)],
            capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin"},
        )  # fmt: skip
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stdout + result.stderr
    (made,) = dest.iterdir()
    assert made.name.startswith("quantrac-backup-")
    assert not made.name.endswith(".partial")
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == {"quantrac.sqlite3", "api-keys.sqlite3", "tt10/archive/" + archive.name}
    assert {f["check"] for f in files.values()} == {"ok"}
    for path, entry in files.items():
        assert sha256_of(made / path) == entry["sha256"], path
    assert files["quantrac.sqlite3"]["kind"] == "sqlite"
    assert files["tt10/archive/" + archive.name]["kind"] == "file"
    assert sorted(p.name for p in made.iterdir()) == [
        "api-keys.sqlite3", "manifest.json", "quantrac.sqlite3", "tt10"]  # fmt: skip
    journal = sqlite3.connect(made / "quantrac.sqlite3").execute("PRAGMA journal_mode")
    assert journal.fetchone() == ("delete",)  # one self-contained file, no -wal needed
    # One instant of the store: every point up to some flush, none after, none torn.
    copy = SqliteStore(made / "quantrac.sqlite3")
    points = copy.range("kim_long", "water_level", T0, T0 + timedelta(days=30), limit=100_000)
    assert 500 <= len(points) <= written[0]
    assert [p.ts for p in points] == [T0 + timedelta(minutes=m) for m in range(len(points))]
    copy.close()
    principal = KeyStore(made / "api-keys.sqlite3").authenticate(key)
    assert principal is not None
    assert principal.role is Role.VIEWER
    store.close()


def test_older_backups_beyond_keep_are_deleted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    SqliteStore(data / "quantrac.sqlite3").write(readings(0))
    dest = tmp_path / "backups"
    for day in range(3):
        back_up(data, dest, PAST + timedelta(days=day))
    assert len(list(dest.iterdir())) == 3
    with pytest.raises(FileExistsError):
        back_up(data, dest, PAST)  # the same second twice: never over an earlier backup
    result = subprocess.run(
        [*QUANTRAC, "backup", str(dest), "--data-dir", str(data), "--keep", "2"],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    kept = sorted(p.name for p in dest.iterdir())
    assert len(kept) == 2
    assert kept[0] == backup_name(PAST + timedelta(days=2))
    assert "deleted the older backup quantrac-backup-20250601T000000Z" in result.stdout


def test_a_backup_into_the_data_directory_does_not_copy_itself(tmp_path: Path) -> None:
    data = tmp_path / "data"
    SqliteStore(data / "quantrac.sqlite3").write(readings(0))
    first, _ = back_up(data, data / "backups", T0)
    second, files = back_up(data, data / "backups", T0 + timedelta(hours=1))
    assert [f.path for f in files] == ["quantrac.sqlite3"]
    assert not (second / "backups").exists()
    assert first.exists()
