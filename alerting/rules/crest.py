"""Where the water is going now, and the crest of a flood: what a message says after the turn.

Issue 11: after the crest a message said "3,80 m, đang lên 8 cm/giờ" while the river was
falling. The least-squares rate over the last hour (what a trend rule judges) still rose: most
of its hour was rising water. A message's word is about the last readings, so:

- ``motion`` looks for the turn inside the window: when the last reading is ``TURN_M`` or more
  below the window's highest point, two readings or more after it, the river has turned, and
  the rate fitted since that point is said ("đang xuống 4 cm/giờ"), or nothing when it is about
  flat ("ít biến đổi"). Otherwise the window's rate is said (the steadier number).
- ``CrestState``/``track_crest`` keep the highest reading of a flood alarm (level ≥ 1) and its
  time, and confirm the fall once two readings in a row are ``CREST_FALL_M`` or more below it:
  then, once, the crest is news ("đỉnh lũ 3,82 m lúc 17:45").

Pure: the rules call these with their own state; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alerting.rules.series import rate_per_hour
from collector.indices.flood import GAUGE_RESOLUTION_M, compare_levels, level_margin

Direction = Literal["rising", "falling", "steady"]

# Below this rate (per hour, the value's unit) the water is "steady": messages already leave
# out rates under 1 cm/h (alerting/templates.py).
STEADY_M_PER_H = 0.01
# The water has turned when its last reading is this far from the window's highest (lowest)
# point, with two readings or more since: twice a gauge's usual noise (±1 cm), and the 3,82 →
# 3,80 m of issue 11's message.
TURN_M = 0.02
TURN_READINGS = 2
# A crest is confirmed once two readings in a row are this far below it: 5 cm, fifty times
# the gauge's resolution and the example site's hysteresis (examples/hue/rules.yaml), more than
# a gauge's noise, less than an hour of a Hương flood's fall.
CREST_FALL_M = 0.05
CREST_READINGS = 2
# A reading this far above both its neighbours is a glitch QC let through, not a crest: at
# its crest a river's rate goes through zero, it does not rise and fall 30 cm within two
# readings (a real crest read hourly at ±10–20 cm must still count).
CREST_SPIKE_M = 0.30


@dataclass(frozen=True, slots=True)
class Motion:
    """What the last readings say: a direction and the rate to print (unit per hour)."""

    direction: Direction
    rate_per_h: float
    turned: bool  # the readings since the window's crest (trough) go against the window's fit


def _direction(rate: float, steady: float) -> Direction:
    if abs(rate) < steady:
        return "steady"
    return "rising" if rate > 0 else "falling"


def _turn(
    points: Sequence[tuple[datetime, float]],
    extreme: int,
    turn: float,
    steady: float,
    time_scale: float,
) -> Motion | None:
    """The motion since ``points[extreme]`` (the window's highest or lowest point), when the
    water has moved ``turn`` away from it over ``TURN_READINGS`` readings or more."""
    since = points[extreme:]
    if len(since) <= TURN_READINGS:
        return None
    if abs(level_margin(since[-1][1], since[0][1])) < turn:
        return None
    rate = rate_per_hour(since) / time_scale
    return Motion(_direction(rate, steady), rate, turned=True)


def motion(
    points: Sequence[tuple[datetime, float]],
    window_rate: float | None,
    *,
    steady: float = STEADY_M_PER_H,
    turn: float = TURN_M,
    time_scale: float = 1.0,
) -> Motion | None:
    """The direction and rate a message prints for a water level; None without a window rate.

    The window's fit, unless the water has turned inside the window: a rise whose highest point
    is behind the last readings by ``turn`` or more is a fall, at the rate fitted since that
    point (and a fall likewise a rise). Issue 11: "3,80 m, đang lên 8 cm/giờ" after a crest of
    3,82 m is now "đang xuống". Rates are per hour of a clock ``time_scale`` times slower than
    the readings' (the demo's storm hour); ``window_rate`` is given so already."""
    if window_rate is None:
        return None
    way = _direction(window_rate, steady)
    points = list(points)  # a SeriesWindow's deque: sliced below (≤ 120 points, per signal)
    if len(points) > TURN_READINGS:
        values = [v for _, v in points]
        highest = values.index(max(values))  # the first time at the crest
        lowest = values.index(min(values))
        candidates = {"rising": [highest], "falling": [lowest]}.get(way, [])
        if way == "steady":  # a flat fit: the latest extreme tells where the water went
            candidates = sorted((highest, lowest), reverse=True)
        for extreme in candidates:
            turned = _turn(points, extreme, turn, steady, time_scale)
            if turned is not None:
                return turned
        # The way of the fit, since the window's opposite extreme when one is inside it: a fall
        # since a crest in the window is said at its own rate, not at the window's, which the
        # rise before the crest flattens (the demo said "đang xuống 8 cm/giờ" at 2,96 m, 84 cm
        # under a crest half a storm hour before).
        opposite = {"rising": lowest, "falling": highest}.get(way, 0)
        since = _turn(points, opposite, turn, steady, time_scale) if opposite > 0 else None
        if since is not None and since.direction == way:
            return Motion(way, since.rate_per_h, turned=False)
    return Motion(way, window_rate, turned=False)


@dataclass(slots=True)
class CrestState:
    """The highest reading of the current (or last) flood alarm, and whether its fall has been
    confirmed (and so reported)."""

    value: float | None = None
    ts: datetime | None = None
    passed: bool = False
    below: int = 0  # readings in a row at least CREST_FALL_M below the crest
    alarm: bool = False  # tracking an alarm now (level ≥ 1)
    # A new highest reading waits for the next one before it is the crest: a one-reading spike
    # that QC let through is not a crest (as the level machine's pending ignores it too).
    candidate: tuple[datetime, float] | None = None
    before: float | None = None  # the reading before the candidate
    last: float | None = None  # the latest reading

    def facts(self) -> dict[str, object]:
        """``crest_m``, ``crest_at`` (the highest reading of this alarm so far) and
        ``crest_passed``; {} before any alarm."""
        if self.value is None or self.ts is None:
            return {}
        return {"crest_m": self.value, "crest_at": self.ts.isoformat(), "crest_passed": self.passed}


def _spike(before: float | None, candidate: float, after: float, size: float) -> bool:
    return before is not None and candidate - before >= size and candidate - after >= size


def track_crest(
    crest: CrestState,
    ts: datetime,
    value: float,
    level: int,
    *,
    fall: float = CREST_FALL_M,
    readings: int = CREST_READINGS,
    spike: float = CREST_SPIKE_M,
    resolution: float = GAUGE_RESOLUTION_M,
) -> bool:
    """Feed one reading with the reported level after it; True when this reading confirms the
    crest's fall (once per crest). A new alarm starts a new crest; the last alarm's crest is
    kept at level 0, so the all-clear can still say it."""
    try:
        if level <= 0:
            crest.alarm, crest.candidate = False, None
            return False
        if not crest.alarm:
            crest.value, crest.ts, crest.passed, crest.below = None, None, False, 0
            crest.alarm, crest.candidate = True, None
        if crest.candidate is not None:
            at, candidate = crest.candidate
            crest.candidate = None
            if not _spike(crest.before, candidate, value, spike):
                crest.value, crest.ts, crest.passed, crest.below = candidate, at, False, 0
        if crest.value is None or compare_levels(value, crest.value, resolution) > 0:
            # Higher water: the crest to be, once the next reading shows it was no spike (a
            # flood with two peaks gets each reported).
            crest.candidate, crest.before = (ts, value), crest.last
            return False
        if crest.passed:
            return False
        crest.below = crest.below + 1 if level_margin(crest.value, value, resolution) >= fall else 0
        if crest.below >= readings:
            crest.passed = True
            return True
        return False
    finally:
        crest.last = value
