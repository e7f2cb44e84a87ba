"""One flush of readings as columns, built once and read by QC and by the stores.

Pulling the value, time and status out of each Reading is the costly Python part of checking
and writing a flush (~0.6 µs a reading here); doing it once for both saves it a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from gateway.model import Reading

_TS = attrgetter("ts")
_VALUE = attrgetter("value")
_STATUS = attrgetter("status")


@dataclass(frozen=True, slots=True)
class Points:
    readings: Sequence[Reading]
    ts_ms: npt.NDArray[np.int64]  # ms since the epoch, UTC, floored like the stores' keys
    value: npt.NDArray[np.float64]  # NaN: no value
    status: npt.NDArray[np.int8]

    @classmethod
    def of(cls, readings: Sequence[Reading]) -> Points:
        n = len(readings)
        seconds = np.fromiter(map(datetime.timestamp, map(_TS, readings)), np.float64, n)
        # seconds·1e6 stays below 2^53 until the year 2255, so rounding gives the exact
        # microsecond; flooring that to ms matches the stores' (ts - epoch) // 1 ms.
        micros = np.rint(seconds * 1e6).astype(np.int64)
        return cls(
            readings=readings,
            ts_ms=micros // 1000,
            value=np.fromiter(map(_VALUE, readings), np.float64, n),
            status=np.fromiter(map(_STATUS, readings), np.int8, n),
        )

    def __len__(self) -> int:
        return len(self.readings)
