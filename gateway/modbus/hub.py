"""One hub per serial line or TCP endpoint: it owns the client and serialises the bus.

Several slaves behind one logger or converter must not talk at once, and some converters
need a pause between frames; the hub's lock and ``frame_pause_s`` give both. The gateway only
ever reads: the hub has no write method on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from gateway.config import Connection, RtuOverTcpConnection, SerialConnection
from gateway.profiles import FUNCTION_CODE, RegisterTable

log = logging.getLogger(__name__)

# Modbus exception codes, as devices send them (Modbus Application Protocol v1.1b3, §7).
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class ModbusReadError(Exception):
    """A read that failed; the message names the endpoint, unit, table and address."""


ModbusClient = AsyncModbusTcpClient | AsyncModbusSerialClient


def framer_for(connection: Connection) -> FramerType:
    """RTU frames (with CRC) on serial lines and through serial servers; MBAP on Modbus TCP."""
    if isinstance(connection, SerialConnection | RtuOverTcpConnection):
        return FramerType.RTU
    return FramerType.SOCKET


def make_client(connection: Connection, timeout_s: float) -> ModbusClient:
    """The pymodbus client of a connection. The hub reconnects by itself, on the next read
    after the backoff (reconnect_delay=0 turns pymodbus' own background reconnect off)."""
    if isinstance(connection, SerialConnection):
        return AsyncModbusSerialClient(
            connection.device,
            framer=framer_for(connection),
            baudrate=connection.baudrate,
            bytesize=connection.bytesize,
            parity=connection.parity,
            stopbits=connection.stopbits,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,
        )
    return AsyncModbusTcpClient(
        connection.host,
        port=connection.port,
        framer=framer_for(connection),
        timeout=timeout_s,
        retries=0,
        reconnect_delay=0,
    )


class ModbusHub:
    """The one owner of a line or endpoint; every station on it reads through here."""

    def __init__(
        self,
        connection: Connection,
        *,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.connection = connection
        self.frame_pause_s = connection.frame_pause_ms / 1000
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self._lock = asyncio.Lock()
        self._client: ModbusClient | None = None
        self._last_frame = 0.0
        self._connect_failures = 0
        self._next_connect = 0.0  # monotonic time before which no new connect is tried

    @property
    def endpoint(self) -> str:
        return self.connection.endpoint

    async def _connected_client(self, timeout_s: float) -> ModbusClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop_connection()
        wait = self._next_connect - time.monotonic()
        if wait > 0:
            # Exponential backoff: a dead endpoint is not hammered, and its stations fail
            # at once instead of each waiting for a connect timeout.
            raise ModbusReadError(f"cannot connect; next attempt in {wait:.0f} s")
        client = make_client(self.connection, timeout_s)
        if not await client.connect():
            self._connect_failures += 1
            delay = min(
                self.reconnect_max_s,
                self.reconnect_min_s * 2 ** min(self._connect_failures - 1, 16),
            )
            self._next_connect = time.monotonic() + delay
            client.close()
            raise ModbusReadError("cannot connect")
        self._connect_failures = 0
        self._client = client
        return client

    async def read(
        self,
        unit: int,
        table: RegisterTable,
        address: int,
        count: int,
        *,
        timeout_s: float = 3.0,
        retries: int = 1,
    ) -> list[int]:
        """Read ``count`` registers; retried ``retries`` times on I/O errors, not on exceptions."""
        where = f"{self.endpoint} unit {unit} {table} registers {address}..{address + count - 1}"
        last_error: Exception | None = None
        for _attempt in range(retries + 1):
            async with self._lock:
                pause = self._last_frame + self.frame_pause_s - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                try:
                    client = await self._connected_client(timeout_s)
                    reader = (
                        client.read_holding_registers
                        if table == "holding"
                        else client.read_input_registers
                    )
                    async with asyncio.timeout(timeout_s):
                        response = await reader(address, count=count, device_id=unit)
                except (ModbusException, ModbusReadError, OSError, TimeoutError) as exc:
                    last_error = exc
                    self._drop_connection()
                    continue
                finally:
                    self._last_frame = time.monotonic()
            if response.isError():
                code = int(getattr(response, "exception_code", 0))
                name = EXCEPTION_NAMES.get(code, "unknown exception")
                # The device answered: retrying an exception response changes nothing.
                raise ModbusReadError(f"{where}: exception {code} ({name})")
            asked = FUNCTION_CODE[table]
            if response.function_code != asked:
                # pymodbus pairs an answer with its request by transaction id, not by function:
                # an answer of function 4 to a function 3 read carries the wrong table's words.
                raise ModbusReadError(
                    f"{where}: answered function {response.function_code} to function {asked}"
                )
            registers: list[int] = list(response.registers)
            if len(registers) != count:
                raise ModbusReadError(f"{where}: got {len(registers)} registers")
            return registers
        # str() of a timeout is empty: say what happened rather than end the message in ": ".
        if last_error is None or isinstance(last_error, TimeoutError):
            reason = f"no answer within {timeout_s:g} s"
        else:
            reason = str(last_error) or type(last_error).__name__
        raise ModbusReadError(f"{where}: {reason}") from last_error

    def _drop_connection(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        async with self._lock:
            self._drop_connection()
