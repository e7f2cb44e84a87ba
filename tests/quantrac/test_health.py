"""Health of every service: the status convention, the metric names, the HTTP endpoint under
hostile requests, the services as processes on a real Mosquitto, the API on a real store."""

from __future__ import annotations

import asyncio
import math
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from quantrac.health import (
    Assessment,
    HealthEndpoint,
    assess,
    listen,
    parse_address,
    serve_health,
)
from quantrac.metrics import render_metrics
from tests.quantrac.test_cli import local_site, start, stop, wait_for_text
from tests.servers import Influxd, Mosquitto, VictoriaMetrics, free_port

# --- the status convention -------------------------------------------------------------------

BROKER_DOWN = {"bus": {"broker": "10.0.0.5:1883", "connected": False, "reconnects": 3}}


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ({}, Assessment("ok")),
        ({"bus": {"broker": "10.0.0.5:1883", "connected": True}}, Assessment("ok")),
        (BROKER_DOWN, Assessment("degraded", ("bus: broker 10.0.0.5:1883 disconnected",))),
        ({"streaming": {"MqttInput": {"connected": False}}},
         Assessment("degraded", ("streaming.MqttInput: disconnected",))),
        ({"outbox": {"degraded": "disk full: 12 batches in memory"}},
         Assessment("degraded", ("outbox: disk full: 12 batches in memory",))),
        ({"outbox": {"degraded": True, "last_error": "[Errno 28] No space left on device"}},
         Assessment("degraded",
                    ("outbox: degraded (last error: [Errno 28] No space left on device)",))),
        ({"outbox": {"write_failing": True, "last_error": "disk I/O error"}},
         Assessment("degraded", ("outbox: write failing (last error: disk I/O error)",))),
        ({"outbox": {"write_failing": False}}, Assessment("ok")),
        ({"store": {"status": "degraded", "reason": "forward backlog growing"}},
         Assessment("degraded", ("store: forward backlog growing",))),
        ({"store": {"backlog_points": 5000, "oldest_age_s": 75.4, "last_error": "refused"}},
         Assessment("degraded",
                    ("store: 5000 points waiting, the oldest for 75 s (last error: refused)",))),
        ({"store": {"backlog_points": 40, "oldest_age_s": 2.0, "last_error": "refused"}},
         Assessment("ok")),
        # A recovered station keeps its last error for the operator: not a reason by itself.
        ({"stations": {"kim_long": {"online": True, "last_error": "timeout"}}}, Assessment("ok")),
        ({"degraded": "", "a": {"degraded": None, "status": "ok"}}, Assessment("ok")),
        ({"store": {"down": "store unavailable: refused"}, **BROKER_DOWN},
         Assessment("down", ("store: store unavailable: refused",
                             "bus: broker 10.0.0.5:1883 disconnected"))),
        ({"a": {"b": {"c": {"status": "down"}}}}, Assessment("down", ("a.b.c: down",))),
    ],
)  # fmt: skip
def test_status_from_the_health_dict(health: dict[str, Any], expected: Assessment) -> None:
    assert assess(health) == expected


def test_down_is_503_and_degraded_still_200() -> None:
    assert Assessment("ok").http_status == 200
    assert Assessment("degraded", ("x",)).http_status == 200
    assert Assessment("down", ("x",)).http_status == 503


# --- metric names ----------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def types(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


GATEWAY = {
    "status": "degraded",
    "reasons": ["bus: broker 127.0.0.1:1883 disconnected"],
    "service": "gateway",
    "rejected": 2,
    "stations": {
        "kim_long": {"online": True, "polls": 12, "last_error": None,
                     "last_success": "2026-11-22T09:40:00+00:00"},
        "phu_oc": {"online": False, "polls": 7, "last_error": "timeout"},
    },
    "outbox": {"epoch": "e1", "backlog_batches": 4, "backlog_bytes": 900, "oldest_age_s": 1.5,
               "sent": 30, "dropped": 1, "dropped_by_station": {"phu_oc": 1}},
    "dead_letters": {"too_deep": 3, "bad_station": 1},
    "streaming": {"MqttInput": {"connected": True, "rejected": {"bad_json": 5}}},
    "bus": {"broker": "127.0.0.1:1883", "connected": False, "backlog": 0, "reconnects": 1},
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "labels", "value", "kind"),
    [
        ("quantrac_service_status", {"service": "gateway", "status": "degraded"}, 1, "gauge"),
        ("quantrac_service_status", {"service": "gateway", "status": "ok"}, 0, "gauge"),
        ("quantrac_gateway_rejected_total", {}, 2, "counter"),
        ("quantrac_stations_online", {"station": "phu_oc"}, 0, "gauge"),
        ("quantrac_stations_polls_total", {"station": "kim_long"}, 12, "counter"),
        ("quantrac_stations_last_success_timestamp_seconds", {"station": "kim_long"},
         1795340400.0, "gauge"),
        ("quantrac_outbox_backlog_batches", {}, 4, "gauge"),
        ("quantrac_outbox_backlog_bytes", {}, 900, "gauge"),
        ("quantrac_outbox_oldest_age_seconds", {}, 1.5, "gauge"),
        ("quantrac_outbox_sent_total", {}, 30, "counter"),
        ("quantrac_outbox_dropped_total", {}, 1, "counter"),
        ("quantrac_outbox_dropped_by_station_total", {"station": "phu_oc"}, 1, "counter"),
        ("quantrac_gateway_dead_letters_total", {"reason": "too_deep"}, 3, "counter"),
        ("quantrac_streaming_connected", {"driver": "MqttInput"}, 1, "gauge"),
        ("quantrac_streaming_rejected_total", {"driver": "MqttInput", "reason": "bad_json"}, 5,
         "counter"),
        ("quantrac_bus_connected", {}, 0, "gauge"),
        ("quantrac_bus_reconnects_total", {}, 1, "counter"),
    ],
)  # fmt: skip
def test_metric_names_labels_and_types(
    name: str, labels: dict[str, str], value: float, kind: str
) -> None:
    text = render_metrics("gateway", GATEWAY).decode()
    assert samples(text)[(name, tuple(sorted(labels.items())))] == value
    assert types(text)[name.removesuffix("_total")] == kind


def test_metrics_leave_out_what_is_not_a_number_and_survive_odd_values() -> None:
    text = render_metrics(
        "collector",
        {
            "status": "ok",
            "huge": 2**70,
            "beyond_a_float": 10**400,
            "ratio": math.nan,
            "naive_time": "2026-11-22T09:40:00",
            "note": "a string",
            "list": [1, 2],
            "none": None,
            "odd key/with spaces": 1,
            "stations": {'x" OR "1"="1': {"readings": 1}},
        },
    ).decode()
    found = samples(text)
    assert found[("quantrac_collector_huge_total", ())] == 2.0**70
    assert found[("quantrac_collector_beyond_a_float_total", ())] == math.inf
    assert math.isnan(found[("quantrac_collector_ratio_total", ())])
    assert found[("quantrac_collector_odd_key_with_spaces_total", ())] == 1
    assert found[("quantrac_stations_readings_total", (("station", 'x" OR "1"="1'),))] == 1
    assert not any("naive_time" in name or "note" in name or "list" in name for name, _ in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9101", ("127.0.0.1", 9101)),
        ("0.0.0.0:9101", ("0.0.0.0", 9101)),
        (":9101", ("0.0.0.0", 9101)),
        ("9101", ("127.0.0.1", 9101)),
        ("[::1]:9101", ("::1", 9101)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_health_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "127.0.0.1", "127.0.0.1:http", "host:70000", "host:-1"])
def test_health_address_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(text)


# --- the endpoint, in process, over real HTTP -------------------------------------------------


async def raw_request(port: int, data: bytes, *, read: bool = True) -> bytes:
    """Send bytes as they are; what comes back until the server closes (empty if reset)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10) if read else b""
    except ConnectionError:
        return b""
    finally:
        writer.close()


def endpoint_port(endpoint: HealthEndpoint | None, server_socket: socket.socket) -> int:
    assert endpoint is not None
    port: int = server_socket.getsockname()[1]
    return port


async def test_health_and_metrics_over_http() -> None:
    counters = {"batches": 0, "bus": {"broker": "127.0.0.1:1", "connected": True}}
    sock = listen("127.0.0.1:0")
    async with serve_health(sock, "collector", lambda: counters) as endpoint:
        port = endpoint_port(endpoint, sock)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            counters["batches"] = 7
            health = await http.get("/health")
            assert health.status_code == 200
            assert health.headers["content-type"] == "application/json"
            body = health.json()
            assert (body["service"], body["status"], body["reasons"]) == ("collector", "ok", [])
            assert body["batches"] == 7
            metrics = await http.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
            found = samples(metrics.text)
            assert found[("quantrac_collector_batches_total", ())] == 7
            assert found[("quantrac_health_endpoint_requests_total", ())] >= 1
            counters["bus"] = {"broker": "127.0.0.1:1", "connected": False}
            degraded = await http.get("/health")
            assert degraded.status_code == 200
            assert degraded.json()["reasons"] == ["bus: broker 127.0.0.1:1 disconnected"]
            head = await http.head("/health")
            assert (head.status_code, head.content) == (200, b"")


async def test_hostile_requests_are_answered_counted_and_survived() -> None:
    sock = listen("127.0.0.1:0")
    async with serve_health(sock, "gateway", lambda: {"rejected": 0}) as endpoint:
        assert endpoint is not None
        endpoint.read_timeout_s = 1.0
        endpoint.max_connections = 8
        port = endpoint_port(endpoint, sock)
        garbage = await raw_request(port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n")
        assert garbage.startswith(b"HTTP/1.1 400 ")
        huge = b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
        too_large = await raw_request(port, huge)
        assert too_large == b"" or too_large.startswith(b"HTTP/1.1 431 ")
        post = await raw_request(port, b"POST /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        assert post.startswith(b"HTTP/1.1 405 ")
        missing = await raw_request(port, b"GET /../../etc/passwd HTTP/1.1\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 404 ")
        utf8 = await raw_request(port, "GET /sức-khỏe HTTP/1.1\r\n\r\n".encode())
        assert utf8.startswith(b"HTTP/1.1 400 ")
        slow = await raw_request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never ends
        assert slow.startswith(b"HTTP/1.1 408 ")
        await raw_request(port, b"", read=False)  # connect and go: a port check
        # More clients at once than allowed: the extra ones are turned away at once.
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        turned_away = await raw_request(port, b"GET /health HTTP/1.1\r\n\r\n")
        assert turned_away.startswith(b"HTTP/1.1 503 ")
        for _, writer in idle:
            writer.close()
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient(timeout=10) as http:
            body = (await http.get(f"http://127.0.0.1:{port}/health")).json()
    assert body["status"] == "ok"
    stats = body["health_endpoint"]
    assert stats["bad_requests"] >= 5
    assert stats["refused"] >= 1
    assert stats["errors"] == 0


async def test_health_that_fails_or_hangs_is_down_with_503() -> None:
    release = threading.Event()
    calls = 0
    mode = "raise"

    def snapshot() -> Mapping[str, Any]:
        nonlocal calls
        calls += 1
        if mode == "raise":
            raise KeyError("outbox")
        release.wait(30)
        return {"ok": 1}

    sock = listen("127.0.0.1:0")
    async with serve_health(sock, "gateway", snapshot) as endpoint:
        assert endpoint is not None
        endpoint.timeout_s = 0.5
        url = f"http://127.0.0.1:{endpoint_port(endpoint, sock)}"
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            failed = await http.get("/health")
            assert failed.status_code == 503
            assert failed.json()["status"] == "down"
            assert failed.json()["reasons"] == ["health: KeyError: 'outbox'"]
            mode, calls = "hang", 0
            # Three scrapes of a stuck service: each answers in time, one thread is stuck.
            answers = await asyncio.gather(*(http.get(path) for path in ("/health",) * 2),
                                           http.get("/metrics"))  # fmt: skip
            assert [a.status_code for a in answers] == [503, 503, 200]
            assert answers[0].json()["reasons"] == ["health: not computed within 0.5 s"]
            assert samples(answers[2].text)[
                ("quantrac_service_status", (("service", "gateway"), ("status", "down")))
            ] == 1
            assert calls == 1
            release.set()
            await asyncio.sleep(0.2)
            recovered = await http.get("/health")
            assert (recovered.status_code, recovered.json()["ok"]) == (200, 1)


# --- the services as processes on Mosquitto ---------------------------------------------------


def get_until(
    url: str, accept: Callable[[httpx.Response], bool], timeout_s: float, what: str, log: Path
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            last = response.text
            if accept(response):
                return response
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what}: {url} never did; last {last!r}\n{log.read_text()[-3000:]}")


def hostile(port: int) -> None:
    """Garbage, a 1 MB header and a stalled request at a service's health port."""
    for data in (
        b"\x00\xff\xfe garbage \r\n\r\n",
        b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            try:
                sock.sendall(data)
                sock.recv(1024)
            except OSError:
                pass  # reset while still sending: the server gave up on it, as it should
    stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
    stalled.sendall(b"GET /health HTTP/1.1\r\n")
    stalled.close()


def test_gateway_collector_and_alerting_serve_health_and_report_the_broker_down(
    tmp_path: Path, mosquitto: Mosquitto, processes: list[subprocess.Popen[bytes]]
) -> None:
    site = local_site(tmp_path)
    (site / "alerting.yaml").unlink()  # the console only: no secrets needed
    data = tmp_path / "data"
    ports = {name: free_port() for name in ("gateway", "collector", "alerting")}
    logs = {name: tmp_path / f"{name}.log" for name in ("sim", *ports)}
    processes.append(start("simulate", str(site), log=logs["sim"]))
    for name, port in ports.items():
        processes.append(
            start(
                name, str(site), "--broker", mosquitto.url, "--data-dir", str(data / name),
                "--health", f"127.0.0.1:{port}", log=logs[name],
            )
        )  # fmt: skip
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def status(expected: str) -> Callable[[httpx.Response], bool]:
        return lambda r: r.status_code == 200 and r.json()["status"] == expected

    for name, url in urls.items():
        get_until(f"{url}/health", status("ok"), 30, f"{name} ok", logs[name])
    # Readings flow: the gateway polls the simulators, the collector stores and counts them.
    collector = get_until(
        f"{urls['collector']}/health", lambda r: r.json().get("readings", 0) > 0, 60,
        "collector stores readings", logs["collector"],
    ).json()  # fmt: skip
    assert collector["bus"]["connected"] is True
    assert collector["bus"]["broker"] == f"127.0.0.1:{mosquitto.port}"
    assert collector["queues"]["raw"]["capacity"] > 0
    gateway = httpx.get(f"{urls['gateway']}/health").json()
    assert gateway["service"] == "gateway"
    assert gateway["outbox"]["backlog_batches"] >= 0
    assert any(s["online"] for s in gateway["stations"].values())
    alerting = httpx.get(f"{urls['alerting']}/health").json()
    assert alerting["open_incidents"] >= 0

    metrics = {name: samples(httpx.get(f"{url}/metrics").text) for name, url in urls.items()}
    assert metrics["collector"][("quantrac_collector_readings_total", ())] > 0
    assert metrics["collector"][("quantrac_queues_depth", (("queue", "raw"),))] >= 0
    assert metrics["gateway"][("quantrac_stations_online", (("station", "kim_long"),))] == 1
    assert ("quantrac_outbox_backlog_batches", ()) in metrics["gateway"]
    assert ("quantrac_alerting_batches_total", ()) in metrics["alerting"]
    for found in metrics.values():
        assert found[("quantrac_bus_connected", ())] == 1
        assert ("quantrac_bus_reconnects_total", ()) in found

    for port in ports.values():
        hostile(port)
    mosquitto.stop()
    try:
        for name, url in urls.items():
            body = get_until(
                f"{url}/health", status("degraded"), 30, f"{name} degraded", logs[name]
            ).json()
            assert f"bus: broker 127.0.0.1:{mosquitto.port} disconnected" in body["reasons"]
            assert body["health_endpoint"]["bad_requests"] >= 2
            down = samples(httpx.get(f"{url}/metrics").text)
            assert down[("quantrac_bus_connected", ())] == 0
    finally:
        mosquitto.start()
    for name, url in urls.items():
        get_until(f"{url}/health", status("ok"), 60, f"{name} ok again", logs[name])
    for process in reversed(processes):
        assert process.poll() is None, process.args
        assert stop(process, signal.SIGTERM) == 0, process.args


@pytest.mark.parametrize(
    ("service", "by_environment"), [("collector", False), ("gateway", True), ("alerting", False)]
)
def test_a_taken_health_port_stops_the_service_at_its_start(
    tmp_path: Path, service: str, by_environment: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = local_site(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = tmp_path / f"{service}.log"
        args = [service, str(site), "--data-dir", str(tmp_path / "data")]
        if by_environment:
            monkeypatch.setenv(f"QUANTRAC_{service.upper()}_HEALTH", f"127.0.0.1:{port}")
        else:
            args += ["--health", f"127.0.0.1:{port}"]
        process = start(*args, log=log)
        assert process.wait(30) == 2, log.read_text()
    assert f"--health 127.0.0.1:{port}" in log.read_text()


# --- the API on a real store that stops --------------------------------------------------------


@pytest.mark.parametrize("kind", ["influxdb", "victoriametrics"])
def test_api_health_and_readings_answer_503_while_the_store_is_stopped(
    tmp_path: Path, kind: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    directory = tmp_path / kind
    directory.mkdir()
    server: Influxd | VictoriaMetrics
    if kind == "influxdb":
        server = Influxd(directory)
        # Credentials in the URL (InfluxDB without auth ignores them): never shown.
        store = server.store_url.replace("://", "://reader:s3cr3t-pw@")
    else:
        server = VictoriaMetrics(directory)
        store = server.store_url
    server.start()
    try:
        port = free_port()
        log = tmp_path / "api.log"
        processes.append(start("api", "--store", store, "--port", str(port), log=log))
        wait_for_text(log, "API on", 30)
        base = f"http://127.0.0.1:{port}"
        readings = f"{base}/stations/kim_long/readings?param=water_level"
        healthy = get_until(f"{base}/health", lambda r: r.status_code == 200, 30, "up", log)
        body = healthy.json()
        assert body["status"] == "ok"
        assert body["store"]["type"] == kind
        assert body["store"]["url"] == server.url
        assert body["store"]["answers"] is True
        assert "s3cr3t" not in healthy.text
        server.stop()
        down = httpx.get(f"{base}/health", timeout=20)
        assert down.status_code == 503, down.text
        assert down.json()["status"] == "down"
        assert down.json()["store"]["answers"] is False
        assert down.json()["reasons"][0].startswith("store: store unavailable: ")
        assert "s3cr3t" not in down.text
        for url in (readings, f"{base}/stations", f"{base}/stations/kim_long/latest"):
            answer = httpx.get(url, timeout=30)
            assert answer.status_code == 503, (url, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"].startswith("store unavailable: "), answer.text
            assert answer.headers["retry-after"] == "5"
        server.start()
        get_until(f"{base}/health", lambda r: r.status_code == 200, 30, "back", log)
        # Unknown station without a site: a 404 from a store that answers again.
        assert httpx.get(readings, timeout=20).status_code == 404
        assert processes[-1].poll() is None
        assert stop(processes[-1], signal.SIGTERM) == 0
    finally:
        server.stop()
