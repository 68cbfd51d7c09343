"""Fixed-point arithmetic: truncation error bounds, division, reciprocal and square root."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from secure_helpers import run_typed

from veil.errors import ConfigError, PartyFailed
from veil.mpc import Runtime, SecFxp, SecInt, reciprocal, run_local, sqrt
from veil.mpc.protocols.fixedpoint import truncate

FXP = SecFxp(16, 16)
ULP = 2.0**-16


def quantized(x: np.ndarray) -> np.ndarray:
    """The values the type actually holds."""
    return np.rint(x / ULP) * ULP


reals = hnp.arrays(np.float64, (5,), elements=st.floats(-180.0, 180.0, allow_nan=False))


@settings(max_examples=15, deadline=None)
@given(x=reals, y=reals)
def test_products_are_rounded_to_nearest_within_half_a_unit(x: np.ndarray, y: np.ndarray) -> None:
    """|x * y - exact| <= 2**-17 for the encoded operands (round to nearest after truncation)."""
    got = run_typed(lambda a, b: a * b, x, y, dtype=FXP)
    exact = quantized(x) * quantized(y)
    assert np.max(np.abs(got - exact)) <= ULP / 2


def test_dot_products_truncate_once() -> None:
    """x @ y and x.vecdot(y) sum before a single truncation: error at most half a unit."""
    x = np.array([0.1, -2.5, 3.75, 100.0])
    y = np.array([-4.0, 0.3, 0.125, -0.01])
    dot, vec = run_typed(lambda a, b: (a @ b, a.vecdot(b)), x, y, dtype=FXP)
    exact = quantized(x) @ quantized(y)
    assert abs(float(dot) - exact) <= ULP / 2
    assert abs(float(vec) - exact) <= ULP / 2


def test_truncation_modes_floor_round_and_round_stochastically() -> None:
    """floor is exact floor division by 2**m, nearest rounds half up, stochastic is unbiased."""
    values = np.array([7, -7, 8, -8, 12, -12, 0, 2**40 + 3])
    repeats = 400

    async def program(rt: Runtime) -> list[np.ndarray]:
        x = await rt.input(
            np.tile(values, repeats) if rt.party_id == 0 else None, sender=0, dtype=SecInt(48)
        )
        raw = x.astype(None)
        results = []
        for rounding in ("floor", "nearest", "stochastic"):
            results.append(await (await truncate(raw, 3, 50, rounding=rounding)).open())
        return results

    floor, nearest, stochastic = run_local(program, 3)[0]
    np.testing.assert_array_equal(floor[: values.size], np.floor_divide(values, 8))
    np.testing.assert_array_equal(nearest[: values.size], np.floor((values + 4) / 8))
    rounded = stochastic.reshape(repeats, values.size)
    assert np.all((rounded == np.floor(values / 8)) | (rounded == np.floor(values / 8) + 1))
    # E[stochastic] = v / 8; a 6-sigma band of the mean of 400 Bernoulli draws
    assert np.all(np.abs(rounded.mean(axis=0) - values / 8) <= 6 * 0.5 / np.sqrt(repeats))


@settings(max_examples=10, deadline=None)
@given(
    x=reals,
    d=st.one_of(st.floats(0.05, 1e4), st.floats(-1e4, -0.05), st.integers(1, 5000)),
)
def test_division_by_a_public_value_is_within_one_unit(x: np.ndarray, d: float) -> None:
    """x / d for reals and integers d: error below 0.8 units in the last place."""
    expected = quantized(x) / d
    if np.max(np.abs(expected)) >= 2.0**16:
        return  # outside the type: not a valid question
    got = run_typed(lambda a: a / d, x, dtype=FXP)
    assert np.max(np.abs(got - expected)) <= 0.8 * ULP


def test_division_by_zero_is_refused_before_anything_runs() -> None:
    """x / 0 names the position of the zero divisor."""
    with pytest.raises(PartyFailed) as caught:
        run_typed(lambda a: a / np.array([1.0, 0.0]), np.array([1.0, 2.0]), dtype=FXP)
    assert isinstance(caught.value.__cause__, ConfigError)
    assert "flat position 1" in str(caught.value.__cause__)


@settings(max_examples=10, deadline=None)
@given(
    x=hnp.arrays(np.int64, (6,), elements=st.integers(-(2**31), 2**31 - 1)),
    d=st.sampled_from([1, 2, 3, 7, 10, 64, 1000, 65537, 2**31 - 1]),
)
def test_integer_floor_division_is_exact_like_python(x: np.ndarray, d: int) -> None:
    """x // d rounds toward minus infinity, exactly, for 32-bit x."""
    np.testing.assert_array_equal(run_typed(lambda a: a // d, x, dtype=SecInt(32)), x // d)


def test_floor_division_refuses_non_positive_divisors() -> None:
    """x // 0 and x // -3 are ConfigErrors telling to use / for reals."""
    for divisor in (0, -3):
        with pytest.raises(PartyFailed, match="positive integer"):
            run_typed(lambda a, d=divisor: a // d, np.array([5]), dtype=SecInt(8))


def test_mean_of_fixed_point_values() -> None:
    """x.mean() is the sum divided by the public count."""
    x = np.array([1.5, 2.25, -3.0, 10.0, 0.125, 7.0])
    got = run_typed(lambda a: a.mean(), x, dtype=FXP)
    assert abs(float(got) - x.mean()) <= ULP


def test_reciprocal_has_a_small_error_across_magnitudes() -> None:
    """1/x for x from 2**-6 to 2**15 and negative x: absolute error within a few units."""
    x = np.array([2.0**-6, 0.3, -0.75, 1.0, 1.5, -3.0, 10.0, 123.456, -4000.0, 32767.0])
    got = run_typed(reciprocal, x, dtype=FXP)
    expected = 1.0 / quantized(x)
    assert np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1.0)) <= 4 * ULP


def test_square_root_has_a_small_error_and_sqrt_of_zero_is_zero() -> None:
    """sqrt(x) for x from 0 to 60000, within a few units (relative for large results)."""
    x = np.array([0.0, 2.0**-16, 0.01, 0.25, 1.0, 2.0, 3.14159, 100.0, 12345.678, 60000.0])
    got = run_typed(sqrt, x, dtype=FXP)
    expected = np.sqrt(quantized(x))
    assert got[0] == 0.0
    assert np.max(np.abs(got - expected) / np.maximum(expected, 1.0)) <= 4 * ULP


def test_reciprocal_and_sqrt_need_fixed_point() -> None:
    """Integers are refused with a TypeError."""
    with pytest.raises(PartyFailed, match="fixed-point"):
        run_typed(reciprocal, np.array([3]), dtype=SecInt(8))
