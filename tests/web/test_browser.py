"""The IOC board in a real headless Chromium (Debian's, driven by Playwright): the map with
every station in its colour, a live update without reload, an operator acknowledging an
incident, a viewer without the button, the station page and its export, the demo's own board.
No console errors, no request leaving 127.0.0.1.

Screenshots go to $QUANTRAC_SCREENSHOTS (docs/img for docs/board.md), else a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, sync_playwright

from gateway.model import Quality, Reading
from tests.quantrac.test_cli import start, stop, wait_for_text
from tests.servers import free_port, wait_for_port
from tests.web.board_site import AIR, EXPECTED_COLOURS, FLOOD, BoardSite

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run `apt-get install -y chromium` "
                    "(bash scripts/test.sh installs it)", pytrace=False)  # fmt: skip
    # Debian's Chromium, never a downloaded one; no sandbox: the tests run as root in CI.
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("QUANTRAC_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page whose console errors and requests are recorded."""

    def __init__(self, browser: Browser, width: int = 1600, height: int = 1000) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           accept_downloads=True, locale="vi-VN",
                                           timezone_id="Asia/Ho_Chi_Minh")  # fmt: skip
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        self.hosts.add(urlsplit(request.url).hostname or request.url)

    def check_clean(self) -> None:
        assert self.errors == []
        assert self.hosts == {"127.0.0.1"}, self.hosts

    def close(self) -> None:
        self.context.close()


def marker_colours(page: Page) -> dict[str, str]:
    colours: dict[str, str] = page.eval_on_selector_all(
        "#map g.station",
        "gs => Object.fromEntries(gs.map(g => [g.dataset.station,"
        " g.querySelector('.marker').getAttribute('fill')]))",
    )
    return colours


def test_map_colours_and_a_live_update_for_a_viewer(
    site: BoardSite, browser: Browser, shots: Path
) -> None:
    watched = Watched(browser)
    page = watched.page
    page.goto(f"{site.url}/#key={site.keys['viewer']}")
    page.wait_for_function("document.querySelectorAll('#map g.station').length === 7",
                           timeout=WAIT_MS)  # fmt: skip
    page.wait_for_selector("#live[data-state=open]", timeout=WAIT_MS)
    page.wait_for_selector(".card .spark path", timeout=WAIT_MS)
    assert marker_colours(page) == EXPECTED_COLOURS
    assert "#key=" not in page.url  # the key left the address bar for the tab's storage
    incidents = page.locator("#incidents li.incident")
    assert incidents.count() == 2
    assert page.locator("button.ack").count() == 0  # a viewer sees no button
    assert page.inner_text("#who") == "Người xem: viewer trực ban"
    page.screenshot(path=str(shots / "board.png"), full_page=True)

    page.evaluate("window.notReloaded = true")
    site.store.write([Reading("kim_long", "water_level", 3.61, "m", datetime.now(UTC),
                              quality=Quality.GOOD)])  # fmt: skip
    page.wait_for_function(
        "document.querySelector('#map g.station[data-station=kim_long] .marker')"
        ".getAttribute('fill') === '#FF0000'", timeout=WAIT_MS)  # fmt: skip
    card = page.locator(".card[data-station=kim_long]")
    assert "BĐ III" in card.inner_text()
    assert "3,61 m" in card.inner_text()
    assert page.evaluate("window.notReloaded") is True
    watched.check_clean()
    watched.close()


def test_an_operator_logs_in_and_acknowledges_an_incident(
    site: BoardSite, browser: Browser, shots: Path
) -> None:
    watched = Watched(browser, 1280, 900)
    page = watched.page
    page.goto(site.url + "/")
    page.wait_for_selector("#key-dialog[open]", timeout=WAIT_MS)  # reads want a key here
    page.fill("#key-input", site.keys["operator"])
    page.click("#key-form button[type=submit]")
    page.wait_for_selector(f"li[data-incident='{FLOOD}'] button.ack", timeout=WAIT_MS)
    assert page.locator("button.ack").count() == 2
    page.click(f"li[data-incident='{FLOOD}'] button.ack")
    acked = page.locator(f"li[data-incident='{FLOOD}'][data-acked=yes]")
    acked.wait_for(timeout=WAIT_MS)
    assert "Đã xác nhận: operator trực ban" in acked.inner_text()
    assert page.locator(f"li[data-incident='{AIR}'] button.ack").count() == 1
    page.screenshot(path=str(shots / "board-operator.png"))
    listed = httpx.get(site.url + "/incidents", headers={"X-API-Key": site.keys["viewer"]}).json()
    assert {i["id"]: i["acked_by"] for i in listed} == {FLOOD: "operator trực ban", AIR: None}
    watched.check_clean()
    watched.close()


def test_station_page_plots_flags_and_exports(
    site: BoardSite, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    watched = Watched(browser)
    page = watched.page
    page.goto(f"{site.url}/#key={site.keys['viewer']}")
    page.wait_for_selector("#live[data-state=open]", timeout=WAIT_MS)
    page.click(".card[data-station=kim_long]")
    page.wait_for_selector("#plots[data-ready=yes]", timeout=WAIT_MS)
    level = page.locator("figure.plot[data-param=water_level]")
    assert level.get_attribute("data-flagged") == "1"  # the suspect spike, marked
    assert level.locator("canvas").count() == 1
    page.screenshot(path=str(shots / "station.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export-xlsx")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    book = openpyxl.load_workbook(saved)
    assert book.active["A1"].value == "Số liệu quan trắc — Kim Long"
    page.goto(f"{site.url}/#/tram/hue_air")
    page.wait_for_selector("#plots[data-ready=yes]", timeout=WAIT_MS)
    assert page.locator("figure.plot[data-param=pm25] canvas").count() == 1
    watched.check_clean()
    watched.close()


def test_the_demo_serves_its_board(tmp_path: Path, browser: Browser, shots: Path) -> None:
    """The real demo (simulated stations, gateway, collector, alerting, API): every station on
    the map in the colour its /stations.geojson says, and new readings arriving live."""
    port = free_port()
    log = tmp_path / "demo.log"
    demo = start("demo", "--data-dir", str(tmp_path / "data"), "--port", str(port),
                 "--interval", "1", log=log)  # fmt: skip
    watched = Watched(browser)
    try:
        wait_for_text(log, "board:", 30)
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/" in log.read_text()
        wait_for_port(port, 30)  # the URL is printed before the API listens
        page = watched.page
        page.goto(base + "/")
        page.wait_for_function(
            "window.quantracBoard && window.quantracBoard.loaded &&"
            " [...window.quantracBoard.stations.values()].every(d => d.state.as_of)",
            timeout=40_000, polling=500)  # fmt: skip
        page.wait_for_selector("#live[data-state=open]", timeout=WAIT_MS)
        first = page.get_attribute(".card[data-station=kim_long]", "data-as-of")
        page.wait_for_function(
            f"document.querySelector('.card[data-station=kim_long]').dataset.asOf !== '{first}'",
            timeout=WAIT_MS)  # fmt: skip
        geo = httpx.get(base + "/stations.geojson", timeout=10).json()["features"]
        assert {f["id"] for f in geo} == set(EXPECTED_COLOURS)
        states = page.evaluate("Object.fromEntries([...window.quantracBoard.stations.values()]"
                               ".map(d => [d.station.id, d.state.colour]))")  # fmt: skip
        assert marker_colours(page) == states
        page.screenshot(path=str(shots / "board-demo.png"), full_page=True)
        watched.check_clean()
    finally:
        watched.close()
        code = stop(demo, signal.SIGINT)
    assert code == 0, log.read_text()
