"""The level machine every value rule shares: levels, pending duration, hysteresis.

A ``Ladder`` is a rule's levels 1…n, each with the value that reaches it (``trigger``) and the
value beyond which it ends (``recovery``). ``LevelState`` remembers, per level, since when the
readings have held it without a break. The reported level:

- rises to level L only when the readings have been at or beyond L's trigger without a break
  for ``pending``, counted in the readings' own time (so a replayed backlog is judged as it
  happened, and one glitch reading never fires a rule that has a pending duration);
- falls only when the value goes past a level's recovery value (hysteresis), at once, to the
  highest level whose recovery still holds.

``confirm`` is the clock's part (``Evaluator.tick``): a level whose run has lasted ``pending``
by the clock is reported even if no reading has come since, but only on two readings or more —
one reading is never a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerting.model import Severity
from collector.indices.flood import compare_levels, level_margin


@dataclass(frozen=True, slots=True)
class Step:
    """One level of a ladder."""

    level: int
    trigger: float  # reached at or beyond this value
    recovery: float  # ends strictly beyond this value on the normal side
    severity: Severity
    label: str


@dataclass(frozen=True, slots=True)
class Ladder:
    steps: tuple[Step, ...]  # level 1…n, in order
    rising: bool = True  # True: higher values are worse ("above"); False: "below"
    # Compare at this resolution (a gauge's: water levels against BĐ levels, to the millimetre),
    # with collector.indices.flood.compare_levels, as the collector's flood_level does. None:
    # exactly.
    resolution: float | None = None

    def __post_init__(self) -> None:
        if [s.level for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("ladder steps must be levels 1…n in order")

    @property
    def top(self) -> int:
        return len(self.steps)

    def _at_or_beyond(self, value: float, bound: float) -> bool:
        if self.resolution is None:
            return value >= bound if self.rising else value <= bound
        order = compare_levels(value, bound, self.resolution)
        return order >= 0 if self.rising else order <= 0

    def reached(self, value: float) -> int:
        """The highest level whose trigger the value reaches (0: none)."""
        level = 0
        for step in self.steps:
            if self._at_or_beyond(value, step.trigger):
                level = step.level
            else:
                break
        return level

    def held(self, value: float) -> int:
        """The highest level whose recovery the value has not yet passed."""
        level = 0
        for step in self.steps:
            if self._at_or_beyond(value, step.recovery):
                level = step.level
        return level

    def step(self, level: int) -> Step:
        return self.steps[level - 1]

    def label(self, level: int) -> str:
        return self.steps[level - 1].label if level > 0 else ""

    def severity(self, level: int) -> Severity:
        return self.steps[level - 1].severity if level > 0 else Severity.INFO

    def margin(self, value: float) -> tuple[Step, float]:
        """The level the value has reached (or level 1 when none) and how far past it it is:
        positive beyond the trigger, negative short of it — "trên BĐ II 0,25 m" is always true
        of the value, whatever the hysteresis keeps reported."""
        reached = self.reached(value)
        step = self.steps[max(reached, 1) - 1]
        margin = value - step.trigger if self.rising else step.trigger - value
        if self.resolution is not None:
            margin = level_margin(value, step.trigger, self.resolution)
            margin = margin if self.rising else -margin
        return step, margin

    def next_step(self, value: float) -> Step | None:
        """The first level the value has not reached yet."""
        reached = self.reached(value)
        return self.steps[reached] if reached < self.top else None


@dataclass(slots=True)
class Run:
    since: datetime  # the first reading of an unbroken run at or beyond a level's trigger
    readings: int = 1


@dataclass(slots=True)
class LevelState:
    level: int = 0  # the reported level
    previous_level: int = 0  # before the last change
    runs: list[Run | None] = field(default_factory=list)  # per level, index level − 1
    last_ts: datetime | None = None
    last_value: float | None = None
    changed_at: datetime | None = None

    def pending_run(self, pending: timedelta) -> bool:
        """A run above the reported level that the clock could still confirm."""
        if not pending:
            return False
        for level in range(self.level + 1, len(self.runs) + 1):
            run = self.runs[level - 1]
            if run is not None and run.readings >= 2:
                return True
        return False


def step(
    ladder: Ladder,
    state: LevelState,
    ts: datetime,
    value: float,
    pending: timedelta,
    *,
    may_lower: bool = True,
    max_gap: timedelta | None = None,
) -> bool:
    """Feed one reading; True when the reported level changed. Readings not newer than the
    last one are ignored (a duplicate, or a late reading the state has moved past)."""
    if state.last_ts is not None and ts <= state.last_ts:
        return False
    if not state.runs:
        state.runs = [None] * ladder.top
    if max_gap is not None and state.last_ts is not None and ts - state.last_ts > max_gap:
        state.runs = [None] * ladder.top  # a hole in the series breaks every run
    state.last_ts = ts
    state.last_value = value
    reached = ladder.reached(value)
    confirmed = 0
    for level in range(1, ladder.top + 1):
        run = state.runs[level - 1]
        if level <= reached:
            if run is None:
                run = state.runs[level - 1] = Run(ts)
            else:
                run.readings += 1
            if ts - run.since >= pending:
                confirmed = level
        else:
            state.runs[level - 1] = None
    new = state.level
    if confirmed > state.level:
        new = confirmed
    elif may_lower:
        held = ladder.held(value)
        if held < state.level:
            new = max(held, confirmed)
    return _set(state, new, ts)


def confirm(ladder: Ladder, state: LevelState, now: datetime, pending: timedelta) -> bool:
    """The clock's turn: report a level whose run of two readings or more has lasted
    ``pending`` by ``now``. True when the reported level changed."""
    if not state.runs or not pending:
        return False
    confirmed = 0
    for level in range(1, ladder.top + 1):
        run = state.runs[level - 1]
        if run is not None and run.readings >= 2 and now - run.since >= pending:
            confirmed = level
    if confirmed > state.level:
        return _set(state, confirmed, state.last_ts or now)
    return False


def _set(state: LevelState, level: int, ts: datetime) -> bool:
    if level == state.level:
        return False
    state.previous_level = state.level
    state.level = level
    state.changed_at = ts
    return True
