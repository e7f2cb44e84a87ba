"""Email against a real SMTP server (aiosmtpd) on a free loopback port: plain, STARTTLS with
a login, and implicit TLS, with a certificate made for the test."""

from __future__ import annotations

import email
import email.policy
import random
import shutil
import ssl
import subprocess
from collections import deque
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerting.model import DeliveryStatus, Recipient
from alerting.notifiers.base import NotifierContext, RetryPolicy
from alerting.notifiers.email import EmailConfig, EmailNotifier
from alerting.notifiers.log import NotificationLog
from tests.alerting.receivers import ControlledClock, flood_notification
from tests.servers import free_port

# ASCII: smtplib's AUTH encodes the password as ASCII (RFC 4616 allows UTF-8; smtplib does not).
USER, PASSWORD = "canhbao@example.gov.vn", "Mk-thu-2025!"
COMMITTEE = [
    Recipient("Ông Nguyễn Văn Bình", email="binh.nv@example.gov.vn"),
    Recipient("Bà Lê Thị Thu Hà", email="ha.ltt@example.gov.vn"),
]


class Mailbox:
    """aiosmtpd handler: keeps what arrives; RCPT answers can be scripted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_replies: deque[str] = deque()
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as QT{len(self.envelopes):04d}"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login, data.password))
            if data.login.decode() == USER and data.password.decode() == PASSWORD:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            content = envelope.original_content or b""
            message = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed: run `apt-get install -y openssl`", pytrace=False)
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _start(controller: Controller) -> Iterator[Controller]:
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def plain_smtp(mailbox: Mailbox) -> Iterator[Controller]:
    yield from _start(Controller(mailbox, hostname="127.0.0.1", port=free_port()))


def _notifier(
    port: int,
    clock: ControlledClock,
    *,
    book: NotificationLog | None = None,
    changes: dict[str, Any] | None = None,
) -> EmailNotifier:
    config = EmailConfig.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": "plain",
            "sender": "canhbao@example.gov.vn",
            "sender_name": "Ban chỉ huy PCTT và TKCN tỉnh",
            "subject_prefix": "[Quan trắc] ",
            "retry": RetryPolicy(max_attempts=3, initial_delay_s=1, jitter=0),
            "timeout_s": 5,
            **(changes or {}),
        }
    )
    context = NotifierContext(
        log=book,
        environ={"QUANTRAC_SMTP_PASSWORD": PASSWORD},
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(8),
    )
    return EmailNotifier.from_config(config, context)


async def test_vietnamese_mail_arrives_intact(
    plain_smtp: Controller, mailbox: Mailbox, tmp_path: Path
) -> None:
    notification = flood_notification()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(plain_smtp.port, ControlledClock(), book=book) as notifier:
            deliveries = await notifier.send(notification, COMMITTEE)
        assert [(d.recipient, d.status) for d in deliveries] == [
            ("binh.nv@example.gov.vn", DeliveryStatus.SENT),
            ("ha.ltt@example.gov.vn", DeliveryStatus.SENT),
        ]
        assert {d.detail for d in deliveries} == {
            "250 2.0.0 Ok: queued as QT0001",
            "250 2.0.0 Ok: queued as QT0002",
        }
        entries = book.entries(notification.key, "email")
        assert {e.provider_id for e in entries} == {d.provider_id for d in deliveries}
    assert sorted(tuple(e.rcpt_tos) for e in mailbox.envelopes) == [
        ("binh.nv@example.gov.vn",),
        ("ha.ltt@example.gov.vn",),
    ]
    assert {e.mail_from for e in mailbox.envelopes} == {"canhbao@example.gov.vn"}
    message = next(m for m in mailbox.messages() if "binh.nv" in str(m["To"]))
    assert message["Subject"] == "[Quan trắc] [BÁO ĐỘNG II] Sông Hương tại Kim Long"
    assert str(message["From"]) == "Ban chỉ huy PCTT và TKCN tỉnh <canhbao@example.gov.vn>"
    assert str(message["To"]) == "Ông Nguyễn Văn Bình <binh.nv@example.gov.vn>"
    assert message["X-Quantrac-Key"] == notification.key
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content_charset() == "utf-8"
    text = plain.get_content()
    assert notification.text in text
    assert notification.text_en in text
    assert "Sông Hương tại Kim Long" in html.get_content()
    # on the wire the headers are 7-bit (RFC 2047), so any relay passes them untouched
    raw = mailbox.envelopes[0].original_content
    assert raw is not None
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()


async def test_a_transient_4xx_is_retried_and_a_permanent_5xx_is_not(
    plain_smtp: Controller, mailbox: Mailbox
) -> None:
    mailbox.rcpt_replies.extend(["451 4.3.0 Mailbox busy, try later"])
    clock = ControlledClock()
    async with _notifier(plain_smtp.port, clock) as notifier:
        (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
    assert delivery.status is DeliveryStatus.SENT
    assert clock.sleeps == [1]
    assert len(mailbox.envelopes) == 1

    mailbox.rcpt_replies.extend(["550 5.1.1 User unknown"])
    clock = ControlledClock()
    async with _notifier(plain_smtp.port, clock) as notifier:
        (delivery,) = await notifier.send(flood_notification(key="k2"), COMMITTEE[:1])
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail == "RCPT TO: 550 5.1.1 User unknown"
    assert clock.sleeps == []
    assert len(mailbox.envelopes) == 1


async def test_starttls_with_login(certificate: tuple[Path, Path], mailbox: Mailbox) -> None:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_tls(certificate),
        require_starttls=True,
        authenticator=mailbox.authenticate,
        auth_required=True,
    )
    for server in _start(controller):
        changes: dict[str, Any] = {
            "security": "starttls",
            "username": USER,
            "password_env": "QUANTRAC_SMTP_PASSWORD",
            "ca_file": str(certificate[0]),
        }
        async with _notifier(server.port, ControlledClock(), changes=changes) as notifier:
            (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.SENT
        assert mailbox.logins == [(USER.encode(), PASSWORD.encode())]
        assert len(mailbox.envelopes) == 1


async def test_a_wrong_password_is_not_retried(
    certificate: tuple[Path, Path], mailbox: Mailbox
) -> None:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=_server_tls(certificate),
        authenticator=mailbox.authenticate,
        auth_required=True,
    )
    for server in _start(controller):
        clock = ControlledClock()
        changes: dict[str, Any] = {
            "security": "starttls",
            "username": "someone@example.gov.vn",
            "password_env": "QUANTRAC_SMTP_PASSWORD",
            "ca_file": str(certificate[0]),
        }
        async with _notifier(server.port, clock, changes=changes) as notifier:
            (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.FAILED
        assert "535" in delivery.detail
        assert clock.sleeps == []


async def test_implicit_tls_and_an_untrusted_certificate(
    certificate: tuple[Path, Path], mailbox: Mailbox
) -> None:
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), ssl_context=_server_tls(certificate)
    )
    for server in _start(controller):
        changes: dict[str, Any] = {"security": "ssl", "ca_file": str(certificate[0])}
        async with _notifier(server.port, ControlledClock(), changes=changes) as notifier:
            (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.SENT
        assert len(mailbox.envelopes) == 1

        clock = ControlledClock()  # without the CA: the certificate does not verify
        async with _notifier(server.port, clock, changes={"security": "ssl"}) as notifier:
            (delivery,) = await notifier.send(flood_notification(key="k2"), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.FAILED
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.detail
        assert clock.sleeps == []


async def test_no_server_is_retried_then_dead_lettered(tmp_path: Path) -> None:
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(free_port(), clock, book=book) as notifier:
            (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.RETRY
        assert "ConnectionRefusedError" in delivery.detail
        assert clock.sleeps == [1, 2]
        (dead,) = book.dead_letters()
        assert dead.exhausted


async def test_recipients_without_an_address_fail_alone(
    plain_smtp: Controller, mailbox: Mailbox
) -> None:
    recipients = [Recipient("Chỉ có số điện thoại", phone="0905123456"), *COMMITTEE[:1]]
    async with _notifier(plain_smtp.port, ControlledClock()) as notifier:
        deliveries = await notifier.send(flood_notification(), recipients)
    assert [(d.recipient, d.status.value) for d in deliveries] == [
        ("Chỉ có số điện thoại", "failed"),
        ("binh.nv@example.gov.vn", "sent"),
    ]
