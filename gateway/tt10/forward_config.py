"""``tt10_forward:`` in site.yaml: the upstream receiver the gateway forwards TT10 files to.

```yaml
tt10_forward:
  url: ftps://quantrac@ftp.monre.example.gov.vn:21/incoming   # ftp:// or ftps:// (explicit TLS)
  password_env: QUANTRAC_TT10_UPSTREAM_PASSWORD                 # never the password itself
  province: TTH                                                 # the file name's <Province>
  facility: QTTD                                                # its default <Facility>
  interval_s: 300                                               # one file per station per 5 min
  stations:                                                     # optional, per station
    kim_long: {code: KIMLONG}                                   # default: its TT10 code or id
    xlnt_phu_bai: {facility: KCNPHUBAI, user: nt01, password_env: QUANTRAC_UP_NT01}
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A file-name part: letters and digits (the facility may contain "_", as the parser allows).
_PART = r"^[A-Za-z0-9]+$"
_FACILITY = r"^[A-Za-z0-9][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForwardedStation(_Strict):
    """One station's file names and, where the receiver gives each station its own account
    (as the gateway's own TT10 endpoint does), its login."""

    code: Annotated[str, Field(pattern=_PART, max_length=32)] | None = None
    facility: Annotated[str, Field(pattern=_FACILITY, max_length=64)] | None = None
    user: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")] | None = None
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _login(self) -> ForwardedStation:
        if (self.password_env or self.password_file) and not self.user:
            raise ValueError("a station's password goes with its user")
        if self.password_env and self.password_file:
            raise ValueError("password_env or password_file, not both")
        return self


class Tt10ForwardConfig(_Strict):
    url: str
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    password_file: Path | None = None
    province: Annotated[str, Field(pattern=_PART, max_length=32)]
    facility: Annotated[str, Field(pattern=_FACILITY, max_length=64)]
    # The circular asks for a file every 5 minutes; 60 s … 1 h.
    interval_s: Annotated[int, Field(ge=60, le=3600)] = 300
    # How long after an interval ends its file is made: readings polled at its end arrive late.
    seal_after_s: Annotated[float, Field(ge=0, le=3600)] = 60.0
    stations: dict[str, ForwardedStation] = Field(default_factory=dict)
    only: list[str] | None = None  # forward these stations only (default: every station)
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    ca_file: Path | None = None  # FTPS: the CA that signed the receiver's certificate
    retry_s: Annotated[float, Field(gt=0, le=3600)] = 30.0  # after a failed connection

    @field_validator("url")
    @classmethod
    def _ftp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ftp", "ftps"):
            raise ValueError(f"url {value!r}: ftp:// or ftps:// (explicit TLS)")
        if not parts.hostname:
            raise ValueError(f"url {value!r} names no host")
        if parts.password:
            raise ValueError("url: no password in the site config; use password_env or _file")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> Tt10ForwardConfig:
        if self.password_env and self.password_file:
            raise ValueError("password_env or password_file, not both")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "ftps"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 21

    @property
    def user(self) -> str:
        username = urlsplit(self.url).username
        return unquote(username) if username else "anonymous"

    @property
    def directory(self) -> str:
        return unquote(urlsplit(self.url).path) or "/"

    @property
    def where(self) -> str:
        """The receiver for logs: no password ever."""
        return f"{urlsplit(self.url).scheme}://{self.user}@{self.host}:{self.port}{self.directory}"


def default_code(station_id: str) -> str:
    """A station without a TT10 code is named by its id, upper-case without "_" (the file
    name's separator): kim_long → KIMLONG."""
    return re.sub(r"[^A-Za-z0-9]", "", station_id).upper()
