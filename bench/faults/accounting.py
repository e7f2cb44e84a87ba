"""The fault suite's arithmetic, pure: what was expected, what is stored, and the table.

A reading's identity is its point key (station, param, ts in ms): the store keeps one sample
per key, so a key the bench published and the broker acknowledged but the store lacks is lost,
and every sample beyond the first of a key is a duplicate.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

Key = tuple[str, str, int]  # (station, param, ts in ms UTC)
PARAM = "water_level"  # what the suite's river gauges send
RAIN = "rain"  # what its rain gauges send (the collector derives rain totals from it)


@dataclass(frozen=True)
class Tally:
    expected: int  # keys published and PUBACKed by the stations' broker
    stored: int  # of those, the ones the store holds
    duplicates: int  # samples beyond one per key, over every series of the store
    lost: int  # expected, not stored

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicates == 0


def tally(expected: Set[Key], samples: Mapping[Key, int]) -> Tally:
    """``samples``: how many samples the store holds per key (every series, derived too)."""
    stored = sum(1 for key in expected if samples.get(key, 0) > 0)
    duplicates = sum(count - 1 for count in samples.values() if count > 1)
    return Tally(len(expected), stored, duplicates, len(expected) - stored)


def count_samples(keys: Iterable[Key]) -> Counter[Key]:
    return Counter(keys)


def missing(expected: Set[Key], stored: Set[Key]) -> int:
    return len(expected - stored)


@dataclass(frozen=True)
class Flow:
    """How the clean stream flowed over a window (an outage): on time or not at all."""

    published: int  # readings published by the stations within the window
    arrived: int  # of those, the ones that came out on the clean stream within the window
    longest_silence_s: float  # the longest stretch of the window without a clean reading
    p95_delay_s: float  # device time → clean stream, of those that arrived (NaN: none)

    def describe(self) -> str:
        share = f"{self.arrived}/{self.published}"
        delay = "—" if math.isnan(self.p95_delay_s) else f"{self.p95_delay_s:.1f} s"
        return (
            f"clean {share} on time, longest silence {self.longest_silence_s:.1f} s, "
            f"p95 delay {delay}"
        )


def flow(
    published_ts: Collection[float],
    arrivals: Sequence[tuple[float, float]],
    start: float,
    end: float,
) -> Flow:
    """The clean stream over [start, end] (wall-clock seconds).

    ``published_ts``: device times of the readings published; ``arrivals``: (arrival time,
    device time) of each clean reading. A reading counts as on time when both its device time
    and its arrival fall in the window: a reading that waits for the store to come back does
    not.
    """
    inside = [(at, ts) for at, ts in arrivals if start <= at <= end and start <= ts <= end]
    published = sum(1 for ts in published_ts if start <= ts <= end)
    times = sorted(at for at, _ in inside)
    edges = [start, *times, end]
    silence = max(b - a for a, b in itertools.pairwise(edges))
    delays = sorted(at - ts for at, ts in inside)
    return Flow(published, len(inside), silence, percentile(delays, 0.95))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


@dataclass(frozen=True)
class Row:
    """One line of the table: a fault and what the store showed after it."""

    fault: str
    tally: Tally | None  # None: the row could not be run (its reason in notes)
    catch_up_s: float | None  # None: not caught up within the limit
    limit_s: float
    notes: tuple[str, ...] = ()
    # Database outages: did the clean stream and the flood warning flow on time (None: n/a).
    outage_on_time: bool | None = None

    @property
    def passed(self) -> bool:
        return (
            self.tally is not None
            and self.tally.clean
            and self.catch_up_s is not None
            and self.outage_on_time is not False
        )


def catch_up_text(row: Row) -> str:
    if row.tally is None:
        return "—"
    if row.catch_up_s is None:
        return f"> {row.limit_s:.0f} s"
    return f"{row.catch_up_s:.1f} s"


HEADER = ("fault", "expected", "stored", "duplicates", "lost", "time to catch up")


def table(rows: Sequence[Row]) -> str:
    """A Markdown table (the same in the terminal and in docs/benchmarks.md)."""
    lines: list[tuple[str, ...]] = [HEADER]
    for row in rows:
        t = row.tally
        numbers = (
            (f"{t.expected:,}", f"{t.stored:,}", f"{t.duplicates:,}", f"{t.lost:,}")
            if t
            else ("—",) * 4
        )
        lines.append((row.fault, *numbers, catch_up_text(row)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]

    def render(cells: tuple[str, ...]) -> str:
        padded = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join("-" * (w - 1) + (":" if i else "-") for i, w in enumerate(widths))
    out = [render(lines[0]), rule + " |", *(render(line) for line in lines[1:])]
    return "\n".join(out)


def notes(rows: Sequence[Row]) -> str:
    return "\n".join(f"- {row.fault}: {'; '.join(row.notes)}" for row in rows if row.notes)


_RANK = {"ok": 0, "degraded": 1, "down": 2, "no answer": 3}


def worse(a: str, b: str) -> str:
    """The worse of two health statuses ("no answer" is worst: it could not even say)."""
    return a if _RANK.get(a, 3) >= _RANK.get(b, 3) else b


def drop_counters(
    health: Mapping[str, object], path: str = "", dropping: bool = False
) -> dict[str, float]:
    """Every non-zero counter of a /health answer whose name (or whose parent's, as in
    ``dropped_by_station.wl_burst``) says it dropped something."""
    found: dict[str, float] = {}
    for name, value in health.items():
        where = f"{path}.{name}" if path else str(name)
        named = dropping or "drop" in str(name)
        if isinstance(value, Mapping):
            found.update(drop_counters(value, where, named))
        elif named and isinstance(value, int | float) and not isinstance(value, bool) and value:
            found[where] = float(value)
    return found
