"""``veil.field.Field`` (vectorized) agrees with the Nagini-proved scalar GF(p) reference."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.field import MERSENNE61, Field

#: One prime per code path of Field: Mersenne kernels, p < 2**32 kernels, Python-int fallback.
PRIMES = [MERSENNE61, 2**31 - 1, 65521, 2**62 - 57]


def _edges(p: int) -> list[int]:
    """Elements where carries, wrap-arounds and folds happen."""
    cands = [0, 1, 2, p - 1, p - 2, p // 2, p // 2 + 1, 2**29 - 1, 2**32 - 1, 2**32, 2**61 - 2]
    return sorted({c for c in cands if 0 <= c < p})


def _elements(p: int) -> st.SearchStrategy[list[int]]:
    one = st.one_of(st.sampled_from(_edges(p)), st.integers(0, p - 1))
    return st.lists(one, min_size=1, max_size=64)


@pytest.mark.parametrize("p", PRIMES)
def test_binary_operations_match_the_proved_reference_on_every_edge_pair(
    proved_field: types.ModuleType, p: int
) -> None:
    """add, sub and mul agree with the proved scalar code on all pairs of edge elements."""
    F = Field(p)
    edges = _edges(p)
    a = np.array([x for x in edges for _ in edges], dtype=np.uint64)
    b = np.array([y for _ in edges for y in edges], dtype=np.uint64)
    for name in ("add", "sub", "mul"):
        got = getattr(F, name)(a, b).tolist()
        want = [getattr(proved_field, name)(int(x), int(y), p) for x, y in zip(a, b, strict=True)]
        assert got == want, name


@pytest.mark.parametrize("p", PRIMES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_field_operations_match_the_proved_reference(
    proved_field: types.ModuleType, p: int, data: st.DataObject
) -> None:
    """add, sub, neg, mul and inv agree elementwise with the proved scalar functions."""
    F = Field(p)
    xs = data.draw(_elements(p))
    ys = data.draw(st.lists(st.integers(0, p - 1), min_size=len(xs), max_size=len(xs)))
    a, b = np.array(xs, dtype=np.uint64), np.array(ys, dtype=np.uint64)
    assert F.add(a, b).tolist() == [proved_field.add(x, y, p) for x, y in zip(xs, ys, strict=True)]
    assert F.sub(a, b).tolist() == [proved_field.sub(x, y, p) for x, y in zip(xs, ys, strict=True)]
    assert F.mul(a, b).tolist() == [proved_field.mul(x, y, p) for x, y in zip(xs, ys, strict=True)]
    assert F.neg(a).tolist() == [proved_field.neg(x, p) for x in xs]
    nonzero = [x for x in xs if x]
    if nonzero:
        got = F.inv(np.array(nonzero, dtype=np.uint64)).tolist()
        assert got == [proved_field.inv(x, p) for x in nonzero]


@settings(max_examples=40, deadline=None)
@given(x=st.integers(0, MERSENNE61 - 1), c=st.integers(0, 8))
def test_multiplying_by_a_small_public_constant_matches_the_reference(
    proved_field: types.ModuleType, x: int, c: int
) -> None:
    """The short path for 0-d constants in [0, 8] gives the proved product."""
    F = Field()
    got = F.mul(np.array([x], dtype=np.uint64), np.array(c, dtype=np.uint64)).tolist()
    assert got == [proved_field.mul(x, c, MERSENNE61)]


def test_the_proved_inverse_reports_a_missing_inverse_with_zero(
    proved_field: types.ModuleType,
) -> None:
    """For a composite modulus, an element sharing a factor gets 0 (no inverse), others a true inverse."""
    assert proved_field.inv(6, 15) == 0
    assert (7 * proved_field.inv(7, 15)) % 15 == 1
