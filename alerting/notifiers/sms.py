"""SMS through the province's brandname gateway: one configurable HTTP request per recipient.

Brandname gateways are HTTP APIs that differ per provider (docs/notifiers.md, "SMS").
Two shapes are built in, and any other provider is described in the config:

- ``esms``: JSON ``{ApiKey, SecretKey, Phone, Content, Brandname, SmsType, IsUnicode}``;
  accepted when the reply's ``CodeResult`` is ``"100"``, its message id in ``SMSID``;
- ``speedsms``: basic auth with the access token, JSON ``{to: [...], content, sms_type,
  sender}``; accepted when the reply's ``status`` is ``"success"``, its id in ``data.tranId``;
- ``custom``: method, URL, headers, a JSON / form / query template and the success rule.

Templates take the placeholders ``{phone} {text} {sender} {unicode} {sms_type} {key}`` and one
per secret the config names under ``secret_env`` (``{api_key}``, ``{secret_key}``, …). A
provider that answers 200 with its own error code has refused the message: FAILED, never
retried (it would refuse it again), the code in the log's detail.

Disaster SMS are usually sent without diacritics (``without_diacritics``, the default): GSM-7
fits 160 characters in one SMS where Vietnamese with diacritics needs UCS-2 and fits 70.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from pydantic import Field, JsonValue, SecretStr, model_validator

from alerting.model import Delivery, DeliveryStatus, Notification, Recipient
from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    EnvName,
    HttpUrl,
    NotifierContext,
    Outcome,
    StrictModel,
    error_outcome,
    http_outcome,
    read_secret,
    short,
)
from alerting.notifiers.phones import PhoneFormat, recipient_phone

log = logging.getLogger(__name__)

# --- text: diacritics and segments -----------------------------------------------------------

# GSM 03.38 default alphabet (the escape 0x1B excluded: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + the character, two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["gsm7", "ucs2"]
# (units in a single SMS, units per part of a concatenated one): the user data header of a
# concatenated SMS takes 6 bytes, 7 septets or 3 UCS-2 characters (docs/notifiers.md).
_LIMITS: dict[Encoding, tuple[int, int]] = {"gsm7": (160, 153), "ucs2": (70, 67)}

# Typography that has a plain ASCII spelling; anything else outside GSM-7 is left as it is and
# makes the message UCS-2 (the notifier logs which characters did).
_ASCII_SPELLING = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00a0": " ",
    }
)


def strip_diacritics(text: str) -> str:
    """Vietnamese without diacritics: tone marks and the breve, circumflex and horn removed
    (NFD, drop the combining marks), đ → d and Đ → D (a letter of its own, not a mark)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_ASCII_SPELLING))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def sms_encoding(text: str) -> Encoding:
    return "gsm7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def _units(text: str, encoding: Encoding) -> list[int]:
    if encoding == "gsm7":
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    # UCS-2 counts 16-bit units: a character outside the BMP (an emoji) takes a surrogate pair.
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def sms_segments(text: str) -> tuple[Encoding, int]:
    """How the text is encoded and how many SMS it takes.

    GSM-7: 160 septets in one SMS, 153 per part when concatenated, an extension character
    (``^ { } \\ [ ~ ] | €``) counting two; UCS-2 (any character outside GSM-7, e.g. Vietnamese
    with diacritics): 70 characters, 67 per part. Parts are filled the way phones and gateways
    fill them: a two-unit character (an escape pair, a surrogate pair) is never split, so it
    can start a new part before the previous one is full. An empty text is one (empty) SMS.
    """
    encoding = sms_encoding(text)
    single, part = _LIMITS[encoding]
    units = _units(text, encoding)
    if sum(units) <= single:
        return encoding, 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > part:
            parts += 1
            used = 0
        used += unit
    return encoding, parts


def fit_segments(text: str, max_segments: int) -> str:
    """The text cut (at a word where possible, ending in "...") to fit ``max_segments``."""
    if sms_segments(text)[1] <= max_segments:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that still fits, with its ellipsis
        middle = (low + high + 1) // 2
        if sms_segments(text[:middle].rstrip() + "...")[1] <= max_segments:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    space = cut.rfind(" ")
    if space > low // 2:
        cut = cut[:space]
    return cut.rstrip() + "..."


# --- templates -------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
SMS_PLACEHOLDERS = frozenset({"phone", "text", "sender", "unicode", "sms_type", "key"})
MESSAGE_PLACEHOLDERS = frozenset({"title", "text", "text_en", "district"})


def placeholders(template: Any) -> set[str]:
    """Every ``{name}`` in a template (strings inside lists and mappings too)."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, Mapping):
        return set().union(*(placeholders(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template))
    return set()


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """The template with its placeholders replaced. A string that is exactly one placeholder
    takes the value as it is (``"sms_type": "{sms_type}"`` stays a number); other strings
    interpolate. Braces that are not placeholders (JSON in a header) are left alone."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole is not None and whole.group(1) in values:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(
            lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template
        )
    if isinstance(template, Mapping):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def _path(document: Any, dotted: str) -> Any:
    """``data.tranId`` of a parsed JSON reply; None when any step is missing."""
    for step in dotted.split("."):
        if isinstance(document, Mapping) and step in document:
            document = document[step]
        elif isinstance(document, list) and step.isdigit() and int(step) < len(document):
            document = document[int(step)]
        else:
            return None
    return document


# --- config ----------------------------------------------------------------------------------


class SuccessRule(StrictModel):
    """How a 2xx reply's JSON body says whether the provider accepted the message."""

    field: str  # dotted path: "CodeResult", "status", "data.code"
    equals: list[str] = Field(min_length=1)  # accepted values, compared as text
    message_id: str | None = None  # dotted path of the provider's message id
    error_message: str | None = None  # dotted path of the provider's error text


class SmsRequest(StrictModel):
    """One provider's request. ``body`` says where ``fields`` go: a JSON body, a form, or the
    query string (for the GET-only gateways some provinces still have)."""

    method: Literal["GET", "POST", "PUT"] = "POST"
    url: HttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    body: Literal["json", "form", "query"] = "json"
    fields: dict[str, JsonValue]
    basic_auth: tuple[str, str] | None = None  # (user, password), templates too
    success: SuccessRule | None = None  # None: any 2xx is success


ESMS_URL = "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/"
SPEEDSMS_URL = "https://api.speedsms.vn/index.php/sms/send"


def esms_request(url: str = ESMS_URL) -> SmsRequest:
    """eSMS (docs/notifiers.md): CodeResult "100" means accepted; SmsType 2 is brandname customer
    care, the type a state agency's alerts are registered as."""
    return SmsRequest(
        url=url,
        fields={
            "ApiKey": "{api_key}",
            "SecretKey": "{secret_key}",
            "Phone": "{phone}",
            "Content": "{text}",
            "Brandname": "{sender}",
            "SmsType": "{sms_type}",
            "IsUnicode": "{unicode}",
        },
        success=SuccessRule(
            field="CodeResult", equals=["100"], message_id="SMSID", error_message="ErrorMessage"
        ),
    )


def speedsms_request(url: str = SPEEDSMS_URL) -> SmsRequest:
    """SpeedSMS (docs/notifiers.md): the access token is the basic-auth user (password "x");
    ``status: success`` means accepted; sms_type 3 sends under the brandname in ``sender``."""
    return SmsRequest(
        url=url,
        basic_auth=("{api_key}", "x"),
        fields={
            "to": ["{phone}"],
            "content": "{text}",
            "sms_type": "{sms_type}",
            "sender": "{sender}",
        },
        success=SuccessRule(
            field="status", equals=["success"], message_id="data.tranId", error_message="message"
        ),
    )


_BUILT_IN: dict[str, tuple[set[str], str | int]] = {
    # provider: (secrets it needs, default sms_type)
    "esms": ({"api_key", "secret_key"}, "2"),
    "speedsms": ({"api_key"}, 3),
}


class SmsConfig(ChannelConfig):
    """``provider``: esms | speedsms | custom (then ``request`` describes it)."""

    provider: Literal["esms", "speedsms", "custom"]
    sender: str = ""  # the brandname registered with the provider
    # placeholder → environment variable, e.g. {api_key: QUANTRAC_SMS_API_KEY}
    secret_env: dict[str, EnvName] = Field(default_factory=dict)
    url: HttpUrl | None = None  # a built-in provider's endpoint elsewhere (sandbox, proxy)
    request: SmsRequest | None = None  # custom providers only
    sms_type: str | int | None = None  # default: eSMS "2", SpeedSMS 3
    without_diacritics: bool = True
    message: str = "{text}"  # what the SMS says: {title} {text} {text_en} {district}
    max_segments: int | None = Field(default=None, ge=1)  # longer texts are cut to fit
    phone_format: PhoneFormat = "84"

    @model_validator(mode="after")
    def _check(self) -> SmsConfig:
        if self.provider == "custom":
            if self.request is None:
                raise ValueError("provider custom needs a request")
            if self.url is not None:
                raise ValueError("provider custom: put the URL in request.url")
        else:
            if self.request is not None:
                raise ValueError(f"provider {self.provider} has a built-in request")
            needed, _ = _BUILT_IN[self.provider]
            missing = sorted(needed - self.secret_env.keys())
            if missing:
                raise ValueError(f"provider {self.provider} needs secret_env for {missing}")
            if not self.sender:
                raise ValueError(f"provider {self.provider} needs the brandname in sender")
        request = self.provider_request()
        known = SMS_PLACEHOLDERS | self.secret_env.keys()
        used = placeholders(request.fields) | placeholders(request.headers)
        used |= placeholders(request.url) | placeholders(list(request.basic_auth or ()))
        unknown = sorted(used - known)
        if unknown:
            raise ValueError(f"request: unknown placeholder(s) {unknown}; known: {sorted(known)}")
        unknown = sorted(placeholders(self.message) - MESSAGE_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"message: unknown placeholder(s) {unknown}; known: {sorted(MESSAGE_PLACEHOLDERS)}"
            )
        return self

    def provider_request(self) -> SmsRequest:
        if self.provider == "esms":
            return esms_request(self.url or ESMS_URL)
        if self.provider == "speedsms":
            return speedsms_request(self.url or SPEEDSMS_URL)
        assert self.request is not None  # the validator requires it
        return self.request

    def default_sms_type(self) -> str | int:
        if self.sms_type is not None:
            return self.sms_type
        return _BUILT_IN[self.provider][1] if self.provider in _BUILT_IN else ""


# --- the notifier ----------------------------------------------------------------------------


def _message(template: str, notification: Notification) -> str:
    values = {
        "title": notification.title,
        "text": notification.text,
        "text_en": notification.text_en,
        "district": notification.district,
    }
    return str(fill(template, values))


def sms_text(config: SmsConfig, notification: Notification) -> str:
    """The SMS text as sent: the configured ``message`` filled, NFC, without diacritics if
    configured, cut to ``max_segments``. Pure: the notifier sends it, the tests read it."""
    text = unicodedata.normalize("NFC", _message(config.message, notification))
    if config.without_diacritics:
        text = strip_diacritics(text)
        stray = sorted({c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION})
        if stray:
            # One stray "µ" or "³" doubles the price of every SMS: say which characters.
            log.warning("sms %s: %r keep the text in UCS-2", notification.key, "".join(stray))
    if config.max_segments is not None:
        text = fit_segments(text, config.max_segments)
    return text


class SmsNotifier:
    """One request per recipient with a phone number, through the configured provider."""

    channel: str = "sms"

    def __init__(
        self,
        config: SmsConfig,
        secrets: Mapping[str, SecretStr],
        runner: DeliveryRunner,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.request = config.provider_request()
        self._secrets = dict(secrets)
        self._runner = runner
        self._client = client or httpx.AsyncClient(timeout=config.timeout_s)

    @classmethod
    def from_config(cls, config: SmsConfig, context: NotifierContext) -> SmsNotifier:
        secrets = {
            name: read_secret("sms", f"secret_env.{name}", env, context.environ)
            for name, env in config.secret_env.items()
        }
        return cls(config, secrets, DeliveryRunner.of(cls.channel, config, context))

    async def __aenter__(self) -> SmsNotifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def text_of(self, notification: Notification) -> str:
        """The SMS text as sent (``sms_text``)."""
        return sms_text(self.config, notification)

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient]
    ) -> list[Delivery]:
        text = self.text_of(notification)
        encoding, segments = sms_segments(text)
        jobs = []
        seen: set[str] = set()
        for recipient in recipients:
            try:
                phone = recipient_phone(recipient, self.config.phone_format)
            except ValueError as exc:
                who = recipient.phone or recipient.name
                jobs.append(self._rejected(notification, who, str(exc)))
                continue
            if phone in seen:  # one person in two groups gets one SMS
                continue
            seen.add(phone)
            jobs.append(
                self._deliver(notification, recipient.name, phone, text, (encoding, segments))
            )
        return list(await asyncio.gather(*jobs))

    async def _rejected(self, notification: Notification, who: str, detail: str) -> Delivery:
        return self._runner.reject(notification, who, detail)

    async def _deliver(
        self,
        notification: Notification,
        name: str,
        phone: str,
        text: str,
        segments: tuple[Encoding, int],
    ) -> Delivery:
        values: dict[str, Any] = {
            "phone": phone,
            "text": text,
            "sender": self.config.sender,
            "unicode": "1" if segments[0] == "ucs2" else "0",
            "sms_type": self.config.default_sms_type(),
            "key": notification.key,
        }
        values.update({k: v.get_secret_value() for k, v in self._secrets.items()})
        note = f" [{segments[0]}, {segments[1]} SMS]"

        async def attempt() -> Outcome:
            outcome = await self._post(phone, values)
            delivery = outcome.delivery
            return Outcome(
                Delivery(
                    delivery.channel,
                    delivery.recipient,
                    delivery.status,
                    short(delivery.detail) + note,
                    delivery.provider_id,
                ),
                outcome.retry_after_s,
            )

        return await self._runner.deliver(notification, phone, attempt, name=name)

    async def _post(self, phone: str, values: Mapping[str, Any]) -> Outcome:
        request = self.request
        fields = fill(request.fields, values)
        auth = None
        if request.basic_auth is not None:
            user, password = fill(list(request.basic_auth), values)
            auth = httpx.BasicAuth(str(user), str(password))
        kwargs: dict[str, Any] = {"headers": fill(request.headers, values), "auth": auth}
        if request.body == "json":
            kwargs["json"] = fields
        elif request.body == "form":
            kwargs["data"] = {k: _form_value(v) for k, v in fields.items()}
        else:
            kwargs["params"] = {k: _form_value(v) for k, v in fields.items()}
        url = str(fill(request.url, values))
        try:
            response = await self._client.request(request.method, url, **kwargs)
        except httpx.HTTPError as exc:
            return error_outcome(self.channel, phone, exc)
        outcome = http_outcome(self.channel, phone, response)
        if outcome.delivery.status is not DeliveryStatus.SENT or request.success is None:
            return outcome
        return self._read_reply(phone, response, request.success)

    def _read_reply(self, phone: str, response: httpx.Response, rule: SuccessRule) -> Outcome:
        try:
            reply = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            # 2xx but unreadable: the message may well have gone; a retry could send it twice.
            return self._outcome(phone, DeliveryStatus.FAILED, f"unreadable reply: {response.text}")
        value = _path(reply, rule.field)
        provider_id = _path(reply, rule.message_id) if rule.message_id else None
        answer = json.dumps(reply, ensure_ascii=False)
        if value is not None and str(value) in rule.equals:
            return self._outcome(
                phone, DeliveryStatus.SENT, answer, "" if provider_id is None else str(provider_id)
            )
        error = _path(reply, rule.error_message) if rule.error_message else None
        detail = f"{rule.field}={value}" + (f": {error}" if error else "") + f"; {answer}"
        return self._outcome(phone, DeliveryStatus.FAILED, detail)

    def _outcome(
        self, phone: str, status: DeliveryStatus, detail: str, provider_id: str = ""
    ) -> Outcome:
        return Outcome(Delivery(self.channel, phone, status, short(detail), provider_id))


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
