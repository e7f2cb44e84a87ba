"""The "running" wrapper of polled drivers: schedule, timeout, health, logging, publishing.

Stations are polled on their interval, aligned to it (a 60 s station reads at :00 of every
minute). Each interval is one APScheduler job whose run starts the polls of all its stations at
once (one job per station cost a fifth of a 500-station gateway's CPU in the scheduler alone,
issue 12). A station never overlaps itself: a slot that finds its previous poll still running
is skipped; a slot missed because the process was stalled is skipped for every station of the
interval (``coalesce``). Both are counted in the station's ``missed_runs``, never caught up.
A failing station is logged once at ERROR, then at DEBUG until it recovers, and never delays
the others: polls run concurrently, a station waits only for its own line.
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
        self._busy: set[str] = set()  # stations whose poll runs now
        self._groups: dict[str, list[PolledDriver]] = {}  # job id → the stations it polls
        self._scheduler: AsyncIOScheduler | None = None  # while run() runs: add() and remove()
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
        self._groups = {}
        for driver in self.drivers:
            self._groups.setdefault(_job_id(driver), []).append(driver)
        for job_id, drivers in self._groups.items():
            self._add_job(scheduler, job_id, drivers, now)
        scheduler.start()
        self._scheduler = scheduler
        try:
            await asyncio.Event().wait()
        finally:
            self._scheduler = None
            scheduler.shutdown(wait=False)
            # APScheduler leaves running coroutine jobs alone; a stopping gateway must not
            # leave polls behind (they would be reported later as failed jobs).
            running = list(self._running)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _add_job(
        self, scheduler: AsyncIOScheduler, job_id: str, drivers: list[PolledDriver], now: float
    ) -> None:
        interval = drivers[0].interval_s
        scheduler.add_job(
            self._slot,
            IntervalTrigger(
                seconds=interval,
                start_date=datetime.fromtimestamp(next_slot(now, interval), UTC),
            ),
            args=[interval, drivers],  # the group's own list: add() and remove() change it
            id=job_id,
            name=f"poll every {interval:g} s",
            misfire_grace_time=max(1, int(interval / 2)),
        )

    def add(self, driver: PolledDriver) -> None:
        """Poll one more station from its interval's next slot on (hot reload): it joins the
        job of its interval, or starts one. Its health is kept if it was polled before."""
        self.drivers.append(driver)
        self.health.setdefault(driver.station_id, StationHealth(driver.station_id))
        if self._scheduler is None:
            return  # run() groups self.drivers when it starts
        job_id = _job_id(driver)
        group = self._groups.get(job_id)
        if group is not None:
            group.append(driver)
            return
        self._groups[job_id] = [driver]
        self._add_job(self._scheduler, job_id, self._groups[job_id], time.time())

    def remove(self, station_id: str, *, forget: bool = True) -> None:
        """Stop polling a station (hot reload). A poll of it already running finishes and
        publishes its batch; ``forget`` drops its health too (a station removed from the site,
        not one being replaced)."""
        self.drivers = [d for d in self.drivers if d.station_id != station_id]
        if forget:
            self.health.pop(station_id, None)
        for job_id, group in list(self._groups.items()):
            group[:] = [d for d in group if d.station_id != station_id]
            if not group:
                del self._groups[job_id]
                if self._scheduler is not None:
                    self._scheduler.remove_job(job_id)

    def polling(self, station_id: str) -> bool:
        """Whether a poll of this station runs now."""
        return station_id in self._busy

    def _on_skipped(self, event: JobEvent) -> None:
        for driver in self._groups.get(event.job_id, ()):
            self.health[driver.station_id].missed_runs += 1
        log.debug("%s: a scheduled slot was skipped (%s)", event.job_id, event.code)

    async def _slot(self, interval_s: float, drivers: list[PolledDriver]) -> None:
        """Start this slot's polls, each in a task of its own; a station still polling its
        previous slot skips this one (counted)."""
        # The slot this run belongs to: readings of devices without a clock are stamped with
        # it, so a 60 s station's values sit on whole minutes whatever the jitter.
        slot = math.floor(time.time() / interval_s) * interval_s
        ts = datetime.fromtimestamp(slot, UTC)
        for driver in drivers:
            station = driver.station_id
            if station in self._busy:
                self.health[station].missed_runs += 1
                log.debug("%s: the slot of %s was skipped: the last poll still runs", station, ts)
                continue
            self._busy.add(station)
            task = asyncio.create_task(self._scheduled_poll(driver, ts, slot))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _scheduled_poll(self, driver: PolledDriver, ts: datetime, slot: float) -> None:
        try:
            self.jitter.append(time.time() - slot)
            await self.poll_once(driver, ts)
        finally:
            self._busy.discard(driver.station_id)

    async def poll_once(self, driver: PolledDriver, ts: datetime) -> ReadingBatch:
        """Read one station once and publish its batch (with ``station_online``)."""
        # A station removed by a reload while its slot started still finishes this poll.
        health = self.health.get(driver.station_id) or StationHealth(driver.station_id)
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


def _job_id(driver: PolledDriver) -> str:
    """One job per interval: its stations' polls start together."""
    return f"slot-{driver.interval_s:g}s"
