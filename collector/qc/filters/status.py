"""Device status (TT10 00/01/02): a value taken while calibrating or in error is no measurement."""

from __future__ import annotations

from collector.qc.state import Frame, Ints, SeriesState
from collector.qc.types import Context
from gateway.model import DeviceStatus, Quality


def check(frame: Frame, at: Ints, _state: SeriesState, _context: Context) -> Ints:
    status = frame.status[at]
    frame.flag(at[status == DeviceStatus.CALIBRATING], Quality.BAD, "calibrating")
    frame.flag(at[status == DeviceStatus.ERROR], Quality.BAD, "device_error")
    return at
