"""The shapes alerting passes between its stages (Alertmanager's pipeline, docs/alerting.md).

rules → ``Signal`` (what a rule says about one station now) → incidents (pending → firing →
resolved, levels, ack, silences, inhibition, grouping) → ``Notification`` → routing →
notifiers → ``Delivery`` (what the provider answered), kept in the notification log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class Severity(IntEnum):
    """How urgent: routing and repeat intervals depend on it."""

    INFO = 0  # recovery notices, station back online
    WARNING = 1  # BĐ I, AQI "Kém", a station offline
    CRITICAL = 2  # BĐ II, heavy rain risk 2+, AQI "Xấu"
    EMERGENCY = 3  # BĐ III, storm winds, AQI "Rất xấu"/"Nguy hại"


class AlertKind(StrEnum):
    """What the warning is about; routing sends each kind to its people."""

    FLOOD = "flood"
    RAIN = "rain"
    STORM = "storm"  # wind, cấp gió
    AIR = "air"
    WATER = "water"
    STATION = "station"  # no data, offline: for technicians


@dataclass(frozen=True, slots=True)
class Signal:
    """One rule's judgement of one station at one instant.

    ``level`` 0 means normal (the rule's recovery condition holds); 1…n are the rule's levels
    (BĐ I/II/III, AQI categories, heavy-rain risk levels, cấp gió bands). ``facts`` carries what
    templates print: the value, its unit, the margin above the level, the rate of rise, the
    projected time to the next level, the label ("BĐ II", "Kém", "cấp 8").
    """

    rule: str
    station: str
    kind: AlertKind
    level: int
    severity: Severity
    ts: datetime  # the reading's time (device time), UTC
    param: str = ""
    value: float | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


class NotificationState(StrEnum):
    FIRING = "firing"  # a new incident
    ESCALATED = "escalated"  # the same incident, a higher level
    DEESCALATED = "deescalated"  # the same incident, a lower level (still above normal)
    REPEAT = "repeat"  # still firing after the repeat interval
    CREST = "crest"  # the same incident, same level: a flood's crest, once its fall is confirmed
    RESOLVED = "resolved"  # back to normal


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one recipient group: an incident, or a group of them (one storm, ten
    stations, one message)."""

    key: str  # idempotency key: the same key is never sent twice to the same recipient
    state: NotificationState
    kind: AlertKind
    severity: Severity
    level: int
    title: str  # Vietnamese, with diacritics: "[BÁO ĐỘNG II] Sông Hương tại Kim Long"
    text: str  # Vietnamese, with diacritics; notifiers may strip them (SMS option)
    text_en: str
    created_at: datetime
    incidents: Sequence[str] = ()  # incident ids covered
    stations: Sequence[str] = ()
    district: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)  # for webhooks and Zalo templates


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person or endpoint in a recipient group; a notifier reads the address it needs."""

    name: str
    phone: str | None = None  # +84…, for SMS and Zalo ZNS
    email: str | None = None
    zalo_user: str | None = None


class DeliveryStatus(StrEnum):
    SENT = "sent"  # the provider accepted it (2xx, and its own status says success)
    RETRY = "retry"  # 5xx, timeout, connection refused: try again with backoff
    FAILED = "failed"  # 4xx or a provider error code: never retried; dead-lettered


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a notifier got for one notification to one recipient (or one endpoint)."""

    channel: str  # "webhook", "sms", "zalo", "grafana", "email"
    recipient: str
    status: DeliveryStatus
    detail: str = ""  # the provider's answer, for the notification log
    provider_id: str = ""  # the provider's message id, when it gives one
