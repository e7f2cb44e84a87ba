"""A loopback HTTP server speaking the part of Grafana's HTTP API that ``push`` uses.

Grafana itself cannot be installed on the machines the tests run on (no Debian package, no
download), so this server answers as Grafana 11 answers: ``GET``/``POST /api/folders``,
``GET /api/dashboards/uid/{uid}`` and ``POST /api/dashboards/db`` (stored boards get an ``id``
and a ``version`` that grows on each write), service-account tokens as ``Bearer``, 401 without
one, 404 for what is not there, 412 for a board that exists when ``overwrite`` is false. It
keeps every request it got.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class GrafanaState:
    token: str
    prefix: str = ""  # a Grafana served under a sub-path: "/grafana"
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid → stored
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _path(self) -> str | None:
        state = self.state
        state.requests.append((self.command, self.path))
        if not self.path.startswith(state.prefix + "/api/"):
            self._reply(404, {"message": "Not found"})
            return None
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._reply(401, {"message": "invalid API key"})
            return None
        return self.path.removeprefix(state.prefix)

    def do_GET(self) -> None:
        path = self._path()
        if path is None:
            return
        state = self.state
        if path.startswith("/api/folders/"):
            folder = state.folders.get(path.removeprefix("/api/folders/"))
            self._reply(200, folder) if folder else self._reply(
                404, {"message": "folder not found"}
            )
        elif path.startswith("/api/dashboards/uid/"):
            stored = state.dashboards.get(path.removeprefix("/api/dashboards/uid/"))
            if stored is None:
                self._reply(404, {"message": "Dashboard not found"})
            else:
                self._reply(200, {"dashboard": stored["dashboard"], "meta": stored["meta"]})
        else:
            self._reply(404, {"message": "Not found"})

    def do_POST(self) -> None:
        path = self._path()
        if path is None:
            return
        state = self.state
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if path == "/api/folders":
            uid = body.get("uid") or f"f{state.next_id}"
            if uid in state.folders:
                self._reply(409, {"message": "a folder with the same uid already exists"})
                return
            state.folders[uid] = {"id": state.next_id, "uid": uid, "title": body["title"]}
            state.next_id += 1
            self._reply(200, state.folders[uid])
        elif path == "/api/dashboards/db":
            self._save(body)
        else:
            self._reply(404, {"message": "Not found"})

    def _save(self, body: dict[str, Any]) -> None:
        state = self.state
        board = dict(body["dashboard"])
        folder = body.get("folderUid")
        if folder and folder not in state.folders:
            self._reply(400, {"message": "folder not found"})
            return
        uid = board.get("uid")
        if not uid or not board.get("title"):
            self._reply(400, {"message": "Dashboard title cannot be empty"})
            return
        stored = state.dashboards.get(uid)
        if stored is not None and not body.get("overwrite"):
            self._reply(412, {"message": "A dashboard with the same uid already exists"})
            return
        version = 1 if stored is None else stored["dashboard"]["version"] + 1
        board["id"] = stored["dashboard"]["id"] if stored else state.next_id
        board["version"] = version
        state.next_id += stored is None
        state.dashboards[uid] = {
            "dashboard": board,
            "meta": {"folderUid": folder, "message": body.get("message", "")},
        }
        self._reply(200, {"id": board["id"], "uid": uid, "status": "success", "version": version})


class FakeGrafana:
    def __init__(self, token: str, prefix: str = "") -> None:
        self.state = GrafanaState(token=token, prefix=prefix)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{self.state.prefix}"

    def __enter__(self) -> FakeGrafana:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def writes(self) -> list[str]:
        return [path for method, path in self.state.requests if method == "POST"]
