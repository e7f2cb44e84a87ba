"""Delivery queues (issue 11): a queue per receiver and channel, rounds until a deadline, and
what each receiver was told — brought to the incidents' current state after a silence, an
inhibition or a crash. Real HTTP receivers on loopback; the service's clock is controlled."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting.config import AlertingConfig
from alerting.delivery import (
    Covered,
    DeliverySettings,
    Destination,
    EntryState,
    Told,
    catch_up,
    round_outcome,
)
from alerting.delivery_queues import DeliveryQueues
from alerting.delivery_store import DeliveryStore, notification_json, notification_of
from alerting.incidents import Silence
from alerting.model import Delivery, DeliveryStatus, NotificationState, Severity
from alerting.notifiers import NotifierContext, build_notifier
from alerting.notifiers.log import NotificationLog
from alerting.rules import parse_rules
from gateway.bus.memory import InProcessBus
from gateway.model import Quality, Reading
from quantrac.alerting_app import AlertingApp, build_alerting
from quantrac.site import load_site
from tests.alerting.receivers import HttpReceiver, Reply, flood_notification
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually

T0 = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
COMMITTEE = ("84905000001", "84905000002")
TECHNICIAN = "84905000003"
ENV = {"IOC_SECRET": "s", "ESMS_KEY": "k", "ESMS_SECRET": "s"}
FAST_RETRY = {"max_attempts": 2, "initial_delay_s": 0.01, "jitter": 0}

# --- pure rules --------------------------------------------------------------------------------

OPEN_2 = Told(accepted_revision=1, accepted_level=2, accepted_open=True, handled_revision=1)
RESOLVED = Told(accepted_revision=3, accepted_level=0, accepted_open=False, handled_revision=3)
HANDED_ONLY = Told(handled_revision=0)  # queued once, never accepted


@pytest.mark.parametrize(
    ("told", "level", "is_open", "expected"),
    [
        (None, 3, True, NotificationState.FIRING),  # never heard of it: the current level
        (HANDED_ONLY, 3, True, NotificationState.FIRING),
        (OPEN_2, 3, True, NotificationState.ESCALATED),
        (OPEN_2, 1, True, NotificationState.DEESCALATED),
        (OPEN_2, 2, True, None),  # knows the level: nothing (a reminder comes on its own)
        (OPEN_2, 0, False, NotificationState.RESOLVED),
        (None, 0, False, None),  # never an all-clear for an alarm it never got
        (HANDED_ONLY, 0, False, None),
        (RESOLVED, 0, False, None),
    ],
)  # fmt: skip
def test_catch_up(
    told: Told | None, level: int, is_open: bool, expected: NotificationState | None
) -> None:
    assert catch_up(told, level, is_open) is expected


def _d(status: DeliveryStatus) -> Delivery:
    return Delivery("sms", "849", status, status.value)


SENT, RETRY, FAILED = DeliveryStatus.SENT, DeliveryStatus.RETRY, DeliveryStatus.FAILED


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([SENT], EntryState.DELIVERED),
        ([SENT, FAILED], EntryState.DELIVERED),  # a landline among mobiles: the rest got it
        ([SENT, RETRY], EntryState.QUEUED),  # another round, for the one still failing
        ([RETRY], EntryState.QUEUED),
        ([FAILED, RETRY], EntryState.QUEUED),
        ([FAILED], EntryState.FAILED),  # refused: never retried
        ([], EntryState.FAILED),
    ],
)
def test_round_outcome(statuses: list[DeliveryStatus], expected: EntryState) -> None:
    assert round_outcome([_d(s) for s in statuses])[0] is expected


def test_settings_backoff_doubles_to_a_ceiling_and_deadlines_go_by_severity() -> None:
    settings = DeliverySettings(retry_initial_s=30, retry_max_s=600, deadline_h={"warning": 2})
    assert [settings.backoff(n).total_seconds() for n in (1, 2, 3, 5, 6, 40)] == [
        30, 60, 120, 480, 600, 600,
    ]  # fmt: skip
    assert settings.deadline(Severity.WARNING) == timedelta(hours=2)  # configured
    assert settings.deadline(Severity.EMERGENCY) == timedelta(hours=24)  # the default
    assert settings.deadline(Severity.INFO) == timedelta(hours=1)
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        DeliverySettings(deadline_h={"urgent": 1})


def test_a_notification_survives_its_json() -> None:
    notification = flood_notification()
    again = notification_of(notification_json(notification))
    assert again == replace(notification, incidents=tuple(notification.incidents),
                            stations=tuple(notification.stations))  # fmt: skip
    assert again.facts["observed_at"] == notification.facts["observed_at"]


# --- the store ----------------------------------------------------------------------------------

IOC = Destination("ioc", "webhook")
SMS = Destination("ban_chi_huy", "sms")


def test_the_same_key_is_one_entry_and_an_all_clear_waits_as_long_as_its_alarm(
    tmp_path: Path,
) -> None:
    store = DeliveryStore(tmp_path / "notifications.sqlite3")
    firing = flood_notification(key="a@1#0:firing", severity=Severity.EMERGENCY)
    cover = [Covered("a@1", 0, 3, True)]
    assert store.enqueue([(IOC, firing, cover, T0 + timedelta(hours=24))], T0) == 1
    assert store.enqueue([(IOC, firing, cover, T0 + timedelta(hours=24))], T0) == 0
    resolved = flood_notification(
        key="a@1#1:resolved", state=NotificationState.RESOLVED, severity=Severity.INFO
    )
    store.enqueue([(IOC, resolved, [Covered("a@1", 1, 0, False)], T0 + timedelta(hours=1))], T0)
    waiting = store.entries(state=EntryState.QUEUED)
    assert [e.notification.key for e in waiting] == ["a@1#1:resolved", "a@1#0:firing"]
    assert waiting[0].deadline == T0 + timedelta(hours=24)  # not 1 h: it ends a 24 h alarm
    assert store.told(["a@1"])[("a@1", IOC)] == Told(handled_revision=1)
    head = store.head(IOC)
    assert head is not None
    assert head.notification.key == "a@1#0:firing"  # in order: the firing first
    store.finish(head, EntryState.DELIVERED, T0, "")
    assert store.told(["a@1"])[("a@1", IOC)] == Told(0, 3, True, 1)
    assert store.believed_open() == {"a@1"}
    store.close()


# --- the workers, on real receivers -----------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    server.script("/ioc", Reply(200, json={"ok": True}))
    server.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))
    yield server
    server.stop()


def config(url: str, **delivery: Any) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "notifiers": {
                "webhook": {"url": f"{url}/ioc", "secret_env": "IOC_SECRET",
                            "retry": FAST_RETRY, "timeout_s": 5},
                "sms": {
                    "provider": "esms", "url": f"{url}/esms", "sender": "QUANTRAC-HUE",
                    "secret_env": {"api_key": "ESMS_KEY", "secret_key": "ESMS_SECRET"},
                    "retry": FAST_RETRY,
                },
            },
            "routing": {
                "recipients": {
                    "ban_chi_huy": {"channels": ["sms"], "members": [
                        {"name": "Văn phòng BCH", "phone": "0905000001"},
                        {"name": "Chánh văn phòng", "phone": "0905000002"}]},
                    "ky_thuat": {"channels": ["sms"], "members": [
                        {"name": "Kỹ thuật viên", "phone": "0905000003"}]},
                },
                "endpoints": {"ioc": "webhook"},
                "routes": [
                    {"match": {"kind": ["station"]}, "to": ["ky_thuat"]},
                    # The technicians hear of floods too: what their silence must not mute
                    # for the others.
                    {"match": {"kind": ["flood"]}, "to": ["ban_chi_huy", "ioc", "ky_thuat"]},
                ],
                "group_wait_s": 0,
            },
            "repeat_after_h": {"warning": 48, "critical": 48, "emergency": 48},
            "delivery": {"retry_initial_s": 60, "retry_max_s": 600, **delivery},
        }
    )  # fmt: skip


def queues_of(
    tmp_path: Path, receiver: HttpReceiver, clock: Any, **delivery: Any
) -> tuple[DeliveryQueues, NotificationLog]:
    alerting = config(receiver.url, **delivery)
    book = NotificationLog(tmp_path / "notifications.sqlite3")
    context = NotifierContext(log=book, environ=ENV, state_dir=tmp_path)
    notifiers = {
        channel: build_notifier(channel, channel_config, context)
        for channel, channel_config in alerting.channel_configs().items()
    }
    store = DeliveryStore(tmp_path / "notifications.sqlite3")
    return DeliveryQueues(store, alerting.routing, notifiers, alerting.delivery, clock), book


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def sms_to(receiver: HttpReceiver, *phones: str) -> list[str]:
    return [m["Content"] for m in (r.json() for r in receiver.to("/esms")) if m["Phone"] in phones]


async def test_a_failing_webhook_does_not_delay_the_sms(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    receiver.script("/ioc", Reply(500, body=b"IOC down"))
    # Real time here: the workers run, and a round is retried 0.3 s later.
    queues, book = queues_of(tmp_path, receiver, lambda: datetime.now(UTC), retry_initial_s=0.3)
    notification = flood_notification()
    cover = [Covered("flood:kim_long@1", 0, 2, True)]
    runner = asyncio.create_task(queues.run())
    try:
        await asyncio.sleep(0.1)
        started = time.monotonic()
        queues.enqueue([(IOC, notification, cover), (SMS, notification, cover)])
        await eventually(lambda: len(receiver.to("/esms")) == 2, 5, "the committee's SMS")
        sms_after = max(r.at for r in receiver.to("/esms")) - started
        assert sms_after < 0.5, sms_after  # not behind the webhook's retries
        await eventually(lambda: len(receiver.to("/ioc")) >= 4, 5, "two failed rounds")
        health = queues.health()
        assert "not delivered after" in health["ioc"]["webhook"]["degraded"]
        assert health["ioc"]["webhook"]["depth"] == 1
        assert health["ban_chi_huy"]["sms"] == {
            "depth": 0, "oldest_age_s": 0.0, "attempts": 1, "delivered": 1, "failed": 0,
            "expired": 0, "dropped": 0, "last_error": "",
        }  # fmt: skip
        receiver.script("/ioc", Reply(200, json={"ok": True}))  # the IOC is back
        await eventually(lambda: queues.health()["ioc"]["webhook"]["delivered"] == 1, 10,
                         "the webhook delivered once the IOC is back")  # fmt: skip
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    keys = {r.headers["idempotency-key"] for r in receiver.to("/ioc")}
    assert keys == {notification.key}  # the same key on every round: a resend is recognisable
    assert "degraded" not in queues.health()["ioc"]["webhook"]
    assert len(receiver.to("/esms")) == 2  # the SMS was not sent again
    book.close()


async def test_a_message_failing_past_its_deadline_expires_with_its_reason(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    receiver.script("/ioc", Reply(503, body=b"maintenance"))
    clock = Clock()
    queues, book = queues_of(tmp_path, receiver, clock, deadline_h={"critical": 0.5})
    queues.enqueue([(IOC, flood_notification(), [Covered("x@1", 0, 2, True)])])
    rounds = 0
    while queues.store.entries(state=EntryState.QUEUED):
        await queues.drain()
        rounds += 1
        clock.now += timedelta(minutes=1)
    (expired,) = queues.store.entries(state=EntryState.EXPIRED)
    # Pauses of 1, 2, 4, 8, then 10 min (the ceiling): rounds at 0, 1, 3, 7, 15 and 25 min;
    # the next one (35) would be past the deadline, so the sixth round's failure expires it.
    assert expired.rounds == 6
    assert expired.reason.startswith("not delivered within 0.5 h (critical) after 6 round(s)")
    assert "HTTP 503: maintenance" in expired.reason
    health = queues.health()["ioc"]["webhook"]
    assert (health["expired"], health["attempts"], health["depth"]) == (1, 6, 0)
    assert len(receiver.to("/ioc")) == 12  # 6 rounds of 2 attempts, none after the deadline
    assert rounds == 26
    book.close()


async def test_a_refusal_is_final_and_a_member_refused_is_not_asked_again(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    queues, book = queues_of(tmp_path, receiver, clock)
    receiver.script("/ioc", Reply(400, json={"error": "schema"}))
    queues.enqueue([(IOC, flood_notification(), [Covered("x@1", 0, 2, True)])])
    await queues.drain()
    (failed,) = queues.store.entries(state=EntryState.FAILED)
    assert "HTTP 400" in failed.reason
    assert len(receiver.to("/ioc")) == 1
    clock.now += timedelta(hours=1)
    await queues.drain()
    assert len(receiver.to("/ioc")) == 1  # never retried
    book.close()


async def test_an_all_clear_whose_alarm_never_arrived_is_dropped(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    queues, book = queues_of(tmp_path, receiver, clock)
    receiver.script("/ioc", Reply(400, json={"error": "schema"}))  # the firing is refused
    firing = flood_notification(key="a@1#0:firing")
    queues.enqueue([(IOC, firing, [Covered("a@1", 0, 2, True)])])
    await queues.drain()
    receiver.script("/ioc", Reply(200, json={"ok": True}))
    resolved = flood_notification(key="a@1#1:resolved", state=NotificationState.RESOLVED)
    queues.enqueue([(IOC, resolved, [Covered("a@1", 1, 0, False)])])
    await queues.drain()
    assert [e.state for e in queues.store.entries()] == [EntryState.DROPPED, EntryState.FAILED]
    assert len(receiver.to("/ioc")) == 1  # the refused firing only
    book.close()


# --- the service: silences, inhibition, restarts ----------------------------------------------

RULES = [
    {"id": "flood_levels", "type": "threshold", "stations": ["kim_long", "phu_oc"],
     "param": "water_level", "from_station": "flood_levels", "hysteresis": 0.05,
     "kind": "flood"},
    {"id": "no_data", "type": "deadman", "stations": ["phu_oc"], "no_data_for": "10m"},
]  # fmt: skip


def build(tmp_path: Path, receiver: HttpReceiver, clock: Clock, **routing: Any) -> AlertingApp:
    alerting = config(receiver.url)
    if routing:
        alerting = alerting.model_copy(
            update={"routing": alerting.routing.model_copy(update=routing)}
        )
    return build_alerting(
        load_site(EXAMPLE_SITE), InProcessBus(), tmp_path / "data", config=alerting,
        rules=parse_rules(RULES), clock=clock, environ=ENV,
    )  # fmt: skip


async def level(app: AlertingApp, station: str, metres: float, at: datetime) -> None:
    reading = Reading(station, "water_level", metres, "m", at, quality=Quality.GOOD)
    await app.service.on_signals(app.service.rules.on_batch([reading]))


def webhook_states(receiver: HttpReceiver, station: str) -> list[tuple[str, int]]:
    bodies = [r.json() for r in receiver.to("/ioc")]
    return [(b["state"], b["level"]) for b in bodies if station in b["stations"]]


async def test_a_technicians_silence_mutes_only_them_and_they_are_brought_up_to_date(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    app = build(tmp_path, receiver, clock)
    store = app.incidents
    silence = store.add_silence(
        Silence(0, T0, T0 + timedelta(hours=2), "kỹ thuật viên", "thay cảm biến",
                station="kim_long", maintenance=True, receivers=("ky_thuat",))
    )  # fmt: skip
    for minute, metres in enumerate([0.5, 1.2, 2.3, 1.4]):
        clock.now = T0 + timedelta(minutes=minute)
        await level(app, "kim_long", metres, clock.now)
        await app.service.tick()
    # The committee and the IOC got every change; the technician nothing.
    assert webhook_states(receiver, "kim_long") == [
        ("firing", 1), ("escalated", 2), ("deescalated", 1)
    ]  # fmt: skip
    assert len(sms_to(receiver, *COMMITTEE)) == 6
    assert sms_to(receiver, TECHNICIAN) == []
    assert app.service.stats.silenced == 3
    # The silence ends early: the technician hears the current state, once.
    store.expire_silence(silence.id, clock.now)
    for _ in range(3):
        clock.now += timedelta(seconds=30)
        await app.service.tick()
    (caught_up,) = sms_to(receiver, TECHNICIAN)
    assert caught_up.startswith("[BAO DONG I]"), caught_up
    # Then the all-clear reaches everyone who had the alarm.
    clock.now += timedelta(minutes=1)
    await level(app, "kim_long", 0.5, clock.now)
    await app.service.tick()
    assert len(sms_to(receiver, TECHNICIAN)) == 2
    assert len(sms_to(receiver, *COMMITTEE)) == 8
    assert webhook_states(receiver, "kim_long")[-1] == ("resolved", 0)
    await app.aclose()


async def test_no_all_clear_for_an_alarm_a_receiver_never_got(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    app = build(tmp_path, receiver, clock)
    silence = app.incidents.add_silence(
        Silence(0, T0, T0 + timedelta(hours=2), "kỹ thuật viên", "bảo trì",
                station="kim_long", receivers=("ky_thuat",))
    )  # fmt: skip
    for minute, metres in enumerate([1.2, 0.5]):
        clock.now = T0 + timedelta(minutes=minute)
        await level(app, "kim_long", metres, clock.now)
        await app.service.tick()
    app.incidents.expire_silence(silence.id, clock.now)
    for _ in range(3):
        clock.now += timedelta(seconds=30)
        await app.service.tick()
    assert sms_to(receiver, TECHNICIAN) == []  # the alarm is over: nothing to tell them
    assert webhook_states(receiver, "kim_long") == [("firing", 1), ("resolved", 0)]
    await app.aclose()


async def test_an_offline_notice_and_its_recovery_within_the_group_wait_send_nothing(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    """Issue 11: one failed poll made a station look offline for a moment, and with the notice
    and the recovery in one group wait, the recovery alone left: "có tín hiệu trở lại" with no
    "mất tín hiệu" before it. Now neither leaves; a longer outage still gives both."""
    clock = Clock()
    app = build(tmp_path, receiver, clock, group_wait_s=3)
    await level(app, "phu_oc", 0.8, T0)
    await app.service.tick()
    # Ten minutes of silence: the deadman fires; its notice waits 3 s in its group.
    clock.now = T0 + timedelta(minutes=10, seconds=0.5)
    await app.service.tick()
    assert app.service.grouper.pending == 1
    # The next poll answers a second later: the station is back before the notice left.
    clock.now += timedelta(seconds=1)
    await level(app, "phu_oc", 0.8, clock.now)
    for _ in range(8):
        clock.now += timedelta(seconds=1)
        await app.service.tick()
    assert sms_to(receiver, TECHNICIAN) == []
    assert app.queue.entries() == []  # not queued and dropped: never queued
    health = app.service.health()
    assert (health["flapped_in_group"], health["waiting_in_groups"]) == (1, 0)
    assert app.service.incidents.unnotified() == []  # nothing owed after a restart either
    # A real outage: the notice leaves after its wait, and the recovery after it.
    clock.now += timedelta(minutes=11)
    await app.service.tick()
    clock.now += timedelta(seconds=4)
    await app.service.tick()
    await level(app, "phu_oc", 0.8, clock.now)
    for _ in range(4):
        clock.now += timedelta(seconds=1)
        await app.service.tick()
    assert [c.split("]")[0] for c in sms_to(receiver, TECHNICIAN)] == [
        "[MAT TIN HIEU", "[CO TIN HIEU TRO LAI"
    ]  # fmt: skip
    assert app.service.health()["flapped_in_group"] == 1
    await app.aclose()


async def both_fall(app: AlertingApp, at: datetime) -> None:
    """Kim Long and Phú Ốc back under BĐ I in one batch: one group's all-clears."""
    readings = [Reading(s, "water_level", 0.5, "m", at, quality=Quality.GOOD)
                for s in ("kim_long", "phu_oc")]  # fmt: skip
    await app.service.on_signals(app.service.rules.on_batch(readings))


def ioc_all_clears(receiver: HttpReceiver) -> list[list[str]]:
    """The all-clears the IOC was sent, once each (a failed round sends the same again)."""
    sent = {r.headers["idempotency-key"]: r.json() for r in receiver.to("/ioc")}
    return [b["stations"] for b in sent.values() if b["state"] == "resolved"]


async def test_a_groups_all_clear_leaves_out_an_alarm_the_receiver_refused(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    """One group ends two alarms; the IOC accepted one and refused the other: its all-clear
    names only the one it had (the queue's own check passed the whole entry on the first)."""
    clock = Clock()
    app = build(tmp_path, receiver, clock, group_by=["kind"])
    await level(app, "kim_long", 1.2, T0)
    await app.service.tick()
    receiver.script("/ioc", Reply(400, json={"error": "schema"}))
    clock.now += timedelta(minutes=1)
    await level(app, "phu_oc", 1.6, clock.now)
    await app.service.tick()
    receiver.script("/ioc", Reply(200, json={"ok": True}))
    clock.now += timedelta(minutes=1)
    await both_fall(app, clock.now)
    await app.service.tick()
    assert ioc_all_clears(receiver) == [["kim_long"]]
    # The committee had both alarms: both end, in one message.
    assert [c.split("]")[0] for c in sms_to(receiver, COMMITTEE[0])] == [
        "[BAO DONG I", "[BAO DONG I", "[HET BAO DONG"
    ]  # fmt: skip
    await app.aclose()


async def test_an_all_clear_whose_alarm_still_waits_in_the_queue_goes_on_its_own(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    """Phú Ốc's alarm is still being retried when both alarms end: its all-clear is an entry
    of its own, dropped when that alarm expires undelivered; Kim Long's is sent."""
    clock = Clock()
    app = build(tmp_path, receiver, clock, group_by=["kind"])
    app.service.queues.settings = DeliverySettings(deadline_h={"warning": 0.1},
                                                   retry_initial_s=60)  # fmt: skip
    await level(app, "kim_long", 1.2, T0)
    await app.service.tick()
    receiver.script("/ioc", Reply(500, body=b"IOC down"))
    clock.now += timedelta(minutes=1)
    await level(app, "phu_oc", 1.6, clock.now)
    await app.service.tick()
    clock.now += timedelta(seconds=10)
    await both_fall(app, clock.now)
    await app.service.tick()
    waiting = [
        e.notification.stations for e in app.queue.entries(receiver="ioc", state=EntryState.QUEUED)
    ]
    # Newest first: Phú Ốc's all-clear, Kim Long's, and Phú Ốc's alarm before them.
    assert waiting == [("phu_oc",), ("kim_long",), ("phu_oc",)]
    # Phú Ốc's alarm expires (6 min), the IOC comes back.
    for _ in range(8):
        clock.now += timedelta(minutes=1)
        await app.service.tick()
    receiver.script("/ioc", Reply(200, json={"ok": True}))
    for _ in range(12):
        clock.now += timedelta(minutes=1)
        await app.service.tick()
    assert ioc_all_clears(receiver) == [["kim_long"]]
    states = {tuple(e.notification.stations): e.state for e in app.queue.entries(receiver="ioc")
              if e.notification.state is NotificationState.RESOLVED}  # fmt: skip
    assert states == {("kim_long",): EntryState.DELIVERED, ("phu_oc",): EntryState.DROPPED}
    await app.aclose()


async def test_a_backlog_after_an_outage_brings_the_committee_the_current_level(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    app = build(tmp_path, receiver, clock)
    await level(app, "phu_oc", 0.8, T0)
    await app.service.tick()
    # Phú Ốc falls silent: after 10 minutes it looks offline (the technician is told).
    for minute in range(1, 31):
        clock.now = T0 + timedelta(minutes=minute)
        await app.service.tick()
    assert [c.split("]")[0] for c in sms_to(receiver, TECHNICIAN)] == ["[MAT TIN HIEU"]
    # After half an hour the gateway's outbox replays the outage, batch by batch: the river
    # rose to BĐ III meanwhile. Old readings do not prove the station alive (the deadman rule):
    # their changes are held until the fresh one, whose level is the news.
    backlog = [(5, 1.6), (10, 3.1), (15, 4.6), (29, 4.7)]
    for minute, metres in backlog:
        await level(app, "phu_oc", metres, T0 + timedelta(minutes=minute))
    clock.now += timedelta(seconds=30)
    await app.service.tick()
    # Once: the current level, neither the history nor an all-clear.
    assert webhook_states(receiver, "phu_oc") == [("firing", 3)]
    committee = sms_to(receiver, *COMMITTEE)
    assert [c.split("]")[0] for c in committee] == ["[BAO DONG III"] * 2
    technician = [c.split("]")[0] for c in sms_to(receiver, TECHNICIAN)]
    assert technician == ["[MAT TIN HIEU", "[CO TIN HIEU TRO LAI", "[BAO DONG III"]
    for _ in range(4):
        clock.now += timedelta(seconds=30)
        await app.service.tick()
    assert len(receiver.to("/ioc")) == 1  # and only once
    await app.aclose()


async def test_a_resolution_saved_but_not_sent_before_a_crash_is_sent_after_it_once(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    clock = Clock()
    app = build(tmp_path, receiver, clock, group_wait_s=30)
    await level(app, "kim_long", 1.2, T0)
    clock.now += timedelta(seconds=31)
    await app.service.tick()
    assert webhook_states(receiver, "kim_long") == [("firing", 1)]
    clock.now += timedelta(minutes=1)
    await level(app, "kim_long", 0.5, clock.now)  # saved; waits 30 s in its group
    (resolution,) = app.service.incidents.unnotified()
    assert resolution.change is NotificationState.RESOLVED
    await app.aclose()  # the process dies here

    app = build(tmp_path, receiver, clock, group_wait_s=30)
    assert app.service.reconcile(clock.now) == 3  # the committee, the IOC, the technician
    await app.service.tick()
    for _ in range(3):
        clock.now += timedelta(seconds=31)
        await app.service.tick()
    assert webhook_states(receiver, "kim_long") == [("firing", 1), ("resolved", 0)]
    assert len(sms_to(receiver, *COMMITTEE)) == 4
    await app.aclose()
