"""Noise calibration: the analytic Gaussian, the discrete Gaussian profile, zCDP conversion."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.dp.calibration import (
    analytic_gaussian_delta,
    analytic_gaussian_sigma,
    calibrate_discrete_gaussian,
    discrete_gaussian_delta,
    round_sigma2_up,
    zcdp_delta,
    zcdp_epsilon,
)


def test_the_analytic_gaussian_sigma_matches_balle_and_wang() -> None:
    """For eps = 1, delta = 1e-5 the analytic sigma is 3.73 (Balle & Wang 2018), below the classical 4.84."""
    sigma = analytic_gaussian_sigma(1.0, 1e-5)
    assert sigma == pytest.approx(3.7306, abs=1e-3)
    assert analytic_gaussian_delta(sigma, 1.0, 1.0) <= 1e-5
    assert analytic_gaussian_delta(sigma * 0.99, 1.0, 1.0) > 1e-5
    assert sigma < math.sqrt(2 * math.log(1.25 / 1e-5))


def _hockey_stick(sigma2: float, eps: float, sens: int) -> float:
    ys = np.arange(-2000, 2001)
    w = np.exp(-(ys.astype(float) ** 2) / (2 * sigma2))
    p = w / w.sum()
    shifted = np.exp(-((ys + sens).astype(float) ** 2) / (2 * sigma2)) / w.sum()
    return float(np.maximum(0, p - math.exp(eps) * shifted).sum())


@pytest.mark.parametrize(("sigma2", "eps", "sens"), [(1.0, 1.0, 1), (9.0, 0.5, 2), (30.0, 2.0, 3)])
def test_the_discrete_gaussian_delta_equals_the_hockey_stick_divergence(sigma2, eps, sens) -> None:
    """Theorem 7 of CKS20 agrees with sum_y max(0, P[y] - e^eps P[y + sens]) computed directly."""
    assert discrete_gaussian_delta(sigma2, eps, sens) == pytest.approx(
        _hockey_stick(sigma2, eps, sens), rel=1e-6
    )


@settings(max_examples=30, deadline=None)
@given(
    sigma=st.floats(min_value=2100, max_value=1e7),
    eps=st.floats(min_value=0.1, max_value=3),
    ratio=st.floats(min_value=0.5, max_value=6),
)
def test_for_large_sigma_the_bound_is_close_to_the_continuous_profile(sigma, eps, ratio) -> None:
    """Above sigma = 2000 the integral bounds stay within 0.1% of the Gaussian profile."""
    sens = max(1, int(sigma / ratio))
    cont = analytic_gaussian_delta(sigma, eps, sens)
    disc = discrete_gaussian_delta(sigma * sigma, eps, sens)
    assert disc == pytest.approx(cont, rel=1e-3, abs=1e-300)


def test_the_calibrated_discrete_gaussian_meets_the_target() -> None:
    """The returned sigma^2 meets delta, barely, and t = floor(sigma) + 1 divides its numerator."""
    sigma2, rho = calibrate_discrete_gaussian(0.7, 1e-6, 5, scalar=True)
    assert discrete_gaussian_delta(float(sigma2), 0.7, 5) <= 1e-6
    assert discrete_gaussian_delta(float(sigma2) * 0.999, 0.7, 5) > 1e-6
    t = math.isqrt(sigma2.numerator // sigma2.denominator) + 1
    assert sigma2.numerator % t == 0
    assert rho == pytest.approx(25 / (2 * float(sigma2)))


@given(st.fractions(min_value=Fraction(1, 4), max_value=10**12))
def test_rounding_sigma2_up_is_tiny_and_keeps_the_sampler_on_its_fast_path(sigma2) -> None:
    """round_sigma2_up never goes down, adds under 1e-6 relative, and t divides the numerator."""
    out = round_sigma2_up(sigma2)
    assert sigma2 <= out <= sigma2 * (1 + Fraction(1, 10**6)) + Fraction(1, 10**6)
    t_before = math.isqrt(sigma2.numerator // sigma2.denominator) + 1
    t_after = math.isqrt(out.numerator // out.denominator) + 1
    if t_after == t_before:  # (rounding can cross an integer sigma only within 2**-24 of it)
        assert out.numerator % t_after == 0


@given(rho=st.floats(min_value=1e-4, max_value=5), delta=st.floats(min_value=1e-12, max_value=0.1))
def test_zcdp_conversion_is_consistent_and_beats_the_simple_bound(rho, delta) -> None:
    """delta(eps(rho, delta)) <= delta, and eps <= rho + 2 sqrt(rho ln(1/delta))."""
    eps = zcdp_epsilon(rho, delta)
    assert zcdp_delta(rho, eps) <= delta * 1.0001
    assert eps <= rho + 2 * math.sqrt(rho * math.log(1 / delta)) + 1e-9
