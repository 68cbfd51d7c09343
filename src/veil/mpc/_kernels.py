"""Hot loops of the runtime: products and public linear combinations of share vectors.

Every protocol step of the runtime is "multiply two share vectors" or "combine a few share vectors
with public coefficients" (dealing, resharing, reconstruction, pseudo-random sharing). These
kernels do both modulo ``p`` in blocks of :data:`BLOCK` elements, so that the ~20 numpy passes of a
Mersenne-61 product run on data that stays in the L2 cache instead of streaming megabytes through
memory for every pass (3-4x faster on 10^6 elements). Fields other than GF(2**61 - 1) fall back to
:class:`veil.field.Field` arithmetic, which is exact for every supported prime.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from veil.field import MERSENNE61, Field, FieldArray

__all__ = ["BLOCK", "combine", "deal", "is_cheap_constant", "multiply"]

#: Elements per block: 32768 uint64 words are 256 KiB, so a handful of temporaries fit in L2.
BLOCK = 1 << 15

_U = np.uint64
_P = _U(MERSENNE61)
_M32 = _U(0xFFFFFFFF)
_M29 = _U((1 << 29) - 1)
_S3, _S29, _S32, _S61 = _U(3), _U(29), _U(32), _U(61)


def multiply(field: Field, a: FieldArray, b: FieldArray) -> FieldArray:
    """Return ``a * b mod p`` elementwise for two arrays of the same shape."""
    if not field._mersenne or a.size <= BLOCK:
        return field.mul(a, b)
    fa, fb = a.reshape(-1), b.reshape(-1)
    out = np.empty(fa.size, dtype=np.uint64)
    for lo in range(0, fa.size, BLOCK):
        hi = lo + BLOCK
        out[lo:hi] = field.mul(fa[lo:hi], fb[lo:hi])
    return out.reshape(a.shape)


def deal(
    field: Field,
    weight: int,
    secret: FieldArray,
    rhos: Sequence[FieldArray],
    rows: Sequence[Sequence[int]],
) -> list[FieldArray]:
    """Evaluate the dealing polynomials: ``out[r] = e + sum_j rows[r][j] * (rhos[j] - e)``.

    Here ``e = weight * secret``. When ``rows[r]`` holds the Lagrange coefficients ``L_j(x_r)`` of
    the key-derived points (nodes ``0`` and ``x_j``), this is the polynomial through ``(0, e)`` and
    ``(x_j, rho_j)`` evaluated at ``x_r``, because the basis sums to one: ``L_0 = 1 - sum_j L_j``.
    One constant product per key-derived point and target, instead of one per point and target.

    Parameters
    ----------
    secret : FieldArray, shape S
    rhos : sequence of FieldArray of shape S, length t
    rows : sequence of rows of t public integers

    Returns
    -------
    list of FieldArray of shape S, one per row.
    """
    weight %= field.p
    rows = [[int(c) % field.p for c in row] for row in rows]
    if not field._mersenne:
        e = field.mul(secret, np.asarray(weight, dtype=np.uint64))
        diffs = [field.sub(r, e) for r in rhos]
        return [field.add(e, _combine_generic(field, row, diffs)) for row in rows]
    flat = secret.reshape(-1)
    flat_rhos = [r.reshape(-1) for r in rhos]
    size = flat.size
    outs = [np.empty(size, dtype=np.uint64) for _ in rows]
    full_rows = [[1, *row] for row in rows]
    for lo in range(0, size, BLOCK):
        hi = min(size, lo + BLOCK)
        e = _combine_block([weight], [flat[lo:hi]])  # canonical
        blocks = [e]
        for rho in flat_rhos:
            with np.errstate(over="ignore"):
                d = rho[lo:hi] - e
                blocks.append(np.minimum(d, d + _P))
        for row, out in zip(full_rows, outs, strict=True):
            out[lo:hi] = _combine_block(row, blocks)
    return [o.reshape(secret.shape) for o in outs]


def combine(
    field: Field, coefficients: Sequence[Sequence[int]], arrays: Sequence[FieldArray]
) -> list[FieldArray]:
    """Return ``[sum_k C[r][k] * arrays[k] mod p for each row r]`` for public coefficients ``C``.

    Parameters
    ----------
    field : Field
        The field of the shares.
    coefficients : sequence of rows, shape (n_outputs, n_inputs)
        Public integers (any size, reduced modulo ``p``).
    arrays : sequence of FieldArray, length n_inputs
        Share vectors of one common shape.

    Returns
    -------
    list of FieldArray
        ``n_outputs`` arrays of the inputs' shape.
    """
    if not arrays:
        raise ValueError("combine needs at least one array")
    shape = arrays[0].shape
    rows = [[int(c) % field.p for c in row] for row in coefficients]
    if not field._mersenne:
        return [_combine_generic(field, row, arrays) for row in rows]
    flat = [a.reshape(-1) for a in arrays]
    size = flat[0].size
    outs = [np.empty(size, dtype=np.uint64) for _ in rows]
    for lo in range(0, size, BLOCK):
        hi = min(size, lo + BLOCK)
        blocks = [f[lo:hi] for f in flat]
        for row, out in zip(rows, outs, strict=True):
            out[lo:hi] = _combine_block(row, blocks)
    return [o.reshape(shape) for o in outs]


def _combine_generic(field: Field, row: Sequence[int], arrays: Sequence[FieldArray]) -> FieldArray:
    acc = np.zeros(arrays[0].shape, dtype=np.uint64)
    for c, a in zip(row, arrays, strict=True):
        if c:
            acc = field.add(acc, field.mul(a, np.asarray(c, dtype=np.uint64)))
    return acc


def _combine_block(row: Sequence[int], blocks: Sequence[FieldArray]) -> FieldArray:
    """Sum ``c * block`` lazily: each term is < 3 * 2**61, so two terms fit before a fold."""
    acc: FieldArray | None = None
    pending = 0
    for c, block in zip(row, blocks, strict=True):
        if c == 0:
            continue
        term = _times_constant(c, block)
        if acc is None:
            acc = term.copy() if term is block else term
        else:
            if pending >= 2:
                acc = (acc & _P) + (acc >> _S61)
                pending = 0
            acc += term
        pending += 1
    if acc is None:
        return np.zeros(blocks[0].shape, dtype=np.uint64)
    acc = (acc & _P) + (acc >> _S61)  # < 2**61 + 8
    with np.errstate(over="ignore"):
        out: FieldArray = np.minimum(acc, acc - _P)
    return out


@cache
def _classify(c: int) -> tuple[str, int, int]:
    """Sort a constant by its cheapest product: 1, -1, small k, ±k·2^-m (a rotation), or general."""
    p = MERSENNE61
    if c == 1:
        return ("one", 0, 0)
    if c == p - 1:
        return ("minus", 0, 0)
    for m in range(61):
        k = c * pow(2, m, p) % p  # c = k * 2**-m
        if k < 8:
            return ("scaled", k, m)
        if p - k < 8:
            return ("negscaled", p - k, m)
    return ("general", c & 0xFFFFFFFF, c >> 32)


def is_cheap_constant(c: int) -> bool:
    """Return whether a product by ``c`` modulo 2**61 - 1 takes the short path (``±k / 2**m``, k < 8)."""
    return _classify(c % MERSENNE61)[0] != "general"


def _times_constant(c: int, a: FieldArray) -> FieldArray:
    """Return ``c * a`` modulo 2**61 - 1 for canonical ``a``, partially reduced (< 3 * 2**61).

    Constants ``±k * 2**-m`` with ``k < 8`` (Lagrange coefficients of small parties often are) cost a
    rotation of the 61-bit word and a small product. Otherwise, with a = a1·2^32 + a0 and
    c = c1·2^32 + c0: ac = a1c1·2^64 + (a1c0 + a0c1)·2^32 + a0c0, where 2^61 ≡ 1 gives 2^64 ≡ 8 and
    mid·2^32 ≡ (mid >> 29) + (mid mod 2^29)·2^32.
    """
    kind, x, y = _classify(c)
    if kind == "one":
        return a
    if kind == "minus":
        return _P - a  # in [1, p]; p is congruent to 0
    if kind != "general":
        if y:  # a * 2**-m: rotate the 61-bit word right by m
            r = a >> _U(y)
            r |= (a << _U(61 - y)) & _P
        else:
            r = a
        if kind == "negscaled":
            r = _P - r
        if x == 1:
            return r
        v = r * _U(x)  # < 8 * 2**61 = 2**64
        term = v & _P
        term += v >> _S61
        return term
    a0, a1 = a & _M32, a >> _S32
    c0, c1 = _U(x), _U(y)
    lo = a0 * c0  # < 2^64
    mid = a1 * c0  # < 2^61
    if c1:
        mid += a0 * c1  # < 2^62
        term = (a1 * c1) << _S3  # < 2^61
        term += lo & _P
    else:
        term = lo & _P
    term += lo >> _S61
    term += mid >> _S29
    mid &= _M29
    mid <<= _S32
    term += mid
    return term
