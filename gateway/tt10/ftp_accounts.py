"""The TT10 FTP endpoint's accounts and guards, apart from the server (no pyftpdlib needed):
where it listens (``--tt10-ftp HOST:PORT[,…]``), one account per TT10 station with its password
from the environment, which file names an account may upload, and the login guard that bans
an address after repeated failed logins (gateway.tt10.ftp runs them).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from gateway.config import StationConfig, Tt10FtpAccount, Tt10Source
from gateway.tt10.parse import parse_file_name

log = logging.getLogger(__name__)


class FtpConfigError(ValueError):
    """An FTP account or endpoint that cannot be used; the message names the station."""


@dataclass(frozen=True)
class StationAccount:
    """A station's FTP login, its password resolved (never logged: SecretStr)."""

    user: str
    password: SecretStr
    station: str  # station id
    code: str  # TT10 station code of its file names, upper-case


@dataclass(frozen=True)
class FtpEndpoint:
    """Where the endpoint listens: ``HOST:PORT[,passive=FIRST-LAST][,public=ADDRESS]``
    ``[,tls_cert=PATH][,tls_key=PATH][,tls=required|optional]``.

    ``passive`` is the port range data connections use (open it in the firewall); ``public``
    the address announced in passive replies when the gateway is behind NAT. ``tls_cert`` (PEM,
    the chain; ``tls_key`` the key when it is a file of its own) turns on explicit FTPS;
    ``tls=required`` (the default with a certificate) refuses a login and data not protected by
    TLS, ``tls=optional`` lets loggers without FTPS in too.
    """

    host: str
    port: int
    passive_ports: tuple[int, int] | None = None
    public_address: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_required: bool = True

    @classmethod
    def parse(cls, text: str) -> FtpEndpoint:
        where, *options = [part.strip() for part in text.split(",")]
        host, sep, port_text = where.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::]:2121
        if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise FtpConfigError(f"FTP endpoint {text!r}: expected HOST:PORT, e.g. 0.0.0.0:2121")
        passive: tuple[int, int] | None = None
        public: str | None = None
        cert: str | None = None
        key_file: str | None = None
        required = True
        tls_given = False
        for option in options:
            key, _, value = option.partition("=")
            if key == "passive":
                passive = _port_range(value, text)
            elif key == "public" and value:
                public = value
            elif key == "tls_cert" and value:
                cert = value
            elif key == "tls_key" and value:
                key_file = value
            elif key == "tls" and value in ("required", "optional"):
                required, tls_given = value == "required", True
            else:
                raise FtpConfigError(
                    f"FTP endpoint {text!r}: unknown option {option!r} (passive=FIRST-LAST, "
                    "public=ADDRESS, tls_cert=PATH, tls_key=PATH, tls=required|optional)"
                )
        if cert is None and (key_file is not None or tls_given):
            raise FtpConfigError(f"FTP endpoint {text!r}: tls_key and tls need tls_cert=PATH")
        return cls(host, int(port_text), passive, public, cert, key_file, required)


def _port_range(value: str, text: str) -> tuple[int, int]:
    first, _, last = value.partition("-")
    last = last or first
    if not (first.isdigit() and last.isdigit() and 1024 <= int(first) <= int(last) <= 65535):
        raise FtpConfigError(
            f"FTP endpoint {text!r}: passive={value!r} is not a port range FIRST-LAST "
            "within 1024-65535"
        )
    return int(first), int(last)


def _password(station: str, account: Tt10FtpAccount, environ: Mapping[str, str]) -> SecretStr:
    who = f"station {station}: FTP user {account.user}"
    if account.password_env is not None:
        value = environ.get(account.password_env, "")
        if not value:
            raise FtpConfigError(
                f"{who}: environment variable {account.password_env} "
                f"{'is empty' if account.password_env in environ else 'is not set'}"
            )
        return SecretStr(value)
    assert account.password_file is not None  # the config model requires one of the two
    try:
        lines = Path(account.password_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FtpConfigError(
            f"{who}: cannot read password_file {account.password_file}: {exc.strerror}"
        ) from exc
    value = lines[0].strip() if lines else ""
    if not value:
        raise FtpConfigError(f"{who}: password_file {account.password_file} is empty")
    return SecretStr(value)


def ftp_accounts(
    stations: Iterable[StationConfig], environ: Mapping[str, str] | None = None
) -> dict[str, StationAccount]:
    """The FTP accounts of the TT10 stations that have one, by user name.

    Reads each password from its environment variable or file now (at start); raises
    FtpConfigError naming the station when one is missing, or when two stations share a user.
    """
    env = os.environ if environ is None else environ
    accounts: dict[str, StationAccount] = {}
    for station in stations:
        source = station.source
        if not isinstance(source, Tt10Source) or source.ftp is None:
            continue
        user = source.ftp.user
        other = accounts.get(user)
        if other is not None:
            raise FtpConfigError(
                f"FTP user {user} is given to both {other.station} and {station.id}"
            )
        accounts[user] = StationAccount(
            user, _password(station.id, source.ftp, env), station.id, source.code.strip().upper()
        )
    return accounts


def upload_name_problem(name: str, code: str) -> str | None:
    """Why a station with ``code`` may not upload ``name``; None when it may.

    Only TT10 file names with the account's own station code: one station cannot send files in
    another's name, and a wrong name is refused at once instead of landing in ``rejected/``.
    """
    if name.startswith("."):
        return f"hidden file name {name!r} is not taken"
    try:
        parsed = parse_file_name(name)
    except ValueError as exc:
        return str(exc)
    if parsed.code != code.upper():
        return f"file name {name!r} has station code {parsed.code}; this account sends {code}"
    return None


@dataclass
class FtpCounters:
    logins: int = 0
    failed_logins: int = 0
    uploads: int = 0
    bytes: int = 0
    incomplete: int = 0
    refused: int = 0
    too_large: int = 0  # uploads cut at max_upload_bytes
    bans: int = 0  # addresses banned after repeated failed logins
    refused_banned: int = 0  # connections and logins refused while their address was banned


class LoginGuard:
    """Failed logins per client address, and the temporary ban they earn.

    ``max_failures`` failed logins in a row (none further apart than ``ban_s``) ban the address
    for ``ban_s``: while banned even the right password is refused, so guessing gets
    ``max_failures`` tries per ``ban_s`` instead of the 7 a second issue 13 measured. A good
    login clears the address's count (a station's own typo does not add up over days). At most
    ``max_tracked`` addresses are remembered, the oldest dropped first: a scan from many
    addresses must not grow memory. Not thread-safe: the endpoint calls it from its I/O thread.
    """

    def __init__(
        self,
        max_failures: int = 5,
        ban_s: float = 600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.ban_s = ban_s
        self.clock = clock
        self.max_tracked = max_tracked
        self._failures: dict[str, tuple[int, float]] = {}  # address → (count, last failure)
        self._banned_until: dict[str, float] = {}

    def banned(self, address: str) -> bool:
        until = self._banned_until.get(address)
        if until is None:
            return False
        if self.clock() < until:
            return True
        del self._banned_until[address]
        return False

    def failed(self, address: str) -> bool:
        """Count a failed login; True when it bans the address now."""
        now = self.clock()
        count, last = self._failures.pop(address, (0, now))
        count = count + 1 if now - last <= self.ban_s else 1
        if count >= self.max_failures:
            self._banned_until[address] = now + self.ban_s
            self._forget_oldest(self._banned_until)
            return True
        self._failures[address] = (count, now)  # re-inserted: the dict stays oldest first
        self._forget_oldest(self._failures)
        return False

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def banned_addresses(self) -> int:
        now = self.clock()
        return sum(1 for until in self._banned_until.values() if now < until)

    def _forget_oldest(self, table: dict[str, Any]) -> None:
        while len(table) > self.max_tracked:
            del table[next(iter(table))]
