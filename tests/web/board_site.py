"""The Huế example with a known day of data, served by a real API on a loopback port: what the
board's tests (HTTP and browser) read. Each station is put in a state whose colour is known."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.incidents import IncidentManager, IncidentStore
from alerting.model import AlertKind, Severity, Signal
from collector.store.sqlite import SqliteStore
from gateway.model import Quality, Reading
from quantrac.api import ApiContext, create_app
from quantrac.api_board import province_outline
from quantrac.auth import ApiSecurity, KeyStore, Role
from quantrac.runners import api_server, station_catalog
from quantrac.site import Site, load_site
from tests.conftest import EXAMPLE_SITE
from tests.servers import free_port, wait_for_port

GOOD = Quality.GOOD  # as the collector stores what passed QC
# The colour each station of the example must have on the board with seed_day's data.
EXPECTED_COLOURS = {
    "kim_long": "#FF7E00",  # 2.30 m: BĐ II (Decision 05/2020: 2.0 m at Kim Long)
    "phu_oc": "#9E9E9E",  # station_online 0: offline, grey
    "hue_air": "#FF7E00",  # PM2.5 60 µg/m³: VN_AQI 117, "Kém"
    "van_nien": "#5B8DB8",  # a sonde: too few groups for a VN_WQI
    "xlnt_phu_bai": "#5B8DB8",  # TT10 effluent: no VN_WQI either
    "nam_dong": "#FF7E00",  # 68 mm in 24 h: mưa to
    "hue_weather": "#FF7E00",  # 17.4 m/s: cấp 8, bão
}
FLOOD = "flood_levels:kim_long"
AIR = "air_quality:hue_air"


def seed_day(store: SqliteStore, now: datetime) -> None:
    """24 hours every 10 minutes, ending at ``now``, per station; one suspect water level."""
    steps = [now - timedelta(minutes=10 * i) for i in range(144, -1, -1)]
    readings: list[Reading] = []
    for i, ts in enumerate(steps):
        rise = i / 144
        readings += [
            Reading("kim_long", "water_level", round(0.8 + 1.5 * rise, 3), "m", ts,
                    quality=GOOD),
            Reading("kim_long", "station_online", 1.0, "bool", ts, quality=GOOD),
            Reading("hue_air", "pm25", 20 + 40 * rise, "µg/m³", ts, quality=GOOD),
            Reading("hue_air", "pm10", 40 + 30 * rise, "µg/m³", ts, quality=GOOD),
            Reading("van_nien", "ph", 7.2, "pH", ts, quality=GOOD),
            Reading("van_nien", "do", 6.5 - rise, "mg/L", ts, quality=GOOD),
            Reading("xlnt_phu_bai", "cod", 45.0, "mg/L", ts, quality=GOOD),
            Reading("xlnt_phu_bai", "ph", 7.0, "pH", ts, quality=GOOD),
            Reading("nam_dong", "rain", 0.5 if i % 3 else 2.0, "mm", ts, quality=GOOD),
            Reading("nam_dong", "rain_24h", round(68.0 * rise, 1), "mm", ts, quality=GOOD),
            Reading("hue_weather", "wind_speed", 5 + 12.4 * rise, "m/s", ts, quality=GOOD),
            Reading("hue_weather", "air_temp", 24.0, "°C", ts, quality=GOOD),
            Reading("hue_weather", "humidity", 92.0, "%", ts, quality=GOOD),
        ]
        if i < 100:  # Phú Ốc went quiet 44 readings ago, and the gateway says it is offline
            readings.append(Reading("phu_oc", "water_level", 1.2, "m", ts, quality=GOOD))
    readings.append(Reading("phu_oc", "station_online", 0.0, "bool", steps[100], quality=GOOD))
    spike = Reading("kim_long", "water_level", 3.9, "m", steps[120] + timedelta(minutes=5),
                    quality=Quality.SUSPECT, reason="spike")  # fmt: skip
    store.write([*readings, spike])


def seed_incidents(incidents: IncidentStore, now: datetime) -> None:
    manager = IncidentManager(incidents)
    # The facts as the rules give them (alerting.rules.base.make_signal), so the board shows
    # the warnings' own text.
    air = {"rule_type": "index", "label": "Kém", "category": "Kém", "index": "VN_AQI",
           "value": 117, "dominant_label": "PM2.5", "station_name": "Trạm không khí TP Huế",
           "station_id": "hue_air", "district": "Thuận Hóa"}
    flood = {"rule_type": "threshold", "label": "BĐ II", "previous_level": 1,
             "previous_label": "BĐ I", "value": 2.3, "margin": 0.3, "margin_label": "BĐ II",
             "unit": "m", "station_name": "Kim Long", "station_id": "kim_long", "river": "Hương",
             "district": "Phú Xuân", "flood_levels": {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}}
    manager.on_signal(Signal("air_quality", "hue_air", AlertKind.AIR, 3, Severity.CRITICAL,
                             now - timedelta(minutes=40), "vn_aqi_h", 117.0, facts=air))
    manager.on_signal(Signal("flood_levels", "kim_long", AlertKind.FLOOD, 2, Severity.CRITICAL,
                             now - timedelta(minutes=20), "water_level", 2.3,
                             facts=flood))  # fmt: skip


@dataclass
class BoardSite:
    url: str
    site: Site
    store: SqliteStore
    incidents: IncidentStore
    keys: dict[str, str]  # role → key
    context: ApiContext


@contextmanager
def board_site(directory: Path, *, open_reads: bool = False,
               live_poll_s: float = 0.3) -> Iterator[BoardSite]:  # fmt: skip
    """The example site with a seeded day, served on a free loopback port until the end."""
    site = load_site(EXAMPLE_SITE)
    now = datetime.now(UTC).replace(microsecond=0)
    store = SqliteStore(directory / "quantrac.sqlite3", station_catalog(site))
    seed_day(store, now)
    incidents = IncidentStore(directory / "incidents.sqlite3")
    seed_incidents(incidents, now)
    key_store = KeyStore(directory / "api-keys.sqlite3")
    keys = {role.label: key_store.create(f"{role.label} trực ban", role, now)[1] for role in Role}
    context = ApiContext(
        store=store, stations=dict(site.stations), site_name=site.settings.name,
        incidents=incidents, security=ApiSecurity(key_store, open_reads=open_reads),
        outline=province_outline(site.directory), live_poll_s=live_poll_s,
    )  # fmt: skip
    port = free_port()
    server = api_server(create_app(context), "127.0.0.1", port)  # as `quantrac api` runs it
    thread = threading.Thread(target=server.run, name="board-api", daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield BoardSite(f"http://127.0.0.1:{port}", site, store, incidents, keys, context)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
        incidents.close()
