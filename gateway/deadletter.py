"""Dead letters: what a service refused at its boundary, counted by reason and kept short.

A refused message is never republished or kept whole: an 8 MB payload would go round the bus
again, and a flood of them would fill memory. A record keeps the first :data:`KEEP_BYTES`
bytes, the full size and the SHA-256 of the payload — enough to recognise it, to find the
sender in a broker's log, and to replay the usual station message (a few hundred bytes) once
its profile is fixed.

:class:`DeadLetters` is the bookkeeping of one consumer: counters by reason code (the
``reason`` of :class:`gateway.wire.WireError`), the last few records, a WARNING for the first
refusal of each topic (then DEBUG until that topic sends a good message again), and the
last-resort count of unexpected errors (``internal_errors``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections import Counter, deque
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.wire import WireError, short

KEEP_BYTES = 4096
_MAX_LOGGED_TOPICS = 10_000  # a flood of random topics must not grow memory without bound


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One refused message: where from, why, and its payload cut to :data:`KEEP_BYTES`."""

    source: str  # the topic, or a file path and line
    reason: str  # a reason code (too_large, not_json, bad_time…)
    detail: str  # what exactly is wrong, where
    size: int  # of the whole payload, in bytes
    sha256: str  # of the whole payload
    head: bytes  # its first KEEP_BYTES bytes
    at: datetime
    station: str = ""

    @classmethod
    def of(
        cls,
        source: str,
        reason: str,
        detail: str,
        payload: bytes,
        *,
        station: str = "",
        at: datetime | None = None,
    ) -> DeadLetterRecord:
        return cls(
            source=short(source, 1024),
            reason=reason,
            detail=short(detail, 2048),
            size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest(),
            head=bytes(payload[:KEEP_BYTES]),
            at=at or _now(),
            station=station,
        )

    @property
    def truncated(self) -> bool:
        return self.size > len(self.head)

    def summary(self) -> dict[str, Any]:
        """Everything but the payload (for /health)."""
        return {
            "source": self.source,
            "station": self.station,
            "reason": self.reason,
            "detail": self.detail,
            "size": self.size,
            "sha256": self.sha256,
            "at": self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def as_dict(self) -> dict[str, Any]:
        """The summary with the payload's head: as text when it is UTF-8, else base64."""
        text = _utf8_head(self.head, self.truncated)
        kept = {"payload": text} if text is not None else {
            "payload_base64": base64.b64encode(self.head).decode()
        }  # fmt: skip
        return {**self.summary(), "truncated": self.truncated, **kept}

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), ensure_ascii=False).encode()


def _utf8_head(head: bytes, truncated: bool) -> str | None:
    """The head as text; a cut may have split the last character (up to 3 bytes of it)."""
    for cut in range(4 if truncated else 1):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


class DeadLetters:
    """The dead letters and last-resort errors of one consumer, for its health()."""

    def __init__(self, what: str, logger: logging.Logger, *, keep: int = 16) -> None:
        self.what = what
        self.log = logger
        self.counts: Counter[str] = Counter()  # by reason code
        self.internal_errors = 0
        self.recent: deque[DeadLetterRecord] = deque(maxlen=keep)
        self._failing_topics: set[str] = set()
        self._error_kinds: set[str] = set()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def refuse(self, topic: str, payload: bytes, error: WireError) -> DeadLetterRecord:
        """Count and keep a message the boundary refused; the first of a topic is a WARNING."""
        record = DeadLetterRecord.of(topic, error.reason, str(error), payload)
        self.counts[record.reason] += 1
        self.recent.append(record)
        first = topic not in self._failing_topics and len(self._failing_topics) < _MAX_LOGGED_TOPICS
        if first:
            self._failing_topics.add(topic)
        self.log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: refused a message on %s (%s, %d bytes, sha256 %s): %s%s",
            self.what,
            record.source,
            record.reason,
            record.size,
            record.sha256[:16],
            record.detail,
            " (further ones on this topic at debug until a good message)" if first else "",
        )
        return record

    def good(self, topic: str) -> None:
        """A topic sent a good message: its next refusal is worth a WARNING again."""
        self._failing_topics.discard(topic)

    def internal_error(self, topic: str, error: BaseException) -> None:
        """The last resort: an unexpected error while handling one message, counted.

        Logged with its traceback the first time this kind of error happens, then at DEBUG:
        the consumer goes on with the next message.
        """
        self.internal_errors += 1
        kind = type(error).__name__
        first = kind not in self._error_kinds and len(self._error_kinds) < 100
        if first:
            self._error_kinds.add(kind)
        self.log.log(
            logging.ERROR if first else logging.DEBUG,
            "%s: unexpected %s while handling a message on %s; going on with the next%s",
            self.what,
            kind,
            short(topic, 200),
            " (further ones at debug)" if first else "",
            exc_info=error,
        )

    def health(self) -> dict[str, Any]:
        last = self.recent[-1].summary() if self.recent else None
        return {
            "dead_letters": dict(self.counts),
            "internal_errors": self.internal_errors,
            "last_dead_letter": last,
        }


class LastResort:
    """The last-resort guard of a consumer loop that has its own counters elsewhere.

    Counts under ``counter[key]`` and logs the first error of each kind with its traceback.
    """

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        counter: MutableMapping[str, int],
        key: str = "internal",
    ) -> None:
        self._errors = DeadLetters(what, logger, keep=0)
        self._counter = counter
        self._key = key

    def __call__(self, topic: str, error: BaseException) -> None:
        self._counter[self._key] = self._counter.get(self._key, 0) + 1
        self._errors.internal_error(topic, error)
