"""Reports on schedule: 07:00 local for the day before, the 1st for the month before; made into
the archive and mailed with both files to the recipient group, through the email notifier and
a real SMTP server (aiosmtpd) — once, however often the job runs."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from alerting.config import AlertingConfig
from quantrac.reports.archive import ReportArchive, ReportFormat
from quantrac.reports.config import ReportsConfig
from quantrac.reports.period import ReportKind
from quantrac.reports.schedule import ReportScheduler, ReportSendError, send_report
from quantrac.site import Site
from tests.alerting.test_notifiers_email import Mailbox
from tests.dashboards.flood_and_smog import ZONE
from tests.reports.conftest import Replayed
from tests.servers import free_port

MORNING = datetime(2025, 10, 29, 7, 0, tzinfo=ZONE)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def alerting_config(port: int) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "notifiers": {
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "plain",
                    "sender": "quantrac@thuathienhue.example.gov.vn",
                    "sender_name": "Hệ thống quan trắc tỉnh",
                }
            },
            "routing": {
                "recipients": {
                    "so_tnmt": {
                        "channels": ["email"],
                        "members": [
                            {"name": "Phòng Quan trắc", "email": "qt@stnmt.example.gov.vn"},
                            {"name": "Lãnh đạo Sở", "email": "giamdoc@stnmt.example.gov.vn"},
                        ],
                    }
                }
            },
        }
    )


def with_reports(site: Site, **config: object) -> Site:
    reports = ReportsConfig.model_validate(config)
    return replace(site, settings=site.settings.model_copy(update={"reports": reports}))


def test_triggers_are_local_time(replayed: Replayed, tmp_path: Path) -> None:
    site = with_reports(replayed.site, monthly_day=1, daily_at="07:00")
    triggers = ReportScheduler(site, replayed.store, tmp_path).triggers()
    after = datetime(2025, 10, 28, 7, 30, tzinfo=ZONE)
    daily = triggers[ReportKind.DAILY].get_next_fire_time(None, after)
    monthly = triggers[ReportKind.MONTHLY].get_next_fire_time(None, after)
    assert daily == datetime(2025, 10, 29, 7, 0, tzinfo=ZONE)
    assert monthly == datetime(2025, 11, 1, 7, 0, tzinfo=ZONE)
    only_daily = with_reports(replayed.site, monthly=False)
    assert set(ReportScheduler(only_daily, replayed.store, tmp_path).triggers()) == {
        ReportKind.DAILY
    }


def test_the_morning_run_archives_and_mails_once(
    replayed: Replayed, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    site = with_reports(replayed.site, recipients="so_tnmt")
    scheduler = ReportScheduler(
        site, replayed.store, tmp_path, alerting=alerting_config(port), now=lambda: MORNING
    )
    made = asyncio.run(scheduler.run_job(ReportKind.DAILY))
    assert made is not None
    archive = ReportArchive.in_dir(tmp_path)
    assert [(e.period, e.format) for e in archive.list()] == [
        ("2025-10-28", ReportFormat.XLSX),
        ("2025-10-28", ReportFormat.PDF),
    ]
    assert sorted(e for envelope in box.envelopes for e in envelope.rcpt_tos) == [
        "giamdoc@stnmt.example.gov.vn",
        "qt@stnmt.example.gov.vn",
    ]
    content = box.envelopes[0].content
    assert isinstance(content, bytes)
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Báo cáo quan trắc ngày 28/10/2025, Thừa Thiên Huế"
    body = message.get_body(("plain",))
    assert body is not None
    assert "Kim Long: đỉnh 3,80 m lúc 18:00 28/10, trên BĐ III 0,30 m." in body.get_content()
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(files) == {"bao-cao-ngay-2025-10-28.pdf", "bao-cao-ngay-2025-10-28.xlsx"}
    assert files["bao-cao-ngay-2025-10-28.pdf"].startswith(b"%PDF-")

    # Again (a restart, a second scheduler): made again, mailed no more.
    assert asyncio.run(scheduler.run_job(ReportKind.DAILY)) is not None
    assert len(box.envelopes) == 2
    assert scheduler.missing() == [ReportKind.MONTHLY]  # September's was never made
    assert scheduler.health()["failures"] == 0


def test_a_recipient_group_that_is_not_there_is_named(replayed: Replayed, tmp_path: Path) -> None:
    site = with_reports(replayed.site, recipients="khong_co")
    scheduler = ReportScheduler(site, replayed.store, tmp_path, now=lambda: MORNING)
    made = asyncio.run(scheduler.run_job(ReportKind.DAILY))
    assert made is None  # made and archived, but the send failed: counted, named
    assert "khong_co" in str(scheduler.health()["last_error"])
    with pytest.raises(ReportSendError, match="no email notifier"):
        asyncio.run(
            send_report(
                made_now(replayed, tmp_path),
                site,
                ReportsConfig(recipients="so_tnmt"),
                tmp_path,
                alerting=AlertingConfig.model_validate(
                    {"notifiers": {"console": {}}, "routing": {"recipients": {"so_tnmt": {
                        "channels": ["console"], "members": [{"name": "x"}]}}}}
                ),
            )
        )  # fmt: skip


def made_now(replayed: Replayed, tmp_path: Path):  # type: ignore[no-untyped-def]
    from quantrac.reports.make import make_report
    from quantrac.reports.period import ReportPeriod

    return make_report(
        replayed.site,
        replayed.store,
        ReportPeriod.daily(replayed.replay.flood_day),
        [ReportFormat.XLSX],
        archive=ReportArchive.in_dir(tmp_path),
    )


def test_the_schedule_refuses_a_group_it_cannot_mail(replayed: Replayed, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from quantrac.cli import app
    from quantrac.reports.schedule import recipient_problem

    assert recipient_problem(replayed.site) is None  # the example's so_tnmt, by email
    config = replayed.site.directory / "site.yaml"
    original = config.read_text(encoding="utf-8")
    try:
        config.write_text(original.replace("recipients: so_tnmt", "recipients: ban_chi_huy"))
        result = CliRunner().invoke(
            app, ["report", "schedule", str(replayed.site.directory), "--data-dir", str(tmp_path)]
        )
    finally:
        config.write_text(original, encoding="utf-8")
    assert result.exit_code == 2
    assert "nobody in 'ban_chi_huy' has an email address" in " ".join(result.output.split())
