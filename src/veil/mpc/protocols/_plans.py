"""Public constants of the protocols: who talks to whom and with which Lagrange coefficients.

Everything here depends only on ``(p, n, t)`` and party numbers, never on secrets, so every party
computes the same plans. Party ``i`` evaluates polynomials at ``x = i + 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from math import comb
from typing import Any

__all__ = [
    "DealPlan",
    "deal_plan",
    "deal_plans",
    "lagrange_row",
    "open_sources",
    "prss_coefficient",
    "prss_sets",
    "reshare_weights",
]


def lagrange_row(p: int, nodes: Sequence[int], at: int) -> list[int]:
    """Return ``[L_k(at) for k in nodes]``: the Lagrange basis over ``nodes`` evaluated at ``at``, mod p."""
    row = []
    for k, xk in enumerate(nodes):
        num, den = 1, 1
        for m, xm in enumerate(nodes):
            if m != k:
                num = num * (at - xm) % p
                den = den * (xk - xm) % p
        row.append(num * pow(den, -1, p) % p)
    return row


@dataclass(frozen=True)
class DealPlan:
    """How ``dealer`` shares a vector with a degree-``t`` polynomial, deriving ``t`` shares from keys.

    The polynomial g passes through ``(0, secret)`` and ``(x_j, rho_j)`` for each partner ``j``,
    where ``rho_j`` is derived from the key the dealer shares with ``j``, so partners compute their
    own shares and only ``targets[1:]`` receive a message. ``rows[r]`` holds the coefficients of
    ``[secret, rho_1, ..., rho_t]`` that give ``g`` at ``targets[r]`` (``targets[0]`` is the dealer).
    """

    dealer: int
    partners: tuple[int, ...]
    targets: tuple[int, ...]
    rows: tuple[tuple[int, ...], ...]


def _make_plan(p: int, n: int, dealer: int, partners: tuple[int, ...]) -> DealPlan:
    targets = (dealer, *(k for k in range(n) if k != dealer and k not in partners))
    nodes = [0, *(j + 1 for j in partners)]
    rows = tuple(tuple(lagrange_row(p, nodes, k + 1)) for k in targets)
    return DealPlan(dealer, partners, targets, rows)


#: Largest number of candidate partner sets searched per dealer; beyond it partners are cyclic.
_MAX_CANDIDATES = 64


@cache
def deal_plans(p: int, n: int, t: int) -> tuple[DealPlan, ...]:
    """Return every party's :class:`DealPlan`, choosing partners so that arithmetic is cheap.

    Any ``t`` partners are secure. Over GF(2**61 - 1), a product by a constant ``±k / 2**m``
    (``k < 8``) is a rotation and a small product, several times cheaper than a general one, so
    each dealer takes the partner set with the fewest general constants in its rows, then the one
    that spreads received messages most evenly; by default the next ``t`` parties, cyclically.
    """
    from veil.field import MERSENNE61
    from veil.mpc._kernels import is_cheap_constant

    plans = []
    load = [0] * n  # messages each party receives from the plans chosen so far
    for dealer in range(n):
        cyclic = tuple((dealer + k) % n for k in range(1, t + 1))
        others = [k for k in range(n) if k != dealer]
        candidates = [cyclic]
        if p == MERSENNE61 and comb(n - 1, t) <= _MAX_CANDIDATES:
            candidates += [c for c in combinations(others, t) if c != cyclic]

        def score(
            partners: tuple[int, ...], dealer: int = dealer, candidates: list[Any] = candidates
        ) -> tuple[int, int, int]:
            plan = _make_plan(p, n, dealer, partners)
            general = sum(not is_cheap_constant(c) for row in plan.rows for c in row[1:])
            peak = max((load[k] + 1 for k in plan.targets[1:]), default=0)
            return general, peak, candidates.index(partners)

        best = _make_plan(p, n, dealer, min(candidates, key=score))
        for k in best.targets[1:]:
            load[k] += 1
        plans.append(best)
    return tuple(plans)


def deal_plan(p: int, n: int, t: int, dealer: int) -> DealPlan:
    """Return the :class:`DealPlan` of ``dealer`` (see :func:`deal_plans`)."""
    return deal_plans(p, n, t)[dealer]


@cache
def reshare_weights(p: int, t: int) -> tuple[int, ...]:
    """Return the weights ``lambda_i`` with ``z = sum_i lambda_i * d_i`` over parties ``0..2t``.

    A product of two degree-``t`` sharings is a degree-``2t`` sharing, so the shares of any
    ``2t + 1`` parties determine it: these are the Lagrange coefficients at 0 of parties ``0..2t``.
    """
    return tuple(lagrange_row(p, [i + 1 for i in range(2 * t + 1)], 0))


@cache
def open_sources(n: int, t: int, party: int) -> tuple[int, ...]:
    """Return the ``t`` parties whose shares ``party`` combines with its own to open a value."""
    return tuple((party + k) % n for k in range(1, t + 1))


@cache
def prss_sets(n: int, t: int) -> tuple[frozenset[int], ...]:
    """Return every set of ``t`` parties; each has a key known to exactly the parties outside it."""
    return tuple(frozenset(c) for c in combinations(range(n), t))


@cache
def prss_coefficient(p: int, excluded: frozenset[int], party: int) -> int:
    """Return ``f_A(x_party)`` for the degree-``t`` polynomial with ``f_A(0) = 1``, zero on ``A``."""
    x = party + 1
    value = 1
    for a in excluded:
        xa = a + 1
        value = value * (xa - x) % p * pow(xa, -1, p) % p
    return value
