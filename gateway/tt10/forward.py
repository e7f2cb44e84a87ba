"""TT10 forwarding: the gateway passes the readings it has — from Modbus, MQTT or received TT10
files — on to an upstream receiver (the Ministry's or the Department's system) as TT10/2021
files over FTP or FTPS, one file per station per interval (docs/tt10.md, "Forwarding upstream").

``Tt10Forwarder.put`` takes a station's readings (the gateway's tap, after its own checks);
``run`` keeps three loops: group commits into the durable queue (``forward_queue``), sealing
each interval ``seal_after_s`` after it ends, and sending the queued files in order, per station,
retrying every ``retry_s`` while the receiver is down. Nothing in it can stop the gateway: a
full disk or a dead receiver is counted, logged once, and shown in health.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from gateway.config import StationConfig, Tt10Source
from gateway.model import DeviceStatus, Reading
from gateway.tt10.forward_config import Tt10ForwardConfig, default_code
from gateway.tt10.forward_format import (
    FileIdentity,
    NotForwardable,
    slot_start,
    tt10_file,
    tt10_symbol,
)
from gateway.tt10.forward_ftp import FtpUploader, UploadRefused, Upstream
from gateway.tt10.forward_queue import ForwardQueue, Row

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)  # readings and sent files kept for late readings to re-make a file
_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ForwardConfigError(ValueError):
    """Forwarding cannot start: names the station, the field, the variable."""


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def _utc(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def read_password(
    where: str, env: str | None, file: Path | None, environ: Mapping[str, str]
) -> SecretStr:
    if env is not None:
        value = environ.get(env, "")
        if not value:
            raise ForwardConfigError(f"{where}: password_env {env} is not set or empty")
        return SecretStr(value)
    if file is not None:
        try:
            first = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ForwardConfigError(f"{where}: password_file {file}: {exc.strerror}") from None
        if not first or not first[0]:
            raise ForwardConfigError(f"{where}: password_file {file} is empty")
        return SecretStr(first[0])
    return SecretStr("")


@dataclass(frozen=True)
class ForwardedStation:
    id: str
    kind: str
    identity: FileIdentity
    upstream: Upstream


def forwarded_stations(
    config: Tt10ForwardConfig, stations: Iterable[StationConfig], environ: Mapping[str, str]
) -> dict[str, ForwardedStation]:
    """The stations to forward with their file names and logins; ForwardConfigError for an
    unknown station, two stations with one code, a password that is not there."""
    chosen = {s.id: s for s in stations}
    wanted = config.only if config.only is not None else list(chosen)
    unknown = [s for s in [*wanted, *config.stations] if s not in chosen]
    if unknown and config.only is not None:
        raise ForwardConfigError(f"tt10_forward: unknown station(s) {', '.join(unknown)}")
    default_password = read_password(
        "tt10_forward", config.password_env, config.password_file, environ
    )
    found: dict[str, ForwardedStation] = {}
    codes: dict[str, str] = {}
    for station_id in wanted:
        station = chosen[station_id]
        own = config.stations.get(station_id)
        tt10_code = station.source.code if isinstance(station.source, Tt10Source) else None
        code = (own.code if own and own.code else None) or (tt10_code or default_code(station_id))
        code = code.upper()
        if code in codes:
            raise ForwardConfigError(
                f"tt10_forward: code {code} is both {codes[code]}'s and {station_id}'s"
            )
        codes[code] = station_id
        facility = (own.facility if own and own.facility else None) or config.facility
        user, password = config.user, default_password
        if own is not None and own.user:
            user = own.user
            password = read_password(
                f"tt10_forward.stations.{station_id}", own.password_env, own.password_file, environ
            )
        upstream = Upstream(
            config.host,
            config.port,
            user,
            password,
            config.tls,
            config.directory,
            config.timeout_s,
            str(config.ca_file) if config.ca_file else None,
        )

        found[station_id] = ForwardedStation(
            station_id, station.kind, FileIdentity(config.province, facility, code), upstream
        )
    return found


@dataclass
class ForwardStats:
    readings: int = 0
    left_out: int = 0  # readings TT10 cannot carry (station health, NaN)
    files_made: int = 0
    files_sent: int = 0
    files_rejected: int = 0
    send_failures: int = 0
    commit_failures: int = 0
    last_error: str | None = None


@dataclass
class Tt10Forwarder:
    config: Tt10ForwardConfig
    stations: Mapping[str, ForwardedStation]
    queue: ForwardQueue
    zone: tzinfo
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    poll_s: float = 1.0  # how often intervals are sealed and the queue looked at
    put_wait_s: float = 2.0  # how long a tap waits for its readings to be durable
    stats: ForwardStats = field(default_factory=ForwardStats)

    def __post_init__(self) -> None:
        self.interval = timedelta(seconds=self.config.interval_s)
        self._buffer: list[tuple[list[Row], asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._failing = False
        self._retry_at = 0.0

    @classmethod
    def open(
        cls,
        config: Tt10ForwardConfig,
        stations: Iterable[StationConfig],
        queue_path: Path,
        zone: tzinfo,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Tt10Forwarder:
        forwarded = forwarded_stations(config, stations, os.environ if environ is None else environ)
        return cls(config, forwarded, ForwardQueue(queue_path), zone, **options)

    # -- taking readings ----------------------------------------------------------------------

    def rows(self, station: str, readings: Sequence[Reading]) -> list[Row]:
        forwarded = self.stations.get(station)
        if forwarded is None:
            return []
        out = []
        for r in readings:
            try:
                tt10_symbol(r.param, forwarded.kind)
            except NotForwardable:
                self.stats.left_out += 1
                continue
            if not r.has_value:
                self.stats.left_out += 1
                continue
            slot = _ms(slot_start(r.ts, self.interval, self.zone))
            out.append((station, slot, r.param, _ms(r.ts), r.value, r.unit, int(r.status)))
        return out

    async def put(self, station: str, readings: Sequence[Reading]) -> None:
        """Keep a station's readings for forwarding; returns once they are durable (or after
        ``put_wait_s`` while the disk fails: they stay buffered and are written later)."""
        rows = self.rows(station, readings)
        if not rows:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer.append((rows, done))
        if self._wake is not None:
            self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.put_wait_s):
                await asyncio.shield(done)

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            group, self._buffer = self._buffer, []
            if not group:
                continue
            rows = [row for rows, _ in group for row in rows]
            try:
                await asyncio.to_thread(self.queue.add, rows)
            except Exception as exc:  # a full or failing disk: keep them, try again
                self.stats.commit_failures += 1
                self.stats.last_error = f"queue: {exc}"
                log.error("tt10 forward: cannot keep %d readings: %s", len(rows), exc)
                self._buffer = group + self._buffer
                await asyncio.sleep(min(5.0, self.poll_s))
                self._wake.set()
                continue
            self.stats.readings += len(rows)
            for _, done in group:
                if not done.done():
                    done.set_result(None)

    # -- making files -------------------------------------------------------------------------

    def make_file(self, station: str, slot_ms: int, rows: list[Row]) -> tuple[str, bytes] | None:
        forwarded = self.stations.get(station)
        if forwarded is None:
            return None
        readings = [
            Reading(station, param, value, unit, _utc(ts), DeviceStatus(status))
            for _, _, param, ts, value, unit, status in rows
        ]
        name, content, _ = tt10_file(
            forwarded.identity, _utc(slot_ms), readings, forwarded.kind, self.zone
        )
        return (name, content) if content else None

    def seal_due(self) -> int:
        """File the intervals that ended more than ``seal_after_s`` ago."""
        cutoff = self.now() - self.interval - timedelta(seconds=self.config.seal_after_s)
        made = self.queue.seal(_ms(cutoff) + 1, self.make_file)
        self.stats.files_made += made
        return made

    # -- sending ------------------------------------------------------------------------------

    def send_due(self) -> int:
        """Send every queued file the receiver takes, in order per station; a station whose
        login fails waits for the next round. Returns how many were sent."""
        uploaders: dict[Upstream, FtpUploader] = {}
        failed: set[Upstream] = set()
        sent = 0
        try:
            while True:
                # A station no longer forwarded keeps its files, unsent, for the operator.
                heads = [
                    f
                    for f in self.queue.heads()
                    if f.station in self.stations
                    and self.stations[f.station].upstream not in failed
                ]
                if not heads:
                    return sent
                for head in heads:
                    upstream = self.stations[head.station].upstream
                    if upstream in failed:
                        continue
                    uploader = uploaders.setdefault(upstream, FtpUploader(upstream))
                    try:
                        uploader.upload(head.name, head.content)
                    except UploadRefused as exc:
                        self.queue.failed(head.id, str(exc), rejected=True)
                        self.stats.files_rejected += 1
                        log.error("tt10 forward: %s refused %s for good: %s",
                                  upstream.where, head.name, exc)  # fmt: skip
                        continue
                    except (OSError, EOFError, ftplib.Error) as exc:
                        failed.add(upstream)
                        self.queue.failed(head.id, f"{type(exc).__name__}: {exc}")
                        self._failure(upstream, exc)
                        continue
                    self.queue.sent(head.id)
                    sent += 1
                    self.stats.files_sent += 1
                    if self._failing:
                        log.info("tt10 forward: %s takes files again", upstream.where)
                        self._failing = False
        finally:
            for uploader in uploaders.values():
                uploader.close()

    def _failure(self, upstream: Upstream, exc: BaseException) -> None:
        self.stats.send_failures += 1
        self.stats.last_error = f"{upstream.where}: {type(exc).__name__}: {exc}"
        # The first failure at WARNING, repeats at DEBUG until a file goes through.
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(level, "tt10 forward: %s: %s; files wait in the queue", upstream.where, exc)
        self._failing = True

    async def run(self) -> None:
        self._wake = asyncio.Event()
        if self._buffer:
            self._wake.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._commit_loop(), name="tt10-forward-commit")
                tasks.create_task(self._file_loop(), name="tt10-forward-send")
        finally:
            self.queue.close()

    async def _file_loop(self) -> None:
        last_prune = 0.0
        while True:
            try:
                await asyncio.to_thread(self.seal_due)
                if time.monotonic() >= self._retry_at:
                    failures = self.stats.send_failures
                    await asyncio.to_thread(self.send_due)
                    if self.stats.send_failures > failures:
                        self._retry_at = time.monotonic() + self.config.retry_s
                if time.monotonic() - last_prune > 3600:
                    last_prune = time.monotonic()
                    old = self.now() - KEEP
                    await asyncio.to_thread(self.queue.prune, _ms(old), old.timestamp())
            except Exception as exc:  # the queue's disk: logged, tried at the next round
                self.stats.last_error = f"queue: {exc}"
                log.exception("tt10 forward: a round failed")
            await asyncio.sleep(self.poll_s)

    def health(self) -> dict[str, Any]:
        state = self.queue.state()
        oldest = None if state.oldest_queued is None else time.time() - state.oldest_queued
        return {
            "upstream": self.config.where,
            "stations": len(self.stations),
            "readings": self.stats.readings,
            "left_out": self.stats.left_out,
            "open_readings": state.open_readings,
            "queued_files": state.queued,
            "oldest_queued_s": None if oldest is None else round(oldest, 1),
            "files_made": self.stats.files_made,
            "files_sent": self.stats.files_sent,
            "files_rejected": self.stats.files_rejected,
            "send_failures": self.stats.send_failures,
            "failing": self._failing,
            "last_error": self.stats.last_error,
        }
