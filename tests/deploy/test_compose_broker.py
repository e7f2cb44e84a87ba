"""The compose stack's Mosquitto: the shipped policy and ACL, at the paths the compose file
mounts, with the TLS listener as the only difference between its two configurations."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.compose import ENV_EXAMPLE, REPO, load, parse_env_file, services

MOSQUITTO = REPO / "deploy" / "mosquitto"
PATH_DIRECTIVES = ("password_file", "acl_file", "persistence_location", "cafile", "certfile",
                   "keyfile")  # fmt: skip
TLS_DIRECTIVES = {"cafile", "certfile", "keyfile", "tls_version", "require_certificate"}


def directives(path: Path) -> list[tuple[str, str]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found.append((name, value.strip()))
    return found


def test_the_tls_configuration_is_the_plain_one_plus_its_listener() -> None:
    plain = directives(MOSQUITTO / "compose.conf")
    tls = directives(MOSQUITTO / "compose-tls.conf")
    extra = [d for d in tls if d not in plain]
    assert [d for d in plain if d not in tls] == []
    assert extra[0] == ("listener", "8883")
    assert {name for name, _ in extra[1:]} <= TLS_DIRECTIVES


def test_the_compose_broker_keeps_the_shipped_policy() -> None:
    """Who may connect and what is queued: as deploy/mosquitto/mosquitto.conf (Debian paths)."""
    policy = ("per_listener_settings", "allow_anonymous", "persistence", "max_queued_messages",
              "max_inflight_messages")  # fmt: skip
    shipped = dict(directives(MOSQUITTO / "mosquitto.conf"))
    compose = dict(directives(MOSQUITTO / "compose.conf"))
    assert {k: compose[k] for k in policy} == {k: shipped[k] for k in policy}


def test_every_file_the_broker_reads_is_mounted_and_its_data_on_a_volume() -> None:
    env = parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for config in ("compose.conf", "compose-tls.conf"):
        mosquitto = services(load({**env, "MOSQUITTO_CONFIG": config}))["mosquitto"]
        targets = {m.target: m for m in mosquitto.mounts}
        assert targets["/mosquitto/config/mosquitto.conf"].source.endswith(config)
        for name, value in directives(MOSQUITTO / config):
            if name not in PATH_DIRECTIVES:
                continue
            holders = [m for t, m in targets.items() if value == t or value.startswith(t + "/")
                       or value.rstrip("/") == t]  # fmt: skip
            assert holders, f"{config}: {name} {value} is not mounted"
            if name == "persistence_location":
                assert holders[0].named, "the broker's queue must survive a new container"
            else:
                assert holders[0].read_only, f"{name}: the broker only reads it"


def test_the_acl_knows_the_stack_s_accounts() -> None:
    env = parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))
    acl = (REPO / env["MOSQUITTO_ACL"]).read_text(encoding="utf-8")
    users = set(re.findall(r"^user (\S+)", acl, re.MULTILINE))
    document = load(env)
    for name, service in services(document).items():
        account = service.environment.get("QUANTRAC_MQTT_USERNAME")
        if account is not None:
            assert account in users, f"{name}: account {account} has no block in the ACL"
    assert env["GATEWAY_ID"] in users
