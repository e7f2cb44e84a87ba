"""TT10/2021 data files written for an upstream receiver: the inverse of ``parse.py`` (pure).

One file per station per interval, named ``<Province>_<Facility>_<Station>_<yyyyMMddhhmmss>.txt``
with the interval's start in local time, one line per parameter::

    <parameter>\t<value>\t<unit>\t<yyyyMMddhhmmss>\t<status>

CRLF line ends, as the stations' loggers write them; ASCII wherever the circular's own spelling
is ASCII (``ug/Nm3``, ``oC``, ``m3/h``), UTF-8 otherwise. Each line keeps its reading's own time
(to the second: a TT10 time has no fraction) and device status (00/01/02). The symbol is the
circular's where it has one (``PM2,5``, ``Temp``, ``NH4``, ``Flow``), else a spelling of the
parameter registry that resolves back to the same parameter at a station of this kind: what
``parse_tt10`` reads back is what was written, which the tests check for every parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

from gateway.model import VIETNAM_TZ, Reading
from gateway.parameters import UnknownParameterError, registry
from gateway.tt10.parse import resolve_parameter

TIME_FORMAT = "%Y%m%d%H%M%S"

# The symbols Circular 10/2021 lists, for the canonical parameters they name.
CIRCULAR_SYMBOLS: Mapping[str, str] = {
    "flow": "Flow",
    "water_temp": "Temp",
    "air_temp": "Temp",
    "color": "Color",
    "ph": "pH",
    "tss": "TSS",
    "cod": "COD",
    "n_nh4": "NH4",
    "toc": "TOC",
    "chloride": "Cl",
    "humidity": "RH",
    "pressure": "P",
    "no": "NO",
    "no2": "NO2",
    "co": "CO",
    "so2": "SO2",
    "h2s": "H2S",
    "nh3": "NH3",
    "tsp": "PM",
    "o3": "O3",
    "pm10": "PM10",
    "pm25": "PM2,5",
}

# The unit as the circular's examples write it, where that differs from the registry's.
UNIT_SPELLINGS: Mapping[str, str] = {
    "µg/m³": "ug/Nm3",
    "°C": "oC",
    "m³/h": "m3/h",
    "mg/L": "mg/l",
    "µS/cm": "uS/cm",
    "°": "deg",
}

# Not measurements: the gateway's heartbeat and other station-health series stay home.
NOT_FORWARDED_KINDS = frozenset({"station"})


class NotForwardable(ValueError):  # noqa: N818 — a reason, not a crash
    """A parameter TT10 cannot carry (no symbol that reads back as itself)."""


@cache
def tt10_symbol(param: str, kind: str) -> str:
    """The symbol a line of a ``kind`` station writes ``param`` with; NotForwardable if none
    reads back as ``param``."""
    try:
        parameter = registry()[param]
    except (KeyError, UnknownParameterError):
        raise NotForwardable(f"{param}: not in the parameter registry") from None
    if parameter.kind in NOT_FORWARDED_KINDS:
        raise NotForwardable(f"{param}: station health, not a measurement")
    candidates = [CIRCULAR_SYMBOLS.get(param), *parameter.aliases, param]
    for symbol in candidates:
        if not symbol or any(c.isspace() for c in symbol):
            continue
        try:
            if resolve_parameter(symbol, kind).name == param:
                return symbol
        except UnknownParameterError:
            continue
    raise NotForwardable(f"{param}: no TT10 symbol reads back as it at a {kind} station")


def tt10_unit(unit: str) -> str:
    return UNIT_SPELLINGS.get(unit, unit)


def tt10_value(value: float) -> str:
    """The shortest text that reads back as the same float (decimal point, no thousands)."""
    if not math.isfinite(value):
        raise NotForwardable(f"value {value!r}: TT10 has no NaN or infinity")
    text = repr(float(value))
    return "0.0" if text == "-0.0" else text


def local_stamp(moment: datetime, zone: tzinfo = VIETNAM_TZ) -> str:
    return moment.astimezone(zone).strftime(TIME_FORMAT)


def slot_start(moment: datetime, interval: timedelta, zone: tzinfo = VIETNAM_TZ) -> datetime:
    """The start of the interval ``moment`` falls in, intervals counted from local midnight
    (5 minutes: :00, :05 …), UTC."""
    local = moment.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = interval // timedelta(seconds=1)
    elapsed = (local - midnight) // timedelta(seconds=1)
    return (midnight + timedelta(seconds=elapsed - elapsed % step)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What names a station's files: ``<Province>_<Facility>_<Station>``."""

    province: str
    facility: str
    code: str

    def file_name(self, slot: datetime, zone: tzinfo = VIETNAM_TZ) -> str:
        return f"{self.province}_{self.facility}_{self.code}_{local_stamp(slot, zone)}.txt"


@dataclass(frozen=True, slots=True)
class Tt10Line:
    symbol: str
    value: str
    unit: str
    stamp: str
    status: str

    def __str__(self) -> str:
        return f"{self.symbol}\t{self.value}\t{self.unit}\t{self.stamp}\t{self.status}"


def tt10_line(reading: Reading, kind: str, zone: tzinfo = VIETNAM_TZ) -> Tt10Line:
    """One reading as a line; NotForwardable for a parameter or value TT10 cannot carry."""
    return Tt10Line(
        symbol=tt10_symbol(reading.param, kind),
        value=tt10_value(reading.value),
        unit=tt10_unit(reading.unit),
        stamp=local_stamp(reading.ts, zone),
        status=reading.status.tt10_code,
    )


def latest_per_param(readings: Iterable[Reading]) -> list[Reading]:
    """One reading per parameter, the newest (a file holds each parameter once), by name."""
    newest: dict[str, Reading] = {}
    for reading in readings:
        kept = newest.get(reading.param)
        if kept is None or reading.ts >= kept.ts:
            newest[reading.param] = reading
    return [newest[param] for param in sorted(newest)]


def tt10_file(
    identity: FileIdentity,
    slot: datetime,
    readings: Sequence[Reading],
    kind: str,
    zone: tzinfo = VIETNAM_TZ,
) -> tuple[str, bytes, list[str]]:
    """(file name, content, what was left out and why) for one station's interval."""
    lines: list[str] = []
    left_out: list[str] = []
    for reading in latest_per_param(readings):
        try:
            lines.append(str(tt10_line(reading, kind, zone)))
        except NotForwardable as exc:
            left_out.append(str(exc))
    content = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
    return identity.file_name(slot, zone), content, left_out
