"""Pure maths of the active suite: check coefficients, consistency of shares, locating bad shares.

No I/O: what each party computes between rounds. Party ``i`` holds the point ``x = i + 1``.

- :func:`coefficients`: public random weights expanded from a coin (for folding columns).
- :func:`check_sums`: the check's ``W = sum_k s^k z_k`` and ``U = sum_k s^k (r·z)_k`` for a
  public random point ``s`` (Horner's rule; compiled with numba when available).
- :func:`consistent`: whether ``m`` shares of a degree-``t`` sharing lie on one polynomial.
- :func:`locate`: after an inconsistent opening, find the parties whose shares are off, using the
  tags (shares of ``r·x``) once ``r`` is public.

Locating (veil's use of the tag of [CGH+18]). Every opened value ``x`` has a tag sharing ``[r·x]``,
verified before the opening. Once ``r`` is public, ``e_i = tag_i − r·x_i`` is, at honest parties,
a share of the zero-sharing ``[r·x] − r[x]``: the honest points and ``(0, 0)`` lie on one
polynomial ``E`` of degree ``t``. A party that sent a wrong share ``x_i + a`` (and any tag share
``tag_i + b``) moves its point by ``b − r·a``, which is zero only if ``b = r·a``; it had to choose
``a`` and ``b`` before ``r`` was revealed, so this happens with probability ``1/p``. With at least
``n − t`` honest points, ``E`` is the unique degree-``t`` polynomial through ``(0, 0)`` that agrees
with ``n − t`` of the ``n`` points, and the parties off ``E`` are the cheaters.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from veil.field import MERSENNE61, Field, FieldArray
from veil.mpc import _prg
from veil.sharing.checking import powers
from veil.sharing.shamir import lagrange_matrix

try:  # pragma: no cover - exercised when numba is installed (it is a dependency)
    import numba
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]

__all__ = ["check_sums", "coefficients", "consistent", "locate"]


def coefficients(field: Field, seed: bytes, count: int, purpose: int = 0) -> FieldArray:
    """Return ``count`` uniform public weights expanded from a 32-byte coin (AES-256-CTR)."""
    return _prg.derive(field, seed, 0, purpose, count)


def check_sums(
    field: Field, coin: bytes, values: Sequence[FieldArray], tags: Sequence[FieldArray]
) -> tuple[int, int]:
    """Return ``(W, U)``: ``sum_k s^k v_k`` over the values and the same sum over the tags.

    ``s`` is a uniform point expanded from the 32-byte ``coin``; ``k`` runs over the
    concatenation of the arrays, in order. A fixed nonzero error vector ``δ`` passes
    (``sum_k s^k δ_k = 0``) for at most ``K - 1`` values of ``s``: probability ``< K/p``, about
    ``2^-41`` for ``K = 10^6`` and ``p = 2^61 - 1``.

    Horner's rule needs one product per element and no array of weights; with numba (a
    dependency of veil) it runs compiled, a few milliseconds per million elements.
    """
    s = int(_prg.derive(field, coin, 0, 1, 1)[0])
    if numba is not None and field.p == MERSENNE61:
        acc_v, acc_t = np.uint64(0), np.uint64(0)
        for v, g in zip(reversed(values), reversed(tags), strict=True):
            acc_v, acc_t = _horner2(
                np.ascontiguousarray(v, dtype=np.uint64).reshape(-1),
                np.ascontiguousarray(g, dtype=np.uint64).reshape(-1),
                np.uint64(s),
                acc_v,
                acc_t,
            )
        return int(acc_v), int(acc_t)
    flat_v = np.concatenate([np.asarray(v, np.uint64).reshape(-1) for v in values])
    flat_t = np.concatenate([np.asarray(g, np.uint64).reshape(-1) for g in tags])
    if flat_v.size == 0:
        return 0, 0
    weights = np.concatenate(
        [np.ones(1, np.uint64), powers(field, np.asarray(s, np.uint64), flat_v.size - 1)]
    )
    return (
        int(field.sum(field.mul(weights, flat_v))),
        int(field.sum(field.mul(weights, flat_t))),
    )


if numba is not None:  # pragma: no branch

    @numba.njit(cache=True, nogil=True)
    def _mulmod61(a: np.uint64, b: np.uint64) -> np.uint64:  # pragma: no cover - compiled
        """``a * b mod (2^61 - 1)`` for ``a, b < 2^61``, with 32-bit limbs."""
        m = np.uint64(0x1FFFFFFFFFFFFFFF)
        lo32 = np.uint64(0xFFFFFFFF)
        a0, a1 = a & lo32, a >> np.uint64(32)
        b0, b1 = b & lo32, b >> np.uint64(32)
        lo = a0 * b0
        mid = a0 * b1 + a1 * b0
        hi = a1 * b1
        r = (
            (lo & m)
            + (lo >> np.uint64(61))
            + ((mid & np.uint64(0x1FFFFFFF)) << np.uint64(32))
            + (mid >> np.uint64(29))
            + (hi << np.uint64(3))
        )
        r = (r & m) + (r >> np.uint64(61))
        r = (r & m) + (r >> np.uint64(61))
        return r - m if r >= m else r

    @numba.njit(cache=True, nogil=True)
    def _horner2(
        v: FieldArray, g: FieldArray, s: np.uint64, acc_v: np.uint64, acc_g: np.uint64
    ) -> tuple[np.uint64, np.uint64]:  # pragma: no cover - compiled
        """Continue Horner's rule over ``v`` and ``g`` from the last element to the first."""
        m = np.uint64(0x1FFFFFFFFFFFFFFF)
        for k in range(v.size - 1, -1, -1):
            acc_v = _mulmod61(acc_v, s) + v[k]
            acc_v = acc_v - m if acc_v >= m else acc_v
            acc_g = _mulmod61(acc_g, s) + g[k]
            acc_g = acc_g - m if acc_g >= m else acc_g
        return acc_v, acc_g


def consistent(field: Field, parties: Sequence[int], shares: FieldArray, threshold: int) -> bool:
    """Return whether every column of ``shares`` (shape ``(m, L)``) lies on a degree-``t`` polynomial."""
    m = len(parties)
    k = threshold + 1
    if m <= k:
        return True
    flat = shares.reshape(m, -1)
    predicted = field.dot(
        lagrange_matrix(field, list(parties[:k]), [i + 1 for i in parties[k:]]), flat[:k]
    )
    return bool(np.array_equal(predicted, flat[k:]))


def interpolate_at_zero(field: Field, parties: Sequence[int], shares: FieldArray) -> FieldArray:
    """Return the values at ``x = 0`` of the polynomials through ``shares`` (``(m, L)`` -> ``(L,)``)."""
    flat = shares.reshape(len(parties), -1)
    out: FieldArray = field.dot(lagrange_matrix(field, list(parties), [0]), flat)[0]
    return out


def locate(
    field: Field,
    parties: Sequence[int],
    values: FieldArray,
    tags: FieldArray,
    r: int,
    threshold: int,
    weights: FieldArray,
) -> list[int] | None:
    """Return parties proven to have sent wrong (value, tag) shares, or None if none is proven.

    Parameters
    ----------
    parties : sequence of int, length ``n``
        Who sent each row.
    values, tags : FieldArray, shape ``(n, L)``
        Opened shares of ``x`` and of its tag ``r·x``, as every party received them (agreed).
    r : int
        The revealed tag key.
    threshold : int
        ``t``; at most ``t`` rows are wrong.
    weights : FieldArray, shape ``(L,)``
        Public random weights (drawn after the shares were fixed) folding the columns into one.

    Returns
    -------
    list of int or None
        The parties in *every* minimal explanation: a set ``S`` of at most ``t`` parties is an
        explanation when the other parties' value shares lie on one polynomial of degree ``t``
        and their points ``e_i`` lie, with ``(0, 0)``, on one polynomial of degree ``t``. The true
        set of cheaters is an explanation, so a party in every minimal one is a cheater. None when
        no party is in all of them.

    Notes
    -----
    One wrong share is always located (its point is off ``E`` unless ``b = r·a``, probability
    ``1/p``). Several colluding parties (possible when ``t >= 2``) can choose their errors so that
    a second explanation exists (e.g. ``n = 5``: two parties add errors ``a_0, a_1`` with
    ``λ_0 a_0 + λ_1 a_1 = 0``, which makes ``{0, 1}`` and two honest parties equally plausible);
    then nobody is named, and the caller stops without naming anyone. The opened value is the
    same under every explanation in that case, so it is never wrong.
    """
    n = len(parties)
    v = field.dot(values.reshape(n, -1), weights.reshape(-1, 1)).reshape(n)
    g = field.dot(tags.reshape(n, -1), weights.reshape(-1, 1)).reshape(n)
    e = field.sub(g, field.mul(v, np.full(n, r % field.p, dtype=np.uint64)))
    passing: list[frozenset[int]] = []
    for size in range(1, threshold + 1):
        for liars in combinations(range(n), size):
            if any(p <= set(liars) for p in passing):
                continue  # not minimal
            rest = [k for k in range(n) if k not in liars]
            xs = [parties[k] + 1 for k in rest]
            if not _on_one_polynomial(field, xs, v[rest], threshold):
                continue
            if not _on_one_polynomial(
                field, [0, *xs], np.concatenate([np.zeros(1, np.uint64), e[rest]]), threshold
            ):
                continue
            passing.append(frozenset(liars))
    if not passing:
        return None
    common = frozenset.intersection(*passing)
    return sorted(parties[k] for k in common) or None


def _on_one_polynomial(field: Field, xs: Sequence[int], ys: FieldArray, degree: int) -> bool:
    """Return whether the points ``(xs[k], ys[k])`` lie on one polynomial of the degree."""
    if len(xs) <= degree + 1:
        return True
    base = list(xs[: degree + 1])
    at = lagrange_matrix_points(field, base, list(xs[degree + 1 :]))
    predicted = field.dot(at, np.asarray(ys[: degree + 1], dtype=np.uint64).reshape(-1, 1))
    return bool(np.array_equal(predicted.reshape(-1), np.asarray(ys[degree + 1 :], np.uint64)))


def lagrange_matrix_points(field: Field, nodes: Sequence[int], at: Sequence[int]) -> FieldArray:
    """Return the ``(len(at), len(nodes))`` Lagrange matrix for arbitrary distinct nodes (x values)."""
    p = field.p
    out = np.empty((len(at), len(nodes)), dtype=np.uint64)
    for row, x in enumerate(at):
        for col, xk in enumerate(nodes):
            num, den = 1, 1
            for xm in nodes:
                if xm != xk:
                    num = num * (x - xm) % p
                    den = den * (xk - xm) % p
            out[row, col] = num * pow(den, -1, p) % p
    return out
