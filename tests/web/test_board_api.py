"""What the board and integrators read, over real HTTP: /latest, the GeoJSON, pages with a
next link, CSV, the officers' export, the live stream, the local OpenAPI pages, errors."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest

from collector.store import StoreUnavailable
from collector.store.sqlite import SqliteStore
from gateway.model import Quality, Reading
from quantrac.api import ApiContext, create_app
from quantrac.api_board import KEEP_AT_MOST, Kept, _valid_until, all_latest
from quantrac.auth import ApiSecurity
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE
from tests.web.board_site import EXPECTED_COLOURS, BoardSite


def get(site: BoardSite, path: str, role: str = "viewer",
        headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    """A GET with the role's key."""
    headers = {"Authorization": f"Bearer {site.keys[role]}", **(headers or {})}
    return httpx.get(site.url + path, headers=headers, timeout=10)


def test_latest_gives_every_station_and_its_state_in_one_call(site: BoardSite) -> None:
    body = get(site, "/latest").json()
    assert body["site"] == "Thừa Thiên Huế"
    states = {d["station"]["id"]: d["state"] for d in body["stations"]}
    assert {k: v["colour"] for k, v in states.items()} == EXPECTED_COLOURS
    kim_long = next(d for d in body["stations"] if d["station"]["id"] == "kim_long")
    assert kim_long["flood"]["label"] == "BĐ II"
    assert kim_long["station"]["location"] == {"lat": 16.4637, "lon": 107.5489}
    assert states["hue_air"] == states["hue_air"] | {"index": "VN_AQI", "value": 117.0,
                                                     "label": "Kém", "instantaneous": True}
    assert states["phu_oc"]["label"] == "mất kết nối"
    assert states["phu_oc"]["online"] is False


def test_the_stores_one_query_latest_is_each_stations_latest(site: BoardSite) -> None:
    every = site.store.latest_all()
    assert set(every) == set(site.store.stations())
    for station, readings in every.items():
        assert readings == site.store.latest(station), station


def test_stations_geojson_places_every_station_in_the_province(site: BoardSite) -> None:
    answer = get(site, "/stations.geojson")
    assert answer.headers["content-type"] == "application/geo+json"
    features = answer.json()["features"]
    assert {f["id"] for f in features} == set(EXPECTED_COLOURS)
    outline = get(site, "/province.geojson").json()
    ring = outline["features"][0]["geometry"]["coordinates"][0]
    for f in features:
        lon, lat = f["geometry"]["coordinates"]
        assert inside(lon, lat, ring), f["id"]
        assert f["properties"]["state"]["colour"] == EXPECTED_COLOURS[f["id"]]
    kim_long = next(f for f in features if f["id"] == "kim_long")["properties"]
    assert kim_long["river"] == "Hương"
    assert kim_long["flood_levels"] == {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}


def inside(x: float, y: float, ring: list[list[float]]) -> bool:
    crossings = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            crossings = not crossings
    return crossings


def test_readings_come_in_pages_linked_by_next_until_the_range_ends(site: BoardSite) -> None:
    start = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    query = httpx.QueryParams(param="water_level", limit=50, **{"from": start})
    pages, seen = 0, []
    url: str | None = f"{site.url}/stations/kim_long/readings?{query}"
    while url is not None:
        answer = httpx.get(url, headers={"X-API-Key": site.keys["viewer"]}, timeout=10)
        body = answer.json()
        pages += 1
        seen += [r["ts"] for r in body["readings"]]
        assert body["truncated"] == (body["next"] is not None)
        if body["next"]:
            assert answer.headers["link"] == f'<{body["next"]}>; rel="next"'
        url = body["next"]
    assert pages == 3  # 146 readings (145 every 10 min and a spike): 50 + 50 + 46
    assert len(seen) == len(set(seen)) == 146
    assert seen == sorted(seen)


@pytest.mark.parametrize(("query", "accept"), [("", "text/csv"), ("&format=csv", "*/*")])
def test_readings_as_csv(site: BoardSite, query: str, accept: str) -> None:
    answer = get(site, f"/stations/kim_long/readings?param=water_level{query}",
                 headers={"Accept": accept})  # fmt: skip
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 145  # the last 24 h: 144 steps and the spike (the first is 24 h back)
    spike = next(r for r in rows if r["reason"] == "spike")
    assert (spike["value"], spike["quality"], spike["unit"]) == ("3.9", "suspect", "m")


def test_export_xlsx_and_csv_for_an_officers_report(site: BoardSite) -> None:
    answer = get(site, "/stations/kim_long/export?format=xlsx&param=water_level")
    assert answer.headers["content-disposition"].startswith('attachment; filename="kim_long_')
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Số liệu quan trắc — Kim Long"
    header = next(i for i, row in enumerate(rows) if row[0] == "Thời gian (giờ Việt Nam)")
    assert rows[header][1:] == ("Mực nước (m)", "water_level: chất lượng")
    flagged = [row for row in rows[header + 1 :] if row[2] != "good"]
    assert flagged == [(flagged[0][0], 3.9, "suspect: spike")]
    plain = get(site, "/stations/hue_weather/export?format=csv")
    assert plain.content.startswith("\ufeff".encode())  # Excel reads UTF-8 by its BOM
    header_row = plain.content.decode("utf-8-sig").splitlines()[0]
    assert header_row.startswith("Thời gian (giờ Việt Nam),Nhiệt độ không khí (°C)")


def test_whoami_and_the_page_itself(site: BoardSite) -> None:
    assert get(site, "/whoami", "operator").json()["can_act"] is True
    assert get(site, "/whoami", "viewer").json() == {"name": "viewer trực ban", "role": "viewer",
                                                     "can_act": False, "reads_open": False}
    assert httpx.get(site.url + "/whoami").json() == {"name": "", "role": None, "can_act": False,
                                                      "reads_open": False}  # fmt: skip
    page = httpx.get(site.url + "/", headers={"Accept": "text/html"})  # no key: a page, no data
    assert page.status_code == 200
    assert "Bảng điều hành quan trắc" in page.text
    index = httpx.get(site.url + "/")
    assert index.status_code == 401  # the JSON index is data: it wants a key
    sources = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
    assert sources
    assert all(s.startswith("/board/") for s in sources), sources
    for source in sources:
        assert httpx.get(site.url + source).status_code == 200, source


def test_openapi_pages_load_nothing_from_elsewhere(site: BoardSite) -> None:
    for page in ("/docs", "/redoc"):
        text = httpx.get(site.url + page).text
        assert not re.findall(r'(?:src|href)="https?://', text), page
        for source in re.findall(r'(?:src|href)="(/[^"]+)"', text):
            assert httpx.get(site.url + source).status_code == 200, source


def test_live_stream_sends_a_new_reading(site: BoardSite) -> None:
    headers = {"Authorization": f"Bearer {site.keys['viewer']}"}
    with httpx.stream("GET", site.url + "/events", headers=headers, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: ready"
        site.store.write([Reading("kim_long", "water_level", 3.61, "m", datetime.now(UTC),
                                  quality=Quality.GOOD)])  # fmt: skip
        event = next(line for line in lines if line.startswith("event:"))
        data = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
    assert event == "event: station"
    assert data["station"]["id"] == "kim_long"
    assert data["state"]["label"] == "BĐ III"
    assert data["state"]["colour"] == "#FF0000"


class DownStore:
    """Our store interface with the database gone: every read raises what a store raises."""

    keeps_reason = True
    replaces_points = True

    def _down(self, *args: object, **kwargs: object) -> list[Reading]:
        raise StoreUnavailable("http://127.0.0.1:8428 unreachable: Connection refused")

    write = latest = range = _down

    def stations(self) -> list[str]:
        raise StoreUnavailable("http://127.0.0.1:8428 unreachable: Connection refused")

    def close(self) -> None:
        pass


async def test_a_stopped_store_is_a_json_503_on_every_board_route() -> None:
    site = load_site(EXAMPLE_SITE)
    context = ApiContext(store=DownStore(), stations=dict(site.stations),  # type: ignore[arg-type]
                         security=ApiSecurity(open_reads=True))  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        for path in ("/latest", "/stations.geojson", "/ngsi-ld/v1/entities?type=WaterObserved",
                     "/stations/kim_long/readings?param=water_level",
                     "/stations/kim_long/export", "/stations"):  # fmt: skip
            answer = await api.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"] == "5"
            assert answer.json()["detail"].startswith("store unavailable: http://127.0.0.1:8428")


def test_the_snapshot_reuses_a_stations_document_only_while_nothing_changed(
    site: BoardSite,
) -> None:
    kept: Kept = {}
    first = {d["station"]["id"]: d for d in all_latest(site.context, kept)}
    again = {d["station"]["id"]: d for d in all_latest(site.context, kept)}
    assert all(again[k] is first[k] for k in first)  # nothing new: the same documents
    site.store.write([Reading("kim_long", "water_level", 3.61, "m", datetime.now(UTC),
                              quality=Quality.GOOD)])  # fmt: skip
    after = {d["station"]["id"]: d for d in all_latest(site.context, kept)}
    assert after["kim_long"]["state"]["label"] == "BĐ III"
    assert all(after[k] is first[k] for k in first if k != "kim_long")


NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("readings", "until"),
    [
        ([], NOW + KEEP_AT_MOST),
        ([("water_level", 1)], NOW + KEEP_AT_MOST),
        ([("water_level", 59.5)], NOW + timedelta(seconds=30)),  # goes stale in 30 s
        ([("pm25", 1), ("vn_aqi_h", 119.75)], NOW + timedelta(seconds=15)),  # the hourly ages
        ([("station_online", 59.9), ("water_level", 10)], NOW + KEEP_AT_MOST),
        ([("water_level", 300)], NOW + KEEP_AT_MOST),  # long offline: the clock changes nothing
    ],
)
def test_how_long_a_document_holds(readings: list[tuple[str, float]], until: datetime) -> None:
    made = [Reading("x", p, 1.0, "", NOW - timedelta(minutes=ago)) for p, ago in readings]
    assert _valid_until(made, NOW, timedelta(hours=1)) == until


async def test_a_site_without_outline_or_alerting_data(tmp_path: Path) -> None:
    """The board asks for neither then: an empty outline, and /latest says there are no
    incidents here (so a browser logs no 404)."""
    store = SqliteStore(tmp_path / "q.sqlite3")
    app = create_app(ApiContext(store=store, security=ApiSecurity(open_reads=True)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as api:  # fmt: skip
        outline = (await api.get("/province.geojson")).json()
        latest = (await api.get("/latest")).json()
    store.close()
    assert outline == {"type": "FeatureCollection", "features": []}
    assert latest["incidents"] is False
    assert latest["stations"] == []
