"""docker-compose.yml read as Compose reads it, without Docker: the .env file, interpolation,
mounts, secrets, healthchecks — and what a service's container paths are on this machine.

Pure functions: the tests that check the file and the test that runs its services natively
(test_compose_native.py) share them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

# $$ (a literal $), ${NAME…} with an optional modifier, or $NAME.
_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^{}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    pass


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as Compose reads a .env file: comments, blank lines, quotes."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"line {number}: not KEY=VALUE: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        if braced is None:
            raise InterpolationError(f"invalid reference ${{{match['braced']}}}")
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise InterpolationError(f"{name}: {arg or 'required'}")
            return str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    return _REFERENCE.sub(one, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """Every string value with its ``${VAR}``s resolved from ``env`` (keys are left as they are)."""
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def variables_used(node: Any) -> set[str]:
    """The names of the variables a compose document reads (``$$`` is not one)."""
    found: set[str] = set()
    if isinstance(node, str):
        for match in _REFERENCE.finditer(node):
            if match["named"]:
                found.add(match["named"])
            elif match["braced"] is not None:
                braced = _BRACED.fullmatch(match["braced"])
                if braced is not None:
                    found.add(braced["name"])
    elif isinstance(node, list):
        for item in node:
            found |= variables_used(item)
    elif isinstance(node, dict):
        for value in node.values():
            found |= variables_used(value)
    return found


def load_raw(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The document with YAML anchors and merge keys resolved, not yet interpolated."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def load(env: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    resolved = interpolate(load_raw(path), env)
    assert isinstance(resolved, dict)
    return resolved


@dataclass(frozen=True)
class Mount:
    source: str  # a path (bind mount, relative to the project) or a named volume
    target: str
    read_only: bool
    named: bool


def parse_mount(spec: str | dict[str, Any]) -> Mount:
    """A ``volumes:`` entry, short (``SRC:DST[:ro]``) or long syntax."""
    if isinstance(spec, dict):
        kind = spec.get("type", "volume")
        return Mount(str(spec["source"]), str(spec["target"]), bool(spec.get("read_only")),
                     kind == "volume")  # fmt: skip
    parts = spec.split(":")
    if len(parts) == 2:
        parts.append("rw")
    if len(parts) != 3:
        raise ValueError(f"volume {spec!r}: expected SOURCE:TARGET[:MODE]")
    source, target, mode = parts
    named = not source.startswith(("/", ".", "~"))
    return Mount(source, target, "ro" in mode.split(","), named)


@dataclass
class Service:
    """One service of the resolved document, with the paths it sees."""

    name: str
    spec: dict[str, Any]
    mounts: list[Mount] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # container path → secret name

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command", [])
        return [str(part) for part in command] if isinstance(command, list) else command.split()

    @property
    def environment(self) -> dict[str, str]:
        env = self.spec.get("environment", {})
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        return {key: "" if value is None else str(value) for key, value in env.items()}

    @property
    def env_files(self) -> list[str]:
        files = self.spec.get("env_file", [])
        files = [files] if isinstance(files, str | dict) else files
        return [item["path"] if isinstance(item, dict) else item for item in files]

    @property
    def healthcheck_test(self) -> list[str]:
        test = self.spec.get("healthcheck", {}).get("test", [])
        return [str(part) for part in test]


def services(document: Mapping[str, Any]) -> dict[str, Service]:
    found = {}
    for name, spec in document["services"].items():
        service = Service(name, spec, [parse_mount(v) for v in spec.get("volumes", [])])
        for entry in spec.get("secrets", []):
            source = entry if isinstance(entry, str) else entry["source"]
            target = source if isinstance(entry, str) else entry.get("target", source)
            service.secrets[f"/run/secrets/{target}"] = source
        found[name] = service
    return found


def quantrac_services(document: Mapping[str, Any]) -> dict[str, Service]:
    """The services built from this repository's Dockerfile."""
    return {name: s for name, s in services(document).items() if "build" in s.spec}


def healthcheck_url(test: list[str]) -> str | None:
    """The URL a healthcheck asks for: its last http argument."""
    urls = [part for part in test if part.startswith(("http://", "https://"))]
    return urls[-1] if urls else None


def option(command: list[str], name: str) -> str | None:
    """The value of ``--name VALUE`` (or ``--name=VALUE``) in a command line."""
    for index, part in enumerate(command):
        if part == name and index + 1 < len(command):
            return command[index + 1]
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


def served_address(service: Service) -> tuple[str, int] | None:
    """Where a quantrac service's command serves ``/health``: ``--health`` or the API's
    ``--host``/``--port``."""
    command = service.command
    if command[:1] == ["api"]:
        port = option(command, "--port")
        return (option(command, "--host") or "127.0.0.1", int(port or 8000))
    health = option(command, "--health")
    if health is None:
        return None
    host, _, port = health.rpartition(":")
    return (host or "127.0.0.1", int(port))


@dataclass
class HostPaths:
    """Where a service's container paths are on this machine: bind mounts from the project,
    named volumes as folders of their own, secrets as their files."""

    project: Path
    volumes_root: Path
    document: Mapping[str, Any]

    def volume(self, name: str) -> Path:
        path = self.volumes_root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def secret_file(self, name: str) -> Path:
        return self.host(self.document["secrets"][name]["file"])

    def host(self, source: str) -> Path:
        path = Path(source).expanduser()
        return path if path.is_absolute() else self.project / path

    def table(self, service: Service) -> list[tuple[str, Path]]:
        """(container path, host path), longest container path first."""
        pairs = [
            (m.target, self.volume(m.source) if m.named else self.host(m.source))
            for m in service.mounts
        ]
        pairs += [(target, self.secret_file(name)) for target, name in service.secrets.items()]
        return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)

    def map(self, service: Service, value: str) -> str:
        """``value`` with a container path at its start replaced by the host path."""
        for target, host in self.table(service):
            if value == target:
                return str(host)
            if value.startswith(target.rstrip("/") + "/"):
                relative = PurePosixPath(value).relative_to(target)
                return str(host / relative)
        return value
