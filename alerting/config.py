"""The site's ``alerting.yaml``: which notifiers exist and how notifications are routed.

Without the file, everything goes to the console (the embedded default). Secrets are never in
the file: each notifier's config names the environment variables that hold them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerting.model import Severity
from alerting.notifiers import NOTIFIERS, ChannelConfig, notifier_config
from alerting.routing import Route, RoutingConfig

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


def load_alerting(site_dir: Path) -> AlertingConfig:
    path = site_dir / "alerting.yaml"
    if not path.exists():
        return AlertingConfig.model_validate(CONSOLE_ONLY)
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return AlertingConfig.model_validate(document)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
