"""IOC webhook against a real HTTP receiver on loopback: the receiver verifies every signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerting.model import DeliveryStatus, NotificationState
from alerting.notifiers import NotifierConfigError, build_notifier
from alerting.notifiers.base import NotifierContext, RetryPolicy
from alerting.notifiers.log import NotificationLog
from alerting.notifiers.webhook import (
    WebhookConfig,
    WebhookNotifier,
    sign,
    verify_signature,
    webhook_body,
)
from tests.alerting.receivers import (
    ControlledClock,
    HttpReceiver,
    RecordedRequest,
    Reply,
    flood_notification,
    running,
)
from tests.servers import free_port

SECRET = "k7Qm2v9XwL4pZ8rT1yN6bC3dF5gH0jS"
ENV = {"QUANTRAC_IOC_SECRET": SECRET}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from running(HttpReceiver())


def _notifier(
    url: str,
    clock: ControlledClock,
    book: NotificationLog | None = None,
    **config: object,
) -> WebhookNotifier:
    context = NotifierContext(
        log=book, environ=ENV, sleep=clock.sleep, clock=clock, rng=random.Random(5)
    )
    retry = RetryPolicy(max_attempts=4, initial_delay_s=0.5, jitter=0)
    return WebhookNotifier.from_config(
        WebhookConfig.model_validate({"url": url, "retry": retry, **config}), context
    )


def _verified(request: RecordedRequest, now: float | None = None) -> bool:
    return verify_signature(
        SECRET,
        request.headers["x-quantrac-timestamp"],
        request.body,
        request.headers["x-quantrac-signature"],
        now=time.time() if now is None else now,
    )


async def test_the_ioc_receives_a_signed_versioned_notification(receiver: HttpReceiver) -> None:
    receiver.script("/quantrac", Reply(202, json={"accepted": True}))
    notification = flood_notification()
    async with _notifier(f"{receiver.url}/quantrac", ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, [])
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.recipient == f"{receiver.url}/quantrac"
    (request,) = receiver.to("/quantrac")
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["idempotency-key"] == notification.key
    assert abs(int(request.headers["x-quantrac-timestamp"]) - time.time()) < 60
    assert request.headers["x-quantrac-signature"].startswith("sha256=")
    assert _verified(request)
    assert request.json() == {
        "version": 1,
        "key": "inc-kim_long-flood-20251028T0315Z:firing:2",
        "state": "firing",
        "kind": "flood",
        "severity": "critical",
        "level": 2,
        "title": "[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        "text": notification.text,
        "text_en": notification.text_en,
        "created_at": "2025-10-28T03:15:00Z",
        "incidents": ["inc-kim_long-flood-20251028T0315Z"],
        "stations": ["kim_long"],
        "district": "Phú Xuân",
        "facts": {
            "value": 3.45,
            "unit": "m",
            "label": "BĐ II",
            "margin": 0.45,
            "rate": 0.12,
            "observed_at": "2025-10-28T03:15:00Z",
        },
    }
    # UTF-8 on the wire, not \\u escapes: the bytes signed are the bytes a person reads
    assert "Sông Hương".encode() in request.body


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = webhook_body(flood_notification())
    # what an integrator computes in any language: hex(HMAC-SHA256(secret, "ts." + body))
    expected = hmac.new(SECRET.encode(), b"1761621300." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1761621300, body) == f"sha256={expected}"


@pytest.mark.parametrize(
    ("age_s", "accepted"),
    [(0, True), (299, True), (300, True), (301, False), (3600, False), (-299, True), (-301, False)],
)
def test_replay_window(age_s: int, accepted: bool) -> None:
    body = webhook_body(flood_notification())
    signed_at = 1761621300
    header = sign(SECRET, signed_at, body)
    assert verify_signature(SECRET, str(signed_at), body, header, now=signed_at + age_s) is accepted


def test_tampering_and_wrong_secrets_are_refused() -> None:
    body = webhook_body(flood_notification())
    now = 1761621300
    header = sign(SECRET, now, body)
    assert verify_signature(SECRET, now, body, header, now=now)
    tampered = body.replace(b"3.45", b"1.45")
    assert not verify_signature(SECRET, now, tampered, header, now=now)
    assert not verify_signature("another secret", now, body, header, now=now)
    assert not verify_signature(SECRET, now + 1, body, header, now=now)  # timestamp is signed
    assert not verify_signature(SECRET, "soon", body, header, now=now)
    assert not verify_signature(SECRET, now, body, header.replace("sha256=", "sha1="), now=now)
    # re-serialising the parsed body breaks the signature: verify the raw bytes
    reserialised = json.dumps(json.loads(body)).encode()
    assert not verify_signature(SECRET, now, reserialised, header, now=now)


async def test_5xx_is_retried_with_backoff_until_accepted(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script(
        "/hook",
        Reply(503, body=b"maintenance"),
        Reply(502, body=b"bad gateway"),
        Reply(200, json={"ok": True}),
    )
    clock = ControlledClock()
    notification = flood_notification()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(f"{receiver.url}/hook", clock, book) as notifier:
            (delivery,) = await notifier.send(notification, [])
        assert delivery.status is DeliveryStatus.SENT
        requests = receiver.to("/hook")
        assert len(requests) == 3
        assert clock.sleeps == [0.5, 1.0]
        assert all(_verified(r) for r in requests)
        assert {r.headers["idempotency-key"] for r in requests} == {notification.key}
        assert len({r.body for r in requests}) == 1  # the same body, re-signed per attempt
        entries = book.entries(notification.key, "webhook")
        assert [(e.attempt, e.status.value) for e in entries] == [
            (1, "retry"),
            (2, "retry"),
            (3, "sent"),
        ]
        assert entries[0].detail == "HTTP 503: maintenance"
        assert entries[0].recipient_name == "ioc"


async def test_4xx_is_not_retried_and_is_dead_lettered(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script("/hook", Reply(400, json={"error": "unknown kind"}), Reply(200))
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(f"{receiver.url}/hook", clock, book) as notifier:
            (delivery,) = await notifier.send(flood_notification(), [])
        assert delivery.status is DeliveryStatus.FAILED
        assert delivery.detail == 'HTTP 400: {"error": "unknown kind"}'
        assert len(receiver.to("/hook")) == 1
        assert clock.sleeps == []
        (dead,) = book.dead_letters()
        assert dead.status is DeliveryStatus.FAILED


async def test_429_waits_as_long_as_retry_after_says(receiver: HttpReceiver) -> None:
    receiver.script("/hook", Reply(429, headers={"Retry-After": "7"}), Reply(200))
    clock = ControlledClock()
    async with _notifier(f"{receiver.url}/hook", clock) as notifier:
        (delivery,) = await notifier.send(flood_notification(), [])
    assert delivery.status is DeliveryStatus.SENT
    assert clock.sleeps == [7]


async def test_a_timeout_is_retried(receiver: HttpReceiver) -> None:
    receiver.script("/hook", Reply(200, delay_s=1.0), Reply(200, json={"ok": True}))
    clock = ControlledClock()
    async with _notifier(f"{receiver.url}/hook", clock, timeout_s=0.2) as notifier:
        (delivery,) = await notifier.send(flood_notification(), [])
    assert delivery.status is DeliveryStatus.SENT
    assert len(receiver.to("/hook")) == 2


async def test_a_refused_connection_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    clock = ControlledClock()
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(url, clock, book) as notifier:
            (delivery,) = await notifier.send(flood_notification(), [])
        assert delivery.status is DeliveryStatus.RETRY
        assert "gave up after 4 attempt(s): ConnectError" in delivery.detail
        assert len(book.entries()) == 4
        (dead,) = book.dead_letters()
        assert dead.exhausted


async def test_a_restart_does_not_post_the_same_notification_twice(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script("/hook", Reply(200))
    path = tmp_path / "log.sqlite3"
    for _ in range(2):  # the service, then the service restarted
        with NotificationLog(path) as book:
            async with _notifier(f"{receiver.url}/hook", ControlledClock(), book) as notifier:
                (delivery,) = await notifier.send(flood_notification(), [])
            assert delivery.status is DeliveryStatus.SENT
    assert len(receiver.to("/hook")) == 1
    resolved = flood_notification(
        key="inc-kim_long-flood-20251028T0315Z:resolved", state=NotificationState.RESOLVED
    )
    with NotificationLog(path) as book:
        async with _notifier(f"{receiver.url}/hook", ControlledClock(), book) as notifier:
            await notifier.send(resolved, [])
    assert [r.json()["state"] for r in receiver.to("/hook")] == ["firing", "resolved"]


def test_the_secret_comes_from_the_environment_only() -> None:
    config = {"url": "https://ioc.example.gov.vn/hook", "secret_env": "QUANTRAC_IOC_SECRET"}
    with pytest.raises(NotifierConfigError, match="QUANTRAC_IOC_SECRET is not set"):
        build_notifier("webhook", config, NotifierContext(environ={}))
    with pytest.raises(NotifierConfigError, match="QUANTRAC_IOC_SECRET is empty"):
        build_notifier("webhook", config, NotifierContext(environ={"QUANTRAC_IOC_SECRET": ""}))
    with pytest.raises(ValueError, match="secret"):
        WebhookConfig.model_validate({**config, "secret": SECRET})  # not a field: refused


def test_naive_times_are_utc() -> None:
    naive = flood_notification(created_at=datetime(2025, 10, 28, 3, 15))
    aware = flood_notification(created_at=datetime(2025, 10, 28, 3, 15, tzinfo=UTC))
    assert webhook_body(naive) == webhook_body(aware)
