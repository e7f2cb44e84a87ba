"""The compose stack's quantrac services run natively: a reading from a simulated station
reaches the API, and a flood warning reaches the IOC's webhook.

Docker cannot run here, so each service of docker-compose.yml runs as a process with the
command, environment, env files, secrets and mounted files the compose file gives it (its
container paths mapped to folders here: tests/deploy/native.py), against a real Mosquitto
started from the stack's own broker configuration and the shipped ACL and accounts that
deploy/compose/setup.sh made, and a real InfluxDB. Its healthchecks are run as Docker would
run them. What differs from the stack, and why:

- InfluxDB is Debian's 1.6 (no InfluxDB 2 package): the store URL in secrets/store-url is
  rewritten to its v1 form (``influxdb://``). The v2 mode is covered by the store's own tests.
- The site is the Huế example on free loopback ports, polled every second, with Kim Long's BĐ I
  lowered to 0.70 m so the simulated flood crosses it within seconds, and the IOC webhook
  pointed at a receiver here (the site is the operator's, QUANTRAC_SITE_DIR).
- The stations are `quantrac simulate`; the broker's TLS listener is not started (no
  certificates; TLS is tested in tests/test_broker_acl.py).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from alerting.notifiers.webhook import verify_signature
from tests.alerting.receivers import HttpReceiver, Reply
from tests.conftest import EXAMPLE_SITE
from tests.deploy.compose import REPO, HostPaths, load, parse_env_file, services
from tests.deploy.native import QUANTRAC, NativeService, broker_config, image_environment
from tests.deploy.native import native_service as make_native
from tests.deploy.test_compose_file import make_project
from tests.servers import Influxd, free_port, require_binary, wait_for_port

pytestmark = pytest.mark.timeout(180)

IOC_SECRET = "ioc-bí-mật-7d1"
ORDER = ("collector", "alerting", "api", "gateway")  # as depends_on and a cold start go


def flood_site(root: Path, webhook: str) -> Path:
    """The Huế example on loopback, fast, with a flood at Kim Long within seconds."""
    site = root / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    for path in (site / "stations").glob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for station in document["stations"]:
            source = station["source"]
            if "connection" in source:
                source["connection"]["port"] = free_port()
                source["interval_s"] = 1
            if station["id"] == "kim_long":
                station["flood_levels"]["bd1"] = 0.70
                # A second-by-second flood rises faster than a real river may (QC's rate check).
                station["qc"] = {"water_level": {"max_rate_per_min": None}}
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    rules = yaml.safe_load((site / "rules.yaml").read_text(encoding="utf-8"))
    for rule in rules:
        if rule["id"] == "flood_levels":
            rule["pending"] = 0
    (site / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    alerting = {
        "notifiers": {
            "console": {},
            "webhook": {"url": webhook, "secret_env": "QUANTRAC_IOC_SECRET", "name": "IOC"},
        },
        "routing": {"endpoints": {"ioc": "webhook", "console": "console"},
                    "routes": [{"to": ["ioc", "console"]}], "group_wait_s": 0},
    }  # fmt: skip
    (site / "alerting.yaml").write_text(yaml.safe_dump(alerting), encoding="utf-8")
    return site


def set_env_line(env_file: Path, name: str, value: str) -> None:
    lines = [
        f"{name}={value}" if line.startswith(f"{name}=") else line
        for line in env_file.read_text(encoding="utf-8").splitlines()
    ]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    server.script("/ioc", Reply(200, json={"ok": True}))
    yield server
    server.stop()


def flood_warnings(receiver: HttpReceiver) -> list[dict[str, Any]]:
    found = []
    for request in receiver.to("/ioc"):
        body = request.json()
        assert verify_signature(  # the secret from secrets/alerting.env
            IOC_SECRET, request.headers["x-quantrac-timestamp"], request.body,
            request.headers["x-quantrac-signature"], now=time.time(),
        )  # fmt: skip
        if body["state"] == "firing" and "flood_levels:kim_long" in body["incidents"]:
            found.append(body)
    return found


def test_the_stack_s_services_carry_a_reading_to_the_api_and_a_flood_to_the_ioc(
    tmp_path: Path, receiver: HttpReceiver
) -> None:
    project = make_project(tmp_path / "quantrac", "influxdb")
    site = flood_site(tmp_path, f"{receiver.url}/ioc")
    set_env_line(project / ".env", "QUANTRAC_SITE_DIR", str(site))
    with (project / "secrets" / "alerting.env").open("a", encoding="utf-8") as out:
        out.write(f"QUANTRAC_IOC_SECRET={IOC_SECRET}\n")
    env = parse_env_file((project / ".env").read_text(encoding="utf-8"))
    document = load(env)
    every = services(document)
    paths = HostPaths(project, tmp_path / "volumes", document)
    logs = tmp_path / "logs"
    logs.mkdir()

    broker_port = free_port()
    broker_conf = tmp_path / "mosquitto.conf"
    broker_conf.write_text(
        broker_config(every["mosquitto"], paths, broker_port, logs / "mosquitto.log")
    )
    influxd = Influxd(tmp_path / "influxd")
    influxd.directory.mkdir()
    # No InfluxDB 2 here: the collector and the API get Debian's 1.6 in v1 mode.
    (project / "secrets" / "store-url").write_text(influxd.store_url + "\n")
    started: list[NativeService] = []
    broker = subprocess.Popen(
        [require_binary("mosquitto", "mosquitto"), "-c", str(broker_conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    simulator: subprocess.Popen[bytes] | None = None
    try:
        wait_for_port(broker_port)
        influxd.start()
        hosts = {"mosquitto:1883": f"127.0.0.1:{broker_port}"}
        image_env = image_environment(REPO / "Dockerfile")
        natives = {
            name: make_native(every[name], paths, hosts=hosts, image_env=image_env,
                              log=logs / f"{name}.log")
            for name in ORDER
        }  # fmt: skip
        for name in ORDER:
            started.append(natives[name].start())
        for native in started:
            native.wait_healthy(60)
        with (logs / "simulate.log").open("wb") as out:
            simulator = subprocess.Popen(
                [*QUANTRAC, "simulate", str(site)], stdout=out, stderr=subprocess.STDOUT
            )

        # An operator's key, made as `docker compose exec api quantrac keys create` would.
        api = natives["api"]
        made = subprocess.run(
            [*QUANTRAC, "keys", "create", "--role", "viewer", "--name", "kiểm thử"],
            env=api.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().splitlines()[-1]
        api_url = f"http://127.0.0.1:{api.ports[8000]}"
        deadline = time.monotonic() + 60
        latest: Any = None
        while time.monotonic() < deadline:
            answer = httpx.get(f"{api_url}/stations/kim_long/latest",
                               headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
            latest = answer.json()
            if answer.status_code == 200 and any(
                r["param"] == "water_level" for r in latest.get("readings", [])
            ):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"no Kim Long level from the API: {latest}\n"
                                 f"{natives['collector'].tail()}")  # fmt: skip
        while not flood_warnings(receiver) and time.monotonic() < deadline + 30:
            time.sleep(0.5)
        warnings = flood_warnings(receiver)
        assert warnings, f"no flood warning reached the IOC:\n{natives['alerting'].tail()}"
        assert warnings[0]["level"] >= 1
        assert "Kim Long" in warnings[0]["text"]
        assert influxd.count() > 0
        gateway_health = httpx.get(
            f"http://127.0.0.1:{natives['gateway'].ports[9101]}/health", timeout=10
        ).json()
        # Receipts came back through the ACL: the outbox lets go of what was stored.
        assert gateway_health["outbox"]["acknowledged"] > 0, gateway_health["outbox"]
        for native in started:
            assert native.healthy(), native.name
        for native in reversed(started):
            assert native.stop() == 0, f"{native.name}:\n{native.tail()}"
    finally:
        if simulator is not None:
            simulator.send_signal(signal.SIGTERM)
            simulator.wait(20)
        for native in started:
            if native.process is not None:
                native.process.kill()
                native.process.wait()
        broker.terminate()
        broker.wait(10)
        influxd.stop()


def test_the_victoriametrics_profile_runs_its_command(tmp_path: Path) -> None:
    """The store of the other profile, with the flags the compose file gives it (retention,
    deduplication): they are ones this VictoriaMetrics takes, and its healthcheck passes."""
    env = parse_env_file((REPO / ".env.example").read_text(encoding="utf-8"))
    document = load(env)
    service = services(document)["victoriametrics"]
    paths = HostPaths(REPO, tmp_path / "volumes", document)
    port = free_port()
    argv = []
    for part in service.command:
        flag, _, value = part.partition("=")
        if flag == "-httpListenAddr":
            part = f"{flag}=127.0.0.1:{port}"
        elif value.startswith("/"):
            part = f"{flag}={paths.map(service, value)}"
        argv.append(part)
    assert "-dedup.minScrapeInterval=1ms" in argv
    native = NativeService(
        "victoriametrics",
        [require_binary("victoria-metrics", "victoria-metrics"), *argv],
        {"PATH": "/usr/bin:/bin"},
        [p.replace("127.0.0.1:8428", f"127.0.0.1:{port}") for p in service.healthcheck_test[1:]],
        tmp_path / "victoria-metrics.log",
    ).start()
    try:
        native.wait_healthy(30)
        flags = httpx.get(f"http://127.0.0.1:{port}/flags", timeout=10).text
        assert '-dedup.minScrapeInterval="1ms"' in flags  # what it runs with, as it says
        assert '-retentionPeriod="10y"' in flags
    finally:
        native.stop()
