"""Register words ↔ numbers: the one pure decoding function (and its inverse for simulators).

Devices disagree on two things: the order of the two bytes inside a 16-bit register
(``byte_order``) and the order of the registers that make up a 32/64-bit value
(``word_order``). Many water sondes send float32 low word first (word_order "little") while
keeping each register big-endian; that is the commonest "wrong order" bug in gateways.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from enum import StrEnum


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BITFIELD = "bitfield"  # some bits of one register (a flag, a 4-bit code)

    @property
    def register_count(self) -> int:
        return _FORMATS[self][1]

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)


class Order(StrEnum):
    BIG = "big"
    LITTLE = "little"


_FORMATS: dict[DataType, tuple[str, int]] = {
    DataType.INT16: ("h", 1),
    DataType.UINT16: ("H", 1),
    DataType.INT32: ("i", 2),
    DataType.UINT32: ("I", 2),
    DataType.INT64: ("q", 4),
    DataType.UINT64: ("Q", 4),
    DataType.FLOAT32: ("f", 2),
    DataType.FLOAT64: ("d", 4),
    DataType.BITFIELD: ("H", 1),
}


class DecodeError(ValueError):
    pass


def _to_big_endian_bytes(words: Sequence[int], byte_order: Order, word_order: Order) -> bytes:
    ordered = words if word_order is Order.BIG else words[::-1]
    try:
        # "<H" writes each word low byte first: the swapped byte order, in one call.
        return struct.pack(f"{'>' if byte_order is Order.BIG else '<'}{len(ordered)}H", *ordered)
    except struct.error:
        bad = next(w for w in ordered if not (isinstance(w, int) and 0 <= w <= 0xFFFF))
        raise DecodeError(f"register value {bad} is not a 16-bit word") from None


def decode(
    words: Sequence[int],
    dtype: DataType,
    byte_order: Order = Order.BIG,
    word_order: Order = Order.BIG,
) -> float:
    """Decode the registers of one value. Integers come back as exact floats."""
    fmt, count = _FORMATS[dtype]
    if len(words) != count:
        raise DecodeError(f"{dtype} needs {count} registers, got {len(words)}")
    raw = _to_big_endian_bytes(words, byte_order, word_order)
    (value,) = struct.unpack(">" + fmt, raw)
    if dtype is DataType.FLOAT32 and math.isfinite(value):
        return _shortest_float32(value, raw)
    return float(value)


_SHORTEST: dict[bytes, float] = {}  # float32 bytes → their shortest decimal; sensors repeat


def _shortest_float32(value: float, raw: bytes) -> float:
    """A float32 widened to float64 shows its binary noise (7.43 → 7.4299998); the shortest
    decimal that packs to the same float32 is what the device meant. 9 digits always do."""
    known = _SHORTEST.get(raw)
    if known is not None:
        return known
    for digits in (6, 7, 8):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == raw:
            break
    else:
        candidate = float(f"{value:.9g}")
    if len(_SHORTEST) >= 65_536:  # bounded: a noisy sensor never repeats
        _SHORTEST.clear()
    _SHORTEST[raw] = candidate
    return candidate


def encode(
    value: float,
    dtype: DataType,
    byte_order: Order = Order.BIG,
    word_order: Order = Order.BIG,
) -> list[int]:
    """The registers a device would serve for ``value`` (used by the simulated stations)."""
    fmt, count = _FORMATS[dtype]
    try:
        number: float | int = value if dtype.is_float else round(value)
        raw = struct.pack(">" + fmt, number)
    except (struct.error, ValueError, OverflowError) as exc:
        # round(nan) is a ValueError, round(inf) and float32 overflow are OverflowErrors.
        raise DecodeError(f"{value} does not fit in {dtype}") from exc
    words = []
    for i in range(count):
        high, low = raw[2 * i], raw[2 * i + 1]
        words.append((high << 8 | low) if byte_order is Order.BIG else (low << 8 | high))
    return words if word_order is Order.BIG else list(reversed(words))


def decode_bits(word: int, offset: int, count: int) -> float:
    """Bits ``offset`` … ``offset + count - 1`` of a register (bit 0 is the least significant)."""
    if not 0 <= word <= 0xFFFF:
        raise DecodeError(f"register value {word} is not a 16-bit word")
    if not (0 <= offset <= 15 and 1 <= count <= 16 - offset):
        raise DecodeError(f"bits {offset}+{count} do not fit in a 16-bit register")
    return float((word >> offset) & ((1 << count) - 1))


def encode_bits(value: float, offset: int, count: int, word: int = 0) -> int:
    """``word`` with bits ``offset`` … set to ``value`` (inverse of :func:`decode_bits`)."""
    mask = ((1 << count) - 1) << offset
    number = round(value)
    if not 0 <= number < (1 << count):
        raise DecodeError(f"{value} does not fit in {count} bit(s)")
    return (word & ~mask & 0xFFFF) | (number << offset)


def decode_string(words: Sequence[int], byte_order: Order = Order.BIG) -> str:
    """ASCII text packed two characters a register (model names, serial numbers).

    Trailing NULs and spaces are padding; bytes outside printable ASCII become "?".
    """
    raw = _to_big_endian_bytes(words, byte_order, Order.BIG)
    text = raw.rstrip(b"\x00 ").decode("ascii", errors="replace")
    return "".join(c if c.isprintable() and c != "\ufffd" else "?" for c in text)


def encode_string(text: str, count: int, byte_order: Order = Order.BIG) -> list[int]:
    raw = text.encode("ascii")[: 2 * count].ljust(2 * count, b"\x00")
    words = []
    for i in range(count):
        high, low = raw[2 * i], raw[2 * i + 1]
        words.append((high << 8 | low) if byte_order is Order.BIG else (low << 8 | high))
    return words


def scale_value(raw: float, scale: float, offset: float) -> float:
    """Engineering value = raw · scale + offset; NaN stays NaN."""
    if math.isnan(raw):
        return raw
    return raw * scale + offset
