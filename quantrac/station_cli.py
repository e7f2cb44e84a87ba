"""``quantrac station``: probe, add, list, disable, enable and remove the site's stations.

``station add`` is the technician's one flow (docs/modbus.md, "Onboarding a station"): pick a
profile, give the connection and unit id, see the live device's decoded table with a verdict
per parameter, confirm, see the diff of the station file, write it, and reload the running
services. Every answer can be given as an option instead (scripts, tests); ``--yes`` accepts.
Edits keep the files' comments (``quantrac.site_edit``); a change that breaks the site (a rule
that names a removed station) is undone and the problems listed.
"""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gateway.config import StationConfig
from gateway.mqtt_input.profile import MqttProfile
from gateway.profiles import DeviceProfile
from quantrac.cli_common import DEFAULT_SITE, console, say, setup_logging, site_or_exit
from quantrac.reload import RUN_DIR, checked_site
from quantrac.site import Site, read_site
from quantrac.site_edit import SiteEditError, add_station, remove_station, set_enabled

station_app = typer.Typer(help="The site's stations: probe, add, list, disable, enable, remove.",
                          no_args_is_help=True)  # fmt: skip

SiteOpt = Annotated[Path, typer.Option("--site", help="site directory")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="the running services' data directory")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="accept every confirmation")]
ReloadOpt = Annotated[
    bool | None,
    typer.Option("--reload/--no-reload", help="reload the running services after (default: ask)"),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    say(f"✗ {message}", error=True, style="red")
    return typer.Exit(code)


@station_app.command("probe")
def station_probe(
    station_id: Annotated[str, typer.Argument(help="station id, e.g. kim_long")],
    site_dir: SiteOpt = DEFAULT_SITE,
) -> None:
    """Read a configured station once and show each parameter, raw and decoded, judged.

    Exit 1 when a parameter is not ok or the device reports an error (its raw status code is
    shown), 2 when it does not answer."""
    from gateway.modbus.hub import ModbusReadError
    from quantrac.technician import probe_device, show_probe

    setup_logging(False)
    site = site_or_exit(site_dir)
    config = site.stations.get(station_id)
    if config is None:
        raise _fail(f"no station {station_id!r} in {site_dir}; known: {', '.join(site.stations)}")
    if not config.is_modbus:
        raise _fail(f"{station_id} is not a Modbus station: nothing to probe")
    profile = site.profile_of(config)
    try:
        probe = asyncio.run(probe_device(config, profile))
    except ModbusReadError as exc:
        raise _fail(f"{station_id}: {exc}", 1) from None
    if show_probe(config, profile, probe):
        raise typer.Exit(1)


# -- add ----------------------------------------------------------------------------------------


def _ask(value: Any, text: str, default: Any = None, kind: type = str) -> Any:
    """An option's value, or the technician's answer to a prompt."""
    if value is not None:
        return value
    return typer.prompt(text, default=default, type=kind)


def _pick_profile(site: Site, wanted: str | None) -> DeviceProfile | MqttProfile:
    choices: list[DeviceProfile | MqttProfile] = [*site.profiles.values(),
                                                  *site.mqtt_profiles.values()]  # fmt: skip
    by_id = {p.id: p for p in choices}
    if wanted is None:
        grid = Table(title="Profiles (firmware_configs/ and the site's own)")
        for column in ("#", "profile", "protocol", "kind", "model"):
            grid.add_column(column, overflow="fold")
        for index, profile in enumerate(choices, start=1):
            protocol = "mqtt" if isinstance(profile, MqttProfile) else "modbus"
            grid.add_row(str(index), profile.id, protocol, profile.kind, profile.model)
        console.print(grid)
        wanted = typer.prompt("profile (number or name)")
    if wanted.isdigit() and 1 <= int(wanted) <= len(choices):
        return choices[int(wanted) - 1]
    if wanted not in by_id:
        raise _fail(f"no profile {wanted!r}; known: {', '.join(by_id)}")
    return by_id[wanted]


def _diff(path: Path, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"{path} (before)", tofile=str(path),
    )  # fmt: skip
    return "".join(lines)


def _write_checked(site_dir: Path, path: Path, before: str, after: str, yes: bool) -> None:
    """Show the diff, confirm, write; undo and list the problems if the site breaks."""
    say(_diff(path, before, after))
    if not yes and not typer.confirm(f"write {path}?", default=True):
        raise typer.Exit(1)
    path.write_text(after, encoding="utf-8")
    _, problems = checked_site(site_dir)
    if problems:
        if before:
            path.write_text(before, encoding="utf-8")
        else:
            path.unlink()
        say(
            f"{len(problems)} problem(s) with this change; {path} was left as it was:",
            error=True,
            style="red",
        )
        for problem in problems:
            say(f"  ✗ {problem}", error=True)
        raise typer.Exit(1)
    say(f"✓ {path} written; the site checks")


def _maybe_reload(data_dir: Path | None, reload: bool | None, yes: bool) -> None:
    from quantrac.reload_cli import reload_services
    from quantrac.settings import get_settings

    if reload is None:
        reload = yes or typer.confirm("reload the running services now?", default=True)
    if not reload:
        console.print("not reloaded: `quantrac reload` applies it to the running services")
        return
    run_dir = (data_dir or get_settings().data_dir) / RUN_DIR
    code = reload_services(run_dir)
    if code == 2:
        console.print("the services read it when they start")
    elif code:
        raise typer.Exit(code)


def _station_entry(
    profile: DeviceProfile | MqttProfile, answers: dict[str, Any], source: dict[str, Any]
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": answers["id"],
        "name": answers["name"],
        "kind": profile.kind,
        "district": answers["district"],
        "source": source,
    }
    return entry


@station_app.command("add")
def station_add(
    site_dir: SiteOpt = DEFAULT_SITE,
    data_dir: DataDirOpt = None,
    profile_name: Annotated[str | None, typer.Option("--profile", help="profile id")] = None,
    station_id: Annotated[str | None, typer.Option("--id", help="station id, e.g. ben_van")] = None,
    name: Annotated[str | None, typer.Option(help="the station's name, e.g. Bến Văn")] = None,
    district: Annotated[str | None, typer.Option(help="district (huyện / quận)")] = None,
    transport: Annotated[str | None, typer.Option(help="tcp, rtu or rtu_over_tcp")] = None,
    host: Annotated[str | None, typer.Option(help="logger address (tcp, rtu_over_tcp)")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    device: Annotated[str | None, typer.Option(help="serial device (rtu)")] = None,
    unit: Annotated[int | None, typer.Option(help="Modbus unit id")] = None,
    interval: Annotated[int | None, typer.Option(help="poll interval, s")] = None,
    device_id: Annotated[str | None, typer.Option(help="MQTT: the device's own id")] = None,
    file: Annotated[
        str | None, typer.Option(help="stations/FILE (default: the kind's file)")
    ] = None,
    yes: YesOpt = False,
    reload: ReloadOpt = None,
) -> None:
    """Add a station in one flow: profile, connection, a live probe, the diff, reload."""
    from pydantic import ValidationError

    from gateway.modbus.hub import ModbusReadError
    from quantrac.technician import probe_device, show_probe

    setup_logging(False)
    site = site_or_exit(site_dir)
    profile = _pick_profile(site, profile_name)
    answers = {
        "id": _ask(station_id, "station id (lower case, digits, _)"),
        "name": _ask(name, "name"),
        "district": _ask(district, "district"),
    }
    if answers["id"] in site.stations or answers["id"] in site.disabled:
        raise _fail(f"station {answers['id']} is already in {site.files[answers['id']]}")
    source: dict[str, Any]
    if isinstance(profile, MqttProfile):
        source = {"driver": "mqtt", "profile": profile.id}
        own_id = _ask(device_id, "the id the device sends", default=answers["id"])
        if own_id != answers["id"]:
            source["device_id"] = own_id
    else:
        kind = _ask(transport, "transport (tcp, rtu, rtu_over_tcp)", default="tcp")
        connection: dict[str, Any] = {"transport": kind}
        if kind == "rtu":
            connection["device"] = _ask(device, "serial device", default="/dev/ttyUSB0")
        else:
            connection["host"] = _ask(host, "host")
            connection["port"] = _ask(port, "port", default=502, kind=int)
        source = {
            "driver": "modbus",
            "profile": profile.id,
            "connection": connection,
            "unit": _ask(unit, "unit id", default=1, kind=int),
            "interval_s": _ask(interval, "poll interval, s", default=60, kind=int),
        }
    entry = _station_entry(profile, answers, source)
    try:
        config = StationConfig.model_validate(entry)
    except ValidationError as exc:
        for item in exc.errors():
            where = ".".join(str(p) for p in item["loc"])
            say(f"✗ {where}: {item['msg']}", error=True)
        raise typer.Exit(2) from None

    if isinstance(profile, DeviceProfile):
        try:
            probe = asyncio.run(probe_device(config, profile))
        except ModbusReadError as exc:
            say(f"✗ the device did not answer: {exc}", error=True, style="red")
            if yes or not typer.confirm("add the station anyway?", default=False):
                raise typer.Exit(1) from None
        else:
            bad = show_probe(config, profile, probe)
            verdict = "every parameter ok" if not bad else f"{bad} problem(s)"
            say(f"probe: {verdict}")
            if yes and bad:
                raise _fail("not added: the probe found problems (run without --yes to decide)", 1)
            if not yes and not typer.confirm("add this station?", default=not bad):
                raise typer.Exit(1)
    else:
        say(
            "an MQTT station is not probed: watch `quantrac tail "
            f"{config.id}` once the gateway reads it"
        )

    path = site_dir / "stations" / (file or f"{profile.kind}.yaml")
    before = path.read_text("utf-8") if path.exists() else ""
    try:
        after = add_station(before, entry)
    except SiteEditError as exc:
        raise _fail(f"{path}: {exc}") from None
    _write_checked(site_dir, path, before, after, yes)
    _maybe_reload(data_dir, reload, yes)


# -- list, disable, enable, remove ------------------------------------------------------------


def _site_for_edit(site_dir: Path) -> Site:
    site, problems = read_site(site_dir)
    if problems:
        say(
            f"note: the site has {len(problems)} problem(s) now (quantrac config check {site_dir})",
            error=True,
        )
    return site


@station_app.command("list")
def station_list(site_dir: SiteOpt = DEFAULT_SITE) -> None:
    """Every station of the site, disabled ones too, with where it is read from."""
    site = _site_for_edit(site_dir)
    grid = Table(title=f"{site.settings.name}: {len(site.stations)} station(s) read, "
                 f"{len(site.disabled)} disabled")  # fmt: skip
    for column in ("id", "name", "kind", "source", "address", "every", "state", "file"):
        grid.add_column(column, overflow="fold")
    everything = {**site.stations, **site.disabled}
    for station_id in sorted(everything, key=lambda s: (str(site.files.get(s, "")), s)):
        station = everything[station_id]
        source = station.source
        if station.is_modbus:
            modbus = station.modbus
            how = f"modbus {modbus.profile}"
            where = f"{modbus.connection.endpoint} unit {modbus.unit}"
            every = f"{modbus.interval_s:g} s"
        else:
            how = f"{source.driver} {getattr(source, 'profile', '')}".strip()
            where = getattr(source, "device_id", None) or getattr(source, "code", "") or station.id
            every = "as sent"
        state = "read" if station.enabled else "disabled"
        file = site.files.get(station_id)
        shown = file.relative_to(site_dir) if file and file.is_relative_to(site_dir) else file
        grid.add_row(station.id, station.name, station.kind, how, where, every, state, str(shown))
    console.print(grid)


def _edit(site_dir: Path, station_id: str, change: str, data_dir: Path | None,
          reload: bool | None, yes: bool) -> None:  # fmt: skip
    site = _site_for_edit(site_dir)
    path = site.files.get(station_id)
    if path is None:
        raise _fail(f"no station {station_id!r} in {site_dir}")
    before = path.read_text("utf-8")
    try:
        if change == "remove":
            after = remove_station(before, station_id)
        else:
            after = set_enabled(before, station_id, change == "enable")
    except SiteEditError as exc:
        raise _fail(f"{path}: {exc}") from None
    if after == before:
        say(f"{station_id} is already {change}d")
        return
    _write_checked(site_dir, path, before, after, yes)
    _maybe_reload(data_dir, reload, yes)


StationArg = Annotated[str, typer.Argument(help="station id")]


@station_app.command("disable")
def station_disable(station_id: StationArg, site_dir: SiteOpt = DEFAULT_SITE,
                    data_dir: DataDirOpt = None, yes: YesOpt = False,
                    reload: ReloadOpt = None) -> None:  # fmt: skip
    """Stop reading a station, keeping its config (enabled: false); rules leave it out."""
    _edit(site_dir, station_id, "disable", data_dir, reload, yes)


@station_app.command("enable")
def station_enable(station_id: StationArg, site_dir: SiteOpt = DEFAULT_SITE,
                   data_dir: DataDirOpt = None, yes: YesOpt = False,
                   reload: ReloadOpt = None) -> None:  # fmt: skip
    """Read a disabled station again."""
    _edit(site_dir, station_id, "enable", data_dir, reload, yes)


@station_app.command("remove")
def station_remove(station_id: StationArg, site_dir: SiteOpt = DEFAULT_SITE,
                   data_dir: DataDirOpt = None, yes: YesOpt = False,
                   reload: ReloadOpt = None) -> None:  # fmt: skip
    """Remove a station from its file (its stored history stays in the store)."""
    _edit(site_dir, station_id, "remove", data_dir, reload, yes)
