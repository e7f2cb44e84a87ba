"""Simulated stations: real pymodbus servers serving a device profile's registers.

The demo and the tests use these in place of loggers in the field; the values come from a
scenario function of elapsed time, encoded exactly as the profile says the device encodes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from gateway.config import Connection, SerialConnection
from gateway.modbus.hub import framer_for
from gateway.model import DeviceStatus
from gateway.profiles import FUNCTION_CODE, DeviceProfile, RegisterTable
from gateway.registers import DataType, decode, encode, encode_bits

Scenario = Callable[[float], Mapping[str, float]]  # seconds since start → param → value


def profile_registers(
    profile: DeviceProfile,
    values: Mapping[str, float],
    status: DeviceStatus = DeviceStatus.MEASURING,
) -> dict[tuple[RegisterTable, int], int]:
    """The register words a device of this profile serves for these engineering values."""
    words: dict[tuple[RegisterTable, int], int] = {}
    for spec in profile.registers:
        if spec.param not in values:
            continue
        raw = (values[spec.param] - spec.offset) / spec.scale
        byte_order, word_order = profile.orders(spec)
        if spec.bits is not None:
            # Several bitfields share a word: set our bits in what is already there.
            current = decode(
                [words.get((spec.table, spec.address), 0)], DataType.UINT16, byte_order
            )
            raw = encode_bits(raw, *spec.bits, word=int(current))
        for i, word in enumerate(encode(raw, spec.type, byte_order, word_order)):
            words[(spec.table, spec.address + i)] = word
    if profile.status is not None:
        wanted = status.name.lower()
        code = next((c for c, name in profile.status.map.items() if name == wanted), 0)
        words[(profile.status.table, profile.status.address)] = code
    return words


def _table_size(profile: DeviceProfile) -> int:
    ends = [spec.address + spec.count for spec in profile.registers]
    if profile.status is not None:
        ends.append(profile.status.address + 1)
    # The identity texts too: a probe reads them, and a register not served is an exception.
    ends.extend(info.address + info.count for info in profile.info)
    return max(ends) + 8


def _silence_unknown_units(server: ModbusTcpServer | ModbusSerialServer) -> None:
    """Make a unit id nobody has stay silent, as on a real RS-485 line.

    pymodbus 3.16's SimCore raises KeyError for an unknown id instead of NoSuchIdException,
    so ``ignore_missing_devices`` never applies and the server answers "exception 4" for any
    id; scanning a line would find 247 devices.
    """
    core: Any = server.context  # SimCore, patched per instance
    known = set(core.device_ids())
    get_values, set_values = core.async_getValues, core.async_setValues

    async def guarded_get(device_id: int, *args: Any) -> Any:
        if device_id not in known:
            raise NoSuchIdException(f"no device {device_id}")
        return await get_values(device_id, *args)

    async def guarded_set(device_id: int, *args: Any) -> Any:
        if device_id not in known:
            raise NoSuchIdException(f"no device {device_id}")
        return await set_values(device_id, *args)

    core.async_getValues = guarded_get
    core.async_setValues = guarded_set


@dataclass
class SimulatedDevice:
    unit: int
    profile: DeviceProfile
    scenario: Scenario
    status: Callable[[float], DeviceStatus] = lambda _elapsed: DeviceStatus.MEASURING


class SimulatedEndpoint:
    """One line or endpoint (a logger, a converter, an RS-485 line) with its slaves.

    For an RTU line, ``connection.device`` is the simulator's end of the line (one side of a
    ``socat`` pty pair); the gateway opens the other end.
    """

    def __init__(
        self,
        connection: Connection,
        devices: list[SimulatedDevice],
        *,
        tick_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self.devices = devices
        self.tick_s = tick_s
        self.clock = clock
        self._started_at = 0.0
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._ticker: asyncio.Task[None] | None = None

    def _sim_device(self, device: SimulatedDevice) -> SimDevice:
        size = _table_size(device.profile)

        def bits() -> list[SimData]:
            return [SimData(0, count=16, values=False, datatype=SimType.BITS)]

        def registers() -> list[SimData]:
            return [SimData(0, count=size, values=0, datatype=SimType.REGISTERS)]

        return SimDevice(id=device.unit, simdata=(bits(), bits(), registers(), registers()))

    async def start(self) -> None:
        self._started_at = self.clock()
        devices = [self._sim_device(d) for d in self.devices]
        connection = self.connection
        server: ModbusTcpServer | ModbusSerialServer
        if isinstance(connection, SerialConnection):
            server = ModbusSerialServer(
                devices,
                framer=framer_for(connection),
                port=connection.device,
                baudrate=connection.baudrate,
                bytesize=connection.bytesize,
                parity=connection.parity,
                stopbits=connection.stopbits,
                # A unit id nobody has stays silent on a real line (no exception reply).
                ignore_missing_devices=True,
            )
        else:
            server = ModbusTcpServer(
                devices,
                framer=framer_for(connection),
                address=(connection.host, connection.port),
                ignore_missing_devices=True,
            )
        _silence_unknown_units(server)
        self._server = server
        await server.serve_forever(background=True)
        await self.update()
        self._ticker = asyncio.create_task(self._tick(), name=f"sim {connection.endpoint}")

    async def update(self) -> None:
        """Write the scenario's current values into the served registers."""
        if self._server is None:
            return
        elapsed = self.clock() - self._started_at
        for device in self.devices:
            words = profile_registers(
                device.profile, device.scenario(elapsed), device.status(elapsed)
            )
            for (table, address), word in words.items():
                await self._server.async_setValues(
                    device.unit, FUNCTION_CODE[table], address, [word]
                )

    async def _tick(self) -> None:
        log = logging.getLogger(__name__)
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.update()
            except Exception:  # a bad scenario value must not kill the simulator
                log.exception("simulator %s: update failed", self.connection.endpoint)

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def __aenter__(self) -> SimulatedEndpoint:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
