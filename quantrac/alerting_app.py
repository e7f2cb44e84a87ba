"""Assembling the alerting service from a site: rules.yaml, alerting.yaml, the data directory."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.config import AlertingConfig, load_alerting, recipient_problems
from alerting.delivery import destinations
from alerting.delivery_queues import DeliveryQueues
from alerting.delivery_store import DeliveryStore
from alerting.incidents import IncidentManager, IncidentStore
from alerting.model import NotificationState
from alerting.notifiers import Notifier, NotifierContext, build_notifier
from alerting.notifiers.log import NotificationLog
from alerting.routing import Grouper, RoutingConfig, render_transitions, route
from alerting.rules import Evaluator, load_rules
from alerting.rules.config import RuleConfig, RuleConfigError, StationRule
from alerting.service import AlertingService
from gateway.bus import Bus
from quantrac.site import Site


@dataclass
class AlertingApp:
    service: AlertingService
    evaluator: Evaluator
    incidents: IncidentStore
    log: NotificationLog
    notifiers: dict[str, Notifier]
    queue: DeliveryStore
    config: AlertingConfig | None = None  # what the service runs on; a reload compares to it
    rules: list[RuleConfig] = field(default_factory=list)

    async def aclose(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.aclose()
        self.incidents.close()
        self.log.close()
        self.queue.close()


def site_rules(site: Site) -> list[RuleConfig]:
    """rules.yaml, without the disabled stations: a rule that names one by id leaves it out
    (a rule left with none is left out), as do upstream links to or from one."""
    path = site.directory / "rules.yaml"
    rules = load_rules(path) if path.exists() else []
    if not site.disabled:
        return rules
    kept: list[RuleConfig] = []
    for rule in rules:
        if isinstance(rule, StationRule) and isinstance(rule.stations, list):
            stations = [s for s in rule.stations if s not in site.disabled]
            if not stations:
                continue
            rule = rule.model_copy(update={"stations": stations})
        ends = (getattr(rule, "upstream_station", None), getattr(rule, "downstream_station", None))
        if any(end in site.disabled for end in ends):
            continue
        kept.append(rule)
    return kept


def alerting_problems(site: Site) -> list[str]:
    """Every problem of rules.yaml (against the site's stations) and alerting.yaml (notifiers,
    routes, recipients as the notifiers will read them), each naming its file: what ``config
    check`` prints and what a reload refuses. Nothing is connected, no secret is read."""
    problems: list[str] = []
    rules_file = site.directory / "rules.yaml"
    try:
        Evaluator(site_rules(site), site.stations)
    except RuleConfigError as exc:
        problems.extend(str(p) if p.file else f"{rules_file}: {p}" for p in exc.problems)
    except ValueError as exc:
        problems.append(f"{rules_file}: {exc}")
    try:
        config = load_alerting(site.directory)
        config.channel_configs()  # each notifier's own config, as the service will read it
    except ValueError as exc:
        problems.append(str(exc))
        return problems
    # Recipients as the notifiers will read them: a landline in an SMS group is refused here,
    # before the season, not by the provider during a flood.
    alerting_file = site.directory / "alerting.yaml"
    problems.extend(f"{alerting_file}: {p}" for p in recipient_problems(config))
    return problems


def _rule_changes(old: Sequence[RuleConfig], new: Sequence[RuleConfig]) -> list[str]:
    before = {rule.id: rule for rule in old}
    after = {rule.id: rule for rule in new}
    lines = [f"rule {rule_id}: added" for rule_id in after.keys() - before.keys()]
    lines += [f"rule {rule_id}: removed" for rule_id in before.keys() - after.keys()]
    lines += [
        f"rule {rule_id}: changed"
        for rule_id in after.keys() & before.keys()
        if after[rule_id] != before[rule_id]
    ]
    return sorted(lines)


def reload_alerting(app: AlertingApp, site: Site, rules: Sequence[RuleConfig] | None = None
                    ) -> tuple[list[str], list[str]]:  # fmt: skip
    """Apply a checked site to a running alerting service (hot reload): the rules, compiled
    again, keep the state of those unchanged; routes, grouping and recipients are swapped when
    the receivers and notifiers stay the same. Returns (what changed, what waits for a
    restart): a new receiver or a changed notifier needs its delivery queue and worker, which
    only a start makes. Incidents, queues and the notification log are untouched."""
    new_rules = site_rules(site) if rules is None else list(rules)
    evaluator = Evaluator(new_rules, site.stations)
    gone = evaluator.adopt(app.evaluator)
    changes = _rule_changes(app.rules, new_rules)
    changes += [
        f"rule {rule} at {station}: removed while above normal; its open incident stays "
        "open until acknowledged"
        for rule, station in gone
    ]
    if len(evaluator.slots) != len(app.evaluator.slots):
        changes.append(
            f"rules: {len(app.evaluator.slots)} → {len(evaluator.slots)} rule × station pair(s)"
        )
    service = app.service
    service.rules = app.evaluator = evaluator
    app.rules = new_rules
    districts = {s.id: s.district for s in site.stations.values()}
    service.incidents.districts = districts
    grouper = service.grouper
    grouper.districts = districts
    grouper.current = evaluator.current
    pending: list[str] = []
    config = load_alerting(site.directory)
    old = app.config
    if old is None or config == old:
        return changes, pending
    if config.notifiers != old.notifiers or set(destinations(config.routing)) != set(
        destinations(old.routing)
    ):
        pending.append(
            "alerting.yaml: notifiers or receivers changed: restart the alerting service to "
            "apply (routes keep the old ones until then)"
        )
        return changes, pending
    service.routing = config.routing
    service.queues.routing = config.routing
    grouper.wait = timedelta(seconds=config.routing.group_wait_s)
    grouper.group_by = config.routing.group_by
    app.config = config
    changes.append("alerting.yaml: routes, grouping and recipients reloaded")
    return changes, pending


def build_alerting(
    site: Site,
    bus: Bus,
    data_dir: Path,
    *,
    config: AlertingConfig | None = None,
    rules: Sequence[RuleConfig] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    environ: Mapping[str, str] | None = None,
    group: str | None = "alerting",
) -> AlertingApp:
    """Everything checked and opened; nothing connected (the bus connects when entered)."""
    config = config or load_alerting(site.directory)
    data_dir.mkdir(parents=True, exist_ok=True)
    rules = site_rules(site) if rules is None else list(rules)
    evaluator = Evaluator(rules, site.stations)
    districts = {s.id: s.district for s in site.stations.values()}
    store = IncidentStore(data_dir / config.incidents_db)
    incidents = IncidentManager(store, districts=districts, repeat_after=config.repeat_after())
    # Rule state lives in memory: seed it with what was open, so a fall during the restart is
    # still reported and closes its incident.
    for incident in incidents.open.values():
        evaluator.restore(incident.rule, incident.station, incident.level)
    log = NotificationLog(data_dir / "notifications.sqlite3")
    context = NotifierContext(
        log=log,
        environ=os.environ if environ is None else environ,
        state_dir=data_dir,
        now=clock,
    )
    notifiers = {
        channel: build_notifier(channel, channel_config, context)
        for channel, channel_config in config.channel_configs().items()
    }
    grouper = Grouper(
        timedelta(seconds=config.routing.group_wait_s),
        config.routing.group_by,
        districts,
        render_transitions,
        current=evaluator.current,  # reminders say the value and time of now (issue 11)
    )
    # The delivery queues live beside the notification log, in the same SQLite file.
    queue = DeliveryStore(data_dir / "notifications.sqlite3")
    queues = DeliveryQueues(queue, config.routing, notifiers, config.delivery, clock)
    if queue.new:
        seed_told(queues, incidents, config.routing, clock())
    service = AlertingService(
        bus, evaluator, incidents, grouper, config.routing, notifiers,
        group=group, clock=clock, queues=queues,
    )  # fmt: skip
    return AlertingApp(service, evaluator, store, log, notifiers, queue, config, rules)


def seed_told(
    queues: DeliveryQueues, incidents: IncidentManager, routing: RoutingConfig, now: datetime
) -> None:
    """A data directory from before the delivery queues: what the service had sent counts as
    accepted by every receiver of its route, so the upgrade does not resend each open alarm."""
    from alerting.model import Notification

    for incident in incidents.open.values():
        if incident.notified_revision != incident.revision:
            continue  # its last change was never sent: the reconciliation will send it
        probe = Notification(
            key="", state=NotificationState.FIRING, kind=incident.kind,
            severity=incident.severity, level=incident.level, title="", text="", text_en="",
            created_at=now, district=incidents.districts.get(incident.station, ""),
        )  # fmt: skip
        for receiver in route(routing.routes, probe):
            for destination in queues.of(receiver):
                queues.store.seed_told(
                    incident.ref, destination, incident.revision, incident.level, True, now
                )


def compressed_rules(rules: Sequence[RuleConfig], time_scale: float) -> list[RuleConfig]:
    """The rules for the demo, whose storm plays a day in minutes: durations shrink with it,
    and rates are per storm hour (the clock's hour divided by ``time_scale``), so a message says
    the river's rise in the storm's time, not "đang lên 13.831 cm/giờ" of the clock's hour.

    A trend rule's ``horizon`` is not shrunk: it is compared with a projection in those storm
    hours. Index rules are left out: an index of hourly means has no meaning on a clock running
    60 times fast. A deadman waits at least 30 s, more than the demo's slowest station (a TT10
    file every 10 s).
    """
    out: list[RuleConfig] = []
    for rule in rules:
        if rule.type == "index":
            continue
        update: dict[str, object] = {}
        for name in type(rule).model_fields:
            value = getattr(rule, name)
            if name == "horizon" or not isinstance(value, timedelta) or value <= timedelta(0):
                continue
            shorter = value / time_scale
            update[name] = (
                max(shorter, timedelta(seconds=30)) if rule.type == "deadman" else shorter
            )
        compressed = rule.model_copy(update=update)
        if isinstance(compressed, StationRule):
            compressed = compressed.on_time_scale(time_scale)
        out.append(compressed)
    return out
