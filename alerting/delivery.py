"""Delivery queues: one durable queue per receiver and channel, and what each one was told.

Issue 11. Sends were awaited one after another, so the committee's SMS waited 13.8 s behind
the IOC webhook's failing retries, and a message whose retries were spent went to a dead
letter nothing read. Now:

- **A queue per destination.** A destination is a receiver and one of its channels
  (``ban_chi_huy/sms``, ``ioc/webhook``). Routing hands a notification to its receivers; the
  service writes one entry per destination into SQLite (``queue`` in the notification log's
  file, ``synchronous=FULL``) before anything is sent. Each destination has its own worker
  task, so a slow or failing channel never delays another.
- **Rounds.** A worker takes its oldest entry and sends it through the channel's notifier,
  which retries within its own budget (docs/notifiers.md). Then: every target SENT, or some
  SENT and the rest refused → ``delivered``; some RETRY (the budget was spent) → the entry
  stays ``queued`` and gets another round after a backoff (30 s, doubling up to 10 min by
  default) until its deadline (per severity, ``delivery.deadline_h`` in alerting.yaml), then
  ``expired`` with its reason, logged at ERROR and counted; every target refused (the retry
  rule's "other": a 4xx, a landline for SMS) → ``failed``. A destination's entries go in
  order: a resolution never overtakes its firing, and waits behind it.
- **Told.** Per incident (``Incident.ref``) and destination: the last revision the destination
  *accepted* (its level, open or resolved) and the last revision *handed* to its queue. A
  change counts as sent to a receiver only when that receiver accepted it. The service compares
  this with each incident's current state to bring a receiver up to date after a silence, an
  inhibition or a crash (``catch_up``), and a resolution whose firing a destination never
  accepted is dropped, not sent (Alertmanager's rule).

A message is delivered at least once: a crash after the provider accepted it and before the
entry was marked is a resend after the restart, with the same key (the webhook's
``Idempotency-Key``; the notification log's ``already_sent`` stops SMS, Zalo and email).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.model import (
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationState,
    Severity,
)
from alerting.notifiers.base import short
from alerting.routing import RoutingConfig

log = logging.getLogger(__name__)

# A worker with nothing due looks at its queue at least this often (an entry enqueued by
# another process, a clock that jumped).
IDLE_WAKE_S = 5.0
DEFAULT_DEADLINE_H = {"info": 1.0, "warning": 6.0, "critical": 12.0, "emergency": 24.0}


class EntryState(StrEnum):
    QUEUED = "queued"  # waiting for its first round, or for the next one after a failure
    DELIVERED = "delivered"  # accepted (by at least one target; the others refused it)
    FAILED = "failed"  # refused by every target: never retried (the retry rule's "other")
    EXPIRED = "expired"  # still failing at its deadline
    DROPPED = "dropped"  # a resolution of an alarm this destination never accepted


class DeliverySettings(BaseModel):
    """``delivery:`` in alerting.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Hours an undelivered message keeps being retried, by its severity. An all-clear is kept
    # at least as long as what it ends, still queued before it at the same destination.
    deadline_h: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DEADLINE_H))
    retry_initial_s: float = Field(default=30.0, gt=0)  # pause after the first failed round
    retry_max_s: float = Field(default=600.0, gt=0)  # the pause doubles up to this
    keep_days: float = Field(default=30.0, gt=0)  # finished entries kept for the record

    @field_validator("deadline_h")
    @classmethod
    def _known_severities(cls, value: dict[str, float]) -> dict[str, float]:
        for name, hours in value.items():
            if name.upper() not in Severity.__members__:
                raise ValueError(f"unknown severity {name!r}; known {list(DEFAULT_DEADLINE_H)}")
            if hours <= 0:
                raise ValueError(f"{name}: a deadline must be more than 0 hours")
        return value

    def deadline(self, severity: Severity) -> timedelta:
        hours = {**DEFAULT_DEADLINE_H, **{k.lower(): v for k, v in self.deadline_h.items()}}
        return timedelta(hours=hours[severity.name.lower()])

    def backoff(self, rounds: int) -> timedelta:
        """The pause after ``rounds`` failed rounds (1: the first failure)."""
        exponent = min(max(rounds - 1, 0), 32)  # 2**32 × 30 s is past any deadline
        return timedelta(seconds=min(self.retry_max_s, self.retry_initial_s * 2**exponent))

    @property
    def longest(self) -> timedelta:
        return max(self.deadline(s) for s in Severity)


@dataclass(frozen=True, slots=True, order=True)
class Destination:
    """A receiver (recipient group or endpoint) and one of its channels."""

    receiver: str
    channel: str

    def __str__(self) -> str:
        return f"{self.receiver}/{self.channel}"


def destinations(routing: RoutingConfig) -> list[Destination]:
    """Every receiver × channel of the routing config, in a stable order."""
    found = [Destination(name, ch) for name, group in routing.recipients.items()
             for ch in group.channels]  # fmt: skip
    found += [Destination(name, ch) for name, ch in routing.endpoints.items()]
    return list(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Covered:
    """One incident's change as an entry carries it."""

    incident: str  # Incident.ref
    revision: int
    level: int
    open: bool


@dataclass(frozen=True, slots=True)
class Told:
    """What one destination knows of one incident."""

    accepted_revision: int = -1  # the last revision it accepted; -1: nothing yet
    accepted_level: int = 0
    accepted_open: bool = False  # it was last told the incident is firing
    handled_revision: int = -1  # the last revision handed to its queue (or found needless)


def catch_up(told: Told | None, level: int, is_open: bool) -> NotificationState | None:
    """The change that brings a destination from what it accepted to an incident's current
    state, or None when it needs nothing: never an all-clear for an alarm it never got."""
    if not is_open:
        return NotificationState.RESOLVED if told is not None and told.accepted_open else None
    if told is None or not told.accepted_open:
        return NotificationState.FIRING  # it never heard of this alarm: the current level
    if level > told.accepted_level:
        return NotificationState.ESCALATED
    if level < told.accepted_level:
        return NotificationState.DEESCALATED
    return None  # it knows the level already; a reminder will come on its own schedule


def round_outcome(deliveries: Sequence[Delivery]) -> tuple[EntryState, str]:
    """An entry's state after a round of its notifier: QUEUED means another round."""
    if not deliveries:
        return EntryState.FAILED, "no target to deliver to (a group without members?)"
    failures = [d for d in deliveries if d.status is not DeliveryStatus.SENT]
    detail = "; ".join(f"{d.recipient}: {d.detail}" for d in failures)
    if any(d.status is DeliveryStatus.RETRY for d in deliveries):
        return EntryState.QUEUED, short(detail)
    if len(failures) < len(deliveries):
        return EntryState.DELIVERED, short(detail)
    return EntryState.FAILED, short(detail)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    destination: Destination
    notification: Notification
    covers: tuple[Covered, ...]
    state: EntryState
    created_at: datetime
    deadline: datetime
    next_at: datetime
    rounds: int = 0
    last_error: str = ""
    finished_at: datetime | None = None
    reason: str = ""
