"""``quantrac report``: make a daily or monthly report now, list the archive, run the schedule.

quantrac report daily examples/hue --date 2025-10-27 --format pdf --format xlsx
quantrac report monthly examples/hue --date 2025-10 --store influxdb://…/quantrac --out out/
quantrac report schedule examples/hue          # 07:00 daily, the 1st monthly, by email
quantrac report list
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from collector.store import ReadingStore
from quantrac.cli_common import (
    console,
    err_console,
    settings_with,
    setup_logging,
    site_or_exit,
)
from quantrac.reports.archive import ReportArchive, ReportFormat
from quantrac.reports.period import ReportKind, ReportPeriod, site_zone
from quantrac.settings import Settings
from quantrac.site import Site

report_app = typer.Typer(
    help="Daily and monthly reports, in Vietnamese (PDF, XLSX).", no_args_is_help=True
)

SiteArg = Annotated[Path, typer.Argument(help="site directory (site.yaml + stations/)")]
DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date", help="the day (YYYY-MM-DD) or month (YYYY-MM); default: yesterday / last month"
    ),
]
FormatOpt = Annotated[
    list[ReportFormat] | None, typer.Option("--format", help="pdf or xlsx; repeat for both")
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="SQLite path or influxdb:// … victoriametrics:// URL (env "
                 "QUANTRAC_STORE_URL; default: SQLite in the data directory)"),
]  # fmt: skip
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="the store, alerting records, report archive")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="a file (one format) or a folder; default: the report archive"),
]
SendOpt = Annotated[
    bool, typer.Option("--send", help="also email it to the group reports.recipients names")
]


def parse_day(text: str | None, kind: ReportKind, now: datetime, site_tz: str) -> ReportPeriod:
    zone = site_zone(site_tz)
    if text is None:
        return ReportPeriod.previous(kind, now, zone)
    try:
        if kind is ReportKind.MONTHLY and len(text) == 7:
            return ReportPeriod.monthly(date.fromisoformat(f"{text}-01"), zone)
        return ReportPeriod.of(kind, date.fromisoformat(text), zone)
    except ValueError:
        shape = "YYYY-MM-DD" if kind is ReportKind.DAILY else "YYYY-MM or YYYY-MM-DD"
        raise typer.BadParameter(f"{text!r} is not a date ({shape})", param_hint="--date") from None


def _store(settings: Settings, site: Site) -> ReadingStore:
    from collector.store import open_store
    from quantrac.runners import station_catalog

    try:
        return open_store(settings.store, station_catalog(site))
    except ValueError as exc:
        # The store's message may quote its URL, password included: never printed.
        err_console.print(f"[red]--store: {str(exc).replace(settings.store, '<store URL>')}[/]")
        raise typer.Exit(2) from None


def _make(
    kind: ReportKind,
    site_dir: Path,
    day: str | None,
    formats: list[ReportFormat] | None,
    store_url: str | None,
    data_dir: Path | None,
    out: Path | None,
    send: bool,
    verbose: bool,
) -> None:
    from quantrac.reports.gather import AlertingRecords
    from quantrac.reports.make import make_report
    from quantrac.reports.schedule import ReportSendError, send_report

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    period = parse_day(day, kind, datetime.now(UTC), site.settings.timezone)
    settings = settings_with(data_dir, store_url)
    store = _store(settings, site)
    chosen = formats or [ReportFormat.PDF]
    if out is not None and out.suffix and len(chosen) > 1:
        raise typer.BadParameter("two formats need a folder, not a file", param_hint="--out")
    try:
        made = make_report(
            site,
            store,
            period,
            chosen,
            archive=ReportArchive.in_dir(settings.data_dir),
            out=out,
            alerting=AlertingRecords.in_dir(settings.data_dir),
        )
    finally:
        store.close()
    for path in made.files.values():
        console.print(f"{path}")
    if send:
        try:
            deliveries = asyncio.run(
                send_report(made, site, site.settings.reports, settings.data_dir)
            )
        except ReportSendError as exc:
            err_console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        for delivery in deliveries:
            console.print(f"{delivery.recipient}: {delivery.status.value} {delivery.detail}")
        if not deliveries:
            err_console.print("[yellow]reports.recipients is not set in site.yaml: not sent[/]")


@report_app.command("daily")
def daily(
    site_dir: SiteArg,
    day: DateOpt = None,
    formats: FormatOpt = None,
    store_url: StoreOpt = None,
    data_dir: DataDirOpt = None,
    out: OutOpt = None,
    send: SendOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The report of one day (default: yesterday, local time)."""
    _make(ReportKind.DAILY, site_dir, day, formats, store_url, data_dir, out, send, verbose)


@report_app.command("monthly")
def monthly(
    site_dir: SiteArg,
    day: DateOpt = None,
    formats: FormatOpt = None,
    store_url: StoreOpt = None,
    data_dir: DataDirOpt = None,
    out: OutOpt = None,
    send: SendOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The report of one month (default: last month)."""
    _make(ReportKind.MONTHLY, site_dir, day, formats, store_url, data_dir, out, send, verbose)


@report_app.command("list")
def list_reports(data_dir: DataDirOpt = None) -> None:
    """The reports in the archive, newest first."""
    settings = settings_with(data_dir, None)
    for entry in ReportArchive.in_dir(settings.data_dir).list():
        console.print(f"{entry.kind.value:8} {entry.period:10} {entry.format.value:4} "
                      f"{entry.size:>9,} B  {entry.path}")  # fmt: skip


@report_app.command("schedule")
def schedule(
    site_dir: SiteArg,
    store_url: StoreOpt = None,
    data_dir: DataDirOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Make and send the reports on schedule until stopped (site.yaml reports:)."""
    from quantrac.reports.schedule import ReportScheduler, recipient_problem

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    problem = recipient_problem(site)
    if problem is not None:
        err_console.print(f"[red]{problem}[/]")
        raise typer.Exit(2)
    settings = settings_with(data_dir, store_url)
    store = _store(settings, site)
    scheduler = ReportScheduler(site, store, settings.data_dir)
    for kind, trigger in scheduler.triggers().items():
        console.print(f"{kind.value}: {trigger}")

    async def main() -> None:
        task = asyncio.ensure_future(scheduler.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        store.close()
