"""CLI of alerting: ``quantrac alerting`` (the service) and ``quantrac rules test`` (a replay)."""

from __future__ import annotations

import csv
import logging
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from alerting.config import load_alerting
from alerting.incidents import IncidentManager, IncidentStore, Transition
from alerting.model import Signal
from alerting.notifiers import NotifierConfigError
from alerting.routing import Grouper, render_transitions, route
from alerting.rules import Evaluator
from alerting.rules.config import RuleConfigError
from collector.qc import QcChain, QcSettings
from gateway.model import VIETNAM_TZ, Quality, Reading, local_time
from quantrac.cli_common import console, setup_logging, site_or_exit
from quantrac.replay import TICK_EVERY, as_sent, replay, unknown_stations

rules_app = typer.Typer(help="Alert rules: replay history through them.", no_args_is_help=True)


def alerting(
    site_dir: Annotated[Path, typer.Argument(help="site directory (rules.yaml, alerting.yaml)")],
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://user:pass@host:port or mqtts://…")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="incidents and notification log")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="MQTT client id")] = None,
    health: Annotated[
        str | None,
        typer.Option(
            envvar="QUANTRAC_ALERTING_HEALTH",
            help="serve GET /health (JSON) and /metrics (Prometheus) on HOST:PORT",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Evaluate the site's rules on the clean stream and send the warnings."""
    from quantrac.alerting_app import build_alerting
    from quantrac.cli import _run, broker_or_exit
    from quantrac.cli_common import settings_with
    from quantrac.health import listen_or_exit, serve_health, service_snapshot
    from quantrac.reload import RUN_DIR, Reloader, alerting_hook
    from quantrac.runners import mqtt_bus

    setup_logging(verbose)
    site = site_or_exit(site_dir)
    health_listener = listen_or_exit(health)
    settings = settings_with(data_dir)
    broker_or_exit(broker or settings.broker_url)
    bus = mqtt_bus(settings, broker, client_id or f"quantrac-alerting-{socket.gethostname()}")
    try:
        app = build_alerting(site, bus, settings.data_dir)
    except (ValueError, NotifierConfigError, RuleConfigError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    rules = len(app.evaluator.slots)
    logging.getLogger("quantrac").info(
        "alerting: %d rule(s) × station(s), %d open incident(s), notifiers %s",
        rules, len(app.service.incidents.open), ", ".join(app.notifiers) or "none",
    )  # fmt: skip

    snapshot = service_snapshot(
        app.service.health, buses={"bus": bus}, queues={"clean": app.service.subscription}
    )
    # quantrac reload / SIGHUP: rules.yaml and alerting.yaml read again, incidents kept.
    reloader = Reloader("alerting", site_dir, settings.data_dir / RUN_DIR)
    reloader.add("alerting", alerting_hook(app))

    async def main() -> None:
        try:
            async with reloader.serving(), serve_health(health_listener, "alerting", snapshot), bus:
                await app.service.run()
        finally:
            await app.aclose()

    _run(main)


def _readings(path: Path) -> Iterator[Reading]:
    """Rows of ``station,param,ts,value[,unit][,quality]``; ``ts`` ISO 8601 (naive = UTC+7)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                ts = datetime.fromisoformat(row["ts"])
                if ts.tzinfo is None:
                    ts = ts.replace(tzinfo=VIETNAM_TZ)
                quality = Quality[(row.get("quality") or "good").upper()]
                yield Reading(
                    row["station"], row["param"], float(row["value"]), row.get("unit") or "",
                    ts.astimezone(UTC), quality=quality,
                )  # fmt: skip
            except (KeyError, ValueError) as exc:
                raise typer.BadParameter(f"{path}:{line}: {exc!r}") from exc


@rules_app.command("test")
def rules_test(
    site_dir: Annotated[Path, typer.Argument(help="site directory (rules.yaml, alerting.yaml)")],
    history: Annotated[Path, typer.Argument(help="CSV: station,param,ts,value[,unit][,quality]")],
    tick_s: Annotated[
        float,
        typer.Option("--tick", min=1, help="seconds of history between clock ticks in a gap"),
    ] = TICK_EVERY.total_seconds(),
) -> None:
    """Replay historic readings through the rules: what would have fired, when, to whom, saying
    what. The clock ticks through the gaps between readings, so a silent station shows."""
    from quantrac.alerting_app import site_rules

    site = site_or_exit(site_dir)
    raw = sorted(_readings(history), key=lambda r: r.ts)
    # A station id the site does not know matches no rule: say so, never skip rows silently.
    unknown = unknown_stations(raw, site.stations)
    for station in unknown:
        console.print(f"[yellow]warning:[/yellow] {escape(station.warning())}")
    raw = [r for r in raw if r.station in site.stations]
    # Checked by QC as the collector would have checked them: a glitch must not fire here
    # either. The clock sits after the history, so nothing in it is "in the future".
    later = raw[-1].ts + timedelta(days=1) if raw else datetime.now(UTC)
    readings = QcChain(QcSettings(site.stations), clock=lambda: later).check(raw).flagged(raw)
    # Only the stations the history holds speak: the others would all look silent (deadman).
    present = {r.station for r in readings}
    try:
        evaluator = Evaluator(site_rules(site), site.stations)
        config = load_alerting(site.directory)
    except (ValueError, RuleConfigError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    districts = {s.id: s.district for s in site.stations.values()}
    grouper = Grouper(timedelta(0), config.routing.group_by, districts, render_transitions)
    slots = len(evaluator.slots)
    table = Table(title=f"{history.name}: {len(readings):,} readings through {slots} rule slots")
    for column in ("giờ", "quy tắc", "trạm", "thay đổi", "cấp", "gửi tới", "tin nhắn"):
        table.add_column(column)
    messages: list[str] = []
    channel_configs = config.channel_configs()
    with tempfile.TemporaryDirectory() as tmp:
        incidents = IncidentManager(
            IncidentStore(Path(tmp) / "replay.sqlite3"), districts=districts
        )
        fired: list[Transition] = []

        def on_signal(signal: Signal) -> None:
            if signal.station in present:
                transition = incidents.on_signal(signal)
                if transition is not None:
                    fired.append(transition)

        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("replaying", total=len(readings))
            replay(
                readings, evaluator, on_signal, timedelta(seconds=tick_s),
                on_reading=lambda: progress.advance(task),
            )  # fmt: skip
        for transition in fired:
            notification = grouper.notification([transition], transition.incident.updated_at)
            receivers = route(config.routing.routes, notification)
            local = local_time(transition.incident.updated_at, site.settings.zone)
            table.add_row(
                local, transition.incident.rule, transition.incident.station,
                transition.change.value, str(transition.incident.level),
                ", ".join(receivers) or "–", escape(notification.title),
            )  # fmt: skip
            messages.append(
                f"{local}  {transition.incident.rule} · {transition.incident.station} · "
                f"{transition.change.value}"
            )
            for sent in as_sent(notification, receivers, config, channel_configs):
                channels = ", ".join(sent.channels) or "–"
                messages.append(f"  → {sent.receiver} ({channels})")
                if sent.title:
                    messages.append(f"    {sent.title}")
                messages.extend(f"    {line}" for line in sent.text.splitlines())
            if not receivers:
                messages.append("  → no route matches: not sent")
    console.print(table)
    if messages:
        console.print("Messages as each receiver would get them:")
        for line in messages:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"{len(fired)} change(s) would have been notified.")
    if unknown:
        skipped = sum(s.rows for s in unknown)
        console.print(
            f"[yellow]warning:[/yellow] {skipped:,} row(s) of {len(unknown)} unknown "
            "station(s) skipped (see above)."
        )


incidents_app = typer.Typer(help="Incidents: list, acknowledge, silence.", no_args_is_help=True)
DataDirArg = Annotated[Path, typer.Option("--data-dir", help="the alerting service's data")]


def _store(data_dir: Path) -> IncidentStore:
    path = data_dir / "incidents.sqlite3"
    if not path.exists():
        console.print(f"[red]no incidents in {data_dir} (is the alerting service using it?)[/]")
        raise typer.Exit(2)
    return IncidentStore(path)


@incidents_app.command("list")
def incidents_list(data_dir: DataDirArg = Path("data")) -> None:
    """Open incidents, newest change first."""
    store = _store(data_dir)
    incidents = sorted(store.open_incidents(), key=lambda i: i.updated_at, reverse=True)
    table = Table(title="Sự cố đang mở")
    # The id whole, never cut: it is what `incidents ack` takes.
    longest = max((len(i.id) for i in incidents), default=2)
    table.add_column("id", no_wrap=True, min_width=longest)
    # Times and levels whole too; only the acknowledgement's note may wrap.
    for column, width in (("mức", 9), ("cấp", 3), ("từ", 11), ("cập nhật", 11)):
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("xác nhận", overflow="fold", min_width=10)
    for incident in incidents:
        table.add_row(
            escape(incident.id), incident.severity.name.lower(), str(incident.level),
            local_time(incident.started_at), local_time(incident.updated_at),
            escape(f"{incident.acked_by} ({incident.ack_note})") if incident.acked_by else "–",
        )  # fmt: skip
    console.print(table)
    store.close()


@incidents_app.command("ack")
def incidents_ack(
    incident_id: Annotated[str, typer.Argument(help="rule:station, as `incidents list` shows")],
    by: Annotated[str, typer.Option(help="who acknowledges")],
    note: Annotated[str, typer.Option(help="what is being done")] = "",
    data_dir: DataDirArg = Path("data"),
) -> None:
    """Acknowledge an open incident: its reminders stop until its level changes."""
    store = _store(data_dir)
    manager = IncidentManager(store)
    try:
        manager.acknowledge(incident_id, by, note, datetime.now(UTC))
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/]")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    console.print(f"{incident_id}: acknowledged by {by}")


@incidents_app.command("silence")
def incidents_silence(
    by: Annotated[str, typer.Option(help="who silences")],
    comment: Annotated[str, typer.Option(help="why")],
    hours: Annotated[float, typer.Option(help="for how long")] = 2.0,
    station: Annotated[str | None, typer.Option(help="only this station")] = None,
    rule: Annotated[str | None, typer.Option(help="only this rule")] = None,
    district: Annotated[str | None, typer.Option(help="only this district")] = None,
    receiver: Annotated[
        list[str] | None,
        typer.Option(help="mute this receiver (recipient group or endpoint); repeatable"),
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="mute every receiver, the committee included")
    ] = False,
    maintenance: Annotated[bool, typer.Option(help="a planned maintenance window")] = False,
    data_dir: DataDirArg = Path("data"),
) -> None:
    """Hold the notifications of matching incidents to the receivers named (they are still
    tracked); when it ends, those receivers are told the incidents' current state."""
    from alerting.incidents import Silence

    if station is None and rule is None and district is None:
        console.print(
            "[red]give --station, --rule or --district: silencing everything is refused[/]"
        )
        raise typer.Exit(2)
    if not receiver and not everyone:
        # A technician's maintenance silence must not mute the committee by default (issue 11).
        console.print(
            "[red]give --receiver NAME (the receivers to mute, e.g. ky_thuat) or --all[/]"
        )
        raise typer.Exit(2)
    store = _store(data_dir)
    now = datetime.now(UTC)
    silence = store.add_silence(
        Silence(0, now, now + timedelta(hours=hours), by, comment, station, rule, district,
                maintenance, None if everyone else tuple(dict.fromkeys(receiver or ())))
    )  # fmt: skip
    store.close()
    console.print(f"silence {silence.id} until {local_time(silence.ends_at)} for {silence.scope}")


silences_app = typer.Typer(help="Silences: list and expire.", no_args_is_help=True)


def _local(when: datetime) -> str:
    return local_time(when)


@silences_app.command("list")
def silences_list(
    data_dir: DataDirArg = Path("data"),
    ended: Annotated[
        float, typer.Option(help="also those ended in the last HOURS", metavar="HOURS")
    ] = 0.0,
) -> None:
    """Silences in force (and recently ended), by id."""
    store = _store(data_dir)
    now = datetime.now(UTC)
    found = store.silences(now, ended_since=now - timedelta(hours=ended))
    store.close()
    table = Table(title="Tạm dừng thông báo")
    for column in ("id", "đối tượng", "người nhận bị tạm dừng", "từ", "đến", "bởi",
                   "lý do"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for silence in found:
        what = ", ".join(
            f"{name} {value}"
            for name, value in (("station", silence.station), ("rule", silence.rule),
                                ("district", silence.district))
            if value is not None
        )  # fmt: skip
        state = "" if silence.ends_at > now else " (ended)"
        table.add_row(
            str(silence.id), escape(what), escape(silence.scope), _local(silence.starts_at),
            _local(silence.ends_at) + state, escape(silence.created_by),
            escape(("bảo trì: " if silence.maintenance else "") + silence.comment),
        )  # fmt: skip
    console.print(table)


@silences_app.command("expire")
def silences_expire(
    silence_id: Annotated[int, typer.Argument(help="the id `silences list` shows")],
    data_dir: DataDirArg = Path("data"),
) -> None:
    """End a silence now: the running service tells its receivers the current state."""
    store = _store(data_dir)
    try:
        silence = store.expire_silence(silence_id, datetime.now(UTC))
    except KeyError as exc:
        console.print(f"[red]{exc.args[0]}[/]")
        raise typer.Exit(2) from exc
    finally:
        store.close()
    console.print(f"silence {silence.id} ended at {_local(silence.ends_at)}")


notifications_app = typer.Typer(help="Notifications: the delivery queues.", no_args_is_help=True)


@notifications_app.command("list")
def notifications_list(
    data_dir: DataDirArg = Path("data"),
    receiver: Annotated[str | None, typer.Option(help="only this receiver")] = None,
    state: Annotated[
        str | None,
        typer.Option(help="queued, delivered, failed, expired or dropped"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
) -> None:
    """The delivery queues' entries, newest first: what waits, what was delivered, what
    expired or was refused, and why."""
    from alerting.delivery import EntryState
    from alerting.delivery_store import DeliveryStore

    wanted = None
    if state is not None:
        try:
            wanted = EntryState(state)
        except ValueError:
            names = ", ".join(s.value for s in EntryState)
            console.print(f"[red]--state {escape(state)}: one of {names}[/]")
            raise typer.Exit(2) from None
    path = data_dir / "notifications.sqlite3"
    if not path.exists():
        console.print(f"[red]no notification log in {data_dir} (is the alerting service using "
                      "it?)[/]")  # fmt: skip
        raise typer.Exit(2)
    store = DeliveryStore(path)
    entries = store.entries(receiver=receiver, state=wanted, limit=limit)
    store.close()
    table = Table(title="Hàng đợi gửi thông báo")
    for column in ("id", "người nhận", "kênh", "trạng thái", "lượt", "tạo", "hạn",
                   "tiêu đề", "ghi chú"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for entry in entries:
        note = entry.reason or entry.last_error
        if entry.state is EntryState.QUEUED and entry.rounds:
            note = f"lần sau {_local(entry.next_at)}: {entry.last_error}"
        table.add_row(
            str(entry.id), escape(entry.destination.receiver), entry.destination.channel,
            entry.state.value, str(entry.rounds), _local(entry.created_at),
            _local(entry.deadline), escape(entry.notification.title), escape(note),
        )  # fmt: skip
    console.print(table)
