"""``quantrac keys`` and ``quantrac audit``: API keys and the audit log, at the console.

Keys are managed here and not over HTTP: whoever may write the data directory is already
trusted with everything in it, so a stolen API key can never make itself more keys.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from quantrac.auth import AuditEntry, KeyStore, Role, now_utc
from quantrac.cli_common import console, err_console
from quantrac.settings import get_settings

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of API actions.", no_args_is_help=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="where the key file lives (api-keys.sqlite3)")
]


def _store(data_dir: Path | None) -> KeyStore:
    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return KeyStore(settings.api_keys_path)


def _console_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin")],
    name: Annotated[str, typer.Option("--name", help="who or what uses the key")],
    data_dir: DataDirOpt = None,
) -> None:
    """Make a key and print it once: only its hash is kept."""
    try:
        parsed = Role.parse(role)
    except ValueError as exc:
        err_console.print(f"[red]--role: {exc}[/red]")
        raise typer.Exit(2) from None
    store = _store(data_dir)
    try:
        made, key = store.create(name, parsed, now_utc())
    except ValueError as exc:
        err_console.print(f"[red]--name: {exc}[/red]")
        raise typer.Exit(2) from None
    store.record(AuditEntry(now_utc(), _console_actor(), "key.create",
                            f"{made.id} {made.name} {made.role.label}", "local", 0))  # fmt: skip
    err_console.print(
        f"key {made.id} ({made.role.label}) for {made.name!r}; shown this once, keep it secret:"
    )
    print(key)  # alone on stdout, for a script: KEY=$(quantrac keys create …)


@keys_app.command("list")
def keys_list(data_dir: DataDirOpt = None) -> None:
    """The keys: id, name, role, made, revoked (never the keys themselves)."""
    table = Table("id", "name", "role", "created", "revoked")
    for key in _store(data_dir).list_keys():
        table.add_row(
            key.id, key.name, key.role.label, f"{key.created_at:%Y-%m-%d %H:%M}Z",
            f"{key.revoked_at:%Y-%m-%d %H:%M}Z" if key.revoked_at else "",
        )  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key's id (quantrac keys list)")],
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke a key: a running API refuses it from its next request."""
    store = _store(data_dir)
    try:
        revoked = store.revoke(key_id, now_utc())
    except KeyError:
        err_console.print(f"[red]no key {key_id!r} (quantrac keys list)[/red]")
        raise typer.Exit(1) from None
    store.record(AuditEntry(now_utc(), _console_actor(), "key.revoke",
                            f"{revoked.id} {revoked.name}", "local", 0))  # fmt: skip
    console.print(f"key {revoked.id} ({revoked.name}) revoked")


@audit_app.command("list")
def audit_list(
    data_dir: DataDirOpt = None,
    limit: Annotated[int, typer.Option(help="the newest N entries")] = 50,
) -> None:
    """The audit log, newest first: who, what, on what, when, from where, status."""
    table = Table("at (UTC)", "who", "action", "target", "from", "status")
    for entry in _store(data_dir).audit(limit):
        table.add_row(
            f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.who, entry.action, entry.target,
            entry.client, str(entry.status) if entry.status else "",
        )  # fmt: skip
    console.print(table)
