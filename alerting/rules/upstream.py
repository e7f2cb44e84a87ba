"""Upstream → downstream: a warning upstream raises the level of a warning downstream.

The flood of a tributary (the Bồ at Phú Ốc) reaches the main river below the confluence (the
Hương at Kim Long) hours later; a committee wants Kim Long's warning raised as soon as Phú Ốc is
at BĐ II, not when the water arrives. A link reads another rule's reported level upstream (its
pending and hysteresis already applied) and, while it is at or above ``level_at_least``:

- ``raise_to: N`` — the downstream warning is at least level N, even from normal (an early
  warning);
- ``raise_by: k`` — a downstream warning that is up (level ≥ 1) is k levels higher.

Either way it is capped at the downstream rule's top level. The downstream rule keeps its own
level underneath: when the upstream warning ends, the downstream one returns to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerting.rules.config import RuleConfigError, RuleProblem, UpstreamConfig
from gateway.config import StationConfig


@dataclass(frozen=True, slots=True)
class UpstreamLink:
    id: str
    upstream_station: str
    upstream_rule: str
    level_at_least: int
    downstream_station: str
    downstream_rule: str
    raise_to: int | None = None
    raise_by: int | None = None
    type: str = "upstream"

    def active(self, upstream_level: int) -> bool:
        return upstream_level >= self.level_at_least

    def raised(self, own_level: int, top: int) -> int:
        """The downstream level while the link is active."""
        if self.raise_to is not None:
            return min(max(own_level, self.raise_to), top)
        assert self.raise_by is not None
        return min(own_level + self.raise_by, top) if own_level else 0


def compile_upstream(
    config: UpstreamConfig, stations: Mapping[str, StationConfig]
) -> list[UpstreamLink]:
    problems = [
        RuleProblem(None, config.id, field, f"unknown station {station!r}")
        for field, station in (
            ("upstream_station", config.upstream_station),
            ("downstream_station", config.downstream_station),
        )
        if station not in stations
    ]
    if problems:
        raise RuleConfigError(problems)
    return [
        UpstreamLink(
            id=config.id,
            upstream_station=config.upstream_station,
            upstream_rule=config.upstream_rule,
            level_at_least=config.level_at_least,
            downstream_station=config.downstream_station,
            downstream_rule=config.downstream_rule,
            raise_to=config.raise_to,
            raise_by=config.raise_by,
        )
    ]
