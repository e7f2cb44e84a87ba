"""Which station a message is from: its topic template, its device id (pure).

A station's route is its config, its profile, the id the device uses and the topic template it
publishes on (``stations/{station}/data``: ``{station}`` is the device id; ``{param}`` the
parameter of a numeric payload). Templates become MQTT filters (``stations/+/data``) and
matchers. Two routes that could both claim one message are a config error, found here
(:func:`route_conflicts`) so that ``quantrac config check`` names both stations — never a
choice by the order of the stations in the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from gateway.config import MqttSource, StationConfig
from gateway.mqtt_input.profile import MqttProfile, topic_problems
from gateway.parameters import registry

DEFAULT_TOPIC = "stations/{station}/data"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def resolve_known(symbol: str, kind: str) -> str:
    """A symbol the profile check resolved already (so it resolves)."""
    return registry().at_station(symbol, kind).name


@dataclass(frozen=True)
class Route:
    """One configured MQTT station: its config, its profile, its device id and topic."""

    station: StationConfig
    profile: MqttProfile
    device_id: str
    topic: str
    timezone: ZoneInfo
    device_units: dict[str, str] = field(default_factory=dict)  # canonical param → unit

    @classmethod
    def of(
        cls,
        station: StationConfig,
        profile: MqttProfile,
        *,
        default_topic: str = DEFAULT_TOPIC,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> Route:
        """Raises ValueError naming the station when its topic cannot work with its profile."""
        source = station.source
        if not isinstance(source, MqttSource):
            raise ValueError(f"station {station.id} is read by {source.driver}, not MQTT")
        topic = source.topic or profile.topic or default_topic
        problems = topic_problems(topic, profile.station.source, profile.shape)
        if problems:
            raise ValueError(f"station {station.id}: " + "; ".join(problems))
        return cls(
            station=station,
            profile=profile,
            device_id=source.device_id or station.id,
            topic=topic,
            timezone=ZoneInfo(profile.timestamp.timezone or timezone),
            device_units={resolve_known(k, profile.kind): v for k, v in profile.units.items()},
        )


@dataclass
class TopicTemplate:
    """``stations/{station}/{param}`` → the filter ``stations/+/+`` and a matcher."""

    template: str
    routes: dict[str, Route] = field(default_factory=dict)  # by device id

    def __post_init__(self) -> None:
        levels = self.template.split("/")
        self.filter = "/".join("+" if level.startswith("{") else level for level in levels)
        parts = []
        for level in levels:
            if level in ("{station}", "{param}"):
                parts.append(f"(?P<{level[1:-1]}>[^/]+)")
            elif level == "+":
                parts.append("[^/]+")
            elif level == "#":
                parts.append(".*")
            else:
                parts.append(re.escape(level))
        pattern = "/".join(parts)
        if levels[-1] == "#":  # "a/#" also matches "a" itself (MQTT 3.1.1 §4.7.1.2)
            pattern = pattern[: -len("/.*")] + "(?:/.*)?"
        self._regex = re.compile(pattern)
        self.station_in_topic = "{station}" in levels

    def match(self, topic: str) -> dict[str, str] | None:
        found = self._regex.fullmatch(topic)
        return None if found is None else found.groupdict()


def _one_level(level: str) -> bool:
    return level == "+" or (level.startswith("{") and level.endswith("}"))


def templates_overlap(first: str, second: str) -> str | None:
    """A topic both templates match (``+`` and ``{…}`` one level, ``#`` the rest), or None."""
    a, b = first.split("/"), second.split("/")
    topic: list[str] = []
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x == "#" or y == "#":  # the rest of the other, each level made concrete
            rest = (b if x == "#" else a)[index:]
            return "/".join(topic + ["x" if _one_level(r) or r == "#" else r for r in rest])
        if not (x == y or _one_level(x) or _one_level(y)):
            return None
        topic.append("x" if _one_level(x) and _one_level(y) else y if _one_level(x) else x)
    if len(a) == len(b):
        return "/".join(topic)
    # "a/#" also matches "a" itself (MQTT 3.1.1 §4.7.1.2); "a/+" does not.
    return "/".join(topic) if (a if len(a) > len(b) else b)[len(topic)] == "#" else None


def route_conflicts(routes: list[Route]) -> list[tuple[Route, Route, str]]:
    """Pairs of stations that could both claim one message: the same device id on templates
    some topic matches both of (the device id put in each template's ``{station}``). Each pair
    once, the later station second, with a topic that would be ambiguous."""
    conflicts = []
    for index, later in enumerate(routes):
        for earlier in routes[:index]:
            if earlier.device_id != later.device_id:
                continue
            device = earlier.device_id
            topic = templates_overlap(
                earlier.topic.replace("{station}", device), later.topic.replace("{station}", device)
            )
            if topic is not None:
                conflicts.append((earlier, later, topic))
    return conflicts
