"""``quantrac backup``: a consistent copy of a data directory while its services run.

Every embedded store is a SQLite file under the data directory: the readings
(``quantrac.sqlite3``), a gateway's outbox, the collector's forward queue and recent copy,
incidents, the notification log and delivery queues, API keys and the audit log. A plain ``cp``
of a file being written (or without its ``-wal`` file, where the last commits still are) can
give a torn or stale copy. SQLite's online backup API copies each database as it was at one
instant, from a read transaction; in WAL mode, which every store here uses, the service's
writers are not held up meanwhile. Each copy is checked (``PRAGMA quick_check``) and made
self-contained (rollback journal, no ``-wal`` beside it). Other files (TT10 archives) are
copied as they are. Everything goes into ``DEST/quantrac-backup-<UTC time>/`` with a
``manifest.json`` (path, kind, size, SHA-256, check), written under a ``.partial`` name and
renamed when complete, so a backup cut short never looks like a good one.

Restoring: stop the service, put the files back in its data directory (removing any
``-wal``/``-shm`` left there), start it (docs/deploy.md, "Backups").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantrac.cli_common import console, err_console

SQLITE_MAGIC = b"SQLite format 3\x00"
# SQLite's own files beside a database: the backup API reads through them.
SIDE_FILES = ("-wal", "-shm", "-journal")
PREFIX = "quantrac-backup-"
_NAME = re.compile(re.escape(PREFIX) + r"\d{8}T\d{6}Z")


@dataclass(frozen=True, slots=True)
class BackedUp:
    path: str  # relative to the data directory
    kind: str  # "sqlite" | "file"
    bytes: int
    sha256: str
    check: str  # "ok", or what quick_check / the copy said


def backup_name(now: datetime) -> str:
    """``quantrac-backup-20261207T031500Z``: sorts by time, one per second."""
    return PREFIX + now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def to_prune(names: Iterable[str], keep: int) -> list[str]:
    """The complete backups beyond the newest ``keep`` (never a ``.partial`` or another file)."""
    if keep < 1:
        raise ValueError("--keep must be at least 1")
    backups = sorted(name for name in names if _NAME.fullmatch(name))
    return backups[:-keep]


def is_side_file(name: str) -> bool:
    return name.endswith(SIDE_FILES)


def data_files(data_dir: Path, skip: Path | None = None) -> list[Path]:
    """Every regular file under ``data_dir`` except SQLite's side files and ``skip``."""
    found = []
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        if skip is not None:
            dirs[:] = [d for d in dirs if (here / d).resolve() != skip.resolve()]
        for name in files:
            path = here / name
            if not is_side_file(name) and path.is_file() and not path.is_symlink():
                found.append(path)
    return sorted(found)


def is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def copy_sqlite(source: Path, target: Path, timeout_s: float = 30.0) -> str:
    """The online backup of ``source`` into ``target``; quick_check's answer ("ok")."""
    # Read-only: the backup never writes the service's database. One step (pages=-1) copies the
    # database as of one read transaction; stepwise, every write by the service in between
    # would restart the copy from the first page.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=timeout_s)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            rows = dst.execute("PRAGMA quick_check").fetchall()
        finally:
            dst.close()
    finally:
        src.close()
    return "; ".join(str(row[0]) for row in rows)


def back_up(data_dir: Path, dest: Path, now: datetime) -> tuple[Path, list[BackedUp]]:
    """Copy ``data_dir`` into a new ``dest/quantrac-backup-…``; its path and what it holds."""
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / backup_name(now)
    if final.exists():
        raise FileExistsError(f"{final} exists already")
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # a run cut short before
    partial.mkdir()
    done: list[BackedUp] = []
    for source in data_files(data_dir, skip=dest):
        relative = source.relative_to(data_dir)
        target = partial / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_sqlite(source):
            try:
                check = copy_sqlite(source, target)
            except sqlite3.Error as exc:
                check = f"copy failed: {exc}"
            kind = "sqlite"
        else:
            shutil.copy2(source, target)
            kind, check = "file", "ok"
        size = target.stat().st_size if target.exists() else 0
        digest = sha256_of(target) if target.exists() else ""
        done.append(BackedUp(str(relative), kind, size, digest, check))
    manifest = {
        "created": now.astimezone(UTC).isoformat(),
        "data_dir": str(data_dir.resolve()),
        "host": socket.gethostname(),
        "files": [asdict(item) for item in done],
    }
    (partial / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    partial.rename(final)
    return final, done


def backup(
    dest: Annotated[Path, typer.Argument(help="folder the backup goes into (a new subfolder)")],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="the service's data directory")
    ] = None,
    keep: Annotated[
        int | None, typer.Option(min=1, help="then delete all but the newest N backups in DEST")
    ] = None,
) -> None:
    """Copy a data directory's SQLite stores (online backup, while the services run) and files."""
    from quantrac.cli_common import settings_with

    source = settings_with(data_dir).data_dir
    if not source.is_dir():
        err_console.print(f"[red]no data directory at {escape(str(source))}[/red]")
        raise typer.Exit(2)
    owner = source.stat().st_uid
    if os.geteuid() == 0 and owner != 0:
        # As root, opening a database can leave -wal/-shm files root owns, which the service's
        # own user then cannot open.
        err_console.print(
            f"[red]{escape(str(source))} belongs to uid {owner}: run the backup as that user "
            "(sudo -u quantrac quantrac backup …)[/red]"
        )
        raise typer.Exit(2)
    final, done = back_up(source, dest, datetime.now(UTC))
    table = Table(title=f"{final}: {len(done)} file(s)")
    for column in ("file", "kind", "bytes", "check"):
        table.add_column(column)
    for item in done:
        colour = "green" if item.check == "ok" else "red"
        table.add_row(item.path, item.kind, f"{item.bytes:,}", f"[{colour}]{item.check}[/]")
    console.print(table)
    if keep is not None:
        for name in to_prune((p.name for p in dest.iterdir() if p.is_dir()), keep):
            if name == final.name:
                continue  # the clock went back: never the backup just made
            shutil.rmtree(dest / name)
            console.print(f"deleted the older backup {name}")
    if any(item.check != "ok" for item in done):
        raise typer.Exit(1)
