"""Where made reports are kept: ``<data_dir>/reports/<daily|monthly>/<name>.<pdf|xlsx>``.

The scheduler writes there, ``quantrac report`` by default too, and the API lists and serves
what is there (``GET /reports``). A report is written to a hidden temporary file and renamed, so
a reader never sees half a file, and a report made again replaces the old one whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from quantrac.reports.period import ReportKind


class ReportFormat(StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self is ReportFormat.PDF:
            return "application/pdf"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# bao-cao-ngay-2025-10-27.pdf, bao-cao-thang-2025-10.xlsx: the only names the archive serves.
NAME = re.compile(
    r"bao-cao-(?P<word>ngay|thang)-(?P<slug>\d{4}-\d{2}(?:-\d{2})?)\.(?P<ext>pdf|xlsx)"
)
_WORDS = {ReportKind.DAILY: "ngay", ReportKind.MONTHLY: "thang"}


@dataclass(frozen=True, slots=True)
class ArchivedReport:
    kind: ReportKind
    period: str  # 2025-10-27 or 2025-10
    format: ReportFormat
    name: str
    path: Path
    size: int
    made_at: datetime


def report_name(kind: ReportKind, slug: str, fmt: ReportFormat) -> str:
    return f"bao-cao-{_WORDS[kind]}-{slug}.{fmt.value}"


class ReportArchive:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def in_dir(cls, data_dir: Path) -> ReportArchive:
        return cls(data_dir / "reports")

    def path_for(self, kind: ReportKind, slug: str, fmt: ReportFormat) -> Path:
        return self.root / kind.value / report_name(kind, slug, fmt)

    def write(self, kind: ReportKind, slug: str, fmt: ReportFormat, content: bytes) -> Path:
        path = self.path_for(kind, slug, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.part")
        with part.open("wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        part.replace(path)
        return path

    def find(self, kind: ReportKind, name: str) -> ArchivedReport | None:
        """A report by its file name; None for anything else (no paths, no other files)."""
        match = NAME.fullmatch(name)
        if match is None or match["word"] != _WORDS[kind]:
            return None
        path = self.root / kind.value / name
        if not path.is_file():
            return None
        return self._entry(kind, path, match)

    def list(self, kind: ReportKind | None = None) -> list[ArchivedReport]:
        """Newest period first, PDF before XLSX."""
        found = []
        for each in [kind] if kind is not None else list(ReportKind):
            folder = self.root / each.value
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                match = NAME.fullmatch(path.name)
                if match is not None and match["word"] == _WORDS[each] and path.is_file():
                    found.append(self._entry(each, path, match))
        return sorted(found, key=lambda r: (r.period, r.kind.value, r.format.value), reverse=True)

    @staticmethod
    def _entry(kind: ReportKind, path: Path, match: re.Match[str]) -> ArchivedReport:
        stat = path.stat()
        return ArchivedReport(
            kind=kind,
            period=match["slug"],
            format=ReportFormat(match["ext"]),
            name=path.name,
            path=path,
            size=stat.st_size,
            made_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        )
