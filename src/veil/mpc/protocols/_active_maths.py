"""Pure maths of the active suite: check coefficients, consistency of shares, locating bad shares.

No I/O: what each party computes between rounds. Party ``i`` holds the point ``x = i + 1``.

- :func:`coefficients`: the public random weights ``c_k`` of a batch check, expanded from a coin.
- :func:`weighted_sum`: ``sum_k c_k v_k`` of a share vector (the check's ``U`` and ``W``).
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

from veil.field import Field, FieldArray
from veil.mpc import _prg
from veil.sharing.shamir import lagrange_matrix

__all__ = ["coefficients", "consistent", "locate", "weighted_sum"]


def coefficients(field: Field, seed: bytes, count: int, purpose: int = 0) -> FieldArray:
    """Return ``count`` uniform public weights expanded from a 32-byte coin (AES-256-CTR)."""
    return _prg.derive(field, seed, 0, purpose, count)


def weighted_sum(field: Field, weights: FieldArray, values: FieldArray) -> int:
    """Return ``sum_k weights[k] * values[k] mod p`` for two flat arrays of the same size."""
    if values.size == 0:
        return 0
    return int(field.sum(field.mul(weights, values.reshape(-1))))


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
    """Return the parties whose (value, tag) shares are off, or None if no explanation fits.

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
        Sorted ids of the parties off the polynomial ``E`` (see the module docstring), or None
        when no degree-``t`` polynomial through ``(0, 0)`` agrees with ``n - t`` of the points
        (impossible unless more than ``t`` parties cheated).
    """
    n = len(parties)
    v = field.dot(values.reshape(n, -1), weights.reshape(-1, 1)).reshape(n)
    g = field.dot(tags.reshape(n, -1), weights.reshape(-1, 1)).reshape(n)
    e = field.sub(g, field.mul(v, np.full(n, r % field.p, dtype=np.uint64)))
    xs = [i + 1 for i in parties]
    best: list[int] | None = None
    for subset in combinations(range(n), threshold):
        nodes = [0, *(xs[k] for k in subset)]
        known = np.array([0, *(int(e[k]) for k in subset)], dtype=np.uint64)
        at = field.dot(lagrange_matrix_points(field, nodes, xs), known.reshape(-1, 1)).reshape(n)
        agree = [k for k in range(n) if at[k] == e[k]]
        if len(agree) >= n - threshold and (best is None or len(agree) > n - len(best)):
            best = [parties[k] for k in range(n) if k not in agree]
    return sorted(best) if best is not None else None


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
