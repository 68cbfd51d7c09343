"""Scalar GF(p) arithmetic with its specification, proved by Nagini for every input.

This is the reference that :class:`veil.field.Field` (vectorized, numpy ``uint64``) is tested
against in ``tests/verify/test_field_matches_proved.py``; the vectorized kernels themselves are
proved in ``verify/z3/field_kernels.py``. Elements are canonical: integers in ``[0, p)``, as in
``Field``. Nagini's ``int`` is the mathematical integer (no overflow), and ``%`` with a positive
modulus is Python's (a result in ``[0, p)``).

``p > 1`` is all the proofs need; that ``p`` is prime (so every non-zero element has an inverse)
is not proved here: ``inv`` certifies each inverse it returns and returns 0 when there is none.
Nagini proves partial correctness: loops are not proved to terminate (Euclid's loop does, since
``r1`` strictly decreases; the tests exercise it).
""" 

from nagini_contracts.contracts import *


def add(a: int, b: int, p: int) -> int:
    """Return ``a + b mod p`` for canonical ``a, b`` in ``[0, p)``."""
    Requires(p > 1)
    Requires(0 <= a and a < p and 0 <= b and b < p)
    Ensures(Result() == (a + b) % p)
    Ensures(0 <= Result() and Result() < p)
    s = a + b
    if s >= p:
        return s - p
    return s


def sub(a: int, b: int, p: int) -> int:
    """Return ``a - b mod p`` for canonical ``a, b``."""
    Requires(p > 1)
    Requires(0 <= a and a < p and 0 <= b and b < p)
    Ensures(Result() == (a - b) % p)
    Ensures(0 <= Result() and Result() < p)
    d = a - b
    if d < 0:
        return d + p
    return d


def neg(a: int, p: int) -> int:
    """Return ``-a mod p`` for canonical ``a``."""
    Requires(p > 1)
    Requires(0 <= a and a < p)
    Ensures(Result() == (0 - a) % p)
    Ensures(0 <= Result() and Result() < p)
    if a == 0:
        return 0
    return p - a


def mul(a: int, b: int, p: int) -> int:
    """Return ``a * b mod p`` for canonical ``a, b``."""
    Requires(p > 1)
    Requires(0 <= a and a < p and 0 <= b and b < p)
    Ensures(Result() == (a * b) % p)
    Ensures(0 <= Result() and Result() < p)
    return (a * b) % p


def inv(a: int, p: int) -> int:
    """Return the inverse of ``a`` modulo ``p``, or 0 when none exists (``a`` not coprime to ``p``).

    Extended Euclid finds a candidate; the final check certifies it, so the postcondition holds
    whatever the loop computed. ``Field.inv`` (Montgomery batch inversion) must agree with it.
    """
    Requires(p > 1)
    Requires(0 < a and a < p)
    Ensures(0 <= Result() and Result() < p)
    Ensures(Implies(Result() != 0, (a * Result()) % p == 1))
    r0 = p
    r1 = a
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
