"""Email over SMTP: one message per recipient, Vietnamese in UTF-8, the title as subject.

Python's smtplib in a worker thread (``asyncio.to_thread``), not aiosmtplib: one dependency
fewer, and the volume (a few messages per incident) never needs more than a thread.

SMTP answers have their own meaning, and the shared rule is applied to it, not to the digits:
an SMTP 2xx is done; a 4xx is *transient* ("mailbox busy, try later": RETRY), as are timeouts
and dropped connections; a 5xx is *permanent* ("no such user", "authentication failed":
FAILED, never retried). A certificate that does not verify is a config problem: FAILED.
"""

from __future__ import annotations

import asyncio
import html
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from alerting.model import Delivery, DeliveryStatus, Notification, Recipient
from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    EnvName,
    NotifierContext,
    Outcome,
    read_secret,
    short,
    utc_now,
)

Security = Literal["starttls", "ssl", "plain"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (the daily and monthly reports: PDF, XLSX)."""

    filename: str
    content: bytes
    media_type: str  # "application/pdf"


DEFAULT_PORTS: dict[Security, int] = {"starttls": 587, "ssl": 465, "plain": 25}


class EmailConfig(ChannelConfig):
    """The SMTP server, how to secure the connection, who the mail is from."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 587, 465 or 25
    security: Security = "starttls"  # plain: only to a relay on the same host or LAN
    username: str | None = None
    password_env: EnvName | None = None
    ca_file: Path | None = None  # a provincial mail server with its own CA
    sender: str = Field(min_length=3)  # canhbao@stnmt.example.gov.vn
    sender_name: str = "Quan trắc môi trường"
    subject_prefix: str = ""  # "[Quantrac] "

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        if "@" not in self.sender:
            raise ValueError(f"sender {self.sender!r} is not an email address")
        return self

    @property
    def server_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


def recipient_email(recipient: Recipient) -> str:
    """The recipient's address as it will be written in ``To``; ValueError says why not. The
    one check of an address: the notifier sends only what it returns, and ``quantrac config
    check`` refuses what it refuses."""
    if not recipient.email:
        raise ValueError("recipient has no email")
    address = recipient.email.strip()
    try:
        Address(addr_spec=address)
    except (ValueError, MessageError) as exc:  # what the email package cannot write
        raise ValueError(f"bad address {address!r}: {exc}") from None
    return address


def email_message(
    notification: Notification,
    recipient: Recipient,
    address: str,
    config: EmailConfig,
    domain: str = "quantrac.local",
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """multipart/alternative: text/plain and text/html, both UTF-8; Vietnamese first, English
    after it. The subject is the title (RFC 2047-encoded by the email package)."""
    message = EmailMessage()
    message["Subject"] = f"{config.subject_prefix}{notification.title}"
    message["From"] = Address(display_name=config.sender_name, addr_spec=config.sender)
    message["To"] = Address(display_name=recipient.name, addr_spec=address)
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = make_msgid(domain=domain)
    message["X-Quantrac-Key"] = notification.key
    english = f"\n\n---\n{notification.text_en}" if notification.text_en else ""
    message.set_content(f"{notification.text}{english}\n", charset="utf-8")
    paragraphs = (
        [notification.text, notification.text_en] if notification.text_en else [notification.text]
    )
    body = "".join(f"<p>{html.escape(text).replace(chr(10), '<br>')}</p>" for text in paragraphs)
    message.add_alternative(
        f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"></head><body>'
        f"<h3>{html.escape(notification.title)}</h3>{body}</body></html>\n",
        subtype="html",
        charset="utf-8",
    )
    for attachment in attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def smtp_status(code: int) -> DeliveryStatus:
    """SMTP's reply classes (RFC 5321 §4.2.1): 2yz done, 4yz transient, 5yz permanent."""
    if 200 <= code < 300:
        return DeliveryStatus.SENT
    if 400 <= code < 500:
        return DeliveryStatus.RETRY
    return DeliveryStatus.FAILED


class _RefusedError(Exception):
    def __init__(self, stage: str, code: int, reply: bytes) -> None:
        super().__init__(f"{stage}: {code} {reply.decode('utf-8', 'replace')}")
        self.code = code


class EmailNotifier:
    """One SMTP session per message: a few messages per incident do not need a pool, and a
    fresh session never inherits a half-broken one."""

    channel: str = "email"

    def __init__(
        self, config: EmailConfig, password: SecretStr | None, runner: DeliveryRunner
    ) -> None:
        self.config = config
        self._password = password
        self._runner = runner
        self._tls = ssl.create_default_context(
            cafile=str(config.ca_file) if config.ca_file else None
        )

    @classmethod
    def from_config(cls, config: EmailConfig, context: NotifierContext) -> EmailNotifier:
        password = (
            read_secret("email", "password_env", config.password_env, context.environ)
            if config.password_env is not None
            else None
        )
        return cls(config, password, DeliveryRunner.of(cls.channel, config, context))

    async def __aenter__(self) -> EmailNotifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        return None  # one session per message: nothing stays open

    async def send(
        self,
        notification: Notification,
        recipients: Sequence[Recipient],
        attachments: Sequence[Attachment] = (),
    ) -> list[Delivery]:
        jobs = []
        seen: set[str] = set()
        for recipient in recipients:
            try:
                address = recipient_email(recipient)
            except ValueError as exc:
                who = (recipient.email or "").strip() or recipient.name
                jobs.append(self._rejected(notification, who, str(exc)))
                continue
            if address.lower() in seen:
                continue
            seen.add(address.lower())
            jobs.append(self._deliver(notification, recipient, address, attachments))
        return list(await asyncio.gather(*jobs))

    async def _rejected(self, notification: Notification, who: str, detail: str) -> Delivery:
        return self._runner.reject(notification, who, detail)

    async def _deliver(
        self,
        notification: Notification,
        recipient: Recipient,
        address: str,
        attachments: Sequence[Attachment] = (),
    ) -> Delivery:
        domain = self.config.sender.rpartition("@")[2]
        try:
            message = email_message(
                notification, recipient, address, self.config, domain, attachments
            )
        except (ValueError, MessageError) as exc:  # an address the email package cannot write
            return self._runner.reject(notification, address, f"bad address: {exc}")
        message_id = str(message["Message-ID"])

        async def attempt() -> Outcome:
            try:
                reply = await asyncio.to_thread(self._send_sync, message, address)
            except Exception as exc:
                return self._outcome(address, exc)
            return Outcome(
                Delivery(self.channel, address, DeliveryStatus.SENT, short(reply), message_id)
            )

        return await self._runner.deliver(notification, address, attempt, name=recipient.name)

    def _send_sync(self, message: EmailMessage, address: str) -> str:
        """One SMTP session; returns the server's answer to DATA (its queue id, usually)."""
        config = self.config
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                config.host, config.server_port, timeout=config.timeout_s, context=self._tls
            )
        else:
            smtp = smtplib.SMTP(config.host, config.server_port, timeout=config.timeout_s)
        with smtp:
            smtp.ehlo()
            if config.security == "starttls":
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if config.username is not None and self._password is not None:
                smtp.login(config.username, self._password.get_secret_value())
            # mail/rcpt/data rather than send_message: the answer to DATA is the provider's
            # receipt ("250 2.0.0 Ok: queued as 4Fx…"), which the log keeps.
            code, reply = smtp.mail(config.sender)
            if code != 250:
                raise _RefusedError("MAIL FROM", code, reply)
            code, reply = smtp.rcpt(address)
            if code not in (250, 251):
                raise _RefusedError("RCPT TO", code, reply)
            code, reply = smtp.data(message.as_bytes(policy=SMTP))
            if code != 250:
                raise _RefusedError("DATA", code, reply)
        return f"{code} {reply.decode('utf-8', 'replace')}"

    def _outcome(self, address: str, exc: Exception) -> Outcome:
        if isinstance(exc, _RefusedError):
            status = smtp_status(exc.code)
        elif isinstance(exc, smtplib.SMTPResponseException):  # auth, STARTTLS, HELO refused
            status = smtp_status(exc.smtp_code)
        elif isinstance(exc, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
            status = DeliveryStatus.FAILED  # would fail the same way: fix the config
        elif isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
            status = DeliveryStatus.RETRY  # timeouts, refused or dropped connections
        else:
            status = DeliveryStatus.FAILED
        detail = str(exc) if isinstance(exc, _RefusedError) else f"{type(exc).__name__}: {exc}"
        return Outcome(Delivery(self.channel, address, status, short(detail)))
