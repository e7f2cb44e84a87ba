"""Station configuration models (pydantic v2). Checked at start; never opens a connection."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

StationKind = Literal["air", "water", "rain", "hydro", "weather"]
_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FramePause = Annotated[float, Field(ge=0, le=1000)]


class TcpConnection(_Strict):
    """Modbus TCP (MBAP framing) to a logger or a device with an Ethernet port."""

    transport: Literal["tcp"] = "tcp"
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    # Silence kept between two requests on this endpoint, for loggers that need it.
    frame_pause_ms: FramePause = 0.0

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.host}:{self.port}"


class RtuOverTcpConnection(_Strict):
    """RTU frames (with CRC) tunnelled through a serial server / RS-485-to-Ethernet converter."""

    transport: Literal["rtu_over_tcp"] = "rtu_over_tcp"
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    frame_pause_ms: FramePause = 0.0

    @property
    def endpoint(self) -> str:
        return f"rtu+tcp://{self.host}:{self.port}"


class SerialConnection(_Strict):
    """Modbus RTU on a local serial line (RS-485 adapter)."""

    transport: Literal["rtu"] = "rtu"
    device: str  # /dev/ttyUSB0, /dev/ttyS1, COM3
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    # RTU already keeps 3.5 character times between frames; some slow loggers need more.
    frame_pause_ms: FramePause = 0.0

    @property
    def endpoint(self) -> str:
        return f"rtu://{self.device}"


def _transport(value: Any) -> str:
    # "transport" may be left out for the commonest case, Modbus TCP.
    if isinstance(value, dict):
        return str(value.get("transport", "tcp"))
    return str(getattr(value, "transport", "tcp"))


Connection = Annotated[
    Annotated[TcpConnection, Tag("tcp")]
    | Annotated[RtuOverTcpConnection, Tag("rtu_over_tcp")]
    | Annotated[SerialConnection, Tag("rtu")],
    Discriminator(_transport),
]


class RegisterOverride(_Strict):
    """A station's change to one register of its profile (matched by ``param``).

    Loggers get reconfigured in the field: a register moved, a different scale.
    """

    param: str
    table: Literal["holding", "input"] | None = None
    address: Annotated[int, Field(ge=0, le=65535)] | None = None
    type: str | None = None
    byte_order: Literal["big", "little"] | None = None
    word_order: Literal["big", "little"] | None = None
    scale: float | None = None
    offset: float | None = None
    sentinels: tuple[float, ...] | None = None
    limits: tuple[float, float] | None = None
    enabled: bool = True  # false: the station does not have this sensor


StatusName = Literal["measuring", "calibrating", "error"]


class StatusOverride(_Strict):
    """A station's change to its profile's status register: moved, remapped, or absent.

    Firmware differs between units of one model: one logger serves the status elsewhere, or
    with other codes, or not at all (``enabled: false``: every reading is "measuring").
    """

    table: Literal["holding", "input"] | None = None
    address: Annotated[int, Field(ge=0, le=65535)] | None = None
    map: dict[int, StatusName] | None = None  # replaces the profile's map whole
    default: StatusName | None = None
    enabled: bool = True


class ModbusSource(_Strict):
    driver: Literal["modbus"] = "modbus"
    profile: str
    connection: Connection
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    interval_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    # Unused registers read anyway to merge two reads into one (a frame costs more than a
    # few extra registers on a slow line).
    fill_gap: Annotated[int, Field(ge=0, le=100)] = 8
    registers: tuple[RegisterOverride, ...] = ()
    status: StatusOverride | None = None  # a change to the profile's status register


class MqttSource(_Strict):
    """A station that publishes its own messages to an MQTT broker (issue 4)."""

    driver: Literal["mqtt"] = "mqtt"
    profile: str  # the payload mapping: firmware_configs/<profile>.yaml with protocol: mqtt
    # Topic filter; {station} is replaced by device_id. Default: the site's MQTT input topic.
    topic: str | None = None
    device_id: str | None = None  # the id the device itself uses; default: the station id


class Tt10FtpAccount(_Strict):
    """A TT10 station's account on the gateway's own FTP endpoint (gateway/tt10/ftp.py).

    The site config is committed to git, so it names where the password is — an environment
    variable or a file (a container secret) — and never holds it; it is read when the endpoint
    starts, not when the config is checked.
    """

    user: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    password_file: str | None = None  # e.g. /run/secrets/ftp_nt01; its first line is used

    @model_validator(mode="before")
    @classmethod
    def _no_plain_password(cls, value: Any) -> Any:
        if isinstance(value, dict) and "password" in value:
            raise ValueError(
                "no password in the site config (it is committed to git): "
                "name an environment variable with password_env or a file with password_file"
            )
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> Tt10FtpAccount:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError(f"FTP user {self.user}: give one of password_env or password_file")
        if self.user.lower() in ("anonymous", "ftp"):
            raise ValueError(f"FTP user {self.user!r} is the anonymous login, which is refused")
        return self


class Tt10Source(_Strict):
    """A regulated automatic station sending Circular 10/2021/TT-BTNMT data files (issue 4)."""

    driver: Literal["tt10"] = "tt10"
    code: str  # the station part of its file names: <Province>_<Facility>_<Station>_<time>.txt
    # Its account on the gateway's FTP endpoint (``quantrac gateway --tt10-ftp``); none: the
    # station cannot log in there (it may still send to another FTP server that fills the inbox).
    ftp: Tt10FtpAccount | None = None


def _driver(value: Any) -> str:
    # "driver" may be left out for the commonest case, Modbus.
    if isinstance(value, dict):
        return str(value.get("driver", "modbus"))
    return str(getattr(value, "driver", "modbus"))


Source = Annotated[
    Annotated[ModbusSource, Tag("modbus")]
    | Annotated[MqttSource, Tag("mqtt")]
    | Annotated[Tt10Source, Tag("tt10")],
    Discriminator(_driver),
]


class FloodLevels(_Strict):
    """Báo động I/II/III of a gauge in metres (Decision 05/2020/QĐ-TTg); per station, not code."""

    bd1: float
    bd2: float
    bd3: float

    @model_validator(mode="after")
    def _ascending(self) -> FloodLevels:
        if not self.bd1 < self.bd2 < self.bd3:
            raise ValueError(f"need bd1 < bd2 < bd3, got {self.bd1}, {self.bd2}, {self.bd3}")
        return self

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.bd1, self.bd2, self.bd3)


class QcOverride(_Strict):
    """Per-parameter QC settings (collector/qc/defaults.yaml); a station overrides any of them.

    ``None`` disables a check; a field left out keeps the default of the parameter or its kind.
    """

    limits: tuple[float, float] | None = None  # physical range; default from parameters.yaml
    max_rate_per_min: float | None = None  # largest plausible change per minute
    rate_reset: int | None = Field(default=None, ge=1)  # consecutive jumps that make a new level
    # Identical values in a row that mean "stuck"; the first N-1 are flagged once the N-th
    # arrives, from the last 16 points QC remembers per series: hence at most 17.
    flatline: int | None = Field(default=None, ge=2, le=17)
    flatline_tolerance: float | None = Field(default=None, ge=0)
    hampel_window: int | None = Field(default=None, ge=3, le=32)
    hampel_sigmas: float | None = Field(default=None, gt=0)
    hampel_min_sigma: float | None = Field(default=None, ge=0)
    future_s: float | None = Field(default=None, ge=0)  # clock skew tolerated before "future"

    @field_validator("limits")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"limits {list(value)}: the low limit is above the high one")
        return value


class RainGauge(_Strict):
    """A tipping-bucket gauge's constants, for rain from its counter (docs/indices.md)."""

    bucket_mm: float = Field(default=0.2, gt=0)  # 200 mm orifice gauges of the network
    counter_modulus: int | None = Field(default=2**32, ge=2)  # uint32 logger counter; None: no wrap


class Location(_Strict):
    lat: Annotated[float, Field(ge=8, le=24)]  # Vietnam's mainland and islands
    lon: Annotated[float, Field(ge=102, le=118)]


class StationConfig(_Strict):
    id: str
    name: str
    kind: StationKind
    district: str
    river: str | None = None
    basin: str | None = None
    location: Location | None = None
    commissioned: date | None = None
    source: Source
    flood_levels: FloodLevels | None = None
    rain_gauge: RainGauge = Field(default_factory=RainGauge)  # rain stations with a counter
    # QC settings per parameter, over the defaults of collector/qc/defaults.yaml.
    qc: dict[str, QcOverride] = Field(default_factory=dict)
    # false: kept in the site config but not read, judged or shown (a station under repair;
    # `quantrac station disable|enable`). Its stored history stays.
    enabled: bool = True

    @property
    def modbus(self) -> ModbusSource:
        """The Modbus source of a station known to be one (raises TypeError otherwise)."""
        if not isinstance(self.source, ModbusSource):
            raise TypeError(f"station {self.id} is read by {self.source.driver}, not Modbus")
        return self.source

    @property
    def is_modbus(self) -> bool:
        return isinstance(self.source, ModbusSource)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("a station id is lower-case letters, digits and _ (e.g. kim_long)")
        return value

    @model_validator(mode="after")
    def _flood_levels_on_gauges(self) -> StationConfig:
        if self.flood_levels is not None and self.kind != "hydro":
            raise ValueError("flood_levels belong to hydro (water-level) stations only")
        return self
