"""Uploading TT10 files to the upstream receiver over FTP or explicit FTPS (ftplib).

Blocking (ftplib): called from a worker thread. A connection is kept for a round of uploads
and closed after it; any failure closes it, and the next upload connects again. The receiver's
answer decides what happens to the file: taken (2xx), try again later (4xx, a lost
connection, a refused login — a configuration to fix, not the file's fault), or refused for
good (any other 5xx to the upload itself, e.g. 553 "name not allowed": sending the same file
again would be refused the same way).
"""

from __future__ import annotations

import ftplib
import io
import ssl
from dataclasses import dataclass, field

from pydantic import SecretStr


class UploadRefused(Exception):  # noqa: N818 — the receiver's final answer
    """The receiver refused this file for good (a 5xx to STOR)."""


@dataclass(frozen=True)
class Upstream:
    """One login at the receiver."""

    host: str
    port: int
    user: str
    password: SecretStr = field(repr=False)
    tls: bool = False
    directory: str = "/"
    timeout_s: float = 30.0
    ca_file: str | None = None  # a province's own CA; default: the system's

    @property
    def where(self) -> str:
        scheme = "ftps" if self.tls else "ftp"
        return f"{scheme}://{self.user}@{self.host}:{self.port}{self.directory}"


class FtpUploader:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._ftp: ftplib.FTP | None = None

    def _connect(self) -> ftplib.FTP:
        up = self.upstream
        ftp: ftplib.FTP
        if up.tls:
            context = ssl.create_default_context(cafile=up.ca_file)
            ftp = ftplib.FTP_TLS(context=context, timeout=up.timeout_s)
        else:
            ftp = ftplib.FTP(timeout=up.timeout_s)
        try:
            ftp.connect(up.host, up.port)
            ftp.login(up.user, up.password.get_secret_value())  # FTP_TLS: AUTH TLS first
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()  # the files too, not only the password
            if up.directory not in ("", "/"):
                ftp.cwd(up.directory)
        except BaseException:
            ftp.close()
            raise
        return ftp

    def upload(self, name: str, content: bytes) -> None:
        """STOR ``name``. Raises UploadRefused (for good), or ftplib.Error / OSError (later)."""
        if self._ftp is None:
            self._ftp = self._connect()
        try:
            self._ftp.storbinary(f"STOR {name}", io.BytesIO(content))
        except ftplib.error_perm as exc:
            self.close()
            code = str(exc)[:3]
            if code in ("530", "532"):  # not logged in (any more): the login, not the file
                raise
            raise UploadRefused(str(exc)) from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        ftp, self._ftp = self._ftp, None
        if ftp is None:
            return
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            ftp.close()
