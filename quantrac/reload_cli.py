"""``quantrac reload``: make the running services re-read their site (docs/operations.md)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from quantrac.cli_common import say
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
            say(
                f"{len(problems)} problem(s) in {site_dir}; nothing was reloaded:",
                error=True,
                style="red",
            )
            for problem in problems:
                say(f"  ✗ {problem}", error=True)
            raise typer.Exit(1)
    code = reload_services((data_dir or get_settings().data_dir) / RUN_DIR, wait)
    if code:
        raise typer.Exit(code)


def reload_services(run_dir: Path, wait: float = 10.0) -> int:
    """SIGHUP to every service announced in ``run_dir``, and their answers printed. Returns
    the exit code: 0 all reloaded, 1 one refused or did not answer, 2 none runs."""
    services = running_services(run_dir) if run_dir.is_dir() else {}
    if not services:
        say(
            f"no running quantrac service announced in {run_dir} (is --data-dir the one the "
            "services use?)",
            error=True,
            style="red",
        )
        return 2
    before = {name: _stamp(run_dir / f"{name}.reload.json") for name in services}
    for name, pid in services.items():
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            before.pop(name)
            say(f"✗ {name}: pid {pid} is gone", error=True)
    deadline = time.monotonic() + wait
    waiting = set(before)
    while waiting and time.monotonic() < deadline:
        waiting = {n for n in waiting if _stamp(run_dir / f"{n}.reload.json") == before[n]}
        if waiting:
            time.sleep(0.05)
    failed = len(services) - len(before)
    for name in before:
        if name in waiting:
            say(f"✗ {name}: no answer within {wait:g} s", error=True)
            failed += 1
            continue
        report = json.loads((run_dir / f"{name}.reload.json").read_text("utf-8"))
        if not report["ok"]:
            failed += 1
            say(f"✗ {name}: refused, still running on its previous config:", error=True)
            for problem in report["problems"]:
                say(f"    {problem}", error=True)
            continue
        changes, pending = report["changes"], report["pending"]
        summary = "nothing changed" if not changes and not pending else f"{len(changes)} change(s)"
        say(f"✓ {name}: reloaded, {summary}")
        for line in changes:
            say(f"    {line}")
        for line in pending:
            say(f"    ! {line}")
    return 1 if failed else 0
