"""Zalo Notification Service (ZNS): a pre-approved template, filled from the notification.

docs/notifiers.md: ``POST https://business.openapi.zalo.me/message/template`` with the header
``access_token``, body ``{"phone": "84…", "template_id", "template_data", "tracking_id"}``;
the reply's ``error`` is 0 on success (``data.msg_id`` is the message id), anything else is a
refusal: FAILED, never retried, the code in the log. Two codes are not refusals of the message
but of the token (``token_error_codes``): the access token expired (it lives about a day) or was
revoked. Then the token is refreshed through Zalo's OAuth endpoint (``secret_key`` header, form
``refresh_token``, ``app_id``, ``grant_type=refresh_token``) and the message is sent once more.

A refresh token is good for one refresh only, and the answer carries the next one: both are
written to the token file at once (atomically, mode 0600), so a restart goes on from the newest
pair. The environment variables only seed the first pair, before the file exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from alerting.model import AlertKind, Delivery, DeliveryStatus, Notification, Recipient
from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    EnvName,
    HttpUrl,
    NotifierConfigError,
    NotifierContext,
    Outcome,
    StrictModel,
    error_outcome,
    http_outcome,
    read_secret,
    short,
)
from alerting.notifiers.phones import recipient_phone
from gateway.model import VIETNAM_TZ

log = logging.getLogger(__name__)

ZNS_URL = "https://business.openapi.zalo.me/message/template"
ZALO_OAUTH_URL = "https://oauth.zaloapp.com/v4/oa/access_token"
# -124: ZNS's "access token invalid" (an expired token included); -216: the OA API's. Kept in
# the config: Zalo's tables have changed before.
TOKEN_ERROR_CODES = (-124, -216)
REFRESH_MARGIN = timedelta(minutes=5)  # refresh before a known expiry, not at it

_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[A-Za-z0-9_]+)?)\}")
TEMPLATE_PLACEHOLDERS = frozenset(
    {
        "key",
        "state",
        "kind",
        "severity",
        "level",
        "title",
        "text",
        "text_en",
        "district",
        "station",
        "station_id",
        "stations",
        "station_ids",
        "time",
    }
)


class ZnsTemplate(StrictModel):
    """A template Zalo approved, and where each of its parameters comes from.

    ``data`` maps each parameter to a text with placeholders: ``{station}`` (the name of the
    station the message is about), ``{station_id}``, ``{stations}`` (every station's name),
    ``{station_ids}``, ``{title}``, ``{text}``, ``{district}``, ``{level}``, ``{severity}``,
    ``{kind}``, ``{state}``, ``{key}``, ``{time}`` (the notification's time, Vietnam time) and
    ``{facts.NAME}`` for any fact of the notification (``{facts.label}``, ``{facts.value}``:
    the flat facts of docs/notifiers.md).
    """

    template_id: str = Field(min_length=1)
    data: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ZnsTemplate:
        for name, text in self.data.items():
            for placeholder in _PLACEHOLDER.findall(text):
                if placeholder not in TEMPLATE_PLACEHOLDERS and not placeholder.startswith(
                    "facts."
                ):
                    raise ValueError(
                        f"data.{name}: unknown placeholder {{{placeholder}}}; known: "
                        f"{sorted(TEMPLATE_PLACEHOLDERS)} and facts.NAME"
                    )
        return self


class ZaloConfig(ChannelConfig):
    """The OA's app, its secrets' variables, the token file, and the templates."""

    app_id: str = Field(min_length=1)
    secret_key_env: EnvName = "QUANTRAC_ZALO_SECRET_KEY"
    access_token_env: EnvName = "QUANTRAC_ZALO_ACCESS_TOKEN"  # the first pair only
    refresh_token_env: EnvName = "QUANTRAC_ZALO_REFRESH_TOKEN"  # the first pair only
    token_file: Path | None = None  # default: <data dir>/zalo-tokens.json
    url: HttpUrl = ZNS_URL
    oauth_url: HttpUrl = ZALO_OAUTH_URL
    template: ZnsTemplate
    templates_by_kind: dict[AlertKind, ZnsTemplate] = Field(default_factory=dict)
    token_error_codes: list[int] = Field(default_factory=lambda: list(TOKEN_ERROR_CODES))
    development_mode: bool = False  # ZNS "mode": "development": only the OA's admins receive
    time_format: str = "%H:%M %d/%m/%Y"
    decimal_separator: Literal[",", "."] = ","  # Vietnamese writes 3,45 m


# --- template data ---------------------------------------------------------------------------


_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _text(value: Any, config: ZaloConfig) -> str:
    if isinstance(value, float):
        # Two decimals at most: a water level is read to the centimetre, a rate to 0.01 m/h.
        shown = f"{value:.2f}".rstrip("0").rstrip(".")
        return shown.replace(".", config.decimal_separator)
    if isinstance(value, str) and _ISO_TIME.match(value):
        # Facts carry times as ISO 8601 text (ts, crest_at, since): a person reads local time.
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        when: datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return when.astimezone(VIETNAM_TZ).strftime(config.time_format)
    return str(value)


def station_names(notification: Notification) -> list[str]:
    """The stations' names, the one the message is about first (from the flat facts and each
    of ``others``); a station without a name in the facts is named by its id."""
    facts = notification.facts
    named = [facts, *(o for o in facts.get("others", ()) if isinstance(o, Mapping))]
    names = {
        str(f["station_id"]): str(f.get("station_name") or f["station_id"])
        for f in named
        if f.get("station_id")
    }
    return list(dict.fromkeys(names.get(s, s) for s in notification.stations))


def template_data(
    template: ZnsTemplate, notification: Notification, config: ZaloConfig
) -> dict[str, str]:
    """The template's parameters filled from the notification; KeyError names a missing fact."""
    created: datetime = notification.created_at
    values: dict[str, str] = {
        "key": notification.key,
        "state": notification.state.value,
        "kind": notification.kind.value,
        "severity": notification.severity.name.lower(),
        "level": str(notification.level),
        "title": notification.title,
        "text": notification.text,
        "text_en": notification.text_en,
        "district": notification.district,
        # Issue 11: {station} was the id ("kim_long"); a person reads the name.
        "station": str(notification.facts.get("station_name") or ""),
        "station_id": str(notification.facts.get("station_id") or ""),
        "stations": ", ".join(station_names(notification)),
        "station_ids": ", ".join(notification.stations),
        "time": _text(created, config),
    }
    if not values["station_id"] and notification.stations:
        values["station_id"] = notification.stations[0]
    if not values["station"]:
        values["station"] = values["station_id"]

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("facts."):
            fact = name.removeprefix("facts.")
            if fact not in notification.facts:
                raise KeyError(f"fact {fact!r} is missing")
            return _text(notification.facts[fact], config)
        return values[name]

    return {param: _PLACEHOLDER.sub(one, text) for param, text in template.data.items()}


# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZaloTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime | None = None


class TokenFile:
    """The current token pair in a small JSON file, replaced atomically, readable by us only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> ZaloTokens | None:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise NotifierConfigError(f"zalo: token file {self.path}: {exc}") from exc
        if not isinstance(document, dict) or not document.get("refresh_token"):
            raise NotifierConfigError(f"zalo: token file {self.path}: no refresh_token")
        expires = document.get("expires_at")
        return ZaloTokens(
            access_token=str(document.get("access_token") or ""),
            refresh_token=str(document["refresh_token"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )

    def save(self, tokens: ZaloTokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
        }
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".zalo-tokens.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --- the notifier ----------------------------------------------------------------------------


class ZaloNotifier:
    """One ZNS message per recipient with a phone number."""

    channel: str = "zalo"

    def __init__(
        self,
        config: ZaloConfig,
        secret_key: SecretStr,
        tokens: ZaloTokens,
        token_file: TokenFile,
        runner: DeliveryRunner,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._secret_key = secret_key
        self.tokens = tokens
        self.token_file = token_file
        self._runner = runner
        self._client = client or httpx.AsyncClient(timeout=config.timeout_s)
        self._refreshing = asyncio.Lock()

    @classmethod
    def from_config(cls, config: ZaloConfig, context: NotifierContext) -> ZaloNotifier:
        secret_key = read_secret("zalo", "secret_key_env", config.secret_key_env, context.environ)
        token_file = TokenFile(config.token_file or context.state_dir / "zalo-tokens.json")
        tokens = token_file.load()
        if tokens is None:
            refresh = context.environ.get(config.refresh_token_env, "")
            if not refresh:
                raise NotifierConfigError(
                    f"zalo: no tokens: {token_file.path} does not exist and "
                    f"{config.refresh_token_env} is not set (the OA's first refresh token)"
                )
            tokens = ZaloTokens(context.environ.get(config.access_token_env, ""), refresh)
        return cls(
            config, secret_key, tokens, token_file, DeliveryRunner.of(cls.channel, config, context)
        )

    async def __aenter__(self) -> ZaloNotifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient]
    ) -> list[Delivery]:
        template = self.config.templates_by_kind.get(notification.kind, self.config.template)
        try:
            data: dict[str, str] | None = template_data(template, notification, self.config)
            problem = ""
        except KeyError as exc:
            data, problem = None, f"template {template.template_id}: {exc.args[0]}"
        jobs = []
        seen: set[str] = set()
        for recipient in recipients:
            try:
                phone = recipient_phone(recipient, "84")  # ZNS wants 84…
            except ValueError as exc:
                who = recipient.phone or recipient.name
                jobs.append(self._rejected(notification, who, str(exc)))
                continue
            if phone in seen:
                continue
            seen.add(phone)
            if data is None:
                jobs.append(self._rejected(notification, phone, problem))
                continue
            body: dict[str, Any] = {
                "phone": phone,
                "template_id": template.template_id,
                "template_data": data,
                "tracking_id": notification.key,
            }
            if self.config.development_mode:
                body["mode"] = "development"
            jobs.append(self._deliver(notification, recipient.name, phone, body))
        return list(await asyncio.gather(*jobs))

    async def _rejected(self, notification: Notification, who: str, detail: str) -> Delivery:
        return self._runner.reject(notification, who, detail)

    async def _deliver(
        self, notification: Notification, name: str, phone: str, body: Mapping[str, Any]
    ) -> Delivery:
        async def attempt() -> Outcome:
            return await self._attempt(phone, body)

        return await self._runner.deliver(notification, phone, attempt, name=name)

    async def _attempt(self, phone: str, body: Mapping[str, Any]) -> Outcome:
        token = self.tokens.access_token
        expires = self.tokens.expires_at
        if not token or (
            expires is not None and self._runner.context.now() >= expires - REFRESH_MARGIN
        ):
            fresh = await self._refresh(token, phone)
            if isinstance(fresh, Outcome):
                return fresh
            token = fresh
        outcome, code = await self._post(token, phone, body)
        if code not in self.config.token_error_codes:
            return outcome
        fresh = await self._refresh(token, phone)
        if isinstance(fresh, Outcome):
            return fresh
        outcome, code = await self._post(fresh, phone, body)  # once: a second refusal is final
        if code in self.config.token_error_codes:
            return self._outcome(
                phone,
                DeliveryStatus.FAILED,
                f"token refused after refresh: {outcome.delivery.detail}",
            )
        return outcome

    async def _post(
        self, token: str, phone: str, body: Mapping[str, Any]
    ) -> tuple[Outcome, int | None]:
        try:
            response = await self._client.post(
                self.config.url, json=body, headers={"access_token": token}
            )
        except httpx.HTTPError as exc:
            return error_outcome(self.channel, phone, exc), None
        outcome = http_outcome(self.channel, phone, response)
        if outcome.delivery.status is not DeliveryStatus.SENT:
            return outcome, None
        try:
            reply = response.json()
            code = int(reply["error"])
        except (ValueError, KeyError, TypeError):
            # 2xx but unreadable: the message may well have gone; a retry could send it twice.
            return self._outcome(
                phone, DeliveryStatus.FAILED, f"unreadable reply: {response.text}"
            ), None
        answer = json.dumps(reply, ensure_ascii=False)
        if code != 0:
            return self._outcome(
                phone, DeliveryStatus.FAILED, f"error={code}: {reply.get('message', '')}; {answer}"
            ), code
        data = reply.get("data")
        msg_id = str(data.get("msg_id", "")) if isinstance(data, dict) else ""
        return self._outcome(phone, DeliveryStatus.SENT, answer, msg_id), 0

    async def _refresh(self, stale: str, phone: str) -> str | Outcome:
        """A new access token, or the Outcome that says why there is none. Concurrent callers
        holding the same stale token share one refresh (a refresh token works only once)."""
        async with self._refreshing:
            if self.tokens.access_token and self.tokens.access_token != stale:
                return self.tokens.access_token  # another delivery refreshed meanwhile
            try:
                response = await self._client.post(
                    self.config.oauth_url,
                    headers={"secret_key": self._secret_key.get_secret_value()},
                    data={
                        "refresh_token": self.tokens.refresh_token,
                        "app_id": self.config.app_id,
                        "grant_type": "refresh_token",
                    },
                )
            except httpx.HTTPError as exc:
                failed = error_outcome(self.channel, phone, exc)
                return self._outcome(
                    phone, failed.delivery.status, f"token refresh: {failed.delivery.detail}"
                )
            outcome = http_outcome(self.channel, phone, response)
            if outcome.delivery.status is not DeliveryStatus.SENT:
                return self._outcome(
                    phone, outcome.delivery.status, f"token refresh: {outcome.delivery.detail}"
                )
            try:
                reply = response.json()
                access, refresh = str(reply["access_token"]), str(reply["refresh_token"])
            except (ValueError, KeyError, TypeError):
                return self._outcome(
                    phone, DeliveryStatus.FAILED, f"token refresh refused: {response.text}"
                )
            expires_at = None
            with contextlib.suppress(KeyError, TypeError, ValueError):
                expires_at = self._runner.context.now() + timedelta(
                    seconds=int(reply["expires_in"])  # Zalo sends it as a string of seconds
                )
            self.tokens = ZaloTokens(access, refresh, expires_at)
            try:
                self.token_file.save(self.tokens)
            except OSError:
                # The old refresh token is spent: without this file a restart needs a new one
                # from the Zalo developer console. Say so loudly, keep sending meanwhile.
                log.exception("zalo: could not write %s", self.token_file.path)
            log.info("zalo: access token refreshed")
            return access

    def _outcome(
        self, phone: str, status: DeliveryStatus, detail: str, provider_id: str = ""
    ) -> Outcome:
        return Outcome(Delivery(self.channel, phone, status, short(detail), provider_id))
