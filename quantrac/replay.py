"""``quantrac rules test``: a history replayed through the rules as the service would judge it.

Pure pieces, each testable alone: which station ids of a history the site does not know (and
which known ids they probably meant), the clock between readings (the service ticks every
fraction of a second; a replay ticks every ``TICK_EVERY`` of history time, so a silent station
raises its deadman notice in the gap as it would have live), and each message as each receiver
would get it.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from alerting.config import AlertingConfig
from alerting.model import Notification, Signal
from alerting.notifiers import ChannelConfig
from alerting.notifiers.sms import SmsConfig, fill, strip_diacritics
from gateway.model import Reading

# How often the replay's clock ticks through a gap between readings, in history time: often
# enough for a deadman of a few minutes, pending levels and group waits to act in the gap.
TICK_EVERY = timedelta(seconds=60)
SUGGESTION_CUTOFF = 0.75  # difflib ratio: "kimlong" → "kim_long", not "phu_oc"


def station_key(station_id: str) -> str:
    """What an id is once spelling slips are set aside: case, ``-``, spaces."""
    return station_id.strip().lower().replace("-", "_").replace(" ", "_")


def near_misses(unknown: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known ids ``unknown`` was probably meant to be: the same id but for case, ``-``/``_``
    and spaces first, else the closest spellings (difflib)."""
    by_key: dict[str, str] = {}
    for station_id in sorted(known):
        by_key.setdefault(station_key(station_id), station_id)
    key = station_key(unknown)
    if key in by_key:
        return [by_key[key]]
    close = difflib.get_close_matches(key, list(by_key), n=limit, cutoff=SUGGESTION_CUTOFF)
    return [by_key[k] for k in close]


@dataclass(frozen=True, slots=True)
class UnknownStation:
    id: str
    rows: int
    suggestions: tuple[str, ...]

    def warning(self) -> str:
        text = f"station {self.id!r} is not in the site: {self.rows:,} row(s) skipped"
        if self.suggestions:
            text += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        return text


def unknown_stations(readings: Iterable[Reading], known: Iterable[str]) -> list[UnknownStation]:
    """Station ids of the history that the site does not know, with their row counts."""
    known_ids = set(known)
    rows = Counter(r.station for r in readings if r.station not in known_ids)
    return [
        UnknownStation(station, count, tuple(near_misses(station, known_ids)))
        for station, count in sorted(rows.items())
    ]


def clock_between(
    previous: datetime, following: datetime, every: timedelta = TICK_EVERY
) -> Iterator[datetime]:
    """The ticks strictly between two readings' times, ``every`` apart after ``previous``."""
    if every <= timedelta(0):
        raise ValueError(f"the tick interval must be positive, got {every}")
    moment = previous + every
    while moment < following:
        yield moment
        moment += every


class RuleClock(Protocol):
    """What a replay needs of alerting.rules.Evaluator."""

    def on_batch(self, readings: Iterable[Reading]) -> list[Signal]: ...
    def tick(self, now: datetime) -> list[Signal]: ...


def replay(
    readings: Sequence[Reading],
    evaluator: RuleClock,
    on_signal: Callable[[Signal], None],
    every: timedelta = TICK_EVERY,
    on_reading: Callable[[], None] | None = None,
) -> None:
    """Each reading in time order, and the clock through the gaps between them."""
    previous: datetime | None = None
    for reading in readings:
        if previous is not None:
            for moment in clock_between(previous, reading.ts, every):
                for signal in evaluator.tick(moment):
                    on_signal(signal)
        for signal in evaluator.on_batch([reading]) + evaluator.tick(reading.ts):
            on_signal(signal)
        previous = reading.ts if previous is None else max(previous, reading.ts)
        if on_reading is not None:
            on_reading()


@dataclass(frozen=True, slots=True)
class AsSent:
    """One message as one receiver would get it."""

    receiver: str
    channels: tuple[str, ...]
    title: str  # "" where the channel has none (SMS)
    text: str


def receiver_channels(config: AlertingConfig, receiver: str) -> tuple[str, ...]:
    routing = config.routing
    if receiver in routing.recipients:
        return tuple(routing.recipients[receiver].channels)
    if receiver in routing.endpoints:
        return (routing.endpoints[receiver],)
    return ()


def as_sent(
    notification: Notification,
    receivers: Sequence[str],
    config: AlertingConfig,
    channel_configs: Mapping[str, ChannelConfig] | None = None,
) -> list[AsSent]:
    """Per receiver and channel: the title and text it would carry. An SMS is its configured
    ``message`` (``{title}``, ``{text}``…), without diacritics when the notifier strips them;
    the other channels carry the title and the text."""
    configs = channel_configs if channel_configs is not None else config.channel_configs()
    out: list[AsSent] = []
    for receiver in receivers:
        channels = receiver_channels(config, receiver)
        sms = [c for c in channels if c == "sms"]
        others = tuple(c for c in channels if c != "sms")
        if others or not channels:
            out.append(AsSent(receiver, others, notification.title, notification.text))
        for channel in sms:
            sms_config = configs.get(channel)
            template = sms_config.message if isinstance(sms_config, SmsConfig) else "{text}"
            values = {
                "title": notification.title,
                "text": notification.text,
                "text_en": notification.text_en,
                "district": notification.district,
            }
            body = str(fill(template, values))
            if isinstance(sms_config, SmsConfig) and sms_config.without_diacritics:
                body = strip_diacritics(body)
            out.append(AsSent(receiver, (channel,), "", body))
    return out
