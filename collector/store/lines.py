"""InfluxDB line protocol of the storage schema: pure rendering, no I/O.

One reading is one line::

    reading,district=Thành\\ phố\\ Huế,kind=hydro,param=water_level,station=kim_long,unit=m \\
        value=1.59,quality=0i,status=0i,reason="range" 1795322520000

Tags (sorted by key, as InfluxDB prefers): ``station``, ``param``, ``kind``, ``district`` of the
schema, ``derived=true`` on derived series, and ``unit`` — constant per series, so it costs no
cardinality, and it is what lets a reading come back whole from InfluxDB or VictoriaMetrics.
A tag with an empty value is left out (line protocol has no empty tag values).
Fields: ``value`` (float, left out when NaN or infinite: "no value"), ``quality`` and
``status`` (integers, ``2i``), ``reason`` (string, left out when empty). Timestamps in ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from datetime import UTC, datetime, timedelta
from typing import Protocol

from collector.schema import DERIVED_TAG, MEASUREMENT, UNKNOWN_STATION, StationInfo
from collector.store import DERIVED_PARAMS, Flags
from gateway.model import Reading

UNIT_TAG = "unit"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# Tag keys, tag values and field keys escape comma, equals sign and space. A newline cannot be
# escaped at all, so it becomes a space. Backslashes stay as they are: InfluxDB 1.x and
# VictoriaMetrics only unescape "\,", "\=" and "\ ", so "\\" would come back doubled.
_TAG = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": "\\ ", "\r": "\\ "})
_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", "\n": "\\ "})
# String field values escape the double quote and the backslash.
_STRING = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": " ", "\r": " "})


def epoch_ms(ts: datetime) -> int:
    """Milliseconds since the epoch, exact (``ts.timestamp() * 1000`` can be 1 ms off)."""
    return (ts - _EPOCH) // _MS


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def escape_tag(text: str) -> str:
    return text.translate(_TAG)


def escape_measurement(text: str) -> str:
    return text.translate(_MEASUREMENT)


def escape_string(text: str) -> str:
    """The inside of a quoted string field value."""
    return text.translate(_STRING)


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,k=v,…`` with the tags sorted by key; empty values left out."""
    rendered = "".join(
        f",{escape_tag(key)}={escape_tag(value)}" for key, value in sorted(tags.items()) if value
    )
    return escape_measurement(measurement) + rendered


def render_fields(value: float, quality: int, status: int, reason: str) -> str:
    head = f"value={float(value)!r}," if math.isfinite(value) else ""
    tail = f',reason="{escape_string(reason)}"' if reason else ""
    return f"{head}quality={int(quality)}i,status={int(status)}i{tail}"


class LineRenderer:
    """Renders readings of the stations it knows as lines of the storage schema.

    ``with_reason=False`` leaves the reason field out, for stores that drop string fields
    (VictoriaMetrics would turn it into a meaningless ``reading_reason`` series of zeros).
    """

    def __init__(
        self,
        stations: Mapping[str, StationInfo] | None = None,
        derived_params: Set[str] = DERIVED_PARAMS,
        *,
        with_reason: bool = True,
    ) -> None:
        self.stations = dict(stations or {})
        self.derived_params = derived_params  # may be a rule (schema.DERIVED_PARAMS), not a set
        self.with_reason = with_reason
        self._keys: dict[tuple[str, str, str], str] = {}

    def tags(self, station: str, param: str, unit: str) -> dict[str, str]:
        info = self.stations.get(station, UNKNOWN_STATION)
        tags = {
            "station": station,
            "param": param,
            "kind": info.kind,
            "district": info.district,
            UNIT_TAG: unit,
        }
        if param in self.derived_params:
            tags[DERIVED_TAG] = "true"
        return tags

    def _key(self, station: str, param: str, unit: str) -> str:
        # Cached: a province has a few thousand series, each rendered every minute.
        key = self._keys.get((station, param, unit))
        if key is None:
            key = series_key(MEASUREMENT, self.tags(station, param, unit)) + " "
            self._keys[(station, param, unit)] = key
        return key

    def render(self, readings: Sequence[Reading], flags: Flags | None = None) -> list[str]:
        """One line per reading; ``flags`` override the readings' quality and reason."""
        if flags is None:
            qualities: Sequence[int] = [r.quality for r in readings]
            reasons: Sequence[str] = [r.reason for r in readings]
        else:
            flags.check(readings)
            qualities, reasons = flags.quality, flags.reason
        if not self.with_reason:
            reasons = [""] * len(readings)
        key = self._key
        return [
            f"{key(r.station, r.param, r.unit)}"
            f"{render_fields(r.value, quality, r.status, reason)} {epoch_ms(r.ts)}"
            for r, quality, reason in zip(readings, qualities, reasons, strict=True)
        ]


class BodyWriter(Protocol):
    def write(self, body: str) -> None: ...

    def close(self) -> None: ...


class LineWrites:
    """The write side of a line-protocol store (InfluxDB, VictoriaMetrics): render the flush,
    send it in requests of ``batch_points`` lines; ``write_lines`` is what the forwarding
    queue calls with its chunks."""

    _renderer: LineRenderer
    batch_points: int
    writer: BodyWriter

    @property
    def renderer(self) -> LineRenderer:
        return self._renderer

    def write(self, readings: Sequence[Reading], flags: Flags | None = None) -> None:
        lines = self._renderer.render(readings, flags)
        for start in range(0, len(lines), self.batch_points):
            part = lines[start : start + self.batch_points]
            self.write_lines("\n".join(part), len(part))

    def write_lines(self, body: str, points: int) -> None:
        if points:
            self.writer.write(body)
