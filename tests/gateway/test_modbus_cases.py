"""Modbus test cases as folders: ``tests/cases/modbus/<case>/`` (docs/profiles.md).

Each case has ``case.yaml`` (the profile — a firmware_configs name or an inline profile — the
unit id and any station register overrides), ``registers.yaml`` (the raw words a device serves)
and ``expected.yaml`` (the readings the gateway must make of them). Every case is served by a
real pymodbus server on loopback and read through ModbusHub + ModbusStation, and decoded once
more without a server by the pure ``decode_station``; both must give the expected readings.
"""

from __future__ import annotations

import contextlib
import math
import struct
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from gateway.config import StationConfig, TcpConnection
from gateway.modbus.hub import ModbusHub
from gateway.modbus.station import ModbusStation, decode_station
from gateway.model import DeviceStatus, Reading
from gateway.parameters import registry
from gateway.profiles import (
    FUNCTION_CODE,
    DeviceProfile,
    RegisterSpec,
    RegisterTable,
    default_profiles_dir,
    load_profile,
)
from gateway.registers import DataType
from gateway.simulator import profile_registers
from tests.conftest import REPO
from tests.servers import free_port

CASES_DIR = REPO / "tests" / "cases" / "modbus"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
SHIPPED = sorted(default_profiles_dir().glob("*.yaml"))
NOW = datetime(2026, 11, 22, 16, 40, tzinfo=UTC)

_CASE_KEYS = {"description", "profile", "unit", "registers"}
_EXPECTED_KEYS = {"status", "tolerance", "readings", "info"}


@dataclass(frozen=True, slots=True)
class ExpectedReading:
    value: float | None  # None: no value (NaN), as for a sentinel
    status: DeviceStatus


@dataclass(frozen=True)
class ModbusCase:
    name: str
    description: str
    config: StationConfig  # connection port 1: replaced by the server's port when served
    profile: DeviceProfile  # the effective profile: the station's overrides applied
    words: dict[tuple[RegisterTable, int], int]  # as in registers.yaml
    expected: dict[str, ExpectedReading]
    tolerance: float
    info: dict[str, str]

    @property
    def unit(self) -> int:
        return self.config.modbus.unit

    def station(self, port: int) -> StationConfig:
        connection = TcpConnection(host="127.0.0.1", port=port)
        source = self.config.source.model_copy(update={"connection": connection})
        return self.config.model_copy(update={"source": source})

    @property
    def table_size(self) -> int:
        """Registers served in each table: everything the case or its profile names, and more."""
        ends = [address + 1 for _table, address in self.words]
        ends += [spec.address + spec.count for spec in self.profile.registers]
        ends += [info.address + info.count for info in self.profile.info]
        if self.profile.status is not None:
            ends.append(self.profile.status.address + 1)
        return max(ends) + 8

    def served_words(self) -> dict[tuple[RegisterTable, int], int]:
        """Every word the server holds: registers.yaml over a block of zeros."""
        tables: tuple[RegisterTable, ...] = ("holding", "input")
        served = {(table, a): 0 for table in tables for a in range(self.table_size)}
        served.update(self.words)
        return served


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AssertionError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AssertionError(
            f"{path} is missing: a case has case.yaml, registers.yaml, expected.yaml"
        )
    return _mapping(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path))


def _unknown_keys(document: Mapping[str, Any], allowed: set[str], path: Path) -> None:
    unknown = set(document) - allowed
    if unknown:
        raise AssertionError(f"{path}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")


def _words(path: Path) -> dict[tuple[RegisterTable, int], int]:
    document = _read(path)
    _unknown_keys(document, {"holding", "input"}, path)
    words: dict[tuple[RegisterTable, int], int] = {}
    for table in ("holding", "input"):
        for address, word in _mapping(document.get(table) or {}, f"{path}: {table}").items():
            if not (isinstance(address, int) and 0 <= address <= 65535):
                raise AssertionError(f"{path}: {table} address {address!r} is not 0..65535")
            if not (isinstance(word, int) and 0 <= word <= 0xFFFF):
                raise AssertionError(f"{path}: {table} {address}: {word!r} is not a 16-bit word")
            words[(table, address)] = word
    return words


def _expected(path: Path) -> tuple[dict[str, ExpectedReading], float, dict[str, str]]:
    document = _read(path)
    _unknown_keys(document, _EXPECTED_KEYS, path)
    status = DeviceStatus[str(document.get("status", "measuring")).upper()]
    readings: dict[str, ExpectedReading] = {}
    for param, item in _mapping(document.get("readings"), f"{path}: readings").items():
        if isinstance(item, dict):
            _unknown_keys(item, {"value", "status"}, path)
            value, item_status = item.get("value"), DeviceStatus[str(item["status"]).upper()]
        else:
            value, item_status = item, status
        readings[str(param)] = ExpectedReading(None if value is None else float(value), item_status)
    info = {str(k): str(v) for k, v in _mapping(document.get("info") or {}, str(path)).items()}
    return readings, float(document.get("tolerance", 0.0)), info


def load_case(name: str) -> ModbusCase:
    folder = CASES_DIR / name
    case_file = folder / "case.yaml"
    document = _read(case_file)
    _unknown_keys(document, _CASE_KEYS, case_file)
    profile_entry = document.get("profile")
    if isinstance(profile_entry, str):
        profile = load_profile(default_profiles_dir() / f"{profile_entry}.yaml")
    else:
        inline = _mapping(profile_entry, f"{case_file}: profile")
        profile = DeviceProfile.model_validate({"id": name, **inline})
    config = StationConfig.model_validate(
        {
            "id": name,
            "name": name,
            "kind": profile.kind,
            "district": "test",
            "source": {
                "profile": profile.id,
                "connection": {"host": "127.0.0.1", "port": 1},
                "unit": document.get("unit", 1),
                "timeout_s": 2,
                "retries": 0,
                "registers": document.get("registers") or [],
            },
        }
    )
    expected, tolerance, info = _expected(folder / "expected.yaml")
    return ModbusCase(
        name=name,
        description=str(document.get("description", "")),
        config=config,
        profile=profile.with_overrides(config.modbus.registers),
        words=_words(folder / "registers.yaml"),
        expected=expected,
        tolerance=tolerance,
        info=info,
    )


@contextlib.asynccontextmanager
async def serving(case: ModbusCase, port: int) -> AsyncIterator[None]:
    """A real pymodbus TCP server with the case's words in separate holding and input blocks."""
    size = case.table_size

    def bits() -> list[SimData]:
        return [SimData(0, count=16, values=False, datatype=SimType.BITS)]

    def registers() -> list[SimData]:
        return [SimData(0, count=size, values=0, datatype=SimType.REGISTERS)]

    device = SimDevice(id=case.unit, simdata=(bits(), bits(), registers(), registers()))
    server = ModbusTcpServer([device], framer=FramerType.SOCKET, address=("127.0.0.1", port))
    await server.serve_forever(background=True)
    try:
        for (table, address), word in case.words.items():
            await server.async_setValues(case.unit, FUNCTION_CODE[table], address, [word])
        yield
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]


def assert_readings(case: ModbusCase, readings: list[Reading]) -> None:
    got = {r.param: r for r in readings}
    assert len(got) == len(readings), f"{case.name}: a parameter read twice"
    assert sorted(got) == sorted(case.expected), f"{case.name}: parameters"
    for param, want in case.expected.items():
        reading = got[param]
        where = f"{case.name}: {param}"
        assert reading.station == case.name, where
        assert reading.ts == NOW, where
        assert reading.unit == registry()[param].unit, where
        assert reading.status is want.status, f"{where}: status {reading.status.name}"
        if want.value is None:
            assert math.isnan(reading.value), f"{where}: {reading.value} is not NaN"
        else:
            assert reading.value == pytest.approx(want.value, rel=1e-9, abs=case.tolerance), where


def _comparable(readings: list[Reading]) -> list[tuple[str, str, str, float | None]]:
    return [
        (r.param, r.unit, r.status.name, None if math.isnan(r.value) else r.value) for r in readings
    ]


def test_the_cases_folder_covers_every_shipped_profile() -> None:
    assert len(CASES) >= 12
    named = {load_case(name).config.modbus.profile for name in CASES}
    assert {path.stem for path in SHIPPED} <= named


@pytest.mark.parametrize("name", CASES)
async def test_case_read_from_a_real_modbus_server(name: str) -> None:
    case = load_case(name)
    port = free_port()
    async with serving(case, port):
        hub = ModbusHub(TcpConnection(host="127.0.0.1", port=port))
        try:
            station = ModbusStation(case.station(port), case.profile, hub)
            readings = await station.read(NOW)
            info = await station.read_info()
        finally:
            await hub.close()
    assert_readings(case, readings)
    if case.info:
        assert info == case.info
    # What came over the wire is exactly what the pure decoder makes of the served words.
    pure = decode_station(name, case.profile, case.served_words(), NOW)
    assert _comparable(readings) == _comparable(pure)


@pytest.mark.parametrize("name", CASES)
def test_case_decodes_the_same_without_a_server(name: str) -> None:
    case = load_case(name)
    assert_readings(case, decode_station(name, case.profile, case.served_words(), NOW))


_INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


def _representable(spec: RegisterSpec) -> float:
    """A value in the middle of the register's limits that its type carries exactly."""
    low, high = spec.effective_limits()
    raw: float = ((low + high) / 2 - spec.offset) / spec.scale
    if spec.bits is not None:
        raw = min(max(round(raw), 0), (1 << spec.bits[1]) - 1)
    elif spec.type is DataType.FLOAT32:
        (raw,) = struct.unpack(">f", struct.pack(">f", raw))
    elif not spec.type.is_float:
        lowest, highest = _INTEGER_RANGES[spec.type]
        raw = min(max(round(raw), lowest), highest)
    assert raw not in spec.sentinels
    return raw * spec.scale + spec.offset


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_profile_round_trips_through_the_simulator(path: Path) -> None:
    profile = load_profile(path)
    values = {spec.param: _representable(spec) for spec in profile.registers}
    statuses = {DeviceStatus.MEASURING}
    if profile.status is not None:
        statuses |= {DeviceStatus[name.upper()] for name in profile.status.map.values()}
    for status in statuses:
        words = profile_registers(profile, values, status)
        readings = decode_station("round_trip", profile, words, NOW)
        assert {r.param: r.value for r in readings} == pytest.approx(values, rel=1e-6)
        assert {r.status for r in readings} == {status}
        assert all(r.unit == registry()[r.param].unit for r in readings)
