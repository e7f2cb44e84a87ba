"""Register words → value tables for gateway.registers (decode, encode, scale_value).

Every expected word below was worked out by hand from the IEEE 754 / two's-complement bit
pattern of the value, not produced by the code under test.
"""

from __future__ import annotations

import math

import numpy
import pytest

from gateway.registers import DataType, DecodeError, Order, decode, encode, scale_value

B, L = Order.BIG, Order.LITTLE
NAN = float("nan")
INF = float("inf")

# (dtype, byte_order, word_order, words as the device serves them, value)
# One value per type spelled out in all four orders.
HAND_TABLE: list[tuple[DataType, Order, Order, list[int], float]] = [
    # int16 1234 = 0x04D2; word_order is irrelevant for a single register.
    (DataType.INT16, B, B, [0x04D2], 1234),
    (DataType.INT16, B, L, [0x04D2], 1234),
    (DataType.INT16, L, B, [0xD204], 1234),
    (DataType.INT16, L, L, [0xD204], 1234),
    # int16 -2 = 0xFFFE
    (DataType.INT16, B, B, [0xFFFE], -2),
    (DataType.INT16, L, B, [0xFEFF], -2),
    # uint16 0x8000: the same word is -32768 as int16
    (DataType.UINT16, B, B, [0x8000], 32768),
    (DataType.UINT16, L, L, [0x0080], 32768),
    # int32 123456789 = 0x075BCD15
    (DataType.INT32, B, B, [0x075B, 0xCD15], 123456789),
    (DataType.INT32, B, L, [0xCD15, 0x075B], 123456789),
    (DataType.INT32, L, B, [0x5B07, 0x15CD], 123456789),
    (DataType.INT32, L, L, [0x15CD, 0x5B07], 123456789),
    # int32 -123456789 = 0xF8A432EB
    (DataType.INT32, B, B, [0xF8A4, 0x32EB], -123456789),
    (DataType.INT32, B, L, [0x32EB, 0xF8A4], -123456789),
    (DataType.INT32, L, B, [0xA4F8, 0xEB32], -123456789),
    (DataType.INT32, L, L, [0xEB32, 0xA4F8], -123456789),
    # uint32 0x12345678 = 305419896
    (DataType.UINT32, B, B, [0x1234, 0x5678], 305419896),
    (DataType.UINT32, B, L, [0x5678, 0x1234], 305419896),
    (DataType.UINT32, L, B, [0x3412, 0x7856], 305419896),
    (DataType.UINT32, L, L, [0x7856, 0x3412], 305419896),
    # int64 0x0001020304050607 = 283686952306183 (below 2**53, so exact as a float)
    (DataType.INT64, B, B, [0x0001, 0x0203, 0x0405, 0x0607], 283686952306183),
    (DataType.INT64, B, L, [0x0607, 0x0405, 0x0203, 0x0001], 283686952306183),
    (DataType.INT64, L, B, [0x0100, 0x0302, 0x0504, 0x0706], 283686952306183),
    (DataType.INT64, L, L, [0x0706, 0x0504, 0x0302, 0x0100], 283686952306183),
    # uint64 0x0000_0001_0000_0000 = 2**32
    (DataType.UINT64, B, B, [0x0000, 0x0001, 0x0000, 0x0000], 2**32),
    (DataType.UINT64, B, L, [0x0000, 0x0000, 0x0001, 0x0000], 2**32),
    (DataType.UINT64, L, B, [0x0000, 0x0100, 0x0000, 0x0000], 2**32),
    (DataType.UINT64, L, L, [0x0000, 0x0000, 0x0100, 0x0000], 2**32),
    # float32 1.5 = 0x3FC00000
    (DataType.FLOAT32, B, B, [0x3FC0, 0x0000], 1.5),
    (DataType.FLOAT32, B, L, [0x0000, 0x3FC0], 1.5),
    (DataType.FLOAT32, L, B, [0xC03F, 0x0000], 1.5),
    (DataType.FLOAT32, L, L, [0x0000, 0xC03F], 1.5),
    # float32 -9999.0 = 0xC61C3C00 (the air logger's sentinel)
    (DataType.FLOAT32, B, B, [0xC61C, 0x3C00], -9999.0),
    (DataType.FLOAT32, B, L, [0x3C00, 0xC61C], -9999.0),
    (DataType.FLOAT32, L, B, [0x1CC6, 0x003C], -9999.0),
    (DataType.FLOAT32, L, L, [0x003C, 0x1CC6], -9999.0),
    # float64 0.1 = 0x3FB999999999999A
    (DataType.FLOAT64, B, B, [0x3FB9, 0x9999, 0x9999, 0x999A], 0.1),
    (DataType.FLOAT64, B, L, [0x999A, 0x9999, 0x9999, 0x3FB9], 0.1),
    (DataType.FLOAT64, L, B, [0xB93F, 0x9999, 0x9999, 0x9A99], 0.1),
    (DataType.FLOAT64, L, L, [0x9A99, 0x9999, 0x9999, 0xB93F], 0.1),
]

# (dtype, words in big/big order, value): extremes, signs and zero of every type.
BIG_BIG_TABLE: list[tuple[DataType, list[int], float]] = [
    (DataType.INT16, [0x0000], 0),
    (DataType.INT16, [0x0001], 1),
    (DataType.INT16, [0xFFFF], -1),
    (DataType.INT16, [0x7FFF], 32767),
    (DataType.INT16, [0x8000], -32768),
    (DataType.UINT16, [0x0000], 0),
    (DataType.UINT16, [0x04D2], 1234),
    (DataType.UINT16, [0xFFFF], 65535),
    (DataType.INT32, [0x0000, 0x0000], 0),
    (DataType.INT32, [0xFFFF, 0xFFFF], -1),
    (DataType.INT32, [0x0001, 0x0000], 65536),
    (DataType.INT32, [0x7FFF, 0xFFFF], 2147483647),
    (DataType.INT32, [0x8000, 0x0000], -2147483648),
    (DataType.UINT32, [0x0000, 0x0000], 0),
    (DataType.UINT32, [0x0001, 0x0000], 65536),
    (DataType.UINT32, [0xFFFF, 0xFFFF], 4294967295),
    (DataType.INT64, [0x0000, 0x0000, 0x0000, 0x0000], 0),
    (DataType.INT64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], -1),
    (DataType.INT64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], -2),
    # 64-bit extremes come back as the nearest float (2**63), as decode returns a float.
    (DataType.INT64, [0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF], 2**63 - 1),
    (DataType.INT64, [0x8000, 0x0000, 0x0000, 0x0000], -(2**63)),
    (DataType.INT64, [0x0020, 0x0000, 0x0000, 0x0000], 2**53),
    (DataType.UINT64, [0x0000, 0x0000, 0x0000, 0x0001], 1),
    (DataType.UINT64, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], 2**64 - 1),
    (DataType.UINT64, [0x8000, 0x0000, 0x0000, 0x0000], 2**63),
    (DataType.FLOAT32, [0x0000, 0x0000], 0.0),
    (DataType.FLOAT32, [0x3F80, 0x0000], 1.0),
    (DataType.FLOAT32, [0xC000, 0x0000], -2.0),
    (DataType.FLOAT32, [0x4146, 0x0000], 12.375),
    (DataType.FLOAT32, [0x7F7F, 0xFFFF], 3.4028234663852886e38),
    (DataType.FLOAT32, [0x7F80, 0x0000], INF),
    (DataType.FLOAT32, [0xFF80, 0x0000], -INF),
    (DataType.FLOAT64, [0x0000, 0x0000, 0x0000, 0x0000], 0.0),
    (DataType.FLOAT64, [0x3FF8, 0x0000, 0x0000, 0x0000], 1.5),
    (DataType.FLOAT64, [0xC004, 0x0000, 0x0000, 0x0000], -2.5),
    (DataType.FLOAT64, [0x4059, 0x0000, 0x0000, 0x0000], 100.0),
    (DataType.FLOAT64, [0x7FF0, 0x0000, 0x0000, 0x0000], INF),
]

ORDERS = [(B, B), (B, L), (L, B), (L, L)]


def _reorder(big_big: list[int], byte_order: Order, word_order: Order) -> list[int]:
    """What a device with these orders serves, given the big/big words (test's own helper)."""
    words = [((w & 0xFF) << 8) | (w >> 8) for w in big_big] if byte_order is L else big_big
    return list(reversed(words)) if word_order is L else list(words)


def _all_orders_table() -> list[object]:
    rows: list[object] = []
    for dtype, words, value in BIG_BIG_TABLE:
        for byte_order, word_order in ORDERS:
            rows.append(
                pytest.param(
                    dtype,
                    byte_order,
                    word_order,
                    _reorder(words, byte_order, word_order),
                    value,
                    id=f"{dtype}-{value}-byte_{byte_order}-word_{word_order}",
                )
            )
    return rows


def _hand_id(row: tuple[DataType, Order, Order, list[int], float]) -> str:
    dtype, byte_order, word_order, words, value = row
    hex_words = ",".join(f"{w:04X}" for w in words)
    return f"{dtype}-{value}-byte_{byte_order}-word_{word_order}-[{hex_words}]"


def test_reorder_helper_matches_the_documented_float32_example() -> None:
    # The helper itself must agree with the hand-written example before it builds tables.
    assert _reorder([0x3FC0, 0x0000], B, B) == [0x3FC0, 0x0000]
    assert _reorder([0x3FC0, 0x0000], B, L) == [0x0000, 0x3FC0]
    assert _reorder([0x3FC0, 0x0000], L, B) == [0xC03F, 0x0000]
    assert _reorder([0x3FC0, 0x0000], L, L) == [0x0000, 0xC03F]


@pytest.mark.parametrize(
    ("dtype", "byte_order", "word_order", "words", "expected"),
    [pytest.param(*row, id=_hand_id(row)) for row in HAND_TABLE],
)
def test_decode_hand_table(
    dtype: DataType, byte_order: Order, word_order: Order, words: list[int], expected: float
) -> None:
    value = decode(words, dtype, byte_order, word_order)
    assert isinstance(value, float)
    assert value == expected


@pytest.mark.parametrize(
    ("dtype", "byte_order", "word_order", "words", "value"),
    [pytest.param(*row, id=_hand_id(row)) for row in HAND_TABLE],
)
def test_encode_hand_table(
    dtype: DataType, byte_order: Order, word_order: Order, words: list[int], value: float
) -> None:
    assert encode(value, dtype, byte_order, word_order) == words


@pytest.mark.parametrize(
    ("dtype", "byte_order", "word_order", "words", "expected"), _all_orders_table()
)
def test_decode_every_type_in_every_order(
    dtype: DataType, byte_order: Order, word_order: Order, words: list[int], expected: float
) -> None:
    value = decode(words, dtype, byte_order, word_order)
    if dtype is DataType.FLOAT32:
        # float32 comes back as its shortest decimal: the same float32, not the same float64.
        assert numpy.float32(value) == numpy.float32(expected)
        assert len(repr(value)) <= len(repr(float(expected)))
    else:
        assert value == float(expected)


def test_float32_comes_back_as_the_decimal_the_device_meant() -> None:
    assert decode(encode(7.43, DataType.FLOAT32), DataType.FLOAT32) == 7.43
    assert decode(encode(-0.1, DataType.FLOAT32), DataType.FLOAT32) == -0.1
    assert (
        decode(
            encode(45.7, DataType.FLOAT32, Order.BIG, Order.LITTLE),
            DataType.FLOAT32,
            Order.BIG,
            Order.LITTLE,
        )
        == 45.7
    )


def test_decode_defaults_to_big_endian_high_word_first() -> None:
    assert decode([0x3FC0, 0x0000], DataType.FLOAT32) == 1.5
    assert decode([0x0000, 0x3FC0], DataType.FLOAT32) != 1.5


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        pytest.param(DataType.FLOAT32, [0x7FC0, 0x0000], id="float32-quiet-nan"),
        pytest.param(DataType.FLOAT32, [0xFFC0, 0x0000], id="float32-negative-nan"),
        pytest.param(DataType.FLOAT32, [0x7F80, 0x0001], id="float32-signalling-nan"),
        pytest.param(DataType.FLOAT64, [0x7FF8, 0x0000, 0x0000, 0x0000], id="float64-nan"),
    ],
)
def test_decode_nan_patterns(dtype: DataType, words: list[int]) -> None:
    assert math.isnan(decode(words, dtype))


# Values that survive the float API exactly (64-bit integers up to 2**53).
ROUND_TRIP_VALUES: list[tuple[DataType, float]] = [
    (DataType.INT16, 0),
    (DataType.INT16, -1),
    (DataType.INT16, 32767),
    (DataType.INT16, -32768),
    (DataType.UINT16, 0),
    (DataType.UINT16, 65535),
    (DataType.INT32, -2147483648),
    (DataType.INT32, 2147483647),
    (DataType.INT32, -123456789),
    (DataType.UINT32, 4294967295),
    (DataType.UINT32, 305419896),
    (DataType.INT64, -(2**53)),
    (DataType.INT64, 2**53),
    (DataType.INT64, -1),
    (DataType.UINT64, 2**53),
    (DataType.UINT64, 0),
    (DataType.FLOAT32, 1.5),
    (DataType.FLOAT32, -9999.0),
    (DataType.FLOAT32, 12.375),
    (DataType.FLOAT32, 3.4028234663852886e38),
    (DataType.FLOAT32, -INF),
    (DataType.FLOAT64, 0.1),
    (DataType.FLOAT64, -1234.5678),
    (DataType.FLOAT64, 1e308),
    (DataType.FLOAT64, 5e-324),
]


@pytest.mark.parametrize(
    ("dtype", "value", "byte_order", "word_order"),
    [
        pytest.param(dtype, value, bo, wo, id=f"{dtype}-{value}-byte_{bo}-word_{wo}")
        for dtype, value in ROUND_TRIP_VALUES
        for bo, wo in ORDERS
    ],
)
def test_encode_decode_round_trip(
    dtype: DataType, value: float, byte_order: Order, word_order: Order
) -> None:
    words = encode(value, dtype, byte_order, word_order)
    assert len(words) == dtype.register_count
    assert all(0 <= w <= 0xFFFF for w in words)
    back = decode(words, dtype, byte_order, word_order)
    if dtype is DataType.FLOAT32:
        assert numpy.float32(back) == numpy.float32(value)
    else:
        assert back == value


@pytest.mark.parametrize(
    ("byte_order", "word_order"), [pytest.param(bo, wo, id=f"{bo}-{wo}") for bo, wo in ORDERS]
)
@pytest.mark.parametrize("dtype", [DataType.FLOAT32, DataType.FLOAT64])
def test_nan_round_trips(dtype: DataType, byte_order: Order, word_order: Order) -> None:
    assert math.isnan(
        decode(encode(NAN, dtype, byte_order, word_order), dtype, byte_order, word_order)
    )


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        pytest.param(DataType.INT16, 1.4, [0x0001], id="int16-1.4-rounds-down"),
        pytest.param(DataType.INT16, 1.6, [0x0002], id="int16-1.6-rounds-up"),
        pytest.param(DataType.INT16, -1.6, [0xFFFE], id="int16--1.6-rounds-to--2"),
        pytest.param(DataType.UINT16, 2.5, [0x0002], id="uint16-2.5-half-to-even"),
        pytest.param(DataType.UINT16, 3.5, [0x0004], id="uint16-3.5-half-to-even"),
        pytest.param(DataType.INT32, 65535.7, [0x0001, 0x0000], id="int32-65535.7-carries"),
        pytest.param(DataType.FLOAT32, 0.1, [0x3DCC, 0xCCCD], id="float32-0.1-nearest"),
    ],
)
def test_encode_rounds_to_the_type(dtype: DataType, value: float, expected: list[int]) -> None:
    assert encode(value, dtype) == expected


@pytest.mark.parametrize(
    ("dtype", "count", "is_float"),
    [
        ("int16", 1, False),
        ("uint16", 1, False),
        ("int32", 2, False),
        ("uint32", 2, False),
        ("int64", 4, False),
        ("uint64", 4, False),
        ("float32", 2, True),
        ("float64", 4, True),
    ],
)
def test_data_type_properties(dtype: str, count: int, is_float: bool) -> None:
    assert DataType(dtype).register_count == count
    assert DataType(dtype).is_float is is_float


@pytest.mark.parametrize(
    ("dtype", "words", "message"),
    [
        pytest.param(DataType.INT16, [], "int16 needs 1 registers, got 0", id="int16-none"),
        pytest.param(DataType.INT16, [1, 2], "int16 needs 1 registers, got 2", id="int16-two"),
        pytest.param(DataType.UINT32, [1], "uint32 needs 2 registers, got 1", id="uint32-one"),
        pytest.param(DataType.FLOAT32, [1, 2, 3], "float32 needs 2 registers, got 3", id="f32-3"),
        pytest.param(DataType.FLOAT64, [0, 0], "float64 needs 4 registers, got 2", id="f64-two"),
        pytest.param(DataType.INT64, [0] * 5, "int64 needs 4 registers, got 5", id="int64-five"),
        pytest.param(DataType.UINT16, [0x10000], "65536 is not a 16-bit word", id="word-0x10000"),
        pytest.param(DataType.INT16, [-1], "-1 is not a 16-bit word", id="negative-word"),
        pytest.param(
            DataType.FLOAT32, [0x3FC0, 0x1FFFF], "131071 is not a 16-bit word", id="second-word"
        ),
    ],
)
def test_decode_rejects(dtype: DataType, words: list[int], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(words, dtype)


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_decode_rejects_oversized_word_in_every_order(byte_order: Order, word_order: Order) -> None:
    with pytest.raises(DecodeError, match="not a 16-bit word"):
        decode([0x0000, 0x10000], DataType.UINT32, byte_order, word_order)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        pytest.param(DataType.INT16, 32768, id="int16-max+1"),
        pytest.param(DataType.INT16, -32769, id="int16-min-1"),
        pytest.param(DataType.UINT16, 65536, id="uint16-max+1"),
        pytest.param(DataType.UINT16, -1, id="uint16-negative"),
        pytest.param(DataType.UINT16, -0.6, id="uint16-rounds-to--1"),
        pytest.param(DataType.INT32, 2**31, id="int32-max+1"),
        pytest.param(DataType.INT32, -(2**31) - 1, id="int32-min-1"),
        pytest.param(DataType.UINT32, 2**32, id="uint32-max+1"),
        pytest.param(DataType.UINT32, -1, id="uint32-negative"),
        pytest.param(DataType.INT64, 2**63, id="int64-max+1"),
        pytest.param(DataType.INT64, float(2**63 - 1), id="int64-max-as-float-is-2**63"),
        pytest.param(DataType.UINT64, 2**64, id="uint64-max+1"),
        pytest.param(DataType.UINT64, -1, id="uint64-negative"),
        # Source bug: these raise ValueError / OverflowError, not DecodeError (see report).
        pytest.param(DataType.INT16, NAN, id="int16-nan"),
        pytest.param(DataType.INT32, INF, id="int32-inf"),
        pytest.param(DataType.FLOAT32, 1e39, id="float32-too-large"),
    ],
)
def test_encode_rejects_values_that_do_not_fit(dtype: DataType, value: float) -> None:
    with pytest.raises(DecodeError, match=f"does not fit in {dtype}"):
        encode(value, dtype)


@pytest.mark.parametrize(
    ("raw", "scale", "offset", "expected"),
    [
        pytest.param(1234.0, 0.001, 0.0, 1.234, id="mm-to-m"),
        pytest.param(-250.0, 0.001, 0.0, -0.25, id="below-datum"),
        pytest.param(100.0, 0.1, -40.0, -30.0, id="scale-and-offset"),
        pytest.param(0.0, 2.0, 5.0, 5.0, id="zero-raw-gives-offset"),
        pytest.param(7.0, 1.0, 0.0, 7.0, id="identity"),
        pytest.param(INF, 2.0, 1.0, INF, id="inf-stays-inf"),
    ],
)
def test_scale_value(raw: float, scale: float, offset: float, expected: float) -> None:
    assert scale_value(raw, scale, offset) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scale", "offset"),
    [(1.0, 0.0), (0.001, 0.0), (0.1, -40.0), (0.0, 0.0), (-1.0, 10.0)],
)
def test_scale_value_keeps_nan(scale: float, offset: float) -> None:
    assert math.isnan(scale_value(NAN, scale, offset))
