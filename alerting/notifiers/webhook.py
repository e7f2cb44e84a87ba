"""IOC webhook: the notification as signed JSON, POSTed to the operations centre's endpoint.

The contract (docs/notifiers.md, version 1):

- body: UTF-8 JSON ``{"version": 1, "key", "state", "kind", "severity", "level", "title",
  "text", "text_en", "created_at", "incidents", "stations", "district", "facts"}``;
- ``X-Quantrac-Timestamp``: unix seconds when this attempt was signed;
- ``X-Quantrac-Signature: sha256=<hex>``: HMAC-SHA256 with the shared secret of the bytes
  ``{timestamp}.{body}`` (Stripe's and GitHub's scheme: signing the timestamp with the body is
  what lets the receiver refuse a replayed request);
- ``Idempotency-Key``: the notification's key, the same on every retry, so the IOC can drop a
  duplicate (a retry after a timeout whose request had in fact arrived).

The receiver verifies with ``verify_signature`` (or its few lines in another language) over
the raw body bytes, before parsing them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import Field, SecretStr

from alerting.model import Delivery, Notification, Recipient
from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    EnvName,
    HttpUrl,
    NotifierContext,
    Outcome,
    error_outcome,
    http_outcome,
    iso_utc,
    jsonable,
    loggable_url,
    read_secret,
)

WEBHOOK_VERSION = 1
SIGNATURE_HEADER = "X-Quantrac-Signature"
TIMESTAMP_HEADER = "X-Quantrac-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_S = 300  # Stripe's default replay window: 5 minutes


class WebhookConfig(ChannelConfig):
    """``url``: the IOC's endpoint; ``secret_env``: the variable holding the shared secret."""

    url: HttpUrl
    secret_env: EnvName = "QUANTRAC_IOC_SECRET"
    name: str = "ioc"  # who the endpoint is, in the notification log
    # extra static headers the IOC's API gateway asks for
    headers: dict[str, str] = Field(default_factory=dict)


def webhook_payload(notification: Notification) -> dict[str, Any]:
    """The versioned body, as a JSON-ready mapping."""
    return {
        "version": WEBHOOK_VERSION,
        "key": notification.key,
        "state": notification.state.value,
        "kind": notification.kind.value,
        "severity": notification.severity.name.lower(),
        "level": notification.level,
        "title": notification.title,
        "text": notification.text,
        "text_en": notification.text_en,
        "created_at": iso_utc(notification.created_at),
        "incidents": list(notification.incidents),
        "stations": list(notification.stations),
        "district": notification.district,
        "facts": jsonable(notification.facts),
    }


def webhook_body(notification: Notification) -> bytes:
    """The exact bytes sent and signed: compact UTF-8 JSON (Vietnamese kept as is)."""
    return json.dumps(
        webhook_payload(notification),
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    ).encode("utf-8")


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def sign(secret: str | bytes | SecretStr, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC of ``{timestamp}.{body}``."""
    mac = hmac.new(_secret_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str | bytes | SecretStr,
    timestamp: str | int,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """The receiver's check: the signature matches the raw body and the timestamp, and the
    timestamp is within ``tolerance_s`` of ``now`` (unix seconds) either way.

    ``timestamp`` and ``header`` are the received ``X-Quantrac-Timestamp`` and
    ``X-Quantrac-Signature`` values; ``body`` the raw bytes, not a re-serialised parse. The
    comparison is constant-time. A request older than the window is refused even when its
    signature is right: that is what stops a captured request being replayed later. To also
    refuse a replay inside the window, keep the ``Idempotency-Key`` values seen in it.
    """
    try:
        signed_at = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs(now - signed_at) > tolerance_s:
        return False
    expected = sign(secret, signed_at, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


class WebhookNotifier:
    """POSTs each notification once to the IOC's endpoint (recipients are not its concern:
    the IOC routes inside its own platform)."""

    channel: str = "webhook"

    def __init__(
        self,
        config: WebhookConfig,
        secret: SecretStr,
        runner: DeliveryRunner,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._secret = secret
        self._runner = runner
        self._client = client or httpx.AsyncClient(timeout=config.timeout_s)
        self.recipient = loggable_url(config.url)

    @classmethod
    def from_config(cls, config: WebhookConfig, context: NotifierContext) -> WebhookNotifier:
        secret = read_secret("webhook", "secret_env", config.secret_env, context.environ)
        return cls(config, secret, DeliveryRunner.of(cls.channel, config, context))

    async def __aenter__(self) -> WebhookNotifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient] = ()
    ) -> list[Delivery]:
        body = webhook_body(notification)

        async def attempt() -> Outcome:
            return await self._post(notification, body)

        delivery = await self._runner.deliver(
            notification, self.recipient, attempt, name=self.config.name
        )
        return [delivery]

    async def _post(self, notification: Notification, body: bytes) -> Outcome:
        # Signed per attempt: a retry minutes later carries a fresh timestamp and still falls
        # inside the receiver's replay window.
        timestamp = int(self._runner.context.now().timestamp())
        headers = {
            **self.config.headers,
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: notification.key,
        }
        try:
            response = await self._client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return error_outcome(self.channel, self.recipient, exc)
        return http_outcome(self.channel, self.recipient, response)
