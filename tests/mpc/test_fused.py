"""The compiled kernels compute the same local shares as their numpy versions."""

from __future__ import annotations

import numpy as np
import pytest

from veil.field import Csprng, Field
from veil.mpc.protocols import _fused
from veil.mpc.protocols.compare import leaves_numpy
from veil.mpc.protocols.masks import mask_sums_numpy

F = Field()
pytestmark = pytest.mark.skipif(not _fused.available(F), reason="numba is not importable")


@pytest.mark.parametrize(("want_lt", "eq_from"), [(True, 1), (True, 0), (False, 0), (False, 5)])
def test_leaves_kernel_equals_numpy_on_arbitrary_shares(want_lt: bool, eq_from: int) -> None:
    """Random field elements (not only bits) and every digit: identical outputs."""
    rng = Csprng(seed=bytes(range(32)))
    a, b = F.random((3, 9, 257), rng), F.random((3, 9, 257), rng)
    digits = (F.random((9, 257), rng) % np.uint64(4)).astype(np.intp)
    expected = leaves_numpy(F, a, b, digits, want_lt=want_lt, eq_from=eq_from)
    np.testing.assert_array_equal(_fused.leaves(a, b, digits, want_lt, eq_from), expected)


@pytest.mark.parametrize("low_bits", [32, 31, 1, 60])
def test_mask_sums_kernel_equals_numpy_on_arbitrary_shares(low_bits: int) -> None:
    """Even and odd low parts, including extreme splits."""
    rng = Csprng(seed=bytes(32))
    groups = (low_bits + 1) // 2
    width = 3 * groups + F.bits - low_bits
    a, b = F.random((width, 300), rng), F.random((width, 300), rng)
    expected = mask_sums_numpy(F, a, b, groups, low_bits)
    np.testing.assert_array_equal(_fused.mask_sums(a, b, groups, low_bits), expected)


def test_the_kernels_serve_only_the_mersenne_field() -> None:
    """Other primes take the numpy path."""
    assert not _fused.available(Field(65521))
