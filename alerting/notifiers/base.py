"""What every notifier shares: the protocol, the retry rule, the rate limit, the running wrapper.

Alertmanager's rule, in one place for all receivers: a 2xx answer is done; 5xx, 429
(and 408), timeouts and connection errors are retried with exponential backoff and jitter, within
a bounded number of attempts and a bounded time; any other answer fails at once and is never
retried (a 400 or 401 would fail the same way again) and is dead-lettered in the notification log.
Retries spent is the end of one round only: the message stays in its receiver's delivery queue
(alerting.delivery) for another round later, until delivered or expired.

A notifier module only knows its provider: it builds one request and turns the answer into an
``Outcome``. ``DeliveryRunner`` (Telegraf's "running output") does the rest for every channel:
the notification log's idempotency check, the rate limit, the retries, the log of every attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from alerting.model import Delivery, DeliveryStatus, Notification, Recipient

if TYPE_CHECKING:
    from alerting.notifiers.log import NotificationLog

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# 408 (the server gave up waiting for our request) and 429 (slow down) are the two 4xx answers
# that say "the same request later may succeed"; every other 4xx says it never will.
RETRYABLE_4XX = frozenset({408, 429})
DETAIL_CHARS = 500  # how much of a provider's answer the log keeps


class NotifierConfigError(ValueError):
    """A notifier config that cannot be used (a missing secret, a bad template); names the
    channel and the field."""


class Notifier(Protocol):
    """One channel: sends a notification to recipients, one ``Delivery`` per target.

    webhook and grafana answer one Delivery for their endpoint; sms, zalo and email one per
    recipient (a recipient without the address the channel needs gets a FAILED Delivery).
    """

    channel: str

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient]
    ) -> list[Delivery]: ...

    async def aclose(self) -> None: ...


# --- configuration -------------------------------------------------------------------------


class StrictModel(BaseModel):
    """Config models: unknown fields are errors (a typo is not ignored), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value


# Checked at config time; checking never opens a connection.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class RetryPolicy(StrictModel):
    """How long a RETRY answer keeps being retried.

    The pause before retry n is ``min(max_delay_s, initial_delay_s · multiplier^(n-1))``, less a
    random share of up to ``jitter`` of it, so that channels failing together (the provider
    was down) do not come back in lockstep. A ``Retry-After`` answer lengthens the pause.
    """

    max_attempts: int = Field(default=5, ge=1, le=100)
    initial_delay_s: float = Field(default=1.0, gt=0)
    multiplier: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=60.0, gt=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    max_elapsed_s: float = Field(default=600.0, gt=0)  # no pause may end later than this

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """The pause before retry number ``retry`` (1 is the first retry)."""
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (retry - 1))
        return base * (1.0 - self.jitter * rng.random())


class RateLimit(StrictModel):
    """At most ``messages`` requests per ``per_s`` seconds, ``burst`` of them back to back.

    ``burst`` defaults to 1: requests are spaced evenly, so no window of any length ever holds
    more than the provider allows (brandname SMS gateways count per second).
    """

    messages: int = Field(gt=0)
    per_s: float = Field(default=1.0, gt=0)
    burst: int = Field(default=1, ge=1)

    @property
    def rate_per_s(self) -> float:
        return self.messages / self.per_s


class ChannelConfig(StrictModel):
    """What every channel's config has besides its own fields."""

    retry: RetryPolicy = RetryPolicy()
    rate_limit: RateLimit | None = None
    timeout_s: float = Field(default=10.0, gt=0)  # one request, connect to last byte


def read_secret(channel: str, field_name: str, env: str, environ: Mapping[str, str]) -> SecretStr:
    """A secret from the environment variable the config names, or from the file named by the
    same name with ``_FILE`` (Docker/systemd secrets; docs/security.md, "Secrets"); the config
    file only ever holds the variable's name."""
    value = environ.get(env, "")
    path = environ.get(f"{env}_FILE", "")
    if not value and path:
        try:
            value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise NotifierConfigError(
                f"{channel}: {field_name}: cannot read {env}_FILE {path}: {exc.strerror}"
            ) from None
        if not value:
            raise NotifierConfigError(f"{channel}: {field_name}: the file {path} is empty")
    if not value:
        state = "is empty" if env in environ else "is not set"
        raise NotifierConfigError(
            f"{channel}: {field_name}: environment variable {env} {state} (nor {env}_FILE)"
        )
    return SecretStr(value)


def loggable_url(url: str) -> str:
    """A URL without credentials and query string: providers put tokens there."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- the retry rule --------------------------------------------------------------------------


def status_of(code: int) -> DeliveryStatus:
    """The shared rule for an HTTP status code: 2xx done, 5xx/408/429 retry, other fail."""
    if 200 <= code < 300:
        return DeliveryStatus.SENT
    if 500 <= code < 600 or code in RETRYABLE_4XX:
        return DeliveryStatus.RETRY
    return DeliveryStatus.FAILED


def status_of_exception(exc: BaseException) -> DeliveryStatus:
    """Timeouts and broken connections are retried; a bad URL or a protocol we cannot speak
    is a config problem and would fail again."""
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return DeliveryStatus.RETRY
    if isinstance(exc, httpx.HTTPError):
        return DeliveryStatus.FAILED  # UnsupportedProtocol, InvalidURL, TooManyRedirects, …
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return DeliveryStatus.RETRY
    return DeliveryStatus.FAILED


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result: the Delivery, and how long the provider asked us to wait."""

    delivery: Delivery
    retry_after_s: float | None = None


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (RFC 9110: delay-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def http_outcome(
    channel: str, recipient: str, response: httpx.Response, *, provider_id: str = ""
) -> Outcome:
    """The shared rule applied to an HTTP answer; the detail is the provider's answer."""
    status = status_of(response.status_code)
    detail = short(f"HTTP {response.status_code}: {response.text}")
    wait = retry_after_s(response) if status is DeliveryStatus.RETRY else None
    return Outcome(Delivery(channel, recipient, status, detail, provider_id), wait)


def error_outcome(channel: str, recipient: str, exc: BaseException) -> Outcome:
    detail = short(f"{type(exc).__name__}: {exc}".rstrip(": "))
    return Outcome(Delivery(channel, recipient, status_of_exception(exc), detail))


# --- the rate limit ------------------------------------------------------------------------


class TokenBucket:
    """A token bucket: ``rate_per_s`` tokens a second, ``burst`` at most; one token a request.

    Waiters are served in arrival order (asyncio.Lock is fair). Clock and sleep are injected,
    so tests drive it with a controlled clock.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, limit: RateLimit, *, clock: Callable[[], float], sleep: Sleep) -> TokenBucket:
        return cls(limit.rate_per_s, limit.burst, clock=clock, sleep=sleep)

    async def acquire(self) -> float:
        """Take one token, waiting for it; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                elapsed = max(0.0, now - self._updated)
                self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                pause = (1.0 - self._tokens) / self.rate_per_s
                await self._sleep(pause)
                waited += pause


# --- the running wrapper -------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NotifierContext:
    """What a factory gets besides its config: the log, the environment, where state lives,
    and the clocks (tests pass controlled ones)."""

    log: NotificationLog | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    state_dir: Path = Path("data")  # the Zalo token file's default home
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic  # rate limits and retry budgets
    now: Callable[[], datetime] = utc_now  # log times, webhook timestamps, token expiry
    rng: random.Random = field(default_factory=random.Random)  # backoff jitter


Attempt = Callable[[], Awaitable[Outcome]]


class DeliveryRunner:
    """Runs one channel's deliveries: idempotency check, rate limit, retries, the log.

    The first failure of a channel is logged at WARNING, repeats at DEBUG until a success resets
    it, so a provider outage does not flood the service log; the notification log
    still records every attempt.
    """

    def __init__(
        self,
        channel: str,
        policy: RetryPolicy,
        rate_limit: RateLimit | None,
        context: NotifierContext,
    ) -> None:
        self.channel = channel
        self.policy = policy
        self.context = context
        self.limiter = (
            TokenBucket.of(rate_limit, clock=context.clock, sleep=context.sleep)
            if rate_limit is not None
            else None
        )
        self._failing = False

    @classmethod
    def of(cls, channel: str, config: ChannelConfig, context: NotifierContext) -> DeliveryRunner:
        return cls(channel, config.retry, config.rate_limit, context)

    async def deliver(
        self,
        notification: Notification,
        recipient: str,
        attempt: Attempt,
        *,
        name: str = "",
    ) -> Delivery:
        """Deliver ``notification`` to ``recipient`` (the address the log keys on) by calling
        ``attempt`` until it is SENT, FAILED, or the retry budget is spent."""
        settled = self._settled(notification, recipient)
        if settled is not None:
            return settled
        started = self.context.clock()
        number = 0
        while True:
            number += 1
            if self.limiter is not None:
                await self.limiter.acquire()
            try:
                outcome = await attempt()
            except Exception as exc:
                # A bug or an unexpected library error fails this delivery only; the other
                # recipients and channels carry on, and the log says what happened.
                log.exception("%s: sending %s to %s", self.channel, notification.key, recipient)
                outcome = Outcome(
                    Delivery(
                        self.channel,
                        recipient,
                        DeliveryStatus.FAILED,
                        short(f"{type(exc).__name__}: {exc}"),
                    )
                )
            delivery = outcome.delivery
            pause = 0.0
            exhausted = False
            if delivery.status is DeliveryStatus.RETRY:
                pause = self.policy.delay_s(number, self.context.rng)
                if outcome.retry_after_s is not None:
                    pause = max(pause, min(outcome.retry_after_s, self.policy.max_delay_s))
                elapsed = self.context.clock() - started
                exhausted = (
                    number >= self.policy.max_attempts
                    or elapsed + pause > self.policy.max_elapsed_s
                )
                if exhausted:
                    delivery = Delivery(
                        delivery.channel,
                        delivery.recipient,
                        delivery.status,
                        short(f"gave up after {number} attempt(s): {delivery.detail}"),
                        delivery.provider_id,
                    )
            self._record(notification, delivery, number, exhausted, name)
            if delivery.status is not DeliveryStatus.RETRY or exhausted:
                return delivery
            await self.context.sleep(pause)

    def reject(self, notification: Notification, recipient: str, detail: str) -> Delivery:
        """A delivery that cannot even be attempted (no phone number, no email address)."""
        delivery = Delivery(self.channel, recipient, DeliveryStatus.FAILED, detail)
        if self._settled(notification, recipient) is None:  # logged once, not every round
            self._record(notification, delivery, 0, False, recipient)
        return delivery

    def _settled(self, notification: Notification, recipient: str) -> Delivery | None:
        """What the notification log already holds for this key and recipient: SENT (a
        restart rebuilt the notification, a queue's second round) or FAILED (a refusal is
        final: asking again could send twice what a provider took without saying so)."""
        book = self.context.log
        if book is None:
            return None
        entry = book.settled(notification.key, self.channel, recipient)
        if entry is None:
            return None
        if entry.status is DeliveryStatus.SENT:
            log.debug("%s: %s already sent to %s", self.channel, notification.key, recipient)
            return Delivery(
                self.channel, recipient, DeliveryStatus.SENT, "already sent (notification log)"
            )
        return Delivery(
            self.channel, recipient, DeliveryStatus.FAILED,
            short(f"already refused (notification log): {entry.detail}"),
        )  # fmt: skip

    def _record(
        self,
        notification: Notification,
        delivery: Delivery,
        attempt: int,
        exhausted: bool,
        name: str,
    ) -> None:
        if self.context.log is not None:
            self.context.log.record(
                notification,
                delivery,
                attempt=attempt,
                exhausted=exhausted,
                recipient_name=name,
                ts=self.context.now(),
            )
        if delivery.status is DeliveryStatus.SENT:
            if self._failing:
                log.info("%s: delivering again (%s)", self.channel, delivery.recipient)
            self._failing = False
            return
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(
            level,
            "%s: %s to %s, attempt %d: %s%s",
            self.channel,
            notification.key,
            delivery.recipient,
            attempt,
            delivery.status.value,
            f" ({delivery.detail})" if delivery.detail else "",
        )


def jsonable(value: Any) -> Any:
    """Notification facts as JSON: datetimes in ISO 8601 UTC, enums by value, NaN as null."""
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC with a Z; a naive datetime is taken as UTC (the model's convention)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
