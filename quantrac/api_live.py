"""The board's live stream: Server-Sent Events of what changed, without a reload.

One watcher per API process, whatever the number of screens: while at least one board listens
it reads every station's latest readings and the open incidents every ``poll_s`` seconds, and
sends each listener the stations whose newest reading or state changed (``event: station``)
and the open incidents when any of them changed (``event: incidents``). It reads the store,
not the bus, so it works the same beside the collector (the demo) and apart from it (``quantrac
api`` on InfluxDB).

Each listener has a bounded queue: a screen that cannot keep up (a tab asleep) is dropped and
counted, never allowed to hold the others back; its browser reconnects and reloads the board.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

log = logging.getLogger(__name__)

QUEUE_SIZE = 64
HEARTBEAT_S = 15.0  # a comment line keeps proxies and the browser from timing the stream out
RETRY_MS = 2000  # how soon a browser reconnects after the stream broke
SORTED_UTC = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z  # one text per state: compared as is


@dataclass
class LiveCounters:
    listeners: int = 0
    dropped: int = 0  # listeners that fell behind and were dropped
    polls: int = 0
    failed_polls: int = 0


@dataclass
class LiveFeed:
    """``stations()``: the public latest of every station, by id; ``incidents()``: the open
    incidents (JSON-ready), or None where the API has no incidents file."""

    stations: Callable[[], Awaitable[dict[str, dict[str, Any]]]]
    incidents: Callable[[], Awaitable[list[dict[str, Any]] | None]]
    poll_s: float = 2.0
    counters: LiveCounters = field(default_factory=LiveCounters)
    _queues: set[asyncio.Queue[tuple[str, str] | None]] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _last_stations: dict[str, str] = field(default_factory=dict)
    _last_incidents: str | None = None
    _primed: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: bool = False

    async def listen(self) -> AsyncIterator[str]:
        """The event stream of one listener, as text/event-stream lines."""
        if self._closed:
            return
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        self.counters.listeners = len(self._queues)
        if self._task is None or self._task.done():
            self._primed = asyncio.Event()
            self._task = asyncio.create_task(self._watch(), name="board-live")
        try:
            # "ready" once the watcher knows where things stand; the board loads its data
            # after it, so whatever changes later reaches it as an event.
            await self._primed.wait()
            yield f"retry: {RETRY_MS}\nevent: ready\ndata: {{}}\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if item is None:  # dropped: fell behind
                    return
                event, data = item
                yield f"event: {event}\ndata: {data}\n\n"
        finally:
            self._queues.discard(queue)
            self.counters.listeners = len(self._queues)

    def close(self) -> None:
        """Ends every stream (the server is stopping): a stream never ends by itself, and the
        server would otherwise wait for it."""
        self._closed = True
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # room for the end marker
            queue.put_nowait(None)
        self._queues.clear()

    def _send(self, event: str, data: str) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:
                self.counters.dropped += 1
                log.warning("board live stream: a listener fell %d events behind; dropped it",
                            QUEUE_SIZE)  # fmt: skip
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # room for the end marker
                queue.put_nowait(None)

    async def _watch(self) -> None:
        failing = False
        while self._queues:
            try:
                await self.poll()
                failing = False
            except Exception as exc:  # the store down: try again next round, say it once
                self.counters.failed_polls += 1
                log.log(logging.DEBUG if failing else logging.WARNING,
                        "board live stream: %s", exc)  # fmt: skip
                failing = True
            self._primed.set()
            await asyncio.sleep(self.poll_s)
        self._last_stations.clear()
        self._last_incidents = None

    async def poll(self) -> None:
        """One round: send what changed since the last."""
        self.counters.polls += 1
        stations = await self.stations()
        for station_id, body in stations.items():
            text = orjson.dumps(body, option=SORTED_UTC).decode()
            if self._last_stations.get(station_id) != text:
                if station_id in self._last_stations:
                    self._send("station", text)
                self._last_stations[station_id] = text
        incidents = await self.incidents()
        if incidents is not None:
            text = orjson.dumps(incidents, option=SORTED_UTC).decode()
            if text != self._last_incidents:
                if self._last_incidents is not None:
                    self._send("incidents", text)
                self._last_incidents = text
