"""The gateway never publishes a time the collector's wire boundary would refuse: such a
reading goes to the dead letter, named, and the rest of its batch is kept (otherwise the whole
batch would be refused, never receipted, and resent forever)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from gateway.bus.memory import InProcessBus
from gateway.model import Reading
from gateway.wire import DEFAULT_BOUNDS, TimeWindow, deadletter_topic, decode_batch
from quantrac.runners import GatewayService, reading_problem
from quantrac.site import load_site
from tests.conftest import EXAMPLE_SITE


async def test_a_reading_from_a_reset_clock_is_dead_lettered_and_the_rest_kept() -> None:
    site = load_site(EXAMPLE_SITE)
    bus = InProcessBus()
    raw = bus.subscribe("quantrac/v1/raw/+")
    dead = bus.subscribe(deadletter_topic(site.settings.gateway_id))
    gateway = GatewayService(site, bus, stations=[])
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [
        Reading("xlnt_phu_bai", "cod", 41.0, "mg/L", now - timedelta(minutes=5)),
        Reading("xlnt_phu_bai", "tss", 30.0, "mg/L", datetime(1970, 1, 1, tzinfo=UTC)),
        Reading("xlnt_phu_bai", "ph", 7.1, "pH", now + timedelta(days=3)),
    ]
    async with bus:
        await gateway.accept("xlnt_phu_bai", readings)
        batch = decode_batch((await raw.get()).payload)
        letters = [json.loads((await dead.get()).payload) for _ in range(2)]
    assert [r.param for r in batch.readings] == ["cod"]
    assert gateway.rejected == 2
    assert ["tss" in letters[0]["reason"], "ph" in letters[1]["reason"]] == [True, True]
    assert "1970-01-01T00:00:00.000Z is outside 2000-01-01" in letters[0]["reason"]
    assert [letter["station"] for letter in letters] == ["xlnt_phu_bai", "xlnt_phu_bai"]


NOW = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
WINDOW = TimeWindow.of(DEFAULT_BOUNDS, NOW)


@pytest.mark.parametrize(
    ("param", "value", "ts", "problem"),
    [
        ("water_level", 1.2, NOW, None),
        ("water_level", math.nan, NOW, None),  # "no value" is a value the wire carries
        ("water_level", 1.2, datetime(1970, 1, 1, tzinfo=UTC), "is outside 2000-01-01"),
        ("water_level", 1.2, NOW + timedelta(days=2), "is outside"),
        ("water_level", 1.2, NOW + timedelta(hours=23), None),
        ("water_level", -999.0, NOW, "outside the possible range"),
        ("pm25", 1e308, NOW, "outside the possible range"),
        ("water_level", -999.0, datetime(1970, 1, 1, tzinfo=UTC), "is outside 2000"),  # time first
    ],
)
def test_reading_problem(param: str, value: float, ts: datetime, problem: str | None) -> None:
    found = reading_problem("kim_long", Reading("kim_long", param, value, "m", ts), WINDOW)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert f"station kim_long param {param}" in found
