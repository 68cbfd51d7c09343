"""MUST BE REJECTED by CrossHair: Shamir reconstruction with a wrong Lagrange weight.

The weight of share ``i`` should be ``prod_{j != i} x_j / (x_j - x_i)``; this one uses
``x_j / (x_i - x_j)``. CrossHair must print a counterexample, or ``make verify`` fails.
"""

from __future__ import annotations

P = 2**61 - 1


def _wrong_reconstruct(x1: int, y1: int, x2: int, y2: int) -> int:
    w1 = x2 * pow(x1 - x2, -1, P) % P
    w2 = x1 * pow(x2 - x1, -1, P) % P
    return (w1 * y1 + w2 * y2) % P


def wrong_shamir_round_trip(secret: int, a1: int) -> None:
    assert 0 <= secret < P and 0 <= a1 < P
    y1, y2 = (secret + a1) % P, (secret + 2 * a1) % P
    assert _wrong_reconstruct(1, y1, 2, y2) == secret
