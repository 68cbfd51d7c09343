"""Scalar Shamir share evaluation (Horner) and Lagrange reconstruction at 0, proved by Nagini.

This is the reference that :mod:`veil.sharing.shamir` (vectorized) is tested against in
``tests/verify/test_shamir_matches_proved.py``. Proved here, for every input: Horner's loop
computes the polynomial ``c[0] + x*(c[1] + x*(c[2] + ...))`` reduced mod p (the recursive
specification :func:`poly_value`), and both functions return canonical elements of ``[0, p)``
without an out-of-range index. That Lagrange interpolation at 0 returns ``f(0)`` for a polynomial
of degree ``< len(xs)`` is proved about the formulas in ``verify/z3/shamir_algebra.py`` and
checked on this code by CrossHair (``verify/crosshair/targets.py``).
"""

from typing import List

from nagini_contracts.contracts import *


@Pure
def poly_value(coefficients: List[int], k: int, x: int, p: int) -> int:
    """Specification: ``sum_{i >= k} c[i] x^(i - k) mod p``, by its recursive definition."""
    Requires(Acc(list_pred(coefficients), 1 / 4))
    Requires(0 <= k and k <= len(coefficients) and p > 1)
    if k == len(coefficients):
        return 0
    return (coefficients[k] + x * poly_value(coefficients, k + 1, x, p)) % p


def evaluate(coefficients: List[int], x: int, p: int) -> int:
    """Return the polynomial with these coefficients (constant term first) at ``x``, mod p."""
    Requires(Acc(list_pred(coefficients), 1 / 2))
    Requires(p > 1)
    Ensures(Acc(list_pred(coefficients), 1 / 2))
    Ensures(Result() == poly_value(coefficients, 0, x, p))
    Ensures(0 <= Result() and Result() < p)
    acc = 0
    k = len(coefficients)
    while k > 0:
        Invariant(Acc(list_pred(coefficients), 1 / 2))
        Invariant(0 <= k and k <= len(coefficients))
        Invariant(acc == poly_value(coefficients, k, x, p))
        k = k - 1
        # One unfolding of the specification, as a hint for the solver.
        Assert(poly_value(coefficients, k, x, p)
               == (coefficients[k] + x * poly_value(coefficients, k + 1, x, p)) % p)
        acc = (coefficients[k] + x * acc) % p
    return acc


def inverse(a: int, p: int) -> int:
    """Return the inverse of ``a`` mod ``p`` (certified), or 0 when none exists."""
    Requires(p > 1)
    Ensures(0 <= Result() and Result() < p)
    Ensures(Implies(Result() != 0, (a * Result()) % p == 1))
    r0 = p
    r1 = a % p
    s0 = 0
    s1 = 1
    while r1 != 0:
        Invariant(r1 >= 0)
        q = r0 // r1
        r0, r1 = r1, r0 % r1
        s0, s1 = s1, s0 - q * s1
    candidate = s0 % p
    if (a * candidate) % p != 1:
        return 0
    return candidate


def lagrange_weight(xs: List[int], i: int, p: int) -> int:
    """Return ``prod_{j != i} x_j / (x_j - x_i) mod p``, the weight of share ``i`` at 0."""
    Requires(Acc(list_pred(xs), 1 / 4))
    Requires(0 <= i and i < len(xs) and p > 1)
    Ensures(Acc(list_pred(xs), 1 / 4))
    Ensures(0 <= Result() and Result() < p)
    num = 1
    den = 1
    j = 0
    while j < len(xs):
        Invariant(Acc(list_pred(xs), 1 / 4))
        Invariant(0 <= j and j <= len(xs) and i < len(xs))
        Invariant(0 <= num and num < p and 0 <= den and den < p)
        if j != i:
            num = (num * xs[j]) % p
            den = (den * (xs[j] - xs[i])) % p
        j = j + 1
    return (num * inverse(den, p)) % p


def reconstruct_at_zero(xs: List[int], ys: List[int], p: int) -> int:
    """Return ``sum_i ys[i] * lagrange_weight(xs, i) mod p``: the secret, from shares at ``xs``."""
    Requires(Acc(list_pred(xs), 1 / 2) and Acc(list_pred(ys), 1 / 2))
    Requires(len(xs) == len(ys) and p > 1)
    Ensures(Acc(list_pred(xs), 1 / 2) and Acc(list_pred(ys), 1 / 2))
    Ensures(0 <= Result() and Result() < p)
    total = 0
    i = 0
    while i < len(xs):
        Invariant(Acc(list_pred(xs), 1 / 2) and Acc(list_pred(ys), 1 / 2))
        Invariant(0 <= i and i <= len(xs) and len(xs) == len(ys))
        Invariant(0 <= total and total < p)
        total = (total + ys[i] * lagrange_weight(xs, i, p)) % p
        i = i + 1
    return total
