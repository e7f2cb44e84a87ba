"""Grafana annotations through grafana-client, against a receiver speaking Grafana's
annotation API on loopback."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from alerting.model import DeliveryStatus, NotificationState, Severity
from alerting.notifiers.base import NotifierContext, RetryPolicy
from alerting.notifiers.grafana import GrafanaConfig, GrafanaNotifier, annotation_tags, epoch_ms
from tests.alerting.receivers import (
    KIM_LONG_AT,
    ControlledClock,
    GrafanaAnnotationApi,
    HttpReceiver,
    Reply,
    flood_notification,
    running,
)

TOKEN = "glsa_quantrac_test_token"
INCIDENT = "inc-kim_long-flood-20251028T0315Z"


@pytest.fixture
def grafana() -> Iterator[tuple[HttpReceiver, GrafanaAnnotationApi]]:
    api = GrafanaAnnotationApi(token=TOKEN)
    for receiver in running(HttpReceiver(handler=api)):
        yield receiver, api


def _notifier(
    url: str, clock: ControlledClock, token: str = TOKEN, **changes: Any
) -> GrafanaNotifier:
    config = GrafanaConfig.model_validate(
        {
            "url": url,
            "token_env": "QUANTRAC_GRAFANA_TOKEN",
            "dashboard_uid": "quantrac-hydro",
            "retry": RetryPolicy(max_attempts=3, initial_delay_s=1, jitter=0),
            **changes,
        }
    )
    context = NotifierContext(
        environ={"QUANTRAC_GRAFANA_TOKEN": token},
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
    )
    return GrafanaNotifier.from_config(config, context)


def _resolved() -> Any:
    return flood_notification(
        key=f"{INCIDENT}:resolved",
        state=NotificationState.RESOLVED,
        severity=Severity.INFO,
        level=0,
        title="[HẾT BÁO ĐỘNG] Sông Hương tại Kim Long",
        text="Mực nước sông Hương tại Kim Long đã xuống dưới báo động I.",
        created_at=KIM_LONG_AT + timedelta(hours=9),
    )


async def test_a_firing_incident_is_annotated_then_ended(
    grafana: tuple[HttpReceiver, GrafanaAnnotationApi],
) -> None:
    receiver, api = grafana
    notification = flood_notification()
    async with _notifier(receiver.url, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(notification, [])
        assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "1")
        (post,) = receiver.to("/api/annotations")
        assert post.method == "POST"
        assert post.headers["authorization"] == f"Bearer {TOKEN}"
        body = post.json()
        assert body["time"] == epoch_ms(KIM_LONG_AT) == 1761621300000
        assert body["dashboardUID"] == "quantrac-hydro"
        assert body["text"] == f"{notification.title}\n{notification.text}"
        assert body["tags"] == [
            "quantrac",
            "kind:flood",
            "severity:critical",
            "level:2",
            "station:kim_long",
            "district:Phú Xuân",
            f"incident:{INCIDENT}",
            "state:firing",
        ]

        (ended,) = await notifier.send(_resolved(), [])
    assert (ended.status, ended.provider_id) == (DeliveryStatus.SENT, "1")
    (patch,) = [r for r in receiver.requests if r.method == "PATCH"]
    assert patch.path == "/api/annotations/1"
    assert patch.json()["timeEnd"] == epoch_ms(KIM_LONG_AT + timedelta(hours=9))
    annotation = api.annotations[1]
    assert annotation["time"] == 1761621300000
    assert annotation["timeEnd"] == 1761621300000 + 9 * 3600 * 1000  # a region now
    assert annotation["tags"] == body["tags"]  # the PATCH kept them
    assert annotation["text"] == body["text"]
    assert len(api.annotations) == 1


async def test_after_a_restart_the_annotation_is_found_by_its_tags(
    grafana: tuple[HttpReceiver, GrafanaAnnotationApi],
) -> None:
    receiver, api = grafana
    async with _notifier(receiver.url, ControlledClock()) as notifier:
        await notifier.send(flood_notification(), [])
        escalated = flood_notification(
            key=f"{INCIDENT}:escalated:3",
            state=NotificationState.ESCALATED,
            level=3,
            created_at=KIM_LONG_AT + timedelta(hours=2),
        )
        await notifier.send(escalated, [])  # a mark of its own, not the incident's start
    async with _notifier(receiver.url, ControlledClock()) as restarted:
        (ended,) = await restarted.send(_resolved(), [])
    assert ended.status is DeliveryStatus.SENT
    lookup = [r for r in receiver.requests if r.method == "GET"]
    assert len(lookup) == 1
    assert sorted(lookup[0].query["tags"]) == [f"incident:{INCIDENT}", "state:firing"]
    assert api.annotations[1]["timeEnd"] == epoch_ms(KIM_LONG_AT + timedelta(hours=9))
    assert api.annotations[2]["timeEnd"] == api.annotations[2]["time"]  # still a point


async def test_a_resolved_incident_never_annotated_gets_a_mark(
    grafana: tuple[HttpReceiver, GrafanaAnnotationApi],
) -> None:
    receiver, api = grafana
    async with _notifier(receiver.url, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(_resolved(), [])
    assert delivery.status is DeliveryStatus.SENT
    (annotation,) = api.annotations.values()
    assert "state:resolved" in annotation["tags"]


async def test_repeats_add_nothing(grafana: tuple[HttpReceiver, GrafanaAnnotationApi]) -> None:
    receiver, _ = grafana
    repeat = flood_notification(key=f"{INCIDENT}:repeat:1", state=NotificationState.REPEAT)
    async with _notifier(receiver.url, ControlledClock()) as notifier:
        (delivery,) = await notifier.send(repeat, [])
    assert delivery.status is DeliveryStatus.SENT
    assert receiver.requests == []


async def test_5xx_is_retried_and_401_is_not(
    grafana: tuple[HttpReceiver, GrafanaAnnotationApi],
) -> None:
    receiver, api = grafana
    receiver.script(
        "/api/annotations",
        Reply(503, json={"message": "database is locked"}),
        Reply(200, json={"id": 41, "message": "Annotation added"}),
    )
    clock = ControlledClock()
    async with _notifier(receiver.url, clock) as notifier:
        (delivery,) = await notifier.send(flood_notification(), [])
    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "41")
    assert clock.sleeps == [1]
    assert len(receiver.to("/api/annotations")) == 2

    receiver.script("/api/annotations")  # back to the API itself
    receiver.requests.clear()
    clock = ControlledClock()
    async with _notifier(receiver.url, clock, token="glsa_revoked") as notifier:
        (delivery,) = await notifier.send(flood_notification(), [])
    assert delivery.status is DeliveryStatus.FAILED
    assert delivery.detail.startswith("HTTP 401")
    assert len(receiver.requests) == 1
    assert clock.sleeps == []
    assert api.annotations == {}


async def test_grafana_under_a_sub_path(grafana: tuple[HttpReceiver, GrafanaAnnotationApi]) -> None:
    receiver, _ = grafana
    receiver.script("/grafana/api/annotations", Reply(200, json={"id": 7, "message": "ok"}))
    async with _notifier(f"{receiver.url}/grafana/", ControlledClock()) as notifier:
        (delivery,) = await notifier.send(flood_notification(), [])
    assert (delivery.status, delivery.provider_id) == (DeliveryStatus.SENT, "7")


def test_tags_are_unique_and_ordered() -> None:
    notification = flood_notification(stations=("kim_long", "kim_long", "phu_oc"), district="")
    assert annotation_tags(notification, ["quantrac", "kind:flood"]) == [
        "quantrac",
        "kind:flood",
        "severity:critical",
        "level:2",
        "station:kim_long",
        "station:phu_oc",
        f"incident:{INCIDENT}",
        "state:firing",
    ]
