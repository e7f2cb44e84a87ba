"""The shared machinery: retry rule, backoff, token bucket, running wrapper, notification log."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from alerting.model import Delivery, DeliveryStatus
from alerting.notifiers.base import (
    DeliveryRunner,
    NotifierContext,
    Outcome,
    RateLimit,
    RetryPolicy,
    TokenBucket,
    jsonable,
    loggable_url,
    status_of,
    status_of_exception,
)
from alerting.notifiers.log import NotificationLog
from tests.alerting.receivers import ControlledClock, flood_notification


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, DeliveryStatus.SENT),
        (201, DeliveryStatus.SENT),
        (202, DeliveryStatus.SENT),
        (204, DeliveryStatus.SENT),
        (301, DeliveryStatus.FAILED),  # redirects are not followed: a wrong URL
        (400, DeliveryStatus.FAILED),
        (401, DeliveryStatus.FAILED),
        (403, DeliveryStatus.FAILED),
        (404, DeliveryStatus.FAILED),
        (408, DeliveryStatus.RETRY),
        (409, DeliveryStatus.FAILED),
        (422, DeliveryStatus.FAILED),
        (429, DeliveryStatus.RETRY),
        (500, DeliveryStatus.RETRY),
        (502, DeliveryStatus.RETRY),
        (503, DeliveryStatus.RETRY),
        (504, DeliveryStatus.RETRY),
    ],
)
def test_the_shared_retry_rule(code: int, status: DeliveryStatus) -> None:
    assert status_of(code) is status


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (httpx.ConnectError("refused"), DeliveryStatus.RETRY),
        (httpx.ReadTimeout("slow"), DeliveryStatus.RETRY),
        (httpx.RemoteProtocolError("closed"), DeliveryStatus.RETRY),
        (httpx.UnsupportedProtocol("ftp://"), DeliveryStatus.FAILED),
        (TimeoutError(), DeliveryStatus.RETRY),
        (ConnectionResetError(), DeliveryStatus.RETRY),
        (ValueError("a bug"), DeliveryStatus.FAILED),
    ],
)
def test_exceptions_under_the_rule(exc: BaseException, status: DeliveryStatus) -> None:
    assert status_of_exception(exc) is status


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay_s=1, multiplier=2, max_delay_s=10, jitter=0)
    rng = random.Random(1)
    assert [policy.delay_s(n, rng) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_jitter_shortens_each_pause_by_at_most_its_share() -> None:
    policy = RetryPolicy(initial_delay_s=4, multiplier=2, max_delay_s=100, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay_s(3, rng) for _ in range(200)]
    assert all(8 <= d <= 16 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # spread out, not in lockstep


async def test_token_bucket_spaces_requests_at_its_rate() -> None:
    clock = ControlledClock()
    bucket = TokenBucket.of(RateLimit(messages=2, per_s=1, burst=3), clock=clock, sleep=clock.sleep)
    granted = []
    for _ in range(7):
        await bucket.acquire()
        granted.append(clock.now - 1000.0)
    # a burst of 3 at once, then one every 0.5 s
    assert granted == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])


async def test_token_bucket_refills_while_idle_but_not_beyond_burst() -> None:
    clock = ControlledClock()
    bucket = TokenBucket(1.0, 2, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        assert await bucket.acquire() == 0
    clock.now += 60  # a quiet minute: two tokens back, not sixty
    assert [await bucket.acquire() for _ in range(3)] == pytest.approx([0, 0, 1.0])


def _context(clock: ControlledClock, book: NotificationLog | None = None) -> NotifierContext:
    return NotifierContext(
        log=book,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(3),
        now=lambda: datetime(2025, 10, 28, 3, 16, tzinfo=UTC),
    )


def _scripted(
    statuses: list[DeliveryStatus],
) -> tuple[Callable[[], Awaitable[Outcome]], list[int]]:
    calls: list[int] = []

    async def attempt() -> Outcome:
        calls.append(1)
        status = statuses[min(len(calls), len(statuses)) - 1]
        return Outcome(Delivery("sms", "84905123456", status, f"answer {len(calls)}"))

    return attempt, calls


async def test_runner_retries_until_sent_and_logs_every_attempt(tmp_path: Path) -> None:
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        runner = DeliveryRunner(
            "sms", RetryPolicy(initial_delay_s=1, jitter=0), None, _context(clock, book)
        )
        attempt, calls = _scripted(
            [DeliveryStatus.RETRY, DeliveryStatus.RETRY, DeliveryStatus.SENT]
        )
        notification = flood_notification()
        delivery = await runner.deliver(
            notification, "84905123456", attempt, name="Ông Trần Văn Hùng"
        )
        assert delivery.status is DeliveryStatus.SENT
        assert len(calls) == 3
        assert clock.sleeps == [1, 2]
        entries = book.entries(notification.key)
        assert [(e.attempt, e.status) for e in entries] == [
            (1, DeliveryStatus.RETRY),
            (2, DeliveryStatus.RETRY),
            (3, DeliveryStatus.SENT),
        ]
        assert entries[-1].recipient_name == "Ông Trần Văn Hùng"
        assert entries[-1].title == notification.title
        assert book.dead_letters() == []


async def test_runner_gives_up_after_max_attempts_into_the_dead_letter(tmp_path: Path) -> None:
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        policy = RetryPolicy(max_attempts=4, initial_delay_s=1, jitter=0)
        runner = DeliveryRunner("sms", policy, None, _context(clock, book))
        attempt, calls = _scripted([DeliveryStatus.RETRY])
        delivery = await runner.deliver(flood_notification(), "84905123456", attempt)
        assert delivery.status is DeliveryStatus.RETRY
        assert delivery.detail.startswith("gave up after 4 attempt(s)")
        assert len(calls) == 4
        assert clock.sleeps == [1, 2, 4]
        (dead,) = book.dead_letters()
        assert (dead.attempt, dead.exhausted, dead.recipient) == (4, True, "84905123456")


async def test_runner_stops_when_the_time_budget_would_be_exceeded() -> None:
    clock = ControlledClock()
    policy = RetryPolicy(max_attempts=50, initial_delay_s=10, jitter=0, max_elapsed_s=60)
    runner = DeliveryRunner("webhook", policy, None, _context(clock))
    attempt, calls = _scripted([DeliveryStatus.RETRY])
    await runner.deliver(flood_notification(), "ioc", attempt)
    assert clock.sleeps == [10, 20]  # a third pause (40 s) would end after 60 s
    assert len(calls) == 3


async def test_runner_never_retries_a_failure(tmp_path: Path) -> None:
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        runner = DeliveryRunner("sms", RetryPolicy(), None, _context(clock, book))
        attempt, calls = _scripted([DeliveryStatus.FAILED, DeliveryStatus.SENT])
        delivery = await runner.deliver(flood_notification(), "84905123456", attempt)
        assert delivery.status is DeliveryStatus.FAILED
        assert len(calls) == 1
        assert clock.sleeps == []
        (dead,) = book.dead_letters()
        assert (dead.status, dead.exhausted) == (DeliveryStatus.FAILED, False)


async def test_runner_turns_an_exception_into_a_failed_delivery() -> None:
    clock = ControlledClock()
    runner = DeliveryRunner("email", RetryPolicy(), None, _context(clock))

    async def broken() -> Outcome:
        raise KeyError("template field")

    delivery = await runner.deliver(flood_notification(), "a@example.vn", broken)
    assert delivery.status is DeliveryStatus.FAILED
    assert "KeyError" in delivery.detail


async def test_runner_honours_retry_after_within_max_delay() -> None:
    clock = ControlledClock()
    policy = RetryPolicy(initial_delay_s=1, jitter=0, max_delay_s=30)
    runner = DeliveryRunner("sms", policy, None, _context(clock))
    answers = [Outcome(Delivery("sms", "x", DeliveryStatus.RETRY), 20.0)] * 1 + [
        Outcome(Delivery("sms", "x", DeliveryStatus.RETRY), 3600.0),
        Outcome(Delivery("sms", "x", DeliveryStatus.SENT)),
    ]

    async def attempt() -> Outcome:
        return answers.pop(0)

    await runner.deliver(flood_notification(), "x", attempt)
    assert clock.sleeps == [20, 30]  # asked 20 s: waited 20; asked an hour: capped at 30


async def test_runner_spends_a_rate_limit_token_per_attempt() -> None:
    clock = ControlledClock()
    runner = DeliveryRunner(
        "sms",
        RetryPolicy(initial_delay_s=0.1, jitter=0),
        RateLimit(messages=1, per_s=2),
        _context(clock),
    )
    attempt, calls = _scripted([DeliveryStatus.RETRY, DeliveryStatus.SENT])
    await runner.deliver(flood_notification(), "x", attempt)
    # retry pause 0.1 s, then the bucket makes up the rest of its 2 s spacing
    assert clock.sleeps == pytest.approx([0.1, 1.9])
    assert len(calls) == 2


async def test_already_sent_survives_a_restart_and_prevents_a_resend(tmp_path: Path) -> None:
    path = tmp_path / "notifications.sqlite3"
    clock = ControlledClock()
    notification = flood_notification()
    with NotificationLog(path) as book:
        runner = DeliveryRunner("sms", RetryPolicy(), None, _context(clock, book))
        attempt, calls = _scripted([DeliveryStatus.SENT])
        await runner.deliver(notification, "84905123456", attempt)
        assert len(calls) == 1
    with NotificationLog(path) as book:  # the service restarted
        assert book.already_sent(notification.key, "sms", "84905123456")
        assert not book.already_sent(notification.key, "sms", "84914000111")
        assert not book.already_sent(notification.key, "zalo", "84905123456")
        runner = DeliveryRunner("sms", RetryPolicy(), None, _context(clock, book))
        attempt, calls = _scripted([DeliveryStatus.SENT])
        delivery = await runner.deliver(notification, "84905123456", attempt)
        assert delivery.status is DeliveryStatus.SENT
        assert delivery.detail == "already sent (notification log)"
        assert calls == []
        assert len(book.entries(notification.key)) == 1


async def test_a_later_success_takes_a_delivery_out_of_the_dead_letter(tmp_path: Path) -> None:
    clock = ControlledClock()
    notification = flood_notification()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        runner = DeliveryRunner("sms", RetryPolicy(max_attempts=1), None, _context(clock, book))
        attempt, _ = _scripted([DeliveryStatus.RETRY])
        await runner.deliver(notification, "84905123456", attempt)
        assert len(book.dead_letters()) == 1
        attempt, _ = _scripted([DeliveryStatus.SENT])
        await runner.deliver(notification, "84905123456", attempt)
        assert book.dead_letters() == []


def test_log_is_in_wal_mode(tmp_path: Path) -> None:
    with NotificationLog(tmp_path / "log.sqlite3"):
        mode = sqlite3.connect(tmp_path / "log.sqlite3").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def test_facts_become_json() -> None:
    facts = {
        "value": 3.45,
        "nan": float("nan"),
        "at": datetime(2025, 10, 28, 10, 15),
        "severity": flood_notification().severity,
        "kind": flood_notification().kind,
        "stations": ("kim_long", "phu_oc"),
    }
    assert jsonable(facts) == {
        "value": 3.45,
        "nan": None,
        "at": "2025-10-28T10:15:00Z",
        "severity": 2,
        "kind": "flood",
        "stations": ["kim_long", "phu_oc"],
    }


def test_logged_urls_lose_credentials_and_query() -> None:
    assert (
        loggable_url("https://user:pw@sms.example.vn:8443/api/send?token=abc")
        == "https://sms.example.vn:8443/api/send"
    )
