"""The API's series endpoint: derived series and aggregation windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from collector.store.sqlite import SqliteStore
from gateway.model import Quality, Reading
from quantrac.api import ApiContext, create_app
from quantrac.auth import ApiSecurity, KeyStore, Role
from quantrac.runners import station_catalog
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


async def test_derived_series_and_windows(tmp_path: Path) -> None:
    site = load_site(EXAMPLE_SITE)
    store = SqliteStore(tmp_path / "q.sqlite3", station_catalog(site))
    levels = [
        Reading("kim_long", "water_level", 1.0 + i / 10, "m", T0 + timedelta(minutes=10 * i))
        for i in range(12)
    ]
    spike = Reading("kim_long", "water_level", 9.0, "m", T0 + timedelta(minutes=5),
                    quality=Quality.BAD, reason="spike")  # fmt: skip
    total = Reading("nam_dong", "rain_24h", 180.0, "mm", T0 + timedelta(hours=1))
    store.write([*levels, spike, total])
    # Reads open, as on a closed network (keys and roles: test_api_auth.py).
    security = ApiSecurity(open_reads=True)
    app = create_app(ApiContext(store=store, stations=dict(site.stations), security=security))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://a"
    ) as api:
        window = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=2)).isoformat()}
        rain = await api.get("/stations/nam_dong/readings", params={"param": "rain_24h", **window})
        hourly = await api.get(
            "/stations/kim_long/readings",
            params={"param": "water_level", "every": 3600, **window},
        )
        unknown = await api.get("/stations/kim_long/readings", params={"param": "nonsense"})
    store.close()
    assert [r["value"] for r in rain.json()["readings"]] == [180.0]
    # Hour means of the not-bad values: 1.0…1.5, then 1.6…2.1 (the bad 9.0 left out).
    means = [round(r["value"], 3) for r in hourly.json()["readings"]]
    assert means == [1.25, 1.85]
    assert unknown.status_code == 422
    assert "derived series" in unknown.json()["detail"]


async def test_incidents_listed_and_acknowledged(tmp_path: Path) -> None:
    from alerting.incidents import IncidentManager, IncidentStore
    from alerting.model import AlertKind, Severity, Signal

    incidents = IncidentStore(tmp_path / "incidents.sqlite3")
    service = IncidentManager(incidents)
    service.on_signal(
        Signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, Severity.CRITICAL, T0,
               facts={"label": "BĐ II"})
    )  # fmt: skip
    store = SqliteStore(tmp_path / "q.sqlite3")
    keys = KeyStore(tmp_path / "api-keys.sqlite3")
    _, key = keys.create("trực ban", Role.OPERATOR, T0)
    app = create_app(ApiContext(store=store, incidents=incidents, security=ApiSecurity(keys)))
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": key}
    async with httpx.AsyncClient(transport=transport, base_url="http://a", headers=headers) as api:
        listed = (await api.get("/incidents")).json()
        ack = await api.post(
            "/incidents/flood_levels:kim_long/ack", json={"by": "Trần Văn An", "note": "đã báo"}
        )
        missing = await api.post("/incidents/none:here/ack", json={"by": "x"})
    assert [(i["id"], i["level"], i["facts"]["label"]) for i in listed] == [
        ("flood_levels:kim_long", 2, "BĐ II")
    ]
    assert ack.json()["acked_by"] == "Trần Văn An"
    assert missing.status_code == 404
    service.sync_acks()  # the running service takes it
    assert service.open["flood_levels:kim_long"].acked_by == "Trần Văn An"
    store.close()
    incidents.close()
