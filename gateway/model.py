"""The Reading contract shared by every driver, the collector and alerting (docs/wire-format.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import IntEnum

# The province's local time, for what people read and type (TT10 files, messages, boards, queries).
# Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since 1975: a fixed offset is the same
# zone for every date a station reports, and needs no tz database in a slim container.
VIETNAM_TZ: tzinfo = timezone(timedelta(hours=7), "ICT")


def zone_of(name: str | None) -> tzinfo:
    """The zone a site's ``timezone:`` names (None: Vietnam's); raises ValueError if unknown."""
    if name is None or name == "Asia/Ho_Chi_Minh":
        return VIETNAM_TZ
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Ho_Chi_Minh)") from None


def local_time(ts: datetime, zone: tzinfo = VIETNAM_TZ, *, seconds: bool = False) -> str:
    """A time as every warning, table and console line writes it: local, "23:40 22/11"
    ("23:40:05 22/11" with ``seconds``). One format, so a demo's board and its warnings agree."""
    return ts.astimezone(zone).strftime("%H:%M:%S %d/%m" if seconds else "%H:%M %d/%m")


class DeviceStatus(IntEnum):
    """The device's own status, numbered as TT10/2021 data files write it (00/01/02)."""

    MEASURING = 0
    CALIBRATING = 1
    ERROR = 2

    @property
    def tt10_code(self) -> str:
        return f"{self.value:02d}"

    @classmethod
    def from_tt10(cls, code: str) -> DeviceStatus:
        try:
            return cls(int(code))
        except ValueError as exc:
            raise ValueError(f"unknown TT10 status {code!r} (expected 00, 01 or 02)") from exc


class Quality(IntEnum):
    """Quality set by the collector's QC chain; the int is what the stores keep."""

    GOOD = 0
    SUSPECT = 1
    BAD = 2
    UNCHECKED = 9  # raw readings, before the collector has looked at them


@dataclass(frozen=True, slots=True, init=False)
class Reading:
    """One value of one parameter of one station at one instant.

    ``ts`` is UTC and is the device's own time where the device gives one; it is never replaced
    by the arrival time. ``value`` is NaN when the device reported its "no value" sentinel.
    """

    station: str
    param: str
    value: float
    unit: str
    ts: datetime
    status: DeviceStatus = DeviceStatus.MEASURING
    quality: Quality = Quality.UNCHECKED
    reason: str = ""  # QC reason code when quality is not GOOD, e.g. "range", "status"

    # Written by hand because every driver builds one Reading per value: the __init__ a frozen
    # dataclass generates sets each field with object.__setattr__ and then calls
    # __post_init__, ≈0.9 µs a Reading; setting the slots through their descriptors is
    # ≈0.5 µs (timeit, docs/benchmarks.md "MQTT station ingest"). Still frozen afterwards.
    def __init__(
        self,
        station: str,
        param: str,
        value: float,
        unit: str,
        ts: datetime,
        status: DeviceStatus = DeviceStatus.MEASURING,
        quality: Quality = Quality.UNCHECKED,
        reason: str = "",
    ) -> None:
        if ts.tzinfo is None:
            raise ValueError(f"{station}/{param}: timestamp {ts} has no timezone")
        _set_station(self, station)
        _set_param(self, param)
        _set_value(self, value)
        _set_unit(self, unit)
        _set_ts(self, ts)
        _set_status(self, status)
        _set_quality(self, quality)
        _set_reason(self, reason)

    @property
    def has_value(self) -> bool:
        return not math.isnan(self.value)

    def flagged(self, quality: Quality, reason: str = "") -> Reading:
        # The constructor directly: dataclasses.replace costs ≈2.2 µs, this ≈0.6 µs.
        return Reading(
            self.station, self.param, self.value, self.unit, self.ts, self.status, quality, reason
        )


def _slot_setter(name: str) -> Callable[[Reading, object], None]:
    """The ``__set__`` of a Reading slot: sets it on a (frozen) Reading without __setattr__."""
    setter: Callable[[Reading, object], None] = Reading.__dict__[name].__set__
    return setter


_set_station = _slot_setter("station")
_set_param = _slot_setter("param")
_set_value = _slot_setter("value")
_set_unit = _slot_setter("unit")
_set_ts = _slot_setter("ts")
_set_status = _slot_setter("status")
_set_quality = _slot_setter("quality")
_set_reason = _slot_setter("reason")


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """The readings of one station from one poll (or one message, or one file).

    ``gateway`` and ``seq`` number the batches of a gateway so that the collector can say, in
    a receipt, up to where it has stored them (docs/architecture.md: QoS 1 is not a delivery proof).
    """

    gateway: str
    seq: int
    station: str
    readings: tuple[Reading, ...]
    produced_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Identifies one life of the gateway's outbox: if its file is lost and numbering starts
    # again at 1, receipts of the old numbering must not cover the new batches.
    epoch: str = ""

    def __post_init__(self) -> None:
        for reading in self.readings:
            if reading.station != self.station:
                raise ValueError(
                    f"batch of station {self.station!r} holds a reading of {reading.station!r}"
                )
