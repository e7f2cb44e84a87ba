"""docker-compose.yml checked without Docker: the Compose Specification's own schema, and every
reference in it — files it mounts, variables it reads, commands it runs, URLs its healthchecks
ask for — against this repository and what deploy/compose/setup.sh makes.

The schema is the one check-jsonschema vendors (``vendor.compose-spec``, with its licence).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
from jsonschema import Draft202012Validator
from typer.core import TyperGroup

from quantrac.cli import app
from quantrac.settings import Settings
from tests.deploy.compose import (
    ENV_EXAMPLE,
    REPO,
    HostPaths,
    InterpolationError,
    healthcheck_url,
    interpolate,
    load,
    load_raw,
    option,
    parse_env_file,
    parse_mount,
    quantrac_services,
    served_address,
    services,
    variables_used,
)

SETUP = REPO / "deploy" / "compose" / "setup.sh"
# The folders of the repository a project directory holds (docs/deploy.md: run it from a clone).
PROJECT_ENTRIES = ("docker-compose.yml", ".env.example", "deploy", "dashboards", "examples")


def example_env() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))


def make_project(root: Path, store: str = "influxdb") -> Path:
    """A project directory as an operator has it: the repository's files and what setup.sh
    makes (.env, secrets/, backups/, the TT10 inbox)."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT_ENTRIES:
        (root / entry).symlink_to(REPO / entry)
    result = subprocess.run(
        ["sh", str(SETUP), "--store", store, str(root)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        store: make_project(tmp_path_factory.mktemp(store) / "quantrac", store)
        for store in ("influxdb", "victoriametrics")
    }


# --- interpolation, as Compose does it ------------------------------------------------------

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("${SET}", "value"),
        ("$SET/x", "value/x"),
        ("${UNSET}", ""),
        ("${SET:-default}", "value"),
        ("${EMPTY:-default}", "default"),
        ("${EMPTY-default}", ""),
        ("${UNSET-default}", "default"),
        ("${UNSET:-./examples/hue}", "./examples/hue"),
        ("${SET:+other}", "other"),
        ("${EMPTY:+other}", ""),
        ("$${SET}", "${SET}"),  # $$ is a literal $
        ("a $$(cat f) b", "a $(cat f) b"),
        ("${SET}:${UNSET:-1883}:1883", "value:1883:1883"),
        ("no variable", "no variable"),
    ],
)
def test_interpolation_resolves_as_compose_does(text: str, resolved: str) -> None:
    assert interpolate(text, ENV) == resolved


@pytest.mark.parametrize("text", ["${UNSET:?needed}", "${EMPTY:?needed}", "${UNSET?needed}"])
def test_a_required_variable_missing_stops_interpolation(text: str) -> None:
    with pytest.raises(InterpolationError, match="needed"):
        interpolate(text, ENV)


def test_variables_used_are_the_referenced_names_not_escapes() -> None:
    document = {"a": ["${A:-x}", "$B", "$$C", "$${D}", {"e": "${E:?}"}], "n": 1}
    assert variables_used(document) == {"A", "B", "E"}


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("A=1\n# comment\n\nB = two \n", {"A": "1", "B": "two"}),
        ("C=\"quoted value\"\nD='x'\nexport E=5", {"C": "quoted value", "D": "x", "E": "5"}),
        ("EMPTY=\n", {"EMPTY": ""}),
    ],
)
def test_env_files_parse(text: str, parsed: dict[str, str]) -> None:
    assert parse_env_file(text) == parsed


@pytest.mark.parametrize(
    ("spec", "named", "read_only"),
    [
        ("gateway-data:/var/lib/quantrac", True, False),
        ("./backups:/var/backups/quantrac", False, False),
        ("./deploy/mosquitto/acl:/mosquitto/config/acl:ro", False, True),
        ("/srv/tt10:/srv/tt10/inbox:rw", False, False),
    ],
)
def test_mounts_parse(spec: str, named: bool, read_only: bool) -> None:
    mount = parse_mount(spec)
    assert (mount.named, mount.read_only) == (named, read_only)


# --- the file itself -------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def schema_errors(document: Any) -> list[str]:
    validator = Draft202012Validator(compose_schema())
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(load_raw()) == []
    assert schema_errors(load(example_env())) == []
    # The schema bites: a misspelt key and a wrong type are refused.
    broken = copy.deepcopy(load_raw())
    broken["services"]["collector"]["healtcheck"] = broken["services"]["collector"]["healthcheck"]
    broken["services"]["api"]["restart"] = ["always"]
    assert len(schema_errors(broken)) == 2


def test_every_variable_is_in_env_example_and_every_setting_there_is_used() -> None:
    used = variables_used(load_raw())
    shipped = set(example_env())
    assert used - shipped == set(), "read by docker-compose.yml, missing from .env.example"
    # COMPOSE_PROFILES is read by Compose itself (which stores run).
    assert shipped - used - {"COMPOSE_PROFILES"} == set(), "in .env.example, read by nothing"
    assert example_env()["COMPOSE_PROFILES"] == example_env()["QUANTRAC_STORE"]


@pytest.mark.parametrize("store", ["influxdb", "victoriametrics"])
@pytest.mark.parametrize("broker", ["compose.conf", "compose-tls.conf"])
def test_every_file_the_stack_mounts_exists_after_setup(
    projects: dict[str, Path], store: str, broker: str, tmp_path: Path
) -> None:
    project = projects[store]
    env = {**parse_env_file((project / ".env").read_text()), "MOSQUITTO_CONFIG": broker}
    assert env["QUANTRAC_STORE"] == env["COMPOSE_PROFILES"] == store
    document = load(env)
    paths = HostPaths(project, tmp_path / "volumes", document)
    missing = []
    for service in services(document).values():
        for mount in service.mounts:
            if not mount.named and not paths.host(mount.source).exists():
                missing.append(f"{service.name}: {mount.source}")
            if mount.named:
                assert mount.source in document["volumes"], (service.name, mount.source)
        for name in service.secrets.values():
            if not paths.secret_file(name).is_file():
                missing.append(f"{service.name}: secret {name}")
        missing += [
            f"{service.name}: {f}" for f in service.env_files if not paths.host(f).is_file()
        ]
    # dashboards/ (Grafana's provisioning, the boards of each store) is what
    # `quantrac dashboards build` writes and the repository ships.
    assert missing == [], "mounted but not there"


def test_each_healthcheck_asks_for_what_its_service_serves() -> None:
    document = load(example_env())
    for name, service in services(document).items():
        assert service.healthcheck_test, f"{name} has no healthcheck"
        assert service.spec.get("restart") == "unless-stopped", name
    for name, service in quantrac_services(document).items():
        url = healthcheck_url(service.healthcheck_test)
        assert url is not None, name
        parts = urlsplit(url)
        served = served_address(service)
        assert served is not None, f"{name}: its command serves no /health"
        assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", served[1], "/health")
        # Inside the container the check comes from loopback; others on the stack's network
        # (Prometheus) scrape the same port.
        assert served[0] in ("0.0.0.0", "127.0.0.1"), name


def quantrac_command() -> TyperGroup:
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def test_the_commands_are_ones_quantrac_takes() -> None:
    group = quantrac_command()
    with typer.Context(group) as context:
        for name, service in quantrac_services(load(example_env())).items():
            subcommand = group.get_command(context, service.command[0])
            assert subcommand is not None, name
            # Parses the options as the container's quantrac would (an unknown one raises).
            subcommand.make_context(service.command[0], service.command[1:], parent=context)


def known_variables() -> set[str]:
    """What quantrac reads from the environment: its settings (and their _FILE) and the
    variables its commands' options take."""
    known = {f"QUANTRAC_{name.upper()}" for name in Settings.model_fields}
    group = quantrac_command()
    with typer.Context(group) as context:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None
            known |= {p.envvar for p in command.params if isinstance(p.envvar, str)}
    return known


def test_every_quantrac_variable_is_one_it_reads() -> None:
    known = known_variables()
    for name, service in quantrac_services(load(example_env())).items():
        unknown = {v for v in service.environment if v.startswith("QUANTRAC_")} - known
        assert unknown == set(), f"{name}: read by nothing"


def test_no_secret_is_in_the_compose_file_or_the_env_file() -> None:
    secretive = re.compile(r"PASSWORD|TOKEN|SECRET|_KEY\b")
    for name, service in services(load(example_env())).items():
        for variable, value in service.environment.items():
            if secretive.search(variable):
                assert variable.endswith("FILE"), f"{name}: {variable} should be a *_FILE"
                assert value.startswith("/run/secrets/"), (name, variable)
    for variable in example_env():
        assert not secretive.search(variable), f".env.example: {variable}"
    for secret in load_raw()["secrets"].values():
        assert secret["file"].startswith("./secrets/"), secret


def test_state_lives_on_named_volumes() -> None:
    document = load(example_env())
    for name, service in quantrac_services(document).items():
        data_dir = option(service.command, "--data-dir")
        named = {m.target for m in service.mounts if m.named}
        assert data_dir in named, f"{name}: --data-dir {data_dir} is not on a volume"
    stateful = {"mosquitto": "/mosquitto/data", "influxdb": "/var/lib/influxdb2",
                "victoriametrics": "/storage", "grafana": "/var/lib/grafana"}  # fmt: skip
    every = services(document)
    for name, path in stateful.items():
        assert path in {m.target for m in every[name].mounts if m.named}, name
    # The API lists and acknowledges the incidents alerting keeps: one volume for both.
    api, alerting = every["api"], every["alerting"]
    assert option(api.command, "--data-dir") == option(alerting.command, "--data-dir")
    assert {m.source for m in api.mounts if m.named} == {
        m.source for m in alerting.mounts if m.named
    }


def test_images_are_pinned() -> None:
    for variable, value in example_env().items():
        if variable.endswith("_IMAGE"):
            name, _, tag = value.rpartition(":")
            assert name, f"{variable}={value}: no tag"
            assert tag != "latest", f"{variable}={value}"
            assert re.search(r"\d", tag), f"{variable}={value}: not a version"


def test_collectors_share_the_stream_safely() -> None:
    """A fixed client id (a container's hostname changes when it is made again) and a clean
    session: a collector gone for good must hold no share of the stream (docs/deploy.md)."""
    for name, service in quantrac_services(load(example_env())).items():
        if "QUANTRAC_BROKER_URL" not in service.environment:
            continue  # the API: no MQTT
        assert option(service.command, "--client-id"), f"{name}: its id would be the hostname"
        if service.command[0] == "collector":
            assert "--clean-session" in service.command


def test_setup_makes_what_is_missing_and_keeps_what_is_there(tmp_path: Path) -> None:
    project = make_project(tmp_path / "quantrac")
    secrets = sorted(p for p in (project / "secrets").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in secrets}
    assert os.stat(project / "secrets").st_mode & 0o777 == 0o700
    if os.geteuid() == 0:  # as root each secret is given to its reader alone
        for path in secrets:
            assert path.stat().st_mode & 0o007 == 0, f"{path} readable by others"
    token = (project / "secrets" / "influxdb-admin-token").read_text().strip()
    url = (project / "secrets" / "store-url").read_text().strip()
    assert url == f"influxdb2://influxdb:8086?org=quantrac&bucket=quantrac&token={token}"
    assert len(token) >= 24
    again = subprocess.run(["sh", str(SETUP), str(project)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in secrets} == before
    assert "made" not in again.stderr
    other = subprocess.run(
        ["sh", str(SETUP), "--store", "victoriametrics", str(project)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert other.returncode == 2
    assert "QUANTRAC_STORE=influxdb" in other.stderr


@pytest.fixture
def stub_influx(tmp_path: Path) -> Path:
    """An ``influx`` that records its arguments: what the image's CLI would be asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv"
    script = bin_dir / "influx"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    script.chmod(0o755)
    return record


def test_the_dbrp_script_maps_the_bucket_the_setup_made(stub_influx: Path) -> None:
    script = REPO / "deploy" / "influxdb" / "dbrp.sh"
    assert os.access(script, os.X_OK), "the image runs only executable init scripts"
    influxdb = load(example_env())["services"]["influxdb"]
    env = {
        "PATH": f"{stub_influx.parent / 'bin'}:/usr/bin:/bin",
        **{k: str(v) for k, v in influxdb["environment"].items()},
        "DOCKER_INFLUXDB_INIT_BUCKET_ID": "0a1b2c3d4e5f6789",  # exported by the entrypoint
    }
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert stub_influx.read_text().split() == [
        "v1", "dbrp", "create", "--org", "quantrac", "--bucket-id", "0a1b2c3d4e5f6789",
        "--db", "quantrac", "--rp", "autogen", "--default"]  # fmt: skip
    # The database name is the bucket's: what the store reads by default (docs/storage.md).
    mounted = [parse_mount(v) for v in influxdb["volumes"]]
    assert "/docker-entrypoint-initdb.d/dbrp.sh" in {m.target for m in mounted}
    del env["DOCKER_INFLUXDB_INIT_BUCKET_ID"]
    assert subprocess.run([str(script)], env=env, capture_output=True).returncode != 0


def test_grafana_gets_every_variable_its_provisioning_reads() -> None:
    """The provisioning `quantrac dashboards build` writes reads $NAMEs from Grafana's
    environment: each one is set by the compose file (INFLUXDB_TOKEN by the entrypoint, from
    its secret file), and the boards' folder is where the provider looks."""
    provisioning = REPO / "dashboards" / "provisioning"
    assert provisioning.is_dir(), "dashboards/provisioning: made by quantrac dashboards build"
    grafana = services(load(example_env()))["grafana"]
    provided = set(grafana.environment)
    entrypoint = " ".join(grafana.spec.get("entrypoint", []))
    provided |= set(re.findall(r"\b([A-Z][A-Z0-9_]*)=", entrypoint))
    for path in provisioning.rglob("*.yaml"):
        lines = path.read_text(encoding="utf-8").splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        wanted = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text))
        assert wanted <= provided, f"{path.name}: not set for Grafana: {wanted - provided}"
        for folder in re.findall(r"path: (\S+)", text):
            assert folder in {m.target for m in grafana.mounts}, f"{path.name}: {folder}"
