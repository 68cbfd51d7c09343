"""Prove the algebra Shamir sharing and BGW multiplication rest on, with z3 (a model of the maths).

Every claim below is a polynomial identity with integer coefficients in symbolic unknowns
(evaluation points, polynomial coefficients, share values). z3 proves each one over the reals.
An identity between integer polynomials that holds at every real point is an identity of
polynomials (a non-zero polynomial has a non-zero value somewhere in an infinite field), hence
it holds in every commutative ring, in particular in GF(p) for every prime p. Lagrange weights
have denominators; the claims are stated with the denominators multiplied out, and in GF(p) the
denominators are non-zero exactly when the points are distinct, so dividing back is allowed there.

This proves the mathematics for the degrees listed (degree <= 5, so threshold t <= 5 for
reconstruction and t <= 2 for products), for *any* distinct points and any secret and
coefficients. It says nothing about the code: the Nagini proofs (verify/nagini/shamir.py) and the
differential tests (tests/verify/test_shamir_matches_proved.py) connect the code to these formulas.
"""

from __future__ import annotations

from functools import reduce

import z3
from _prove import Claim, main

MAX_DEGREE = 5


def _prod(terms: list[z3.ArithRef]) -> z3.ArithRef:
    return reduce(lambda u, v: u * v, terms, z3.RealVal(1))


def _poly(coefficients: list[z3.ArithRef], x: z3.ArithRef) -> z3.ArithRef:
    acc: z3.ArithRef = z3.RealVal(0)
    for c in reversed(coefficients):  # Horner, like sharing.shamir.share
        acc = acc * x + c
    return acc


def lagrange_at_zero(
    xs: list[z3.ArithRef], ys: list[z3.ArithRef]
) -> tuple[z3.ArithRef, z3.ArithRef]:
    """Return ``(N, D)`` with ``N / D = sum_i ys[i] * prod_{j != i} x_j / (x_j - x_i)``.

    ``D`` is the product of all the weights' denominators, non-zero when the points are distinct.
    """
    n = len(xs)
    dens = [_prod([xs[j] - xs[i] for j in range(n) if j != i]) for i in range(n)]
    nums = [_prod([xs[j] for j in range(n) if j != i]) for i in range(n)]
    terms = [ys[i] * nums[i] * _prod([dens[k] for k in range(n) if k != i]) for i in range(n)]
    return z3.Sum(terms) if n > 1 else terms[0], _prod(dens)


def _claims() -> list[Claim]:
    claims: list[Claim] = []
    for d in range(1, MAX_DEGREE + 1):
        xs = list(z3.Reals(" ".join(f"x{i}" for i in range(d + 1))))
        # Lagrange at 0 is exact on each monomial x^k, k <= d; by linearity on every polynomial
        # of degree <= d, i.e. reconstruct(share(s)) = s from any d + 1 distinct points.
        for k in range(d + 1):
            num, den = lagrange_at_zero(xs, [x**k for x in xs])
            claims.append(
                Claim(
                    f"Lagrange at 0 is exact on x^{k}, {d + 1} distinct points",
                    num == (den if k == 0 else 0),
                )
            )
    t = 2
    f = list(z3.Reals(" ".join(f"f{i}" for i in range(t + 1))))
    g = list(z3.Reals(" ".join(f"g{i}" for i in range(t + 1))))
    xs = list(z3.Reals(" ".join(f"x{i}" for i in range(2 * t + 1))))
    # The pointwise product of two degree-t sharings is a degree-2t sharing of the product of the
    # secrets [BGW88]: h = f*g has degree 2t and h(0) = f(0) g(0).
    h = [
        z3.Sum([f[i] * g[k - i] for i in range(t + 1) if 0 <= k - i <= t]) for k in range(2 * t + 1)
    ]
    y = z3.Real("y")
    claims.append(
        Claim(
            f"f(x) g(x) = h(x) with deg h = 2t and h(0) = f(0) g(0), t = {t}",
            z3.And(_poly(f, y) * _poly(g, y) == _poly(h, y), h[0] == f[0] * g[0]),
        )
    )
    # Additivity and linearity: shares of f + c*g are share(f) + c*share(g), and reconstruction
    # is linear, so reconstructing the sum of sharings gives the sum of the secrets.
    c = z3.Real("c")
    fg = [f[i] + c * g[i] for i in range(t + 1)]
    claims.append(
        Claim(
            "share(f + c g)(x) = share(f)(x) + c share(g)(x)",
            _poly(fg, y) == _poly(f, y) + c * _poly(g, y),
        )
    )
    ys, zs = list(z3.Reals("y0 y1 y2")), list(z3.Reals("z0 z1 z2"))
    n1, den = lagrange_at_zero(xs[:3], [ys[i] + c * zs[i] for i in range(3)])
    n2, _ = lagrange_at_zero(xs[:3], ys)
    n3, _ = lagrange_at_zero(xs[:3], zs)
    claims.append(
        Claim("reconstruct(y + c z) = reconstruct(y) + c reconstruct(z)", n1 == n2 + c * n3)
    )
    # Adding a public constant to every share adds it to the secret: the weights sum to 1.
    num, den = lagrange_at_zero(xs[:3], [c, c, c])
    claims.append(
        Claim("Lagrange weights at 0 sum to 1 (public constants pass through)", num == c * den)
    )
    return claims


if __name__ == "__main__":
    raise SystemExit(main("Shamir / BGW algebra (z3 over a model of the maths)", _claims()))
