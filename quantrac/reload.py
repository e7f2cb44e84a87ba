"""Hot reload: a running service re-reads its site without a restart (docs/operations.md).

``quantrac reload``, SIGHUP and the API's ``POST /admin/reload`` all end in
:meth:`Reloader.reload`: the site directory is loaded and checked whole (what ``quantrac config
check`` checks: stations, profiles, rules, alerting); a site with a problem is refused, the
service keeps running on what it had, and the problems are listed. A good one is handed to each
part of the service that registered a hook — the gateway's stations, the collector's station
catalogue and QC settings, the alerting rules and routes, the API's stations — and each says
what it changed and what waits for a restart. Nothing durable is touched: the outbox, the
forward queue, incidents and the delivery queues carry on.

Each service announces itself in ``DATA_DIR/run/``: ``NAME.pid`` (held locked while it runs,
so a stale file is told from a live one) and ``NAME.reload.json``, the outcome of its last
reload, which ``quantrac reload`` waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantrac.site import Site, SiteConfigError, load_site

if TYPE_CHECKING:
    from collector.schema import StationInfo
    from collector.service import Collector
    from quantrac.alerting_app import AlertingApp
    from quantrac.api_common import ApiContext
    from quantrac.runners import GatewayService

log = logging.getLogger(__name__)

RUN_DIR = "run"

# What one part of a service did with a reloaded site: (what changed, what waits for a restart).
Applied = tuple[list[str], list[str]]
Hook = Callable[[Site], Awaitable[Applied]]


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """The outcome of one reload, as ``NAME.reload.json`` and the API's answer give it."""

    service: str
    at: str  # ISO 8601, UTC
    ok: bool
    problems: list[str] = field(default_factory=list)  # why it was refused (nothing applied)
    changes: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # applied only by a restart

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def checked_site(directory: Path) -> tuple[Site | None, list[str]]:
    """The site, or None and every problem in it: stations, profiles, rules, alerting."""
    from quantrac.alerting_app import alerting_problems

    try:
        site = load_site(directory)
    except SiteConfigError as exc:
        return None, [str(p) for p in exc.problems]
    problems = alerting_problems(site)
    return (None, problems) if problems else (site, [])


class Reloader:
    """The reload of one service: the site directory it reads, and its parts' hooks."""

    def __init__(self, service: str, directory: Path, run_dir: Path | None = None) -> None:
        self.service = service
        self.directory = directory
        self.run_dir = run_dir
        self.hooks: list[tuple[str, Hook]] = []
        self.last: ReloadReport | None = None
        self._lock: asyncio.Lock | None = None
        self._pending: set[asyncio.Task[ReloadReport]] = set()

    def add(self, part: str, hook: Hook) -> None:
        self.hooks.append((part, hook))

    async def reload(self) -> ReloadReport:
        """Check the site, then apply it part by part; one reload at a time."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            report = await self._reload()
        self.last = report
        if self.run_dir is not None:
            await asyncio.to_thread(self._write_status, report)
        return report

    async def _reload(self) -> ReloadReport:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        site, problems = await asyncio.to_thread(checked_site, self.directory)
        if site is None:
            log.error(
                "reload of %s refused, still running on the previous config: %d problem(s):\n%s",
                self.directory, len(problems), "\n".join(f"  - {p}" for p in problems),
            )  # fmt: skip
            return ReloadReport(self.service, at, False, problems)
        changes: list[str] = []
        pending: list[str] = []
        failed: list[str] = []
        for part, hook in self.hooks:
            try:
                more, waiting = await hook(site)
            except Exception as exc:  # a bug in one part must not leave the others unapplied
                log.exception("reload: %s failed", part)
                failed.append(f"{part}: {type(exc).__name__}: {exc}")
                continue
            changes += more
            pending += waiting
        for line in changes:
            log.info("reload: %s", line)
        for line in pending:
            log.warning("reload: %s", line)
        if not changes and not pending and not failed:
            log.info("reload of %s: nothing changed", self.directory)
        return ReloadReport(self.service, at, not failed, failed, changes, pending)

    # -- announcing the service ---------------------------------------------------------------

    @property
    def pid_file(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / f"{self.service}.pid"

    @property
    def status_file(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / f"{self.service}.reload.json"

    def _write_status(self, report: ReloadReport) -> None:
        path = self.status_file
        assert path is not None
        part = path.with_suffix(".part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=1), "utf-8")
            part.replace(path)
        except OSError as exc:  # the reload is done; only `quantrac reload` will not hear of it
            log.warning("reload: cannot write %s: %s", path, exc)

    def _on_hangup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """While the service runs: SIGHUP reloads, and the pid file says where to send it.

        The handler is in place before the pid file exists: a ``quantrac reload`` that finds
        the file never kills the process with SIGHUP's default action.
        """
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._on_hangup)
        handle = None
        try:
            if self.pid_file is not None:
                try:
                    handle = await asyncio.to_thread(_announce, self.pid_file)
                except (OSError, RuntimeError) as exc:  # SIGHUP and the API still reload
                    log.warning("quantrac reload will not find this process: %s", exc)
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            if handle is not None and self.pid_file is not None:
                with contextlib.suppress(OSError):
                    self.pid_file.unlink()
                handle.close()


def _announce(path: Path) -> Any:
    """Write our pid into ``path`` and keep it locked for our life (released on exit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(
            f"{path}: another process of this name runs (its pid is there)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def running_services(run_dir: Path) -> dict[str, int]:
    """Services announced in ``run_dir`` that still run (their pid file is locked), by name.

    A stale file (its process died without removing it) is removed: its pid may belong to
    another program by now, which a SIGHUP would kill.
    """
    found: dict[str, int] = {}
    for path in sorted(run_dir.glob("*.pid")):
        try:
            with path.open("r+", encoding="utf-8") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # held: the service runs
                    found[path.stem] = int(handle.read().strip() or 0)
                    continue
                path.unlink()  # not held: nobody runs under this name
        except (OSError, ValueError):
            continue
    return {name: pid for name, pid in found.items() if pid > 0}


# -- the hooks of each service ----------------------------------------------------------------


def gateway_hook(service: GatewayService, select: Callable[[Site], Site] | None = None) -> Hook:
    """The gateway's stations; ``select`` takes this gateway's part of the site."""

    async def apply(site: Site) -> Applied:
        return await service.reload(select(site) if select is not None else site)

    return apply


def collector_hook(collector: Collector) -> Hook:
    """The collector's view of the stations: QC settings, derived series, the store's tags."""
    from quantrac.runners import station_catalog

    async def apply(site: Site) -> Applied:
        settings = collector.qc.settings
        before = settings.stations
        settings.stations = dict(site.stations)
        if collector.derived is not None:
            collector.derived.stations = dict(site.stations)
        refresh_catalog(collector.store, station_catalog(site))
        changes = [f"collector: station {s} added" for s in site.stations.keys() - before.keys()]
        changes += [f"collector: station {s} removed" for s in before.keys() - site.stations.keys()]
        pending = [
            f"collector: station {s}: QC settings of series already seen apply after a restart"
            for s in site.stations.keys() & before.keys()
            if site.stations[s].qc != before[s].qc
        ]
        return sorted(changes), pending

    return apply


def refresh_catalog(store: object, catalog: Mapping[str, StationInfo]) -> None:
    """Give every layer of a store (local copy, forward queue, remote) the new station tags."""
    if isinstance(getattr(store, "stations_info", None), dict):
        store.stations_info = dict(catalog)  # type: ignore[attr-defined]
    renderer = getattr(store, "_renderer", None)
    if isinstance(getattr(renderer, "stations", None), dict):
        renderer.stations = dict(catalog)  # type: ignore[union-attr]
    for layer in ("local", "remote"):
        inner = getattr(store, layer, None)
        if inner is not None:
            refresh_catalog(inner, catalog)


def alerting_hook(app: AlertingApp) -> Hook:
    async def apply(site: Site) -> Applied:
        from quantrac.alerting_app import reload_alerting

        return reload_alerting(app, site)

    return apply


def api_hook(context: ApiContext) -> Hook:
    """The API's stations (names, kinds, flood levels the board and the routes describe)."""

    async def apply(site: Site) -> Applied:
        before = context.stations
        context.stations = dict(site.stations)  # a new dict: what was made of the old goes
        changes = [f"api: station {s} added" for s in site.stations.keys() - before.keys()]
        changes += [f"api: station {s} removed" for s in before.keys() - site.stations.keys()]
        changes += [
            f"api: station {s} changed"
            for s in site.stations.keys() & before.keys()
            if site.stations[s] != before[s]
        ]
        return sorted(changes), []

    return apply
