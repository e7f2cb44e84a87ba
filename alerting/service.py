"""The alerting service: clean stream → rules → incidents → grouping → routing → notifiers.

One asyncio task consumes ``quantrac/v1/clean/+`` (a shared-subscription group, so several
alerting instances can split stations), another ticks every second for what time alone
decides: deadman rules, pending durations, repeats, and groups whose wait is over. Every
incident change is published on ``quantrac/v1/incidents/{station}`` and saved in SQLite before
any notification leaves; the notification log makes sending idempotent across restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from alerting.incidents import Incident, IncidentManager, IncidentState, Transition
from alerting.model import (
    AlertKind,
    DeliveryStatus,
    Notification,
    NotificationState,
    Severity,
    Signal,
)
from alerting.notifiers import Notifier
from alerting.routing import Grouper, RoutingConfig, inhibited, route
from gateway.bus import Bus, BusMessage
from gateway.deadletter import DeadLetters
from gateway.model import Reading
from gateway.wire import (
    CLEAN_FILTER,
    DEFAULT_BOUNDS,
    TimeWindow,
    WireBounds,
    WireError,
    decode_batch,
    field,
    optional_text,
    parse_time,
    read_document,
    station_id,
    station_of_topic,
    text,
)

log = logging.getLogger(__name__)

TICK_S = 0.25
_E = TypeVar("_E", bound=Enum)


def incidents_topic(station: str) -> str:
    return f"quantrac/v1/incidents/{station}"


class SignalSource(Protocol):
    """The rules (alerting.rules.Evaluator)."""

    def on_batch(self, readings: Sequence[Reading]) -> list[Signal]: ...

    def tick(self, now: datetime) -> list[Signal]: ...


@dataclass
class AlertingStats:
    batches: int = 0
    malformed: int = 0
    signals: int = 0
    transitions: int = 0
    silenced: int = 0
    inhibited: int = 0
    notifications: int = 0
    deliveries: dict[str, int] = dataclass_field(default_factory=dict)  # status → count
    unrouted: int = 0


@dataclass(frozen=True, slots=True)
class IncidentMessage:
    """An incident change as published on ``quantrac/v1/incidents/{station}``."""

    id: str
    change: NotificationState
    rule: str
    station: str
    kind: AlertKind
    state: IncidentState
    level: int
    severity: Severity
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    acked_by: str | None
    facts: Mapping[str, Any]


_MAX_FACTS = 64


def _member(enum: type[_E], document: dict[str, Any], name: str, where: str) -> _E:
    value = field(document, name, str, where)
    for member in enum:
        if member.name.lower() == value or getattr(member, "value", None) == value:
            return member
    names = ", ".join(m.name.lower() for m in enum)
    raise WireError(f"{where}: {name} {value[:40]!r} is not one of {names}")


def decode_incident(
    payload: bytes | str,
    *,
    topic: str | None = None,
    bounds: WireBounds = DEFAULT_BOUNDS,
    now: datetime | None = None,
) -> IncidentMessage:
    """Parse what :func:`incident_document` publishes; the boundary's strict decoder.

    Raises :class:`WireError` (with its reason code) and nothing else, whatever the payload.
    """
    where = "incident" if topic is None else topic[:200]
    topic_station = None
    if topic is not None:
        topic_station = station_id(station_of_topic(topic), where, "the topic's station")
    document = read_document(payload, where, "an incident", bounds)
    station = station_id(field(document, "station", str, where, "bad_station"), where)
    where = f"{where} station {station}"
    if topic_station is not None and topic_station != station:
        raise WireError(f"{where}: payload station does not match the topic", "bad_station")
    level = field(document, "level", int, where, "bad_number")
    if not 0 <= level <= 100:
        raise WireError(f"{where}: level {str(level)[:40]} is not 0 … 100", "bad_number")
    facts = field(document, "facts", dict, where)
    if len(facts) > _MAX_FACTS:
        raise WireError(f"{where}: {len(facts)} facts, more than {_MAX_FACTS}", "too_large")
    for key in facts:
        text(key, "a fact's name", where, 64)
    window = TimeWindow.of(bounds, now)
    resolved = document.get("resolved_at")
    acked_by = document.get("acked_by")
    return IncidentMessage(
        id=text(field(document, "id", str, where), "id", where, bounds.max_text),
        change=_member(NotificationState, document, "change", where),
        rule=text(field(document, "rule", str, where), "rule", where, bounds.max_text),
        station=station,
        kind=_member(AlertKind, document, "kind", where),
        state=_member(IncidentState, document, "state", where),
        level=level,
        severity=_member(Severity, document, "severity", where),
        started_at=parse_time(field(document, "started_at", str, where, "bad_time"), where, window),
        updated_at=parse_time(field(document, "updated_at", str, where, "bad_time"), where, window),
        resolved_at=None
        if resolved is None
        else parse_time(field(document, "resolved_at", str, where, "bad_time"), where, window),
        acked_by=None if acked_by is None else optional_text(document, "acked_by", where, 256),
        facts=dict(facts),
    )


def incident_document(incident: Incident, change: str) -> bytes:
    """The JSON published on the incidents topic (docs/alerting.md)."""
    body = {
        "v": 1,
        "id": incident.id,
        "change": change,
        "rule": incident.rule,
        "station": incident.station,
        "kind": incident.kind.value,
        "state": incident.state.value,
        "level": incident.level,
        "severity": incident.severity.name.lower(),
        "started_at": incident.started_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "acked_by": incident.acked_by,
        "facts": dict(incident.facts),
    }
    return json.dumps(body, ensure_ascii=False, default=str).encode()


class AlertingService:
    def __init__(
        self,
        bus: Bus,
        rules: SignalSource,
        incidents: IncidentManager,
        grouper: Grouper,
        routing: RoutingConfig,
        notifiers: Mapping[str, Notifier],
        *,
        group: str | None = "alerting",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.rules = rules
        self.incidents = incidents
        self.grouper = grouper
        self.routing = routing
        self.notifiers = notifiers
        self.clock = clock
        self.stats = AlertingStats()
        self.subscription = bus.subscribe(CLEAN_FILTER, group=group, maxsize=10_000)
        # Refused clean batches (the wire boundary), counted by reason: health().
        self.dead_letters = DeadLetters("alerting", log)
        self._transitions: dict[str, Transition] = {}  # notification key part → transition

    async def run(self) -> None:
        # Changes saved before a restart but never sent go out now (their keys are the same).
        for transition in self.incidents.unnotified():
            self.grouper.add(transition, self.clock())
            self._transitions[transition.key] = transition
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._consume())
            tasks.create_task(self._tick())

    async def _consume(self) -> None:
        while True:
            message = await self.subscription.get()
            try:
                readings = self._decode(message)
                if readings:
                    self.stats.batches += 1
                    await self.on_signals(self.rules.on_batch(readings))
                    self.dead_letters.good(message.topic)
            except Exception as exc:  # the last resort: one message must not stop warnings
                self.dead_letters.internal_error(message.topic, exc)

    def _decode(self, message: BusMessage) -> list[Reading]:
        try:
            return list(decode_batch(message.payload, topic=message.topic).readings)
        except WireError as exc:
            # A dead letter, counted by reason (health); the first of a topic at WARNING.
            self.stats.malformed += 1
            self.dead_letters.refuse(message.topic, message.payload, exc)
            return []

    async def _tick(self) -> None:
        # A quarter of a second: a group whose wait is over leaves within it (the tick once was
        # 1 s and alone made the p99 from reading to webhook 1.2 s: docs/benchmarks.md).
        ticks = 0
        while True:
            await asyncio.sleep(TICK_S)
            ticks += 1
            try:
                await self.tick(sync_acks=ticks % 4 == 0)
            except Exception as exc:  # the last resort: the next tick tries again
                self.dead_letters.internal_error("tick", exc)

    async def tick(self, *, sync_acks: bool = True) -> None:
        now = self.clock()
        if sync_acks:
            await asyncio.to_thread(self.incidents.sync_acks)
        await self.on_signals(self.rules.tick(now))
        for reminder in self.incidents.repeats(now):
            await self.on_transition(reminder)
        for notification in self.grouper.due(now):
            await self.dispatch(notification)

    async def on_signals(self, signals: Sequence[Signal]) -> None:
        self.stats.signals += len(signals)
        for signal in signals:
            transition = self.incidents.on_signal(signal)
            if transition is not None:
                await self.on_transition(transition)
        if signals and not self.grouper.wait:
            # No group wait: send now, still one message for what changed together.
            for notification in self.grouper.due(self.clock()):
                await self.dispatch(notification)

    async def on_transition(self, transition: Transition) -> None:
        self.stats.transitions += 1
        incident = transition.incident
        await self.bus.publish(
            incidents_topic(incident.station),
            incident_document(incident, transition.change.value),
        )
        now = self.clock()
        silence = self.incidents.silenced(incident, now)
        if silence is not None:
            self.stats.silenced += 1
            log.info("%s %s: silenced (%s)", incident.id, transition.change, silence.comment)
            self.incidents.notified(transition, now)
            return
        reason = inhibited(transition, self.incidents.open)
        if reason is not None:
            self.stats.inhibited += 1
            log.info("%s %s: inhibited, %s", incident.id, transition.change, reason)
            self.incidents.notified(transition, now)
            return
        self._transitions[transition.key] = transition
        self.grouper.add(transition, now)

    async def dispatch(self, notification: Notification) -> None:
        receivers = route(self.routing.routes, notification)
        if not receivers:
            self.stats.unrouted += 1
            log.warning("notification %s matched no route", notification.title)
        self.stats.notifications += 1
        for receiver in receivers:
            await self._deliver(notification, receiver)
        now = self.clock()
        for key in notification.key.split("|"):
            transition = self._transitions.pop(key, None)
            if transition is not None:
                self.incidents.notified(transition, now)

    async def _deliver(self, notification: Notification, receiver: str) -> None:
        group = self.routing.recipients.get(receiver)
        if group is not None:
            members = [m.recipient() for m in group.members]
            channels = group.channels
        else:
            members = []
            channels = [self.routing.endpoints[receiver]]
        for channel in channels:
            notifier = self.notifiers.get(channel)
            if notifier is None:
                log.error("receiver %s: no %s notifier configured", receiver, channel)
                continue
            # Each notifier checks the notification log first: a key already sent to a
            # recipient (before a restart, say) is not sent again.
            deliveries = await notifier.send(notification, members)
            for delivery in deliveries:
                status = delivery.status.value
                self.stats.deliveries[status] = self.stats.deliveries.get(status, 0) + 1
                if delivery.status is not DeliveryStatus.SENT:
                    log.error(
                        "%s to %s via %s: %s %s",
                        notification.title, delivery.recipient, channel,
                        delivery.status.value, delivery.detail,
                    )  # fmt: skip

    def health(self) -> dict[str, object]:
        return {
            **{k: v for k, v in vars(self.stats).items()},
            "open_incidents": len(self.incidents.open),
            "waiting_in_groups": self.grouper.pending,
            **self.dead_letters.health(),
        }
