"""Who may read and who may act on the API: keys and roles, the audit log, the failed-auth
limit, CORS, problem+json errors and the 422s of extreme queries."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from alerting.incidents import IncidentManager, IncidentStore, Silence
from alerting.model import AlertKind, Severity, Signal
from collector.store.sqlite import SqliteStore
from gateway.model import Reading
from quantrac.api import ApiContext, create_app
from quantrac.auth import ApiSecurity, FailureLimiter, KeyStore, Role, split_key
from quantrac.cli import app as cli
from quantrac.runners import station_catalog
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.quantrac.test_cli import QUANTRAC, stop, wait_for_text
from tests.servers import free_port

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
INCIDENT = "flood_levels:kim_long"
SILENCE = {"comment": "thay cảm biến", "station": "kim_long", "hours": 1, "all": True}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    client: httpx.AsyncClient
    keys: KeyStore
    key: dict[str, str]  # role → the key's full text
    clock: Clock
    app: Any

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.key[role]}"}


def make_app(tmp_path: Path, **security: Any) -> tuple[Any, KeyStore, dict[str, str], Clock]:
    site = load_site(EXAMPLE_SITE)
    store = SqliteStore(tmp_path / "q.sqlite3", station_catalog(site))
    store.write([Reading("kim_long", "water_level", 1.2, "m", T0)])
    incidents = IncidentStore(tmp_path / "incidents.sqlite3")
    IncidentManager(incidents).on_signal(
        Signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, Severity.CRITICAL, T0,
               facts={"label": "BĐ II"})
    )  # fmt: skip
    now = datetime.now(UTC)
    incidents.add_silence(
        Silence(0, now, now + timedelta(hours=1), "x", "bảo trì", "kim_long", None, None,
                False, None)
    )  # fmt: skip
    keys = KeyStore(tmp_path / "api-keys.sqlite3")
    made = {role.label: keys.create(f"{role.label} key", role, now)[1] for role in Role}
    clock = Clock()
    context = ApiContext(
        store=store,
        stations=dict(site.stations),
        incidents=incidents,
        security=ApiSecurity(keys, clock=clock, **security),
    )
    return create_app(context), keys, made, clock


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    app, keys, made, clock = make_app(tmp_path)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Api(client, keys, made, clock, app)


# (method, path, body, the least role that may; None: open to all)
ROUTES: list[tuple[str, str, dict[str, Any] | None, Role | None]] = [
    ("GET", "/", None, Role.VIEWER),
    ("GET", "/stations", None, Role.VIEWER),
    ("GET", "/stations/kim_long/latest", None, Role.VIEWER),
    ("GET", "/stations/kim_long/health", None, Role.VIEWER),
    ("GET", "/stations/kim_long/readings?param=water_level", None, Role.VIEWER),
    ("GET", "/incidents", None, Role.VIEWER),
    ("GET", "/silences", None, Role.VIEWER),
    ("POST", f"/incidents/{INCIDENT}/ack", {"note": "đã báo"}, Role.OPERATOR),
    ("POST", "/silences", SILENCE, Role.OPERATOR),
    ("DELETE", "/silences/1", None, Role.OPERATOR),
    ("GET", "/audit", None, Role.ADMIN),
    ("GET", "/health", None, None),  # monitoring scrapes it without a key
    ("GET", "/openapi.json", None, None),  # the API's shape, no data
]
WHO = [None, "viewer", "operator", "admin"]


def expected_status(needed: Role | None, who: str | None, open_reads: bool) -> str:
    if needed is None:
        return "2xx"
    if who is None:
        return "2xx" if open_reads and needed is Role.VIEWER else "401"
    return "2xx" if Role.parse(who) >= needed else "403"


def outcome(response: httpx.Response) -> str:
    return "2xx" if response.is_success else str(response.status_code)


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "no-key")
@pytest.mark.parametrize(
    ("method", "path", "body", "needed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
async def test_each_route_by_role(
    api: Api, method: str, path: str, body: dict[str, Any] | None, needed: Role | None,
    who: str | None,
) -> None:  # fmt: skip
    response = await api.client.request(method, path, json=body, headers=api.as_(who))
    assert outcome(response) == expected_status(needed, who, open_reads=False), response.text
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "body", "needed"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
async def test_open_reads_open_reads_only(
    tmp_path: Path, method: str, path: str, body: dict[str, Any] | None, needed: Role | None
) -> None:
    app, *_ = make_app(tmp_path, open_reads=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.request(method, path, json=body)
    assert outcome(response) == expected_status(needed, None, open_reads=True), response.text


async def test_x_api_key_header_and_wrong_or_revoked_keys(api: Api) -> None:
    by_header = await api.client.get("/stations", headers={"X-API-Key": api.key["viewer"]})
    assert by_header.status_code == 200
    key_id, secret = split_key(api.key["viewer"]) or ("", "")
    wrong = f"qk_{key_id}_{secret[:-2]}xx"
    for bad in (wrong, "nonsense", f"qk_00000000_{secret}"):
        refused = await api.client.get("/stations", headers={"X-API-Key": bad})
        assert refused.status_code == 401, bad
    api.keys.revoke(key_id, datetime.now(UTC))
    revoked = await api.client.get("/stations", headers=api.as_("viewer"))
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == "unknown or revoked API key"


def test_keys_are_kept_only_as_hashes(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    made = runner.invoke(cli, ["keys", "create", "--role", "operator", "--name", "trực ban", *data])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    key_id, secret = split_key(key) or ("", "")
    assert key_id
    assert len(secret) >= 43
    listed = runner.invoke(cli, ["keys", "list", *data])
    assert key_id in listed.output
    assert "operator" in listed.output
    assert secret not in listed.output
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("api-keys.sqlite3*"))
    assert secret.encode() not in stored
    assert key.encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    assert oct((tmp_path / "api-keys.sqlite3").stat().st_mode & 0o777) == "0o600"
    assert KeyStore(tmp_path / "api-keys.sqlite3").authenticate(key) is not None
    revoked = runner.invoke(cli, ["keys", "revoke", key_id, *data])
    assert revoked.exit_code == 0, revoked.output
    assert KeyStore(tmp_path / "api-keys.sqlite3").authenticate(key) is None
    assert runner.invoke(cli, ["keys", "revoke", "ffffffff", *data]).exit_code == 1
    bad_role = runner.invoke(cli, ["keys", "create", "--role", "root", "--name", "x", *data])
    assert bad_role.exit_code == 2
    audit = runner.invoke(cli, ["audit", "list", *data], env={"COLUMNS": "200"})
    assert "key.create" in audit.output
    assert "key.revoke" in audit.output


async def test_every_action_is_audited_with_who_what_when_and_where(api: Api) -> None:
    started = datetime.now(UTC)
    operator, viewer = api.as_("operator"), api.as_("viewer")
    await api.client.post(f"/incidents/{INCIDENT}/ack", json={"note": "đã báo"}, headers=operator)
    made = await api.client.post("/silences", json=SILENCE, headers=operator)
    await api.client.delete(f"/silences/{made.json()['id']}", headers=operator)
    await api.client.delete("/silences/99", headers=operator)
    await api.client.post("/silences", json=SILENCE, headers=viewer)  # refused: 403
    await api.client.post("/silences", json=SILENCE)  # no key: a 401, no one to name
    await api.client.get("/stations", headers=viewer)  # a read: not an action
    log = (await api.client.get("/audit", headers=api.as_("admin"))).json()
    operator_id = split_key(api.key["operator"]) or ("", "")
    viewer_id = split_key(api.key["viewer"]) or ("", "")
    rows = [(e["who"], e["action"], e["target"], e["client"], e["status"]) for e in log]
    assert rows == [
        (f"viewer key ({viewer_id[0]})", "silence.create", "", "10.0.0.7", 403),
        (f"operator key ({operator_id[0]})", "silence.expire", "99", "10.0.0.7", 404),
        (f"operator key ({operator_id[0]})", "silence.expire", "2", "10.0.0.7", 200),
        (f"operator key ({operator_id[0]})", "silence.create", "2 station=kim_long",
         "10.0.0.7", 201),
        (f"operator key ({operator_id[0]})", "incident.ack", INCIDENT, "10.0.0.7", 200),
    ]  # fmt: skip
    assert all(started <= datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in log)
    # The person acknowledging defaults to the key's name.
    incidents = (await api.client.get("/incidents", headers=api.as_("viewer"))).json()
    assert incidents[0]["acked_by"] == "operator key"


def test_failure_limiter_table() -> None:
    limiter = FailureLimiter(limit=3, window_s=60)
    steps = [  # (time, client, failed?, retry_after expected before it)
        (0, "a", True, 0), (10, "a", True, 0), (20, "a", True, 0),
        (21, "a", False, 39), (21, "b", False, 0), (59.5, "a", False, 0.5),
        (60, "a", False, 0),  # the first failure left the window: 2 remain
        (61, "a", True, 0), (62, "a", False, 8),  # failures at 10, 20, 61: free at 70
    ]  # fmt: skip
    for now, client, failed, wait in steps:
        assert limiter.retry_after(client, now) == pytest.approx(wait), (now, client)
        if failed:
            limiter.failed(client, now)


async def test_failed_authentication_is_rate_limited_per_address(api: Api) -> None:
    wrong = {"Authorization": "Bearer qk_12345678_not-a-key"}
    answers = [(await api.client.get("/stations", headers=wrong)).status_code for _ in range(10)]
    assert answers == [401] * 10
    held = await api.client.get("/stations", headers=api.as_("viewer"))  # even the right key
    assert held.status_code == 429
    assert held.headers["retry-after"] == "60"
    assert held.headers["content-type"] == "application/problem+json"
    assert "10.0.0.7" in held.json()["detail"]
    elsewhere = httpx.ASGITransport(app=api.app, client=("10.0.0.8", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://api") as other:
        assert (await other.get("/stations", headers=api.as_("viewer"))).status_code == 200
    assert (await api.client.get("/health")).status_code in (200, 503)  # no key: not held
    api.clock.now += 59
    assert (await api.client.get("/stations", headers=api.as_("viewer"))).status_code == 429
    api.clock.now += 1.5
    assert (await api.client.get("/stations", headers=api.as_("viewer"))).status_code == 200


async def test_cors_off_by_default_and_on_for_the_allowed_origins(tmp_path: Path) -> None:
    origin = "https://ioc.hue.gov.vn"
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}  # fmt: skip
    closed, _, made, _ = make_app(tmp_path / "closed")
    allowed, _, made_allowed, _ = make_app(tmp_path / "allowed", cors_origins=[origin])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed),
                                 base_url="http://api") as client:  # fmt: skip
        plain = await client.get(
            "/stations", headers={"Origin": origin, "X-API-Key": made["viewer"]}
        )
        asked = await client.options("/stations", headers=preflight)
    assert plain.status_code == 200
    assert not any(h.startswith("access-control-") for h in plain.headers)
    assert not any(h.startswith("access-control-") for h in asked.headers)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=allowed),
                                 base_url="http://api") as client:  # fmt: skip
        headers = {"X-API-Key": made_allowed["viewer"]}
        plain = await client.get("/stations", headers={"Origin": origin, **headers})
        asked = await client.options("/stations", headers=preflight)
        stranger = await client.get(
            "/stations", headers={"Origin": "https://evil.example", **headers}
        )
    assert plain.headers["access-control-allow-origin"] == origin
    assert asked.status_code == 200
    assert asked.headers["access-control-allow-origin"] == origin
    assert "authorization" in asked.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("from=0001-01-01T00:00:00", "'from' 0001-01-01T00:00:00 is out of range"),
        ("from=0001-01-01T00:00:00%2B00:00", "'from' 0001-01-01T00:00:00+00:00 is out of range"),
        ("to=9999-12-31T23:59:59", "'to' 9999-12-31T23:59:59 is out of range"),
        ("from=1969-12-31T00:00:00Z", "'from' 1969-12-31T00:00:00+00:00 is out of range"),
        ("every=1e23", "query.every: Input should be a valid integer"),
        ("every=100000000000000000000000", "query.every: Input should be less than or equal"),
        ("every=0", "query.every: Input should be greater than or equal to 1"),
        ("limit=0", "query.limit: Input should be greater than or equal to 1"),
        ("from=2026-11-21T00:00:00&to=2026-11-20T00:00:00", "'from' must be before 'to'"),
        ("from=yesterday", "query.from: Input should be a valid datetime"),
    ],
)
async def test_extreme_queries_are_422_problems(api: Api, query: str, detail: str) -> None:
    response = await api.client.get(
        f"/stations/kim_long/readings?param=water_level&{query}", headers=api.as_("viewer")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith(detail), response.json()


async def test_errors_are_problem_json(api: Api) -> None:
    viewer = api.as_("viewer")
    answers = {
        401: await api.client.get("/stations"),
        403: await api.client.post("/silences", json=SILENCE, headers=viewer),
        404: await api.client.get("/stations/nowhere/latest", headers=viewer),
        422: await api.client.post("/silences", json={"hours": -1}, headers=api.as_("operator")),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "about:blank"
        assert body["status"] == status
        assert body["title"] == HTTPStatus(status).phrase
        assert body["detail"], body
    assert answers[403].json()["detail"].startswith("the operator role is needed")
    assert answers[404].json()["detail"] == "unknown station 'nowhere'"
    assert "body.comment: Field required" in answers[422].json()["detail"]
    # 429: test_failed_authentication_is_rate_limited_per_address; 503 on a stopped store:
    # test_health.py::test_api_health_and_readings_answer_503_while_the_store_is_stopped.


def test_the_api_command_is_closed_until_a_key_is_made(tmp_path: Path) -> None:
    """The real command: without open reads every read wants a key; /health does not."""
    port = free_port()
    log = tmp_path / "api.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTRAC_API_")}
    data = ["--data-dir", str(tmp_path)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*QUANTRAC, "api", str(EXAMPLE_SITE), *data, "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_for_text(log, "API on", 30)
        base = f"http://127.0.0.1:{port}"
        time.sleep(0.5)
        assert httpx.get(f"{base}/stations", timeout=10).status_code == 401
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        made = subprocess.run(
            [*QUANTRAC, "keys", "create", "--role", "viewer", "--name", "bảng tin", *data],
            capture_output=True, text=True, env=env, check=True, timeout=60,
        )  # fmt: skip
        key = made.stdout.strip()
        answer = httpx.get(f"{base}/stations", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        assert key not in log.read_text()
    finally:
        assert stop(process, signal.SIGTERM) == 0
