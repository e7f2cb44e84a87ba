"""The Kim Long flood through the whole alerting service, to real HTTP receivers.

The Hương at Kim Long rises 30 cm/h from 0.50 m through BĐ I, II and III, with a one-reading
glitch and a 10-minute hole in the data, peaks at 3.70 m and falls. Clean batches go on the
in-process bus as the collector publishes them; the service runs the site's own rules and its
notifiers: the IOC webhook (signed) and the committee's SMS (eSMS) on loopback receivers. The
clock is controlled. Halfway, the service is stopped and built again on the same data
directory: nothing is sent twice, and nothing is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting.config import AlertingConfig
from alerting.notifiers.webhook import verify_signature
from gateway.bus.memory import InProcessBus
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import clean_topic, encode_batch
from quantrac.alerting_app import AlertingApp, build_alerting
from quantrac.site import load_site
from tests.alerting.receivers import HttpReceiver, Reply
from tests.conftest import EXAMPLE_SITE

T0 = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)  # 18:00 in Huế
GLITCH, GAP, PEAK, END = 150, range(320, 330), 640, 1200
RESTART = 500  # minute at which the service is stopped and built again
SECRET = "bí-mật-ioc"


def water_level(minute: int) -> float:
    if minute == GLITCH:
        return 2.40
    if minute <= PEAK:
        return round(0.5 + 0.005 * minute, 3)
    return round(3.7 - 0.005 * (minute - PEAK), 3)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    server.script("/ioc", Reply(200, json={"ok": True}))
    server.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))
    yield server
    server.stop()


def config(receiver: HttpReceiver) -> AlertingConfig:
    return AlertingConfig.model_validate(
        {
            "notifiers": {
                "webhook": {"url": f"{receiver.url}/ioc", "secret_env": "IOC_SECRET"},
                "sms": {
                    "provider": "esms",
                    "url": f"{receiver.url}/esms",
                    "sender": "QUANTRAC-HUE",
                    "secret_env": {"api_key": "ESMS_KEY", "secret_key": "ESMS_SECRET"},
                },
            },
            "routing": {
                "recipients": {
                    "ban_chi_huy": {
                        "channels": ["sms"],
                        "members": [
                            {"name": "Văn phòng BCH", "phone": "0905000001"},
                            {"name": "Chánh văn phòng", "phone": "0905000002"},
                        ],
                    },
                    "ky_thuat": {
                        "channels": ["sms"],
                        "members": [{"name": "Kỹ thuật viên", "phone": "0905000003"}],
                    },
                },
                "endpoints": {"ioc": "webhook"},
                "routes": [
                    {"match": {"kind": ["station"]}, "to": ["ky_thuat"]},
                    {"match": {"kind": ["flood"]}, "to": ["ban_chi_huy", "ioc"]},
                ],
                "group_wait_s": 0,
            },
            # Reminders are tested in tests/alerting/test_incidents.py; here, the changes.
            "repeat_after_h": {"warning": 48, "critical": 48, "emergency": 48},
        }
    )


ENV = {"IOC_SECRET": SECRET, "ESMS_KEY": "k", "ESMS_SECRET": "s"}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_the_kim_long_flood_notifies_each_change_once(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    site = load_site(EXAMPLE_SITE)
    clock = Clock()
    bus = InProcessBus()

    def build() -> AlertingApp:
        return build_alerting(
            site, bus, tmp_path / "data", config=config(receiver), clock=clock, environ=ENV
        )

    app = build()
    seq = 0
    for minute in range(END):
        if minute == RESTART:
            await app.aclose()  # the process dies and comes back on the same data directory
            app = build()
            for transition in app.service.incidents.unnotified():
                app.service.grouper.add(transition, clock())
        clock.now = T0 + timedelta(minutes=minute)
        if minute not in GAP:
            seq += 1
            reading = Reading(
                "kim_long", "water_level", water_level(minute), "m", clock.now,
                quality=Quality.GOOD,
            )  # fmt: skip
            batch = ReadingBatch("collector", seq, "kim_long", (reading,))
            # The service's own loop would take it off the bus; here it is handed over in step.
            await app.service.on_signals(app.service.rules.on_batch(batch.readings))
            await bus.publish(clean_topic("kim_long"), encode_batch(batch))
        clock.now += timedelta(seconds=30)
        await app.service.tick()
    await app.aclose()

    ioc = receiver.to("/ioc")
    bodies: list[dict[str, Any]] = [json.loads(r.body) for r in ioc]
    for request in ioc:  # every webhook is signed with the shared secret
        assert verify_signature(
            SECRET,
            int(request.headers["x-quantrac-timestamp"]),
            request.body,
            request.headers["x-quantrac-signature"],
            now=int(request.headers["x-quantrac-timestamp"]),
        )
    flood = [(b["state"], b["level"]) for b in bodies if b["kind"] == "flood"]
    # Kim Long's flood rules: BĐ levels and the rise; each change once, the glitch nothing.
    assert flood == [
        ("firing", 1),  # rising 30 cm/h > 20 cm/h (the trend rule)
        ("firing", 1),  # BĐ I
        ("escalated", 2),  # BĐ II; the 2.40 m glitch at minute 150 fired nothing
        ("escalated", 3),  # BĐ III, after the restart at minute 500
        ("crest", 3),  # 3.70 m at 04:40, once two readings are 5 cm under it (issue 11)
        ("resolved", 0),  # the rise is over
        ("deescalated", 2),
        ("deescalated", 1),
        ("resolved", 0),
    ], flood
    keys = [r.headers["idempotency-key"] for r in ioc]
    assert len(keys) == len(set(keys))  # nothing twice, across the restart

    sms = [r.json() for r in receiver.to("/esms")]
    committee = [m for m in sms if m["Phone"] in ("84905000001", "84905000002")]
    technician = [m for m in sms if m["Phone"] == "84905000003"]
    assert len(committee) == 2 * len(flood)  # every flood change, to both members
    # The data gap: Kim Long goes silent, then comes back (deadman, for technicians).
    kim_long = [m["Content"] for m in technician if "Kim Long" in m["Content"]]
    assert [c.split("]")[0] for c in kim_long] == ["[MAT TIN HIEU", "[CO TIN HIEU TRO LAI"]
    # The six other stations never send anything here: one message per district, not six.
    others = [m["Content"] for m in technician if "Kim Long" not in m["Content"]]
    assert len(others) == 4
    assert any(c.startswith("[MAT TIN HIEU] 3 tram") for c in others)  # SMS without diacritics
    first_bd2 = next(m for m in committee if "BAO DONG II" in m["Content"])
    assert "Kim Long" in first_bd2["Content"]
    # The facts reach the IOC flat, as documented (issue 11: they were under the incident id).
    bd2 = next(b for b in bodies if (b["state"], b["level"]) == ("escalated", 2))
    assert (bd2["facts"]["label"], bd2["facts"]["station_id"]) == ("BĐ II", "kim_long")
    assert (bd2["facts"]["value"], bd2["facts"]["unit"]) == (2.025, "m")
    crest = next(m["Content"] for m in committee if m["Content"].startswith("[DINH LU]"))
    assert crest == (
        "[DINH LU] Song Huong tai Kim Long: dinh lu 3,70 m luc 04:40, nay 3,65 m "
        "(tren BD III 0,15 m), dang xuong 30 cm/gio, 04:51 23/11"
    )
