"""Zalo ZNS against a real HTTP receiver playing both the ZNS and the OAuth endpoints."""

from __future__ import annotations

import json
import random
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerting.model import AlertKind, DeliveryStatus, Recipient, Severity
from alerting.notifiers import NotifierConfigError
from alerting.notifiers.base import NotifierContext, RetryPolicy
from alerting.notifiers.log import NotificationLog
from alerting.notifiers.zalo import ZaloConfig, ZaloNotifier, ZaloTokens, template_data
from tests.alerting.receivers import (
    ControlledClock,
    HttpReceiver,
    RecordedRequest,
    Reply,
    flood_notification,
    running,
)

ENV = {
    "QUANTRAC_ZALO_SECRET_KEY": "oa-app-secret",
    "QUANTRAC_ZALO_ACCESS_TOKEN": "access-1",
    "QUANTRAC_ZALO_REFRESH_TOKEN": "refresh-1",
}
NOW = datetime(2025, 10, 28, 3, 16, tzinfo=UTC)
SENT = {
    "error": 0,
    "message": "Success",
    "data": {
        "msg_id": "a4b1f5c0e1d2",
        "sent_time": "1761621360000",
        "quota": {"dailyQuota": "500", "remainingQuota": "499"},
    },
}
TOKEN_INVALID = {"error": -124, "message": "Access token is invalid"}
REFRESHED = {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": "90000"}


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    yield from running(HttpReceiver())


def _config(receiver: HttpReceiver, tmp_path: Path, **changes: Any) -> ZaloConfig:
    return ZaloConfig.model_validate(
        {
            "app_id": "1234567890123456789",
            "url": f"{receiver.url}/message/template",
            "oauth_url": f"{receiver.url}/v4/oa/access_token",
            "token_file": tmp_path / "zalo-tokens.json",
            "retry": RetryPolicy(max_attempts=3, initial_delay_s=1, jitter=0),
            "template": {
                "template_id": "301245",
                "data": {"tieu_de": "{title}", "tram": "{station}", "thoi_gian": "{time}"},
            },
            "templates_by_kind": {
                "flood": {
                    "template_id": "301246",
                    "data": {
                        "tram": "{station}",
                        "muc_nuoc": "{facts.value} {facts.unit}",
                        "cap_bao_dong": "{facts.label}",
                        "vuot": "{facts.margin} m",
                        "thoi_gian": "{time}",
                        "quan_huyen": "{district}",
                    },
                }
            },
            **changes,
        }
    )


def _notifier(
    config: ZaloConfig,
    clock: ControlledClock,
    book: NotificationLog | None = None,
    environ: dict[str, str] | None = None,
) -> ZaloNotifier:
    context = NotifierContext(
        log=book,
        environ=ENV if environ is None else environ,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(4),
        now=lambda: NOW,
    )
    return ZaloNotifier.from_config(config, context)


async def test_zns_request_field_by_field(receiver: HttpReceiver, tmp_path: Path) -> None:
    receiver.script("/message/template", Reply(200, json=SENT))
    notification = flood_notification()
    recipients = [Recipient("Ông Nguyễn Văn Bình", phone="+84905123456")]
    async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, recipients)
    assert (delivery.status, delivery.recipient, delivery.provider_id) == (
        DeliveryStatus.SENT,
        "84905123456",
        "a4b1f5c0e1d2",
    )
    (request,) = receiver.to("/message/template")
    assert request.method == "POST"
    assert request.headers["access_token"] == "access-1"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "phone": "84905123456",
        "template_id": "301246",  # the flood template
        "template_data": {
            "tram": "kim_long",
            "muc_nuoc": "3,45 m",
            "cap_bao_dong": "BĐ II",
            "vuot": "0,45 m",
            "thoi_gian": "10:15 28/10/2025",  # Vietnam time, UTC+7
            "quan_huyen": "Phú Xuân",
        },
        "tracking_id": notification.key,
    }


async def test_other_kinds_use_the_default_template(receiver: HttpReceiver, tmp_path: Path) -> None:
    receiver.script("/message/template", Reply(200, json=SENT))
    air = flood_notification(
        kind=AlertKind.AIR,
        severity=Severity.WARNING,
        title="[AQI Kém] Trạm Lê Lợi: VN_AQI 168",
        stations=("hue_le_loi",),
    )
    config = _config(receiver, tmp_path, development_mode=True)
    async with _notifier(config, ControlledClock()) as notifier:
        await notifier.send(air, [Recipient("Chị Hoa", phone="0914000111")])
    (request,) = receiver.to("/message/template")
    assert request.json() == {
        "phone": "84914000111",
        "template_id": "301245",
        "template_data": {
            "tieu_de": "[AQI Kém] Trạm Lê Lợi: VN_AQI 168",
            "tram": "hue_le_loi",
            "thoi_gian": "10:15 28/10/2025",
        },
        "tracking_id": air.key,
        "mode": "development",
    }


async def test_a_zalo_error_code_fails_without_retry(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script(
        "/message/template", Reply(200, json={"error": -108, "message": "Phone number invalid"})
    )
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(_config(receiver, tmp_path), clock, book) as notifier:
            (delivery,) = await notifier.send(
                flood_notification(), [Recipient("A", phone="0905123456")]
            )
        assert delivery.status is DeliveryStatus.FAILED
        assert delivery.detail.startswith("error=-108: Phone number invalid")
        assert len(receiver.to("/message/template")) == 1
        assert clock.sleeps == []
        assert len(book.dead_letters()) == 1


async def test_5xx_then_success_is_retried(receiver: HttpReceiver, tmp_path: Path) -> None:
    receiver.script("/message/template", Reply(502, body=b"Bad Gateway"), Reply(200, json=SENT))
    clock = ControlledClock()
    async with _notifier(_config(receiver, tmp_path), clock) as notifier:
        (delivery,) = await notifier.send(
            flood_notification(), [Recipient("A", phone="0905123456")]
        )
    assert delivery.status is DeliveryStatus.SENT
    assert len(receiver.to("/message/template")) == 2
    assert clock.sleeps == [1]


async def test_an_expired_token_is_refreshed_stored_and_the_message_sent(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script("/message/template", Reply(200, json=TOKEN_INVALID), Reply(200, json=SENT))
    receiver.script("/v4/oa/access_token", Reply(200, json=REFRESHED))
    config = _config(receiver, tmp_path)
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(config, clock, book) as notifier:
            (delivery,) = await notifier.send(
                flood_notification(), [Recipient("A", phone="0905123456")]
            )
        assert delivery.status is DeliveryStatus.SENT
        assert clock.sleeps == []  # the refresh is not a retry: no backoff
        assert [e.status.value for e in book.entries()] == ["sent"]
    (refresh,) = receiver.to("/v4/oa/access_token")
    assert refresh.method == "POST"
    assert refresh.headers["secret_key"] == "oa-app-secret"
    assert refresh.headers["content-type"] == "application/x-www-form-urlencoded"
    assert refresh.form() == {
        "refresh_token": "refresh-1",
        "app_id": "1234567890123456789",
        "grant_type": "refresh_token",
    }
    sends = receiver.to("/message/template")
    assert [r.headers["access_token"] for r in sends] == ["access-1", "access-2"]
    # the new pair is on disk, readable by us only ...
    token_file = tmp_path / "zalo-tokens.json"
    assert json.loads(token_file.read_text()) == {
        "access_token": "access-2",
        "refresh_token": "refresh-2",
        "expires_at": (NOW + timedelta(seconds=90000)).isoformat(),
    }
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # ... and a restart goes on from it, not from the spent pair in the environment
    restarted = _notifier(config, ControlledClock())
    assert restarted.tokens == ZaloTokens("access-2", "refresh-2", NOW + timedelta(seconds=90000))
    await restarted.aclose()


async def test_concurrent_deliveries_share_one_refresh(tmp_path: Path) -> None:
    def zns(request: RecordedRequest) -> Reply:
        ok = request.headers.get("access_token") == "access-2"
        return Reply(200, json=SENT if ok else TOKEN_INVALID)

    receiver = HttpReceiver(handler=zns)
    receiver.start()
    try:
        receiver.script("/v4/oa/access_token", Reply(200, json=REFRESHED))
        recipients = [Recipient(f"Thành viên {n}", phone=f"090512345{n}") for n in range(5)]
        async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
            deliveries = await notifier.send(flood_notification(), recipients)
        assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
        # a refresh token works once: five stale deliveries, one refresh
        assert len(receiver.to("/v4/oa/access_token")) == 1
    finally:
        receiver.stop()


async def test_a_refused_refresh_fails_the_delivery(receiver: HttpReceiver, tmp_path: Path) -> None:
    receiver.script("/message/template", Reply(200, json=TOKEN_INVALID))
    receiver.script(
        "/v4/oa/access_token",
        Reply(200, json={"error": -14014, "error_name": "Invalid refresh token"}),
    )
    async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(
            flood_notification(), [Recipient("A", phone="0905123456")]
        )
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail.startswith("token refresh refused")
    assert "-14014" in delivery.detail
    assert len(receiver.to("/message/template")) == 1


async def test_a_refresh_that_meets_a_5xx_is_retried_with_the_delivery(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script(
        "/message/template",
        Reply(200, json=TOKEN_INVALID),
        Reply(200, json=TOKEN_INVALID),
        Reply(200, json=SENT),
    )
    receiver.script("/v4/oa/access_token", Reply(503, body=b"busy"), Reply(200, json=REFRESHED))
    clock = ControlledClock()
    with NotificationLog(tmp_path / "log.sqlite3") as book:
        async with _notifier(_config(receiver, tmp_path), clock, book) as notifier:
            (delivery,) = await notifier.send(
                flood_notification(), [Recipient("A", phone="0905123456")]
            )
        assert delivery.status is DeliveryStatus.SENT
        assert clock.sleeps == [1]
        first, second = book.entries()
        assert (first.status, first.detail) == (
            DeliveryStatus.RETRY,
            "token refresh: HTTP 503: busy",
        )
        assert second.status is DeliveryStatus.SENT
    assert len(receiver.to("/v4/oa/access_token")) == 2


async def test_a_token_refused_again_after_refresh_is_final(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.script("/message/template", Reply(200, json=TOKEN_INVALID))
    receiver.script("/v4/oa/access_token", Reply(200, json=REFRESHED))
    async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(
            flood_notification(), [Recipient("A", phone="0905123456")]
        )
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail.startswith("token refused after refresh")
    assert len(receiver.to("/message/template")) == 2  # the first try and one after refresh
    assert len(receiver.to("/v4/oa/access_token")) == 1


async def test_a_known_expiry_refreshes_before_sending(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    token_file = tmp_path / "zalo-tokens.json"
    token_file.write_text(
        json.dumps(
            {
                "access_token": "access-old",
                "refresh_token": "refresh-1",
                "expires_at": (NOW - timedelta(minutes=1)).isoformat(),
            }
        )
    )
    receiver.script("/message/template", Reply(200, json=SENT))
    receiver.script("/v4/oa/access_token", Reply(200, json=REFRESHED))
    async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(
            flood_notification(), [Recipient("A", phone="0905123456")]
        )
    assert delivery.status is DeliveryStatus.SENT
    assert [r.headers["access_token"] for r in receiver.to("/message/template")] == ["access-2"]


async def test_a_missing_fact_fails_before_any_request(
    receiver: HttpReceiver, tmp_path: Path
) -> None:
    notification = flood_notification(facts={"value": 3.45, "unit": "m"})
    async with _notifier(_config(receiver, tmp_path), ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, [Recipient("A", phone="0905123456")])
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail == "template 301246: fact 'label' is missing"
    assert receiver.requests == []


def test_template_values_are_formatted_for_vietnamese_readers(tmp_path: Path) -> None:
    config = ZaloConfig.model_validate(
        {
            "app_id": "1",
            "token_file": tmp_path / "t.json",
            "template": {
                "template_id": "1",
                "data": {
                    "v": "{facts.value}",
                    "r": "{facts.rate}",
                    "big": "{facts.big}",
                    "at": "{facts.observed_at}",
                    "n": "{level}/{severity}/{kind}/{state}",
                },
            },
        }
    )
    notification = flood_notification(
        facts={"value": 3.0, "rate": 0.125, "big": 1234.5, "observed_at": NOW}
    )
    assert template_data(config.template, notification, config) == {
        "v": "3",
        "r": "0,12",
        "big": "1234,5",
        "at": "10:16 28/10/2025",
        "n": "2/critical/flood/firing",
    }


def test_unknown_template_placeholders_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"data.tram: unknown placeholder \{tram_id\}"):
        ZaloConfig.model_validate(
            {"app_id": "1", "template": {"template_id": "1", "data": {"tram": "{tram_id}"}}}
        )


def test_without_tokens_the_notifier_does_not_start(tmp_path: Path) -> None:
    config = ZaloConfig.model_validate(
        {
            "app_id": "1",
            "token_file": tmp_path / "none.json",
            "template": {"template_id": "1", "data": {"t": "{title}"}},
        }
    )
    environ = {"QUANTRAC_ZALO_SECRET_KEY": "s"}
    with pytest.raises(NotifierConfigError, match="QUANTRAC_ZALO_REFRESH_TOKEN is not set"):
        _notifier(config, ControlledClock(), environ=environ)
    with pytest.raises(NotifierConfigError, match="QUANTRAC_ZALO_SECRET_KEY is not set"):
        _notifier(config, ControlledClock(), environ={})


def test_station_placeholders_name_the_stations(tmp_path: Path) -> None:
    """Issue 11: {station} gave "kim_long"; a person reads "Kim Long". Facts are flat; ISO times
    in them are read as times."""
    config = ZaloConfig.model_validate(
        {
            "app_id": "1",
            "token_file": tmp_path / "t.json",
            "template": {
                "template_id": "1",
                "data": {
                    "tram": "{station}",
                    "ma": "{station_id}",
                    "cac_tram": "{stations}",
                    "ma_cac_tram": "{station_ids}",
                    "dinh": "{facts.crest_m} m lúc {facts.crest_at}",
                },
            },
        }
    )
    others = [{"station_id": "phu_oc", "station_name": "Phú Ốc", "incident": "f:phu_oc"}]
    notification = flood_notification(
        stations=("kim_long", "phu_oc"),
        facts={
            "station_id": "kim_long",
            "station_name": "Kim Long",
            "crest_m": 3.82,
            "crest_at": "2025-11-22T10:45:00+00:00",
            "others": others,
        },
    )
    assert template_data(config.template, notification, config) == {
        "tram": "Kim Long",
        "ma": "kim_long",
        "cac_tram": "Kim Long, Phú Ốc",
        "ma_cac_tram": "kim_long, phu_oc",
        "dinh": "3,82 m lúc 17:45 22/11/2025",
    }
