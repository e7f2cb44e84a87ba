"""The Evaluator: compiled rules indexed by series, fed clean batches and the clock.

Each rule is compiled once per station into a *slot* (the compiled rule and its state). Slots
are indexed by (station, param), so a batch only touches the rules of its own series: the cost
of a batch does not grow with the number of rules elsewhere. ``on_batch`` and ``tick`` return
the Signals of the slots whose reported level changed; ``active`` gives the current judgement
of every slot above normal, with its latest facts, for repeats and dashboards.

Quality (docs/rules.md): bad readings, and readings without a finite value, are ignored by
every rule (a deadman does not count them as data either); suspect ones — and unchecked ones,
which have not been through QC — reach only rules that say ``use_suspect`` (or that read that
suspect reason, as rain's ``use_incomplete``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from alerting.model import Signal
from alerting.rules.base import AnyRule
from alerting.rules.config import RuleConfig, RuleConfigError, RuleProblem
from alerting.rules.upstream import UpstreamLink
from gateway.config import StationConfig
from gateway.model import Quality, Reading

Compile = Callable[[Any, Mapping[str, StationConfig]], Sequence[Any]]


@dataclass(frozen=True, slots=True)
class RuleType:
    """One entry of the rule-type table: its config model and how it compiles per station."""

    config: type[Any]
    compile: Compile


@dataclass(slots=True, eq=False)
class Slot:
    """One rule at one station: the compiled rule, its state, the level it last reported."""

    rule: AnyRule
    state: Any
    level: int = 0  # the reported level, upstream links included
    last: Signal | None = None
    # Links that raise this slot's level (with the slot they watch), and links it feeds.
    raised_by: list[tuple[UpstreamLink, Slot]] = field(default_factory=list)
    feeds: list[Slot] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.id, self.rule.station)


class Evaluator:
    """Rules of a site, evaluated on the clean stream. Pure: time comes with the readings and
    as ``tick``'s argument; nothing here reads a clock or does I/O."""

    def __init__(
        self,
        rules: Sequence[RuleConfig],
        stations: Mapping[str, StationConfig],
        *,
        rule_types: Mapping[str, RuleType] | None = None,
    ) -> None:
        if rule_types is None:
            from alerting.rules import RULE_TYPES  # the package table; imported late: a cycle

            rule_types = RULE_TYPES
        self.slots: list[Slot] = []
        self._by_key: dict[tuple[str, str], Slot] = {}
        # (station, param) → [(slot, is_context)]; station → slots that read every series.
        self._series: dict[tuple[str, str], list[tuple[Slot, bool]]] = {}
        self._wide: dict[str, list[Slot]] = {}
        self._ticking: dict[int, Slot] = {}
        self.links: list[UpstreamLink] = []
        problems: list[RuleProblem] = []
        for config in rules:
            try:
                compiled = rule_types[config.type].compile(config, stations)
            except RuleConfigError as exc:
                problems.extend(exc.problems)
                continue
            for item in compiled:
                if isinstance(item, UpstreamLink):
                    self.links.append(item)
                else:
                    self._add(item)
        problems.extend(self._link())
        if problems:
            raise RuleConfigError(problems)

    # -- building -------------------------------------------------------------------------------

    def _add(self, rule: AnyRule) -> None:
        slot = Slot(rule, rule.new_state())
        self.slots.append(slot)
        self._by_key[slot.key] = slot
        if rule.station_wide:
            self._wide.setdefault(rule.station, []).append(slot)
        for param in rule.context_params:
            self._series.setdefault((rule.station, param), []).append((slot, True))
        for param in rule.params:
            self._series.setdefault((rule.station, param), []).append((slot, False))
        if rule.needs_tick(slot.state):
            self._ticking[id(slot)] = slot

    def _link(self) -> list[RuleProblem]:
        problems = []
        for link in self.links:
            source = self._by_key.get((link.upstream_rule, link.upstream_station))
            target = self._by_key.get((link.downstream_rule, link.downstream_station))
            if source is None:
                message = f"no rule {link.upstream_rule!r} at station {link.upstream_station}"
                problems.append(RuleProblem(None, link.id, "upstream_rule", message))
            if target is None:
                message = f"no rule {link.downstream_rule!r} at station {link.downstream_station}"
                problems.append(RuleProblem(None, link.id, "downstream_rule", message))
            if source is None or target is None:
                continue
            target.raised_by.append((link, source))
            source.feeds.append(target)
        if not problems and self._cyclic():
            problems.append(RuleProblem(None, None, "upstream", "upstream links form a cycle"))
        return problems

    def _cyclic(self) -> bool:
        visiting: set[int] = set()
        done: set[int] = set()

        def visit(slot: Slot) -> bool:
            if id(slot) in done:
                return False
            if id(slot) in visiting:
                return True
            visiting.add(id(slot))
            if any(visit(target) for target in slot.feeds):
                return True
            visiting.discard(id(slot))
            done.add(id(slot))
            return False

        return any(visit(slot) for slot in self.slots if slot.feeds)

    # -- feeding --------------------------------------------------------------------------------

    def on_batch(self, readings: Iterable[Reading]) -> list[Signal]:
        """Signals of the level changes a clean batch causes, in time order."""
        batch = readings if isinstance(readings, list) else list(readings)
        if any(b.ts < a.ts for a, b in pairwise(batch)):
            batch = sorted(batch, key=lambda r: r.ts)
        out: list[Signal] = []
        start, n = 0, len(batch)
        while start < n:
            end = start + 1
            while end < n and batch[end].ts == batch[start].ts:
                end += 1
            self._instant(batch[start:end] if end - start > 1 else (batch[start],), out)
            start = end
        return out

    def _instant(self, readings: Sequence[Reading], out: list[Signal]) -> None:
        """Readings of one instant: context series first (the gust before the wind's signal),
        then the series that judge."""
        routed: list[tuple[Reading, Sequence[tuple[Slot, bool]], Sequence[Slot]]] = []
        for reading in readings:
            series = self._series.get((reading.station, reading.param))
            wide = self._wide.get(reading.station)
            if series is None and wide is None:
                continue
            if reading.quality is Quality.BAD or not math.isfinite(reading.value):
                continue  # never triggers, and is not data (NaN: no value; inf: no measurement)
            routed.append((reading, series or (), wide or ()))
        for reading, entries, _ in routed:
            for slot, context in entries:
                if context and _reads(slot.rule, reading):
                    slot.rule.observe(slot.state, reading)
        for reading, entries, everything in routed:
            for slot, context in entries:
                if not context and _reads(slot.rule, reading):
                    self._evaluate(slot, reading, out)
            for slot in everything:
                self._evaluate(slot, reading, out)

    def _evaluate(self, slot: Slot, reading: Reading, out: list[Signal]) -> None:
        rule = slot.rule
        signal = rule.evaluate(slot.state, reading)
        if signal is not None:
            self._emit(slot, signal, out)
        elif slot.raised_by:
            self._reconcile(slot, reading.ts, out)
        if rule.needs_tick(slot.state):
            self._ticking[id(slot)] = slot
        else:
            self._ticking.pop(id(slot), None)

    def tick(self, now: datetime) -> list[Signal]:
        """The clock's turn: deadman silences, and pending levels confirmed by time."""
        out: list[Signal] = []
        for slot in list(self._ticking.values()):
            signal = slot.rule.tick(slot.state, now)
            if signal is not None:
                self._emit(slot, signal, out)
            if not slot.rule.needs_tick(slot.state):
                self._ticking.pop(id(slot), None)
        return out

    # -- reporting ------------------------------------------------------------------------------

    def _emit(self, slot: Slot, signal: Signal, out: list[Signal]) -> None:
        if slot.raised_by:
            self._reconcile(slot, signal.ts, out, signal)
            return
        slot.level = signal.level
        slot.last = signal
        out.append(signal)
        self._propagate(slot, signal.ts, out)

    def _propagate(self, slot: Slot, ts: datetime, out: list[Signal]) -> None:
        for target in slot.feeds:
            self._reconcile(target, ts, out)

    def _raised(self, slot: Slot) -> tuple[int, tuple[UpstreamLink, Slot] | None]:
        """The slot's level with its upstream links, and the link that raised it (if one did)."""
        rule = slot.rule
        own = rule.level(slot.state)
        level, cause = own, None
        for link, source in slot.raised_by:
            if link.active(source.level):
                raised = link.raised(own, rule.top_level)
                if raised > level:
                    level, cause = raised, (link, source)
        return level, cause

    def _reconcile(
        self, slot: Slot, ts: datetime, out: list[Signal], own: Signal | None = None
    ) -> None:
        level, cause = self._raised(slot)
        if level == slot.level:
            if own is not None and own.facts.get("event"):
                # News at the same level (a flood's crest) passes, at the level as raised.
                signal = self._with_level(slot, own, level, cause, ts, slot.level)
                slot.last = signal
                out.append(signal)
            return
        base = own or slot.rule.snapshot(slot.state)
        if base is None:
            return  # no data at the station yet: nothing to say of it
        signal = self._with_level(slot, base, level, cause, ts, slot.level)
        slot.level = level
        slot.last = signal
        out.append(signal)
        self._propagate(slot, ts, out)

    def _with_level(
        self,
        slot: Slot,
        base: Signal,
        level: int,
        cause: tuple[UpstreamLink, Slot] | None,
        ts: datetime,
        previous: int,
    ) -> Signal:
        rule = slot.rule
        own = rule.level(slot.state)
        facts = dict(base.facts)
        facts.update(
            label=rule.label_of(level),
            previous_level=previous,
            previous_label=rule.label_of(previous),
            own_level=own,
            own_label=rule.label_of(own),
        )
        if cause is not None:
            link, source = cause
            upstream = source.rule
            station = getattr(upstream, "station_facts", None)
            facts.update(
                raised_by=link.id,
                raised_by_rule=upstream.id,
                raised_by_station=upstream.station,
                raised_by_level=source.level,
                raised_by_label=upstream.label_of(source.level),
            )
            if station is not None:
                facts["raised_by_station_name"] = station.name
                if station.river:
                    facts["raised_by_river"] = station.river
        return replace(base, level=level, severity=rule.severity_of(level), ts=ts, facts=facts)

    def active(self) -> list[Signal]:
        """Every slot above normal, as its rule judges it now (latest value and facts)."""
        return [s for slot in self.slots if slot.level and (s := self._now(slot)) is not None]

    def current(self, rule: str, station: str) -> Signal | None:
        """One slot's judgement now, as ``active`` gives it: what a reminder says (its value
        and time of now). None for an unknown pair, a slot at normal, or no data yet."""
        slot = self._by_key.get((rule, station))
        return None if slot is None or not slot.level else self._now(slot)

    def _now(self, slot: Slot) -> Signal | None:
        base = slot.rule.snapshot(slot.state)
        if base is None:
            return None
        if base.level != slot.level or slot.raised_by:
            _, cause = self._raised(slot)
            previous = slot.last.facts.get("previous_level", 0) if slot.last else 0
            base = self._with_level(slot, base, slot.level, cause, base.ts, previous)
        return base

    def restore(self, rule: str, station: str, level: int) -> None:
        """Seed a level reported before a restart (the incident stage's open incidents): rule
        state lives in memory, and without this a river that fell while the service was down
        would never report the fall that closes its incident. Unknown pairs are ignored (the
        rule may have been removed from rules.yaml since)."""
        slot = self._by_key.get((rule, station))
        if slot is None:
            return
        slot.rule.restore(slot.state, level)
        slot.level = min(max(level, 0), max(slot.rule.top_level, 1))

    def adopt(self, old: Evaluator) -> list[tuple[str, str]]:
        """Take over what ``old`` knows, for a hot reload of rules.yaml: a slot whose compiled
        rule is unchanged keeps its state (pending durations, windows, the level reported); a
        changed one starts afresh from the level it had reported, as after a restart, so a fall
        is still reported. Returns the (rule, station) pairs above normal in ``old`` that this
        evaluator no longer has (their open incidents are the operator's to close)."""
        for slot in self.slots:
            previous = old._by_key.get(slot.key)
            if previous is None:
                continue
            if previous.rule == slot.rule:
                slot.state, slot.level, slot.last = previous.state, previous.level, previous.last
                if slot.rule.needs_tick(slot.state):
                    self._ticking[id(slot)] = slot
            elif previous.level:
                self.restore(*slot.key, previous.level)
        return [slot.key for slot in old.slots if slot.level and slot.key not in self._by_key]

    def slot(self, rule: str, station: str) -> Slot:
        return self._by_key[(rule, station)]

    def __len__(self) -> int:
        return len(self.slots)


def _reads(rule: AnyRule, reading: Reading) -> bool:
    if reading.quality is Quality.GOOD:
        return True
    return rule.use_suspect or reading.reason in rule.suspect_reasons
