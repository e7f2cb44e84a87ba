"""Nothing produced is lost: the bus broker down for 60 s while the gateway polls Modbus stations
and ingests TT10 files, the gateway SIGKILLed once in the middle and restarted, the broker back.

The gateway runs as a real process against a real Mosquitto; the collector is counted through
its receipts (which batches of which gateway it stored) and its store.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from collector.service import Collector
from collector.store.sqlite import SqliteStore
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.wire import decode_receipt, receipts_topic
from quantrac.scenario import WastewaterOutlet
from tests.conftest import EXAMPLE_SITE
from tests.helpers import eventually, running
from tests.quantrac.test_cli import start, stop
from tests.servers import Mosquitto, free_port

OUTAGE_S = 60.0
VIETNAM = timedelta(hours=7)


def outage_site(tmp_path: Path) -> Path:
    """The Huế river gauges on free loopback ports, polled every second, and the TT10 plant."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    for path in (site / "stations").glob("*.yaml"):
        if path.name not in ("hydro.yaml", "tt10.yaml"):
            path.unlink()
    hydro = site / "stations" / "hydro.yaml"
    document = yaml.safe_load(hydro.read_text())
    for station in document["stations"]:
        station["source"]["connection"]["port"] = free_port()
        station["source"]["interval_s"] = 1
    hydro.write_text(yaml.safe_dump(document, allow_unicode=True))
    return site


def outbox_state(path: Path) -> tuple[int, int]:
    """(last seq given out, batches still waiting) read from the gateway's outbox file."""
    try:
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            waiting = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    except sqlite3.OperationalError:
        return 0, 0  # the gateway has created the file but not yet its tables
    return (int(row[0]) if row else 0), int(waiting)


BASE_LOCAL_TIME = (datetime.now(UTC).replace(second=0, microsecond=0) + VIETNAM).replace(
    tzinfo=None
)


def drop_tt10_file(inbox: Path, minute: int) -> None:
    """One data file of the Phú Bài plant, for its own minute (distinct readings per file)."""
    local = BASE_LOCAL_TIME - timedelta(minutes=minute)
    name, text = WastewaterOutlet().file(100.0 + minute, local)
    part = inbox / f"{name}.part"
    part.write_text(text)
    part.rename(inbox / name)


async def test_broker_outage_and_a_killed_gateway_lose_no_reading(tmp_path: Path) -> None:
    site = outage_site(tmp_path)
    data = tmp_path / "gateway-data"
    inbox = tmp_path / "ftp-inbox"
    inbox.mkdir()
    outbox_file = data / "outbox-gw-hue-1.sqlite3"
    broker = Mosquitto(tmp_path / "broker")
    broker.directory.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    gateway_args = (
        "gateway", str(site), "--broker", broker.url, "--data-dir", str(data),
        "--tt10-inbox", str(inbox), "--tt10-settle", "0.5",
    )  # fmt: skip
    files_dropped = 0
    try:
        processes.append(start("simulate", str(site), log=tmp_path / "sim.log"))
        # The broker is down from the start: everything waits in the outbox.
        outage_began = time.monotonic()
        first = start(*gateway_args, log=tmp_path / "gateway-1.log")
        processes.append(first)
        while time.monotonic() - outage_began < OUTAGE_S / 2:
            drop_tt10_file(inbox, files_dropped)
            files_dropped += 1
            await asyncio.sleep(5)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at, waiting = outbox_state(outbox_file)
        assert killed_at > 0
        assert waiting == killed_at  # nothing could leave: no broker
        drop_tt10_file(inbox, files_dropped)  # arrives while no gateway runs at all
        files_dropped += 1
        second = start(*gateway_args, log=tmp_path / "gateway-2.log")
        processes.append(second)
        while time.monotonic() - outage_began < OUTAGE_S:
            drop_tt10_file(inbox, files_dropped)
            files_dropped += 1
            await asyncio.sleep(5)
        produced_during_outage, _ = outbox_state(outbox_file)
        assert produced_during_outage > killed_at  # the restarted gateway numbers on

        # The broker comes back; a collector stores and receipts.
        broker.start()
        bus = MqttBus(MqttSettings.from_url(broker.url, client_id="collector-saf"))
        receipts = bus.subscribe(receipts_topic("gw-hue-1"))
        store = SqliteStore(tmp_path / "collector.sqlite3")
        collector = Collector(bus, store)
        receipted: set[int] = set()
        span = (datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(hours=1))

        async def count_receipts() -> None:
            async for message in receipts:
                for first_seq, last_seq in decode_receipt(message.payload).seqs:
                    receipted.update(range(first_seq, last_seq + 1))

        async with bus, running(collector.run(), count_receipts()):
            await eventually(
                lambda: set(range(1, produced_during_outage + 1)) <= receipted,
                timeout_s=60,
                what="every batch produced during the outage receipted",
            )
            await eventually(
                lambda: outbox_state(outbox_file)[1] <= 4,
                what="the outbox drained to what is in flight",
            )
            # Files dropped last are read after the settle time: wait for every one.
            await eventually(
                lambda: len(store.range("xlnt_phu_bai", "ph", *span)) >= files_dropped,
                what="every TT10 file stored",
            )
        assert stop(second, signal.SIGTERM) == 0

        # Counted in the store: each Modbus batch holds one station_online reading at its
        # slot, so distinct slots are distinct batches.
        with sqlite3.connect(tmp_path / "collector.sqlite3") as db:
            polled = db.execute(
                "SELECT count(*) FROM reading r JOIN series s ON r.series = s.id"
                " WHERE s.param = 'station_online'"
            ).fetchone()[0]
        tt10_batches = files_dropped
        assert polled + tt10_batches >= produced_during_outage
        # Every TT10 file's six readings, each at its own minute: none lost, none doubled.
        for param in ("ph", "cod", "tss", "n_nh4", "water_temp", "flow"):
            assert len(store.range("xlnt_phu_bai", param, *span)) == files_dropped, param
        # The killed gateway's polls are there too.
        levels = store.range("kim_long", "water_level", span[0], span[1])
        assert len(levels) >= killed_at // 3
        store.close()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        broker.stop()
