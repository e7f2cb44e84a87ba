"""The fault suite's readers of each store (what is stored, what twice) and its full disks
(a small tmpfs, or a file-size limit where mounting is refused)."""

from __future__ import annotations

import contextlib
import errno
import resource
import sqlite3
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.faults.accounting import PARAM, RAIN, Key
from tests.servers import Influxd, VictoriaMetrics


def _seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StoreReader(Protocol):
    what: str

    def raw_keys(self) -> set[Key] | None:
        """Every stored key of the params stations send; None when the store cannot be read."""

    def samples(self) -> Counter[Key]:
        """Samples per key over every series (derived ones too): duplicates show here."""


@dataclass
class SqliteReader:
    path: Path
    what: str = "SQLite"

    def _rows(self, where: str) -> list[tuple[str, str, int]]:
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(
                "SELECT s.station, s.param, r.ts FROM reading r JOIN series s ON r.series = s.id"
                + where
            ).fetchall()
        finally:
            db.close()

    def raw_keys(self) -> set[Key] | None:
        try:
            where = f" WHERE s.param IN ('{PARAM}', '{RAIN}')"
            return {(s, p, int(t)) for s, p, t in self._rows(where)}
        except sqlite3.Error:
            return None

    def samples(self) -> Counter[Key]:
        # (series, ts) is the table's primary key: a duplicate cannot be stored twice here,
        # it is counted anyway so that the column means the same for every store.
        return Counter((s, p, int(t)) for s, p, t in self._rows(""))


@dataclass
class InfluxReader:
    server: Influxd
    what: str = "InfluxDB"

    def _points(self, where: str) -> Iterator[Key]:
        answer = self.server.query(f'SELECT "quality" FROM "reading"{where} GROUP BY *')
        result = answer["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for row in series["values"]:
                yield tags.get("station", ""), tags.get("param", ""), int(row[0])

    def raw_keys(self) -> set[Key] | None:
        try:
            return set(self._points(f" WHERE \"param\" = '{PARAM}' OR \"param\" = '{RAIN}'"))
        except (OSError, urllib.error.URLError, RuntimeError):
            return None

    def samples(self) -> Counter[Key]:
        # One point per (series, time) in InfluxDB; a second series with other tags for the
        # same (station, param, ts) would be a duplicate, so every series is counted.
        return Counter(self._points(""))


@dataclass
class VictoriaReader:
    server: VictoriaMetrics
    what: str = "VictoriaMetrics"

    def _points(self, match: str) -> Iterator[Key]:
        self.server.flush()
        for line in self.server.export(match):
            labels = line["metric"]
            for ts in line["timestamps"]:
                yield labels.get("station", ""), labels.get("param", ""), int(ts)

    def raw_keys(self) -> set[Key] | None:
        try:
            return set(self._points(f'{{__name__="reading_quality",param=~"{PARAM}|{RAIN}"}}'))
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def samples(self) -> Counter[Key]:
        # Every point has a quality field, so reading_quality has one sample per point.
        return Counter(self._points('{__name__="reading_quality"}'))


class DiskFull(Protocol):
    method: str

    def fill(self) -> None: ...

    def free(self) -> None: ...

    def close(self) -> None: ...


class SmallTmpfs:
    """The gateway's data dir on its own tmpfs; ``fill`` writes a file until ENOSPC."""

    def __init__(self, directory: Path, size_mb: int = 20) -> None:
        self.directory = directory
        self.size_mb = size_mb
        self.method = f"tmpfs of {size_mb} MB, filled to the last byte"
        self.filler = directory / "filler"
        directory.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise OSError(result.stderr.strip() or f"mount exited {result.returncode}")
        self.mounted = True

    def fill(self) -> None:
        with self.filler.open("ab", buffering=0) as out:
            for chunk in (1 << 20, 1 << 12, 1 << 9):
                block = b"\0" * chunk
                with contextlib.suppress(OSError):
                    while True:
                        out.write(block)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            # The gateway is stopped first; lazily in case a straggler still holds a file.
            if subprocess.run(["umount", str(self.directory)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(self.directory)], check=False)
            self.mounted = False


class FileSizeLimit:
    """Where a tmpfs cannot be mounted (not root): the gateway may not grow any file.

    ``RLIMIT_FSIZE`` of the running gateway set to the current size of its outbox: a write
    beyond it fails with EFBIG (Python ignores SIGXFSZ), which SQLite reports as an I/O error
    rather than SQLITE_FULL — close to a full disk, not the same; the table says which it was.
    """

    def __init__(self, data_dir: Path, why_not_tmpfs: str) -> None:
        self.data_dir = data_dir
        self.method = f"file-size limit (RLIMIT_FSIZE), no tmpfs: {why_not_tmpfs}"
        self.pid: int | None = None
        self._saved: tuple[int, int] | None = None

    def fill(self) -> None:
        assert self.pid is not None
        biggest = max((p.stat().st_size for p in self.data_dir.glob("*") if p.is_file()), default=0)
        self._saved = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (biggest, self._saved[1]))

    def free(self) -> None:
        if self.pid is not None and self._saved is not None:
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(self.pid, resource.RLIMIT_FSIZE, self._saved)

    def close(self) -> None:
        self.free()


def small_disk(directory: Path, force_fallback: bool = False) -> DiskFull:
    if force_fallback:
        directory.mkdir(parents=True, exist_ok=True)
        return FileSizeLimit(directory, "asked for (--disk-full fsize)")
    try:
        return SmallTmpfs(directory)
    except OSError as exc:
        return FileSizeLimit(directory, str(exc) or errno.errorcode.get(exc.errno or 0, "?"))
