"""``quantrac tail [STATION]``: watch readings arrive, with their QC flags, as they are stored.

It listens on the broker like any consumer: the clean stream (``quantrac/v1/clean/…``, what the
collector stored, with its flags) or, with ``--raw``, what the gateways send before QC. A
message it cannot read is shown as such and skipped. Nothing is acknowledged to anyone: tail
only watches (a clean session, a client id of its own).
"""

from __future__ import annotations

import dataclasses
import math
import os
from datetime import tzinfo
from pathlib import Path
from typing import Annotated

import typer

from gateway.model import Reading, local_time, zone_of
from quantrac.cli_common import say, setup_logging, site_or_exit


def reading_line(reading: Reading, zone: tzinfo, name: str = "") -> str:
    """One reading as tail prints it: local time, station, parameter, value, unit, flag."""
    value = "—" if math.isnan(reading.value) else f"{reading.value:.6g}"
    flag = reading.quality.name.lower()
    if reading.reason:
        flag += f" ({reading.reason})"
    status = "" if reading.status.name == "MEASURING" else f" device {reading.status.name.lower()}"
    station = f"{reading.station} {name}".rstrip()
    when = local_time(reading.ts, zone, seconds=True)
    return f"{when}  {station}  {reading.param} = {value} {reading.unit}  {flag}{status}"


def tail(
    station: Annotated[str | None, typer.Argument(help="one station (default: every one)")] = None,
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://user:pass@host:port or mqtts://…")
    ] = None,
    site_dir: Annotated[
        Path | None, typer.Option("--site", help="for station names and the site's time zone")
    ] = None,
    raw: Annotated[bool, typer.Option("--raw", help="before QC: the gateways' batches")] = False,
    count: Annotated[
        int | None, typer.Option(help="stop after this many batches (default: Ctrl-C)")
    ] = None,
) -> None:
    """Watch a station's readings live, with their quality flags (good, suspect, bad)."""
    from gateway.bus.mqtt import MqttBus
    from gateway.wire import TOPIC_ROOT, WireError, decode_batch
    from quantrac.cli import broker_or_exit, redacted
    from quantrac.runners import mqtt_settings
    from quantrac.settings import get_settings

    setup_logging(False)
    site = site_or_exit(site_dir) if site_dir is not None else None
    zone = zone_of(site.settings.timezone if site else None)
    names = {s.id: s.name for s in site.stations.values()} if site else {}
    settings = get_settings()
    broker_or_exit(broker or settings.broker_url)
    client = mqtt_settings(settings, broker, f"quantrac-tail-{os.getpid()}")
    bus = MqttBus(dataclasses.replace(client, clean_session=True))
    stream = "raw" if raw else "clean"
    subscription = bus.subscribe(f"{TOPIC_ROOT}/{stream}/{station or '+'}", maxsize=10_000)
    if station is not None and site is not None and station not in site.stations:
        say(f"note: {station} is not a station of {site_dir}", error=True)
    say(f"{stream} readings of {station or 'every station'} on "
        f"{redacted(broker or settings.broker_url)}; Ctrl-C stops", error=True)  # fmt: skip

    async def watch() -> None:
        seen = 0
        async with bus:
            while count is None or seen < count:
                message = await subscription.get()
                seen += 1
                try:
                    batch = decode_batch(message.payload, topic=message.topic)
                except WireError as exc:
                    say(f"{message.topic}: not a batch ({exc.reason})", error=True)
                    continue
                for reading in batch.readings:
                    if reading.param == "station_online" and reading.value >= 0.5:
                        continue  # every poll carries it: only "offline" is news
                    say(reading_line(reading, zone, names.get(reading.station, "")))

    from quantrac.cli import _run

    _run(watch)
