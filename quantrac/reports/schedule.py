"""Reports on schedule: the day before at 07:00 local, the month before on the 1st (APScheduler),
kept in the archive and sent by email to the recipient group ``reports.recipients`` names in
alerting.yaml — through the email notifier, so its retries, its rate limit and the notification
log apply: a report reaches each recipient once, even when the service restarts and makes it
again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from alerting.config import AlertingConfig, load_alerting
from alerting.model import AlertKind, Delivery, Notification, NotificationState, Severity
from alerting.notifiers.base import NotifierContext
from alerting.notifiers.email import Attachment, EmailConfig, EmailNotifier
from alerting.notifiers.log import NotificationLog
from collector.store import ReadingStore
from quantrac.reports.archive import ReportArchive
from quantrac.reports.config import ReportsConfig
from quantrac.reports.figures.warnings import REPORT_KEY_PREFIX
from quantrac.reports.gather import AlertingRecords
from quantrac.reports.make import MadeReport, make_report
from quantrac.reports.period import ReportKind, ReportPeriod, site_zone
from quantrac.reports.sections import summary_lines
from quantrac.site import Site

log = logging.getLogger(__name__)


class ReportSendError(ValueError):
    """The site's config cannot send reports: names the group or the notifier missing."""


def report_notification(made: MadeReport, site: Site, now: datetime) -> Notification:
    """The email: subject and body in Vietnamese; the key makes it one message per period."""
    report = made.report
    # A comma, not a dash: Python's email package loses the space after a non-ASCII "—" when
    # the encoded subject folds there ("2025 —Thừa").
    title = f"Báo cáo quan trắc {report.period.title}, {report.site}"
    lines = "\n".join(f"- {line}" for line in summary_lines(report))
    text = f"{title}\n\nTóm tắt:\n{lines}\n\nBáo cáo đầy đủ ở các tệp đính kèm (PDF, XLSX)."
    return Notification(
        key=f"{REPORT_KEY_PREFIX}{site.settings.gateway_id}:{report.period.kind}:"
        f"{report.period.slug}",
        # The email notifier does not read these three: a report is not an incident.
        state=NotificationState.FIRING,
        kind=AlertKind.STATION,
        severity=Severity.INFO,
        level=0,
        title=title,
        text=text,
        text_en=f"quantrac {report.period.kind} report {report.period.slug}, {report.site}",
        created_at=now,
    )


def recipient_problem(site: Site, alerting: AlertingConfig | None = None) -> str | None:
    """Why the scheduled reports could not be mailed (None: they can); checked at start."""
    group_name = site.settings.reports.recipients
    if group_name is None:
        return None
    config = alerting or load_alerting(site.directory)
    group = config.routing.recipients.get(group_name)
    if group is None:
        return f"reports.recipients: no recipient group {group_name!r} in alerting.yaml"
    if not isinstance(config.channel_configs().get("email"), EmailConfig):
        return "reports are sent by email: alerting.yaml has no email notifier"
    if not any(member.email for member in group.members):
        return f"reports.recipients: nobody in {group_name!r} has an email address"
    return None


async def send_report(
    made: MadeReport,
    site: Site,
    reports: ReportsConfig,
    data_dir: Path,
    *,
    alerting: AlertingConfig | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Delivery]:
    """Email the report's files to ``reports.recipients``; one Delivery per member."""
    if reports.recipients is None:
        return []
    config = alerting or load_alerting(site.directory)
    group = config.routing.recipients.get(reports.recipients)
    if group is None:
        raise ReportSendError(
            f"reports.recipients: no recipient group {reports.recipients!r} in alerting.yaml"
        )
    channel = config.channel_configs().get("email")
    if not isinstance(channel, EmailConfig):
        raise ReportSendError("reports are sent by email: alerting.yaml has no email notifier")
    attachments = [
        Attachment(path.name, path.read_bytes(), fmt.media_type) for fmt, path in made.files.items()
    ]
    with NotificationLog(data_dir / "notifications.sqlite3") as book:
        context = NotifierContext(
            log=book,
            environ=os.environ if environ is None else environ,
            state_dir=data_dir,
            now=now,
        )
        notifier = EmailNotifier.from_config(channel, context)
        async with notifier:
            return await notifier.send(
                report_notification(made, site, now()),
                [member.recipient() for member in group.members],
                attachments,
            )


@dataclass
class ReportScheduler:
    """Makes and sends the site's reports on schedule; ``run_job`` is one run (tests call it)."""

    site: Site
    store: ReadingStore
    data_dir: Path
    environ: Mapping[str, str] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    alerting: AlertingConfig | None = None  # default: the site's alerting.yaml, read each run

    def __post_init__(self) -> None:
        self.config = self.site.settings.reports
        self.zone = site_zone(self.site.settings.timezone)
        self.archive = ReportArchive.in_dir(self.data_dir)
        self.made = 0
        self.failures = 0
        self.last_error: str | None = None

    def triggers(self) -> dict[ReportKind, CronTrigger]:
        """Daily at ``daily_at`` and monthly on ``monthly_day`` at ``monthly_at``, local time."""
        found = {}
        if self.config.daily:
            at = self.config.daily_at
            found[ReportKind.DAILY] = CronTrigger(
                hour=at.hour, minute=at.minute, timezone=self.zone
            )
        if self.config.monthly:
            at = self.config.monthly_at
            found[ReportKind.MONTHLY] = CronTrigger(
                day=self.config.monthly_day, hour=at.hour, minute=at.minute, timezone=self.zone
            )
        return found

    async def run_job(self, kind: ReportKind) -> MadeReport | None:
        """Make the report of the period before now, keep it, send it. Errors are logged and
        counted, never raised: the next run goes on."""
        period = ReportPeriod.previous(kind, self.now(), self.zone)
        try:
            made = await asyncio.to_thread(
                make_report,
                self.site,
                self.store,
                period,
                self.config.formats,
                archive=self.archive,
                alerting=AlertingRecords.in_dir(self.data_dir),
                now=self.now,
            )
            self.made += 1
            deliveries = await send_report(
                made,
                self.site,
                self.config,
                self.data_dir,
                alerting=self.alerting,
                environ=self.environ,
                now=self.now,
            )
        except Exception as exc:  # a store outage, a full disk: logged, tried at the next run
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("report %s %s failed", kind, period.slug)
            return None
        for delivery in deliveries:
            log.info("report %s sent to %s: %s", period.slug, delivery.recipient, delivery.status)
        return made

    def missing(self) -> list[ReportKind]:
        """Reports whose last due run was missed (the service was down at 07:00)."""
        due = []
        for kind in self.triggers():
            period = ReportPeriod.previous(kind, self.now(), self.zone)
            if not self.archive.path_for(kind, period.slug, self.config.formats[0]).exists():
                due.append(kind)
        return due

    async def run(self) -> None:
        scheduler = AsyncIOScheduler(timezone=self.zone)
        for kind, trigger in self.triggers().items():
            scheduler.add_job(
                self.run_job, trigger, args=[kind], id=f"report-{kind}", coalesce=True,
                misfire_grace_time=3600, max_instances=1,
            )  # fmt: skip
        scheduler.start()
        try:
            for kind in self.missing():
                log.info("report %s of the last period is missing: making it now", kind)
                await self.run_job(kind)
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)

    def health(self) -> dict[str, object]:
        return {"made": self.made, "failures": self.failures, "last_error": self.last_error}
