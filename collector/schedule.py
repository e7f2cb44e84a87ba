"""When the derived series are computed (issue 6): APScheduler jobs beside the collector.

- hourly, ``settle_s`` after the top of each hour: the hour that just ended (its means, VN_AQI,
  VN_WQI) — the settle time lets the readings taken at the last poll of the hour arrive;
- daily, at 00:15 Asia/Ho_Chi_Minh: the daily VN_AQI of the local day that just ended;
- every minute: the hours late readings touched.
On start, the last hour that ended is computed at once, so that a restart leaves no gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from collector.derived import hour_end
from collector.indices import VIETNAM_TZ

if TYPE_CHECKING:
    from collector.service import Collector


class DerivedScheduler:
    def __init__(
        self,
        collector: Collector,
        *,
        settle_s: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        assert collector.derived is not None
        self.collector = collector
        self.derived = collector.derived
        self.settle_s = settle_s
        self.clock = clock

    def last_hour_end(self) -> datetime:
        return hour_end(self.clock() - timedelta(seconds=self.settle_s)) - timedelta(hours=1)

    async def hourly(self) -> None:
        end = self.last_hour_end()
        await self.collector.derive(lambda: self.derived.hourly(end), f"hour to {end:%H:%M}Z")

    async def daily(self) -> None:
        day = (self.clock().astimezone(VIETNAM_TZ) - timedelta(hours=1)).date()
        await self.collector.derive(lambda: self.derived.daily(day), f"day {day}")

    async def dirty(self) -> None:
        await self.collector.derive(self.derived.recompute_dirty, "late hours", stored=True)

    async def run(self) -> None:
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
        )
        scheduler.add_job(self.hourly, CronTrigger(minute=0, second=self.settle_s), name="hourly")
        scheduler.add_job(
            self.daily, CronTrigger(hour=0, minute=15, timezone=VIETNAM_TZ), name="daily"
        )
        scheduler.add_job(self.dirty, IntervalTrigger(minutes=1), name="late hours")
        await self.hourly()
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)
