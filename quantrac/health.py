"""Health of a running service over HTTP: ``GET /health`` (JSON) and ``GET /metrics``.

``quantrac gateway|collector|alerting --health HOST:PORT`` serves, from a small HTTP/1.1
responder inside the service's own event loop:

- ``GET /health``: ``{"service", "status", "reasons", …the service's health dict…, "bus",
  "queues", "health_endpoint"}`` as JSON. HTTP 200 while the service does its job, ``ok`` or
  ``degraded``; HTTP 503 when it is ``down`` (it cannot do its job at all, or its health could
  not be read within ``timeout_s``). A degraded service is still working — through a backlog,
  a retry, a reconnect — so a supervisor must not restart it for that: monitoring alerts on
  the status and the reasons instead.
- ``GET /metrics``: the same dict flattened into Prometheus metrics (text format 0.0.4,
  rendered by prometheus-client): see :func:`quantrac.metrics.metric_families` for the naming
  rules.

The degraded convention (how any component says it is not well): in the health dict, at any
depth, a dict with

- ``"degraded": "<reason>"`` (or ``True``), or ``"status": "degraded"`` (with ``"reason"``):
  the service is degraded, and the reason is reported with the dict's path
  (``"outbox: write failing"``);
- ``"<something>_failing": true``: degraded, reason ``"<something> failing"``;
- ``"connected": false``: degraded, ``"<path>: broker HOST:PORT disconnected"`` when the dict
  also has ``"broker"``;
- ``"oldest_age_s"`` above :data:`STALE_BACKLOG_S` (60 s): degraded, a queue is not draining
  (``"outbox: 120 batches waiting, the oldest for 75 s"``);
- ``"down": "<reason>"`` (or ``True``), or ``"status": "down"``: the service is down (503).

``last_error`` alone is not a reason (a recovered component keeps its last error for the
operator); it is appended to the reason of a dict found degraded or down.

The endpoint answers one request per connection and closes it; a request line or headers over
16 KiB, a client that sends nothing for 5 s, more than 32 connections at once or garbage on the
wire each get an error answer or a closed socket, are counted under ``health_endpoint``, and
never reach the service. The health dict is computed in a worker thread (some components read
their SQLite files under a lock), one computation at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gateway.bus import Bus, Subscription
from quantrac.metrics import METRICS_CONTENT_TYPE, render_metrics

log = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "down"]

STALE_BACKLOG_S = 60.0  # a queue whose oldest entry waits longer is not draining
MAX_HEAD_BYTES = 16 * 1024
READ_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 32
LINGER_MAX_BYTES = 4 * 1024 * 1024  # read and dropped after answering, at most

# --- status ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    status: Status
    reasons: tuple[str, ...] = ()

    @property
    def http_status(self) -> int:
        return 503 if self.status == "down" else 200


def assess(health: Mapping[str, Any]) -> Assessment:
    """The service's status from its health dict, by the convention of the module docstring."""
    down: list[str] = []
    degraded: list[str] = []
    for severity, reason in _findings(health, ""):
        (down if severity == "down" else degraded).append(reason)
    if down:
        return Assessment("down", tuple(down + degraded))
    if degraded:
        return Assessment("degraded", tuple(degraded))
    return Assessment("ok")


def _findings(node: Mapping[str, Any], path: str) -> Iterator[tuple[Status, str]]:
    for severity, text in _own_findings(node):
        last_error = node.get("last_error")
        if isinstance(last_error, str) and last_error and last_error not in text:
            text = f"{text} (last error: {last_error})"
        yield severity, f"{path}: {text}" if path else text
    for key, value in node.items():
        if isinstance(value, Mapping):
            yield from _findings(value, f"{path}.{key}" if path else str(key))


def _own_findings(node: Mapping[str, Any]) -> Iterator[tuple[Status, str]]:
    reason = node.get("reason") or "; ".join(map(str, node.get("reasons") or ()))
    flag = node.get("down")
    if flag or node.get("status") == "down":
        yield "down", flag if isinstance(flag, str) else reason or "down"
    flag = node.get("degraded")
    if flag or node.get("status") == "degraded":
        yield "degraded", flag if isinstance(flag, str) else reason or "degraded"
    for key, value in node.items():
        if isinstance(key, str) and key.endswith("_failing") and value is True:
            yield "degraded", key.replace("_", " ")
    if node.get("connected") is False:
        broker = node.get("broker")
        yield "degraded", f"broker {broker} disconnected" if broker else "disconnected"
    age = node.get("oldest_age_s")
    if isinstance(age, int | float) and not isinstance(age, bool) and age > STALE_BACKLOG_S:
        waiting = next(
            (
                f"{value} {key.removeprefix('backlog_')}"
                for key, value in node.items()
                if isinstance(key, str) and key.startswith("backlog_") and _number(value)
            ),
            "entries",
        )
        yield "degraded", f"{waiting} waiting, the oldest for {age:.0f} s"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)



# --- what every service adds: its buses and queues ---------------------------------------------


def bus_health(bus: Bus) -> dict[str, Any]:
    """Connected or not, the broker, what waits to be sent and the bus counters."""
    body: dict[str, Any] = {}
    settings = getattr(bus, "settings", None)  # an MqttBus; the in-process bus has none
    host, port = getattr(settings, "host", None), getattr(settings, "port", None)
    if host is not None:
        body["broker"] = f"{host}:{port}"
    body["connected"] = bus.connected.is_set()
    body["backlog"] = bus.backlog
    body.update(vars(bus.stats))
    return body


def queue_health(subscription: Subscription) -> dict[str, Any]:
    return {
        "topic": subscription.topic_filter,
        "depth": subscription.qsize(),
        "capacity": subscription.maxsize,
        "dropped": subscription.dropped,
    }


BusRef = Bus | Callable[[], Bus | None]


def service_snapshot(
    components: Callable[[], Mapping[str, Any]],
    *,
    buses: Mapping[str, BusRef] | None = None,
    queues: Mapping[str, Subscription] | None = None,
) -> Callable[[], dict[str, Any]]:
    """The service's health dict with its buses (``bus``, or ``<name>`` for the others) and
    its input queues (``queues``); a bus given as a function may not exist yet (None)."""

    def snapshot() -> dict[str, Any]:
        body = dict(components())
        for name, ref in (buses or {}).items():
            bus = ref() if callable(ref) else ref
            if bus is not None:
                body[name] = bus_health(bus)
        if queues:
            body["queues"] = {name: queue_health(sub) for name, sub in queues.items()}
        return body

    return snapshot


# --- the HTTP endpoint -------------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or a bare ``PORT`` (loopback)."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"
    if not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:9101")
    return host, int(port_text)


def listen(address: str) -> socket.socket:
    """Bind the endpoint's socket now, so a taken port stops the service at its start."""
    host, port = parse_address(address)
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ValueError(f"{address}: {exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ValueError(f"{address}: {exc.strerror or exc}") from exc
    return sock


@dataclass
class EndpointStats:
    requests: int = 0
    bad_requests: int = 0  # garbage, too large, too slow, wrong method or path
    refused: int = 0  # over the connection limit
    errors: int = 0  # health() raised or timed out


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HealthEndpoint:
    """``/health`` and ``/metrics`` of one service, from a snapshot function."""

    def __init__(
        self,
        service: str,
        snapshot: Callable[[], Mapping[str, Any]],
        *,
        timeout_s: float = 5.0,
        read_timeout_s: float = READ_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.service = service
        self.snapshot = snapshot
        self.timeout_s = timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_connections = max_connections
        self.stats = EndpointStats()
        self._computing: asyncio.Task[dict[str, Any]] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logged: set[str] = set()

    async def health(self) -> dict[str, Any]:
        """The service's health with its status first; ``down`` if it cannot be read."""
        try:
            body = await asyncio.wait_for(asyncio.shield(self._compute()), self.timeout_s)
            assessment = assess(body)
        except Exception as exc:
            self.stats.errors += 1
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if isinstance(exc, TimeoutError):
                text = f"not computed within {self.timeout_s:g} s"
            self._log_once("health", "health of %s unavailable: %s", self.service, text)
            body, assessment = {}, Assessment("down", (f"health: {text}",))
        return {
            "service": self.service,
            "status": assessment.status,
            "reasons": list(assessment.reasons),
            **body,
            "health_endpoint": dict(vars(self.stats)),
        }

    def _compute(self) -> asyncio.Task[dict[str, Any]]:
        # One computation at a time, shared by concurrent requests: a component stuck on its
        # lock holds one worker thread, not one per scrape.
        if self._computing is None or self._computing.done():
            task = self._computing = asyncio.ensure_future(asyncio.to_thread(self._read))
            # Its failure is reported by the request that waited for it (or lost to a timeout).
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return self._computing

    def _read(self) -> dict[str, Any]:
        # Counters are read from this thread while the loop updates them: a dict that changed
        # size under the iteration is read again.
        for attempt in range(5):
            try:
                body: dict[str, Any] = _jsonable(self.snapshot())
                return body
            except RuntimeError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request, one answer, then the connection closes; nothing here raises."""
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if len(self._writers) > self.max_connections:
                self.stats.refused += 1
                self._log_once("refused", "health endpoint: over %d connections at once",
                               self.max_connections)  # fmt: skip
                await self._answer(writer, _Response(503, b"too many connections\n"))
            else:
                request = await self._read_request(reader)
                if isinstance(request, _Response):
                    await self._answer(writer, request)
                else:
                    method, path = request
                    response = await self._respond(path)
                    await self._answer(writer, response, head_only=method == b"HEAD")
            await self._linger(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stopped reading: nothing more to say to it
        except asyncio.CancelledError:
            # The service is stopping. Ending quietly: Python 3.11's server logs a cancelled
            # connection handler as an error.
            pass
        except Exception:  # the last resort: the service must outlive any request
            self.stats.errors += 1
            self._log_once("error", "health endpoint: a request failed", exc_info=True)
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close our side, then read what the client still sends (a body, the rest of a huge
        header) for a moment: closing with unread data resets the connection, and the client
        would lose the answer."""
        if writer.can_write_eof():
            writer.write_eof()
        discarded = 0
        async with asyncio.timeout(1.0):
            while discarded < LINGER_MAX_BYTES:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                discarded += len(chunk)

    async def _read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, str] | _Response:
        """(method, path) of a well-formed GET or HEAD; else the error to answer."""
        try:
            async with asyncio.timeout(self.read_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return self._bad(408, "no complete request in time")
        except asyncio.LimitOverrunError:
            return self._bad(431, "request head too large")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                return self._bad(400, "incomplete request")
            raise  # connected and closed: a port check, not a request
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[1].isascii():
            return self._bad(400, "not an HTTP/1 request line")
        method, target = parts[0], parts[1].decode("ascii")
        if method not in (b"GET", b"HEAD"):
            return self._bad(405, "only GET and HEAD")
        return method, target.partition("?")[0]

    async def _respond(self, path: str) -> _Response:
        if path not in ("/health", "/metrics", "/"):
            return self._bad(404, "unknown path: /health or /metrics")
        self.stats.requests += 1
        if path == "/":
            index = {"service": self.service, "endpoints": ["/health", "/metrics"]}
            return _Response(200, json.dumps(index).encode() + b"\n", "application/json")
        body = await self.health()
        if path == "/metrics":
            metrics = await asyncio.to_thread(render_metrics, self.service, body)
            return _Response(200, metrics, METRICS_CONTENT_TYPE)
        text = json.dumps(body, ensure_ascii=False, indent=1, default=str)
        status = 503 if body["status"] == "down" else 200
        return _Response(status, text.encode() + b"\n", "application/json")

    def _bad(self, status: int, why: str) -> _Response:
        self.stats.bad_requests += 1
        self._log_once("bad", "health endpoint: %s (answered %d; more such at debug)", why, status)
        return _Response(status, f"{why}\n".encode())

    async def _answer(
        self, writer: asyncio.StreamWriter, response: _Response, *, head_only: bool = False
    ) -> None:
        head = (
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode("ascii") + (b"" if head_only else response.body))
        # A client that does not read must not hold the answer in memory for ever.
        async with asyncio.timeout(self.read_timeout_s):
            await writer.drain()

    def _log_once(self, what: str, message: str, *args: object, exc_info: bool = False) -> None:
        level = logging.DEBUG if what in self._logged else logging.WARNING
        self._logged.add(what)
        log.log(level, message, *args, exc_info=exc_info)

    async def close(self) -> None:
        """Drop the open connections and let their handlers end."""
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)


@contextlib.asynccontextmanager
async def serve_health(
    listener: socket.socket | None,
    service: str,
    snapshot: Callable[[], Mapping[str, Any]],
) -> AsyncIterator[HealthEndpoint | None]:
    """Serve ``/health`` and ``/metrics`` on ``listener`` (from :func:`listen`) for the body
    of the ``with``; with no listener, nothing."""
    if listener is None:
        yield None
        return
    endpoint = HealthEndpoint(service, snapshot)
    server = await asyncio.start_server(endpoint.handle, sock=listener, limit=MAX_HEAD_BYTES)
    host, port = listener.getsockname()[:2]
    log.info("%s health on http://%s:%d/health and /metrics", service, host, port)
    try:
        yield endpoint
    finally:
        server.close()
        await endpoint.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await server.wait_closed()


def _jsonable(value: Any) -> Any:
    """A health dict as JSON takes it: str keys, lists, finite numbers (else None)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(inner) for key, inner in list(value.items())}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(inner) for inner in list(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return _jsonable(as_dict())
    return str(value)


def listen_or_exit(address: str | None) -> socket.socket | None:
    """The socket of ``--health ADDRESS``, bound before the service starts; exit 2 if taken."""
    if not address:
        return None
    import typer

    from quantrac.cli_common import err_console

    try:
        return listen(address)
    except ValueError as exc:
        err_console.print(f"[red]--health {exc}[/]", highlight=False)
        raise typer.Exit(2) from exc

