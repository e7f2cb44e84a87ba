"""TT10 forwarding round trips against a real FTP server — the gateway's own TT10 endpoint
(pyftpdlib), each forwarded station logging in with its own account as a station would:
every reading sent arrives and parses back equal; the receiver down for a while (and the
forwarding gateway restarted meanwhile) loses nothing, and each file arrives once, in order;
FTPS with a certificate made here; the gateway's tap."""

from __future__ import annotations

import asyncio
import ftplib
import io
import math
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.bus.memory import InProcessBus
from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ, DeviceStatus, Reading
from gateway.parameters import registry
from gateway.tt10.forward import Tt10Forwarder
from gateway.tt10.forward_config import Tt10ForwardConfig
from gateway.tt10.ftp import Tt10FtpServer
from gateway.tt10.ftp_accounts import FtpEndpoint, ftp_accounts
from gateway.tt10.parse import parse_tt10, stations_by_code
from quantrac.scenario import WastewaterOutlet
from quantrac.site import load_site
from quantrac.tt10_forwarding import ForwardingGatewayService
from tests.conftest import EXAMPLE_SITE
from tests.gateway.test_tt10_ftp import certificate  # noqa: F401 - a fixture
from tests.quantrac.test_cli import start, stop
from tests.servers import Mosquitto, free_port, wait_for_port

SITE = load_site(EXAMPLE_SITE)
FORWARDED = ["kim_long", "hue_air", "van_nien", "xlnt_phu_bai"]
CODES = {"kim_long": "KIMLONG", "hue_air": "HUEAIR", "van_nien": "VANNIEN", "xlnt_phu_bai": "NT01"}
START = datetime(2025, 10, 28, 9, 0, tzinfo=UTC)  # 16:00 local
PASSWORDS = {f"UP_{code}": f"pw-{code.lower()}!" for code in CODES.values()}
VALUES = {
    "hydro": {"water_level": 1.0},
    "air": {"pm25": 35.5, "pm10": 60.0, "co": 950.0, "no2": 40.2, "so2": 9.1, "o3": 80.0},
    "water": {"ph": 7.1, "do": 6.5, "cod": 12.0, "n_nh4": 0.3, "water_temp": 27.4, "flow": 310.0},
}


Seen = set[tuple[str, str, float, str, datetime, DeviceStatus]]


def receiving_stations() -> list[StationConfig]:
    """The upstream's own configuration: each forwarded station as a TT10 station."""
    return [
        StationConfig.model_validate(
            {
                "id": station,
                "name": station,
                "kind": SITE.stations[station].kind,
                "district": "x",
                "source": {
                    "driver": "tt10",
                    "code": code,
                    "ftp": {"user": f"up_{code.lower()}", "password_env": f"UP_{code}"},
                },
            }
        )
        for station, code in CODES.items()
    ]


def forward_config(port: int, scheme: str = "ftp", **extra: Any) -> Tt10ForwardConfig:
    return Tt10ForwardConfig.model_validate(
        {
            "url": f"{scheme}://127.0.0.1:{port}/",
            "province": "TTH",
            "facility": "QTTD",
            "seal_after_s": 0,
            "only": FORWARDED,
            "stations": {
                station: {"code": code, "user": f"up_{code.lower()}", "password_env": f"UP_{code}"}
                for station, code in CODES.items()
            },
            "timeout_s": 10,
            **extra,
        }
    )


def readings(station: str, slots: range) -> list[Reading]:
    """Values every 5 minutes (whole seconds: TT10 has no fractions), a calibration at one."""
    kind = SITE.stations[station].kind
    out = []
    for k in slots:
        ts = START + timedelta(minutes=5 * k)
        status = DeviceStatus.CALIBRATING if k == 3 else DeviceStatus.MEASURING
        for param, base in VALUES[kind].items():
            value = round(base * (1 + 0.01 * math.sin(k + len(param))), 3)
            out.append(Reading(station, param, value, registry()[param].unit, ts, status))
    return out


def forwarder(path: Path, port: int, now: datetime, **extra: Any) -> Tt10Forwarder:
    return Tt10Forwarder.open(
        forward_config(port, **extra),
        SITE.stations.values(),
        path,
        VIETNAM_TZ,
        PASSWORDS,
        now=lambda: now,
    )


def endpoint(inbox: Path, port: int = 0, **options: Any) -> Tt10FtpServer:
    accounts = ftp_accounts(receiving_stations(), PASSWORDS)
    return Tt10FtpServer(inbox, accounts, port=port, auth_failed_delay_s=0.05, **options)


def received(inbox: Path) -> tuple[Seen, int]:
    """What the upstream reads from its inbox (the gateway's parser), and how many files."""
    by_code = stations_by_code(receiving_stations())
    found = set()
    names = sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in names:
        parsed = parse_tt10(path.name, path.read_bytes(), by_code, now=START + timedelta(days=1))
        assert parsed.skipped == (), parsed.skipped
        found |= {(r.station, r.param, r.value, r.unit, r.ts, r.status) for r in parsed.readings}
    return found, len(names)


def sent(
    stations: list[str], slots: range
) -> set[tuple[str, str, float, str, datetime, DeviceStatus]]:
    return {
        (r.station, r.param, r.value, r.unit, r.ts, r.status)
        for station in stations
        for r in readings(station, slots)
    }


def keep(forwarding: Tt10Forwarder, slots: range) -> None:
    for station in FORWARDED:
        forwarding.queue.add(forwarding.rows(station, readings(station, slots)))


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Tt10FtpServer]:
    with endpoint(tmp_path / "upstream") as server:
        yield server


def test_every_reading_arrives_and_parses_back_equal(
    upstream: Tt10FtpServer, tmp_path: Path
) -> None:
    hour = range(12)
    forwarding = forwarder(tmp_path / "q.sqlite3", upstream.address[1], START + timedelta(hours=1))
    keep(forwarding, hour)
    assert forwarding.seal_due() == 4 * 12  # one file per station per 5 minutes
    assert forwarding.send_due() == 48
    found, files = received(upstream.inbox)
    assert files == 48
    assert found == sent(FORWARDED, hour)
    names = sorted(p.name for p in upstream.inbox.iterdir() if not p.name.startswith("."))
    assert names[0] == "TTH_QTTD_HUEAIR_20251028160000.txt"
    assert forwarding.send_due() == 0  # nothing twice
    assert upstream.totals.uploads == 48
    forwarding.queue.close()


def test_receiver_down_then_back_loses_nothing_and_sends_once_in_order(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "q.sqlite3"
    first = forwarder(path, port, START + timedelta(minutes=30))
    keep(first, range(6))
    first.seal_due()
    assert first.send_due() == 0  # nobody listens: the files wait
    assert first.stats.send_failures == 4  # one refused connection per station's login
    assert first.health()["queued_files"] == 24
    first.queue.close()  # the gateway stops, and starts again an hour later

    later = forwarder(path, port, START + timedelta(hours=1))
    keep(later, range(6, 12))
    later.seal_due()
    with endpoint(tmp_path / "upstream", port) as server:
        assert later.send_due() == 48
        found, files = received(server.inbox)
        assert (files, found) == (48, sent(FORWARDED, range(12)))
        assert server.totals.uploads == 48  # once each
        for code in CODES.values():  # in order: each station's files arrived oldest first
            mine = [p for p in server.inbox.iterdir() if f"_{code}_" in p.name]
            by_arrival = sorted(mine, key=lambda p: p.stat().st_mtime_ns)
            assert by_arrival == sorted(mine, key=lambda p: p.name)
        assert later.health()["queued_files"] == 0
    later.queue.close()


def test_a_late_reading_sends_its_interval_again_whole(
    upstream: Tt10FtpServer, tmp_path: Path
) -> None:
    forwarding = forwarder(tmp_path / "q.sqlite3", upstream.address[1], START + timedelta(hours=1))
    first_half = [r for r in readings("hue_air", range(1)) if r.param != "o3"]
    forwarding.queue.add(forwarding.rows("hue_air", first_half))
    forwarding.seal_due()
    assert forwarding.send_due() == 1
    o3 = [r for r in readings("hue_air", range(1)) if r.param == "o3"]  # the analyser's backlog
    forwarding.queue.add(forwarding.rows("hue_air", o3))
    forwarding.seal_due()
    assert forwarding.send_due() == 1
    found, files = received(upstream.inbox)
    assert files == 1  # the same name, now with O3 too
    assert found == sent(["hue_air"], range(1))
    forwarding.queue.close()


def test_ftps_with_a_certificate_made_here(
    tmp_path: Path,
    certificate: tuple[Path, Path],  # noqa: F811 - the fixture
) -> None:
    cert, key = certificate
    accounts = ftp_accounts(receiving_stations(), PASSWORDS)
    where = FtpEndpoint.parse(f"127.0.0.1:0,tls_cert={cert},tls_key={key}")
    with Tt10FtpServer.at(where, tmp_path / "upstream", accounts) as server:  # TLS required
        forwarding = forwarder(
            tmp_path / "q.sqlite3", server.address[1], START + timedelta(hours=1),
            url=f"ftps://127.0.0.1:{server.address[1]}/", ca_file=str(cert),
        )  # fmt: skip
        keep(forwarding, range(2))
        forwarding.seal_due()
        assert forwarding.send_due() == 8
        assert received(server.inbox) == (sent(FORWARDED, range(2)), 8)
        forwarding.queue.close()


def test_a_wrong_password_waits_and_does_not_hold_up_the_others(
    upstream: Tt10FtpServer, tmp_path: Path
) -> None:
    wrong = {**PASSWORDS, "UP_KIMLONG": "not-it"}
    forwarding = Tt10Forwarder.open(
        forward_config(upstream.address[1]), SITE.stations.values(), tmp_path / "q.sqlite3",
        VIETNAM_TZ, wrong, now=lambda: START + timedelta(hours=1),
    )  # fmt: skip
    keep(forwarding, range(2))
    forwarding.seal_due()
    assert forwarding.send_due() == 6  # Kim Long's 2 files wait for the password to be fixed
    assert forwarding.health()["queued_files"] == 2
    assert "530" in str(forwarding.health()["last_error"])
    forwarding.queue.close()


async def test_the_gateway_forwards_what_it_keeps(upstream: Tt10FtpServer, tmp_path: Path) -> None:
    forwarding = forwarder(tmp_path / "q.sqlite3", upstream.address[1], START + timedelta(hours=1),
                           interval_s=300)  # fmt: skip
    forwarding.poll_s = 0.05
    bus = InProcessBus()
    service = ForwardingGatewayService(SITE, bus, forwarding, [])  # no polled stations here
    batch = readings("van_nien", range(2))
    impossible = Reading("van_nien", "ph", 99.0, "pH", START + timedelta(minutes=7))
    running = asyncio.create_task(service.run())
    try:
        await service.accept("van_nien", [*batch, impossible])  # a station's MQTT message
        async with asyncio.timeout(20):
            while forwarding.stats.files_sent < 2:  # noqa: ASYNC110 - the forwarder's counter
                await asyncio.sleep(0.05)
        assert service.health()["tt10_forward"]["files_sent"] == 2
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    found, files = await asyncio.to_thread(received, upstream.inbox)
    assert (found, files) == (sent(["van_nien"], range(2)), 2)  # pH 99 stayed home


def test_config_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="UP_KIMLONG is not set"):
        Tt10Forwarder.open(
            forward_config(21), SITE.stations.values(), tmp_path / "q", VIETNAM_TZ, {}
        )
    with pytest.raises(ValueError, match="no password in the site config"):
        Tt10ForwardConfig.model_validate(
            {"url": "ftp://u:secret@host/", "province": "TTH", "facility": "X"}
        )
    clash = forward_config(21, stations={"kim_long": {"code": "NT01"}})  # the plant's code
    with pytest.raises(ValueError, match="NT01"):
        Tt10Forwarder.open(clash, SITE.stations.values(), tmp_path / "q", VIETNAM_TZ, PASSWORDS)


def test_quantrac_gateway_forwards_a_received_file_upstream(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plant uploads its TT10 file to the gateway's own endpoint; ``quantrac gateway
    --tt10-forward`` passes its readings on to the upstream receiver, as a TT10 file again."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    for path in (site / "stations").glob("*.yaml"):
        if path.name != "tt10.yaml":
            path.unlink()  # the plant alone: no Modbus station to poll
    with endpoint(tmp_path / "upstream") as upstream:
        with (site / "site.yaml").open("a", encoding="utf-8") as config:
            config.write(
                "tt10_forward:\n"
                f"  url: ftp://127.0.0.1:{upstream.address[1]}/\n"
                "  province: TTH\n  facility: KCNPHUBAI\n  seal_after_s: 0\n"
                "  stations: {xlnt_phu_bai: {user: up_nt01, password_env: UP_NT01}}\n"
            )
        monkeypatch.setenv("QUANTRAC_FTP_NT01", "plant-Secret!")
        monkeypatch.setenv("UP_NT01", PASSWORDS["UP_NT01"])
        inbox, port, log = tmp_path / "inbox", free_port(), tmp_path / "gateway.log"
        gateway = start(
            "gateway", str(site), "--broker", mosquitto.url, "--data-dir", str(tmp_path / "data"),
            "--tt10-inbox", str(inbox), "--tt10-work-dir", str(tmp_path / "work"),
            "--tt10-settle", "0.3", "--tt10-ftp", f"127.0.0.1:{port}", "--tt10-forward",
            log=log,
        )  # fmt: skip
        try:
            wait_for_port(port)
            # Ten minutes old (a logger's backlog): its interval is over, filed at once.
            local = (datetime.now(VIETNAM_TZ) - timedelta(minutes=10)).replace(microsecond=0)
            name, text = WastewaterOutlet().file(60.0, local.replace(tzinfo=None))
            with ftplib.FTP() as ftp:
                ftp.connect("127.0.0.1", port, timeout=10)
                ftp.login("nt01", "plant-Secret!")
                ftp.storbinary(f"STOR {name}", io.BytesIO(text.encode()))
            deadline = time.monotonic() + 30
            while upstream.totals.uploads < 1:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            code = stop(gateway, signal.SIGINT)
        assert code == 0, log.read_text()
        by_code = stations_by_code(SITE.stations.values())
        plant = parse_tt10(name, text.encode(), by_code, now=datetime.now(UTC))
        slot = f"{local:%Y%m%d%H}{local.minute - local.minute % 5:02d}00"
        forwarded = upstream.inbox / f"TTH_KCNPHUBAI_NT01_{slot}.txt"
        again = parse_tt10(forwarded.name, forwarded.read_bytes(), by_code, now=datetime.now(UTC))
        assert {(r.param, r.value, r.unit, r.ts, r.status) for r in again.readings} == {
            (r.param, r.value, r.unit, r.ts, r.status) for r in plant.readings
        }
