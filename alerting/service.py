"""The alerting service: clean stream → rules → incidents → grouping → routing → notifiers.

One asyncio task consumes ``quantrac/v1/clean/+`` (a shared-subscription group, so several
alerting instances can split stations), another ticks every second for what time alone
decides: deadman rules, pending durations, repeats, and groups whose wait is over. Every
incident change is published on ``quantrac/v1/incidents/{station}`` and saved in SQLite before
any notification leaves. Notifications go into one durable queue per receiver and channel,
each with its own worker (alerting.delivery): a failing channel never delays another. Once a
second the service reconciles what each receiver was told with the incidents' current state,
which is how held-back changes (silences, inhibition, a crash) reach people afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from alerting.delivery import (
    Covered,
    DeliverySettings,
    Destination,
    Told,
    catch_up,
)
from alerting.delivery_queues import DeliveryQueues
from alerting.delivery_store import DeliveryStore
from alerting.incidents import Incident, IncidentManager, IncidentState, Transition
from alerting.model import (
    AlertKind,
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
    unrouted: int = 0
    caught_up: int = 0  # messages queued by reconcile(): receivers brought up to date


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
        queues: DeliveryQueues | None = None,
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
        self.queues = queues or DeliveryQueues(
            DeliveryStore(":memory:"), routing, notifiers, DeliverySettings(), clock
        )
        self._unknown_receivers: set[str] = set()

    async def run(self) -> None:
        # What was saved before a restart but never reached a receiver (a change waiting in
        # its group, a resolution) is found by the first reconciliation: each receiver is
        # brought to the incidents' current state. The queues resume their own entries.
        self.reconcile(self.clock())
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._consume())
            tasks.create_task(self._tick())
            tasks.create_task(self.queues.run())

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
        """What time alone decides. Every second (``sync_acks``) also: acknowledgements from
        other processes, and the reconciliation of what each receiver was told."""
        now = self.clock()
        if sync_acks:
            await asyncio.to_thread(self.incidents.sync_acks)
        await self.on_signals(self.rules.tick(now))
        for reminder in self.incidents.repeats(now):
            await self.on_transition(reminder)
        for notification in self.grouper.due(now):
            await self.dispatch(notification)
        if sync_acks:
            self.reconcile(self.clock())
        if not self.queues.running:
            await self.queues.drain()

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
        reason = inhibited(transition, self.incidents.open)
        if reason is not None:
            # Held, not sent: when the hold ends, reconcile() brings every receiver to the
            # incident's state then (issue 11: a backlog after an outage reached nobody).
            self.stats.inhibited += 1
            log.info("%s %s: inhibited, %s", incident.id, transition.change, reason)
            self.incidents.notified(transition, now)
            return
        self._transitions[transition.key] = transition
        gone = self.grouper.add(transition, now)
        if gone:
            # An alarm that fired and ended within its group's wait: neither is sent, to
            # anyone (no all-clear for an alarm nobody got). Its resolution is done with.
            log.info("%s: fired and ended within the group wait, neither sent", incident.id)
            for dropped in gone:
                self._transitions.pop(dropped.key, None)
            self.incidents.notified(transition, now)

    async def dispatch(self, notification: Notification) -> None:
        """Queue a notification for each receiver its route names; the queues' workers send
        it. Per destination, as it knows each incident: a silence holds only the receivers it
        names; a change of an alarm it was never handed is its firing at the current level;
        an all-clear of an alarm it was never handed is not sent."""
        receivers = route(self.routing.routes, notification)
        if not receivers:
            self.stats.unrouted += 1
            log.warning("notification %s matched no route", notification.title)
        self.stats.notifications += 1
        transitions = [t for k in notification.key.split("|") if (t := self._transitions.get(k))]
        now = self.clock()
        silences = self.incidents.store.silences(now)
        told = self.queues.store.told(t.incident.ref for t in transitions) if transitions else {}
        ending = any(t.change is NotificationState.RESOLVED for t in transitions)
        in_flight = self.queues.store.in_flight() if ending else set()
        items: list[tuple[Destination, Notification, list[Covered]]] = []
        for receiver in receivers:
            kept = []
            for transition in transitions:
                silence = (
                    self.incidents.silenced(transition.incident, now, receiver, silences)
                    if silences
                    else None
                )
                if silence is None:
                    kept.append(transition)
                    continue
                self.stats.silenced += 1
                log.info("%s %s to %s: silenced (%s)", transition.incident.id,
                         transition.change, receiver, silence.comment)  # fmt: skip
            if transitions and not kept:
                continue
            for destination in self._destinations(receiver):
                adjusted = [
                    a
                    for t in kept
                    if (a := as_known(t, told.get((ref := t.incident.ref, destination)),
                                      in_flight=(ref, destination) in in_flight))
                ]  # fmt: skip
                if transitions and not adjusted:
                    continue
                # An all-clear whose firing is still queued here waits in an entry of its own:
                # its queue drops it if that firing is never accepted, and only it.
                unsure = [
                    t for t in adjusted if _unconfirmed(t, told.get((t.incident.ref, destination)))
                ]
                sure = [t for t in adjusted if t not in unsure]
                for part in (sure, unsure) if unsure and sure else (adjusted,):
                    message = notification
                    if part != transitions:
                        # What this destination needs, in a message of its own.
                        message = self.grouper.notification(part, notification.created_at)
                    items.append((destination, message, [covered(t) for t in part]))
        self.queues.enqueue(items)
        for transition in transitions:
            self._transitions.pop(transition.key, None)
            self.incidents.notified(transition, now)
        if not self.queues.running:
            await self.queues.drain()

    def _destinations(self, receiver: str) -> list[Destination]:
        found = self.queues.of(receiver)
        if not found and receiver not in self._unknown_receivers:
            self._unknown_receivers.add(receiver)
            log.error("receiver %s: no recipient group or endpoint of that name", receiver)
        return found

    def reconcile(self, now: datetime) -> int:
        """Bring every receiver to the current state of each incident it should know about,
        once: after a silence or an inhibition ends, after a restart. Returns the entries
        queued. Per destination, by what it accepted (``alerting.delivery.catch_up``): the
        current level of an alarm it never got, the new level of one it knows, the all-clear of
        one it was last told is firing — and nothing for a resolution it never got the firing
        of (Alertmanager's rule)."""
        store = self.queues.store
        pending = self.grouper.incidents()
        candidates = {i.ref: i for i in self.incidents.open.values() if i.id not in pending}
        for ref in store.believed_open() - candidates.keys():
            resolved = self.incidents.store.resolved(ref)
            if resolved is not None and resolved.id not in pending:
                candidates[ref] = resolved
        if not candidates:
            return 0
        told = store.told(candidates)
        in_flight = store.in_flight()
        silences = self.incidents.store.silences(now)
        district = self.grouper.districts
        catch_ups: dict[Destination, list[Transition]] = {}
        for ref, incident in candidates.items():
            if incident.open:
                held = Transition(incident, NotificationState.ESCALATED, incident.level)
                if inhibited(held, self.incidents.open) is not None:
                    continue
            change = NotificationState.FIRING if incident.open else NotificationState.RESOLVED
            probe = Notification(
                key="", state=change, kind=incident.kind, severity=incident.severity,
                level=incident.level, title="", text="", text_en="", created_at=now,
                incidents=(incident.id,), stations=(incident.station,),
                district=district.get(incident.station, ""),
            )  # fmt: skip
            for receiver in route(self.routing.routes, probe):
                if silences and self.incidents.silenced(incident, now, receiver, silences):
                    continue
                for destination in self.queues.of(receiver):
                    known = told.get((ref, destination))
                    if known is not None and known.handled_revision >= incident.revision:
                        continue
                    if (ref, destination) in in_flight:
                        continue  # its queue will get there; then we look again
                    needed = catch_up(known, incident.level, incident.open)
                    if needed is None:
                        store.mark_handled(ref, destination, incident.revision, now)
                        continue
                    previous = known.accepted_level if known is not None else 0
                    catch_ups.setdefault(destination, []).append(
                        Transition(incident, needed, previous)
                    )
        items: list[tuple[Destination, Notification, list[Covered]]] = []
        for destination, transitions in catch_ups.items():
            groups: dict[tuple[str, ...], list[Transition]] = {}
            for transition in transitions:
                groups.setdefault(self.grouper.key(transition), []).append(transition)
            for group in groups.values():
                notification = self.grouper.notification(group, now)
                items.append((destination, notification, [covered(t) for t in group]))
                log.info("%s: brought up to date: %s", destination,
                         ", ".join(f"{t.incident.id} {t.change}" for t in group))  # fmt: skip
        self.stats.caught_up += len(items)
        return self.queues.enqueue(items)

    def health(self) -> dict[str, object]:
        now = self.clock()
        return {
            **{k: v for k, v in vars(self.stats).items()},
            "deliveries": self.queues.deliveries(),
            "open_incidents": len(self.incidents.open),
            "waiting_in_groups": self.grouper.pending,
            "flapped_in_group": self.grouper.flapped,
            "silences": len(self.incidents.store.silences(now)),
            "delivery": self.queues.health(),
            **self.dead_letters.health(),
        }


def as_known(
    transition: Transition, told: Told | None, *, in_flight: bool = False
) -> Transition | None:
    """A transition as a destination that was handed nothing of its incident (``told`` None)
    must get it: an escalation, a de-escalation or a reminder of an alarm it never had is that
    alarm's firing at the current level; its all-clear is nothing (issue 11: a backlog after a
    station outage, a route that starts at a higher severity). An all-clear is nothing too when
    the firing handed to the destination was never accepted and no longer waits in its queue
    (refused, expired): Alertmanager's rule, for a receiver rather than for the service."""
    if transition.change is NotificationState.RESOLVED:
        if told is None or not (told.accepted_open or in_flight):
            return None
        return transition
    if told is not None or transition.change is NotificationState.FIRING:
        return transition
    return Transition(transition.incident, NotificationState.FIRING, 0)


def _unconfirmed(transition: Transition, told: Told | None) -> bool:
    """An all-clear whose firing the destination has not accepted yet (it is still queued)."""
    return transition.change is NotificationState.RESOLVED and not (told and told.accepted_open)


def covered(transition: Transition) -> Covered:
    incident = transition.incident
    return Covered(incident.ref, incident.revision, incident.level, incident.open)
