"""Notifiers: the channels a notification leaves by, looked up in one explicit table.

Each channel is one module with its config model, its factory and a sample config under
``samples/<channel>.yaml``. The config is checked at start and never opens a connection;
secrets are read from the environment variables the config names (``secret_env``, …).
What every channel shares (retry rule, rate limit, notification log) is in ``base``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from alerting.notifiers.base import (
    ChannelConfig,
    DeliveryRunner,
    Notifier,
    NotifierConfigError,
    NotifierContext,
    RateLimit,
    RetryPolicy,
    TokenBucket,
    status_of,
)
from alerting.notifiers.console import ConsoleConfig, ConsoleNotifier
from alerting.notifiers.email import EmailConfig, EmailNotifier
from alerting.notifiers.grafana import GrafanaConfig, GrafanaNotifier
from alerting.notifiers.log import LogEntry, NotificationLog
from alerting.notifiers.sms import SmsConfig, SmsNotifier, sms_segments, strip_diacritics
from alerting.notifiers.webhook import WebhookConfig, WebhookNotifier, verify_signature
from alerting.notifiers.zalo import ZaloConfig, ZaloNotifier

SAMPLES = Path(__file__).parent / "samples"


class NotifierEntry(NamedTuple):
    """A channel's config model and its factory (config, context) → Notifier."""

    config: type[ChannelConfig]
    factory: Callable[[Any, NotifierContext], Notifier]


NOTIFIERS: Mapping[str, NotifierEntry] = {
    "webhook": NotifierEntry(WebhookConfig, WebhookNotifier.from_config),
    "sms": NotifierEntry(SmsConfig, SmsNotifier.from_config),
    "zalo": NotifierEntry(ZaloConfig, ZaloNotifier.from_config),
    "grafana": NotifierEntry(GrafanaConfig, GrafanaNotifier.from_config),
    "email": NotifierEntry(EmailConfig, EmailNotifier.from_config),
    "console": NotifierEntry(ConsoleConfig, ConsoleNotifier.from_config),
}


def notifier_config(channel: str, document: Mapping[str, Any]) -> ChannelConfig:
    """A channel's config checked (pydantic's ValidationError names each bad field)."""
    entry = NOTIFIERS.get(channel)
    if entry is None:
        raise NotifierConfigError(f"no notifier {channel!r}; known: {sorted(NOTIFIERS)}")
    return entry.config.model_validate(document)


def build_notifier(
    channel: str, config: ChannelConfig | Mapping[str, Any], context: NotifierContext
) -> Notifier:
    """The channel's notifier; reads its secrets now, so a missing one stops the start."""
    if not isinstance(config, ChannelConfig):
        config = notifier_config(channel, config)
    entry = NOTIFIERS[channel]
    if not isinstance(config, entry.config):
        raise NotifierConfigError(f"{channel}: expected a {entry.config.__name__}")
    return entry.factory(config, context)


__all__ = [
    "NOTIFIERS",
    "SAMPLES",
    "ChannelConfig",
    "DeliveryRunner",
    "EmailConfig",
    "EmailNotifier",
    "GrafanaConfig",
    "GrafanaNotifier",
    "LogEntry",
    "NotificationLog",
    "Notifier",
    "NotifierConfigError",
    "NotifierContext",
    "NotifierEntry",
    "RateLimit",
    "RetryPolicy",
    "SmsConfig",
    "SmsNotifier",
    "TokenBucket",
    "WebhookConfig",
    "WebhookNotifier",
    "ZaloConfig",
    "ZaloNotifier",
    "build_notifier",
    "notifier_config",
    "sms_segments",
    "status_of",
    "strip_diacritics",
    "verify_signature",
]
