"""Real HTTP receivers on loopback for the notifier tests.

A ``ThreadingHTTPServer`` on a free port records every request (method, path, query, headers,
raw body) and answers from a script per path: ``script("/send", Reply(503), Reply(200, …))``
answers 503 once, then 200 for every later request. A handler function can answer instead
(the Grafana annotation API below keeps state).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alerting.model import AlertKind, Notification, NotificationState, Severity
from tests.servers import free_port


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer late (a timeout test)

    def payload(self) -> tuple[bytes, str]:
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False).encode(), "application/json"
        return self.body, "text/plain; charset=utf-8"


Handler = Callable[[RecordedRequest], Reply]


class HttpReceiver:
    """A real HTTP server that records requests and answers from scripts."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.port = free_port()
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Reply]] = {}
        self._handler = handler
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._request_handler())
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer requests to ``path`` with ``replies`` in turn; the last one repeats."""
        with self._lock:
            self._scripts[path] = deque(replies)

    def to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            script = self._scripts.get(request.path)
            if script:
                return script.popleft() if len(script) > 1 else script[0]
        if self._handler is not None:
            return self._handler(request)
        return Reply(404, json={"error": f"nothing scripted for {request.path}"})

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production server would

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = RecordedRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                reply = receiver._answer(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload, content_type = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            # http.server's names for the verbs
            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the records are the log

        return _Handler


@dataclass
class GrafanaAnnotationApi:
    """Grafana's annotation HTTP API, as far as annotations go (Grafana 10/11 shapes):
    POST /api/annotations → {"id", "message": "Annotation added"}, PATCH and PUT
    /api/annotations/{id}, GET /api/annotations?tags=…&tags=… (all tags must match)."""

    token: str
    annotations: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1

    def __call__(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, json={"message": "Unauthorized"})
        path = request.path.removesuffix("/")
        if path == "/api/annotations" and request.method == "POST":
            document = request.json()
            if not isinstance(document.get("time"), int) or not document.get("text"):
                return Reply(400, json={"message": "bad request data"})
            annotation_id = self.next_id
            self.next_id += 1
            self.annotations[annotation_id] = {
                "id": annotation_id,
                "dashboardUID": document.get("dashboardUID", ""),
                "panelId": document.get("panelId") or 0,
                "time": document["time"],
                "timeEnd": document.get("timeEnd") or document["time"],
                "tags": list(document.get("tags") or []),
                "text": document["text"],
            }
            return Reply(200, json={"id": annotation_id, "message": "Annotation added"})
        if path == "/api/annotations" and request.method == "GET":
            wanted = set(request.query.get("tags", []))
            found = [a for a in self.annotations.values() if wanted <= set(a["tags"])]
            return Reply(200, json=sorted(found, key=lambda a: -int(a["time"])))
        if path.startswith("/api/annotations/") and request.method in ("PATCH", "PUT"):
            annotation_id = int(path.rsplit("/", 1)[1])
            existing = self.annotations.get(annotation_id)
            if existing is None:
                return Reply(404, json={"message": "Annotation not found"})
            document = request.json()
            # Grafana's PATCH keeps what is zero or absent: time 0, timeEnd 0, text "", tags nil.
            for name in ("time", "timeEnd"):
                if document.get(name):
                    existing[name] = document[name]
            if document.get("text"):
                existing["text"] = document["text"]
            if document.get("tags") is not None:
                existing["tags"] = list(document["tags"])
            verb = "patched" if request.method == "PATCH" else "updated"
            return Reply(200, json={"message": f"Annotation {verb}"})
        return Reply(404, json={"message": "Not found"})


def running(receiver: HttpReceiver) -> Iterator[HttpReceiver]:
    """For fixtures: ``yield from running(HttpReceiver())``."""
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


# --- helpers shared by the notifier tests ----------------------------------------------------


class ControlledClock:
    """A monotonic clock that only moves when something sleeps on it: retries and rate limits
    run at once, and the pauses they asked for are recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


KIM_LONG_AT = datetime(2025, 10, 28, 3, 15, tzinfo=UTC)  # 10:15 in Huế


def flood_notification(**changes: Any) -> Notification:
    """A level II flood warning at Kim Long on the Hương river, as routing would hand it over."""
    notification = Notification(
        key="inc-kim_long-flood-20251028T0315Z:firing:2",
        state=NotificationState.FIRING,
        kind=AlertKind.FLOOD,
        severity=Severity.CRITICAL,
        level=2,
        title="[BÁO ĐỘNG II] Sông Hương tại Kim Long",
        text=(
            "Mực nước sông Hương tại Kim Long lúc 10:15 ngày 28/10 là 3,45 m, trên báo động II "
            "0,45 m, đang lên 0,12 m/giờ. Đề nghị UBND các phường, xã ven sông chủ động sơ tán "
            "người dân ở vùng trũng thấp."
        ),
        text_en=(
            "Huong river at Kim Long 3.45 m at 10:15 on 28/10, 0.45 m above alarm level II, "
            "rising 0.12 m/h."
        ),
        created_at=KIM_LONG_AT,
        incidents=("inc-kim_long-flood-20251028T0315Z",),
        stations=("kim_long",),
        district="Phú Xuân",
        facts={
            "value": 3.45,
            "unit": "m",
            "label": "BĐ II",
            "margin": 0.45,
            "rate": 0.12,
            "observed_at": KIM_LONG_AT,
        },
    )
    return replace(notification, **changes)
