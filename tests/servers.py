"""Real servers for tests, each started on a free loopback port in a temporary directory.

A missing binary is a failure that says how to install it, never a skip (DESIGN.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest


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
        # Started as root, Mosquitto drops to the "mosquitto" user, which cannot write the
        # persistence file or read the password file in a root-owned temporary directory.
        user = "user root\n" if os.geteuid() == 0 else ""
        config.write_text(
            f"{user}listener {self.port} 127.0.0.1\n"
            f"{auth}"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 100\n"
            f"log_dest file {self.directory}/mosquitto.log\n"
        )
        self.process = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.process.kill()
            log = self.directory / "mosquitto.log"
            text = log.read_text()[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"mosquitto did not start: {text}") from None

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
