"""Exact samplers: each empirical distribution matches its exact pmf (chi-square, fixed seeds)."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from veil.dp import samplers
from veil.errors import ConfigError
from veil.field import Csprng

# A chi-square p-value below this fails a test. Seeds are fixed, so every run gives the same value.
ALPHA = 1e-4


def seeded(label: str) -> Csprng:
    """Return a reproducible stream for one test (tests only: a seeded stream is predictable)."""
    return Csprng(seed=label.encode().ljust(32, b"\0")[:32])


def chi_square_p(
    draws: np.ndarray, pmf: Callable[[int], float], min_expected: float = 5.0
) -> float:
    """Return the chi-square p-value of integer draws against ``pmf``.

    One cell per value whose expected count is at least ``min_expected``; the rest of the mass
    goes into a lower-tail and an upper-tail cell, pooled into their neighbours when too small.
    """
    n = draws.size
    lo, hi = int(draws.min()), int(draws.max())
    while n * pmf(lo - 1) >= min_expected:
        lo -= 1
    while n * pmf(hi + 1) >= min_expected:
        hi += 1
    inner = [k for k in range(lo, hi + 1) if n * pmf(k) >= min_expected]
    a, b = inner[0], inner[-1]
    p_inner = [pmf(k) for k in range(a, b + 1)]
    p_upper = _upper_tail(pmf, b)
    observed = [int(np.count_nonzero(draws < a))]
    expected = [n * max(1.0 - sum(p_inner) - p_upper, 0.0)]
    for k, p in zip(range(a, b + 1), p_inner, strict=True):
        observed.append(int(np.count_nonzero(draws == k)))
        expected.append(n * p)
    observed.append(int(np.count_nonzero(draws > b)))
    expected.append(n * p_upper)
    obs, exp = np.array(observed, float), np.array(expected, float)
    if exp[0] < min_expected:
        obs[1] += obs[0]
        exp[1] += exp[0]
        obs, exp = obs[1:], exp[1:]
    if exp[-1] < min_expected:
        obs[-2] += obs[-1]
        exp[-2] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    exp *= obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


def _upper_tail(pmf: Callable[[int], float], b: int) -> float:
    total, k = 0.0, b + 1
    while True:
        p = pmf(k)
        total += p
        if p < 1e-18 * max(total, 1e-300) or p == 0.0:
            return total
        k += 1


def laplace_pmf(scale: Fraction) -> Callable[[int], float]:
    q = math.exp(-1 / float(scale))
    return lambda x: (1 - q) / (1 + q) * q ** abs(x)


def geometric_pmf(scale: Fraction) -> Callable[[int], float]:
    q = math.exp(-1 / float(scale))
    return lambda k: (1 - q) * q**k if k >= 0 else 0.0


def gaussian_pmf(sigma2: Fraction) -> Callable[[int], float]:
    s2 = float(sigma2)
    bound = int(40 * math.sqrt(s2)) + 40
    norm = sum(math.exp(-(x * x) / (2 * s2)) for x in range(-bound, bound + 1))
    return lambda x: math.exp(-(x * x) / (2 * s2)) / norm


@pytest.mark.parametrize("scale", [Fraction(1), Fraction(1, 3), Fraction(5, 2), Fraction(7)])
def test_discrete_laplace_matches_its_pmf(scale: Fraction) -> None:
    """Discrete Laplace draws fit P[x] = (1-q)/(1+q) q^|x|, q = exp(-1/scale)."""
    draws = samplers.discrete_laplace(scale, 40_000, rng=seeded(f"dlap{scale}"))
    assert chi_square_p(draws, laplace_pmf(scale)) > ALPHA


@pytest.mark.parametrize("scale", [Fraction(1), Fraction(2, 3), Fraction(4)])
def test_geometric_matches_its_pmf(scale: Fraction) -> None:
    """Geometric draws fit P[k] = (1-q) q^k on k >= 0."""
    draws = samplers.geometric(scale, 40_000, rng=seeded(f"geo{scale}"))
    assert draws.min() >= 0
    assert chi_square_p(draws, geometric_pmf(scale)) > ALPHA


@pytest.mark.parametrize("sigma2", [Fraction(1, 4), Fraction(1), Fraction(10, 3), Fraction(25)])
def test_discrete_gaussian_matches_its_pmf(sigma2: Fraction) -> None:
    """Discrete Gaussian draws fit P[x] proportional to exp(-x^2 / (2 sigma^2))."""
    draws = samplers.discrete_gaussian(sigma2, 40_000, rng=seeded(f"dg{sigma2}"))
    assert chi_square_p(draws, gaussian_pmf(sigma2)) > ALPHA


def test_discrete_gaussian_with_a_huge_sigma_takes_the_big_integer_path_and_stays_exact() -> None:
    """For sigma^2 = 10^12 the acceptance test needs Python integers; binned draws still fit."""
    sigma2 = Fraction(10**12)
    draws = samplers.discrete_gaussian(sigma2, 20_000, rng=seeded("dg-huge"))
    sigma = 10**6
    edges = np.array([-np.inf, -2, -1, -0.5, 0, 0.5, 1, 2, np.inf]) * sigma
    observed, _ = np.histogram(draws, bins=edges)
    expected = np.diff(stats.norm.cdf(edges / sigma)) * draws.size
    assert stats.chisquare(observed, expected).pvalue > ALPHA


@pytest.mark.parametrize("gamma", [Fraction(0), Fraction(1, 7), Fraction(1), Fraction(7, 3)])
def test_bernoulli_exp_neg_has_mean_exp_minus_gamma(gamma: Fraction) -> None:
    """Bernoulli(exp(-gamma)) draws succeed with frequency exp(-gamma) (exact binomial test)."""
    n = 40_000
    draws = samplers.bernoulli_exp_neg(gamma, n, rng=seeded(f"bexp{gamma}"))
    p = math.exp(-float(gamma))
    assert stats.binomtest(int(draws.sum()), n, p).pvalue > ALPHA


def test_bernoulli_exp_neg_with_a_denominator_above_64_bits_is_still_exact() -> None:
    """A gamma whose denominator exceeds 2**64 goes through Python integers with the same law."""
    gamma = Fraction(2**70 + 1, 2**70 * 3)  # just above 1/3
    n = 4_000
    draws = samplers.bernoulli_exp_neg(gamma, n, rng=seeded("bexp-big"))
    assert stats.binomtest(int(draws.sum()), n, math.exp(-1 / 3)).pvalue > ALPHA


def test_bernoulli_of_a_rational_probability_has_that_frequency() -> None:
    """Bernoulli(3/7) succeeds 3/7 of the time; p = 0 and p = 1 are certain."""
    rng = seeded("bern")
    draws = samplers.bernoulli(Fraction(3, 7), 30_000, rng=rng)
    assert stats.binomtest(int(draws.sum()), draws.size, 3 / 7).pvalue > ALPHA
    assert not samplers.bernoulli(0, 100, rng=rng).any()
    assert samplers.bernoulli(1, 100, rng=rng).all()


def test_the_chi_square_check_rejects_a_sampler_with_the_wrong_scale() -> None:
    """The same test fails when the draws come from scale 1.2 and the pmf says scale 1."""
    draws = samplers.discrete_laplace(Fraction(6, 5), 40_000, rng=seeded("wrong"))
    assert chi_square_p(draws, laplace_pmf(Fraction(1))) < ALPHA


def test_floats_are_read_as_the_decimal_the_user_typed() -> None:
    """scale=0.1 means exactly 1/10, so the noise law is the one for 1/10."""
    draws = samplers.discrete_laplace(0.5, 20_000, rng=seeded("float"))
    assert chi_square_p(draws, laplace_pmf(Fraction(1, 2))) > ALPHA


def test_samplers_without_rng_use_fresh_os_randomness() -> None:
    """Two unseeded calls give different streams (a fresh Csprng each call)."""
    a = samplers.discrete_laplace(1000, 64)
    b = samplers.discrete_laplace(1000, 64)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: samplers.discrete_laplace(0, 1), "scale must be > 0"),
        (lambda: samplers.discrete_laplace(float("nan"), 1), "must be finite"),
        (lambda: samplers.discrete_gaussian(-1, 1), "sigma2 must be > 0"),
        (lambda: samplers.bernoulli_exp_neg(-1, 1), "gamma must be >= 0"),
        (lambda: samplers.bernoulli(Fraction(3, 2), 1), "p must be in [0, 1]"),
        (lambda: samplers.geometric(1, -3), "size must be a non-negative integer"),
        (lambda: samplers.discrete_laplace(True, 1), "must be a number"),
    ],
)
def test_bad_parameters_are_refused_with_a_message_naming_them(call, message: str) -> None:
    """Invalid parameters raise ConfigError naming the parameter and the value."""
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_a_zero_size_request_returns_an_empty_array() -> None:
    """size=0 returns an empty int64 array without drawing."""
    out = samplers.discrete_gaussian(3, 0)
    assert out.shape == (0,)
    assert out.dtype == np.int64
