"""The console: the embedded default's notifier (docs/notifiers.md), for the demo and for a laptop.

It prints the Vietnamese message as the committee's phone would show it, coloured by
severity, and goes through the same runner as the real channels, so the notification log and
the "never twice" rule hold for it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from alerting.model import Delivery, DeliveryStatus, Notification, Recipient, Severity
from alerting.notifiers.base import ChannelConfig, DeliveryRunner, NotifierContext, Outcome

STYLE = {
    Severity.INFO: "green",
    Severity.WARNING: "yellow",
    Severity.CRITICAL: "dark_orange",
    Severity.EMERGENCY: "bold red",
}


class ConsoleConfig(ChannelConfig):
    english: bool = False  # print the English text as well


class ConsoleNotifier:
    channel = "console"

    def __init__(
        self, config: ConsoleConfig, runner: DeliveryRunner, console: Console | None = None
    ) -> None:
        self.config = config
        self._runner = runner
        self.console = console or Console()
        self.printed: list[Notification] = []

    @classmethod
    def from_config(cls, config: ConsoleConfig, context: NotifierContext) -> ConsoleNotifier:
        return cls(config, DeliveryRunner.of(cls.channel, config, context))

    async def aclose(self) -> None:
        return None

    async def send(
        self, notification: Notification, recipients: Sequence[Recipient] = ()
    ) -> list[Delivery]:
        async def attempt() -> Outcome:
            style = STYLE[notification.severity]
            # A single station's text starts with its title; a group's text lists the stations.
            text = notification.text
            if text.startswith(notification.title):
                text = text[len(notification.title) :]
            self.console.print(f"[{style}]{notification.title}[/]{text}")
            if self.config.english:
                self.console.print(f"[dim]{notification.text_en}[/]")
            self.printed.append(notification)
            return Outcome(Delivery(self.channel, "console", DeliveryStatus.SENT))

        return [await self._runner.deliver(notification, "console", attempt)]
