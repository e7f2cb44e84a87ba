"""SMS: text rules as tables, and the provider shapes against a real HTTP receiver."""

from __future__ import annotations

import base64
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerting.model import DeliveryStatus, Recipient
from alerting.notifiers.base import NotifierContext, RetryPolicy
from alerting.notifiers.log import NotificationLog
from alerting.notifiers.phones import vn_phone
from alerting.notifiers.sms import (
    GSM7_BASIC,
    SmsConfig,
    SmsNotifier,
    fit_segments,
    sms_segments,
    strip_diacritics,
)
from tests.alerting.receivers import (
    ControlledClock,
    HttpReceiver,
    Reply,
    flood_notification,
    running,
)

ENV = {
    "QUANTRAC_ESMS_API_KEY": "E5A1B2C3D4",
    "QUANTRAC_ESMS_SECRET_KEY": "9F8E7D6C5B",
    "QUANTRAC_SPEEDSMS_TOKEN": "sPeEdToKeN-123",
    "QUANTRAC_SMS_TOKEN": "custom-token",
}
COMMITTEE = [
    Recipient("Ông Nguyễn Văn Bình (PCTT)", phone="+84 905 123 456"),
    Recipient("Bà Lê Thị Thu Hà", phone="0914.000.111"),
]


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vietnamese", "ascii_text"),
    [
        ("Cảnh báo lũ", "Canh bao lu"),
        ("Mực nước sông Hương tại Kim Long", "Muc nuoc song Huong tai Kim Long"),
        ("BÁO ĐỘNG II", "BAO DONG II"),
        ("đê Đông Ba", "de Dong Ba"),
        ("Quảng Điền, Phú Vang, Hương Trà", "Quang Dien, Phu Vang, Huong Tra"),
        ("mưa lớn 250 mm/24 giờ", "mua lon 250 mm/24 gio"),
        ("gió giật cấp 10–11", "gio giat cap 10-11"),
        ("“Rất xấu” – hạn chế ra ngoài…", '"Rat xau" - han che ra ngoai...'),
        ("already ascii 123", "already ascii 123"),
    ],
)
def test_strip_diacritics(vietnamese: str, ascii_text: str) -> None:
    assert strip_diacritics(vietnamese) == ascii_text


def test_every_vietnamese_letter_loses_its_marks() -> None:
    bases = {
        "a": "aàáảãạăằắẳẵặâầấẩẫậ",
        "e": "eèéẻẽẹêềếểễệ",
        "i": "iìíỉĩị",
        "o": "oòóỏõọôồốổỗộơờớởỡợ",
        "u": "uùúủũụưừứửữự",
        "y": "yỳýỷỹỵ",
        "d": "dđ",
    }
    for base, letters in bases.items():
        assert strip_diacritics(letters) == base * len(letters)
        assert strip_diacritics(letters.upper()) == base.upper() * len(letters)
    # decomposed input (NFD, as some keyboards send it) too
    assert strip_diacritics(unicodedata.normalize("NFD", "Lũ lụt")) == "Lu lut"


def test_gsm7_alphabet_has_128_characters_less_the_escape() -> None:
    assert len(GSM7_BASIC) == 127


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("gsm7", 1)),
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("a" * 459, ("gsm7", 3)),
        ("a" * 460, ("gsm7", 4)),
        ("€" * 80, ("gsm7", 1)),  # extension characters count two septets
        ("€" * 81, ("gsm7", 2)),
        ("a" * 158 + "[]", ("gsm7", 2)),
        # an escape pair is never split across parts: 152 + (2) does not fit in 153
        ("a" * 152 + "€" + "a" * 152, ("gsm7", 3)),
        ("é" * 160, ("gsm7", 1)),  # é è ù ì ò à are in GSM-7
        ("ệ" * 70, ("ucs2", 1)),
        ("ệ" * 71, ("ucs2", 2)),
        ("ệ" * 134, ("ucs2", 2)),
        ("ệ" * 135, ("ucs2", 3)),
        ("a" * 69 + "ư", ("ucs2", 1)),  # one letter with a diacritic makes it all UCS-2
        ("a" * 70 + "ư", ("ucs2", 2)),
        ("🌊" * 35, ("ucs2", 1)),  # outside the BMP: two UTF-16 units each
        ("🌊" * 36, ("ucs2", 2)),
        ("`", ("ucs2", 1)),  # the backtick is ASCII but not GSM-7
    ],
)
def test_sms_segments(text: str, expected: tuple[str, int]) -> None:
    assert sms_segments(text) == expected


def test_a_warning_without_diacritics_takes_fewer_sms() -> None:
    text = flood_notification().text
    assert sms_segments(text) == ("ucs2", 3)
    assert sms_segments(strip_diacritics(text)) == ("gsm7", 2)


def test_fit_segments_cuts_at_a_word_with_an_ellipsis() -> None:
    text = strip_diacritics(flood_notification().text)
    cut = fit_segments(text, 1)
    assert sms_segments(cut) == ("gsm7", 1)
    assert cut.endswith("...")
    assert text.startswith(cut.removesuffix("..."))
    assert text[len(cut) - 3] == " "  # cut at a word boundary
    assert fit_segments("ngắn", 1) == "ngắn"


@pytest.mark.parametrize(
    ("raw", "style", "expected"),
    [
        ("0905123456", "84", "84905123456"),
        ("+84905123456", "84", "84905123456"),
        ("84905123456", "84", "84905123456"),
        ("+84 905 123 456", "84", "84905123456"),
        ("0914.000.111", "0", "0914000111"),
        ("0914-000-111", "+84", "+84914000111"),
    ],
)
def test_vn_phone(raw: str, style: Any, expected: str) -> None:
    assert vn_phone(raw, style) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12345",
        "+1 415 555 0100",
        "090512345",  # a digit short
        "09051234567",  # a digit too many
        "00905123456",
        "0105123456",  # 01x: the old 11-digit prefixes, converted in 2018
        "0605123456",  # no 06x mobile network
        "0412345678",
        "+84 0905 123 456",  # the trunk 0 after +84
    ],
)
def test_vn_phone_refuses_other_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match="not a Vietnamese phone number"):
        vn_phone(raw)


@pytest.mark.parametrize(
    ("raw", "area"),
    [
        ("+84 234 3822 000", "0234"),  # the Huế office of the old example
        ("0234 3822 000", "0234"),
        ("(0234) 3.822.000", "0234"),
        ("84 24 3825 1234", "024"),  # Hà Nội: 024 and 8 digits
        ("028 3829 5555", "028"),  # Hồ Chí Minh City
    ],
)
def test_a_landline_is_named_as_one(raw: str, area: str) -> None:
    message = f"is a landline \\(area code {area}\\): it cannot receive SMS or Zalo"
    with pytest.raises(ValueError, match=message):
        vn_phone(raw)


@pytest.mark.parametrize(
    "mobile",
    ["0325123456", "0565123456", "0705123456", "0815123456", "0905123456", "0995123456"],
)
def test_every_mobile_prefix_is_taken(mobile: str) -> None:
    assert vn_phone(mobile, "+84") == "+84" + mobile[1:]


# --- providers -------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from running(HttpReceiver())


def _notifier(
    config: dict[str, Any], clock: ControlledClock, book: NotificationLog | None = None
) -> SmsNotifier:
    context = NotifierContext(
        log=book, environ=ENV, sleep=clock.sleep, clock=clock, rng=random.Random(2)
    )
    document = {"retry": RetryPolicy(max_attempts=3, initial_delay_s=1, jitter=0), **config}
    return SmsNotifier.from_config(SmsConfig.model_validate(document), context)


def _esms(endpoint: str, **changes: Any) -> dict[str, Any]:
    return {
        "provider": "esms",
        "url": endpoint,
        "sender": "QUANTRAC-HUE",
        "secret_env": {
            "api_key": "QUANTRAC_ESMS_API_KEY",
            "secret_key": "QUANTRAC_ESMS_SECRET_KEY",
        },
        **changes,
    }


async def test_esms_request_field_by_field(receiver: HttpReceiver, tmp_path: Path) -> None:
    receiver.script(
        "/esms",
        Reply(200, json={"CodeResult": "100", "CountRegenerate": 0, "SMSID": "a1b2-c3d4"}),
    )
    notification = flood_notification()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(_esms(f"{receiver.url}/esms"), ControlledClock(), book) as notifier:
            deliveries = await notifier.send(notification, COMMITTEE)
        assert [(d.recipient, d.status, d.provider_id) for d in deliveries] == [
            ("84905123456", DeliveryStatus.SENT, "a1b2-c3d4"),
            ("84914000111", DeliveryStatus.SENT, "a1b2-c3d4"),
        ]
        assert "[gsm7, 2 SMS]" in deliveries[0].detail
        names = [e.recipient_name for e in book.entries(notification.key)]
        assert sorted(names) == ["Bà Lê Thị Thu Hà", "Ông Nguyễn Văn Bình (PCTT)"]
    requests = receiver.to("/esms")
    assert sorted(r.json()["Phone"] for r in requests) == ["84905123456", "84914000111"]
    body = requests[0].json()
    assert body == {
        "ApiKey": "E5A1B2C3D4",
        "SecretKey": "9F8E7D6C5B",
        "Phone": body["Phone"],
        "Content": strip_diacritics(notification.text),
        "Brandname": "QUANTRAC-HUE",
        "SmsType": "2",
        "IsUnicode": "0",
    }
    assert body["Content"].startswith("Muc nuoc song Huong tai Kim Long luc 10:15")
    assert requests[0].headers["content-type"] == "application/json"


async def test_esms_with_diacritics_is_sent_as_unicode(receiver: HttpReceiver) -> None:
    receiver.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))
    config = _esms(f"{receiver.url}/esms", without_diacritics=False, message="{title}")
    async with _notifier(config, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
    (request,) = receiver.to("/esms")
    assert request.json()["Content"] == "[BÁO ĐỘNG II] Sông Hương tại Kim Long"
    assert request.json()["IsUnicode"] == "1"
    assert "[ucs2, 1 SMS]" in delivery.detail


async def test_200_with_a_provider_error_code_fails_without_retry(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script(
        "/esms",
        Reply(200, json={"CodeResult": "103", "ErrorMessage": "Balance not enough to send"}),
    )
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(_esms(f"{receiver.url}/esms"), clock, book) as notifier:
            (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
        assert delivery.status is DeliveryStatus.FAILED
        assert delivery.detail.startswith("CodeResult=103: Balance not enough to send")
        assert len(receiver.to("/esms")) == 1
        assert clock.sleeps == []
        (dead,) = book.dead_letters()
        assert "CodeResult=103" in dead.detail


async def test_speedsms_request_and_basic_auth(receiver: HttpReceiver) -> None:
    receiver.script(
        "/index.php/sms/send",
        Reply(
            200,
            json={
                "status": "success",
                "code": "00",
                "data": {"tranId": 1187650, "totalSMS": 2, "totalPrice": 1500, "invalidPhone": []},
            },
        ),
    )
    config = {
        "provider": "speedsms",
        "url": f"{receiver.url}/index.php/sms/send",
        "sender": "QUANTRAC-HUE",
        "secret_env": {"api_key": "QUANTRAC_SPEEDSMS_TOKEN"},
        "message": "{title}: {text}",
    }
    notification = flood_notification()
    async with _notifier(config, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, COMMITTEE[1:])
    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "1187650")
    (request,) = receiver.to("/index.php/sms/send")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        b"sPeEdToKeN-123:x"
    ).decode("ascii")
    assert request.json() == {
        "to": ["84914000111"],
        "content": strip_diacritics(f"{notification.title}: {notification.text}"),
        "sms_type": 3,
        "sender": "QUANTRAC-HUE",
    }


async def test_speedsms_error_status_fails_with_its_code(receiver: HttpReceiver) -> None:
    receiver.script(
        "/send", Reply(200, json={"status": "error", "code": "007", "message": "IP denied"})
    )
    config = {
        "provider": "speedsms",
        "url": f"{receiver.url}/send",
        "sender": "QUANTRAC-HUE",
        "secret_env": {"api_key": "QUANTRAC_SPEEDSMS_TOKEN"},
    }
    async with _notifier(config, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail.startswith("status=error: IP denied")
    assert '"code": "007"' in delivery.detail


async def test_5xx_then_success_is_retried(receiver: HttpReceiver) -> None:
    receiver.script(
        "/esms",
        Reply(500, body=b"Internal Server Error"),
        Reply(200, json={"CodeResult": "100", "SMSID": "ok-2"}),
    )
    clock = ControlledClock()
    async with _notifier(_esms(f"{receiver.url}/esms"), clock) as notifier:
        (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "ok-2")
    assert len(receiver.to("/esms")) == 2
    assert clock.sleeps == [1]


async def test_4xx_is_not_retried(receiver: HttpReceiver) -> None:
    receiver.script("/esms", Reply(401, body=b"Unauthorized"), Reply(200))
    async with _notifier(_esms(f"{receiver.url}/esms"), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(flood_notification(), COMMITTEE[:1])
    assert (delivery.status, delivery.detail) == (
        DeliveryStatus.FAILED,
        "HTTP 401: Unauthorized [gsm7, 2 SMS]",
    )
    assert len(receiver.to("/esms")) == 1


async def test_a_custom_provider_with_a_form_body(receiver: HttpReceiver) -> None:
    receiver.script(
        "/api/v1/send",
        Reply(200, json={"result": {"code": 0, "message_id": "VNPT-889"}}),
    )
    config = {
        "provider": "custom",
        "sender": "QUANTRAC-HUE",
        "secret_env": {"token": "QUANTRAC_SMS_TOKEN"},
        "phone_format": "0",
        "max_segments": 1,
        "request": {
            "url": f"{receiver.url}/api/v1/send",
            "headers": {"Authorization": "Bearer {token}", "X-Ref": "{key}"},
            "body": "form",
            "fields": {
                "msisdn": "{phone}",
                "message": "{text}",
                "brandname": "{sender}",
                "unicode": "{unicode}",
            },
            "success": {
                "field": "result.code",
                "equals": ["0"],
                "message_id": "result.message_id",
            },
        },
    }
    notification = flood_notification()
    async with _notifier(config, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, COMMITTEE[:1])
    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "VNPT-889")
    (request,) = receiver.to("/api/v1/send")
    assert request.headers["authorization"] == "Bearer custom-token"
    assert request.headers["x-ref"] == notification.key
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = request.form()
    assert form["msisdn"] == "0905123456"
    assert form["brandname"] == "QUANTRAC-HUE"
    assert form["unicode"] == "0"
    assert sms_segments(form["message"]) == ("gsm7", 1)
    assert form["message"].endswith("...")


async def test_recipients_without_a_usable_phone_fail_alone(receiver: HttpReceiver) -> None:
    receiver.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))
    recipients = [
        Recipient("Kỹ thuật viên", email="kythuat@example.gov.vn"),
        Recipient("Số sai", phone="12345"),
        *COMMITTEE,
        Recipient("Trùng số", phone="0905123456"),  # in two groups: texted once
    ]
    async with _notifier(_esms(f"{receiver.url}/esms"), ControlledClock()) as notifier:
        deliveries = await notifier.send(flood_notification(), recipients)
    assert [(d.recipient, d.status.value) for d in deliveries] == [
        ("Kỹ thuật viên", "failed"),
        ("12345", "failed"),
        ("84905123456", "sent"),
        ("84914000111", "sent"),
    ]
    assert len(receiver.to("/esms")) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret_env": {"api_key": "QUANTRAC_ESMS_API_KEY"}}, "needs secret_env"),
        ({"sender": ""}, "needs the brandname"),
        ({"message": "{title} {station}"}, "unknown placeholder"),
        ({"provider": "custom"}, "needs a request"),
        ({"ApiKey": "written in the file"}, "Extra inputs are not permitted"),
        ({"url": "ftp://esms.vn"}, "http:// or https://"),
    ],
)
def test_config_mistakes_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SmsConfig.model_validate(_esms("https://rest.esms.vn/send", **changes))


def test_custom_templates_may_only_use_known_placeholders() -> None:
    with pytest.raises(ValidationError, match=r"unknown placeholder\(s\) \['tel'\]"):
        SmsConfig.model_validate(
            {
                "provider": "custom",
                "request": {"url": "https://sms.example.vn/send", "fields": {"to": "{tel}"}},
            }
        )


async def test_the_rate_limit_spaces_real_requests(receiver: HttpReceiver) -> None:
    receiver.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))
    recipients = [Recipient(f"Thành viên {n}", phone=f"090512345{n}") for n in range(5)]
    config = _esms(f"{receiver.url}/esms", rate_limit={"messages": 20, "per_s": 1})
    context = NotifierContext(environ=ENV)  # the real clock: measured loosely, from below only
    async with SmsNotifier.from_config(SmsConfig.model_validate(config), context) as notifier:
        deliveries = await notifier.send(flood_notification(), recipients)
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    arrivals = sorted(r.at for r in receiver.to("/esms"))
    assert len(arrivals) == 5
    # 20 a second, burst 1: the fifth request leaves at least 4 × 50 ms after the first.
    # Only a lower bound, loosened for scheduling noise: this is not a test of speed.
    assert arrivals[-1] - arrivals[0] > 0.15
