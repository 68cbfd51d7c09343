"""Matrix completion with nuclear-norm penalty: solver, λ path, cross-validation, estimator."""

from __future__ import annotations

import numpy as np
import pytest

from veil.analytics.causal import PanelData
from veil.analytics.causal._lowrank import fit_twfe_lowrank
from veil.analytics.causal.mc import (
    MatrixCompletion,
    mcnnm_cv,
    mcnnm_fit,
    mcnnm_lambda_max,
    mcnnm_lambda_path,
)
from veil.errors import ConfigError, EstimationError


def low_rank_panel(seed: int = 0, n: int = 24, t: int = 16, noise: float = 0.05):
    """Return (Y, mask, truth): two-way effects + rank-2 part + noise, 10% of cells missing."""
    rng = np.random.default_rng(seed)
    truth = (
        rng.normal(size=(n, 1))
        + rng.normal(size=(1, t))
        + rng.normal(size=(n, 2)) @ rng.normal(size=(2, t))
    )
    Y = truth + noise * rng.normal(size=(n, t))
    mask = rng.random((n, t)) > 0.1
    return Y, mask, truth


def test_the_lambda_path_is_mcpanels_log_grid_ending_at_zero() -> None:
    """n−1 log-spaced values from λ_max down to λ_max·1e-3, then 0."""
    path = mcnnm_lambda_path(2.0, 5)
    assert path.shape == (5,)
    assert path[0] == pytest.approx(2.0)
    assert path[-2] == pytest.approx(2.0e-3)
    assert path[-1] == 0.0
    np.testing.assert_allclose(np.diff(np.log(path[:-1])), -3 * np.log(10) / 3)


def test_at_lambda_max_the_low_rank_part_is_zero_and_below_it_is_not() -> None:
    """λ_max is the smallest penalty with L̂ = 0, as in MCPanel."""
    Y, mask, _ = low_rank_panel()
    lam_max = mcnnm_lambda_max(Y, mask)
    at = mcnnm_fit(Y, mask, lam_max * 1.0001)
    below = mcnnm_fit(Y, mask, lam_max * 0.5)
    assert np.abs(at.L).max() < 1e-8
    assert np.linalg.matrix_rank(below.L, tol=1e-6) >= 1


def test_missing_cells_are_completed_close_to_the_truth() -> None:
    """With a small penalty the held-out cells are predicted within a few noise sds."""
    Y, mask, truth = low_rank_panel(noise=0.05)
    fit = mcnnm_cv(Y, mask, n_lambda=30).fit
    err = (fit.predict() - truth)[~mask]
    assert np.sqrt(np.mean(err**2)) < 0.25


def test_coordinate_descent_and_the_accelerated_solver_reach_the_same_optimum() -> None:
    """MCPanel's cyclic updates and the FISTA solver shared with TROP agree on the objective."""
    Y, mask, _ = low_rank_panel(seed=1)
    lam = 0.02
    cd = mcnnm_fit(Y, mask, lam, tol=1e-13, max_iter=200_000)
    n_obs = mask.sum()
    acc = fit_twfe_lowrank(Y, mask[None].astype(float), lam * n_obs, tol=1e-10, max_iter=100_000)
    np.testing.assert_allclose(cd.predict(), acc.fitted[0], atol=2e-4)


def test_cross_validation_is_reproducible_and_picks_a_point_of_its_path() -> None:
    """The same seed gives the same folds and the same λ; the score has one value per λ."""
    Y, mask, _ = low_rank_panel(seed=2)
    a = mcnnm_cv(Y, mask, n_lambda=10, rng=3)
    b = mcnnm_cv(Y, mask, n_lambda=10, rng=3)
    assert a.lam == b.lam
    assert a.lam in a.lambdas
    assert a.cv_mse.shape == (10,)
    assert a.cv_mse[list(a.lambdas).index(a.lam)] == a.cv_mse.min()


def test_a_covariate_coefficient_is_recovered() -> None:
    """A time-varying covariate with coefficient 1.5 is estimated close to 1.5."""
    rng = np.random.default_rng(4)
    Y, mask, _ = low_rank_panel(seed=4)
    X = rng.normal(size=(*Y.shape, 1))
    fit = mcnnm_fit(Y + 1.5 * X[..., 0], mask, 0.01, X=X)
    assert fit.gamma[0] == pytest.approx(1.5, abs=0.05)


def test_the_estimator_matches_the_published_prop99_value(prop99) -> None:
    """Prop 99: MC-NNM ≈ −20.2 packs per capita (Arkhangelsky et al. 2021, Table 1)."""
    est = MatrixCompletion(n_lambda=20).fit(prop99)
    assert est.att_ == pytest.approx(-20.2, abs=0.5)
    details = est.result_.details
    assert details["lambda"] in details["lambdas"]
    assert details["lambda_nn"] == pytest.approx(details["lambda"] * (prop99.W == 0).sum())


def test_a_fixed_penalty_skips_cross_validation(prop99) -> None:
    """penalty= is used as given; no path is stored."""
    est = MatrixCompletion(penalty=0.05).fit(prop99)
    assert est.result_.details["lambda"] == 0.05
    assert "cv_mse" not in est.result_.details


def test_general_assignment_patterns_are_accepted() -> None:
    """Treatment switching on and off is fine: treated cells are just missing."""
    Y, _, _ = low_rank_panel(seed=5)
    W = np.zeros(Y.shape, dtype=int)
    W[0, [5, 9]] = 1
    W[3, 12:] = 1
    est = MatrixCompletion(penalty=0.05).fit(PanelData(Y=Y, W=W))
    assert np.isfinite(est.att_)
    assert len(est.result_.effects) == int(W.sum())


def test_a_unit_treated_in_every_period_is_refused_by_name() -> None:
    """A unit with no untreated cell cannot have its unit effect estimated."""
    Y, _, _ = low_rank_panel(seed=6)
    W = np.zeros(Y.shape, dtype=int)
    W[0, :] = 1
    with pytest.raises(EstimationError, match="untreated cell in every unit and period"):
        MatrixCompletion(penalty=0.1).fit(PanelData(Y=Y, W=W))


def test_a_negative_penalty_is_named() -> None:
    """penalty must be ≥ 0; the error names it and the value."""
    Y, mask, _ = low_rank_panel()
    W = (~mask).astype(int)
    with pytest.raises(ConfigError, match=r"'penalty' parameter .* Got -1\.0"):
        MatrixCompletion(penalty=-1.0).fit(PanelData(Y=Y, W=W))
