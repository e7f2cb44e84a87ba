"""The poller's hot reload: stations join and leave their interval's job while it runs."""

from __future__ import annotations

import asyncio
from datetime import datetime

from gateway.model import Reading, ReadingBatch
from gateway.poller import Poller
from tests.helpers import eventually


class CountingDriver:
    """A polled driver of our own interface: counts its reads, returns nothing."""

    def __init__(self, station_id: str, interval_s: float = 1.0) -> None:
        self._station_id = station_id
        self._interval_s = interval_s
        self.reads = 0

    @property
    def station_id(self) -> str:
        return self._station_id

    @property
    def interval_s(self) -> float:
        return self._interval_s

    async def read(self, ts: datetime) -> list[Reading]:
        self.reads += 1
        return []


async def test_stations_join_and_leave_a_running_poller() -> None:
    batches: list[ReadingBatch] = []

    async def publish(batch: ReadingBatch) -> None:
        batches.append(batch)

    first = CountingDriver("kim_long")
    poller = Poller("gw-test", [first], publish)
    task = asyncio.create_task(poller.run())
    try:
        await eventually(lambda: first.reads >= 1, 5, "the first station polled")
        joining = CountingDriver("phu_oc")  # same interval: joins the running job
        slower = CountingDriver("nam_dong", interval_s=2.0)  # a new interval: a job of its own
        poller.add(joining)
        poller.add(slower)
        await eventually(lambda: joining.reads >= 2 and slower.reads >= 1, 6, "new stations")
        assert set(poller.health) == {"kim_long", "phu_oc", "nam_dong"}

        poller.remove("kim_long")
        poller.remove("nam_dong")
        await asyncio.sleep(0.1)  # a poll that had started finishes
        stopped_at = (first.reads, slower.reads)
        polled = joining.reads
        await eventually(lambda: joining.reads >= polled + 2, 5, "the remaining station goes on")
        assert (first.reads, slower.reads) == stopped_at
        assert set(poller.health) == {"phu_oc"}
        assert {b.station for b in batches[-2:]} == {"phu_oc"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_replaced_station_keeps_its_health() -> None:
    async def publish(batch: ReadingBatch) -> None:
        return None

    poller = Poller("gw-test", [CountingDriver("kim_long")], publish)
    poller.health["kim_long"].errors = 3
    poller.remove("kim_long", forget=False)
    poller.add(CountingDriver("kim_long", interval_s=5.0))
    assert poller.health["kim_long"].errors == 3
    assert [d.interval_s for d in poller.drivers] == [5.0]
