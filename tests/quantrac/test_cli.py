"""The commands a newcomer runs, as processes: the demo, the services apart, config check."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import EXAMPLE_SITE
from tests.servers import Mosquitto, VictoriaMetrics, free_port, require_binary

QUANTRAC = [sys.executable, "-m", "quantrac"]


def start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    if args[0] == "api":
        # As on a closed IOC network: reads without a key. The keys themselves are tested in
        # test_api_auth.py; the demo opens its reads itself (on the loopback address).
        env["QUANTRAC_API_OPEN_READS"] = "1"
    with log.open("wb") as out:
        return subprocess.Popen([*QUANTRAC, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


def stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGINT) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"{process.args!r} did not stop on {sig.name}") from None
    return process.returncode


def poll_json(url: str, accept: Any, timeout_s: float = 30.0, log: Path | None = None) -> Any:
    """GET ``url`` until ``accept(json)`` is true."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            last = response.json()
            if response.status_code == 200 and accept(last):
                return last
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        time.sleep(0.3)
    output = log.read_text() if log else ""
    raise AssertionError(f"{url} never answered as expected; last: {last!r}\n{output}")


def wait_for_text(log: Path, text: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in {log}:\n{log.read_text()}")
        time.sleep(0.2)


def kim_long_level(body: Any) -> bool:
    return any(r["param"] == "water_level" for r in body.get("readings", []))


def test_demo_serves_the_latest_kim_long_level_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    demo = start(
        "demo",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
        "--interval",
        "1",
        log=log,
    )
    try:
        body = poll_json(
            f"http://127.0.0.1:{port}/stations/kim_long/latest", kim_long_level, log=log
        )
        wait_for_text(log, "Kim Long (sông Hương)")  # the flood watch printed the gauge
        health = httpx.get(f"http://127.0.0.1:{port}/stations/kim_long/health").json()
        # The wastewater plant's TT10 data files, uploaded to the gateway's FTP endpoint.
        plant = poll_json(
            f"http://127.0.0.1:{port}/stations/xlnt_phu_bai/latest",
            lambda b: len(b["readings"]) == 6,
            log=log,
        )
    finally:
        code = stop(demo, signal.SIGINT)
    output = log.read_text()
    level = next(r for r in body["readings"] if r["param"] == "water_level")
    assert level["unit"] == "m"
    assert 0.5 <= level["value"] <= 4.0
    assert body["flood"]["bd2"] == 2.0
    assert {r["param"] for r in plant["readings"]} == {
        "ph",
        "cod",
        "tss",
        "n_nh4",
        "water_temp",
        "flow",
    }
    assert health["online"] is True
    assert health["gateway"]["polls"] >= 1
    assert health["gateway"]["consecutive_failures"] == 0
    assert code == 0, output
    assert f"http://127.0.0.1:{port}/stations/kim_long/latest" in output
    stored = re.search(r"stored (\d+) readings", output)
    assert stored is not None, output
    assert int(stored.group(1)) > 0, output
    # A fresh folder for the run (--keep-data carries on in data/ itself).
    (store,) = (tmp_path / "data").glob("demo-*/quantrac.sqlite3")
    assert f"data kept in {store}" in output.replace("\n", "")


def local_site(tmp_path: Path) -> Path:
    """The Huế example on free loopback ports, polled every second."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    for path in (site / "stations").glob("*.yaml"):
        document = yaml.safe_load(path.read_text())
        for station in document["stations"]:
            if "connection" not in station["source"]:
                continue  # a TT10 station: files, not polls
            station["source"]["connection"]["port"] = free_port()
            station["source"]["interval_s"] = 1
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return site


def test_gateway_collector_and_api_as_separate_processes_over_mosquitto(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    site = local_site(tmp_path)
    data = tmp_path / "data"
    port = free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "collector", "gateway", "api")}
    processes.append(start("simulate", str(site), log=logs["sim"]))
    processes.append(
        start(
            "collector",
            str(site),
            "--broker",
            mosquitto.url,
            "--data-dir",
            str(data),
            log=logs["collector"],
        )
    )
    processes.append(start("gateway", str(site), "--broker", mosquitto.url, log=logs["gateway"]))
    processes.append(
        start(
            "api",
            str(site),
            "--data-dir",
            str(data),
            "--init",
            "--port",
            str(port),
            log=logs["api"],
        )
    )
    body = poll_json(
        f"http://127.0.0.1:{port}/stations/kim_long/latest", kim_long_level, log=logs["collector"]
    )
    air = poll_json(
        f"http://127.0.0.1:{port}/stations/hue_air/latest",
        lambda b: len(b["readings"]) >= 7,
        log=logs["gateway"],
    )
    assert {r["param"] for r in air["readings"]} == {
        "pm25",
        "pm10",
        "no2",
        "so2",
        "co",
        "o3",
        "station_online",
    }
    assert body["station"]["name"] == "Kim Long"
    for process in reversed(processes):
        assert stop(process, signal.SIGTERM) == 0, process.args


def test_collector_and_api_on_victoria_metrics_with_store(
    tmp_path: Path,
    mosquitto: Mosquitto,
    victoria_metrics: VictoriaMetrics,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    """--store: the collector writes through its durable queue, the API reads it back."""
    site = local_site(tmp_path)
    data = tmp_path / "data"
    port = free_port()
    store = victoria_metrics.store_url
    logs = {name: tmp_path / f"{name}.log" for name in ("sim", "collector", "gateway", "api")}
    processes.append(start("simulate", str(site), log=logs["sim"]))
    collector = ["collector", str(site), "--broker", mosquitto.url, "--data-dir", str(data)]
    processes.append(start(*collector, "--store", store, log=logs["collector"]))
    processes.append(start("gateway", str(site), "--broker", mosquitto.url, log=logs["gateway"]))
    processes.append(
        start("api", str(site), "--store", store, "--port", str(port), log=logs["api"])
    )
    body = poll_json(
        f"http://127.0.0.1:{port}/stations/kim_long/latest", kim_long_level, log=logs["collector"]
    )
    assert body["station"]["name"] == "Kim Long"
    assert (data / "forward-queue.sqlite3").exists()  # the queue in front of the remote store
    for process in reversed(processes):
        assert stop(process, signal.SIGTERM) == 0, process.args


def test_a_bad_store_url_is_refused_with_its_reason() -> None:
    result = subprocess.run(
        [*QUANTRAC, "api", "--store", "mongodb://x/y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--store mongodb://x/y" in result.stdout + result.stderr


def test_config_check_reports_every_mistake_at_once(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    hydro = site / "stations" / "hydro.yaml"
    document = yaml.safe_load(hydro.read_text())
    document["stations"][0]["source"]["unit"] = 300
    document["stations"][1]["flood_levels"]["bd1"] = 9.0
    hydro.write_text(yaml.safe_dump(document, allow_unicode=True))
    air = site / "stations" / "air.yaml"
    air.write_text(air.read_text().replace("air_quality_analyser", "air_quality_analyzer"))

    result = subprocess.run(
        [*QUANTRAC, "config", "check", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )
    assert result.returncode == 1
    assert "3 problem(s)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if "✗" in line]
    assert len(lines) == 3, result.stderr
    assert any("hydro.yaml: station kim_long: source.unit:" in line for line in lines)
    assert any("hydro.yaml: station phu_oc: flood_levels:" in line for line in lines)
    assert any(
        "air.yaml: station hue_air: source.profile: no profile 'air_quality_analyzer'" in line
        for line in lines
    )


def test_config_check_of_the_example_site_passes() -> None:
    result = subprocess.run(
        [*QUANTRAC, "config", "check", str(EXAMPLE_SITE)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "7 station(s), all valid" in result.stdout
    stations = ("kim_long", "phu_oc", "hue_air", "van_nien", "nam_dong", "hue_weather")
    for station in (*stations, "xlnt_phu_bai"):
        assert station in result.stdout


def test_an_mqtt_station_through_quantrac_gateway_reaches_the_store(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    site = tmp_path / "site"
    (site / "stations").mkdir(parents=True)
    (site / "site.yaml").write_text('name: "MQTT test"\ngateway_id: gw-mqtt\n')
    (site / "stations" / "air.yaml").write_text(
        "stations:\n"
        "  - id: hue_node_1\n"
        '    name: "Nút không khí Vĩ Dạ"\n'
        "    kind: air\n"
        '    district: "Thuận Hóa"\n'
        "    source: {driver: mqtt, profile: aqi_sensor_mqtt_json, device_id: AQ-00123}\n"
    )
    data = tmp_path / "data"
    port = free_port()
    logs = {name: tmp_path / f"{name}.log" for name in ("collector", "gateway", "api")}
    processes.append(
        start(
            "collector",
            str(site),
            "--broker",
            mosquitto.url,
            "--data-dir",
            str(data),
            log=logs["collector"],
        )
    )
    processes.append(
        start(
            "gateway",
            str(site),
            "--broker",
            mosquitto.url,
            "--data-dir",
            str(data / "gw"),
            log=logs["gateway"],
        )
    )
    processes.append(
        start(
            "api",
            str(site),
            "--data-dir",
            str(data),
            "--init",
            "--port",
            str(port),
            log=logs["api"],
        )
    )
    payload = '{"ts": "2026-11-22T16:40:00", "PM2,5": 35.2, "PM10": 51, "CO": 1.2, "status": "00"}'
    publisher = require_binary("mosquitto_pub", "mosquitto-clients")
    deadline = time.monotonic() + 30
    body: Any = None
    while time.monotonic() < deadline:
        # Published until it shows: the gateway may not have subscribed yet.
        subprocess.run(
            [
                publisher,
                "-p",
                str(mosquitto.port),
                "-q",
                "1",
                "-t",
                "stations/AQ-00123/data",
                "-m",
                payload,
            ],
            check=True,
        )
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/stations/hue_node_1/latest").json()
        except httpx.HTTPError:
            body = None
        if body and len(body.get("readings", [])) == 3:
            break
        time.sleep(0.5)
    assert body is not None, logs["gateway"].read_text()
    values = {r["param"]: (r["value"], r["unit"], r["ts"]) for r in body["readings"]}
    # The device's local time (UTC+7) kept, CO converted from mg/m³.
    assert values == {
        "pm25": (35.2, "µg/m³", "2026-11-22T09:40:00Z"),
        "pm10": (51.0, "µg/m³", "2026-11-22T09:40:00Z"),
        "co": (1200.0, "µg/m³", "2026-11-22T09:40:00Z"),
    }, logs["gateway"].read_text()
    for process in reversed(processes):
        assert stop(process, signal.SIGTERM) == 0, process.args


def test_quantrac_alerting_sends_a_signed_webhook_over_mosquitto(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    """The service as its own process: a clean batch on the broker → the IOC's webhook."""
    import asyncio

    from gateway.bus.mqtt import MqttBus, MqttSettings
    from gateway.model import Quality, Reading, ReadingBatch
    from gateway.wire import clean_topic, encode_batch
    from tests.alerting.receivers import HttpReceiver, Reply

    site = tmp_path / "site"
    shutil.copytree(EXAMPLE_SITE, site)
    rules = yaml.safe_load((site / "rules.yaml").read_text(encoding="utf-8"))
    flood = [r for r in rules if r["id"] == "flood_levels"]
    flood[0]["pending"] = 0  # one reading above BĐ II is enough here
    (site / "rules.yaml").write_text(yaml.safe_dump(flood, allow_unicode=True), encoding="utf-8")
    receiver = HttpReceiver().start()
    receiver.script("/ioc", Reply(200, json={"ok": True}))
    alerting = {
        "notifiers": {"webhook": {"url": f"{receiver.url}/ioc", "secret_env": "IOC_SECRET"}},
        "routing": {"endpoints": {"ioc": "webhook"}, "routes": [{"to": ["ioc"]}],
                    "group_wait_s": 0},
    }  # fmt: skip
    (site / "alerting.yaml").write_text(yaml.safe_dump(alerting), encoding="utf-8")
    log = tmp_path / "alerting.log"
    os.environ["IOC_SECRET"] = "bí mật"
    try:
        processes.append(
            start("alerting", str(site), "--broker", mosquitto.url,
                  "--data-dir", str(tmp_path / "data"), log=log)
        )  # fmt: skip
        wait_for_text(log, "alerting:")

        async def publish() -> None:
            bus = MqttBus(MqttSettings.from_url(mosquitto.url, client_id="collector-test"))
            now = datetime.now(UTC)
            level = Reading("kim_long", "water_level", 2.25, "m", now, quality=Quality.GOOD)
            async with bus:
                await bus.publish(
                    clean_topic("kim_long"),
                    encode_batch(ReadingBatch("collector", 1, "kim_long", (level,))),
                )
                await asyncio.sleep(0.5)

        deadline = time.monotonic() + 20
        while not receiver.to("/ioc") and time.monotonic() < deadline:
            asyncio.run(publish())
            time.sleep(1)
        (request,) = receiver.to("/ioc")[:1]
        body = request.json()
        assert (body["state"], body["level"]) == ("firing", 2)
        assert body["title"] == "[BÁO ĐỘNG II] Sông Hương tại Kim Long"
        assert stop(processes[-1], signal.SIGTERM) == 0
    finally:
        os.environ.pop("IOC_SECRET", None)
        receiver.stop()
