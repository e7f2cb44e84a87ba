"""``quantrac config check``: every problem of a site at once, each naming its file and place."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from quantrac.cli_common import console, say
from quantrac.site import Site, read_site

config_app = typer.Typer(help="Check site configuration.", no_args_is_help=True)

_UNKNOWN_STATION = re.compile(r"unknown station '([^']+)'")


def site_problems(site_dir: Path) -> tuple[Site, list[str]]:
    """Stations, profiles, MQTT routing, rules and alerting, all checked in one pass.

    A station that does not load is left out of the rest, and the rules' "unknown station"
    about it is not said again: its own problem is the one to fix.
    """
    from quantrac.alerting_app import alerting_problems

    site, problems = read_site(site_dir)
    failed = {p.station for p in problems if p.station}
    lines = [str(p) for p in problems]
    for problem in alerting_problems(site):
        unknown = _UNKNOWN_STATION.search(problem)
        if unknown is None or unknown.group(1) not in failed:
            lines.append(problem)
    return site, lines


def _station_table(site: Site) -> Table:
    disabled = f", {len(site.disabled)} disabled" if site.disabled else ""
    table = Table(
        title=f"{site.settings.name}: {len(site.stations)} station(s){disabled}, all valid"
    )
    for column in ("id", "name", "kind", "district", "profile", "endpoint", "unit", "every"):
        table.add_column(column, overflow="fold")
    for s in [*site.stations.values(), *site.disabled.values()]:
        if s.is_modbus:
            source = s.modbus
            reads = (source.profile, source.connection.endpoint, str(source.unit))
            every = f"{source.interval_s:g} s" if s.enabled else "disabled"
        else:
            reads = (getattr(s.source, "profile", ""), s.source.driver, "")
            every = "as sent" if s.enabled else "disabled"
        table.add_row(s.id, s.name, s.kind, s.district, *reads, every)
    return table


@config_app.command("check")
def config_check(
    site_dir: Annotated[Path, typer.Argument(help="site directory (site.yaml + stations/)")],
) -> None:
    """Check a site directory and print every problem at once (exit 1 if any)."""
    from alerting.config import load_alerting
    from alerting.rules import Evaluator
    from quantrac.alerting_app import site_rules

    site, problems = site_problems(site_dir)
    if problems:
        say(f"{len(problems)} problem(s) in the site config:", error=True, style="bold red")
        for problem in problems:
            say(f"  ✗ {problem}", error=True)
        raise typer.Exit(1)
    console.print(_station_table(site))
    for note in site.notes:
        say(f"note: {note}")
    evaluator = Evaluator(site_rules(site), site.stations)
    config = load_alerting(site.directory)
    say(
        f"rules: {len(evaluator.slots)} rule × station pair(s); alerting: notifiers "
        f"{', '.join(config.notifiers)}; {len(config.routing.routes)} route(s)"
    )
