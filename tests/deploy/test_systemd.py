"""The systemd units under deploy/systemd/, installed by its install.sh into a staging root and
checked by systemd itself: ``systemd-analyze verify`` (no error, no warning about them) and
``systemd-analyze security`` (the exposure of each service), plus what only this project can
check: the commands they run are ones quantrac takes, and the hardening reaches every unit.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from tests.deploy.compose import REPO
from tests.deploy.test_compose_file import quantrac_command
from tests.servers import require_binary

SYSTEMD = REPO / "deploy" / "systemd"
INSTANCES = [
    "quantrac-gateway@gw-hue-1.service",
    "quantrac-collector@1.service",
    "quantrac-alerting.service",
    "quantrac-api.service",
    "quantrac-backup.service",
]


def unit_text(name: str) -> str:
    template = re.sub(r"@[^.]+\.", "@.", name)
    return (SYSTEMD / template).read_text(encoding="utf-8")


def settings(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """install.sh into a staging root, with the system's own units beside ours and an
    executable where /opt/quantrac/bin/quantrac goes (verify checks that it is one)."""
    root = tmp_path_factory.mktemp("root")
    result = subprocess.run(
        ["sh", str(SYSTEMD / "install.sh")],
        env={**os.environ, "ROOT": str(root), "NO_VENV": "1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (root / "opt" / "quantrac" / "bin").mkdir(parents=True)
    shutil.copy(Path(require_binary("sh", "dash")), root / "opt" / "quantrac" / "bin" / "quantrac")
    # ExecReload's /bin/kill (procps) must be an executable in the root too.
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy(Path(require_binary("kill", "procps")), root / "bin" / "kill")
    system = root / "usr" / "lib" / "systemd" / "system"
    system.mkdir(parents=True)
    for unit in Path("/usr/lib/systemd/system").iterdir():
        if unit.is_file() and not unit.is_symlink():
            shutil.copy(unit, system)
    return root


def test_install_lays_out_units_settings_and_credentials(staged: Path) -> None:
    units = staged / "etc" / "systemd" / "system"
    assert (units / "quantrac-.service.d" / "hardening.conf").is_file()
    for name in [*INSTANCES, "quantrac-backup.timer"]:
        assert (units / re.sub(r"@[^.]+\.", "@.", name)).is_file(), name
    etc = staged / "etc" / "quantrac"
    assert (etc / "site" / "site.yaml").is_file()
    credentials = etc / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o700
    for name in ("gw-hue-1", "collector", "alerting", "reader"):
        assert (credentials / f"{name}.password").stat().st_mode & 0o077 == 0, name
    assert (credentials / "store-url").read_text().strip().startswith("sqlite:///var/lib/")
    assert (etc / "quantrac.env").stat().st_mode & 0o007 == 0
    passwd = (staged / "etc" / "mosquitto" / "quantrac" / "passwd").read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == [
        "alerting", "collector", "gw-hue-1", "reader"]  # fmt: skip
    # Again: nothing that exists is made anew.
    before = {p: p.read_bytes() for p in credentials.iterdir()}
    again = subprocess.run(
        ["sh", str(SYSTEMD / "install.sh")],
        env={**os.environ, "ROOT": str(staged), "NO_VENV": "1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in credentials.iterdir()} == before
    assert "made" not in again.stderr


@pytest.mark.parametrize("unit", [*INSTANCES, "quantrac-backup.timer"])
def test_systemd_verifies_each_unit(staged: Path, unit: str) -> None:
    analyze = require_binary("systemd-analyze", "systemd")
    result = subprocess.run(
        [analyze, "verify", f"--root={staged}", unit],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # A value systemd cannot parse is only a warning ("…, ignoring"): none about ours.
    ours = [line for line in output.splitlines() if "quantrac" in line]
    assert ours == [], "\n".join(ours)


@pytest.mark.parametrize("unit", INSTANCES)
def test_each_service_is_hardened(staged: Path, unit: str) -> None:
    analyze = require_binary("systemd-analyze", "systemd")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", f"--root={staged}", "--no-pager", unit],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    # systemd's scale: 0–10, "OK" below 2.0 (a service that needs the network and its files).
    limit = 2.5 if unit.startswith("quantrac-gateway@") else 2.0  # the gateway has serial lines
    assert float(match[1]) <= limit, result.stdout


def test_the_hardening_reaches_every_unit() -> None:
    hardening = dict(settings((SYSTEMD / "quantrac-.service.d" / "hardening.conf").read_text()))
    assert hardening["User"] == "quantrac"
    assert hardening["ProtectSystem"] == "strict"
    assert hardening["ReadWritePaths"] == "/var/lib/quantrac"
    assert hardening["EnvironmentFile"] == "/etc/quantrac/quantrac.env"
    assert hardening["NoNewPrivileges"] == "yes"
    assert hardening["CapabilityBoundingSet"] == ""
    for unit in INSTANCES:
        # The drop-in directory "quantrac-.service.d" applies to every unit named quantrac-…
        assert unit.startswith("quantrac-"), unit
        own = dict(settings(unit_text(unit)))
        assert "User" not in own, f"{unit}: set in the drop-in"
        assert "ProtectSystem" not in own, f"{unit}: set in the drop-in"
        if not unit.startswith("quantrac-gateway@"):
            assert own.get("PrivateDevices") == "yes", unit


def expanded(command: str, unit: str) -> list[str]:
    """ExecStart as systemd runs it: specifiers filled in, unset $VARIABLES left out."""
    instance = unit.partition("@")[2].rpartition(".")[0]
    for specifier, value in {"%i": instance, "%H": "vm-ioc", "%d": "/run/credentials/x"}.items():
        command = command.replace(specifier, value)
    return [word for word in shlex.split(command) if not word.startswith("$")]


def test_the_units_run_commands_quantrac_takes() -> None:
    group = quantrac_command()
    with typer.Context(group) as context:
        for unit in INSTANCES:
            (exec_start,) = [v for k, v in settings(unit_text(unit)) if k == "ExecStart"]
            argv = expanded(exec_start, unit)
            assert argv[0] == "/opt/quantrac/bin/quantrac", unit
            subcommand = group.get_command(context, argv[1])
            assert subcommand is not None, unit
            subcommand.make_context(argv[1], argv[2:], parent=context)
            if argv[1] == "collector":
                assert "--clean-session" in argv  # several may share the stream


def test_secrets_come_as_credentials_or_root_only_env_files() -> None:
    for unit in INSTANCES:
        for key, value in settings(unit_text(unit)):
            if key == "Environment":
                for assignment in shlex.split(value):
                    name, _, setting = assignment.partition("=")
                    if re.search(r"PASSWORD|TOKEN|SECRET|STORE_URL", name):
                        assert name.endswith("_FILE"), f"{unit}: {name}"
                        assert setting.startswith("%d/"), f"{unit}: {name} not a credential"
