"""The runtime's blocked kernels agree with Field's arithmetic."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.field import MERSENNE61, Csprng, Field
from veil.mpc._kernels import BLOCK, combine, deal, multiply

FIELD = Field()
edge = st.sampled_from(
    [0, 1, 2, 3, 7, 8, 2**32 - 1, 2**32, 2**60, 2**60 + 1, 3 * 2**59, MERSENNE61 - 2**60]
    + [MERSENNE61 - k for k in range(1, 9)]
    + [pow(3, -1, MERSENNE61), 5 * pow(2, -7, MERSENNE61) % MERSENNE61]
)
coefficient = st.one_of(edge, st.integers(0, MERSENNE61 - 1), st.integers(-(2**70), 2**70))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(coefficient, min_size=3, max_size=3), min_size=1, max_size=3))
def test_combine_equals_the_sum_of_field_products(rows: list[list[int]]) -> None:
    """Lazy reduction never overflows: extreme coefficients and elements, across block edges."""
    rng = Csprng(seed=bytes(range(32)))
    size = BLOCK + 5
    arrays = [FIELD.random(size, rng) for _ in range(3)]
    arrays[0][:9] = [0, 1, 2, 2**32 - 1, 2**32, 2**60, MERSENNE61 - 2, MERSENNE61 - 1, 7]
    got = combine(FIELD, rows, arrays)
    for row, out in zip(rows, got, strict=True):
        expected = np.zeros(size, dtype=np.uint64)
        for c, a in zip(row, arrays, strict=True):
            expected = FIELD.add(expected, FIELD.mul(a, FIELD.array(c)))
        np.testing.assert_array_equal(out, expected)


def test_combine_works_in_a_small_field() -> None:
    """The generic path for other primes."""
    small = Field(101)
    a, b = small.array([5, 100, 0]), small.array([7, 3, 100])
    (out,) = combine(small, [[2, -1]], [a, b])
    np.testing.assert_array_equal(out, small.array([3, 197, -100]))


def test_blocked_multiply_equals_field_multiply() -> None:
    """Arrays larger than a block, any shape."""
    rng = Csprng(seed=bytes(32))
    a = FIELD.random((3, BLOCK + 1), rng)
    b = FIELD.random((3, BLOCK + 1), rng)
    np.testing.assert_array_equal(multiply(FIELD, a, b), FIELD.mul(a, b))


@settings(max_examples=40, deadline=None)
@given(
    weight=coefficient,
    rows=st.lists(st.lists(coefficient, min_size=2, max_size=2), min_size=1, max_size=3),
    small=st.booleans(),
)
def test_deal_evaluates_e_plus_the_weighted_differences(
    weight: int, rows: list[list[int]], small: bool
) -> None:
    """deal(w, s, rhos, rows)[r] == w*s + sum_j rows[r][j] * (rho_j - w*s), in both fields."""
    field = Field(2**31 - 1) if small else FIELD
    rng = Csprng(seed=bytes(range(1, 33)))
    size = BLOCK + 3
    secret = field.random(size, rng)
    rhos = [field.random(size, rng) for _ in range(2)]
    e = field.mul(secret, field.array(weight))
    for row, out in zip(rows, deal(field, weight, secret, rhos, rows), strict=True):
        expected = e
        for c, rho in zip(row, rhos, strict=True):
            expected = field.add(expected, field.mul(field.sub(rho, e), field.array(c)))
        np.testing.assert_array_equal(out, expected)
