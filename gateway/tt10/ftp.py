"""The gateway's own FTP endpoint for TT10 data files (optional: ``pip install 'quantrac[ftp]'``).

Regulated stations push one file per measurement cycle. Each ``driver: tt10`` station with
``source.ftp`` has an account: it logs in, uploads files named with its own station code into
the inbox folder, and lists those of its uploads the inbox has not taken yet — nothing else (no
download, delete, rename, folders, append or resume); anonymous login is refused.

An upload is written to a hidden ``.<name>.<token>.part`` in the inbox and renamed to ``<name>``
only once the transfer completed, so the inbox (which ignores dot-files) never takes half a
file; an aborted transfer's part is removed. In FTP's stream mode the end of a file is the close
of the data connection, so a client that dies mid-file can still look complete to any FTP
server: the inbox's truncation check is the second guard.

pyftpdlib runs its own I/O loop, here in one background thread (``start``/``stop`` or ``with``),
apart from the gateway's asyncio loop; what runs in it is socket I/O, a file write and a rename.

Hardening (issue 13: a 200 MB upload was taken in 0.4 s and 7 password guesses a second went
unanswered): an upload is cut at ``max_upload_bytes`` while it is received (the part is removed,
the client gets 426); an address with too many failed logins in a row is banned for a while
(:class:`LoginGuard`, counted in health); connections per address are limited; with a
certificate, explicit FTPS (``AUTH TLS``) is offered and by default required before login.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from gateway.tt10.ftp_accounts import (
    FtpConfigError,
    FtpCounters,
    FtpEndpoint,
    LoginGuard,
    StationAccount,
    upload_name_problem,
)

try:
    from pyftpdlib.authorizers import AuthenticationFailed
    from pyftpdlib.filesystems import AbstractedFS
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import FTPServer
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("the TT10 FTP endpoint needs pyftpdlib: pip install 'quantrac[ftp]'") from exc

log = logging.getLogger(__name__)

# pyftpdlib configures the root logger itself when it finds no handler anywhere: the gateway's
# own logging decides. Its INFO lines (session opened, logged in, transfer) repeat ours, which
# name the station: WARNING unless the operator set a level for "pyftpdlib".
_pyftpdlib_log = logging.getLogger("pyftpdlib")
_pyftpdlib_log.addHandler(logging.NullHandler())
if _pyftpdlib_log.level == logging.NOTSET:
    _pyftpdlib_log.setLevel(logging.WARNING)

_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")  # what this endpoint writes while receiving


class _CappedFile:
    """An upload's part file that refuses to grow beyond ``limit`` bytes.

    pyftpdlib writes each received chunk (64 KiB) through this: the write that would pass the
    limit is dropped and ``on_exceeded`` called, which closes the data connection with 552 —
    the upload is cut at the limit, never held in memory.
    """

    def __init__(self, file: Any, limit: int, on_exceeded: Callable[[], None]) -> None:
        self._file = file
        self.limit = limit
        self.on_exceeded = on_exceeded
        self.written = 0
        self.exceeded = False
        self.name: str = file.name

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)

    def write(self, chunk: bytes) -> int:
        if self.written + len(chunk) > self.limit:
            if not self.exceeded:
                self.exceeded = True
                self.on_exceeded()
            return 0
        self.written += len(chunk)
        written: int = self._file.write(chunk)
        return written

    def close(self) -> None:
        self._file.close()


class _StationAuthorizer:
    """pyftpdlib's authorizer interface: every account is one station, jailed in the inbox."""

    def __init__(self, home: str, accounts: Mapping[str, StationAccount]) -> None:
        self.home = home
        self.accounts = dict(accounts)

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        account = self.accounts.get(username)
        # Compared in constant time; an unknown user costs the same as a wrong password.
        expected = account.password.get_secret_value() if account else secrets.token_hex(16)
        if account is None or not hmac.compare_digest(password.encode(), expected.encode()):
            anonymous = username.lower() in ("anonymous", "ftp")
            raise AuthenticationFailed(
                "Anonymous access not allowed." if anonymous else "Authentication failed."
            )

    def get_home_dir(self, username: str) -> str:
        return self.home

    def get_msg_login(self, username: str) -> str:
        account = self.accounts[username]
        return f"Station {account.station}: upload <Province>_<Facility>_{account.code}_<time>.txt"

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def get_perms(self, username: str) -> str:
        return "elw"

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        """Change to and list the inbox itself, list own files in it, store into it: no more."""
        account = self.accounts.get(username)
        if account is None or perm not in ("e", "l", "w"):
            return False
        if path is None:
            return True
        path = os.path.normpath(path)
        in_home = os.path.dirname(path) == self.home
        if perm == "e":
            return path == self.home
        if perm == "l":
            name = os.path.basename(path)
            return path == self.home or (
                in_home and upload_name_problem(name, account.code) is None
            )
        # "w": where and under what name are checked by STOR, which says why in its reply.
        return path.startswith(self.home + os.sep)

    def impersonate_user(self, username: str, password: str) -> None:
        pass

    def terminate_impersonation(self, username: str) -> None:
        pass


class _StationFilesystem(AbstractedFS):  # type: ignore[misc]  # pyftpdlib has no types
    """The inbox as one station sees it: its own files only (the ones not yet taken)."""

    def listdir(self, path: str) -> list[str]:
        handler = self.cmd_channel
        account: StationAccount = handler.authorizer.accounts[handler.username]
        return [
            name
            for name in super().listdir(path)
            if upload_name_problem(name, account.code) is None
            and os.path.isfile(os.path.join(path, name))
        ]

    listdirinfo = listdir

    def open(self, filename: str, mode: str) -> Any:
        file = super().open(filename, mode)
        if "r" in mode:
            return file
        handler = self.cmd_channel
        capped = _CappedFile(file, handler.endpoint.max_upload_bytes, handler.upload_too_large)
        handler._capped[filename] = capped
        return capped


class _StationHandler(FTPHandler):  # type: ignore[misc]  # pyftpdlib has no types
    """One control connection. Class attributes are set per server (``Tt10FtpServer.start``)."""

    endpoint: Tt10FtpServer
    abstracted_fs = _StationFilesystem

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: dict[str, str] = {}  # part file being received → its final name
        self._capped: dict[str, _CappedFile] = {}  # part file → its size-capped writer

    def handle(self) -> None:
        # A banned address gets no banner, hence no USER/PASS at all.
        if self.endpoint.refuse_if_banned(self.remote_ip):
            self.respond("421 Too many failed logins from your address; try again later.")
            self.close_when_done()
            return
        super().handle()

    def handle_max_cons_per_ip(self) -> None:
        self.endpoint.count("", "refused")
        log.warning("tt10 ftp: too many connections from %s; one refused", self.remote_ip)
        super().handle_max_cons_per_ip()

    def ftp_PASS(self, line: str) -> None:  # noqa: N802 - pyftpdlib's name
        # A connection opened before its address was banned: even the right password is refused.
        if self.endpoint.refuse_if_banned(self.remote_ip):
            self.respond("530 Too many failed logins from your address; try again later.")
            self.close_when_done()
            return
        super().ftp_PASS(line)

    @property
    def account(self) -> StationAccount:
        account: StationAccount = self.authorizer.accounts[self.username]
        return account

    def on_login(self, username: str) -> None:
        self.endpoint.login_succeeded(self.remote_ip)
        self.endpoint.count(self.account.station, "logins")
        log.info(
            "tt10 ftp: station %s logged in as %s from %s",
            self.account.station,
            username,
            self.remote_ip,
        )

    def on_login_failed(self, username: str, password: str) -> None:
        self.endpoint.count("", "failed_logins")
        log.warning("tt10 ftp: login as %r from %s refused", username, self.remote_ip)
        if self.endpoint.login_failed(self.remote_ip):
            self.close_when_done()

    def ftp_STOR(self, file: str, mode: str = "w") -> str | None:  # noqa: N802 - pyftpdlib's name
        account = self.account
        home, name = os.path.split(file)
        problem = upload_name_problem(name, account.code)
        if problem is None and home != self.fs.root:
            problem = "uploads go into the top folder"
        if problem is not None:
            self.endpoint.count(account.station, "refused")
            log.warning(
                "tt10 ftp: station %s: upload of %r refused: %s", account.station, name, problem
            )
            self.respond(f"553 {problem}.")
            return None
        part = os.path.join(home, f".{name}.{secrets.token_hex(4)}.part")
        self._parts[part] = file
        started: str | None = super().ftp_STOR(part, mode)
        if started is None:
            self._parts.pop(part, None)
            _remove(part)
        return started

    def upload_too_large(self) -> None:
        """Cut the upload in progress: 552 is RFC 959's "exceeded storage allocation"."""
        channel = self.data_channel
        if channel is None:
            return
        limit = self.endpoint.max_upload_bytes
        channel._resp = (
            f"552 Upload cut: larger than {limit} bytes, nothing kept.",
            _pyftpdlib_log.info,
        )
        channel.close()  # pyftpdlib then calls on_incomplete_file_received

    def ftp_STOU(self, line: str) -> None:  # noqa: N802
        self.respond("502 STOU is not offered: STOR the file under its TT10 name.")

    def ftp_REST(self, line: str) -> None:  # noqa: N802
        # Resuming would append to a part that an interrupted upload already removed;
        # a TT10 file is a few hundred bytes, sent again whole.
        self.respond("502 Resuming is not offered: send the whole file again.")

    def on_file_received(self, file: str) -> None:
        self._capped.pop(file, None)
        final = self._parts.pop(file, None)
        if final is None:
            return
        station = self.account.station
        try:
            size = os.path.getsize(file)
            os.replace(file, final)
        except OSError as exc:
            # pyftpdlib has already answered 226: only the operator can ask for the file again.
            log.error(
                "tt10 ftp: station %s: %s could not be put in the inbox: %s", station, final, exc
            )
            _remove(file)
            return
        self.endpoint.count(station, "uploads", size)
        log.info(
            "tt10 ftp: station %s uploaded %s (%d bytes)", station, os.path.basename(final), size
        )

    def on_incomplete_file_received(self, file: str) -> None:
        capped = self._capped.pop(file, None)
        final = self._parts.pop(file, None)
        if final is None:
            return
        _remove(file)
        if capped is not None and capped.exceeded:
            self.endpoint.count(self.account.station, "too_large")
            log.warning(
                "tt10 ftp: station %s: upload of %s cut at %d bytes (max_upload_bytes); "
                "nothing kept",
                self.account.station,
                os.path.basename(final),
                capped.limit,
            )
            return
        self.endpoint.count(self.account.station, "incomplete")
        log.warning(
            "tt10 ftp: station %s: upload of %s interrupted; nothing kept",
            self.account.station,
            os.path.basename(final),
        )

    def close(self) -> None:
        parts = list(getattr(self, "_parts", {}))
        super().close()
        # A STOR whose data connection never came: its part was opened but never filled.
        for part in parts:
            _remove(part)
        if parts:
            self._parts.clear()
        getattr(self, "_capped", {}).clear()


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("tt10 ftp: cannot remove %s: %s", path, exc)


class Tt10FtpServer:
    """The FTP endpoint writing station uploads into ``inbox``, served from a background thread.

    ``start()`` binds (an address in use raises OSError at once) and serves; ``stop()`` closes
    every connection, an upload in progress included (its part is removed). Port 0 picks a free
    port: see ``address``.
    """

    def __init__(
        self,
        inbox: Path,
        accounts: Mapping[str, StationAccount],
        *,
        host: str = "127.0.0.1",
        port: int = 2121,
        passive_ports: tuple[int, int] | None = None,
        public_address: str | None = None,
        timeout_s: float = 300.0,
        auth_failed_delay_s: float = 3.0,
        max_connections: int = 256,
        max_connections_per_ip: int = 16,
        max_upload_bytes: int = 1_048_576,
        login_guard: LoginGuard | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_required: bool = True,
    ) -> None:
        self.inbox = inbox
        self.accounts = dict(accounts)
        self.host = host
        self.port = port
        self.passive_ports = passive_ports
        self.public_address = public_address
        self.timeout_s = timeout_s
        # A refused login is answered only after this delay: password guessing stays slow.
        self.auth_failed_delay_s = auth_failed_delay_s
        self.max_connections = max_connections
        # Several stations behind one mobile carrier's NAT share an address: room for them.
        self.max_connections_per_ip = max_connections_per_ip
        # A TT10 file is a few hundred bytes, a day of them at most some KB: 1 MiB is generous.
        self.max_upload_bytes = max_upload_bytes
        self.guard = login_guard or LoginGuard()
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.tls_required = tls_required
        # The certificate is loaded now: a wrong path or key stops the gateway's start with a
        # message, as a missing password does, instead of failing every login.
        self._bases, self._tls = self._tls_handler()
        self.totals = FtpCounters()
        self.per_station: dict[str, FtpCounters] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @classmethod
    def at(
        cls, endpoint: FtpEndpoint, inbox: Path, accounts: Mapping[str, StationAccount]
    ) -> Tt10FtpServer:
        return cls(
            inbox,
            accounts,
            host=endpoint.host,
            port=endpoint.port,
            passive_ports=endpoint.passive_ports,
            public_address=endpoint.public_address,
            tls_cert=endpoint.tls_cert,
            tls_key=endpoint.tls_key,
            tls_required=endpoint.tls_required,
        )

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) listened on; the real port once started with port 0."""
        if self._server is None:
            return self.host, self.port
        host, port = self._server.address
        return str(host), int(port)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the TT10 FTP endpoint is already running")
        self.inbox.mkdir(parents=True, exist_ok=True)
        home = os.path.normpath(os.path.realpath(self.inbox))
        self._remove_orphan_parts(home)
        handler = type(
            "Tt10FtpHandler",
            self._bases,
            {
                **self._tls,
                "endpoint": self,
                "authorizer": _StationAuthorizer(home, self.accounts),
                "passive_ports": (
                    list(range(self.passive_ports[0], self.passive_ports[1] + 1))
                    if self.passive_ports
                    else None
                ),
                "masquerade_address": self.public_address,
                "timeout": self.timeout_s,
                "auth_failed_timeout": self.auth_failed_delay_s,
                "banner": "quantrac TT10 data file endpoint ready.",
            },
        )
        ioloop = IOLoop()
        try:
            server = FTPServer((self.host, self.port), handler, ioloop=ioloop)
        except OSError as exc:
            ioloop.close()
            raise OSError(
                exc.errno,
                f"TT10 FTP endpoint cannot listen on {self.host}:{self.port}: {exc.strerror}",
            ) from exc
        server.max_cons = self.max_connections
        server.max_cons_per_ip = self.max_connections_per_ip
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="tt10-ftp", daemon=True)
        self._thread.start()
        host, port = self.address
        log.info(
            "tt10 ftp: listening on %s:%d for %d station account(s) (%s); uploads into %s; "
            "passive ports %s",
            host,
            port,
            len(self.accounts),
            ", ".join(sorted(a.station for a in self.accounts.values())) or "none",
            self.inbox,
            "{}-{}".format(*self.passive_ports) if self.passive_ports else "any",
        )
        log.info(
            "tt10 ftp: FTPS %s; uploads up to %d bytes; %d connection(s) per address; "
            "%d failed logins ban an address for %g s",
            ("required" if self.tls_required else "optional") if self.tls_cert else "off",
            self.max_upload_bytes,
            self.max_connections_per_ip,
            self.guard.max_failures,
            self.guard.ban_s,
        )

    def _tls_handler(self) -> tuple[tuple[type, ...], dict[str, Any]]:
        """The handler's bases and TLS attributes, the certificate loaded."""
        if self.tls_cert is None:
            return (_StationHandler,), {}
        try:
            from pyftpdlib.handlers import TLS_FTPHandler
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise FtpConfigError(
                "FTPS (tls_cert) needs pyOpenSSL: pip install 'quantrac[ftp]'"
            ) from exc
        attributes: dict[str, Any] = {
            "certfile": self.tls_cert,
            "keyfile": self.tls_key,
            "ssl_context": None,  # pyftpdlib caches one per class: this endpoint's own
            "tls_control_required": self.tls_required,
            "tls_data_required": self.tls_required,
        }
        probe: Any = type("Tt10TlsProbe", (TLS_FTPHandler,), attributes)
        try:
            attributes["ssl_context"] = probe.get_ssl_context()
        except Exception as exc:  # OpenSSL.SSL.Error, OSError: a file missing or not PEM
            raise FtpConfigError(
                f"TT10 FTP endpoint: cannot use tls_cert={self.tls_cert}"
                f"{f' tls_key={self.tls_key}' if self.tls_key else ''}: {exc}"
            ) from exc
        return (_StationHandler, TLS_FTPHandler), attributes

    def _serve(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set():
                # One poll at a time (what serve_forever does, without its start-up log line),
                # so stop() is seen within 0.2 s.
                server.ioloop.loop(0.2, blocking=False)
        except Exception:
            log.exception("tt10 ftp: the endpoint stopped")
        finally:
            server.close_all()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout=10)
        log.info("tt10 ftp: stopped (%d upload(s))", self.totals.uploads)

    def __enter__(self) -> Tt10FtpServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _remove_orphan_parts(self, home: str) -> None:
        # Parts left by a gateway that died mid-upload: never completed, never to be.
        for name in os.listdir(home):
            if _PART.match(name):
                log.info("tt10 ftp: removing %s, left by an interrupted upload", name)
                _remove(os.path.join(home, name))

    def login_failed(self, address: str) -> bool:
        """Count a failed login from ``address``; True when that bans it (the caller hangs up)."""
        with self._lock:
            banned = self.guard.failed(address)
        if banned:
            self.count("", "bans")
            log.warning(
                "tt10 ftp: %s banned for %g s after %d failed logins",
                address,
                self.guard.ban_s,
                self.guard.max_failures,
            )
        return banned

    def login_succeeded(self, address: str) -> None:
        with self._lock:
            self.guard.succeeded(address)

    def refuse_if_banned(self, address: str) -> bool:
        with self._lock:
            banned = self.guard.banned(address)
        if banned:
            self.count("", "refused_banned")
            log.info("tt10 ftp: %s is banned; refused", address)
        return banned

    def count(self, station: str, counter: str, size: int = 0) -> None:
        with self._lock:
            targets = [self.totals]
            if station:
                targets.append(self.per_station.setdefault(station, FtpCounters()))
            for counters in targets:
                setattr(counters, counter, getattr(counters, counter) + 1)
                counters.bytes += size

    def health(self) -> dict[str, Any]:
        host, port = self.address
        with self._lock:
            return {
                "listening": f"{host}:{port}" if self._thread is not None else None,
                "inbox": str(self.inbox),
                "tls": ("required" if self.tls_required else "optional")
                if self.tls_cert
                else "off",
                "max_upload_bytes": self.max_upload_bytes,
                "banned_addresses": self.guard.banned_addresses(),
                "totals": asdict(self.totals),
                "stations": {s: asdict(c) for s, c in sorted(self.per_station.items())},
            }
