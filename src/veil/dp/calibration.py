"""Noise calibration: from a target (epsilon, delta) to a Gaussian scale, and between definitions.

Everything here works on *public* parameters (epsilon, delta, sensitivity), never on data, so
floating point is allowed; each function errs on the safe side (more noise, larger reported loss).

* :func:`analytic_gaussian_sigma` — Balle & Wang (ICML 2018), *Improving the Gaussian Mechanism
  for Differential Privacy: Analytical Calibration and Optimal Denoising*, Theorem 8: the smallest
  σ such that continuous Gaussian noise gives (ε, δ)-DP, found from the exact privacy profile
  δ(σ) = Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ) instead of the classical tail bound.
* :func:`discrete_gaussian_delta` — the same profile for the discrete Gaussian on the integers,
  Canonne, Kamath & Steinke (NeurIPS 2020) Theorem 7, an upper bound computed by summing the pmf
  (small σ) or by integral bounds on the sums (large σ).
* :func:`zcdp_delta`, :func:`zcdp_epsilon` — conversion from ρ-zCDP (or Rényi DP) to (ε, δ)-DP,
  [CKS20] Corollary 13 / Proposition 12 (tighter than ε = ρ + 2√(ρ ln 1/δ) of Bun & Steinke).
* :func:`calibrate_discrete_gaussian` — the σ² the Gaussian mechanism uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from scipy import optimize, special

from veil.dp._numbers import ceil_div
from veil.errors import ConfigError
from veil.field import is_prime

__all__ = [
    "analytic_gaussian_delta",
    "analytic_gaussian_sigma",
    "calibrate_discrete_gaussian",
    "discrete_gaussian_delta",
    "round_sigma2_up",
    "round_sigma2_up_until",
    "smallest_passing",
    "zcdp_delta",
    "zcdp_epsilon",
]

# Below this sigma the discrete Gaussian profile is summed term by term; above, integral bounds
# are used (their relative slack is about 1/sigma).
_DIRECT_SUM_MAX_SIGMA = 2000.0
# Terms summed one by one in the concave part of a tail (below sigma).
_DIRECT_TERMS = 4_000_000
# Relative safety margin added to computed deltas to absorb floating-point rounding.
_DELTA_SLACK = 1e-9


def _check(epsilon: float, delta: float, sensitivity: float) -> None:
    if not epsilon > 0 or not math.isfinite(epsilon):
        raise ConfigError(f"epsilon must be > 0 and finite, got {epsilon!r}", field="epsilon")
    if not 0 < delta < 1:
        raise ConfigError(
            f"delta must be in (0, 1), got {delta!r}",
            field="delta",
            hint="Gaussian noise needs delta > 0; use Laplace noise for delta = 0",
        )
    if not sensitivity > 0 or not math.isfinite(sensitivity):
        raise ConfigError(f"sensitivity must be > 0, got {sensitivity!r}", field="sensitivity")


def smallest_passing(
    ok: Callable[[float], bool], lo: float, hi: float, *, grow: float = 2.0, rel: float = 1e-9
) -> float:
    """Return (nearly) the smallest x >= lo with ``ok(x)``, for ``ok`` monotone in x.

    ``hi`` is grown by ``grow`` until it passes, then the interval is bisected to a relative
    width ``rel``. The returned value always passes.
    """
    while not ok(hi):
        lo, hi = hi, hi * grow
    for _ in range(200):
        mid = (lo + hi) / 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
        if hi - lo <= rel * hi:
            break
    return hi


def round_sigma2_up_until(ok: Callable[[float], bool], sigma2: Fraction) -> Fraction:
    """Return σ² rounded up by :func:`round_sigma2_up`, raised further until ``ok(σ²)`` holds.

    Guards against float rounding in ``ok`` undercutting the target after rounding.
    """
    out = round_sigma2_up(sigma2)
    while not ok(float(out)):
        out = round_sigma2_up(out * Fraction(1_000_001, 1_000_000))
    return out


def analytic_gaussian_delta(sigma: float, epsilon: float, sensitivity: float) -> float:
    """Return the exact δ(ε) of continuous Gaussian noise N(0, σ²) for ℓ2 sensitivity Δ.

    Balle & Wang 2018, Theorem 8: δ = Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ).
    """
    a = sensitivity / (2 * sigma)
    b = epsilon * sigma / sensitivity
    first = special.ndtr(a - b)
    second = math.exp(epsilon + special.log_ndtr(-a - b))
    return float(max(first - second, 0.0))


def analytic_gaussian_sigma(epsilon: float, delta: float, sensitivity: float = 1.0) -> float:
    """Return the smallest σ for which N(0, σ²) noise gives (ε, δ)-DP at ℓ2 sensitivity Δ.

    Balle & Wang 2018 (the analytic Gaussian mechanism). Valid for every ε > 0, unlike the
    classical σ = Δ√(2 ln(1.25/δ))/ε, which needs ε < 1 and is loose.

    Examples
    --------
    >>> round(analytic_gaussian_sigma(1.0, 1e-5), 2)
    3.73
    """
    _check(epsilon, delta, sensitivity)
    return smallest_passing(
        lambda sigma: analytic_gaussian_delta(sigma, epsilon, sensitivity) <= delta,
        1e-6 * sensitivity,
        sensitivity,
        rel=1e-12,
    )


def _log_tail_integral(x: float, sigma: float) -> float:
    """Return ln ∫_x^∞ exp(−y²/(2σ²)) dy = ln(σ√(2π) · Q(x/σ))."""
    return math.log(math.sqrt(2 * math.pi) * sigma) + float(special.log_ndtr(-x / sigma))


def _tail_sum_bounds(m: int, sigma: float) -> tuple[float, float]:
    """Return (lower, upper) bounds on ln Σ_{y ≥ m} exp(−y²/(2σ²)) for an integer m.

    Where the Gaussian is convex (y ≥ σ), the trapezoid rule bounds the sum from below by
    I(m) + f(m)/2 and the midpoint rule from above by I(m − 1/2), I the tail integral; the two
    differ by a relative O(1/σ²). Elsewhere the cruder I(m) ≤ S ≤ I(m) + f(m) (m ≥ 0) is used,
    and negative m by symmetry.
    """
    log_f = -(m * m) / (2 * sigma * sigma)
    if m >= sigma + 0.5:
        lower = float(np.logaddexp(_log_tail_integral(m, sigma), log_f - math.log(2)))
        return lower, _log_tail_integral(m - 0.5, sigma)
    if m >= 0:
        start = math.ceil(sigma + 0.5)
        if start - m <= _DIRECT_TERMS:  # sum the concave part exactly, bound the convex tail
            ys = np.arange(m, start, dtype=np.float64)
            head = float(special.logsumexp(-(ys * ys) / (2 * sigma * sigma)))
            tail_lo, tail_up = _tail_sum_bounds(start, sigma)
            return float(np.logaddexp(head, tail_lo)), float(np.logaddexp(head, tail_up))
        lower = _log_tail_integral(m, sigma)
        return lower, float(np.logaddexp(lower, log_f))
    # S(m) = S(0) + S(1) - S(1 - m) for m < 0
    lo0, up0 = _tail_sum_bounds(0, sigma)
    lo1, up1 = _tail_sum_bounds(1, sigma)
    lo_mid, up_mid = _tail_sum_bounds(1 - m, sigma)
    lower = math.exp(lo0) + math.exp(lo1) - math.exp(up_mid)
    upper = math.exp(up0) + math.exp(up1) - math.exp(lo_mid)
    return math.log(max(lower, 1e-300)), math.log(upper)


def discrete_gaussian_delta(sigma2: float, epsilon: float, sensitivity: int) -> float:
    """Return an upper bound on δ(ε) for discrete Gaussian N_Z(0, σ²) noise, integer sensitivity Δ.

    [CKS20] Theorem 7: δ = P[Y > εσ²/Δ − Δ/2] − e^ε · P[Y > εσ²/Δ + Δ/2] with Y ~ N_Z(0, σ²);
    this is exact (tight) for a scalar query whose neighbouring values differ by at most Δ.
    For σ ≤ 2000 the tails are summed term by term; above, each tail sum is bounded by integrals
    (upper bound for the first tail, lower bound for the second and for the normalizer's use).
    """
    if sensitivity < 1:
        raise ConfigError(f"sensitivity must be an integer >= 1, got {sensitivity}")
    sigma = math.sqrt(sigma2)
    m1 = math.floor(epsilon * sigma2 / sensitivity - sensitivity / 2) + 1
    m2 = math.floor(epsilon * sigma2 / sensitivity + sensitivity / 2) + 1
    if sigma <= _DIRECT_SUM_MAX_SIGMA:
        width = int(45 * sigma) + 50
        ys = np.arange(-width, width + 1, dtype=np.float64)
        logw = -(ys * ys) / (2 * sigma2)
        log_norm = float(special.logsumexp(logw))
        first = float(np.exp(special.logsumexp(logw[ys >= m1]) - log_norm)) if m1 <= width else 0.0
        second = float(np.exp(special.logsumexp(logw[ys >= m2]) - log_norm)) if m2 <= width else 0.0
        value = first - math.exp(epsilon) * second
    else:
        # Poisson summation: the normalizer is σ√(2π)(1 + 2Σ_k exp(−2π²σ²k²)) ≥ σ√(2π).
        log_norm_lower = math.log(math.sqrt(2 * math.pi) * sigma)
        log_first_upper = _tail_sum_bounds(m1, sigma)[1]
        log_second_lower = _tail_sum_bounds(m2, sigma)[0]
        value = math.exp(log_first_upper - log_norm_lower) - math.exp(
            epsilon + log_second_lower - log_norm_lower
        )
    return max(value, 0.0) * (1 + _DELTA_SLACK) + 1e-300


def zcdp_delta(rho: float, epsilon: float) -> float:
    """Return δ such that ρ-zCDP implies (ε, δ)-DP ([CKS20] Corollary 13, minimized over α)."""
    if rho <= 0:
        return 0.0

    def log_delta(alpha: float) -> float:
        return (
            (alpha - 1) * (alpha * rho - epsilon)
            + alpha * math.log1p(-1 / alpha)
            - math.log(alpha - 1)
        )

    best = optimize.minimize_scalar(
        log_delta, bounds=(1 + 1e-9, max(2.0, 10 * (epsilon + 1) / rho)), method="bounded"
    )
    return min(1.0, math.exp(float(best.fun)) * (1 + _DELTA_SLACK))


def zcdp_epsilon(
    rho: float, delta: float, *, renyi: list[tuple[float, float]] | None = None
) -> float:
    """Return ε such that ρ-zCDP (or the given Rényi curve) implies (ε, δ)-DP.

    [CKS20] Proposition 12: from (α, ε_α)-Rényi DP, (ε, δ)-DP holds with
    ε = ε_α + (ln(1/δ) + (α−1) ln(1 − 1/α) − ln α)/(α − 1); zCDP is ε_α = αρ for every α > 1.

    Parameters
    ----------
    rho : float
        zCDP parameter (ignored when ``renyi`` is given).
    delta : float
        Target δ in (0, 1).
    renyi : list of (alpha, epsilon_alpha), optional
        A Rényi-DP curve at finitely many orders; the best order is used.
    """
    if not 0 < delta < 1:
        raise ConfigError(f"delta must be in (0, 1), got {delta!r}", field="delta")

    def conversion(alpha: float, eps_alpha: float) -> float:
        return eps_alpha + (
            math.log(1 / delta) + (alpha - 1) * math.log1p(-1 / alpha) - math.log(alpha)
        ) / (alpha - 1)

    if renyi is not None:
        return max(0.0, min(conversion(a, e) for a, e in renyi if a > 1)) * (1 + _DELTA_SLACK)
    if rho <= 0:
        return 0.0
    best = optimize.minimize_scalar(
        lambda a: conversion(a, a * rho),
        bounds=(1 + 1e-9, 1 + 10 * (1 + math.sqrt(math.log(1 / delta) / rho))),
        method="bounded",
    )
    return max(0.0, float(best.fun)) * (1 + _DELTA_SLACK)


def round_sigma2_up(sigma2: Fraction) -> Fraction:
    """Return σ'² ≥ σ² of the form ``t·c/D`` with ``t = ⌊σ⌋ + 1``, integer ``c`` and ``D`` prime.

    More noise never weakens a guarantee. In this form ``t`` divides the numerator, so the discrete
    Gaussian sampler's acceptance test reduces to integers of about 2**49 (64-bit fast path) for
    any σ below 2**28; ``D ≈ 2**24/t`` keeps the rounding below a relative 2**-24 or so.
    """
    t = math.isqrt(sigma2.numerator // sigma2.denominator) + 1
    d = _prime_at_most((1 << 24) // t)
    c = ceil_div(sigma2.numerator * d, sigma2.denominator * t)
    return Fraction(t * c, d)


def _prime_at_most(n: int) -> int:
    """Return the largest prime <= n, or 1 when n < 2."""
    while n >= 2 and not is_prime(n):
        n -= 1
    return max(n, 1)


def calibrate_discrete_gaussian(
    epsilon: float, delta: float, l2_sensitivity: float, *, scalar: bool
) -> tuple[Fraction, float]:
    """Return ``(σ², ρ)`` of discrete Gaussian noise giving (ε, δ)-DP at the given sensitivity.

    Parameters
    ----------
    epsilon, delta : float
        Target guarantee.
    l2_sensitivity : float
        ℓ2 sensitivity of the integer-valued query.
    scalar : bool
        True for a one-dimensional query: σ is the smallest meeting the exact profile of
        [CKS20] Theorem 7 (the analytic calibration of Balle & Wang, for the discrete Gaussian),
        with the sensitivity rounded up to an integer. False for vectors: σ is the smallest for
        which ρ = Δ²/(2σ²)-zCDP ([CKS20] Theorem 14) converts to (ε, δ) by Corollary 13.

    Returns
    -------
    sigma2 : Fraction
        The σ² to sample with (already rounded up by :func:`round_sigma2_up`).
    rho : float
        The zCDP parameter Δ²/(2σ²) of that noise (useful for zCDP accounting).
    """
    _check(epsilon, delta, l2_sensitivity)
    start = analytic_gaussian_sigma(epsilon, delta, l2_sensitivity)
    sens = float(math.ceil(l2_sensitivity)) if scalar else l2_sensitivity
    if scalar:
        int_sens = math.ceil(l2_sensitivity)

        def ok(s2: float) -> bool:
            return discrete_gaussian_delta(s2, epsilon, int_sens) <= delta

    else:

        def ok(s2: float) -> bool:
            return zcdp_delta(sens * sens / (2 * s2), epsilon) <= delta

    best = smallest_passing(ok, (start * 0.5) ** 2, start * start, grow=1.5)
    sigma2 = round_sigma2_up_until(ok, Fraction(best))
    rho = float(sens) ** 2 / (2 * float(sigma2))
    return sigma2, rho
