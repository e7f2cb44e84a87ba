"""The MQTT input driver: stations' messages on their broker → Readings into the sink.

It reuses :class:`gateway.bus.mqtt.MqttBus` as its client to the stations' broker (reconnect
with backoff, persistent session), with manual acknowledgement: a message is acknowledged to
the broker only once the sink returned, i.e. once its readings are durable in the gateway's
outbox. Until then the broker keeps it, so a burst or a restart's backlog waits in the broker
(back-pressure) instead of being dropped here, and a message the gateway had not made safe
when its connection went is sent again. Up to ``window`` messages per topic filter are handled
at once; their sink calls start in the order the messages came (the gateway numbers batches in
that call, before its first await), and the bus acknowledges them in that order.

Each message is decoded by the pure :class:`~gateway.mqtt_input.payload.MqttDecoder`; good
values go to the sink, bad messages to the dead letter with their reason, counted per reason and
logged once per topic (then at debug until that topic sends a good message again).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.bus import BusMessage, Subscription
from gateway.bus.mqtt import MqttBus, MqttSettings
from gateway.config import MqttSource, StationConfig
from gateway.mqtt_input.payload import DEFAULT_TOPIC, MqttDecoder, Outcome, Problem, Route
from gateway.mqtt_input.profile import MqttProfile
from gateway.streaming import DeadLetter, ReadingSink, Rejected

log = logging.getLogger(__name__)

_MAX_LOGGED_TOPICS = 10_000  # a flood of random topics must not grow memory without bound


@dataclass
class MqttStationHealth:
    last_message: datetime | None = None
    messages: int = 0
    readings: int = 0
    rejected: int = 0
    # Messages without a field the profile lists, by field: a sensor left out is no error,
    # but pm25 that never arrives must show (issue 17).
    missing_fields: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "last_message": self.last_message.isoformat() if self.last_message else None,
            "messages": self.messages,
            "readings": self.readings,
            "rejected": self.rejected,
            "missing_fields": dict(self.missing_fields),
        }


class MqttInput:
    """A :class:`gateway.streaming.StreamingDriver` for stations publishing over MQTT."""

    def __init__(
        self,
        decoder: MqttDecoder,
        settings: MqttSettings,
        *,
        queue_size: int = 10_000,
        window: int = 256,
    ) -> None:
        self.decoder = decoder
        # Always acknowledged by hand: a station's message is safe only once in the outbox.
        self.settings = dataclasses.replace(settings, manual_ack=True)
        self.queue_size = queue_size
        self.window = max(1, window)
        self.per_station: dict[str, MqttStationHealth] = {
            station: MqttStationHealth() for station in decoder.routes
        }
        self.rejected: Counter[str] = Counter()  # by reason code
        self.messages = 0
        self.handling = 0  # messages being handled now (at most ``window``)
        self.errors = 0  # handling failed unexpectedly (a bug): dead-lettered, counted
        self.bus: MqttBus | None = None
        self.default_topic = DEFAULT_TOPIC  # of stations whose profile names none: reload()
        self._failing_topics: set[str] = set()
        self.missing_fields = 0  # listed fields absent from a message, all stations
        self._missing_logged: set[tuple[str, str]] = set()  # (station, field) said once
        self._subscriptions: list[Subscription] = []

    async def run(self, sink: ReadingSink, dead_letter: DeadLetter) -> None:
        bus = self.bus = MqttBus(self.settings)
        subscriptions = self._subscriptions = [
            bus.subscribe(topic_filter, maxsize=self.queue_size)
            for topic_filter in self.decoder.filters
        ]
        log.info(
            "MQTT input: %d station(s) on %s:%d, topics %s",
            len(self.decoder.routes),
            self.settings.host,
            self.settings.port,
            ", ".join(self.decoder.filters),
        )
        async with bus, asyncio.TaskGroup() as tasks:
            for index, subscription in enumerate(subscriptions):
                earlier = subscriptions[:index]
                for _ in range(self.window):
                    tasks.create_task(self._work(subscription, earlier, sink, dead_letter))

    async def _work(
        self,
        subscription: Subscription,
        earlier: list[Subscription],
        sink: ReadingSink,
        dead_letter: DeadLetter,
    ) -> None:
        """One of the ``window`` workers of a subscription: take a message, handle, ack.

        Taking a message and running its handling up to the sink's first await happen in one
        step of the event loop, so the sink calls start in the order of the queue whichever
        worker takes them. The bus sends the broker's acknowledgements in arrival order, so a
        worker acknowledges as soon as its message is safe.
        """
        while True:
            message = await subscription.get()
            # Overlapping filters (stations/+/data and stations/+/+) each get a copy from the
            # bus: the first subscription that matches handles it; the others only
            # acknowledge their copy (the broker is acknowledged once all copies were).
            if earlier and any(other.matches(message.topic) for other in earlier):
                message.ack()
                continue
            self.handling += 1
            try:
                await self._handle_guarded(message, sink, dead_letter)
            finally:
                self.handling -= 1
            message.ack()

    async def _handle_guarded(
        self, message: BusMessage, sink: ReadingSink, dead_letter: DeadLetter
    ) -> None:
        """handle(), with a last resort: an unexpected failure is logged, counted and kept."""
        try:
            await self.handle(message.topic, message.payload, sink, dead_letter)
        except Exception as exc:
            # A bug (the sink waits while the disk fails; it does not raise). Holding the
            # message unacknowledged would stop every station behind it (acks go in arrival
            # order), so the message goes to the dead letter with the reason, and is counted.
            self.errors += 1
            log.log(
                logging.ERROR if self.errors == 1 else logging.DEBUG,
                "MQTT input: handling a message on %s failed (%d so far); dead-lettered",
                message.topic,
                self.errors,
                exc_info=self.errors == 1,
            )
            self.rejected["internal"] += 1
            reason = f"internal: {type(exc).__name__}: {exc}"[:500]
            try:
                await dead_letter(Rejected(message.topic, reason, message.payload))
            except Exception:
                log.debug("MQTT input: the dead letter failed too", exc_info=True)

    async def handle(
        self,
        topic: str,
        payload: bytes,
        sink: ReadingSink,
        dead_letter: DeadLetter,
        arrival: datetime | None = None,
    ) -> Outcome:
        """Decode one message and pass on what it gave; never raises for a bad message."""
        arrival = arrival or datetime.now(UTC)
        self.messages += 1
        try:
            outcome = self.decoder.decode(topic, payload, arrival)
        except Exception as exc:  # a decoder bug must not stop every other station
            log.exception("MQTT input: decoding a message on %s failed", topic)
            outcome = Outcome("", problems=(Problem("internal", f"{type(exc).__name__}: {exc}"),))
        health = self.per_station.get(outcome.station)
        if health is not None:
            health.last_message = arrival
            health.messages += 1
            health.readings += len(outcome.readings)
        if outcome.missing:
            self._missing(outcome.station, outcome.missing, health)
        if outcome.readings:
            await sink(outcome.station, outcome.readings)
        if outcome.problems:
            await self._reject(topic, payload, outcome, dead_letter, health)
        else:
            self._failing_topics.discard(topic)
        return outcome

    def _missing(
        self, station: str, fields: tuple[str, ...], health: MqttStationHealth | None
    ) -> None:
        self.missing_fields += len(fields)
        for name in fields:
            if health is not None:
                health.missing_fields[name] += 1
            key = (station, name)
            if key in self._missing_logged or len(self._missing_logged) >= _MAX_LOGGED_TOPICS:
                continue
            self._missing_logged.add(key)
            log.warning(
                "MQTT input: station %s sent a message without %s, a field its profile lists "
                "(counted in /health as missing_fields; said once per station and field)",
                station,
                name,
            )

    async def _reject(
        self,
        topic: str,
        payload: bytes,
        outcome: Outcome,
        dead_letter: DeadLetter,
        health: MqttStationHealth | None,
    ) -> None:
        self.rejected[outcome.reason] += 1
        if health is not None:
            health.rejected += 1
        reason = "; ".join(str(p) for p in outcome.problems[:10])
        if len(outcome.problems) > 10:
            reason += f"; … {len(outcome.problems) - 10} more"
        first = topic not in self._failing_topics and len(self._failing_topics) < _MAX_LOGGED_TOPICS
        if first:
            self._failing_topics.add(topic)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "MQTT input: message on %s%s rejected: %s%s",
            topic,
            f" (station {outcome.station})" if outcome.station else "",
            reason,
            " (further ones on this topic at debug until a good message)" if first else "",
        )
        await dead_letter(Rejected(topic, reason, payload, outcome.station))

    def reload(
        self, site: SiteWithMqtt, stations: Iterable[StationConfig]
    ) -> tuple[list[str], list[str]]:
        """Route messages to the site's MQTT stations as they are now (hot reload): returns
        (what changed, what waits for a restart). Messages already taken are decoded with the
        routes they were taken under. A station on a topic filter not subscribed yet needs a
        restart (the client subscribes when it connects); until then its messages are not
        received, and the broker keeps them in the gateway's persistent session."""
        decoder = MqttDecoder(mqtt_routes(site, stations, self.default_topic))
        before, after = self.decoder.routes, decoder.routes
        changes = [f"MQTT station {s}: added" for s in after.keys() - before.keys()]
        changes += [f"MQTT station {s}: removed" for s in before.keys() - after.keys()]
        changes += [
            f"MQTT station {s}: changed"
            for s in after.keys() & before.keys()
            if after[s] != before[s]
        ]
        pending = []
        unsubscribed = sorted(set(decoder.filters) - set(self.decoder.filters))
        if unsubscribed and self.bus is not None:
            pending.append(
                f"MQTT topic filter(s) {', '.join(unsubscribed)}: restart the gateway to "
                "subscribe to them"
            )
        self.decoder = decoder
        self.per_station = {s: self.per_station.get(s) or MqttStationHealth() for s in after}
        return sorted(changes), pending

    def station_health(self, station: str) -> dict[str, Any] | None:
        health = self.per_station.get(station)
        return None if health is None else health.as_dict()

    def health(self) -> dict[str, Any]:
        bus = self.bus
        return {
            "connected": bus is not None and bus.connected.is_set(),
            "messages": self.messages,
            # Received from the broker and not yet acknowledged (queued, being handled, or
            # waiting for an earlier one): the broker holds the rest back.
            "inflight": bus.inflight if bus is not None else 0,
            "handling": self.handling,
            "queue_depth": sum(s.qsize() for s in self._subscriptions),
            "acked": bus.stats.acked if bus is not None else 0,
            "redelivered": bus.stats.redelivered if bus is not None else 0,
            "read_pauses": bus.stats.read_pauses if bus is not None else 0,
            "reconnects": bus.stats.reconnects if bus is not None else 0,
            "errors": self.errors,
            "rejected": dict(self.rejected),
            "missing_fields": self.missing_fields,
            "stations": {station: h.as_dict() for station, h in self.per_station.items()},
        }


class _SiteSettings(Protocol):
    @property
    def timezone(self) -> str: ...

    @property
    def gateway_id(self) -> str: ...


class SiteWithMqtt(Protocol):
    """What the factory needs of a ``quantrac.site.Site`` (gateway never imports quantrac)."""

    @property
    def stations(self) -> Mapping[str, StationConfig]: ...

    @property
    def settings(self) -> _SiteSettings: ...

    def mqtt_profile_of(self, station: StationConfig) -> MqttProfile: ...


def mqtt_input_for(
    site: SiteWithMqtt,
    stations: Iterable[StationConfig] | None = None,
    settings: MqttSettings | None = None,
    *,
    broker_url: str | None = None,
    default_topic: str = DEFAULT_TOPIC,
    queue_size: int = 10_000,
) -> MqttInput | None:
    """The MQTT input of the site's MQTT stations, or None when there are none.

    ``settings`` (or ``broker_url``, e.g. ``mqtt://user:pass@stations-broker:1883``) is the
    stations' broker. Without a client id one is made from the gateway id, so the broker keeps
    the session (and what stations sent meanwhile) across restarts. Raises ValueError naming
    the station when a station's topic does not fit its profile or two share a device id.
    """
    chosen = stations if stations is not None else site.stations.values()
    mqtt_stations = [s for s in chosen if isinstance(s.source, MqttSource)]
    if not mqtt_stations:
        return None
    if settings is None:
        settings = MqttSettings.from_url(broker_url or "mqtt://127.0.0.1:1883")
    if not settings.client_id:
        settings = dataclasses.replace(
            settings, client_id=f"quantrac-{site.settings.gateway_id}-stations"
        )
    routes = mqtt_routes(site, mqtt_stations, default_topic)
    driver = MqttInput(MqttDecoder(routes), settings, queue_size=queue_size)
    driver.default_topic = default_topic
    return driver


def mqtt_routes(
    site: SiteWithMqtt, stations: Iterable[StationConfig], default_topic: str = DEFAULT_TOPIC
) -> list[Route]:
    """The routes of the MQTT stations among ``stations`` (others are left out)."""
    return [
        Route.of(
            station,
            site.mqtt_profile_of(station),
            default_topic=default_topic,
            timezone=site.settings.timezone,
        )
        for station in stations
        if isinstance(station.source, MqttSource)
    ]
