"""The shapes shared by the chain and its filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from collector.qc.state import Frame, Ints, SeriesState


@dataclass(frozen=True, slots=True)
class Reflag:
    """An earlier point whose flag changed once later points were seen (flatline's first N-1)."""

    series: int
    ts: int  # ms
    value: float
    status: int
    quality: int
    reason: int


@dataclass
class Context:
    now_ms: int
    reflags: list[Reflag] = field(default_factory=list)
    duplicates: int = 0


Check = Callable[[Frame, Ints, SeriesState, Context], Ints]
Remember = Callable[[Frame, Ints, SeriesState], None]


@dataclass(frozen=True, slots=True)
class QcFilter:
    check: Check
    remember: Remember | None = None
    # False: runs once over the whole flush; True: once per round, in each series' own order.
    stateful: bool = False
