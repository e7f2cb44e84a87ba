"""What QC keeps per series, as columns (numpy arrays indexed by series row), and one frame.

Columns rather than one object per series: the filters then run vectorised over every series
of a flush at once, and the state of 20,000 series is a few contiguous arrays (the benchmark
prints the bytes per series; the issue's bound is 1 KB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from collector.qc.settings import SeriesSettings
from gateway.model import Quality

# Reason codes: what the stores and the wire carry is the string, the arrays carry its index.
REASONS: tuple[str, ...] = (
    "",
    "calibrating",
    "device_error",
    "no_value",
    "range",
    "unknown_param",
    "future",
    "before_commissioning",
    "out_of_order",
    "spike",
    "flatline",
    "outlier",
)
REASON_CODE = {reason: code for code, reason in enumerate(REASONS)}

RECENT = 16  # points remembered per series: duplicates, and flatline's look back
HAMPEL_MAX = 32  # the longest Hampel window (QcOverride.hampel_window's bound)
NEVER = np.iinfo(np.int64).min

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class Frame:
    """The readings of one flush, as columns, with the flags the filters set."""

    series: Ints  # row in SeriesState
    value: Floats
    ts: Ints  # ms since the epoch, UTC
    status: npt.NDArray[np.int8]
    quality: npt.NDArray[np.int8] = field(init=False)
    reason: npt.NDArray[np.int8] = field(init=False)

    def __post_init__(self) -> None:
        self.quality = np.zeros(len(self.value), np.int8)
        self.reason = np.zeros(len(self.value), np.int8)

    def __len__(self) -> int:
        return len(self.value)

    def flag(self, at: Ints, quality: Quality, reason: str) -> None:
        """Flag readings ``at``; the worst quality wins, and among equals the first reason."""
        worse = at[self.quality[at] < quality]
        self.quality[worse] = quality
        self.reason[worse] = REASON_CODE[reason]


def _grow(array: npt.NDArray[Any], size: int, fill: Any) -> npt.NDArray[Any]:
    grown = np.full((size, *array.shape[1:]), fill, array.dtype)
    grown[: len(array)] = array
    return grown


class SeriesState:
    """Settings and memory of every series QC has seen; rows are added, never removed."""

    # (name, dtype, fill, trailing shape)
    COLUMNS: tuple[tuple[str, Any, Any, tuple[int, ...]], ...] = (
        # settings
        ("known", np.bool_, False, ()),
        ("low", np.float64, -np.inf, ()),
        ("high", np.float64, np.inf, ()),
        ("max_rate", np.float64, np.nan, ()),
        ("rate_reset", np.int16, 1, ()),
        ("flat_n", np.int16, 0, ()),
        ("flat_tol", np.float64, 0.0, ()),
        ("hampel_w", np.int16, 0, ()),
        ("hampel_sigmas", np.float64, 4.0, ()),
        ("hampel_min", np.float64, 0.0, ()),
        ("future_ms", np.int64, 0, ()),
        ("not_before", np.int64, NEVER, ()),
        # memory
        ("last_ts", np.int64, NEVER, ()),  # newest point taken in order
        ("good_ts", np.int64, NEVER, ()),  # newest point that was not bad
        ("good_value", np.float64, np.nan, ()),
        ("rate_run", np.int16, 0, ()),  # jumps in a row
        ("flat_last", np.float64, np.nan, ()),
        ("flat_run", np.int16, 0, ()),  # identical values in a row, this one included
        ("hist", np.float64, np.nan, (HAMPEL_MAX,)),  # ring of the last not-bad values
        ("hist_pos", np.int16, 0, ()),
        ("hist_n", np.int16, 0, ()),
        ("recent_ts", np.int64, NEVER, (RECENT,)),  # ring of the last points taken in order
        ("recent_value", np.float64, np.nan, (RECENT,)),
        ("recent_status", np.int8, 0, (RECENT,)),
        ("recent_quality", np.int8, 0, (RECENT,)),
        ("recent_reason", np.int8, 0, (RECENT,)),
        ("recent_pos", np.int16, 0, ()),
    )

    def __init__(self, capacity: int = 64) -> None:
        self.size = 0
        self.capacity = capacity
        self.columns: dict[str, npt.NDArray[Any]] = {
            name: np.full((capacity, *shape), fill, dtype)
            for name, dtype, fill, shape in self.COLUMNS
        }

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        try:
            return self.__dict__["columns"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None

    def add(self, settings: SeriesSettings) -> int:
        if self.size == self.capacity:
            self.capacity *= 2
            for name, _dtype, fill, _shape in self.COLUMNS:
                self.columns[name] = _grow(self.columns[name], self.capacity, fill)
        row = self.size
        self.size += 1
        c = self.columns
        c["known"][row] = settings.known
        c["low"][row] = settings.low
        c["high"][row] = settings.high
        c["max_rate"][row] = settings.max_rate_per_ms
        c["rate_reset"][row] = settings.rate_reset
        c["flat_n"][row] = settings.flatline
        c["flat_tol"][row] = settings.flatline_tolerance
        c["hampel_w"][row] = settings.hampel_window
        c["hampel_sigmas"][row] = settings.hampel_sigmas
        c["hampel_min"][row] = settings.hampel_min_sigma
        c["future_ms"][row] = settings.future_ms
        c["not_before"][row] = settings.not_before_ms
        return row

    def bytes_per_series(self) -> float:
        """Bytes of state per series in use (the arrays are allocated by doubling)."""
        per_row = sum(array.nbytes for array in self.columns.values()) / self.capacity
        return per_row
