"""Alert rules (issue 7): declared in a site's ``rules.yaml``, evaluated on the clean stream.

Rules produce Signals (alerting/model.py), Alertmanager-style; the incident stage turns them
into incidents. Every rule type is one module, registered in ``RULE_TYPES`` below — the one
table, looked up by the ``type`` of each rule. docs/rules.md describes them all.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerting.rules.accumulation import compile_accumulation
from alerting.rules.config import (
    AccumulationConfig,
    DeadmanConfig,
    IndexConfig,
    RuleConfig,
    RuleConfigError,
    RuleProblem,
    ThresholdConfig,
    TrendConfig,
    UpstreamConfig,
    WindConfig,
    load_rules,
    parse_rules,
)
from alerting.rules.deadman import compile_deadman
from alerting.rules.evaluator import Evaluator, RuleType, Slot
from alerting.rules.index import compile_index
from alerting.rules.threshold import compile_threshold
from alerting.rules.trend import compile_trend
from alerting.rules.upstream import UpstreamLink, compile_upstream
from alerting.rules.wind import compile_wind

RULE_TYPES: Mapping[str, RuleType] = {
    "threshold": RuleType(ThresholdConfig, compile_threshold),
    "trend": RuleType(TrendConfig, compile_trend),
    "accumulation": RuleType(AccumulationConfig, compile_accumulation),
    "index": RuleType(IndexConfig, compile_index),
    "wind": RuleType(WindConfig, compile_wind),
    "deadman": RuleType(DeadmanConfig, compile_deadman),
    "upstream": RuleType(UpstreamConfig, compile_upstream),
}

__all__ = [
    "RULE_TYPES",
    "Evaluator",
    "RuleConfig",
    "RuleConfigError",
    "RuleProblem",
    "RuleType",
    "Slot",
    "UpstreamLink",
    "load_rules",
    "parse_rules",
]
