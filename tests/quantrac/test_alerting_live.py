"""Warnings that always arrive (issue 11), shown live: ``quantrac alerting`` as its own process
on a real Mosquitto, sending to real HTTP receivers on loopback (the IOC webhook, eSMS).

- A baseline run without the webhook: the SMS latency of each change of a flood rise.
- The main run, with three things going on at once:
  (a) the IOC webhook answers 500 for 60 s, starting before the same flood rise at Kim Long →
      afterwards every message reaches it exactly once (one 2xx per Idempotency-Key), and the
      committee's SMS of each change arrive within 1 s of the baseline's;
  (c) a maintenance silence on Kim Long for the technicians (``--receiver ky_thuat``) → the
      committee still gets every flood message, the technicians none, and nothing when it
      ends (the alarm is over);
  (b) Phú Ốc goes silent and looks offline; its gateway's backlog then arrives up to BĐ III →
      the committee gets the current level (one message, BĐ III) within a minute.
  The 60 s outage is kept whole: (b) and (c) run inside it, so it costs the suite no extra.
- (d) SIGKILL between saving a resolution and sending it (it waits in its group) → sent after
  the restart, once.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.model import Quality, Reading, ReadingBatch
from gateway.wire import clean_topic, encode_batch
from quantrac.cli import app as quantrac_app
from tests.alerting.receivers import HttpReceiver, RecordedRequest, Reply
from tests.conftest import EXAMPLE_SITE
from tests.quantrac.test_cli import poll_json, start, stop, wait_for_text
from tests.servers import Mosquitto, free_port

COMMITTEE = ("84905000001", "84905000002")
TECHNICIAN = "84905000003"
OUTAGE_S = 60.0
# Kim Long (BĐ 1.0 / 2.0 / 3.5 m): up through BĐ III and back down, a reading every 1.5 s.
RISE = [0.5, 1.2, 2.3, 3.6, 2.5, 1.5, 0.5]
RISE_CHANGES = [
    ("firing", 1), ("escalated", 2), ("escalated", 3), ("deescalated", 2), ("deescalated", 1),
    ("resolved", 0),
]  # fmt: skip
STEP_S = 1.5
ENV = {"IOC_SECRET": "bí mật", "ESMS_KEY": "k", "ESMS_SECRET": "s"}


class Ioc:
    """The IOC's endpoint: 500 until ``until`` (monotonic), then 200; and eSMS, always 200.
    Records which Idempotency-Keys it accepted (answered 2xx)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.accepted: list[str] = []
        self._lock = threading.Lock()
        self.server = HttpReceiver(self.answer)
        self.server.script("/esms", Reply(200, json={"CodeResult": "100", "SMSID": "x"}))

    def answer(self, request: RecordedRequest) -> Reply:
        if request.path != "/ioc":
            return Reply(404)
        if time.monotonic() < self.until:
            return Reply(500, body=b"IOC: internal error")
        with self._lock:
            self.accepted.append(request.headers["idempotency-key"])
        return Reply(200, json={"ok": True})

    def sms(self, *phones: str) -> list[tuple[float, str]]:
        out = []
        for request in self.server.to("/esms"):
            message = request.json()
            if message["Phone"] in phones:
                out.append((request.at, message["Content"]))
        return out

    def webhook(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.server.to("/ioc")]


@pytest.fixture
def ioc(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ioc]:
    for name, value in ENV.items():  # the notifiers' secrets, for the service processes
        monkeypatch.setenv(name, value)
    receiver = Ioc()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


def site_with(tmp_path: Path, url: str, *, webhook: bool = True, group_wait_s: float = 0) -> Path:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site, dirs_exist_ok=True)
    rules = [
        {"id": "flood_levels", "type": "threshold", "stations": ["kim_long", "phu_oc"],
         "param": "water_level", "from_station": "flood_levels", "hysteresis": 0.05,
         "kind": "flood"},
        # Only Phú Ốc's silence matters here; Kim Long sends all the time.
        {"id": "no_data", "type": "deadman", "stations": ["phu_oc"], "no_data_for": "5s"},
    ]  # fmt: skip
    fast = {"max_attempts": 2, "initial_delay_s": 0.2, "jitter": 0}
    notifiers: dict[str, Any] = {
        "sms": {"provider": "esms", "url": f"{url}/esms", "sender": "QUANTRAC-HUE",
                "secret_env": {"api_key": "ESMS_KEY", "secret_key": "ESMS_SECRET"},
                "retry": fast},
    }  # fmt: skip
    flood_to = ["ban_chi_huy", "ky_thuat"]
    endpoints = {}
    if webhook:
        notifiers["webhook"] = {"url": f"{url}/ioc", "secret_env": "IOC_SECRET", "retry": fast,
                                "timeout_s": 5}  # fmt: skip
        endpoints["ioc"] = "webhook"
        flood_to.insert(1, "ioc")
    alerting = {
        "notifiers": notifiers,
        "routing": {
            "recipients": {
                "ban_chi_huy": {"channels": ["sms"], "members": [
                    {"name": "Văn phòng BCH", "phone": "0905000001"},
                    {"name": "Chánh văn phòng", "phone": "0905000002"}]},
                "ky_thuat": {"channels": ["sms"], "members": [
                    {"name": "Kỹ thuật viên", "phone": "0905000003"}]},
            },
            "endpoints": endpoints,
            "routes": [
                {"match": {"kind": ["station"]}, "to": ["ky_thuat"]},
                {"match": {"kind": ["flood"]}, "to": flood_to},
            ],
            "group_wait_s": group_wait_s,
        },
        "repeat_after_h": {"warning": 48, "critical": 48, "emergency": 48},
        # Rounds after a failure: 2 s, then 4 s, at most 5 s (the default is 30 s … 10 min).
        "delivery": {"retry_initial_s": 2, "retry_max_s": 5},
    }  # fmt: skip
    (site / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    (site / "alerting.yaml").write_text(
        yaml.safe_dump(alerting, allow_unicode=True), encoding="utf-8"
    )
    return site


class Publisher:
    """The collector's side: clean batches on the broker, one MQTT client for the test."""

    def __init__(self, url: str) -> None:
        self.settings = MqttSettings.from_url(url, client_id=f"collector-{free_port()}")
        self.seq = 0

    async def level(self, bus: MqttBus, station: str, metres: float, at: datetime) -> float:
        self.seq += 1
        reading = Reading(station, "water_level", metres, "m", at, quality=Quality.GOOD)
        batch = ReadingBatch("collector", self.seq, station, (reading,))
        sent = time.monotonic()
        await bus.publish(clean_topic(station), encode_batch(batch))
        return sent


def start_alerting(
    site: Path, mosquitto: Mosquitto, data: Path, log: Path, health: int
) -> subprocess.Popen[bytes]:
    process = start("alerting", str(site), "--broker", mosquitto.url, "--data-dir", str(data),
                    "--health", f"127.0.0.1:{health}", log=log)  # fmt: skip
    wait_for_text(log, "alerting:", timeout_s=30)
    poll_json(f"http://127.0.0.1:{health}/health", lambda b: b["bus"]["connected"], log=log)
    time.sleep(0.5)  # the subscription is made right after connecting
    return process


async def flood_rise(publisher: Publisher, bus: MqttBus, ioc: Ioc) -> list[float]:
    """Kim Long's rise and fall; the committee's first SMS of each change, as latencies."""
    sent = []
    for metres in RISE:
        sent.append(await publisher.level(bus, "kim_long", metres, datetime.now(UTC)))
        await asyncio.sleep(STEP_S)
    await asyncio.sleep(2)
    arrivals = [at for at, _ in ioc.sms(COMMITTEE[0])]
    assert len(arrivals) == len(RISE_CHANGES), ioc.sms(COMMITTEE[0])
    return [arrival - published for arrival, published in zip(arrivals, sent[1:], strict=True)]


def test_warnings_arrive_through_an_ioc_outage_a_station_outage_and_a_silence(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]], ioc: Ioc
) -> None:
    health = free_port()
    publisher = Publisher(mosquitto.url)

    # The baseline: no webhook at all.
    base = tmp_path / "baseline"
    base.mkdir()
    site = site_with(base, ioc.server.url, webhook=False)
    processes.append(start_alerting(site, mosquitto, base / "data", base / "log", health))

    async def baseline() -> list[float]:
        async with MqttBus(publisher.settings) as bus:
            await publisher.level(bus, "phu_oc", 0.8, datetime.now(UTC))  # Phú Ốc is alive
            return await flood_rise(publisher, bus, ioc)

    baseline_latency = asyncio.run(baseline())
    assert stop(processes[-1], signal.SIGTERM) == 0
    ioc.server.requests.clear()

    # The main run, on a fresh data directory.
    main = tmp_path / "main"
    main.mkdir()
    site = site_with(main, ioc.server.url)
    data = main / "data"
    processes.append(start_alerting(site, mosquitto, data, main / "log", health))
    silenced = CliRunner().invoke(
        quantrac_app,
        ["incidents", "silence", "--by", "kỹ thuật viên", "--comment", "thay cảm biến",
         "--station", "kim_long", "--receiver", "ky_thuat", "--maintenance", "--hours", "1",
         "--data-dir", str(data)],
    )  # fmt: skip
    assert silenced.exit_code == 0, silenced.output
    ioc.until = time.monotonic() + OUTAGE_S

    async def during_the_outage() -> tuple[list[float], float, float]:
        async with MqttBus(publisher.settings) as bus:
            await publisher.level(bus, "phu_oc", 0.8, datetime.now(UTC))
            # (a) and (c): the flood rise, the webhook failing throughout.
            latency = await flood_rise(publisher, bus, ioc)
            # (b): Phú Ốc fell silent after its first reading: offline after 5 s.
            deadline = time.monotonic() + 20
            while not [c for _, c in ioc.sms(TECHNICIAN) if c.startswith("[MAT TIN HIEU")]:
                assert time.monotonic() < deadline, ioc.sms(TECHNICIAN)
                await asyncio.sleep(0.2)
            # Its gateway's backlog: old readings up to BĐ III, then a fresh one.
            now = datetime.now(UTC)
            for ago, metres in ((40, 1.7), (30, 3.1), (20, 4.6)):
                await publisher.level(bus, "phu_oc", metres, now - timedelta(seconds=ago))
            backlog_at = await publisher.level(bus, "phu_oc", 4.7, datetime.now(UTC))
            deadline = time.monotonic() + 60
            while not (got := [at for at, c in ioc.sms(*COMMITTEE) if "Phu Oc" in c]):
                assert time.monotonic() < deadline, "the committee never heard of Phú Ốc"
                await asyncio.sleep(0.2)
            return latency, backlog_at, min(got)

    latency, backlog_at, phu_oc_at = asyncio.run(during_the_outage())
    # The service says it is degraded, and why, while the IOC fails.
    body = poll_json(f"http://127.0.0.1:{health}/health", lambda b: True)
    assert body["status"] == "degraded", body
    assert any(r.startswith("delivery.ioc.webhook: ") for r in body["reasons"]), body["reasons"]
    assert body["delivery"]["ban_chi_huy"]["sms"]["depth"] == 0
    queued = CliRunner().invoke(
        quantrac_app,
        ["notifications", "list", "--data-dir", str(data), "--receiver", "ioc",
         "--state", "queued"],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert "queued" in queued.output, queued.output
    assert time.monotonic() < ioc.until, "the scenarios outlasted the outage: lengthen it"

    # (a) The SMS did not wait for the failing webhook.
    for change, (ours, theirs) in zip(RISE_CHANGES, zip(latency, baseline_latency, strict=True),
                                      strict=True):  # fmt: skip
        assert ours < theirs + 1.0, (change, latency, baseline_latency)
    # (b) The committee got Phú Ốc's current level, once, within a minute.
    assert phu_oc_at - backlog_at < 60
    phu_oc = [c for _, c in ioc.sms(*COMMITTEE) if "Phu Oc" in c]
    assert [c.split("]")[0] for c in phu_oc] == ["[BAO DONG III"] * 2, phu_oc
    # (c) Every flood change reached the committee; the silenced technician heard none of
    # Kim Long's, but Phú Ốc's outage, return and level.
    kim_long = [c for _, c in ioc.sms(COMMITTEE[0]) if "Kim Long" in c]
    assert len(kim_long) == len(RISE_CHANGES)
    # (Phú Ốc falls silent again 5 s after its backlog: a second notice may follow.)
    technician = [c.split("]")[0] for _, c in ioc.sms(TECHNICIAN)][:3]
    assert technician == ["[MAT TIN HIEU", "[CO TIN HIEU TRO LAI", "[BAO DONG III"], technician
    assert not [c for _, c in ioc.sms(TECHNICIAN) if "Kim Long" in c]

    # (a) After the outage, every message reaches the IOC, in order, once.
    expected = len(RISE_CHANGES) + 1  # and Phú Ốc's
    deadline = ioc.until + 30
    while len(set(ioc.accepted)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(ioc.accepted) == len(set(ioc.accepted)) == expected, ioc.accepted
    accepted = {b["key"]: b for b in ioc.webhook()}
    states = [(accepted[k]["state"], accepted[k]["level"]) for k in ioc.accepted
              if "kim_long" in accepted[k]["stations"]]  # fmt: skip
    assert states == RISE_CHANGES
    assert len(ioc.webhook()) > expected  # it was really failing: several rounds each
    time.sleep(3)  # and nothing more comes
    assert len(ioc.accepted) == expected
    body = poll_json(f"http://127.0.0.1:{health}/health", lambda b: b["status"] == "ok")
    assert body["delivery"]["ioc"]["webhook"]["delivered"] == expected

    # (c) The silence ends: the alarm is over, the technician is not told of it now.
    ended = CliRunner().invoke(
        quantrac_app,
        ["silences", "expire", "1", "--data-dir", str(data)],
    )
    assert ended.exit_code == 0, ended.output
    time.sleep(2.5)
    assert not [c for _, c in ioc.sms(TECHNICIAN) if "Kim Long" in c]
    assert stop(processes[-1], signal.SIGTERM) == 0


def test_a_resolution_killed_between_save_and_send_is_sent_after_the_restart_once(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]], ioc: Ioc
) -> None:
    health = free_port()
    publisher = Publisher(mosquitto.url)
    site = site_with(tmp_path, ioc.server.url, group_wait_s=3)
    data = tmp_path / "data"
    processes.append(start_alerting(site, mosquitto, data, tmp_path / "log", health))

    def resolved_rows() -> int:
        with sqlite3.connect(data / "incidents.sqlite3") as db:
            return int(db.execute("SELECT COUNT(*) FROM resolved").fetchone()[0])

    async def rise_and_fall() -> None:
        async with MqttBus(publisher.settings) as bus:
            await publisher.level(bus, "phu_oc", 0.8, datetime.now(UTC))
            await publisher.level(bus, "kim_long", 1.2, datetime.now(UTC))
            deadline = time.monotonic() + 20
            while len(ioc.accepted) < 1:  # the firing, after its 3 s group wait
                assert time.monotonic() < deadline, ioc.webhook()
                await asyncio.sleep(0.1)
            await publisher.level(bus, "kim_long", 0.5, datetime.now(UTC))
            deadline = time.monotonic() + 10
            while resolved_rows() < 1:  # saved; it waits 3 s in its group
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            processes[-1].send_signal(signal.SIGKILL)
            processes[-1].wait(10)

    asyncio.run(rise_and_fall())
    assert [(b["state"], b["level"]) for b in ioc.webhook()] == [("firing", 1)]
    assert len(ioc.sms(*COMMITTEE)) == 2
    processes.append(start_alerting(site, mosquitto, data, tmp_path / "log2", health))
    deadline = time.monotonic() + 20
    while len(ioc.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)  # and only once
    states = [(b["state"], b["level"]) for b in ioc.webhook()]
    assert states == [("firing", 1), ("resolved", 0)], states
    committee = [c.split("]")[0] for _, c in ioc.sms(*COMMITTEE)]
    assert len(committee) == 4, committee
    assert stop(processes[-1], signal.SIGTERM) == 0
