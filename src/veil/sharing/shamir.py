"""(t, n) Shamir secret sharing over GF(p), vectorized over many secrets.

A secret ``s`` is the constant term of a random polynomial ``f`` of degree at most ``t`` with
``f(0) = s``; party ``i`` (numbered from 0) holds the share ``f(i + 1)`` [Shamir79]. Any ``t + 1``
shares determine ``f`` and so ``s`` (Lagrange interpolation at 0). Any ``t`` shares are uniformly
distributed and independent of ``s``: privacy against ``t`` colluding parties is
information-theoretic (it holds against unbounded adversaries), for every ``0 <= t < n < p``.

Shares are Reed–Solomon codewords, so with ``m`` shares up to ``floor((m - t - 1) / 2)`` wrong ones
can be corrected and their holders named (:func:`robust_reconstruct`, [BW86]); with ``t < n/3``
and all ``n`` shares present that covers ``t`` cheaters.

Layout: every function takes and returns ``uint64`` arrays of canonical elements; the first axis of a
share array is the party axis, the remaining axes are the secrets' own shape.

References
----------
[Shamir79] A. Shamir, "How to share a secret", Communications of the ACM 22(11), 1979.
[BW86] L. R. Welch, E. R. Berlekamp, "Error correction for algebraic block codes",
US Patent 4,633,470, 1986 (the Berlekamp–Welch decoder).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.errors import DecodingError, SharingError
from veil.field import Csprng, Field, FieldArray
from veil.sharing._common import apply_matrix, as_elements, check_party_ids, resolve_rng

__all__ = [
    "correctable_errors",
    "evaluation_matrix",
    "lagrange_coefficients",
    "lagrange_matrix",
    "reconstruct",
    "robust_reconstruct",
    "share",
    "vandermonde",
]


def _check_threshold(field: Field, threshold: int, n_parties: int) -> None:
    if not 0 <= threshold < n_parties:
        raise SharingError(
            f"threshold must satisfy 0 <= threshold < n_parties, got threshold={threshold}, "
            f"n_parties={n_parties}",
            hint="t parties learn nothing and t + 1 reconstruct; use t < n/2 for multiplication",
            field="threshold",
        )
    if n_parties >= field.p:
        raise SharingError(
            f"n_parties={n_parties} needs distinct non-zero points, so it must be below p = {field.p}",
            hint="use a larger prime",
            field="n_parties",
        )


def share(
    field: Field,
    secrets: object,
    *,
    threshold: int,
    n_parties: int,
    rng: Csprng | None = None,
) -> FieldArray:
    """Split every secret into ``n_parties`` Shamir shares of degree ``threshold``.

    Parameters
    ----------
    field : Field
        The field GF(p); requires ``n_parties < p``.
    secrets : array_like of int, any shape ``S``
        Elements of ``[0, p)`` (encode signed or real values with :mod:`veil.encoding`).
    threshold : int
        ``t``, with ``0 <= t < n_parties``: any ``t`` shares reveal nothing, ``t + 1`` reconstruct.
    n_parties : int
        ``n``, the number of shares per secret.
    rng : Csprng, optional
        Source of the polynomial coefficients; default a fresh OS-keyed CSPRNG.

    Returns
    -------
    FieldArray, shape ``(n_parties, *S)``
        Row ``i`` is party ``i``'s share, the polynomial evaluated at ``x = i + 1``.

    Raises
    ------
    SharingError
        If ``threshold`` or ``n_parties`` is out of range.
    FieldError
        If a secret is not an element of ``[0, p)`` (its flat position is named).
    """
    _check_threshold(field, threshold, n_parties)
    s = as_elements(field, secrets, "secrets")
    # f(x) = s + a_1 x + ... + a_t x^t with a_1..a_t uniform and independent [Shamir79].
    coefficients = field.random((threshold, *s.shape), resolve_rng(rng))
    out = np.empty((n_parties, *s.shape), dtype=np.uint64)
    for party in range(n_parties):
        x = np.array(party + 1, dtype=np.uint64)
        acc = s
        if threshold:
            # Horner's rule: f(x) = s + x (a_1 + x (a_2 + ... + x a_t)).
            acc = coefficients[threshold - 1]
            for k in range(threshold - 2, -1, -1):
                acc = field.add(field.mul(acc, x), coefficients[k])
            acc = field.add(field.mul(acc, x), s)
        out[party] = acc
    return out


def vandermonde(field: Field, points: Sequence[int], degree: int) -> FieldArray:
    """Return ``V[i, k] = points[i] ** k mod p`` for ``k = 0..degree``, shape ``(len(points), degree + 1)``."""
    p = field.p
    return np.array(
        [[pow(int(x), k, p) for k in range(degree + 1)] for x in points], dtype=np.uint64
    ).reshape(len(points), degree + 1)


def evaluation_matrix(field: Field, parties: Sequence[int], degree: int) -> FieldArray:
    """Return the matrix mapping coefficients ``(c_0..c_degree)`` to the parties' shares.

    Row ``r`` evaluates a polynomial at party ``parties[r]``'s point ``parties[r] + 1``;
    shape ``(len(parties), degree + 1)``.
    """
    ids = check_party_ids(field, parties)
    return vandermonde(field, [i + 1 for i in ids], degree)


def lagrange_matrix(field: Field, parties: Sequence[int], at: Sequence[int]) -> FieldArray:
    """Return the weights that interpolate the parties' shares and evaluate the result at ``at``.

    Parameters
    ----------
    parties : sequence of int, length ``m``
        Distinct party ids (0-based; party ``i`` holds the point ``x = i + 1``).
    at : sequence of int, length ``r``
        Evaluation points ``x`` (not party ids): 0 for the secret, ``j + 1`` for party ``j``'s share.

    Returns
    -------
    FieldArray, shape ``(r, m)``
        ``W[k, i] = prod_{j != i} (at[k] - x_j) / (x_i - x_j) mod p``, so ``W @ shares`` evaluates
        the unique polynomial of degree ``< m`` through the shares.
    """
    ids = check_party_ids(field, parties)
    p = field.p
    xs = [i + 1 for i in ids]
    # The denominators do not depend on the evaluation point: prod_{j != i} (x_i - x_j).
    denominators = []
    for i, xi in enumerate(xs):
        d = 1
        for j, xj in enumerate(xs):
            if j != i:
                d = d * (xi - xj) % p
        denominators.append(pow(d, -1, p))
    rows = []
    for point in at:
        z = int(point) % p
        row = []
        for i, _ in enumerate(xs):
            num = 1
            for j, xj in enumerate(xs):
                if j != i:
                    num = num * (z - xj) % p
            row.append(num * denominators[i] % p)
        rows.append(row)
    return np.array(rows, dtype=np.uint64).reshape(len(rows), len(xs))


def lagrange_coefficients(field: Field, parties: Sequence[int], at: int = 0) -> FieldArray:
    """Return the Lagrange weights ``lambda_i`` with ``f(at) = sum_i lambda_i f(x_i)``, shape ``(m,)``.

    ``parties`` are 0-based ids (points ``id + 1``); ``at`` is a point ``x``, by default 0 (the secret).
    Exact for every polynomial of degree ``< len(parties)``.
    """
    weights: FieldArray = lagrange_matrix(field, parties, [at])[0]
    return weights


def _check_shares(field: Field, shares: object, ids: list[int]) -> FieldArray:
    arr = as_elements(field, shares, "shares")
    if arr.ndim == 0 or arr.shape[0] != len(ids):
        raise SharingError(
            f"shares must have one row per listed party: {len(ids)} parties but shares of shape "
            f"{arr.shape}",
            hint="stack the shares so that shares[k] belongs to parties[k]",
            field="shares",
        )
    if not ids:
        raise SharingError("cannot reconstruct from zero shares", field="parties")
    return arr


def reconstruct(field: Field, shares: object, parties: Sequence[int]) -> FieldArray:
    """Recover the secrets by Lagrange interpolation at 0 [Shamir79].

    Parameters
    ----------
    shares : FieldArray, shape ``(m, *S)``
        ``shares[k]`` is party ``parties[k]``'s share of every secret.
    parties : sequence of int, length ``m``
        Distinct 0-based party ids. For a degree-``d`` sharing pass at least ``d + 1`` of them (``t + 1``
        for a fresh sharing, ``2t + 1`` for a product of two); with fewer the result is meaningless.

    Returns
    -------
    FieldArray, shape ``S``

    Notes
    -----
    No redundancy is checked: a wrong share gives a wrong secret. Use :func:`robust_reconstruct`
    when shares may come from cheaters.
    """
    ids = check_party_ids(field, parties)
    arr = _check_shares(field, shares, ids)
    weights = lagrange_coefficients(field, ids, 0)
    secrets: FieldArray = apply_matrix(field, weights.reshape(1, -1), arr)[0]
    return secrets


def correctable_errors(n_shares: int, threshold: int) -> int:
    """Return how many of ``m`` shares of a degree-``t`` sharing can be corrected: ``floor((m - t - 1) / 2)``."""
    return max(0, (n_shares - threshold - 1) // 2)


def robust_reconstruct(
    field: Field,
    shares: object,
    parties: Sequence[int],
    *,
    threshold: int,
    max_errors: int | None = None,
) -> tuple[FieldArray, list[int]]:
    """Recover the secrets from shares of which some may be wrong, and name the wrong ones.

    Parameters
    ----------
    shares : FieldArray, shape ``(m, *S)``
        ``shares[k]`` is party ``parties[k]``'s share of every secret.
    parties : sequence of int, length ``m``
        Distinct 0-based party ids.
    threshold : int
        The sharing's degree ``t``; requires ``m >= t + 1``.
    max_errors : int, optional
        Correction radius ``e``, default and maximum ``floor((m - t - 1) / 2)``. A smaller radius trades
        correction for detection (``e = 0``: refuse any inconsistency).

    Returns
    -------
    secrets : FieldArray, shape ``S``
    wrong : list of int
        Sorted ids of the parties whose share of at least one secret was wrong (and corrected).

    Raises
    ------
    DecodingError
        If some secret's shares disagree with every degree-``t`` polynomial in more than ``e`` places.

    Notes
    -----
    Guarantee, per secret, with ``w`` wrong shares: if ``w <= e`` the secret is correct and the wrong
    holders are named; if ``e < w <= m - t - 1 - e`` a :class:`DecodingError` is raised (never a wrong
    value); beyond that no decoder can tell a wrong codeword from a right one.

    Vectorized: all columns are first checked at once (interpolate from ``t + 1`` shares, evaluate
    at the others). Inconsistent columns are decoded by Berlekamp–Welch [BW86], one column per distinct
    error pattern: the error locations found for one column are tried on all pending columns at once.
    """
    ids = check_party_ids(field, parties)
    arr = _check_shares(field, shares, ids)
    m = len(ids)
    if not 0 <= threshold < m:
        raise SharingError(
            f"robust reconstruction of a degree-{threshold} sharing needs at least {threshold + 1} "
            f"shares, got {m}",
            hint="collect more shares",
            field="shares",
        )
    bound = correctable_errors(m, threshold)
    e = bound if max_errors is None else max_errors
    if not 0 <= e <= bound:
        raise SharingError(
            f"max_errors must be in [0, {bound}] for {m} shares at threshold {threshold}, got {e}",
            hint="m shares of a degree-t sharing correct at most floor((m - t - 1) / 2) errors",
            field="max_errors",
        )
    shape = arr.shape[1:]
    flat = arr.reshape(m, -1)
    k = threshold + 1
    secrets = apply_matrix(field, lagrange_matrix(field, ids[:k], [0]), flat[:k])[0]
    if m == k:
        return secrets.reshape(shape), []
    # Consistency of every column at once: the interpolant of the first t + 1 shares must pass
    # through the other m - t - 1 shares (a Reed–Solomon syndrome check).
    predicted = apply_matrix(
        field, lagrange_matrix(field, ids[:k], [i + 1 for i in ids[k:]]), flat[:k]
    )
    pending = np.flatnonzero(np.any(predicted != flat[k:], axis=0))
    wrong: set[int] = set()
    xs = [i + 1 for i in ids]
    while pending.size:
        column = int(pending[0])
        located = _berlekamp_welch(
            field, xs, [int(v) for v in flat[:, column]], threshold, e, column
        )
        good = [r for r in range(m) if r not in located]
        base, others = good[:k], good[k:]
        sub = flat[:, pending]
        base_ids = [ids[r] for r in base]
        passes = np.ones(pending.size, dtype=bool)
        if others:
            check = apply_matrix(
                field, lagrange_matrix(field, base_ids, [ids[r] + 1 for r in others]), sub[base]
            )
            passes = np.all(check == sub[others], axis=0)
        solved = sub[:, passes]
        secrets[pending[passes]] = apply_matrix(
            field, lagrange_matrix(field, base_ids, [0]), solved[base]
        )[0]
        if located:
            at_located = apply_matrix(
                field, lagrange_matrix(field, base_ids, [ids[r] + 1 for r in located]), solved[base]
            )
            differs = np.any(at_located != solved[located], axis=1)
            wrong.update(ids[r] for r, d in zip(located, differs.tolist(), strict=True) if d)
        pending = pending[~passes]
    return secrets.reshape(shape), sorted(wrong)


def _berlekamp_welch(
    field: Field, xs: list[int], ys: list[int], degree: int, max_errors: int, column: int
) -> list[int]:
    """Return the row indices of the wrong values in one received word, or raise DecodingError [BW86].

    Finds an error locator E (monic, degree e) and Q (degree <= e + t) with Q(x_i) = y_i E(x_i) for
    every i; then f = Q / E, and the rows where f(x_i) != y_i are the errors.
    """
    p = field.p
    m = len(xs)
    e = max_errors
    # Unknowns: q_0..q_{e+t}, then E's low coefficients e_0..e_{e-1} (E is monic) [BW86].
    n_q = e + degree + 1
    system = []
    for x, y in zip(xs, ys, strict=True):
        row = [pow(x, j, p) for j in range(n_q)]
        row += [(-y * pow(x, j, p)) % p for j in range(e)]
        row.append(y * pow(x, e, p) % p)  # right-hand side: y_i x_i^e
        system.append(row)
    solution = _solve_mod_p(system, n_q + e, p)
    if solution is not None:
        q = solution[:n_q]
        locator = [*solution[n_q:], 1]
        f, remainder = _poly_divmod(q, locator, p)
        if not any(remainder):
            located = [r for r in range(m) if _poly_eval(f, xs[r], p) != ys[r]]
            if len(located) <= e:
                return located
    raise DecodingError(
        f"the shares of secret {column} (flat index) disagree with every degree-{degree} polynomial in "
        f"more than {e} places: at least {e + 1} corrections needed, at most {e} allowed "
        f"({m} shares at threshold {degree} correct floor((m - t - 1) / 2))",
        hint="too many parties sent wrong shares to recover the secret; abort and investigate, "
        "or collect more shares",
        needed=e + 1,
        allowed=e,
        column=column,
    )


def _solve_mod_p(system: list[list[int]], n_unknowns: int, p: int) -> list[int] | None:
    """Return one solution of the augmented system over GF(p) (free variables 0), or None if inconsistent."""
    rows = [r[:] for r in system]
    pivots: list[int] = []
    r = 0
    for c in range(n_unknowns):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] % p), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        inv = pow(rows[r][c], -1, p)
        rows[r] = [v * inv % p for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c]:
                factor = rows[i][c]
                rows[i] = [(a - factor * b) % p for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(c)
        r += 1
        if r == len(rows):
            break
    if any(row[-1] % p for row in rows[r:]):
        return None
    solution = [0] * n_unknowns
    for i, c in enumerate(pivots):
        solution[c] = rows[i][-1]
    return solution


def _poly_divmod(num: list[int], den: list[int], p: int) -> tuple[list[int], list[int]]:
    """Divide polynomials (coefficient lists, lowest degree first) over GF(p); ``den`` is monic."""
    rem = num[:]
    d = len(den) - 1
    if len(rem) <= d:
        return [0], rem
    quotient = [0] * (len(rem) - d)
    for k in range(len(rem) - 1, d - 1, -1):
        coefficient = rem[k] % p
        if coefficient:
            quotient[k - d] = coefficient
            for j in range(d + 1):
                rem[k - d + j] = (rem[k - d + j] - coefficient * den[j]) % p
    return quotient, rem[:d]


def _poly_eval(coefficients: list[int], x: int, p: int) -> int:
    acc = 0
    for c in reversed(coefficients):
        acc = (acc * x + c) % p
    return acc
