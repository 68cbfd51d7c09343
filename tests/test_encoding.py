"""Signed and fixed-point encodings round-trip inside their ranges and refuse everything outside."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.encoding import decode_fixed, decode_signed, encode_fixed, encode_signed, signed_range
from veil.errors import EncodingError
from veil.field import Field

FIELDS = [Field(), Field(65521)]


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(data=st.data())
def test_signed_integers_round_trip_at_every_width(field: Field, data: st.DataObject) -> None:
    """Every integer of ``bits`` bits, including both ends of the range, encodes and decodes exactly."""
    bits = data.draw(st.integers(1, field.bits - 1))
    low, high = signed_range(bits)
    values = data.draw(
        st.lists(st.one_of(st.sampled_from([low, high, 0, -1]), st.integers(low, high)))
    )
    encoded = encode_signed(field, values, bits=bits)
    assert encoded.dtype == np.uint64
    assert encoded.tolist() == [v % field.p for v in values]
    assert decode_signed(field, encoded, bits=bits).tolist() == values
    wide = encode_signed(field, np.array(values, dtype=np.int64), bits=bits)
    np.testing.assert_array_equal(wide, encoded)


@given(bits=st.integers(1, 60), above=st.booleans(), data=st.data())
def test_a_value_just_outside_the_range_is_refused_naming_position_and_value(
    bits: int, above: bool, data: st.DataObject
) -> None:
    """One step beyond either end raises EncodingError with the flat position and the value."""
    low, high = signed_range(bits)
    bad = high + 1 if above else low - 1
    values = [0] * data.draw(st.integers(0, 3)) + [bad, 0]
    position = len(values) - 2
    with pytest.raises(EncodingError, match=f"flat position {position} is {bad}, outside") as info:
        encode_signed(Field(), values, bits=bits)
    assert info.value.position == position
    assert info.value.code == "out-of-range"


def test_large_python_and_unsigned_integers_are_refused_not_wrapped() -> None:
    """Integers of any size and uint64 values beyond the range raise instead of reducing mod p."""
    field = Field()
    with pytest.raises(EncodingError, match=f"is {2**70}, outside"):
        encode_signed(field, [1, 2**70], bits=60)
    with pytest.raises(EncodingError, match="flat position 0 is 18446744073709551615"):
        encode_signed(field, np.array([2**64 - 1], dtype=np.uint64), bits=60)


def test_non_integers_are_refused_with_a_pointer_to_fixed_point() -> None:
    """Floats are not silently truncated: the error says to use encode_fixed."""
    with pytest.raises(EncodingError, match="encode_fixed"):
        encode_signed(Field(), [1.5], bits=8)
    with pytest.raises(EncodingError, match=r"flat position 1 is 2\.5 \(a float\)"):
        encode_signed(Field(), np.array([1, 2.5], dtype=object), bits=8)


@pytest.mark.parametrize("bits", [0, 61, 100])
def test_a_width_the_field_cannot_hold_is_refused(bits: int) -> None:
    """``bits`` must leave the signed range smaller than p (at most 60 for 2**61 - 1)."""
    with pytest.raises(EncodingError, match=r"bits must be an integer in \[1, 60\]"):
        encode_signed(Field(), [0], bits=bits)


def test_decoding_an_overflowed_result_is_refused() -> None:
    """A sum that left its range is reported at decoding instead of returned as a wrong number."""
    field = Field()
    total = field.add(*encode_signed(field, [[100], [100]], bits=8))
    with pytest.raises(EncodingError, match="decoded value at flat position 0 is 200"):
        decode_signed(field, total, bits=8)
    assert decode_signed(field, total, bits=9).tolist() == [200]


@given(
    data=st.data(),
    frac_bits=st.integers(0, 30),
    int_bits=st.integers(0, 28),
)
def test_fixed_point_round_trips_within_half_a_unit(
    data: st.DataObject, frac_bits: int, int_bits: int
) -> None:
    """Decoding an encoded real returns it to within ``2**-(frac_bits + 1)``."""
    bound = 2.0**int_bits
    xs = data.draw(
        st.lists(st.floats(-bound, bound, exclude_max=True, allow_nan=False), max_size=20)
    )
    field = Field()
    try:
        encoded = encode_fixed(field, xs, frac_bits=frac_bits, int_bits=int_bits)
    except EncodingError:
        # Only values that round up onto the upper end may be refused.
        assert any(round(x * 2**frac_bits) >= 2 ** (int_bits + frac_bits) for x in xs)
        return
    decoded = decode_fixed(field, encoded, frac_bits=frac_bits, int_bits=int_bits)
    assert all(
        abs(d - x) <= 2.0 ** -(frac_bits + 1) for d, x in zip(decoded.tolist(), xs, strict=True)
    )


def test_fixed_point_products_need_double_the_fractional_bits() -> None:
    """The product of two encodings decodes with ``2 * frac_bits`` fractional bits (documented headroom)."""
    field = Field()
    a = encode_fixed(field, [1.5, -2.25], frac_bits=16, int_bits=8)
    b = encode_fixed(field, [2.0, 4.0], frac_bits=16, int_bits=8)
    product = decode_fixed(field, field.mul(a, b), frac_bits=32, int_bits=16)
    assert product.tolist() == [3.0, -9.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fixed_point_refuses_non_finite_values(bad: float) -> None:
    """NaN and infinities are refused naming their position."""
    with pytest.raises(EncodingError, match=r"flat position 2 is .*, not a finite real"):
        encode_fixed(Field(), [0.0, 1.0, bad], frac_bits=8, int_bits=8)


def test_fixed_point_refuses_values_beyond_the_integer_bits() -> None:
    """A real at or beyond ``2**int_bits`` is refused, stating the range."""
    with pytest.raises(
        EncodingError, match=r"is 256\.0, outside the fixed-point range \[-256, 256\)"
    ):
        encode_fixed(Field(), [1.0, 256.0], frac_bits=8, int_bits=8)
    assert decode_fixed(
        Field(), encode_fixed(Field(), [-256.0], frac_bits=8, int_bits=8), frac_bits=8, int_bits=8
    ).tolist() == [-256.0]


def test_fixed_point_widths_must_fit_the_field() -> None:
    """``int_bits + frac_bits + 1`` above the field's capacity is refused with the numbers."""
    with pytest.raises(
        EncodingError, match="int_bits \\+ frac_bits \\+ 1 = 61 exceeds the 60 bits"
    ):
        encode_fixed(Field(), [0.0], frac_bits=40, int_bits=20)
    with pytest.raises(EncodingError, match="frac_bits must be a non-negative integer"):
        encode_fixed(Field(), [0.0], frac_bits=-1, int_bits=20)
