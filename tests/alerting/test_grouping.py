"""Grouping (alerting.routing.Grouper): what leaves a group when its wait is over.

Issue 11: a station's offline notice and its recovery inside one group wait (one failed poll)
left as "có tín hiệu trở lại" alone. An alarm that fires and ends within the wait is neither
sent (Alertmanager's rule: no all-clear for an alarm nobody got).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from alerting.incidents import Incident, IncidentState, Transition
from alerting.model import AlertKind, NotificationState, Severity
from alerting.routing import Grouper

T0 = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
WAIT = timedelta(seconds=3)
F, E, D, R = (NotificationState.FIRING, NotificationState.ESCALATED,
              NotificationState.DEESCALATED, NotificationState.RESOLVED)  # fmt: skip


def incident(rule: str, station: str, level: int, revision: int, start: int = 0) -> Incident:
    return Incident(
        id=f"{rule}:{station}",
        rule=rule,
        station=station,
        kind=AlertKind.STATION if rule == "no_data" else AlertKind.FLOOD,
        state=IncidentState.RESOLVED if level == 0 else IncidentState.FIRING,
        level=level,
        severity=Severity.INFO if level == 0 else Severity.WARNING,
        started_at=T0 + timedelta(minutes=start),
        updated_at=T0 + timedelta(minutes=start, seconds=revision),
        resolved_at=T0 if level == 0 else None,
        revision=revision,
    )


def render(transitions: Sequence[Transition]) -> tuple[str, str, str]:
    text = ", ".join(f"{t.incident.id} {t.change.value}" for t in transitions)
    return text, text, text


def grouper() -> Grouper:
    return Grouper(WAIT, ["kind"], {"phu_oc": "Phong Điền", "kim_long": "Huế"}, render)


def feed(changes: list[tuple[str, NotificationState, int]]) -> tuple[list[str], int]:
    """Each (station, change, level) one second apart, within one wait: what leaves, and how
    many alarms fired and ended unsent."""
    group = grouper()
    revisions: dict[str, int] = {}
    starts: dict[str, int] = {}
    for second, (station, change, level) in enumerate(changes):
        if change is F:
            starts[station] = starts.get(station, -1) + 1
            revisions[station] = 0
        else:
            revisions[station] += 1
        found = incident("no_data", station, level, revisions[station], starts[station])
        group.add(Transition(found, change, 0), T0 + timedelta(seconds=second * 0.5))
    out = group.due(T0 + timedelta(minutes=1))
    assert group.pending == 0
    assert group.incidents() == set()
    return [n.text for n in out], group.flapped


@pytest.mark.parametrize(
    ("changes", "sent", "flapped"),
    [
        # One failed poll: offline, then back, within the wait: nothing at all.
        ([("phu_oc", F, 1), ("phu_oc", R, 0)], [], 1),
        # Fired, changed level, ended: still nobody heard of it.
        ([("phu_oc", F, 1), ("phu_oc", E, 2), ("phu_oc", D, 1), ("phu_oc", R, 0)], [], 1),
        # Another station's news in the same group still leaves.
        ([("phu_oc", F, 1), ("kim_long", F, 1), ("phu_oc", R, 0)],
         ["no_data:kim_long firing"], 1),
        # Ended, then a new alarm of the same station: that one is news.
        ([("phu_oc", F, 1), ("phu_oc", R, 0), ("phu_oc", F, 1)], ["no_data:phu_oc firing"], 1),
        # A firing alone leaves as it is.
        ([("phu_oc", F, 1)], ["no_data:phu_oc firing"], 0),
    ],
    ids=["flap", "flap-with-levels", "other-station", "flap-then-fire", "firing"],
)  # fmt: skip
def test_an_alarm_that_fires_and_ends_within_the_wait_is_not_sent(
    changes: list[tuple[str, NotificationState, int]], sent: list[str], flapped: int
) -> None:
    assert feed(changes) == (sent, flapped)


def test_the_all_clear_of_an_alarm_sent_in_an_earlier_group_leaves() -> None:
    group = grouper()
    firing = Transition(incident("no_data", "phu_oc", 1, 0), F, 0)
    assert group.add(firing, T0) == []
    (sent,) = group.due(T0 + WAIT)
    assert sent.state is F
    resolved = Transition(incident("no_data", "phu_oc", 0, 1), R, 1)
    assert group.add(resolved, T0 + WAIT) == []
    (ended,) = group.due(T0 + 2 * WAIT)
    assert (ended.state, ended.text, group.flapped) == (R, "no_data:phu_oc resolved", 0)


def test_add_returns_the_transitions_that_will_never_leave() -> None:
    group = grouper()
    firing = Transition(incident("no_data", "phu_oc", 1, 0), F, 0)
    resolved = Transition(incident("no_data", "phu_oc", 0, 1), R, 1)
    group.add(firing, T0)
    assert group.add(resolved, T0 + timedelta(seconds=1)) == [firing, resolved]
    assert group.pending == 0
