"""The TT10 FTP endpoint: a real pyftpdlib server on loopback, Python's ftplib as the stations.

Uploads are taken by a real Tt10Inbox on the same folder, so "uploaded" means "became readings".
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import logging
import shutil
import signal
import ssl
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ
from gateway.tt10 import Tt10Inbox, stations_by_code, tt10_ftp_for
from gateway.tt10.ftp import Tt10FtpServer
from gateway.tt10.ftp_accounts import (
    FtpConfigError,
    FtpEndpoint,
    LoginGuard,
    StationAccount,
    ftp_accounts,
    upload_name_problem,
)
from quantrac.cli import app
from quantrac.scenario import WastewaterOutlet
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.gateway.test_tt10_inbox import Recording, until
from tests.gateway.test_tt10_parse import Tt10Case, assert_readings, load_case
from tests.quantrac.test_cli import start, stop, wait_for_text
from tests.servers import Mosquitto, free_port, wait_for_port

PLANT = load_case("water_wastewater_plant")  # xlnt_phu_bai, code NT01
AIR = load_case("air_good")  # kk_hue, code KK01
PASSWORDS = {"QUANTRAC_FTP_NT01": "nt01-Secret!", "QUANTRAC_FTP_KK01": "kk01-Secret!"}


def tt10_station(
    case: Tt10Case, ftp: dict[str, Any] | None = None, *, station_id: str | None = None
) -> StationConfig:
    code = case.station.source.code  # type: ignore[union-attr]
    source: dict[str, Any] = {"driver": "tt10", "code": code}
    if ftp is not None:
        source["ftp"] = ftp
    return StationConfig.model_validate(
        {
            "id": station_id or case.station.id,
            "name": case.station.id,
            "kind": case.station.kind,
            "district": "test",
            "source": source,
        }
    )


STATIONS = [
    tt10_station(PLANT, {"user": "nt01", "password_env": "QUANTRAC_FTP_NT01"}),
    tt10_station(AIR, {"user": "kk01", "password_env": "QUANTRAC_FTP_KK01"}),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Tt10FtpServer]:
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    # A short refusal delay: the 3 s of production would only slow the tests down.
    endpoint = Tt10FtpServer(tmp_path / "inbox", accounts, port=0, auth_failed_delay_s=0.05)
    with endpoint:
        yield endpoint


def connect(server: Tt10FtpServer) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(*server.address, timeout=10)
    return ftp


def login(server: Tt10FtpServer, user: str = "nt01", password: str | None = None) -> ftplib.FTP:
    ftp = connect(server)
    ftp.login(user, password if password is not None else PASSWORDS[f"QUANTRAC_FTP_{user.upper()}"])
    return ftp


def upload(server: Tt10FtpServer, user: str, name: str, content: bytes) -> None:
    with login(server, user) as ftp:
        ftp.storbinary(f"STOR {name}", io.BytesIO(content))


def visible_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def start_inbox(server: Tt10FtpServer, now: Any) -> tuple[Tt10Inbox, Recording, asyncio.Task[None]]:
    inbox = Tt10Inbox(
        server.inbox,
        stations_by_code(STATIONS),
        work_dir=server.inbox.parent / "work",
        settle_s=0.2,
        poll_s=0.05,
        now=lambda: now,
    )
    recording = Recording()
    task = asyncio.create_task(inbox.run(recording.sink, recording.dead_letter))
    return inbox, recording, task


async def stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# -- a station's upload becomes readings ----------------------------------------------------------


async def test_a_station_upload_becomes_readings_through_the_inbox(
    server: Tt10FtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.tt10.ftp")
    inbox, recording, task = start_inbox(server, PLANT.now)
    try:
        content = PLANT.file.read_bytes()
        await asyncio.to_thread(upload, server, "nt01", PLANT.file.name, content)
        await until(lambda: inbox.totals.files_processed == 1)
    finally:
        await stop_task(task)

    ((station, readings),) = recording.batches
    assert station == "xlnt_phu_bai"
    assert_readings(PLANT, readings)
    assert recording.rejected == []
    assert (inbox.archive_dir / "2026" / "11" / PLANT.file.name).read_bytes() == content
    assert visible_files(server.inbox) == []
    assert parts(server.inbox) == []
    counters = server.health()["stations"]["xlnt_phu_bai"]
    assert counters["logins"] == 1
    assert counters["uploads"] == 1
    assert counters["bytes"] == len(content)
    # Logins and uploads are logged with the station.
    assert "station xlnt_phu_bai logged in as nt01" in caplog.text
    assert f"station xlnt_phu_bai uploaded {PLANT.file.name}" in caplog.text


def test_a_station_lists_its_own_pending_uploads_only(server: Tt10FtpServer) -> None:
    upload(server, "nt01", PLANT.file.name, PLANT.file.read_bytes())
    upload(server, "kk01", AIR.file.name, AIR.file.read_bytes())
    (server.inbox / ".tt10-index.sqlite3").write_bytes(b"")  # the inbox's own files stay hidden
    (server.inbox / "archive").mkdir()
    with login(server, "nt01") as ftp:
        assert ftp.nlst() == [PLANT.file.name]
        listing: list[str] = []
        ftp.retrlines("LIST", listing.append)
        assert len(listing) == 1
        assert listing[0].endswith(PLANT.file.name)
        assert [name for name, _ in ftp.mlsd()] == [PLANT.file.name]
    with login(server, "kk01") as ftp:
        assert ftp.nlst() == [AIR.file.name]
    assert visible_files(server.inbox) == sorted([PLANT.file.name, AIR.file.name])


# -- who may log in ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password"),
    [("nt01", "wrong"), ("nt01", ""), ("nobody", "nt01-Secret!"), ("kk01", "nt01-Secret!")],
)
def test_a_wrong_password_or_user_is_refused(
    server: Tt10FtpServer, user: str, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(server) as ftp, pytest.raises(ftplib.error_perm, match=r"^530 Authentication"):
        ftp.login(user, password)
    # Counted just after the refusal is sent.
    _wait_for(lambda: server.totals.failed_logins == 1, "the refusal to be counted")
    assert server.health()["totals"]["logins"] == 0
    assert f"login as {user!r} from 127.0.0.1 refused" in caplog.text
    if password:
        assert password not in caplog.text


@pytest.mark.parametrize("user", ["anonymous", "ftp"])
def test_anonymous_is_refused(server: Tt10FtpServer, user: str) -> None:
    with connect(server) as ftp, pytest.raises(ftplib.error_perm, match=r"^530 Anonymous"):
        ftp.login(user, "guest@example.org")
    with connect(server) as ftp, pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp.login()  # ftplib's own anonymous login


# -- what a station may not do -------------------------------------------------------------------


def test_an_account_cannot_download_delete_rename_or_leave_the_inbox(
    server: Tt10FtpServer,
) -> None:
    content = PLANT.file.read_bytes()
    upload(server, "nt01", PLANT.file.name, content)
    upload(server, "kk01", AIR.file.name, AIR.file.read_bytes())
    (server.inbox / "archive").mkdir()
    with login(server, "nt01") as ftp:
        for name in (PLANT.file.name, AIR.file.name):  # its own file or another station's
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                ftp.retrbinary(f"RETR {name}", lambda _: None)
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                ftp.delete(name)
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                ftp.rename(name, "x.txt")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.sendcmd(f"SIZE {AIR.file.name}")  # another station's file is not there for it
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.storbinary(f"APPE {PLANT.file.name}", io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match=r"^502"):
            ftp.storbinary(f"STOR {PLANT.file.name}", io.BytesIO(content), rest=10)
        with pytest.raises(ftplib.error_perm, match=r"^502"):
            ftp.sendcmd("STOU")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.mkd("mine")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.cwd("archive")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.nlst("archive")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.sendcmd("SITE CHMOD 777 " + PLANT.file.name)
        ftp.cwd("..")  # the inbox is its root: going up stays there
        assert ftp.pwd() == "/"
    assert (server.inbox / PLANT.file.name).read_bytes() == content
    assert (server.inbox / AIR.file.name).read_bytes() == AIR.file.read_bytes()
    assert not (server.inbox / "mine").exists()
    assert not (server.inbox / "x.txt").exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (AIR.file.name, "has station code KK01; this account sends NT01"),
        ("notes.txt", "is not <Province>_<Facility>_<Station>_<yyyyMMddhhmmss>.txt"),
        (".hidden_NT01_20261122161500.txt", "hidden"),
        ("archive/TTH_KCNPHUBAI_NT01_20261122161500.txt", "top folder"),
    ],
)
def test_a_station_uploads_only_files_in_its_own_name(
    server: Tt10FtpServer, name: str, reason: str
) -> None:
    (server.inbox / "archive").mkdir()
    with login(server, "nt01") as ftp, pytest.raises(ftplib.error_perm, match=r"^553") as refused:
        ftp.storbinary(f"STOR {name}", io.BytesIO(AIR.file.read_bytes()))
    assert reason in str(refused.value)
    assert visible_files(server.inbox) == []
    assert parts(server.inbox) == []
    assert list((server.inbox / "archive").iterdir()) == []
    assert server.health()["stations"]["xlnt_phu_bai"]["refused"] == 1


# -- half a file is never taken ------------------------------------------------------------------


def _wait_for(condition: Callable[[], bool], what: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _interrupt_upload(server: Tt10FtpServer, how: str) -> None:
    ftp = login(server, "nt01")
    data = ftp.transfercmd(f"STOR {PLANT.file.name}")
    # A big file's first part, more than the server's write buffer: once it is on the
    # server's disk, under the hidden part name only, the transfer is surely under way.
    data.sendall(PLANT.file.read_bytes() * 400)
    _wait_for(lambda: any(p.stat().st_size for p in server.inbox.glob(".*.part")), "the part file")
    assert visible_files(server.inbox) == []
    if how == "abort":
        ftp.putcmd("ABOR")
        assert ftp.getline().startswith("426")
    else:  # the station's link drops: the control connection goes first
        ftp.close()
    _wait_for(lambda: server.totals.incomplete == 1, "the upload to count as interrupted")
    data.close()
    ftp.close()


@pytest.mark.parametrize("how", ["abort", "control connection lost"])
async def test_an_interrupted_upload_leaves_nothing_for_the_inbox(
    server: Tt10FtpServer, how: str
) -> None:
    inbox, recording, task = start_inbox(server, PLANT.now)
    try:
        await asyncio.to_thread(_interrupt_upload, server, how)
        await asyncio.sleep(inbox.settle_s + 5 * inbox.poll_s)  # long enough to take a file
    finally:
        await stop_task(task)
    assert list(server.inbox.iterdir()) == []
    assert recording.batches == []
    assert recording.rejected == []
    assert inbox.totals.files_processed == inbox.totals.files_rejected == 0
    assert server.health()["stations"]["xlnt_phu_bai"]["uploads"] == 0


def test_a_stop_mid_upload_keeps_nothing_and_a_restart_clears_old_parts(tmp_path: Path) -> None:
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    orphan = inbox / f".{PLANT.file.name}.0badc0de.part"  # left by a gateway killed mid-upload
    orphan.write_bytes(b"pH\t7")
    with Tt10FtpServer(inbox, accounts, port=0) as endpoint:
        assert not orphan.exists()
        ftp = login(endpoint, "nt01")
        data = ftp.transfercmd(f"STOR {PLANT.file.name}")
        data.sendall(b"pH\t7.1")
        _wait_for(lambda: any(inbox.glob(".*.part")), "the part file")
    assert list(inbox.iterdir()) == []
    data.close()
    ftp.close()


# -- many stations at once -----------------------------------------------------------------------


def _numbered(case: Tt10Case, second: int) -> tuple[str, bytes]:
    """The case's file as sent ``second`` seconds later: another name, the same values."""
    stamp = case.file.name.rsplit("_", 1)[1].removesuffix(".txt")
    later = f"{stamp[:-2]}{second:02d}"
    return case.file.name.replace(stamp, later), case.file.read_bytes().replace(
        stamp.encode(), later.encode()
    )


def _upload_many(
    server: Tt10FtpServer, user: str, case: Tt10Case, start: threading.Barrier
) -> None:
    start.wait()
    with login(server, user) as ftp:
        for second in range(5):
            name, content = _numbered(case, second)
            ftp.storbinary(f"STOR {name}", io.BytesIO(content), blocksize=64)


async def test_two_stations_upload_concurrently(server: Tt10FtpServer) -> None:
    inbox, recording, task = start_inbox(server, PLANT.now)
    start = threading.Barrier(2)
    try:
        await asyncio.gather(
            asyncio.to_thread(_upload_many, server, "nt01", PLANT, start),
            asyncio.to_thread(_upload_many, server, "kk01", AIR, start),
        )
        await until(lambda: inbox.totals.files_processed == 10)
    finally:
        await stop_task(task)
    by_station: dict[str, list[Any]] = {}
    for station, readings in recording.batches:
        by_station.setdefault(station, []).append(readings)
    assert {s: len(b) for s, b in by_station.items()} == {"xlnt_phu_bai": 5, "kk_hue": 5}
    assert all(len(r) == len(PLANT.readings) for r in by_station["xlnt_phu_bai"])
    assert all(len(r) == len(AIR.readings) for r in by_station["kk_hue"])
    assert recording.rejected == []
    health = server.health()["stations"]
    assert health["xlnt_phu_bai"]["uploads"] == health["kk_hue"]["uploads"] == 5
    assert parts(server.inbox) == []


# -- firewalls: the passive port range -----------------------------------------------------------


def test_data_connections_use_the_configured_passive_ports(tmp_path: Path) -> None:
    passive = free_port()
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    endpoint = Tt10FtpServer(
        tmp_path / "inbox",
        accounts,
        port=0,
        passive_ports=(passive, passive),
        public_address="127.0.0.1",
    )
    with endpoint, login(endpoint, "nt01") as ftp:
        assert ftp.makepasv() == ("127.0.0.1", passive)
        ftp.storbinary(f"STOR {PLANT.file.name}", io.BytesIO(PLANT.file.read_bytes()))
    assert visible_files(tmp_path / "inbox") == [PLANT.file.name]


def test_a_taken_port_fails_the_start(tmp_path: Path) -> None:
    with Tt10FtpServer(tmp_path / "a", {}, port=0) as first:
        _, port = first.address
        second = Tt10FtpServer(tmp_path / "b", {}, port=port)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            second.start()


# -- configuration -------------------------------------------------------------------------------


def test_a_missing_password_env_names_the_station_and_the_variable() -> None:
    with pytest.raises(FtpConfigError) as error:
        ftp_accounts(STATIONS, {"QUANTRAC_FTP_KK01": "x"})
    assert str(error.value) == (
        "station xlnt_phu_bai: FTP user nt01: environment variable QUANTRAC_FTP_NT01 is not set"
    )
    with pytest.raises(FtpConfigError, match="QUANTRAC_FTP_NT01 is empty"):
        ftp_accounts(STATIONS, {**PASSWORDS, "QUANTRAC_FTP_NT01": ""})


def test_a_password_file_is_read_at_start(tmp_path: Path) -> None:
    secret = tmp_path / "ftp_nt01"
    station = tt10_station(PLANT, {"user": "nt01", "password_file": str(secret)})
    with pytest.raises(FtpConfigError, match=r"station xlnt_phu_bai: .* cannot read password_file"):
        ftp_accounts([station], {})
    secret.write_text("", encoding="utf-8")
    with pytest.raises(FtpConfigError, match=r"station xlnt_phu_bai: .* is empty"):
        ftp_accounts([station], {})
    secret.write_text("s3cret\n", encoding="utf-8")
    (account,) = ftp_accounts([station], {}).values()
    assert account == StationAccount("nt01", account.password, "xlnt_phu_bai", "NT01")
    assert account.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(account)


def test_one_user_for_two_stations_is_refused() -> None:
    twin = tt10_station(
        AIR, {"user": "nt01", "password_env": "QUANTRAC_FTP_KK01"}, station_id="kk_twin"
    )
    with pytest.raises(FtpConfigError, match="nt01 is given to both xlnt_phu_bai and kk_twin"):
        ftp_accounts([STATIONS[0], twin], PASSWORDS)


@pytest.mark.parametrize(
    ("ftp", "message"),
    [
        ({"user": "nt01", "password": "plain"}, "no password in the site config"),
        ({"user": "nt01"}, "give one of password_env or password_file"),
        (
            {"user": "nt01", "password_env": "A", "password_file": "/run/secrets/a"},
            "give one of password_env or password_file",
        ),
        ({"user": "anonymous", "password_env": "A"}, "anonymous login"),
        ({"user": "nt 01", "password_env": "A"}, "should match pattern"),
        ({"user": "nt01", "password_env": "NOT-A-NAME"}, "should match pattern"),
    ],
)
def test_the_ftp_account_config_is_checked(ftp: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        tt10_station(PLANT, ftp)


def test_a_station_without_ftp_account_stays_valid() -> None:
    station = tt10_station(PLANT)
    assert station.source.ftp is None  # type: ignore[union-attr]
    assert ftp_accounts([station], {}) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:2121", FtpEndpoint("0.0.0.0", 2121)),
        ("[::]:21", FtpEndpoint("::", 21)),
        (
            "10.0.0.5:21,passive=60000-60049,public=203.0.113.7",
            FtpEndpoint("10.0.0.5", 21, (60000, 60049), "203.0.113.7"),
        ),
        ("127.0.0.1:0,passive=60000", FtpEndpoint("127.0.0.1", 0, (60000, 60000))),
    ],
)
def test_endpoint_parsing(text: str, expected: FtpEndpoint) -> None:
    assert FtpEndpoint.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2121", ":2121", "host:port", "h:70000", "h:21,passive=21-30", "h:21,passive=9-", "h:21,x=1"],
)
def test_bad_endpoints_are_refused(text: str) -> None:
    with pytest.raises(FtpConfigError, match="FTP endpoint"):
        FtpEndpoint.parse(text)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("TTH_KCNPHUBAI_NT01_20261122161500.txt", True),
        ("TTH_KCNPHUBAI_nt01_20261122161500.TXT", True),
        ("TTH_KCN_PHU_BAI_NT01_20261122161500.txt", True),
        ("TTH_QTMTKK_KK01_20261122163000.txt", False),
        ("TTH_KCNPHUBAI_NT01_20261322161500.txt", False),
        ("TTH_KCNPHUBAI_NT01_20261122161500.txt.part", False),
        (".TTH_KCNPHUBAI_NT01_20261122161500.txt", False),
    ],
)
def test_upload_names(name: str, ok: bool) -> None:
    assert (upload_name_problem(name, "NT01") is None) is ok


def test_the_example_site_gives_the_plant_an_account(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    env = {"QUANTRAC_FTP_NT01": "demo"}
    assert tt10_ftp_for(site, None, tmp_path, None, environ=env) is None
    endpoint = tt10_ftp_for(site, None, tmp_path, "127.0.0.1:0", environ=env)
    assert endpoint is not None
    assert [(a.user, a.station, a.code) for a in endpoint.accounts.values()] == [
        ("nt01", "xlnt_phu_bai", "NT01")
    ]
    with pytest.raises(ValueError, match="needs the inbox folder"):
        tt10_ftp_for(site, None, None, "127.0.0.1:0", environ=env)
    with pytest.raises(FtpConfigError, match=r"station xlnt_phu_bai: .*QUANTRAC_FTP_NT01"):
        tt10_ftp_for(site, None, tmp_path, "127.0.0.1:0", environ={})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs the inbox folder"),
        (["--tt10-inbox", "{tmp}"], "station xlnt_phu_bai: FTP user nt01: environment variable"),
        (["--tt10-inbox", "{tmp}", "--tt10-ftp", "nowhere"], "expected HOST:PORT"),
    ],
)
def test_the_gateway_command_refuses_a_bad_ftp_setup_at_start(
    tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("quantrac.cli.setup_logging", lambda verbose: None)  # pytest's logging
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--tt10-ftp" not in args:
        args += ["--tt10-ftp", "127.0.0.1:0"]
    result = CliRunner().invoke(
        app, ["gateway", str(EXAMPLE_SITE), *args], env={"QUANTRAC_FTP_NT01": None}
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_the_gateway_command_runs_the_endpoint_into_its_inbox(
    tmp_path: Path, mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    for path in (site / "stations").glob("*.yaml"):
        if path.name != "tt10.yaml":
            path.unlink()  # the plant alone: no Modbus station to poll
    inbox, work, port = tmp_path / "inbox", tmp_path / "work", free_port()
    monkeypatch.setenv("QUANTRAC_FTP_NT01", "plant-Secret!")
    log = tmp_path / "gateway.log"
    gateway = start(
        "gateway", str(site), "--broker", mosquitto.url, "--data-dir", str(tmp_path / "data"),
        "--tt10-inbox", str(inbox), "--tt10-work-dir", str(work), "--tt10-settle", "0.3",
        "--tt10-ftp", f"127.0.0.1:{port}",
        log=log,
    )  # fmt: skip
    try:
        wait_for_port(port)
        local = datetime.now(VIETNAM_TZ).replace(microsecond=0, tzinfo=None)
        name, text = WastewaterOutlet().file(0.0, local)
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login("nt01", "plant-Secret!")
            ftp.storbinary(f"STOR {name}", io.BytesIO(text.encode()))
        _wait_for(lambda: any(work.glob(f"archive/*/*/{name}")), "the file taken by the inbox")
        wait_for_text(log, f"station xlnt_phu_bai uploaded {name}")
    finally:
        code = stop(gateway, signal.SIGINT)
    assert code == 0, log.read_text()
    assert "tt10 ftp: stopped (1 upload(s))" in " ".join(log.read_text().split())
    assert not any(work.glob("rejected/*"))


# -- hardening (issue 13): upload size, failed-login ban, connections per address, FTPS --------


class _Zeros(io.RawIOBase):
    """``total`` bytes read in 64 KiB chunks made on demand: an upload of any size from a few
    KB of memory; ``sent`` counts what the client handed to the socket."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self._chunk = b"0" * 65_536

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._chunk[: min(len(self._chunk), self.total - self.sent)]
        self.sent += len(chunk)
        return chunk


def test_an_oversize_upload_is_cut_at_the_limit_with_memory_flat(tmp_path: Path) -> None:
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    limit = 1_048_576
    name = "TTH_KCNPHUBAI_NT01_20261122161500.txt"
    with Tt10FtpServer(tmp_path / "inbox", accounts, port=0, max_upload_bytes=limit) as endpoint:
        source = _Zeros(100 * 1_048_576)
        tracemalloc.start()
        try:
            ftp = login(endpoint)
            # 552 when the client reads the reply before its next send, else a reset socket.
            with pytest.raises((ftplib.error_perm, OSError)):
                ftp.storbinary(f"STOR {name}", source, blocksize=65_536)
            ftp.close()
            _wait_for(lambda: endpoint.totals.too_large == 1, "the cut upload to be counted")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        health = endpoint.health()
    # Cut at the limit while receiving: the client could push no more than the limit and what
    # the sockets' buffers hold, far from the 100 MB it had; server and client together
    # allocated a few MB at most (issue 13: the gateway grew by 1,000 MB for a 200 MB upload).
    assert source.sent < 32 * 1_048_576
    assert peak < 16 * 1_048_576
    assert visible_files(endpoint.inbox) == []
    assert parts(endpoint.inbox) == []
    assert health["totals"]["too_large"] == 1
    assert health["totals"]["uploads"] == 0
    assert health["max_upload_bytes"] == limit


def test_an_upload_at_the_limit_is_taken(tmp_path: Path) -> None:
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    name = "TTH_KCNPHUBAI_NT01_20261122161500.txt"
    with Tt10FtpServer(tmp_path / "inbox", accounts, port=0, max_upload_bytes=4096) as endpoint:
        upload(endpoint, "nt01", name, b"x" * 4096)
        _wait_for(lambda: endpoint.totals.uploads == 1, "the upload to be counted")
        assert (endpoint.inbox / name).stat().st_size == 4096
        assert endpoint.totals.too_large == 0


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("steps", "banned_after"),
    [
        # (seconds since the last step, "fail" | "ok" | "check") … → banned after each step
        ([(0, "fail")] * 4, [False] * 4),
        ([(0, "fail")] * 5, [False] * 4 + [True]),
        ([(0, "fail")] * 4 + [(0, "ok"), (0, "fail")], [False] * 6),  # a good login clears
        ([(0, "fail")] * 4 + [(601, "fail")], [False] * 5),  # too far apart: counting anew
        ([(0, "fail")] * 5 + [(599, "check")], [False] * 4 + [True, True]),
        ([(0, "fail")] * 5 + [(600, "check")], [False] * 4 + [True, False]),  # the ban ends
        ([(0, "fail")] * 5 + [(600, "fail")], [False] * 4 + [True, False]),  # a fresh count
    ],
    ids=["4-fail", "5-ban", "ok-clears", "spread-out", "still-banned", "ban-ends", "new-count"],
)
def test_the_login_guard(steps: list[tuple[float, str]], banned_after: list[bool]) -> None:
    clock = _Clock()
    guard = LoginGuard(max_failures=5, ban_s=600, clock=clock)
    seen = []
    for wait, what in steps:
        clock.now += wait
        if what == "fail":
            guard.failed("198.51.100.7")
        elif what == "ok":
            guard.succeeded("198.51.100.7")
        seen.append(guard.banned("198.51.100.7"))
    assert seen == banned_after
    assert not guard.banned("198.51.100.8")  # per address


def test_the_login_guard_remembers_a_bounded_number_of_addresses() -> None:
    guard = LoginGuard(max_failures=5, ban_s=600, clock=_Clock(), max_tracked=100)
    for n in range(10_000):
        guard.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(guard._failures) == 100


def test_repeated_failed_logins_ban_the_address_even_for_the_right_password(
    tmp_path: Path,
) -> None:
    clock = _Clock()
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    guard = LoginGuard(max_failures=5, ban_s=600, clock=clock)
    with Tt10FtpServer(
        tmp_path / "inbox", accounts, port=0, auth_failed_delay_s=0.01, login_guard=guard
    ) as endpoint:
        early = connect(endpoint)  # opened before the ban
        for attempt in range(5):
            with connect(endpoint) as ftp, pytest.raises(ftplib.error_perm, match=r"^530"):
                ftp.login("nt01", f"guess-{attempt}")
        _wait_for(lambda: endpoint.totals.bans == 1, "the ban")
        # A new connection gets no banner; one opened before gets no login.
        with pytest.raises(ftplib.error_temp, match=r"^421 Too many failed logins"):
            connect(endpoint)
        with early, pytest.raises(ftplib.error_perm, match=r"^530 Too many failed logins"):
            early.login("nt01", PASSWORDS["QUANTRAC_FTP_NT01"])
        health = endpoint.health()
        assert health["banned_addresses"] == 1
        assert health["totals"]["failed_logins"] == 5
        assert health["totals"]["refused_banned"] == 2
        assert health["totals"]["logins"] == 0
        clock.now += 600  # the ban is over
        login(endpoint).quit()
        assert endpoint.health()["banned_addresses"] == 0


def test_connections_per_address_are_limited(tmp_path: Path) -> None:
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    with Tt10FtpServer(tmp_path / "inbox", accounts, port=0, max_connections_per_ip=2) as endpoint:
        first, second = connect(endpoint), connect(endpoint)
        with pytest.raises(ftplib.error_temp, match=r"^421 Too many connections from the same IP"):
            connect(endpoint)
        first.close()
        second.close()
        _wait_for(lambda: endpoint.totals.refused == 1, "the refusal to be counted")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.fail("the FTPS tests need the openssl command: apt-get install openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _ftps_client(cert: Path) -> ftplib.FTP_TLS:
    context = ssl.create_default_context(cafile=str(cert))  # verifies the gateway's certificate
    return ftplib.FTP_TLS(context=context, timeout=10)


def test_ftps_login_and_upload_with_a_certificate_made_here(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    where = FtpEndpoint.parse(f"127.0.0.1:0,tls_cert={cert},tls_key={key}")
    name, content = _numbered(PLANT, 0)
    with Tt10FtpServer.at(where, tmp_path / "inbox", accounts) as endpoint:
        ftps = _ftps_client(cert)
        ftps.connect(*endpoint.address)
        ftps.login("nt01", PASSWORDS["QUANTRAC_FTP_NT01"])  # AUTH TLS first, then USER/PASS
        ftps.prot_p()  # the data connection encrypted too
        ftps.storbinary(f"STOR {name}", io.BytesIO(content))
        ftps.quit()
        _wait_for(lambda: endpoint.totals.uploads == 1, "the upload to be counted")
        assert (endpoint.inbox / name).read_bytes() == content
        # Required by default: a plain login is refused before the password is read.
        with connect(endpoint) as plain, pytest.raises(ftplib.error_perm, match=r"^550 SSL/TLS"):
            plain.login("nt01", PASSWORDS["QUANTRAC_FTP_NT01"])
        # And a protected login with clear data is refused too.
        with _ftps_client(cert) as ftps:
            ftps.connect(*endpoint.address)
            ftps.login("nt01", PASSWORDS["QUANTRAC_FTP_NT01"])
            with pytest.raises(ftplib.error_perm, match=r"^550 SSL/TLS required on the data"):
                ftps.storbinary(f"STOR {name}", io.BytesIO(content))
        assert endpoint.health()["tls"] == "required"


def test_ftps_optional_lets_a_plain_logger_in(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    accounts = ftp_accounts(STATIONS, PASSWORDS)
    where = FtpEndpoint.parse(f"127.0.0.1:0,tls_cert={cert},tls_key={key},tls=optional")
    with Tt10FtpServer.at(where, tmp_path / "inbox", accounts) as endpoint:
        login(endpoint).quit()
        assert endpoint.health()["tls"] == "optional"


@pytest.mark.parametrize("what", ["not-pem", "missing"])
def test_a_wrong_certificate_fails_at_once(tmp_path: Path, what: str) -> None:
    cert = tmp_path / "cert.pem"
    if what == "not-pem":
        cert.write_text("not a certificate\n")
    with pytest.raises(FtpConfigError, match=f"cannot use tls_cert={cert}"):
        Tt10FtpServer(tmp_path / "inbox", {}, port=0, tls_cert=str(cert))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "0.0.0.0:990,tls_cert=/etc/q/cert.pem,tls_key=/etc/q/key.pem",
            FtpEndpoint("0.0.0.0", 990, tls_cert="/etc/q/cert.pem", tls_key="/etc/q/key.pem"),
        ),
        (
            "0.0.0.0:21,tls_cert=/c.pem,tls=optional",
            FtpEndpoint("0.0.0.0", 21, tls_cert="/c.pem", tls_required=False),
        ),
        ("0.0.0.0:21,tls=required,tls_cert=/c.pem", FtpEndpoint("0.0.0.0", 21, tls_cert="/c.pem")),
    ],
)
def test_tls_endpoint_parsing(text: str, expected: FtpEndpoint) -> None:
    assert FtpEndpoint.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["h:21,tls_key=/k.pem", "h:21,tls=optional", "h:21,tls_cert=/c,tls=maybe"]
)
def test_tls_options_without_a_certificate_are_refused(text: str) -> None:
    with pytest.raises(FtpConfigError, match="FTP endpoint"):
        FtpEndpoint.parse(text)


# -- the inbox's own guards: files arrive by other ways than this endpoint too ------------------


async def test_a_huge_file_is_rejected_without_being_read(server: Tt10FtpServer) -> None:
    name = "TTH_KCNPHUBAI_NT01_20261122161500.txt"
    huge = server.inbox / name
    server.inbox.mkdir(parents=True, exist_ok=True)
    with huge.open("wb") as file:
        file.truncate(200 * 1_048_576)  # sparse: 200 MB of NULs in one "line", no disk used
    tracemalloc.start()
    try:
        inbox, recording, task = start_inbox(server, PLANT.now)
        try:
            await until(lambda: inbox.totals.files_rejected == 1)
        finally:
            await stop_task(task)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1_048_576  # the limit (1 MiB) read at most, never the 200 MB
    reason = (inbox.rejected_dir / f"{name}.reason").read_text(encoding="utf-8")
    assert reason == (
        f"{name}: too large: 209715200 bytes, more than the 1048576 a TT10 file may have "
        "(one is a few hundred bytes)\n"
    )
    assert (inbox.rejected_dir / name).stat().st_size == 200 * 1_048_576  # moved, not copied
    ((letter,),) = [recording.rejected]
    assert letter.station == "xlnt_phu_bai"
    assert len(letter.payload) <= 4096
    assert recording.batches == []


async def test_a_reason_quotes_a_short_excerpt_of_a_long_line(server: Tt10FtpServer) -> None:
    long_line = "X" * 500_000
    content = PLANT.file.read_bytes() + long_line.encode() + b"\n"
    server.inbox.mkdir(parents=True, exist_ok=True)
    (server.inbox / PLANT.file.name).write_bytes(content)
    inbox, recording, task = start_inbox(server, PLANT.now)
    try:
        await until(lambda: inbox.totals.files_processed == 1)
    finally:
        await stop_task(task)
    assert_readings(PLANT, recording.batches[0][1])  # the good lines are kept
    reason = (inbox.archive_dir / "2026" / "11" / f"{PLANT.file.name}.reason").read_text("utf-8")
    assert len(reason) < 1_000
    assert f"{'X' * 200}… (500000 characters)" in reason
    (letter,) = recording.rejected
    assert len(letter.payload) < 1_000
