"""``quantrac reload``: make the running services re-read their site (docs/operations.md)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from quantrac.cli_common import console, err_console
from quantrac.reload import RUN_DIR, checked_site, running_services


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def reload(
    site_dir: Annotated[
        Path | None,
        typer.Argument(help="check this site first and signal nobody if it has problems"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="the services' data directory (their run/ is in it)"),
    ] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for each service's answer")] = 10.0,
) -> None:
    """Make every service running on this data directory re-read its site, without a restart.

    Each service checks the site again before it applies it: a config with a problem is
    refused and the service keeps running on what it had. Same as SIGHUP to each service.
    """
    from quantrac.settings import get_settings

    if site_dir is not None:
        _, problems = checked_site(site_dir)
        if problems:
            err_console.print(f"{len(problems)} problem(s) in {site_dir}; nothing was reloaded:",
                              style="red", highlight=False, markup=False)  # fmt: skip
            for problem in problems:
                err_console.print(f"  ✗ {problem}", highlight=False, markup=False)
            raise typer.Exit(1)
    run_dir = (data_dir or get_settings().data_dir) / RUN_DIR
    services = running_services(run_dir) if run_dir.is_dir() else {}
    if not services:
        err_console.print(
            f"no running quantrac service announced in {run_dir} (is --data-dir the one the "
            "services use?)",
            style="red", highlight=False, markup=False,
        )  # fmt: skip
        raise typer.Exit(2)
    before = {name: _stamp(run_dir / f"{name}.reload.json") for name in services}
    for name, pid in services.items():
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            before.pop(name)
            err_console.print(f"✗ {name}: pid {pid} is gone", highlight=False, markup=False)
    deadline = time.monotonic() + wait
    waiting = set(before)
    while waiting and time.monotonic() < deadline:
        waiting = {n for n in waiting if _stamp(run_dir / f"{n}.reload.json") == before[n]}
        if waiting:
            time.sleep(0.05)
    failed = len(services) - len(before)
    for name in before:
        if name in waiting:
            err_console.print(f"✗ {name}: no answer within {wait:g} s", highlight=False,
                              markup=False)  # fmt: skip
            failed += 1
            continue
        report = json.loads((run_dir / f"{name}.reload.json").read_text("utf-8"))
        if not report["ok"]:
            failed += 1
            err_console.print(f"✗ {name}: refused, still running on its previous config:",
                              highlight=False, markup=False)  # fmt: skip
            for problem in report["problems"]:
                err_console.print(f"    {problem}", highlight=False, markup=False)
            continue
        changes, pending = report["changes"], report["pending"]
        summary = "nothing changed" if not changes and not pending else f"{len(changes)} change(s)"
        console.print(f"✓ {name}: reloaded, {summary}", highlight=False, markup=False)
        for line in changes:
            console.print(f"    {line}", highlight=False, markup=False)
        for line in pending:
            console.print(f"    ! {line}", highlight=False, markup=False)
    if failed:
        raise typer.Exit(1)
