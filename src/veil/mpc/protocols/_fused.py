"""Fused local kernels of the comparison protocols over GF(2**61 - 1), compiled with numba.

Two steps dominate the local work of a comparison, and each is many numpy passes over large
arrays: the masks' weighted XOR sums (:func:`mask_sums`) and the comparison leaves
(:func:`leaves`). Here each is one loop that keeps every intermediate in registers. numba is a
dependency of veil; where it cannot be imported (or for other primes) the numpy versions in
:mod:`veil.mpc.protocols.masks` and :mod:`veil.mpc.protocols.compare` run instead, and the tests
check that both give the same shares.

Only local, share-wise arithmetic happens here: the functions compute a party's own degree-``2t``
value, which the caller reduces with the runtime's degree reduction.

Modular product (as :func:`veil.field._mul_mersenne61_kernel`): with ``a = a1 2**32 + a0``,
``b = b1 2**32 + b0`` (``a1, b1 < 2**29``), ``ab = a1 b1 2**64 + (a1 b0 + a0 b1) 2**32 + a0 b0`` and
``2**61 = 1 (mod p)`` gives ``2**64 = 8``; every intermediate fits 63 bits.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from veil.field import MERSENNE61, Field, FieldArray

__all__ = ["available", "leaves", "mask_sums"]

_Kernel = Callable[..., None]
_P = np.uint64(MERSENNE61)
_M32 = np.uint64(0xFFFFFFFF)
_M29 = np.uint64((1 << 29) - 1)
_S3, _S29, _S32, _S61 = np.uint64(3), np.uint64(29), np.uint64(32), np.uint64(61)


def _mulmod(x: Any, y: Any) -> Any:  # pragma: no cover - compiled by numba
    """``x * y mod p`` for canonical x, y, partially reduced (below ``p + 8``)."""
    a0 = x & _M32
    a1 = x >> _S32
    b0 = y & _M32
    b1 = y >> _S32
    lo = a0 * b0
    mid = a1 * b0 + a0 * b1
    r = ((a1 * b1) << _S3) + (mid >> _S29) + ((mid & _M29) << _S32) + (lo >> _S61) + (lo & _P)
    return (r & _P) + (r >> _S61)


def _mask_sums_py(
    side_a: Any, side_b: Any, groups: int, low_bits: int, out: Any
) -> None:  # pragma: no cover - compiled by numba; the numpy path is tested instead
    P = _P
    s61 = _S61
    count = out.shape[1]
    plain = side_a.shape[0] - 3 * groups
    linear = np.zeros((2, count), dtype=np.uint64)
    cross = np.zeros((2, count), dtype=np.uint64)
    for part in range(2):
        rows = low_bits if part == 0 else plain
        for i in range(rows):
            k = np.uint64(i)
            back = np.uint64(61 - i)
            j = i // 2
            for n in range(count):
                if part == 0:  # bit 0 of a group: entries 1 and 3; bit 1: entries 2 and 3
                    first = j if i % 2 == 0 else groups + j
                    x = side_a[first, n] + side_a[2 * groups + j, n]
                    y = side_b[first, n] + side_b[2 * groups + j, n]
                    if x >= P:
                        x -= P
                    if y >= P:
                        y -= P
                else:
                    x = side_a[3 * groups + i, n]
                    y = side_b[3 * groups + i, n]
                if i:  # times 2**i: a rotation of the 61-bit word
                    wx = ((x << k) & P) | (x >> back)
                    wy = ((y << k) & P) | (y >> back)
                else:
                    wx = x
                    wy = y
                acc = linear[part, n] + wx + wy  # < 2**63
                linear[part, n] = (acc & P) + (acc >> s61)
                r = _mulmod(wx, y) + cross[part, n]
                cross[part, n] = (r & P) + (r >> s61)
    for part in range(2):
        for n in range(count):
            lin = linear[part, n]
            if lin >= P:
                lin -= P
            twice = cross[part, n]
            if twice >= P:
                twice -= P
            twice += twice
            if twice >= P:
                twice -= P
            value = lin + P - twice  # linear - 2 cross
            if value >= P:
                value -= P
            out[part, n] = value


def _leaves_py(
    a: Any, b: Any, digits: Any, want_lt: bool, eq_from: int, out: Any
) -> None:  # pragma: no cover - compiled by numba; the numpy path is tested instead
    P = _P
    s61 = _S61
    one = np.uint64(1)
    zero = np.uint64(0)
    groups = a.shape[1]
    count = a.shape[2]
    lt_rows = groups if want_lt else 0
    full = np.empty(4, dtype=np.uint64)
    table = np.empty(4, dtype=np.uint64)
    for j in range(groups):
        for n in range(count):
            d = digits[j, n]
            b1 = b[0, j, n]
            b2 = b[1, j, n]
            b3 = b[2, j, n]
            b0 = P + P + P + one - b1 - b2 - b3
            b0 = (b0 & P) + (b0 >> s61)
            if b0 >= P:
                b0 -= P
            full[0] = b0
            full[1] = b1
            full[2] = b2
            full[3] = b3
            for kind in range(2):
                if kind == 0:
                    if not want_lt:
                        continue
                    for u in range(4):
                        if d == 0:
                            t = one + P - full[u]
                        elif d == 1:
                            t = full[u ^ 2] + full[u ^ 3]
                        elif d == 2:
                            t = full[u ^ 3]
                        else:
                            t = zero
                        if t >= P:
                            t -= P
                        table[u] = t
                    row = j
                else:
                    if j < eq_from:
                        continue
                    for u in range(4):
                        table[u] = full[u ^ d]
                    row = lt_rows + j - eq_from
                acc = table[0]
                for u in range(1, 4):
                    diff = table[u] + P - table[0]
                    if diff >= P:
                        diff -= P
                    acc += _mulmod(a[u - 1, j, n], diff)
                    acc = (acc & P) + (acc >> s61)
                if acc >= P:
                    acc -= P
                out[row, n] = acc


@cache
def _compiled() -> tuple[_Kernel, _Kernel] | None:
    """Compile the kernels once per process (cached on disk by numba); None without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    global _mulmod  # the kernels call the compiled helper (numba inlines it)
    _mulmod = numba.njit(cache=True, inline="always")(_mulmod)
    jit = numba.njit(cache=True, nogil=True)
    return cast(_Kernel, jit(_mask_sums_py)), cast(_Kernel, jit(_leaves_py))


def available(field: Field) -> bool:
    """Whether the compiled kernels serve ``field`` (GF(2**61 - 1) with numba importable)."""
    return field.p == MERSENNE61 and _compiled() is not None


def mask_sums(side_a: FieldArray, side_b: FieldArray, groups: int, low_bits: int) -> FieldArray:
    """Return the degree-2 local values ``(low, high)`` of the masks, shape (2, count).

    ``low = sum_{i < m} 2**i (a_i XOR b_i)`` over the grouped low bits, ``high`` the same over the
    plain bits (see :func:`veil.mpc.protocols.masks.make_masks`).
    """
    kernels = _compiled()
    assert kernels is not None
    out = np.empty((2, side_a.shape[1]), dtype=np.uint64)
    kernels[0](np.ascontiguousarray(side_a), np.ascontiguousarray(side_b), groups, low_bits, out)
    return out


def leaves(
    left: FieldArray, right: FieldArray, digits: npt.NDArray[np.intp], want_lt: bool, eq_from: int
) -> FieldArray:
    """Return the degree-2 local values of the comparison leaves (see ``compare._leaves``)."""
    kernels = _compiled()
    assert kernels is not None
    groups, count = left.shape[1], left.shape[2]
    rows = (groups if want_lt else 0) + groups - eq_from
    out = np.empty((rows, count), dtype=np.uint64)
    kernels[1](
        np.ascontiguousarray(left),
        np.ascontiguousarray(right),
        np.ascontiguousarray(digits, dtype=np.int64),
        want_lt,
        eq_from,
        out,
    )
    return out
