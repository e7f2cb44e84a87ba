"""Real servers for tests, each started on a free loopback port in a temporary directory.

A missing binary is a failure that says how to install it, never a skip (docs/README.md, tests).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SHIPPED_ACL = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "acl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `apt-get install -y {package}` "
            "(bash scripts/test.sh installs it)",
            pytrace=False,
        )
    return path


@dataclass
class Mosquitto:
    """A real Mosquitto broker with persistence, so a restart keeps queued QoS 1 messages."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # (user, password): anonymous clients are refused, this one account is allowed.
    account: tuple[str, str] | None = None
    # The shipped ACL and these accounts (name → password) instead: see :meth:`shipped`.
    acl_file: Path | None = None
    accounts: dict[str, str] = field(default_factory=dict)
    # (CA, server certificate, server key): a TLS listener on ``tls_port`` as well.
    tls: tuple[Path, Path, Path] | None = None
    tls_port: int = field(default_factory=free_port)

    @classmethod
    def shipped(
        cls,
        directory: Path,
        accounts: dict[str, str],
        tls: tuple[Path, Path, Path] | None = None,
    ) -> Mosquitto:
        """A broker with deploy/mosquitto/acl and one account per name, as in production."""
        return cls(directory, acl_file=SHIPPED_ACL, accounts=accounts, tls=tls)

    def url_for(self, user: str, *, tls: bool = False) -> str:
        """The broker URL with one of the accounts' name and password in it."""
        password = urllib.parse.quote(self.accounts[user], safe="")
        if tls:
            return f"mqtts://{user}:{password}@localhost:{self.tls_port}"
        return f"mqtt://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = require_binary("mosquitto", "mosquitto")
        config = self.directory / "mosquitto.conf"
        auth = "allow_anonymous true\n"
        if self.account is not None:
            passwords = self.directory / "passwords"
            passwords.write_text("")
            subprocess.run(
                [
                    require_binary("mosquitto_passwd", "mosquitto"),
                    "-b",
                    str(passwords),
                    *self.account,
                ],
                check=True,
            )
            auth = f"allow_anonymous false\npassword_file {passwords}\n"
        if self.accounts:
            auth = self._write_accounts()
        tls = ""
        if self.tls is not None:
            ca, cert, key = self.tls
            tls = (
                f"listener {self.tls_port} 127.0.0.1\n"
                f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\ntls_version tlsv1.2\n"
            )
        # Started as root, Mosquitto drops to the "mosquitto" user, which cannot write the
        # persistence file or read the password file in a root-owned temporary directory.
        user = "user root\n" if os.geteuid() == 0 else ""
        config.write_text(
            f"{user}per_listener_settings false\n"
            f"{auth}"
            f"listener {self.port} 127.0.0.1\n"
            f"{tls}"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 100\n"
            # As deploy/mosquitto/mosquitto.conf: small PUBACKs and PUBLISHes go out at once.
            "set_tcp_nodelay true\n"
            f"log_dest file {self.directory}/mosquitto.log\n"
        )
        self.process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
            if self.tls is not None:
                wait_for_port(self.tls_port)
        except TimeoutError:
            self.process.kill()
            log = self.directory / "mosquitto.log"
            text = log.read_text()[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"mosquitto did not start: {text}") from None

    def _write_accounts(self) -> str:
        """The password file, hashed by ``mosquitto_passwd -U`` as make-accounts.sh does."""
        passwords = self.directory / "passwords"
        passwords.write_text("".join(f"{n}:{p}\n" for n, p in self.accounts.items()))
        passwords.chmod(0o600)
        subprocess.run(
            [require_binary("mosquitto_passwd", "mosquitto"), "-U", str(passwords)], check=True
        )
        acl = f"acl_file {self.acl_file}\n" if self.acl_file is not None else ""
        return f"allow_anonymous false\npassword_file {passwords}\n{acl}"

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()


@dataclass
class SerialLine:
    """A serial line made of a ``socat`` pty pair: what one end writes, the other end reads.

    The gateway opens ``gateway``, the simulated slaves ``device``; both are symlinks to the
    ptys socat allocates, so the paths are known before it starts. A pty carries bytes: it
    accepts a baud rate without pacing to it, and some kernels refuse parity on it (EINVAL).
    """

    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def gateway(self) -> str:
        return str(self.directory / "gateway")

    @property
    def device(self) -> str:
        return str(self.directory / "device")

    def start(self, timeout_s: float = 10.0) -> None:
        binary = require_binary("socat", "socat")
        log = self.directory / "socat.log"
        with log.open("wb") as stderr:  # a file, not a pipe: socat never blocks on its log
            self.process = subprocess.Popen(
                [
                    binary,
                    "-d",
                    "-d",
                    f"pty,raw,echo=0,link={self.gateway}",
                    f"pty,raw,echo=0,link={self.device}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout_s
        while not (Path(self.gateway).exists() and Path(self.device).exists()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"socat did not create {self.gateway} and {self.device}: "
                    f"{log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_http(url: str, expect: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``url`` until it answers ``expect``; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == expect:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout_s} s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Influxd:
    """Debian's InfluxDB 1.x (``influxd``): v1 ``/write`` and InfluxQL ``/query``, no auth.

    ``stop()`` then ``start()`` reuses the directory and the ports, so the data survives and
    clients reconnect to the same URL: that is how the outage test takes it away.
    """

    directory: Path
    database: str = "quantrac"
    port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)  # the default 8088 may be taken
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        """The ``open_store`` URL of this server's database (v1 mode)."""
        return f"influxdb://127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout_s: float = 30.0) -> None:
        binary = require_binary("influxd", "influxdb")
        config = self.directory / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            "[meta]\n"
            f'  dir = "{self.directory}/meta"\n'
            "[data]\n"
            f'  dir = "{self.directory}/data"\n'
            f'  wal-dir = "{self.directory}/wal"\n'
            "  query-log-enabled = false\n"
            "[http]\n"
            f'  bind-address = "127.0.0.1:{self.port}"\n'
            "  log-enabled = false\n"
            "[monitor]\n"
            "  store-enabled = false\n"
            "[continuous_queries]\n"
            "  enabled = false\n"
        )
        log = self.directory / "influxd.log"
        with log.open("ab") as output:  # a file, not a pipe: influxd never blocks on its log
            self.process = subprocess.Popen(
                [binary, "-config", str(config)], stdout=output, stderr=output
            )
        try:
            _wait_http(f"{self.url}/ping", 204, self.process, timeout_s)
        except (TimeoutError, RuntimeError) as exc:
            _stop(self.process)
            self.process = None
            raise RuntimeError(
                f"influxd did not start ({exc}): {log.read_text(errors='replace')[-2000:]}"
            ) from None
        self.query(f'CREATE DATABASE "{self.database}"')

    def query(self, q: str) -> dict[str, Any]:
        """Run InfluxQL on this server's database; the decoded JSON answer."""
        body = urllib.parse.urlencode({"q": q, "db": self.database, "epoch": "ms"}).encode()
        with urllib.request.urlopen(f"{self.url}/query", data=body, timeout=10) as response:
            answer: dict[str, Any] = json.load(response)
        return answer

    def count(self, field_name: str = "value", measurement: str = "reading") -> int:
        """``SELECT count(field) FROM measurement``: 0 when nothing is stored."""
        result = self.query(f'SELECT count("{field_name}") FROM "{measurement}"')["results"][0]
        series = result.get("series")
        return int(series[0]["values"][0][1]) if series else 0

    def stop(self) -> None:
        _stop(self.process)
        self.process = None


@dataclass
class VictoriaMetrics:
    """Single-node VictoriaMetrics: InfluxDB line protocol in, ``/api/v1/export`` out."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    dedup: bool = True  # -dedup.minScrapeInterval=1ms, as production must run it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_url(self) -> str:
        return f"victoriametrics://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        binary = require_binary("victoria-metrics", "victoria-metrics")
        log = self.directory / "victoria-metrics.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"-storageDataPath={self.directory}/data",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    # Fresh points visible to queries at once, as tests read what they wrote.
                    "-search.latencyOffset=0s",
                    "-search.disableCache",
                    # As docs/storage.md asks of production: a resent point is one sample.
                    *(["-dedup.minScrapeInterval=1ms"] if self.dedup else []),
                    "-loggerLevel=WARN",
                ],
                stdout=output,
                stderr=output,
            )
        try:
            _wait_http(f"{self.url}/health", 200, self.process, timeout_s)
        except (TimeoutError, RuntimeError) as exc:
            _stop(self.process)
            self.process = None
            raise RuntimeError(
                f"victoria-metrics did not start ({exc}): "
                f"{log.read_text(errors='replace')[-2000:]}"
            ) from None

    def flush(self) -> None:
        """Make what was just written searchable now (VM buffers new rows for about 1 s)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10) as response:
            response.read()

    def export(self, match: str) -> list[dict[str, Any]]:
        """The JSON lines of ``/api/v1/export`` for one series selector."""
        query = urllib.parse.urlencode({"match[]": match, "start": "0"})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as response:
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]

    def stop(self) -> None:
        _stop(self.process)
        self.process = None
