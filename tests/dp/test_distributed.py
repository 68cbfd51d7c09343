"""Noise inside the MPC: share calibration, the distribution of summed shares, and the protocol."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from veil.dp.audit import audit
from veil.dp.calibration import zcdp_delta
from veil.dp.distributed import (
    DistributedGaussian,
    DistributedLaplace,
    add_noise,
    kls_rho,
    private_sum,
)
from veil.errors import ConfigError, PartyFailed
from veil.mpc import run_local

ALPHA = 1e-4


def test_one_honest_share_has_the_single_party_zcdp_bound() -> None:
    """With h = 1 the bound is the discrete Gaussian's own rho = Delta^2 / (2 s^2) (tau = 0)."""
    assert kls_rho(100.0, 1, 5.0, 1) == pytest.approx(25 / 200)


def test_more_honest_parties_give_a_smaller_rho() -> None:
    """The bound improves with every honest share (same s)."""
    rhos = [kls_rho(50.0, h, 10.0, 3) for h in (1, 2, 4, 8)]
    assert rhos == sorted(rhos, reverse=True)


def test_calibration_meets_the_target_for_n_minus_t_honest_parties() -> None:
    """The chosen share scale gives (eps, delta) from n - t shares, and no smaller scale would."""
    mech = DistributedGaussian.calibrate(1, "1e-6", 100, n_parties=5, threshold=2)
    s2 = float(mech.sigma2_share)
    assert zcdp_delta(kls_rho(s2, 3, 100.0, 1), 1.0) <= 1e-6
    assert zcdp_delta(kls_rho(s2 * 0.95, 3, 100.0, 1), 1.0) > 1e-6
    assert mech.guarantee.delta == Fraction(1, 10**6)


def test_tolerating_more_corrupt_parties_costs_more_noise_per_share() -> None:
    """t = 3 of 7 needs a larger share than t = 1 of 7."""
    low = DistributedGaussian.calibrate(1, "1e-6", 10, n_parties=7, threshold=1)
    high = DistributedGaussian.calibrate(1, "1e-6", 10, n_parties=7, threshold=3)
    assert high.sigma2_share > low.sigma2_share


def test_a_threshold_of_n_is_refused() -> None:
    """At least one party must be honest."""
    with pytest.raises(ConfigError, match="threshold must be in"):
        DistributedGaussian.calibrate(1, "1e-6", 1, n_parties=3, threshold=3)


def _convolve(pmf: np.ndarray, times: int) -> np.ndarray:
    out = pmf
    for _ in range(times - 1):
        out = np.convolve(out, pmf)
    return out


def test_summed_shares_follow_the_convolution_of_discrete_gaussians(seeded) -> None:
    """Three parties' shares add up to the exact 3-fold convolution of N_Z(0, s^2) (chi-square)."""
    mech = DistributedGaussian.calibrate(2, "1e-3", 3, n_parties=3, threshold=1)
    s2 = float(mech.sigma2_share)
    rng = seeded("ddg-sum")
    total = sum(mech.noise_share(30_000, rng=rng) for _ in range(3))
    width = int(12 * math.sqrt(s2)) + 5
    support = np.arange(-width, width + 1)
    single = np.exp(-(support.astype(float) ** 2) / (2 * s2))
    pmf = _convolve(single / single.sum(), 3)
    values = np.arange(-3 * width, 3 * width + 1)
    observed = np.array([np.count_nonzero(total == v) for v in values], dtype=float)
    keep = pmf * total.size >= 5
    obs = np.append(observed[keep], total.size - observed[keep].sum())
    exp = np.append(pmf[keep] * total.size, total.size * (1 - pmf[keep].sum()))
    assert stats.chisquare(obs, exp).pvalue > ALPHA


@pytest.mark.parametrize(
    ("threshold", "passes"),
    [(7, True), (0, False)],
    ids=["calibrated-for-one-honest", "calibrated-as-if-all-honest"],
)
def test_the_audit_passes_honest_shares_and_catches_shares_calibrated_for_too_many(
    seeded, threshold, passes
) -> None:
    """n = 8 with one honest party: its share alone protects sums 0 vs 1 at (1, 1e-5) only when
    calibrated for t = 7; calibrated for t = 0 (as if all eight were honest) the audit catches it."""
    mech = DistributedGaussian.calibrate(1, "1e-5", 1, n_parties=8, threshold=threshold)
    rng = seeded(f"ddg-audit-{threshold}")
    result = audit(
        lambda n: 1 + mech.noise_share(n, rng=rng),
        lambda n: mech.noise_share(n, rng=rng),
        runs=200_000,
        delta=1e-5,
    )
    assert (result.epsilon_lower <= 1) is passes


def test_laplace_shares_give_pure_dp_from_any_single_honest_party() -> None:
    """Each Laplace share alone has scale Delta/eps; the guarantee has delta = 0."""
    mech = DistributedLaplace.calibrate("0.5", 10, n_parties=3, threshold=2)
    assert mech.scale == 20
    assert mech.guarantee.delta == 0


async def _noisy_zeros(rt, mechanism, size):
    values = np.zeros(size, dtype=np.int64)
    return await private_sum(rt, values, mechanism)


def test_noise_added_inside_the_mpc_has_the_summed_distribution() -> None:
    """Opening 3,000 zero sums from 3 parties gives noise with variance n * s^2; all parties agree."""
    mech = DistributedGaussian.calibrate(1, "1e-5", 4, n_parties=3, threshold=1)
    results = run_local(_noisy_zeros, 3, 1, args=(mech, 3000))
    assert all(np.array_equal(results[0], r) for r in results)
    noise = results[0]
    expected_var = 3 * float(mech.sigma2_share)
    ratio = noise.var() / expected_var
    assert 0.9 < ratio < 1.1
    assert abs(noise.mean()) < 4 * math.sqrt(expected_var / noise.size)


async def _sum_program(rt, mechanism, values):
    return await private_sum(rt, np.array([values[rt.party_id]]), mechanism)


def test_private_sum_releases_the_total_plus_noise_to_every_party() -> None:
    """Three parties' values 100, 250, 400: every party opens the same noisy total near 750."""
    mech = DistributedGaussian.calibrate(1, "1e-6", 10, n_parties=3, threshold=1)
    results = run_local(_sum_program, 3, 1, args=(mech, [100, 250, 400]))
    totals = {int(r[0]) for r in results}
    assert len(totals) == 1
    assert abs(totals.pop() - 750) < 8 * math.sqrt(mech.total_variance)


async def _wrong_parties(rt, mechanism):
    secret = (await rt.input_all(np.zeros(1, dtype=np.int64)))[0]
    return await add_noise(rt, secret, mechanism)


def test_noise_calibrated_for_other_parties_is_refused() -> None:
    """A mechanism for 5 parties cannot run in a 3-party runtime."""
    mech = DistributedGaussian.calibrate(1, "1e-6", 1, n_parties=5, threshold=2)
    with pytest.raises(PartyFailed, match="calibrated for 5 parties"):
        run_local(_wrong_parties, 3, 1, args=(mech,))


def test_noise_calibrated_for_fewer_corrupt_parties_than_the_runtime_tolerates_is_refused() -> None:
    """The runtime tolerates t = 2 of 5; noise for t = 1 would be too little."""
    mech = DistributedGaussian.calibrate(1, "1e-6", 1, n_parties=5, threshold=1)
    with pytest.raises(PartyFailed, match="calibrated for t = 1"):
        run_local(_wrong_parties, 5, 2, args=(mech,))
