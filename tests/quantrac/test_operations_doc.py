"""docs/operations.md names every environment variable the services read, every counter of their
health and every dead-letter reason (issue 17): a new one that is not documented fails here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import typer

from alerting.service import AlertingStats
from collector.derived import DerivedStats
from collector.service import CollectorStats
from gateway.mqtt_input.driver import MqttStationHealth
from gateway.mqtt_input.values import PROBLEM_CODES
from gateway.outbox import OutboxStats
from gateway.poller import StationHealth
from gateway.tt10.inbox import Tt10Counters
from gateway.wire import REASONS
from quantrac.cli import app
from quantrac.settings import Settings

OPERATIONS = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")


def command_envvars(command: Any) -> set[str]:
    found = {
        name
        for param in command.params
        for name in ([param.envvar] if isinstance(param.envvar, str) else param.envvar or [])
    }
    for sub in getattr(command, "commands", {}).values():  # a group (typer's own click)
        found |= command_envvars(sub)
    return found


def fields(*classes: Any) -> list[str]:
    return [f.name for cls in classes for f in dataclasses.fields(cls)]


NAMES = {
    "settings": [f"QUANTRAC_{name.upper()}" for name in Settings.model_fields],
    "options": sorted(command_envvars(typer.main.get_command(app))),
    "counters": fields(
        OutboxStats,
        CollectorStats,
        AlertingStats,
        StationHealth,
        MqttStationHealth,
        Tt10Counters,
        DerivedStats,
    ),
    "wire reasons": list(REASONS),
    "MQTT reasons": list(PROBLEM_CODES),
}


@pytest.mark.parametrize("kind", NAMES)
def test_operations_md_names_each(kind: str) -> None:
    assert NAMES[kind], kind
    missing = [name for name in NAMES[kind] if f"`{name}`" not in OPERATIONS]
    assert missing == [], f"docs/operations.md does not name these {kind}: {missing}"
