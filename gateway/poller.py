"""The "running" wrapper of polled drivers: schedule, timeout, health, logging, publishing.

Each station is an APScheduler job on its own interval, aligned to it (a 60 s station reads at
:00 of every minute), never overlapping itself (``max_instances=1``); a slot skipped because
the previous poll overran, or missed because the process was stalled, is counted, not caught up
(``coalesce``). A failing station is logged once at ERROR, then at DEBUG until it recovers, and
never delays the others: jobs run concurrently, a station waits only for its own line.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from gateway.model import DeviceStatus, Reading, ReadingBatch

log = logging.getLogger(__name__)


class PolledDriver(Protocol):
    @property
    def station_id(self) -> str: ...

    @property
    def interval_s(self) -> float: ...

    async def read(self, ts: datetime) -> list[Reading]: ...


@dataclass
class StationHealth:
    station: str
    online: bool = False
    last_success: datetime | None = None
    last_error: str = ""
    consecutive_failures: int = 0
    errors: int = 0
    polls: int = 0
    missed_runs: int = 0


Publish = Callable[[ReadingBatch], Awaitable[None]]


def next_slot(now: float, interval_s: float) -> float:
    """The next instant after ``now`` that is a multiple of the interval (epoch-aligned)."""
    return (math.floor(now / interval_s) + 1) * interval_s


class Poller:
    def __init__(
        self,
        gateway_id: str,
        drivers: Sequence[PolledDriver],
        publish: Publish,
        *,
        poll_timeout_s: float | None = None,
        next_seq: Callable[[], int] | None = None,
    ) -> None:
        self.gateway_id = gateway_id
        self.drivers = list(drivers)
        self.publish = publish
        self.poll_timeout_s = poll_timeout_s
        self.health = {d.station_id: StationHealth(d.station_id) for d in self.drivers}
        self.jitter: deque[float] = deque(maxlen=100_000)  # start delay of recent runs, s
        self._running: set[asyncio.Task[Any]] = set()
        # Batch numbers: from the outbox when there is one, so they survive restarts.
        self.next_seq = next_seq or itertools.count(1).__next__

    async def run(self) -> None:
        """Poll every station on schedule until cancelled."""
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                # A run more than this late is "missed" (counted), not run late.
                "misfire_grace_time": 1,
            },
        )
        scheduler.add_listener(self._on_skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        now = time.time()
        for driver in self.drivers:
            interval = driver.interval_s
            scheduler.add_job(
                self._scheduled_poll,
                IntervalTrigger(
                    seconds=interval,
                    start_date=datetime.fromtimestamp(next_slot(now, interval), UTC),
                ),
                args=[driver],
                id=driver.station_id,
                name=f"poll {driver.station_id}",
                misfire_grace_time=max(1, int(interval / 2)),
            )
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)
            # APScheduler leaves running coroutine jobs alone; a stopping gateway must not
            # leave polls behind (they would be reported later as failed jobs).
            running = list(self._running)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _on_skipped(self, event: JobEvent) -> None:
        health = self.health.get(event.job_id)
        if health is not None:
            health.missed_runs += 1
            log.debug("%s: a scheduled poll was skipped (%s)", event.job_id, event.code)

    async def _scheduled_poll(self, driver: PolledDriver) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        now = time.time()
        # The slot this run belongs to: readings of devices without a clock are stamped with
        # it, so a 60 s station's values sit on whole minutes whatever the jitter.
        slot = math.floor(now / driver.interval_s) * driver.interval_s
        self.jitter.append(now - slot)
        await self.poll_once(driver, datetime.fromtimestamp(slot, UTC))

    async def poll_once(self, driver: PolledDriver, ts: datetime) -> ReadingBatch:
        """Read one station once and publish its batch (with ``station_online``)."""
        health = self.health[driver.station_id]
        health.polls += 1
        # A poll never outlives its slot: the next one would be skipped otherwise.
        timeout = self.poll_timeout_s or driver.interval_s * 0.9
        readings: list[Reading] = []
        try:
            async with asyncio.timeout(timeout):
                readings = await driver.read(ts)
        except Exception as exc:  # one station's failure must never stop the gateway
            self._failed(health, exc)
        else:
            if not health.online and health.consecutive_failures:
                log.info(
                    "%s: back online after %d failed poll(s)",
                    driver.station_id,
                    health.consecutive_failures,
                )
            health.online = True
            health.consecutive_failures = 0
            health.last_success = ts
        online = Reading(
            station=driver.station_id,
            param="station_online",
            value=1.0 if health.online else 0.0,
            unit="bool",
            ts=ts,
            status=DeviceStatus.MEASURING,
        )
        batch = ReadingBatch(
            gateway=self.gateway_id,
            seq=self.next_seq(),
            station=driver.station_id,
            readings=(*readings, online),
        )
        await self.publish(batch)
        return batch

    @staticmethod
    def _failed(health: StationHealth, exc: Exception) -> None:
        health.errors += 1
        health.consecutive_failures += 1
        health.last_error = str(exc) or type(exc).__name__
        if health.online or health.consecutive_failures == 1:
            log.error("%s: offline: %s", health.station, health.last_error)
        else:
            log.debug("%s: still offline: %s", health.station, health.last_error)
        health.online = False
