"""A compose service run as a process on this machine: the command, environment, env files,
secrets and mounts the compose file gives it, its container paths mapped to where they are
here, its listen addresses to free loopback ports, and its own healthcheck run as Docker would.

Docker cannot run on these machines; this is how the tests run the stack's quantrac services
anyway, so the compose file cannot drift from what the services take.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.compose import HostPaths, Service, parse_env_file
from tests.deploy.dockerfile import instructions
from tests.servers import free_port

QUANTRAC = [str(Path(sys.executable).with_name("quantrac"))]
_ADDRESS = re.compile(r"^(?P<host>[^:]*):(?P<port>\d+)$")


def image_environment(dockerfile: Path) -> dict[str, str]:
    """The ``ENV`` of the Dockerfile's last stage, as the container starts with it (not PATH:
    here the venv's own)."""
    steps = instructions(dockerfile.read_text(encoding="utf-8"))
    last = max(step.stage for step in steps)
    env: dict[str, str] = {}
    for step in steps:
        if step.keyword == "ENV" and step.stage == last:
            for word in shlex.split(step.arguments):
                key, _, value = word.partition("=")
                env[key] = value
    env.pop("PATH", None)
    return env


@dataclass
class NativeService:
    name: str
    argv: list[str]
    env: dict[str, str]
    healthcheck: list[str]
    log: Path
    ports: dict[int, int] = field(default_factory=dict)  # container port → loopback port
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> NativeService:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        return self

    def healthy(self) -> bool:
        """The service's healthcheck, run once: exit code 0."""
        result = subprocess.run(self.healthcheck, capture_output=True, timeout=30, check=False)
        return result.returncode == 0

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.healthy():
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited {self.process.returncode}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: healthcheck failing after {timeout_s:.0f} s:\n"
                                     f"{self.tail()}")  # fmt: skip
            time.sleep(0.5)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20.0) -> int | None:
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                return process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(f"{self.name} did not stop on {sig.name}") from None
        return process.returncode

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _rehost(value: str, hosts: Mapping[str, str]) -> str:
    """Service addresses of the stack's network (``mosquitto:1883``) → where they are here."""
    for address, here in hosts.items():
        value = value.replace(address, here)
    return value


def _listen_locally(command: list[str], ports: dict[int, int]) -> list[str]:
    """``--health 0.0.0.0:9101``, ``--host``/``--port``: on loopback, on free ports."""
    mapped = list(command)
    for index, part in enumerate(mapped[:-1]):
        value = mapped[index + 1]
        if part == "--health" and (match := _ADDRESS.match(value)):
            port = ports.setdefault(int(match["port"]), free_port())
            mapped[index + 1] = f"127.0.0.1:{port}"
        elif part == "--host":
            mapped[index + 1] = "127.0.0.1"
        elif part == "--port":
            mapped[index + 1] = str(ports.setdefault(int(value), free_port()))
    return mapped


def _local_healthcheck(test: list[str], ports: Mapping[int, int]) -> list[str]:
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        raise ValueError(f"healthcheck {test!r}: expected CMD …")
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", " ".join(test[1:])]
    argv = [sys.executable if part == "python" else part for part in test[1:]]

    def port_here(match: re.Match[str]) -> str:
        port = int(match["port"])
        return f"//127.0.0.1:{ports.get(port, port)}"

    return [re.sub(r"//(?:127\.0\.0\.1|localhost):(?P<port>\d+)", port_here, a) for a in argv]


def native_service(
    service: Service,
    paths: HostPaths,
    *,
    hosts: Mapping[str, str],
    image_env: Mapping[str, str],
    log: Path,
    program: list[str] | None = None,
) -> NativeService:
    """``service`` as a process: ``program`` (default: this venv's ``quantrac``) with its
    command; not started."""
    ports: dict[int, int] = {}
    command = _listen_locally([paths.map(service, part) for part in service.command], ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRAC_")}
    env.update({k: paths.map(service, v) for k, v in image_env.items()})
    for env_file in service.env_files:
        env.update(parse_env_file(paths.host(env_file).read_text(encoding="utf-8")))
    for key, value in service.environment.items():
        env[key] = _rehost(paths.map(service, value), hosts)
    env["COLUMNS"] = "200"
    return NativeService(
        service.name,
        [*(program if program is not None else QUANTRAC), *command],
        env,
        _local_healthcheck(service.healthcheck_test, ports),
        log,
        ports,
    )


def broker_config(service: Service, paths: HostPaths, port: int, log: Path) -> str:
    """The broker's mounted mosquitto.conf for a Mosquitto on this machine: its paths mapped,
    its plain listener on a free loopback port, the log in a file, TLS listeners left out (no
    certificates here: tests/test_broker_acl.py covers TLS)."""
    source = paths.map(service, "/mosquitto/config/mosquitto.conf")
    lines = ["user root"] if os.geteuid() == 0 else []  # the files belong to root here
    in_tls_listener = False
    for raw in Path(source).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition(" ")
        if name == "listener":
            in_tls_listener = value.split()[0] != "1883"
            if not in_tls_listener:
                lines.append(f"listener {port} 127.0.0.1")
            continue
        if in_tls_listener and name in ("cafile", "certfile", "keyfile", "tls_version",
                                        "require_certificate"):  # fmt: skip
            continue
        if name == "log_dest":
            line = f"log_dest file {log}"
        elif name in ("password_file", "acl_file", "persistence_location"):
            mapped = paths.map(service, value)
            line = f"{name} {mapped}{'/' if value.endswith('/') else ''}"
        lines.append(line)
    return "\n".join(lines) + "\n"
