"""Quality control: small filters, registered in one table, each flagging instead of dropping.

``QcChain.check(readings)`` returns a quality and a reason per reading (the worst flag wins);
a reading is never dropped. docs/quality-control.md describes each filter and its defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.qc.chain import FILTERS, QcChain, QcResult
from collector.qc.settings import QcSettings, SeriesSettings
from collector.qc.state import REASONS
from gateway.model import Reading

__all__ = [
    "FILTERS",
    "REASONS",
    "QcChain",
    "QcResult",
    "QcSettings",
    "SeriesSettings",
    "check_all",
]


def check_all(readings: Sequence[Reading], chain: QcChain | None = None) -> list[Reading]:
    """The readings with their flags (a fresh chain, with no memory, unless one is given)."""
    chain = chain or QcChain()
    return chain.check(readings).flagged(readings)
