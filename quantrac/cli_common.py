"""What every ``quantrac`` command shares: the consoles, logging, loading a site or exiting."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.logging import RichHandler

from quantrac.settings import SecretFileError, Settings, get_settings
from quantrac.site import Site, SiteConfigError, load_site


def _console(stream: TextIO, *, stderr: bool = False) -> Console:
    """A console that, off a terminal (a pipe, a log file, a test), writes each message on one
    line as plain text: no colour codes, no wrapping at 80 columns in the middle of a path."""
    interactive = stream.isatty()
    # Off a terminal no one resizes the window: tables get room (COLUMNS, else 200 columns).
    width = None if interactive else int(os.environ.get("COLUMNS", "0") or 0) or 200
    return Console(stderr=stderr, soft_wrap=not interactive, highlight=interactive, width=width)


console = _console(sys.stdout)
err_console = _console(sys.stderr, stderr=True)

DEFAULT_SITE = Path(__file__).resolve().parents[1] / "examples" / "hue"


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    # pymodbus logs every failed connect as a warning with a frame dump; the gateway reports
    # each station's failures itself (once at ERROR, then at DEBUG).
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    # APScheduler warns on every skipped run; the poller counts them per station instead.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def site_or_exit(path: Path) -> Site:
    try:
        return load_site(path)
    except SiteConfigError as exc:
        print_problems(exc)
        raise typer.Exit(2) from None


def print_problems(exc: SiteConfigError) -> None:
    err_console.print(f"[red bold]{len(exc.problems)} problem(s) in the site config:[/]")
    for problem in exc.problems:
        err_console.print(f"  [red]✗[/] {problem}", highlight=False, markup=False)


def say(text: str, *, error: bool = False, style: str | None = None) -> None:
    """A line for the person, printed as written: no markup read into it (a path with
    brackets, a problem quoting YAML), plain off a terminal."""
    (err_console if error else console).print(text, style=style, markup=False, highlight=False)


def readable_help() -> None:
    """Help and errors a person can read, on a terminal and off it.

    typer 0.29 writes a required argument as ``{site_dir}`` and a flag's type as ``<bool>``
    (``--help <bool>``); ours say ``SITE_DIR`` and nothing, as click does. Off a terminal (a
    pipe, a log, CI) help and usage errors are plain text, not boxes drawn in Unicode.
    """
    import typer.core

    argument = getattr(typer.core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):

        def usage_name(self: Any) -> str:
            name = self.metavar or self.name.upper()
            name = name if self.required else f"[{name}]"
            return f"{name}..." if self.nargs != 1 else name

        argument._usage_display_name = usage_name
        argument.display_name_raw = property(lambda self: self.metavar or self.name.upper())
    option = getattr(typer.core, "TyperOption", None)
    if option is not None and hasattr(option, "display_type_rich"):
        shown = option.display_type_rich

        def type_unless_flag(self: Any, ctx: Any) -> str | None:
            return None if self.is_flag else shown(self, ctx)

        option.display_type_rich = type_unless_flag
    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        typer.core.HAS_RICH = False


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("quantrac")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def settings_with(data_dir: Path | None, store_url: str | None = None) -> Settings:
    """The settings (environment, ``*_FILE`` secrets) with the command's own options over
    them; a secret file that cannot be read ends the command, saying which."""
    try:
        settings = get_settings()
    except SecretFileError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    update: dict[str, object] = {}
    if data_dir:
        update["data_dir"] = data_dir
    if store_url:
        update["store_url"] = store_url
    return settings.model_copy(update=update) if update else settings
