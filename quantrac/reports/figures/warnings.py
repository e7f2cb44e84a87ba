"""Warnings: incidents by kind and level, messages per channel, delivery failures, and the
time from firing to acknowledgement (pure).

From the alerting service's own records: its incidents (``IncidentStore.between``: each with
the highest level it reached) and its notification log (every attempt, one row each). A message
counts as sent once per notification and recipient, on the day of the attempt that was
accepted; a failure is a dead letter (refused, or retries spent) that no later attempt to the
same recipient made good. Acknowledgement time is ``acked_at − started_at``; an incident
acknowledged again after an escalation counts from its start to its last acknowledgement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from alerting.incidents import Incident
from alerting.model import AlertKind, DeliveryStatus
from alerting.notifiers.log import LogEntry
from quantrac.reports.period import ReportPeriod


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    channel: str
    sent: int  # messages accepted (notification × recipient)
    failed: int  # dead letters


@dataclass(frozen=True, slots=True)
class WarningFigures:
    incidents: tuple[Incident, ...]  # open at some time in the period, by start
    by_kind_level: tuple[tuple[AlertKind, int, int], ...]  # (kind, level reached, count)
    channels: tuple[ChannelFigures, ...]
    ack_delays: tuple[timedelta, ...]  # of the incidents started in the period and acked
    unacked: int  # incidents started in the period, never acknowledged

    @property
    def median_ack(self) -> timedelta | None:
        if not self.ack_delays:
            return None
        ordered = sorted(self.ack_delays)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2

    @property
    def max_ack(self) -> timedelta | None:
        return max(self.ack_delays, default=None)


# The reports themselves are emailed through the same log (quantrac.reports.schedule): they
# are not warnings.
REPORT_KEY_PREFIX = "report:"


def level_reached(incident: Incident) -> int:
    return max(incident.peak_level, incident.level)


def warnings(
    incidents: Sequence[Incident], log: Sequence[LogEntry], period: ReportPeriod
) -> WarningFigures:
    during = [
        i
        for i in incidents
        if i.started_at < period.end and (i.resolved_at is None or i.resolved_at >= period.start)
    ]
    counts = Counter((i.kind, level_reached(i)) for i in during)
    by_kind_level = tuple(
        (kind, level, counts[(kind, level)])
        for kind, level in sorted(counts, key=lambda k: (list(AlertKind).index(k[0]), k[1]))
    )
    sent: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    delivered = {(e.key, e.channel, e.recipient) for e in log if e.status is DeliveryStatus.SENT}
    seen_sent: set[tuple[str, str, str]] = set()
    seen_failed: set[tuple[str, str, str]] = set()
    for entry in log:
        target = (entry.key, entry.channel, entry.recipient)
        if not period.contains(entry.ts) or entry.key.startswith(REPORT_KEY_PREFIX):
            continue
        if entry.status is DeliveryStatus.SENT and target not in seen_sent:
            seen_sent.add(target)
            sent[entry.channel] += 1
        dead = entry.status is DeliveryStatus.FAILED or (
            entry.status is DeliveryStatus.RETRY and entry.exhausted
        )
        if dead and target not in delivered and target not in seen_failed:
            seen_failed.add(target)
            failed[entry.channel] += 1
    channels = tuple(
        ChannelFigures(channel, sent[channel], failed[channel])
        for channel in sorted(set(sent) | set(failed))
    )
    started = [i for i in during if period.contains(i.started_at)]
    delays = tuple(i.acked_at - i.started_at for i in started if i.acked_at is not None)
    unacked = sum(1 for i in started if i.acked_at is None)
    return WarningFigures(tuple(during), by_kind_level, channels, delays, unacked)
