"""The site's ``alerting.yaml``: which notifiers exist and how notifications are routed.

Without the file, everything goes to the console (the embedded default). Secrets are never in
the file: each notifier's config names the environment variables that hold them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerting.delivery import DeliverySettings
from alerting.model import Recipient, Severity
from alerting.notifiers import NOTIFIERS, ChannelConfig, notifier_config
from alerting.notifiers.email import recipient_email
from alerting.notifiers.phones import recipient_phone
from alerting.routing import Route, RoutingConfig

# How each channel that reaches people reads a recipient's address: the notifiers' own
# functions, so a check refuses exactly what a send would refuse.
RECIPIENT_ADDRESS: dict[str, Callable[[Recipient], str]] = {
    "sms": recipient_phone,
    "zalo": recipient_phone,
    "email": recipient_email,
}

CONSOLE_ONLY = {
    "notifiers": {"console": {}},
    "routing": {"endpoints": {"console": "console"}, "routes": [{"to": ["console"]}]},
}


class AlertingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)  # channel → its config
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    incidents_db: str = "incidents.sqlite3"  # under the data directory
    # Hours after which an unacknowledged, unchanged incident is sent again, per severity.
    repeat_after_h: dict[str, float] = Field(
        default_factory=lambda: {"info": 24.0, "warning": 6.0, "critical": 2.0, "emergency": 1.0}
    )
    # The delivery queues: how long an undelivered message is retried, per severity, and the
    # backoff between rounds (alerting.delivery, docs/alerting.md).
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    def repeat_after(self) -> dict[Severity, timedelta]:
        hours = {"info": 24.0, "warning": 6.0, "critical": 2.0, "emergency": 1.0}
        hours.update({k.lower(): v for k, v in self.repeat_after_h.items()})
        return {s: timedelta(hours=hours[s.name.lower()]) for s in Severity}

    @model_validator(mode="after")
    def _consistent(self) -> AlertingConfig:
        problems = []
        for channel in self.notifiers:
            if channel not in NOTIFIERS:
                known_channels = sorted(NOTIFIERS)
                problems.append(f"notifiers: unknown channel {channel!r}; known {known_channels}")
        for name, group in self.routing.recipients.items():
            for channel in group.channels:
                if channel not in self.notifiers:
                    problems.append(f"recipients.{name}: channel {channel!r} has no notifier")
        for name, channel in self.routing.endpoints.items():
            if channel not in self.notifiers:
                problems.append(f"endpoints.{name}: channel {channel!r} has no notifier")
        known = set(self.routing.recipients) | set(self.routing.endpoints)
        for name in self.repeat_after_h:
            if name.upper() not in Severity.__members__:
                problems.append(f"repeat_after_h: unknown severity {name!r}")

        def walk(routes: list[Route], where: str) -> None:
            for i, route in enumerate(routes):
                for receiver in route.to:
                    if receiver not in known:
                        problems.append(f"{where}[{i}]: unknown receiver {receiver!r}")
                walk(route.routes, f"{where}[{i}].routes")

        walk(self.routing.routes, "routes")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def channel_configs(self) -> dict[str, ChannelConfig]:
        return {channel: notifier_config(channel, doc) for channel, doc in self.notifiers.items()}


def recipient_problems(config: AlertingConfig) -> list[str]:
    """Every member of a recipient group whom one of the group's channels cannot reach: no
    phone for SMS or Zalo, a landline (which neither can reach), a malformed number or email
    address. Not an error at start (the others still get their messages, and the notifier logs
    each failure); ``quantrac config check`` refuses it, so it is found before the season."""
    problems = []
    for name, group in config.routing.recipients.items():
        for index, member in enumerate(group.members):
            for channel in group.channels:
                address = RECIPIENT_ADDRESS.get(channel)
                if address is None:
                    continue
                try:
                    address(member.recipient())
                except ValueError as exc:
                    where = f"recipients.{name}.members[{index}] ({member.name})"
                    problems.append(f"{where}: {channel}: {exc}")
    return problems


def load_alerting(site_dir: Path) -> AlertingConfig:
    path = site_dir / "alerting.yaml"
    if not path.exists():
        return AlertingConfig.model_validate(CONSOLE_ONLY)
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return AlertingConfig.model_validate(document)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
