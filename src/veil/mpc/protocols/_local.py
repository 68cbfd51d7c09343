"""Local arithmetic on share vectors for the comparison protocols: few passes, no Python loops.

Shares are canonical ``uint64`` field elements. Over GF(2**61 - 1) a product by ``2**k`` is a 61-bit
rotation and a sum of up to eight elements needs a single fold; other primes use the exact
:class:`~veil.field.Field` operations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veil.field import MERSENNE61, Field, FieldArray
from veil.mpc._kernels import multiply

__all__ = ["fold", "mul", "neg", "times_pow2"]

_U = np.uint64
_P = _U(MERSENNE61)
_S61 = _U(61)


def fold(field: Field, x: npt.NDArray[np.uint64]) -> FieldArray:
    """Reduce non-negative ``x`` (each below ``2**63``) to canonical elements."""
    if field._mersenne:
        t = (x & _P) + (x >> _S61)
        with np.errstate(over="ignore"):
            return np.minimum(t, t - _P)
    return np.asarray(x % _U(field.p), dtype=np.uint64)


def neg(field: Field, x: FieldArray) -> FieldArray:
    """Return ``-x mod p``."""
    return field.neg(x)


def mul(field: Field, a: FieldArray, b: FieldArray) -> FieldArray:
    """Return ``a * b mod p`` elementwise (same shapes)."""
    return multiply(field, np.ascontiguousarray(a), np.ascontiguousarray(b))


def times_pow2(field: Field, x: FieldArray, exponents: npt.NDArray[np.integer]) -> FieldArray:
    """Return ``x * 2**exponents mod p``; ``exponents`` broadcasts against ``x`` (each in [0, 61))."""
    if field._mersenne:
        k = np.asarray(exponents, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return ((x << k) & _P) | (x >> (_S61 - k))
    powers = np.array([pow(2, int(e), field.p) for e in np.asarray(exponents).reshape(-1)])
    factors = powers.astype(np.uint64).reshape(np.shape(exponents))
    a, b = np.broadcast_arrays(x, factors)
    return mul(field, a, b)
