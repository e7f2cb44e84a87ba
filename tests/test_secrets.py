"""No secret in a log line, a health body, an error or a process's arguments (issue 13).

The gateway, collector and alerting run as processes with a secret in every place each can
take one: a password in the ``--broker`` URL, ``QUANTRAC_MQTT_PASSWORD`` and its ``_FILE``,
a store URL with a token from ``QUANTRAC_STORE_URL_FILE``, the broker URL from
``QUANTRAC_BROKER_URL_FILE``, the notifiers' secrets from their variables and ``_FILE``s.
Every line they write, every ``/health`` and ``/metrics`` body and the errors of bad settings
are searched for each secret, as written and URL-quoted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.quantrac.test_cli import QUANTRAC, local_site, stop
from tests.servers import Mosquitto, free_port

SECRETS = {
    "gateway_password": "gw-mật-khẩu 7f3a@/",  # in the --broker URL on the command line
    "collector_password": "col-pw-19d2e",  # QUANTRAC_MQTT_PASSWORD_FILE
    "alerting_password": "alert-pw-55c1",  # QUANTRAC_MQTT_PASSWORD
    "store_token": "influx-token-8b0c41",  # in the store URL, from QUANTRAC_STORE_URL_FILE
    "store_password": "influx-pw-3e7d",
    "ioc_secret": "ioc-hmac-6a2f90",  # QUANTRAC_IOC_SECRET_FILE
    "esms_api_key": "esms-key-0d4b7c",  # QUANTRAC_ESMS_API_KEY
    "esms_secret_key": "esms-secret-91ae",  # QUANTRAC_ESMS_SECRET_KEY_FILE
    "smtp_password": "smtp-pw-4f8e2a",  # QUANTRAC_SMTP_PASSWORD
}


def forms(secret: str) -> set[str]:
    """The secret as written and as it would look inside a URL or a JSON string."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        secret.encode("unicode_escape").decode(),
    }


def leaks(text: str) -> list[str]:
    return sorted(name for name, secret in SECRETS.items() if forms(secret) & _found(text))


def _found(text: str) -> set[str]:
    return {form for secret in SECRETS.values() for form in forms(secret) if form in text}


def secret_file(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value + "\n")  # as an editor saves it: the newline is not the secret's
    path.chmod(0o600)
    return path


@pytest.fixture
def services() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):
        if process.poll() is None:
            process.kill()
            process.wait()


def launch(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRAC_")}
    full = {**base, "COLUMNS": "200", "PYTHONUNBUFFERED": "1", **env}
    with log.open("wb") as out:
        return subprocess.Popen([*QUANTRAC, *args], stdout=out, stderr=subprocess.STDOUT, env=full)


def health_of(port: int, what: str, log: Path, timeout_s: float = 60.0) -> dict[str, object]:
    """The health body once the bus is connected (the service is up on the broker)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            last = response.text
            body = response.json()
            if body.get("bus", {}).get("connected"):
                return dict(body)
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} never connected: {last!r}\n{log.read_text()[-3000:]}")


def test_no_secret_in_logs_health_errors_or_arguments(
    tmp_path: Path, services: list[subprocess.Popen[bytes]]
) -> None:
    accounts = {
        "gw-hue-1": SECRETS["gateway_password"],
        "collector": SECRETS["collector_password"],
        "alerting": SECRETS["alerting_password"],
    }
    broker_dir = tmp_path / "mosquitto"
    broker_dir.mkdir()
    broker = Mosquitto.shipped(broker_dir, accounts)
    broker.start()
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    try:
        site = local_site(tmp_path)
        data = tmp_path / "data"
        logs = {name: tmp_path / f"{name}.log" for name in ("sim", "gateway", "collector",
                                                             "alerting")}  # fmt: skip
        ports = {name: free_port() for name in ("gateway", "collector", "alerting")}
        plain = f"mqtt://127.0.0.1:{broker.port}"
        # Nothing listens there: the store is down, so its errors are in the logs and health.
        store = (
            f"influxdb2://quantrac:{SECRETS['store_password']}@127.0.0.1:{free_port()}"
            f"?org=hue&bucket=quantrac&token={SECRETS['store_token']}"
        )
        services.append(launch(["simulate", str(site)], {}, logs["sim"]))
        services.append(
            launch(
                ["gateway", str(site), "--broker", broker.url_for("gw-hue-1"),
                 "--data-dir", str(data / "gateway"), "--health", f"127.0.0.1:{ports['gateway']}"],
                {}, logs["gateway"],
            )
        )  # fmt: skip
        collector_env = {
            "QUANTRAC_BROKER_URL": plain,
            "QUANTRAC_MQTT_USERNAME": "collector",
            "QUANTRAC_MQTT_PASSWORD_FILE": str(
                secret_file(secrets_dir, "mqtt", SECRETS["collector_password"])
            ),
            "QUANTRAC_STORE_URL_FILE": str(secret_file(secrets_dir, "store", store)),
        }
        services.append(
            launch(
                ["collector", str(site), "--data-dir", str(data / "collector"),
                 "--health", f"127.0.0.1:{ports['collector']}", "-v"],
                collector_env, logs["collector"],
            )
        )  # fmt: skip
        alerting_env = {
            "QUANTRAC_BROKER_URL_FILE": str(
                secret_file(secrets_dir, "broker", f"mqtt://alerting@127.0.0.1:{broker.port}")
            ),
            "QUANTRAC_MQTT_PASSWORD": SECRETS["alerting_password"],
            "QUANTRAC_IOC_SECRET_FILE": str(secret_file(secrets_dir, "ioc", SECRETS["ioc_secret"])),
            "QUANTRAC_ESMS_API_KEY": SECRETS["esms_api_key"],
            "QUANTRAC_ESMS_SECRET_KEY_FILE": str(
                secret_file(secrets_dir, "esms", SECRETS["esms_secret_key"])
            ),
            "QUANTRAC_SMTP_PASSWORD": SECRETS["smtp_password"],
        }
        services.append(
            launch(
                ["alerting", str(site), "--data-dir", str(data / "alerting"),
                 "--health", f"127.0.0.1:{ports['alerting']}", "-v"],
                alerting_env, logs["alerting"],
            )
        )  # fmt: skip
        bodies: list[str] = []
        for name, port in ports.items():
            health_of(port, name, logs[name])
        # Readings flow through the gateway to the collector, whose store is down.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = httpx.get(f"http://127.0.0.1:{ports['collector']}/health").json()
            if body.get("readings", 0) > 0 and body.get("status") != "ok":
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"collector: no readings, or the store not down: {body}")
        # The shipped ACL lets the real services work: receipts reach the gateway, clean
        # batches reach alerting.
        for name, keys in (("gateway", ("outbox", "acknowledged")), ("alerting", ("batches",))):
            deadline = time.monotonic() + 30
            while True:
                value: Any = httpx.get(f"http://127.0.0.1:{ports[name]}/health").json()
                for key in keys:
                    value = value[key]
                if value > 0:
                    break
                assert time.monotonic() < deadline, (name, keys)
                time.sleep(0.5)
        for port in ports.values():
            for path in ("/health", "/metrics"):
                bodies.append(httpx.get(f"http://127.0.0.1:{port}{path}").text)
        # What `ps` shows: the collector's and alerting's arguments hold no secret at all.
        for process in services[2:]:
            arguments = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
            assert leaks(arguments) == [], arguments
        for process in reversed(services):
            assert process.poll() is None, process.args
            assert stop(process, signal.SIGTERM) == 0, process.args
        # Each service says where it connects, without the password.
        gateway_log = logs["gateway"].read_text()
        assert f"gw-hue-1:***@127.0.0.1:{broker.port}" in gateway_log, gateway_log[-2000:]
        collector_log = logs["collector"].read_text()
        assert "token=***" in collector_log, collector_log[-2000:]
        texts = {name: log.read_text() for name, log in logs.items()}
        texts.update({f"body {i}": body for i, body in enumerate(bodies)})

        # Errors: a bad broker URL, a wrong password, a secret file that cannot be read.
        errors = tmp_path / "errors"
        errors.mkdir()
        bad_url = f"ftp://gw-hue-1:{urllib.parse.quote(SECRETS['gateway_password'])}@h:21"
        wrong = (
            f"mqtt://gw-hue-1:{urllib.parse.quote(SECRETS['esms_api_key'])}@127.0.0.1:{broker.port}"
        )
        runs = {
            "bad scheme": (["gateway", str(site), "--broker", bad_url,
                            "--data-dir", str(errors / "a")], {}),
            "missing file": (["collector", str(site), "--data-dir", str(errors / "b")],
                             {"QUANTRAC_MQTT_PASSWORD_FILE": str(secrets_dir / "nothing")}),
            "bad store URL": (["collector", str(site), "--data-dir", str(errors / "e"),
                               "--broker", plain],
                              {"QUANTRAC_STORE_URL": store.replace("bucket=quantrac&", "")}),
        }  # fmt: skip
        for name, (args, env) in runs.items():
            log = errors / f"{name}.log"
            process = launch(args, env, log)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            texts[name] = log.read_text()
            assert process.returncode != 0, (name, texts[name])
        assert "cannot read the secret file" in texts["missing file"], texts["missing file"]
        assert "lacks bucket" in texts["bad store URL"], texts["bad store URL"]
        assert "mqtt:// or mqtts://, not ftp:" in texts["bad scheme"], texts["bad scheme"]
        assert "Traceback" not in texts["bad scheme"], texts["bad scheme"]
        # The API on the same store, down: its health and a query say so, without the token.
        api_port = free_port()
        api_log = errors / "api.log"
        api = launch(
            ["api", str(site), "--data-dir", str(errors / "c"), "--init", "--port", str(api_port)],
            {"QUANTRAC_STORE_URL_FILE": str(secrets_dir / "store"), "QUANTRAC_API_OPEN_READS": "1"},
            api_log,
        )
        services.append(api)
        api_bodies = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=10)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(f"the API never answered:\n{api_log.read_text()[-2000:]}")
        assert health.status_code == 503, health.text
        api_bodies.append(health.text)
        for path in ("/stations/kim_long/latest", "/stations/kim_long/readings?param=water_level"):
            api_bodies.append(httpx.get(f"http://127.0.0.1:{api_port}{path}", timeout=30).text)
        stop(api, signal.SIGTERM)
        texts["api"] = api_log.read_text() + "\n".join(api_bodies)
        wrong_log = errors / "wrong.log"
        refused = launch(["gateway", str(site), "--broker", wrong, "--data-dir",
                          str(errors / "d")], {}, wrong_log)  # fmt: skip
        services.append(refused)
        deadline = time.monotonic() + 30
        while "Not authorized" not in wrong_log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        stop(refused, signal.SIGTERM)
        texts["wrong password"] = wrong_log.read_text()
        assert "Not authorized" in texts["wrong password"], texts["wrong password"]
    finally:
        broker.stop()
    found = {name: leaks(text) for name, text in texts.items() if leaks(text)}
    assert found == {}, {name: texts[name][-3000:] for name in found}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://gw-hue-1:p%40ss@10.0.0.5:1883", "mqtt://gw-hue-1:***@10.0.0.5:1883"),
        ("mqtts://collector:x@broker:8883", "mqtts://collector:***@broker:8883"),
        ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"),
        ("influxdb://u:pw@h:8086/quantrac", "influxdb://u:***@h:8086/quantrac"),
        (
            "influxdb2://h:8086?org=o&bucket=b&token=t0k",
            "influxdb2://h:8086?org=o&bucket=b&token=***",
        ),
        ("data/quantrac.sqlite3", "data/quantrac.sqlite3"),
        ("mqtt://u:a/b@c@h:1883", "mqtt://u:***@h:1883"),  # unquoted "/" and "@" in it
        ("sqlite:///srv/data@2026/q.sqlite3", "sqlite:///srv/data@2026/q.sqlite3"),
        ("victoriametrics://h:8428?Token=x&a=1", "victoriametrics://h:8428?Token=***&a=1"),
    ],
)
def test_urls_in_log_lines_are_masked(url: str, shown: str) -> None:
    from quantrac.cli import redacted

    assert redacted(url) == shown


def test_secrets_come_from_files_and_the_variable_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quantrac.settings import SecretFileError, Settings

    for name in [k for k in os.environ if k.startswith("QUANTRAC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("QUANTRAC_MQTT_PASSWORD_FILE", str(secret_file(tmp_path, "pw", "từ tệp")))
    monkeypatch.setenv("QUANTRAC_STORE_URL_FILE", str(secret_file(tmp_path, "s", "influxdb://h")))
    monkeypatch.setenv("QUANTRAC_BROKER_URL_FILE", str(secret_file(tmp_path, "b", "mqtts://b")))
    settings = Settings(_env_file=None)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "từ tệp"
    assert (settings.store_url, settings.broker_url) == ("influxdb://h", "mqtts://b")
    monkeypatch.setenv("QUANTRAC_MQTT_PASSWORD", "từ biến")
    monkeypatch.setenv("QUANTRAC_BROKER_URL", "mqtt://a")
    settings = Settings(_env_file=None)
    assert settings.mqtt_password is not None
    assert settings.mqtt_password.get_secret_value() == "từ biến"
    assert settings.broker_url == "mqtt://a"
    monkeypatch.setenv("QUANTRAC_STORE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretFileError, match="missing: No such file"):
        Settings(_env_file=None)
