"""Making a report: gather its figures from the store, render each format, keep the files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from collector.store import ReadingStore
from quantrac.reports.archive import ReportArchive, ReportFormat
from quantrac.reports.gather import AlertingRecords, gather
from quantrac.reports.model import Report
from quantrac.reports.period import ReportPeriod
from quantrac.site import Site

log = logging.getLogger(__name__)


def render(report: Report, fmt: ReportFormat) -> bytes:
    if fmt is ReportFormat.PDF:
        from quantrac.reports.pdf import render_pdf

        return render_pdf(report)
    from quantrac.reports.xlsx import render_xlsx

    return render_xlsx(report)


@dataclass(frozen=True)
class MadeReport:
    report: Report
    files: dict[ReportFormat, Path]


def make_report(
    site: Site,
    store: ReadingStore,
    period: ReportPeriod,
    formats: Iterable[ReportFormat],
    *,
    archive: ReportArchive | None = None,
    out: Path | None = None,
    alerting: AlertingRecords | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MadeReport:
    """Gather once, render each format; files go to ``out`` (a file for one format, else a
    folder) or into the archive."""
    report = gather(site, store, period, alerting=alerting, now=now)
    chosen = list(dict.fromkeys(formats))
    files: dict[ReportFormat, Path] = {}
    for fmt in chosen:
        content = render(report, fmt)
        if out is not None:
            target = out if len(chosen) == 1 and out.suffix else out / f"{report.file_stem}.{fmt}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        elif archive is not None:
            target = archive.write(period.kind, period.slug, fmt, content)
        else:
            raise ValueError("make_report needs an archive or an output path")
        files[fmt] = target
        log.info("report %s %s: %s (%d bytes)", period.kind, period.slug, target, len(content))
    return MadeReport(report, files)
