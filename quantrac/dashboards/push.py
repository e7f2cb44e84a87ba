"""``quantrac dashboards push``: the built boards into a running Grafana, through its HTTP API.

For a Grafana that is not provisioned from files (a shared IOC Grafana, a cloud one). Through
grafana-client, as the alerting service's annotations: the folder is created when missing
(``GET``/``POST /api/folders``), each board is read (``GET /api/dashboards/uid/{uid}``) and
written (``POST /api/dashboards/db``, ``overwrite``) only when it differs — so pushing the same
boards twice changes nothing, not even a board's version history.

The token comes from ``GRAFANA_TOKEN`` or the file named by ``GRAFANA_TOKEN_FILE`` (a service
account token with the Editor role), or a user and ``GRAFANA_PASSWORD`` — never from an argument,
which any process list would show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from alerting.notifiers.base import read_secret
from quantrac.dashboards.provisioning import FOLDER_TITLE, FOLDER_UID

# What Grafana adds to a board it stores: not a difference from the board we send.
SERVER_FIELDS = ("id", "version")


class PushError(Exception):
    """Grafana refused (the status and Grafana's message), or could not be reached."""


@dataclass
class PushResult:
    folder_created: bool = False
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def credential_from(environ: Mapping[str, str], user: str | None = None) -> str | tuple[str, str]:
    """A token (``GRAFANA_TOKEN[_FILE]``), or ``user`` with ``GRAFANA_PASSWORD[_FILE]``."""
    if user is not None:
        password = read_secret("grafana", "password", "GRAFANA_PASSWORD", environ)
        return (user, password.get_secret_value())
    return read_secret("grafana", "token", "GRAFANA_TOKEN", environ).get_secret_value()


def boards_in(folder: Path) -> dict[str, dict[str, Any]]:
    """uid → board, from the ``*.json`` of a built flavour folder."""
    boards = {}
    for path in sorted(folder.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        boards[str(board["uid"])] = board
    if not boards:
        raise PushError(f"no boards in {folder}: run `quantrac dashboards build` first")
    return boards


def client_for(url: str, credential: str | tuple[str, str], timeout_s: float = 10.0) -> Any:
    parts = urlsplit(url)
    prefix = parts.path.strip("/")
    # grafana-client is untyped: this function is the boundary that types it.
    api: Any = GrafanaApi(
        credential,
        host=parts.hostname,
        port=parts.port,
        # the client builds "{protocol}://{host}:{port}/{prefix}api": a prefix needs its "/"
        url_path_prefix=f"{prefix}/" if prefix else "",
        protocol=parts.scheme or "http",
        timeout=timeout_s,
    )
    return api


def _same(stored: Mapping[str, Any], board: Mapping[str, Any]) -> bool:
    trimmed = {k: v for k, v in stored.items() if k not in SERVER_FIELDS}
    return trimmed == {k: v for k, v in board.items() if k not in SERVER_FIELDS}


def push(
    api: Any,
    boards: Mapping[str, Mapping[str, Any]],
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    message: str = "quantrac dashboards push",
) -> PushResult:
    """Create or update ``boards`` in the folder; idempotent."""
    result = PushResult()
    try:
        try:
            api.folder.get_folder(folder_uid)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(folder_title, uid=folder_uid)
            result.folder_created = True
        for uid, board in boards.items():
            stored = _stored(api, uid)
            if stored is not None and _same(stored, board):
                result.unchanged.append(uid)
                continue
            api.dashboard.update_dashboard(
                {
                    "dashboard": {k: v for k, v in board.items() if k not in SERVER_FIELDS},
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": message,
                }
            )
            (result.created if stored is None else result.updated).append(uid)
    except GrafanaException as exc:
        raise PushError(f"Grafana answered HTTP {exc.status_code}: {exc.message}") from None
    except OSError as exc:  # requests' connection errors and timeouts are OSErrors
        raise PushError(f"cannot reach Grafana: {type(exc).__name__}: {exc}") from None
    return result


def _stored(api: Any, uid: str) -> dict[str, Any] | None:
    try:
        answer = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise
    board = answer.get("dashboard") if isinstance(answer, dict) else None
    return board if isinstance(board, dict) else None
