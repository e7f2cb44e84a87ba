"""The data files of Circular 10/2021/TT-BTNMT, parsed without any I/O (docs/tt10.md).

One file per measurement cycle, one line per parameter::

    <parameter> <value> <unit> <yyyyMMddhhmmss> <status>

named ``<Province>_<Facility>_<Station>_<yyyyMMddhhmmss>.txt``; times are the station's local
time (Asia/Ho_Chi_Minh). Rejection policy: what makes the whole file untrustworthy (empty or
truncated, unreadable encoding, a wrong timestamp, an unknown station) rejects the file; what
spoils one line (unknown parameter, bad value, unit, status) skips that line only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from gateway.config import StationConfig, Tt10Source
from gateway.model import VIETNAM_TZ, DeviceStatus, Reading
from gateway.parameters import Parameter, UnknownParameterError, registry

# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset is exact.

_TIME_FORMAT = "%Y%m%d%H%M%S"
_TIMESTAMP = re.compile(r"\d{14}")
_STATUS = re.compile(r"\d{2}")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")

# The file's unit → the canonical unit's factor, per canonical unit (gateway/parameters.yaml).
# Spellings are compared after _unit_key (case-folded, µ/μ → u, ³ → 3, °/º → "deg").
# Nm³ (normal cubic metre) is read as m³: QCVN 05:2023 states its limits in µg/Nm³, and the
# canonical µg/m³ of the registry is that same reference volume. ppm/ppb are not converted:
# that needs the molar mass and a reference temperature the file does not give.
UNIT_CONVERSIONS: dict[str, dict[str, float]] = {
    "µg/m³": {
        "ug/m3": 1.0,
        "ug/nm3": 1.0,
        "mg/m3": 1000.0,
        "mg/nm3": 1000.0,
    },
    "°C": {"degc": 1.0, "oc": 1.0, "c": 1.0},
    "%": {"%": 1.0, "%rh": 1.0},
    "hPa": {"hpa": 1.0, "mbar": 1.0, "mb": 1.0, "kpa": 10.0},
    "m³/h": {"m3/h": 1.0, "m3/s": 3600.0, "l/s": 3.6},
    "mg/L": {"mg/l": 1.0},
    "pH": {"ph": 1.0, "-": 1.0},
    "Pt-Co": {"pt-co": 1.0, "pt/co": 1.0, "ptco": 1.0},
    "NTU": {"ntu": 1.0},
    "µS/cm": {"us/cm": 1.0, "ms/cm": 1000.0},
    "m/s": {"m/s": 1.0},
    "°": {"deg": 1.0},
    "mm": {"mm": 1.0},
    "m": {"m": 1.0},
    "‰": {"‰": 1.0},
}


def _unit_key(unit: str) -> str:
    key = unit.strip().casefold()
    for old, new in (("µ", "u"), ("μ", "u"), ("³", "3"), ("°", "deg"), ("º", "deg")):
        key = key.replace(old, new)
    return key


def convert_unit(value: float, unit: str, parameter: Parameter) -> float:
    """The value in the parameter's canonical unit; ValueError when the unit is not accepted."""
    if unit == parameter.unit:
        return value
    factors = UNIT_CONVERSIONS.get(parameter.unit, {})
    factor = factors.get(_unit_key(unit))
    if factor is None:
        accepted = ", ".join(sorted(factors)) or parameter.unit
        raise ValueError(
            f"unit {unit!r} is not {parameter.unit} for {parameter.name} "
            f"and not convertible (accepted: {accepted})"
        )
    return value * factor


def parse_value(text: str) -> float:
    """A TT10 value: decimal point or decimal comma; no thousands separators."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"value {text!r} is not a number")
    value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(f"value {text!r} is not a finite number")
    return value


def parse_local_time(text: str, tz: tzinfo = VIETNAM_TZ) -> datetime:
    """yyyyMMddhhmmss in the station's local time → UTC."""
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"timestamp {text!r} is not yyyyMMddhhmmss")
    try:
        local = datetime.strptime(text, _TIME_FORMAT)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not a valid date and time") from None
    return local.replace(tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Tt10Station:
    """What the parser needs of a TT10 station: its id and kind (for "Temp", "NO2")."""

    id: str
    kind: str


def stations_by_code(stations: Iterable[StationConfig]) -> dict[str, Tt10Station]:
    """The TT10 stations by their file-name code (compared upper-case)."""
    by_code: dict[str, Tt10Station] = {}
    for station in stations:
        if not isinstance(station.source, Tt10Source):
            continue
        code = station.source.code.strip().upper()
        other = by_code.get(code)
        if other is not None:
            raise ValueError(f"TT10 code {code!r} is used by both {other.id} and {station.id}")
        by_code[code] = Tt10Station(station.id, station.kind)
    return by_code


@dataclass(frozen=True, slots=True)
class Tt10FileName:
    province: str
    facility: str
    code: str  # the station part, upper-case
    time: datetime  # UTC
    local_time: datetime  # the station's wall clock, as written


_NAME = re.compile(r"(?P<stem>.+)_(?P<time>[^_]+)\.txt", re.IGNORECASE)


def parse_file_name(name: str, tz: tzinfo = VIETNAM_TZ) -> Tt10FileName:
    match = _NAME.fullmatch(name)
    parts = match.group("stem").split("_") if match else []
    if match is None or len(parts) < 3 or not all(parts):
        raise ValueError(
            f"file name {name!r} is not <Province>_<Facility>_<Station>_<yyyyMMddhhmmss>.txt"
        )
    time = parse_local_time(match.group("time"), tz)
    return Tt10FileName(
        province=parts[0],
        facility="_".join(parts[1:-1]),
        code=parts[-1].upper(),
        time=time,
        local_time=time.astimezone(tz),
    )


@dataclass(frozen=True, slots=True)
class Tt10Limits:
    """How far a timestamp may be from the clock and from the file name's time; how large a
    file may be (a TT10 file is a few hundred bytes: 1 MiB is thousands of lines)."""

    future: timedelta = timedelta(hours=1)
    from_file_name: timedelta = timedelta(hours=1)
    max_file_bytes: int = 1_048_576


# What a reason quotes of an offending line (or a value in it): issue 13 found a rejected
# 200 MB one-line file's whole line copied into its .reason file.
EXCERPT_CHARS = 200


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one line was skipped (or, with a file rejection, where the file went wrong)."""

    file: str
    line: int  # 1-based; 0 when the problem is the file as a whole
    reason: str
    text: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


class Tt10FileRejected(Exception):  # noqa: N818 — a rejection, not a crash
    """The whole file is refused; ``problem`` names the file, the line and the reason."""

    def __init__(self, problem: LineProblem, station: str = "") -> None:
        super().__init__(str(problem))
        self.problem = problem
        self.station = station


@dataclass(frozen=True, slots=True)
class Tt10File:
    name: Tt10FileName
    station: str
    readings: tuple[Reading, ...]
    skipped: tuple[LineProblem, ...]


def _decode(file: str, content: bytes) -> str:
    # UTF-16 with a BOM is Windows Notepad's "Unicode"; otherwise ASCII or UTF-8 (BOM or not).
    utf16 = content.startswith((b"\xff\xfe", b"\xfe\xff"))
    encoding = "utf-16" if utf16 else "utf-8-sig"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise Tt10FileRejected(
            LineProblem(
                file,
                line,
                f"unreadable encoding: byte 0x{content[exc.start]:02x} at offset {exc.start} "
                "is not UTF-8 (send UTF-8 or ASCII, e.g. ug/Nm3 for µg/Nm³)",
            )
        ) from None
    if "\x00" in text:
        raise Tt10FileRejected(LineProblem(file, 0, "unreadable encoding: NUL bytes (binary?)"))
    return text


def _is_complete(fields: list[str]) -> bool:
    return (
        len(fields) == 5
        and _TIMESTAMP.fullmatch(fields[3]) is not None
        and _STATUS.fullmatch(fields[4]) is not None
    )


def resolve_parameter(symbol: str, kind: str) -> Parameter:
    """The canonical parameter of a TT10 symbol at a station of this kind (the registry's one
    rule for every driver: ``ParameterRegistry.at_station``)."""
    return registry().at_station(symbol, kind)


def parse_tt10(
    file: str,
    content: bytes,
    stations: Mapping[str, Tt10Station],
    *,
    now: datetime,
    tz: tzinfo = VIETNAM_TZ,
    limits: Tt10Limits = Tt10Limits(),
) -> Tt10File:
    """Parse one TT10 file (``file`` is its name; a path's last part is used).

    Raises :class:`Tt10FileRejected` when the whole file must be refused; lines that cannot be
    used are returned in ``skipped`` with their reason, the rest become readings.
    """
    base = file.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        name = parse_file_name(base, tz)
    except ValueError as exc:
        raise Tt10FileRejected(LineProblem(file, 0, str(exc))) from None
    station = stations.get(name.code)
    if station is None:
        raise Tt10FileRejected(
            LineProblem(file, 0, f"unknown station code {name.code!r} (no tt10 station has it)")
        )
    if name.time > now + limits.future:
        raise Tt10FileRejected(
            LineProblem(
                file,
                0,
                f"wrong timestamp: file name time {name.local_time:%Y-%m-%d %H:%M:%S} "
                f"local is in the future (now {now.astimezone(tz):%Y-%m-%d %H:%M:%S})",
            ),
            station.id,
        )

    def reject(line: int, reason: str, text: str = "") -> Tt10FileRejected:
        # The reason may quote a field of the line: both are cut (EXCERPT_CHARS).
        problem = LineProblem(file, line, excerpt(reason, 2 * EXCERPT_CHARS), excerpt(text))
        return Tt10FileRejected(problem, station.id)

    text = _decode(file, content)
    if not text.strip():
        raise reject(0, "truncated: the file is empty")
    lines = text.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    last_number, last_line = numbered[-1]
    if not text.endswith(("\n", "\r")) and not _is_complete(last_line.split()):
        raise reject(
            last_number,
            "truncated: the last line is cut off (no line end and not "
            "<parameter> <value> <unit> <yyyyMMddhhmmss> <status>)",
            last_line,
        )

    readings: dict[str, Reading] = {}
    skipped: list[LineProblem] = []
    for number, line in numbered:
        fields = line.split()

        def skip(reason: str, number: int = number, line: str = line) -> None:
            skipped.append(
                LineProblem(file, number, excerpt(reason, 2 * EXCERPT_CHARS), excerpt(line))
            )

        if len(fields) != 5:
            skip(
                f"{len(fields)} field(s), expected 5: "
                "<parameter> <value> <unit> <yyyyMMddhhmmss> <status>"
            )
            continue
        symbol, value_text, unit, time_text, status_text = fields
        # A wrong timestamp makes every other value of the file suspect: refuse it whole.
        try:
            ts = parse_local_time(time_text, tz)
        except ValueError as exc:
            raise reject(number, f"wrong timestamp: {exc}", line) from None
        if ts > now + limits.future:
            raise reject(
                number,
                f"wrong timestamp: {time_text} is in the future by "
                f"{_duration(ts - now)} (now {now.astimezone(tz):%Y%m%d%H%M%S} local)",
                line,
            )
        if abs(ts - name.time) > limits.from_file_name:
            raise reject(
                number,
                f"wrong timestamp: {time_text} is {_duration(abs(ts - name.time))} from the "
                f"file name's time {name.local_time:%Y%m%d%H%M%S}",
                line,
            )
        try:
            parameter = resolve_parameter(symbol, station.kind)
        except UnknownParameterError as exc:
            skip(str(exc))
            continue
        if not _STATUS.fullmatch(status_text):
            skip(f"{parameter.name}: status {status_text!r} is not 00, 01 or 02")
            continue
        try:
            status = DeviceStatus.from_tt10(status_text)
            value = convert_unit(parse_value(value_text), unit, parameter)
        except ValueError as exc:
            skip(f"{parameter.name}: {exc}")
            continue
        if parameter.name in readings:
            skip(f"{parameter.name}: given twice in the file; the first line is kept")
            continue
        readings[parameter.name] = Reading(
            station=station.id,
            param=parameter.name,
            value=value,
            unit=parameter.unit,
            ts=ts,
            status=status,
        )
    return Tt10File(name, station.id, tuple(readings.values()), tuple(skipped))


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"
