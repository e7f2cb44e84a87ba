"""The interface of streaming drivers (MQTT stations, TT10 files): they push, the runner numbers.

A streaming driver knows its input (a broker, an inbox folder) and the payload format; it does
not know the bus, the outbox or the stores. It hands what it decoded to a :class:`ReadingSink`
and what it could not decode to a :class:`DeadLetter` — and goes on with the next message.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.deadletter import DeadLetterRecord
from gateway.model import Reading

# (station id, readings of that station from one message or file)
ReadingSink = Callable[[str, Sequence[Reading]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input the driver could not use, with where it came from and why."""

    source: str  # the MQTT topic, or the file path and line
    reason: str
    payload: bytes
    station: str = ""

    def to_json(self) -> bytes:
        """The dead letter as published: the payload cut to a few KB, with its size and hash.

        Never the whole payload: a hostile 1 MB message must not go round the bus again. The
        first 4 KB hold the usual station message whole, to replay once its profile is fixed.
        """
        record = DeadLetterRecord.of(
            self.source, "", self.reason, self.payload, station=self.station
        )
        document = record.as_dict()
        document["reason"] = document.pop("detail")
        return json.dumps(document, ensure_ascii=False).encode()


DeadLetter = Callable[[Rejected], Awaitable[None]]


class StreamingDriver(Protocol):
    async def run(self, sink: ReadingSink, dead_letter: DeadLetter) -> None:
        """Receive until cancelled; never raise for one bad message."""

    def health(self) -> dict[str, Any]:
        """Counters for /health: per station and in total."""
