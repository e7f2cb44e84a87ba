"""The QC chain: small filters, registered in one table, each flagging instead of dropping.

Issue 2 ships the two filters everything else builds on: the device's own status and the
physical range from the parameter registry. The worst flag wins; its filter names the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.model import DeviceStatus, Quality, Reading
from gateway.parameters import ParameterRegistry, UnknownParameterError, registry

Flag = tuple[Quality, str]
QcFilter = Callable[[Reading, ParameterRegistry], Flag | None]


def status_filter(reading: Reading, _registry: ParameterRegistry) -> Flag | None:
    """TT10 status: a value taken while calibrating or in error is not a measurement."""
    if reading.status is DeviceStatus.CALIBRATING:
        return Quality.BAD, "calibrating"
    if reading.status is DeviceStatus.ERROR:
        return Quality.BAD, "device_error"
    return None


def range_filter(reading: Reading, parameters: ParameterRegistry) -> Flag | None:
    """Outside what the sensor can physically report (parameters.yaml ``limits``)."""
    if not reading.has_value:
        return Quality.BAD, "no_value"
    try:
        parameter = parameters[reading.param]
    except UnknownParameterError:
        return Quality.SUSPECT, "unknown_param"
    if not parameter.within_limits(reading.value):
        return Quality.BAD, "range"
    return None


# The chain, in order. A new filter is one function and one line here.
FILTERS: dict[str, QcFilter] = {
    "status": status_filter,
    "range": range_filter,
}

UNCHECKED_PARAMS = frozenset({"station_online"})  # the gateway's own health, not a sensor


def check(reading: Reading, parameters: ParameterRegistry | None = None) -> Reading:
    if reading.param in UNCHECKED_PARAMS:
        return reading.flagged(Quality.GOOD)
    parameters = parameters or registry()
    worst: Flag = (Quality.GOOD, "")
    for run_filter in FILTERS.values():
        flag = run_filter(reading, parameters)
        if flag is not None and flag[0] > worst[0]:
            worst = flag
    return reading.flagged(*worst)


def check_all(readings: Sequence[Reading]) -> list[Reading]:
    parameters = registry()
    return [check(r, parameters) for r in readings]
