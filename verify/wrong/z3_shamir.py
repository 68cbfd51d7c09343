"""MUST BE REJECTED by z3: two false claims about Shamir algebra, each with a counterexample.

1. A product of two degree-t sharings reconstructed from only 2t points (2t + 1 are needed).
2. Lagrange weights with the sign of the denominator flipped.

``make verify`` fails unless z3 refutes every claim here.
"""

from __future__ import annotations

import z3
from _prove import Claim, main
from shamir_algebra import _poly, lagrange_at_zero

t = 1
f = list(z3.Reals("f0 f1"))
g = list(z3.Reals("g0 g1"))
xs = list(z3.Reals("x0 x1"))
num, den = lagrange_at_zero(xs, [_poly(f, x) * _poly(g, x) for x in xs])
distinct = (xs[0] != xs[1],)
claims = [Claim("product of degree-1 sharings from 2 points", num == f[0] * g[0] * den, distinct)]
# Flipped denominators: weights x_j / (x_i - x_j) instead of x_j / (x_j - x_i) (real division).
ys = [_poly(f, x) for x in xs]
flipped = ys[0] * xs[1] / (xs[0] - xs[1]) + ys[1] * xs[0] / (xs[1] - xs[0])
claims.append(Claim("Lagrange with flipped denominators", flipped == f[0], distinct))

if __name__ == "__main__":
    raise SystemExit(main("deliberately wrong Shamir algebra (z3 must refute)", claims))
