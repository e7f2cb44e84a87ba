"""The TT10 inbox: a streaming driver that watches the folder the province FTP server fills.

A file is taken only once its size and modification time have not changed for ``settle_s``
(an FTP upload takes time). Then, in this order: read → parse → hand the readings to the sink →
record the content hash → move the file to ``archive/<yyyy>/<mm>/``. A crash between the sink
and the record sends the file's readings once more on restart, which is harmless (a point is
identified by station, param and ts); the reverse order could lose them.

A file whose content hash is already recorded is a re-send: archived under
``archive/<yyyy>/<mm>/duplicate/`` and its readings not sent again. A rejected file goes to
``rejected/`` with ``<name>.reason`` beside it; nothing is recorded, so a corrected file with the
same name is taken. The polling is a directory listing every ``poll_s``: no inotify dependency,
and it works on the network filesystems FTP servers are often given.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ
from gateway.streaming import DeadLetter, ReadingSink, Rejected
from gateway.tt10.parse import (
    LineProblem,
    Tt10File,
    Tt10FileRejected,
    Tt10Limits,
    Tt10Station,
    parse_file_name,
    parse_tt10,
    stations_by_code,
)

log = logging.getLogger(__name__)

# Names FTP servers and clients give a file while it is still being uploaded; it is renamed
# when complete, so it is neither taken nor rejected.
_UPLOADING_SUFFIXES = (".part", ".filepart", ".partial", ".tmp", ".temp", ".crdownload")
# What a dead letter of a too-large file carries: its head (the dead letter cuts at 4 KiB).
DEAD_LETTER_HEAD = 4096


@dataclass
class Tt10Counters:
    files_processed: int = 0
    files_rejected: int = 0
    files_duplicate: int = 0
    lines_skipped: int = 0
    readings: int = 0


@dataclass
class _Watched:
    size: int
    mtime_ns: int
    stable_since: float


@dataclass
class _Outcome:
    """What one file came to; decided off the event loop, acted on by ``run``."""

    path: Path
    content: bytes
    station: str = ""
    parsed: Tt10File | None = None
    rejection: Tt10FileRejected | None = None
    duplicate_of: str | None = None
    digest: str = ""


class ProcessedIndex:
    """Content hashes of the files already processed: a re-sent file is a duplicate."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS processed ("
            " sha256 TEXT PRIMARY KEY, file TEXT NOT NULL, station TEXT NOT NULL,"
            " readings INTEGER NOT NULL, at TEXT NOT NULL)"
        )

    def seen(self, digest: str) -> str | None:
        row = self._db.execute("SELECT file FROM processed WHERE sha256 = ?", (digest,)).fetchone()
        return None if row is None else str(row[0])

    def add(self, digest: str, file: str, station: str, readings: int) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO processed VALUES (?, ?, ?, ?, ?)",
            (digest, file, station, readings, datetime.now(UTC).isoformat()),
        )

    def close(self) -> None:
        self._db.close()


def _unique(path: Path) -> Path:
    """``path``, or ``name~1.txt``, ``name~2.txt``… when it is taken."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}~{n}{path.suffix}")
    return candidate


class Tt10Inbox:
    """Watches ``inbox`` for TT10 files of ``stations`` (by file-name code) — a StreamingDriver.

    ``work_dir`` holds ``archive/``, ``rejected/`` and the index ``tt10-index.sqlite3``;
    by default the inbox itself (the index is then the hidden ``.tt10-index.sqlite3``).
    """

    def __init__(
        self,
        inbox: Path,
        stations: Mapping[str, Tt10Station],
        *,
        work_dir: Path | None = None,
        settle_s: float = 10.0,
        poll_s: float = 1.0,
        tz: tzinfo = VIETNAM_TZ,
        limits: Tt10Limits | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.inbox = inbox
        self.stations = dict(stations)
        work = work_dir or inbox
        self.archive_dir = work / "archive"
        self.rejected_dir = work / "rejected"
        self.index_path = work / ("tt10-index.sqlite3" if work_dir else ".tt10-index.sqlite3")
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.tz = tz
        self.limits = limits or Tt10Limits()
        self.now = now
        self.totals = Tt10Counters()
        self.per_station: dict[str, Tt10Counters] = {}
        self.unknown_codes: Counter[str] = Counter()
        self._watched: dict[Path, _Watched] = {}
        self._failing: set[Path] = set()  # sink failures: logged once, retried each poll
        self._index: ProcessedIndex | None = None

    def reload(
        self, site: object, stations: Iterable[StationConfig]
    ) -> tuple[list[str], list[str]]:
        """Read the files of the site's TT10 stations as they are now (hot reload): returns
        (what changed, what waits for a restart: nothing). A file of a code no longer known is
        moved aside as any unknown code."""
        by_code = stations_by_code(stations)
        before = {s.id: s for s in self.stations.values()}
        after = {s.id: s for s in by_code.values()}
        changes = [f"TT10 station {s}: added" for s in after.keys() - before.keys()]
        changes += [f"TT10 station {s}: removed" for s in before.keys() - after.keys()]
        changes += [
            f"TT10 station {s}: changed"
            for s in after.keys() & before.keys()
            if after[s] != before[s]
        ]
        self.stations = dict(by_code)
        return sorted(changes), []

    # -- the driver ---------------------------------------------------------------------------

    async def run(self, sink: ReadingSink, dead_letter: DeadLetter) -> None:
        """Watch until cancelled; one bad file is moved aside and counted, never fatal."""
        await asyncio.to_thread(self._open)
        log.info("tt10 inbox %s: %d station(s)", self.inbox, len(self.stations))
        try:
            while True:
                for path in await asyncio.to_thread(self._settled_files):
                    try:
                        await self._take(path, sink, dead_letter)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        # A bug or a full disk must not stop the other stations' files.
                        log.exception("tt10 %s: could not be handled; retried next poll", path)
                await asyncio.sleep(self.poll_s)
        finally:
            if self._index is not None:
                self._index.close()
                self._index = None

    def _open(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self._index = ProcessedIndex(self.index_path)

    def _settled_files(self) -> list[Path]:
        """Files whose size and mtime have held still for ``settle_s``, oldest first."""
        clock = time.monotonic()
        present: dict[Path, _Watched] = {}
        settled: list[tuple[int, Path]] = []
        try:
            entries = list(self.inbox.iterdir())
        except OSError as exc:
            log.warning("tt10 inbox %s cannot be listed: %s", self.inbox, exc)
            return []
        for path in entries:
            name = path.name
            if name.startswith(".") or name.lower().endswith(_UPLOADING_SUFFIXES):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # removed or renamed meanwhile
            if not path.is_file():
                continue
            before = self._watched.get(path)
            if before is None or (before.size, before.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                present[path] = _Watched(stat.st_size, stat.st_mtime_ns, clock)
                continue
            present[path] = before
            if clock - before.stable_since >= self.settle_s:
                settled.append((stat.st_mtime_ns, path))
        self._watched = present
        return [path for _, path in sorted(settled)]

    async def _take(self, path: Path, sink: ReadingSink, dead_letter: DeadLetter) -> None:
        outcome = await asyncio.to_thread(self._examine, path)
        if outcome.rejection is not None:
            where = await asyncio.to_thread(self._reject, outcome, outcome.rejection)
            problem = outcome.rejection.problem
            source = f"{where}:{problem.line}" if problem.line else str(where)
            await dead_letter(Rejected(source, str(problem), outcome.content, outcome.station))
            return
        if outcome.duplicate_of is not None:
            await asyncio.to_thread(self._archive_duplicate, outcome)
            return
        parsed = outcome.parsed
        assert parsed is not None
        if parsed.readings:
            try:
                await sink(parsed.station, parsed.readings)
            except Exception as exc:
                # Not the file's fault (outbox, bus): keep it in the inbox and try again.
                if path not in self._failing:
                    log.error("tt10 %s: readings not accepted (%s); kept in the inbox", path, exc)
                self._failing.add(path)
                self._watched.pop(path, None)
                return
        self._failing.discard(path)
        where = await asyncio.to_thread(self._archive, outcome, parsed)
        for problem in parsed.skipped:
            await dead_letter(
                Rejected(
                    f"{where}:{problem.line}",
                    str(LineProblem(where.name, problem.line, problem.reason)),
                    problem.text.encode(),
                    parsed.station,
                )
            )

    # -- the blocking steps, run in a thread --------------------------------------------------

    def _examine(self, path: Path) -> _Outcome:
        try:
            code = parse_file_name(path.name, self.tz).code
        except ValueError:
            code = ""
        station = self.stations.get(code)
        station_id = station.id if station else ""
        # Never more than the limit in memory (issue 13: a 200 MB file was read whole): read
        # one byte past it to know it is too large, keep only a head for the dead letter.
        limit = self.limits.max_file_bytes
        try:
            with path.open("rb") as file:
                content = file.read(limit + 1)
        except OSError as exc:
            return self._refused(path, station_id, b"", f"unreadable: {exc.strerror or exc}")
        if len(content) > limit:
            try:
                size = f"{path.stat().st_size} bytes"
            except OSError:
                size = "size unknown"
            return self._refused(
                path,
                station_id,
                content[:DEAD_LETTER_HEAD],
                f"too large: {size}, more than the {limit} a TT10 file may have "
                "(one is a few hundred bytes)",
            )
        outcome = _Outcome(path, content)
        outcome.digest = hashlib.sha256(content).hexdigest()
        outcome.station = station_id
        assert self._index is not None
        outcome.duplicate_of = self._index.seen(outcome.digest) if content else None
        if outcome.duplicate_of is not None:
            return outcome
        try:
            outcome.parsed = parse_tt10(
                path.name, content, self.stations, now=self.now(), tz=self.tz, limits=self.limits
            )
        except Tt10FileRejected as rejection:
            outcome.rejection = rejection
            if not station and code:
                self.unknown_codes[code] += 1
        return outcome

    @staticmethod
    def _refused(path: Path, station: str, head: bytes, reason: str) -> _Outcome:
        """A file rejected before it is parsed: too large, or unreadable."""
        outcome = _Outcome(path, head, station=station)
        outcome.rejection = Tt10FileRejected(LineProblem(path.name, 0, reason), station)
        return outcome

    def _counters(self, station: str) -> list[Tt10Counters]:
        if not station:
            return [self.totals]
        return [self.totals, self.per_station.setdefault(station, Tt10Counters())]

    def _month_dir(self, path: Path) -> Path:
        try:
            when = parse_file_name(path.name, self.tz).local_time
        except ValueError:
            when = self.now().astimezone(self.tz)
        return self.archive_dir / f"{when:%Y}" / f"{when:%m}"

    def _reject(self, outcome: _Outcome, rejection: Tt10FileRejected) -> Path:
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        target = _unique(self.rejected_dir / outcome.path.name)
        outcome.path.replace(target)
        problem = rejection.problem
        reason = LineProblem(target.name, problem.line, problem.reason, problem.text)
        lines = [str(reason)] + ([f"  line {problem.line}: {problem.text}"] if problem.text else [])
        target.with_name(target.name + ".reason").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
        for counters in self._counters(outcome.station):
            counters.files_rejected += 1
        self._forget(outcome.path)
        log.warning("tt10 rejected %s", reason)
        return target

    def _archive(self, outcome: _Outcome, parsed: Tt10File) -> Path:
        folder = self._month_dir(outcome.path)
        folder.mkdir(parents=True, exist_ok=True)
        target = _unique(folder / outcome.path.name)
        assert self._index is not None
        self._index.add(outcome.digest, str(target), parsed.station, len(parsed.readings))
        outcome.path.replace(target)
        if parsed.skipped:
            target.with_name(target.name + ".reason").write_text(
                "".join(
                    f"{target.name}:{p.line}: skipped: {p.reason}\n  line {p.line}: {p.text}\n"
                    for p in parsed.skipped
                ),
                encoding="utf-8",
            )
        for counters in self._counters(parsed.station):
            counters.files_processed += 1
            counters.readings += len(parsed.readings)
            counters.lines_skipped += len(parsed.skipped)
        self._forget(outcome.path)
        if parsed.skipped:
            log.warning(
                "tt10 %s: %d reading(s), %d line(s) skipped: %s",
                target.name,
                len(parsed.readings),
                len(parsed.skipped),
                "; ".join(f"line {p.line}: {p.reason}" for p in parsed.skipped),
            )
        else:
            log.debug("tt10 %s: %d reading(s)", target.name, len(parsed.readings))
        return target

    def _archive_duplicate(self, outcome: _Outcome) -> Path:
        folder = self._month_dir(outcome.path) / "duplicate"
        folder.mkdir(parents=True, exist_ok=True)
        target = _unique(folder / outcome.path.name)
        outcome.path.replace(target)
        for counters in self._counters(outcome.station):
            counters.files_duplicate += 1
        self._forget(outcome.path)
        log.info("tt10 %s: same content as %s; not sent again", target, outcome.duplicate_of)
        return target

    def _forget(self, path: Path) -> None:
        self._watched.pop(path, None)
        self._failing.discard(path)

    # -- health -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        pending = 0
        with contextlib.suppress(OSError):
            pending = sum(
                1 for p in self.inbox.iterdir() if p.is_file() and not p.name.startswith(".")
            )
        return {
            "inbox": str(self.inbox),
            "pending": pending,
            "totals": asdict(self.totals),
            "stations": {s: asdict(c) for s, c in sorted(self.per_station.items())},
            "unknown_codes": dict(self.unknown_codes),
        }
