"""Technician tools: show unknown registers every way, scan a line, probe a station.

The decoding here is pure and reuses :mod:`gateway.registers`; only :func:`scan_units` talks to
a device, through a hub, and only ever reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.modbus.hub import ModbusHub, ModbusReadError
from gateway.profiles import DeviceProfile, RegisterTable
from gateway.registers import DataType, DecodeError, Order, decode, decode_bits

# The four ways devices lay out a 32-bit value, named by byte position as manuals do:
# ABCD big-endian; CDAB low word first (most water sondes); BADC bytes swapped; DCBA both.
LAYOUTS: dict[str, tuple[Order, Order]] = {
    "ABCD": (Order.BIG, Order.BIG),
    "CDAB": (Order.BIG, Order.LITTLE),
    "BADC": (Order.LITTLE, Order.BIG),
    "DCBA": (Order.LITTLE, Order.LITTLE),
}


@dataclass(frozen=True, slots=True)
class RegisterView:
    """One register and the 32-bit values that would start at it, in every layout."""

    address: int
    word: int
    uint16: int
    int16: int
    float32: Mapping[str, float | None]
    int32: Mapping[str, int | None]
    uint32: Mapping[str, int | None]


def _format_float(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def register_views(start: int, words: Sequence[int]) -> list[RegisterView]:
    """Every register from ``start`` decoded as every type and order, side by side."""
    views = []
    for index, word in enumerate(words):
        pair = list(words[index : index + 2])
        floats: dict[str, float | None] = {}
        signed: dict[str, int | None] = {}
        unsigned: dict[str, int | None] = {}
        for name, (byte_order, word_order) in LAYOUTS.items():
            if len(pair) < 2:
                floats[name] = signed[name] = unsigned[name] = None
                continue
            floats[name] = _format_float(decode(pair, DataType.FLOAT32, byte_order, word_order))
            signed[name] = int(decode(pair, DataType.INT32, byte_order, word_order))
            unsigned[name] = int(decode(pair, DataType.UINT32, byte_order, word_order))
        views.append(
            RegisterView(
                address=start + index,
                word=word,
                uint16=word,
                int16=int(decode([word], DataType.INT16)),
                float32=floats,
                int32=signed,
                uint32=unsigned,
            )
        )
    return views


@dataclass(frozen=True, slots=True)
class ProbeRow:
    param: str
    register: str  # "holding 0 int16 ABCD"
    raw_words: tuple[int, ...]
    raw: float | None
    value: float | None
    unit: str
    limits: tuple[float, float]
    verdict: str  # ok | out of limits | no value (sentinel) | undecodable


def probe_rows(
    profile: DeviceProfile, words: Mapping[tuple[RegisterTable, int], int]
) -> list[ProbeRow]:
    """What a technician checks on a new station: each register, raw and decoded, judged."""
    rows = []
    for spec in profile.registers:
        raw_words = tuple(words[(spec.table, spec.address + i)] for i in range(spec.count))
        byte_order, word_order = profile.orders(spec)
        layout = next(k for k, v in LAYOUTS.items() if v == (byte_order, word_order))
        where = f"{spec.table} {spec.address} {spec.type} {layout}"
        if spec.bits is not None:
            where += f" bits {spec.bits[0]}+{spec.bits[1]}"
        low, high = spec.effective_limits()
        try:
            raw = decode(list(raw_words), spec.type, byte_order, word_order)
            if spec.bits is not None:
                raw = decode_bits(int(raw), *spec.bits)
        except DecodeError as exc:
            rows.append(
                ProbeRow(
                    spec.param,
                    where,
                    raw_words,
                    None,
                    None,
                    spec.unit,
                    (low, high),
                    f"undecodable: {exc}",
                )
            )
            continue
        if raw in spec.sentinels or math.isnan(raw):
            rows.append(
                ProbeRow(
                    spec.param,
                    where,
                    raw_words,
                    raw,
                    None,
                    spec.unit,
                    (low, high),
                    "no value (sentinel)",
                )
            )
            continue
        value = raw * spec.scale + spec.offset
        verdict = "ok" if low <= value <= high else "out of limits"
        rows.append(
            ProbeRow(spec.param, where, raw_words, raw, value, spec.unit, (low, high), verdict)
        )
    return rows


@dataclass(frozen=True, slots=True)
class ScanResult:
    unit: int
    answer: str  # "registers [..]" or "exception 2 (illegal data address)"


async def scan_units(
    hub: ModbusHub,
    units: Sequence[int],
    *,
    table: RegisterTable = "holding",
    address: int = 0,
    timeout_s: float = 0.5,
    progress: Callable[[int], None] | None = None,
) -> list[ScanResult]:
    """Which unit ids answer on a line. An exception response is an answer too: a device is
    there, it only does not have that register."""
    found = []
    for unit in units:
        try:
            words = await hub.read(unit, table, address, 1, timeout_s=timeout_s, retries=0)
        except ModbusReadError as exc:
            text = str(exc)
            if ": exception " in text and "gateway" not in text:
                found.append(ScanResult(unit, text.split(": ", 1)[1]))
        else:
            found.append(ScanResult(unit, f"{table} {address} = {words[0]} (0x{words[0]:04X})"))
        if progress is not None:
            progress(unit)
    return found
