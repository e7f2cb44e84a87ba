"""The gateway never publishes a time the collector's wire boundary would refuse: such a
reading goes to the dead letter, named, and the rest of its batch is kept (otherwise the whole
batch would be refused, never receipted, and resent forever)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway.bus.memory import InProcessBus
from gateway.model import Reading
from gateway.wire import deadletter_topic, decode_batch
from quantrac.runners import GatewayService
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
