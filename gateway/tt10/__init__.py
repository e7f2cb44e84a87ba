"""Circular 10/2021/TT-BTNMT data files: the pure parser and the inbox driver (docs/tt10.md).

The optional FTP endpoint (``gateway.tt10.ftp``, needs pyftpdlib) is imported only when used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config import StationConfig
from gateway.model import VIETNAM_TZ
from gateway.streaming import StreamingDriver
from gateway.tt10.inbox import Tt10Counters, Tt10Inbox
from gateway.tt10.parse import (
    LineProblem,
    Tt10File,
    Tt10FileRejected,
    Tt10Limits,
    Tt10Station,
    parse_tt10,
    stations_by_code,
)

if TYPE_CHECKING:
    from gateway.tt10.ftp import Tt10FtpServer

__all__ = [
    "LineProblem",
    "Tt10Counters",
    "Tt10File",
    "Tt10FileRejected",
    "Tt10Inbox",
    "Tt10Limits",
    "Tt10Station",
    "parse_tt10",
    "stations_by_code",
    "tt10_ftp_for",
    "tt10_inbox_for",
]

log = logging.getLogger(__name__)


class _SiteSettings(Protocol):
    @property
    def timezone(self) -> str: ...


class SiteLike(Protocol):
    """What the factory needs of ``quantrac.site.Site`` (gateway never imports quantrac)."""

    @property
    def settings(self) -> _SiteSettings: ...

    @property
    def stations(self) -> Mapping[str, StationConfig]: ...


def _site_timezone(name: str) -> tzinfo:
    if name == "Asia/Ho_Chi_Minh":
        return VIETNAM_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"site timezone {name!r} is not known: {exc}") from exc


def tt10_inbox_for(
    site: SiteLike,
    stations: Iterable[StationConfig] | None,
    inbox_dir: Path | None,
    *,
    work_dir: Path | None = None,
    settle_s: float = 10.0,
    poll_s: float = 1.0,
    limits: Tt10Limits | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StreamingDriver | None:
    """The inbox driver for the site's TT10 stations (all, or the given partition).

    None when there is nothing to run: no inbox folder given, or no ``driver: tt10`` station
    among ``stations`` (each case logged, since the other half was configured). Raises
    ValueError for two stations with one code or an unknown site timezone — config errors,
    checked at start.
    """
    chosen = list(stations) if stations is not None else list(site.stations.values())
    by_code = stations_by_code(chosen)
    if inbox_dir is None:
        if by_code:
            log.warning(
                "%d tt10 station(s) (%s) but no TT10 inbox folder: their files are not read",
                len(by_code),
                ", ".join(s.id for s in by_code.values()),
            )
        return None
    if not by_code:
        log.warning("TT10 inbox %s given but no station has driver: tt10; not watched", inbox_dir)
        return None
    return Tt10Inbox(
        inbox_dir,
        by_code,
        work_dir=work_dir,
        settle_s=settle_s,
        poll_s=poll_s,
        tz=_site_timezone(site.settings.timezone),
        limits=limits,
        now=now,
    )


def tt10_ftp_for(
    site: SiteLike,
    stations: Iterable[StationConfig] | None,
    inbox_dir: Path | None,
    endpoint: str | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Tt10FtpServer | None:
    """The FTP endpoint writing the TT10 stations' uploads into ``inbox_dir``, not yet started.

    ``endpoint`` is ``HOST:PORT[,passive=FIRST-LAST][,public=ADDRESS]``; None when not asked
    for, or when no station has an ``ftp`` account (logged). Raises ImportError without
    pyftpdlib, and ValueError (FtpConfigError) for no inbox, a bad endpoint, a password that
    is not there (naming the station) or one user for two stations — all at start.
    """
    if endpoint is None:
        return None
    if inbox_dir is None:
        raise ValueError(
            "the TT10 FTP endpoint needs the inbox folder its uploads go into (--tt10-inbox)"
        )
    from gateway.tt10.ftp import Tt10FtpServer
    from gateway.tt10.ftp_accounts import FtpEndpoint, ftp_accounts

    where = FtpEndpoint.parse(endpoint)
    chosen = list(stations) if stations is not None else list(site.stations.values())
    stations_by_code(chosen)  # two stations with one code: refused here as by the inbox
    accounts = ftp_accounts(chosen, environ)
    if not accounts:
        log.warning(
            "TT10 FTP endpoint %s asked for but no tt10 station has an ftp account", endpoint
        )
        return None
    return Tt10FtpServer.at(where, inbox_dir, accounts)
