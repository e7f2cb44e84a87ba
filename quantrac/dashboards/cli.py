"""``quantrac dashboards build|push``: the boards from a site's catalog, into files or a Grafana."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from quantrac.cli_common import console, err_console, site_or_exit

dashboards_app = typer.Typer(
    help="Grafana boards generated from the site's station catalog (docs/dashboards.md).",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="influxdb (InfluxQL) or victoriametrics (PromQL); default: both"),
]


@dashboards_app.command("build")
def build_command(
    site_dir: Annotated[Path, typer.Argument(help="site directory (site.yaml + stations/)")],
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("dashboards"),
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 if the folder is out of date")
    ] = False,
) -> None:
    """Generate the boards and Grafana's provisioning files into OUT."""
    import yaml

    from quantrac.dashboards.build import STORES, generate, write
    from quantrac.dashboards.catalog import catalog_of
    from quantrac.dashboards.checks import grafana_problems, round_trip
    from quantrac.dashboards.provisioning import DATASOURCES_FILE

    if store is not None and store not in STORES:
        err_console.print(f"[red]--store {escape(store)}: influxdb or victoriametrics[/]")
        raise typer.Exit(2)
    site = site_or_exit(site_dir)
    files = generate(catalog_of(site), [store] if store else STORES)
    datasources = yaml.safe_load(files[DATASOURCES_FILE])["datasources"]
    uids = {str(d["uid"]) for d in datasources}
    problems = []
    for name, text in files.items():
        if name.endswith(".json"):
            board = json.loads(text)
            problems += round_trip(board) + grafana_problems(board, uids)
    if problems:
        for problem in problems:
            err_console.print(f"[red]✗[/] {escape(problem)}", highlight=False)
        raise typer.Exit(1)
    if check:
        stale = [n for n, t in files.items() if _read(out / n) != t]
        for name in stale:
            err_console.print(f"[red]out of date:[/] {escape(str(out / name))}", soft_wrap=True)
        if stale:
            err_console.print("run `quantrac dashboards build` and commit the result")
            raise typer.Exit(1)
        console.print(f"{out}: up to date ({len(files)} files)")
        return
    write(files, out)
    boards = sum(1 for n in files if n.endswith(".json"))
    console.print(
        f"{site.settings.name}: {boards} board(s) and the provisioning files in {out}/ "
        f"({len(site.stations)} station(s))"
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


@dashboards_app.command("push")
def push_command(
    grafana: Annotated[
        str, typer.Option("--grafana", help="Grafana's URL, e.g. http://grafana:3000")
    ],
    store: Annotated[
        str, typer.Option("--store", help="which flavour to push: influxdb or victoriametrics")
    ] = "influxdb",
    source: Annotated[
        Path, typer.Option("--from", help="the folder `dashboards build` wrote")
    ] = Path("dashboards"),
    user: Annotated[
        str | None,
        typer.Option(help="log in as this user with GRAFANA_PASSWORD instead of GRAFANA_TOKEN"),
    ] = None,
) -> None:
    """Create or update the boards in Grafana's "Quan trắc môi trường" folder (idempotent).

    The token is read from GRAFANA_TOKEN, or from the file GRAFANA_TOKEN_FILE names.
    """
    from alerting.notifiers.base import NotifierConfigError
    from quantrac.dashboards.push import PushError, boards_in, client_for, credential_from, push

    try:
        credential = credential_from(os.environ, user)
        boards = boards_in(source / store)
        result = push(client_for(grafana, credential), boards)
    except (NotifierConfigError, PushError) as exc:
        err_console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    if result.folder_created:
        console.print("folder created")
    for label, uids in (
        ("created", result.created),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
    ):
        if uids:
            console.print(f"{label}: {', '.join(uids)}")
