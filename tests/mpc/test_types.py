"""Secure types: cached factories, range checks at input and at opening, promotion rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from secure_helpers import run_typed

from veil.errors import ConfigError, EncodingError, PartyFailed
from veil.mpc import Runtime, SecFxp, SecInt, run_local, secbool


def test_factories_return_one_cached_object_per_parameter_set() -> None:
    """SecInt(32) is SecInt(32), and types print like the factory call that made them."""
    assert SecInt(32) is SecInt(32)
    assert SecFxp(16, 16) is SecFxp()
    assert repr(SecInt(8)) == "SecInt(8)"
    assert repr(SecFxp(8, 4)) == "SecFxp(frac_bits=8, int_bits=4)"
    assert SecInt(16) != SecInt(32)


@pytest.mark.parametrize("bits", [1, 63, "32", True])
def test_secint_refuses_impossible_widths(bits: object) -> None:
    """A width outside [2, 62] is a ConfigError naming the parameter."""
    with pytest.raises(ConfigError, match="SecInt bits"):
        SecInt(bits)  # type: ignore[arg-type]


def test_secfxp_refuses_negative_and_too_wide_formats() -> None:
    """Negative widths and formats beyond the field are refused up front."""
    with pytest.raises(ConfigError, match="frac_bits"):
        SecFxp(-1, 4)
    with pytest.raises(ConfigError, match="62 bits"):
        SecFxp(40, 30)


def test_an_out_of_range_input_names_its_position_and_is_never_wrapped() -> None:
    """Party 0 shares 2**31 as SecInt(32): EncodingError at position 2, nothing is shared."""

    async def program(rt: Runtime) -> None:
        values = [1, -5, 2**31, 7] if rt.party_id == 0 else None
        await rt.input(values, sender=0, dtype=SecInt(32))

    with pytest.raises(PartyFailed) as caught:
        run_local(program, 3)
    cause = caught.value.__cause__
    assert isinstance(cause, EncodingError)
    assert "flat position 2" in str(cause)
    assert "2147483648" in str(cause)
    assert caught.value.party == 0


def test_fixed_point_inputs_are_range_checked_too() -> None:
    """A real beyond 2**int_bits is refused with its position."""

    async def program(rt: Runtime) -> None:
        await rt.input([0.5, 1e6] if rt.party_id == 0 else None, sender=0, dtype=SecFxp(16, 16))

    with pytest.raises(PartyFailed) as caught:
        run_local(program, 3)
    assert "flat position 1" in str(caught.value.__cause__)


def test_opening_decodes_by_type() -> None:
    """SecInt opens as int64, SecFxp as float64, secbool as bool."""
    ints = run_typed(lambda a: a, np.array([-3, 4]), dtype=SecInt(8))
    assert ints.dtype == np.int64
    assert ints.tolist() == [-3, 4]
    reals = run_typed(lambda a: a, np.array([-0.5, 2.25]), dtype=SecFxp(8, 4))
    assert reals.dtype == np.float64
    assert reals.tolist() == [-0.5, 2.25]
    bools = run_typed(lambda a: a, np.array([True, False]), dtype=secbool)
    assert bools.tolist() == [True, False]


def test_an_overflow_inside_the_computation_is_reported_when_opened() -> None:
    """100 * 100 does not fit SecInt(8): opening raises EncodingError instead of returning junk."""
    with pytest.raises(PartyFailed) as caught:
        run_typed(lambda a, b: a * b, np.array([100]), np.array([100]), dtype=SecInt(8))
    assert isinstance(caught.value.__cause__, EncodingError)
    assert "left its range" in str(caught.value.__cause__)


def test_public_constants_outside_the_type_are_refused() -> None:
    """x + 1000 for SecInt(8) raises EncodingError, as numpy refuses int8 + 1000."""
    with pytest.raises(PartyFailed) as caught:
        run_typed(lambda a: a + 1000, np.array([1]), dtype=SecInt(8))
    assert isinstance(caught.value.__cause__, EncodingError)


def test_integers_and_reals_combine_into_fixed_point() -> None:
    """SecInt + SecFxp is SecFxp; int * fixed needs no truncation and is exact."""

    async def program(rt: Runtime) -> list[float]:
        i = await rt.input([3, -2] if rt.party_id == 0 else None, sender=0, dtype=SecInt(8))
        x = await rt.input([0.25, 1.5] if rt.party_id == 1 else None, sender=1, dtype=SecFxp(8, 8))
        total = i + x
        product = i * x
        assert total.dtype == SecFxp(8, 8)
        assert product.dtype == SecFxp(8, 8)
        return (await total.open()).tolist() + (await product.open()).tolist()

    assert run_local(program, 3)[0] == [3.25, -0.5, 0.75, -3.0]


def test_reals_do_not_mix_with_integer_types() -> None:
    """SecInt * 0.5 is a TypeError telling to use a fixed-point type."""

    async def program(rt: Runtime) -> str:
        i = await rt.input([3] if rt.party_id == 0 else None, sender=0, dtype=SecInt(8))
        try:
            _ = i + 0.5
        except TypeError as error:
            return str(error)
        return "accepted"

    assert "SecFxp" in run_local(program, 3)[0]


def test_raw_arrays_refuse_to_compare_and_say_how_to_type_them() -> None:
    """Raw field elements have no order: the error points to SecInt and astype."""

    async def program(rt: Runtime) -> str:
        a = await rt.input([1] if rt.party_id == 0 else None, sender=0)
        try:
            _ = a < 2
        except TypeError as error:
            return str(error)
        return "accepted"

    message = run_local(program, 3)[0]
    assert "dtype=SecInt(32)" in message
    assert "astype" in message


def test_astype_converts_between_types() -> None:
    """int -> fixed is a shift, fixed -> int floors, raw -> typed reinterprets."""

    def convert(a):  # type: ignore[no-untyped-def]
        return a.astype(SecInt(16)), a.astype(SecFxp(4, 10)), a.astype(None)

    floored, coarser, raw = run_typed(convert, np.array([2.75, -2.75, 0.0]), dtype=SecFxp(8, 10))
    assert floored.tolist() == [2, -3, 0]
    assert coarser.tolist() == [2.75, -2.75, 0.0]
    assert raw.tolist() == [704, -704, 0]


@settings(max_examples=15, deadline=None)
@given(
    x=hnp.arrays(
        np.int64,
        (5,),
        # |v| <= 2**14 keeps the sum of five products inside 32 bits (5 * 2**28 < 2**31)
        elements=st.sampled_from([0, -1, 1, -(2**14), 2**14 - 1])
        | st.integers(-(2**14), 2**14 - 1),
    ),
    y=hnp.arrays(
        np.int64,
        (5,),
        # |v| <= 2**14 keeps the sum of five products inside 32 bits (5 * 2**28 < 2**31)
        elements=st.sampled_from([0, -1, 1, -(2**14), 2**14 - 1])
        | st.integers(-(2**14), 2**14 - 1),
    ),
)
def test_secint_arithmetic_matches_numpy_at_the_edges(x: np.ndarray, y: np.ndarray) -> None:
    """+, -, *, unary -, sum and dot of SecInt(32) values whose results fit 32 bits."""

    def ops(a, b):  # type: ignore[no-untyped-def]
        return a + b, a - b, a * b, -a, (a * b).sum(), a @ b

    got = run_typed(ops, x, y, dtype=SecInt(32))
    expected = (x + y, x - y, x * y, -x, (x * y).sum(), x @ y)
    for actual, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(actual, want)
