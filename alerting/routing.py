"""From transitions to notifications: inhibition, grouping, and the routing tree (issue 7).

- **Inhibition.** An offline station (an open ``station`` incident) holds the notifications of
  its own other rules. Of the incidents of one station and one kind, only the highest level
  speaks: a trend warning says nothing while the same gauge is at BĐ III.
- **Grouping.** Transitions that share a group (kind and district by default) within
  ``group_wait`` become one notification: one storm is one message with ten stations. An alarm
  that fires and ends within its group's wait is neither sent (Alertmanager's rule: no
  all-clear for an alarm nobody got; issue 11's "có tín hiệu trở lại" with no "mất tín hiệu"
  before it, when one failed poll made a station look offline for a moment).
- **Routing.** A tree of routes, each matching by kind, severity and district, sends a
  notification to recipient groups and endpoints; a route's children refine it, and
  ``continue`` lets the next sibling match too (Alertmanager's routing).

The routing config is ``alerting.yaml`` in the site directory (docs/alerting.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.incidents import Incident, Transition
from alerting.model import (
    AlertKind,
    Notification,
    NotificationState,
    Recipient,
    Severity,
    Signal,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecipientConfig(_Strict):
    name: str
    phone: str | None = None
    email: str | None = None
    zalo_user: str | None = None

    def recipient(self) -> Recipient:
        return Recipient(self.name, self.phone, self.email, self.zalo_user)


class RecipientGroup(_Strict):
    """People reached on their phones or mail: the committee, officers, technicians."""

    title: str = ""
    channels: list[str]  # sms, zalo, email
    members: list[RecipientConfig]


class Match(_Strict):
    kind: list[AlertKind] | None = None
    severity_at_least: Severity | None = None
    district: list[str] | None = None

    @field_validator("severity_at_least", mode="before")
    @classmethod
    def _severity_by_name(cls, value: object) -> object:
        if isinstance(value, str) and value.upper() in Severity.__members__:
            return Severity[value.upper()]
        return value

    def matches(self, notification: Notification) -> bool:
        if self.kind is not None and notification.kind not in self.kind:
            return False
        if (
            self.severity_at_least is not None
            and notification.severity < self.severity_at_least
            # A recovery notice goes where the warning went: it carries INFO severity.
            and notification.state is not NotificationState.RESOLVED
        ):
            return False
        return self.district is None or notification.district in self.district


class Route(_Strict):
    match: Match = Field(default_factory=Match)
    to: list[str] = Field(default_factory=list)  # recipient groups and endpoint names
    routes: list[Route] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")


class RoutingConfig(_Strict):
    recipients: dict[str, RecipientGroup] = Field(default_factory=dict)
    # Endpoints are notifiers without people: the IOC webhook, Grafana annotations.
    endpoints: dict[str, str] = Field(default_factory=dict)  # name → channel
    routes: list[Route] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=lambda: ["kind", "district"])
    group_wait_s: float = 30.0


def route(routes: Sequence[Route], notification: Notification) -> list[str]:
    """The receivers of a notification: depth first, the deepest matching route decides."""
    receivers: list[str] = []
    for candidate in routes:
        if not candidate.match.matches(notification):
            continue
        deeper = route(candidate.routes, notification)
        receivers.extend(r for r in (deeper or candidate.to) if r not in receivers)
        if not candidate.continue_:
            break
    return receivers


def inhibited(transition: Transition, open_incidents: Mapping[str, Incident]) -> str | None:
    """Why this transition is held, or None. Recoveries are never held."""
    incident = transition.incident
    if transition.change is NotificationState.RESOLVED:
        return None
    for other in open_incidents.values():
        if other.id == incident.id or other.station != incident.station:
            continue
        if other.kind is AlertKind.STATION and incident.kind is not AlertKind.STATION:
            return f"station offline ({other.rule})"
        if other.kind is incident.kind and other.level > incident.level:
            return f"{other.rule} is at a higher level ({other.level})"
    return None


Render = Callable[[Sequence[Transition]], tuple[str, str, str]]  # title, text vi, text en
# (rule, station) → the rule's judgement now, with its latest value and facts
# (alerting.rules.Evaluator.current): what a reminder says.
Current = Callable[[str, str], Signal | None]


def transition_facts(transition: Transition) -> dict[str, Any]:
    """The facts of one transition, flat, as templates, Zalo and the webhook read them: the
    incident's (the rule's facts: docs/rules.md) with ``station_id``, and ``reminder: true`` on
    a reminder. Times are ISO 8601 strings."""
    incident = transition.incident
    facts = dict(incident.facts)
    facts.setdefault("station_id", incident.station)
    facts.setdefault("station_name", incident.station)
    if transition.change is NotificationState.REPEAT:
        facts["reminder"] = True
    if transition.change is not NotificationState.CREST:
        # News of one signal only (the crest): a later message of the incident is not it.
        facts.pop("event", None)
    return facts


def transition_signal(transition: Transition) -> Signal:
    """The signal an incident's latest change stands for: what the templates render. Its time
    is the reading's (``facts["ts"]``), which a reminder's refreshed facts move on."""
    incident = transition.incident
    facts = transition_facts(transition)
    value = facts.get("value")
    ts = incident.updated_at
    if isinstance(facts.get("ts"), str):
        ts = datetime.fromisoformat(facts["ts"])
    return Signal(
        rule=incident.rule,
        station=incident.station,
        kind=incident.kind,
        level=incident.level,
        severity=incident.severity,
        ts=ts,
        param=str(facts.get("param", "")),
        value=float(value) if isinstance(value, int | float) else None,
        facts=facts,
    )


def notification_facts(ordered: Sequence[Transition]) -> dict[str, Any]:
    """A notification's facts: those of the incident it is about (the first: the most severe,
    then the most recent) flat at the top — ``{facts.value}``, ``{facts.label}`` — and, for a
    group, each other incident's under ``others``, with its ``incident``, ``state``, ``level``
    and ``severity`` (docs/notifiers.md)."""
    lead, *rest = ordered
    facts = transition_facts(lead)
    if rest:
        facts["others"] = [
            {
                **transition_facts(t),
                "incident": t.incident.id,
                "state": t.change.value,
                "level": t.incident.level,
                "severity": t.incident.severity.name.lower(),
            }
            for t in rest
        ]
    return facts


def render_transitions(transitions: Sequence[Transition]) -> tuple[str, str, str]:
    """Vietnamese title and text, English text (alerting.templates), one line per station."""
    from alerting.templates import render_texts

    return render_texts([transition_signal(t) for t in transitions])


@dataclass
class Grouper:
    """Holds transitions for ``wait`` so that those of one group leave as one notification."""

    wait: timedelta
    group_by: Sequence[str]
    districts: Mapping[str, str]  # station → district
    render: Render
    # The rules' current judgement: a reminder carries the value and time of now, not of the
    # change it reminds of (issue 11). None: the incident's stored facts.
    current: Current | None = None
    # Alarms that fired and ended within their group's wait: neither was sent (health).
    flapped: int = 0
    _pending: dict[tuple[str, ...], tuple[datetime, list[Transition]]] = field(default_factory=dict)
    # Refs of the incidents whose firing waits in a group: no receiver has heard of them yet.
    _unsent: set[str] = field(default_factory=set)

    def key(self, transition: Transition) -> tuple[str, ...]:
        incident = transition.incident
        parts = {
            "kind": incident.kind.value,
            "district": self.districts.get(incident.station, ""),
            "station": incident.station,
            "rule": incident.rule,
        }
        return tuple(parts[name] for name in self.group_by)

    def add(self, transition: Transition, now: datetime) -> list[Transition]:
        """Hold a transition for its group. A later change of the same incident replaces the
        earlier one. The resolution of an alarm whose firing still waits here takes both out:
        no receiver heard of the alarm, so none hears of its end. Returns the transitions
        that will never leave (both of them, then), else []."""
        incident = transition.incident
        key = self.key(transition)
        first, items = self._pending.get(key, (now, []))
        earlier = [t for t in items if t.incident.id == incident.id]
        items = [t for t in items if t.incident.id != incident.id]
        if transition.change is NotificationState.FIRING:
            self._unsent.add(incident.ref)
        elif incident.ref in self._unsent and transition.change is NotificationState.RESOLVED:
            self._unsent.discard(incident.ref)
            self.flapped += 1
            if items:
                self._pending[key] = (first, items)
            else:
                self._pending.pop(key, None)
            return [*earlier, transition]
        items.append(transition)
        self._pending[key] = (first, items)
        return []

    def incidents(self) -> set[str]:
        """The ids of the incidents waiting in a group (their news is on its way)."""
        return {t.incident.id for _, items in self._pending.values() for t in items}

    def due(self, now: datetime, *, everything: bool = False) -> list[Notification]:
        out = []
        for key, (first, items) in list(self._pending.items()):
            if everything or now - first >= self.wait:
                del self._pending[key]
                self._unsent.difference_update(t.incident.ref for t in items)
                out.append(self.notification(items, now))
        return out

    def refreshed(self, transition: Transition) -> Transition:
        """A reminder with the rule's current facts (value, rate, time), when the rule still
        judges the incident's level; any other transition as it is."""
        if transition.change is not NotificationState.REPEAT or self.current is None:
            return transition
        incident = transition.incident
        now = self.current(incident.rule, incident.station)
        if now is None or now.level != incident.level:
            return transition
        facts = {**incident.facts, **now.facts}
        return replace(transition, incident=replace(incident, facts=facts))

    def notification(self, items: Sequence[Transition], now: datetime) -> Notification:
        # The incident the message is about first: the most severe, then the most recent.
        ordered = sorted(
            (self.refreshed(t) for t in items),
            key=lambda t: (t.incident.severity, t.incident.level, t.incident.updated_at),
            reverse=True,
        )
        worst = ordered[0]
        title, text, text_en = self.render(ordered)
        stations = list(dict.fromkeys(t.incident.station for t in ordered))
        return Notification(
            key="|".join(sorted(t.key for t in ordered)),
            state=worst.change,
            kind=worst.incident.kind,
            severity=worst.incident.severity,
            level=worst.incident.level,
            title=title,
            text=text,
            text_en=text_en,
            created_at=now,
            incidents=[t.incident.id for t in ordered],
            stations=stations,
            district=self.districts.get(stations[0], ""),
            facts=notification_facts(ordered),
        )

    @property
    def pending(self) -> int:
        return sum(len(items) for _, items in self._pending.values())
