"""DID / two-way fixed effects: Prop 99, staggered imputation, covariates, regression variance."""

from __future__ import annotations

import numpy as np
import pytest

from veil.analytics.causal import DID, PanelData
from veil.errors import EstimationError


def test_prop99_did_is_minus_27_35(prop99) -> None:
    """The published DID estimate for California ([SDID] Table 1) is −27.35."""
    assert DID().fit(prop99).att_ == pytest.approx(-27.35, abs=0.05)


def test_block_did_is_the_difference_of_four_means(prop99) -> None:
    """Under block assignment τ̂ = (Ȳtr,post − Ȳtr,pre) − (Ȳco,post − Ȳco,pre)."""
    Y, tr, t0 = prop99.Y, prop99.treated_units, prop99.n_pre
    expected = (Y[tr, t0:].mean() - Y[tr, :t0].mean()) - (Y[~tr, t0:].mean() - Y[~tr, :t0].mean())
    assert DID().fit(prop99).att_ == pytest.approx(expected, abs=1e-9)


def test_twfe_and_imputation_agree_under_block_assignment(prop99) -> None:
    """OLS with one τ and the imputation estimator coincide for a block design."""
    assert DID(kind="twfe").fit(prop99).att_ == pytest.approx(DID().fit(prop99).att_, abs=1e-8)


def test_imputation_recovers_heterogeneous_staggered_effects_exactly() -> None:
    """Noise-free staggered panel with effects varying by cell: every τ_it is recovered."""
    rng = np.random.default_rng(1)
    n, t = 12, 10
    W = np.zeros((n, t), dtype=int)
    W[0, 4:] = W[1, 4:] = W[2, 7:] = 1
    tau = rng.uniform(1, 5, size=(n, t)) * W
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + tau
    result = DID().fit(PanelData(Y=Y, W=W)).result_
    rows, cols = np.nonzero(W)
    np.testing.assert_allclose(result.effects["effect"], tau[rows, cols], atol=1e-9)
    assert result.att == pytest.approx(tau[W == 1].mean())


def test_covariates_are_adjusted_for() -> None:
    """With Y = α + β + 1.5·x + 2·W the effect and the coefficient are recovered."""
    rng = np.random.default_rng(2)
    n, t = 15, 8
    x = rng.normal(size=(n, t))
    W = np.zeros((n, t), dtype=int)
    W[-4:, 5:] = 1
    W[-2:, 3:] = 1  # also staggered
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + 1.5 * x + 2.0 * W
    panel = PanelData(Y=Y, W=W, X=x[:, :, None], covariate_names=("x",))
    for kind in ("imputation", "twfe"):
        result = DID(kind=kind).fit(panel).result_
        assert result.att == pytest.approx(2.0, abs=1e-9)
        assert result.details["gamma"]["x"] == pytest.approx(1.5, abs=1e-9)


def test_a_covariate_collinear_with_unit_effects_is_named() -> None:
    """A covariate constant within units cannot be told from α_i."""
    W = np.zeros((5, 4), dtype=int)
    W[0, 2:] = 1
    x = np.repeat(np.arange(5.0)[:, None], 4, axis=1)
    panel = PanelData(
        Y=np.random.default_rng(0).normal(size=(5, 4)), W=W, X=x, covariate_names=("c",)
    )
    with pytest.raises(EstimationError, match=r"collinear.*\['c'\]"):
        DID().fit(panel)


def _dense_ols(panel: PanelData, with_tau: bool, rows: np.ndarray):
    """Reference: OLS on explicit dummies over the selected cells, returns (coef, cov)."""
    n, t = panel.Y.shape
    i, s = np.nonzero(rows)
    D = np.zeros((i.size, n + t - 1 + int(with_tau)))
    D[np.arange(i.size), i] = 1.0
    keep = s > 0
    D[np.arange(i.size)[keep], n + s[keep] - 1] = 1.0
    if with_tau:
        D[:, -1] = panel.W[i, s]
    y = panel.Y[i, s]
    coef, *_ = np.linalg.lstsq(D, y, rcond=None)
    resid = y - D @ coef
    sigma2 = resid @ resid / (i.size - D.shape[1])
    return coef, sigma2 * np.linalg.inv(D.T @ D), D, sigma2


def test_twfe_regression_se_matches_dense_ols(prop99) -> None:
    """The TWFE regression SE equals the classical OLS SE from an explicit dummy design."""
    coef, cov, _, _ = _dense_ols(prop99, True, np.ones_like(prop99.W, dtype=bool))
    result = DID(kind="twfe", se="regression").fit(prop99).result_
    assert result.att == pytest.approx(coef[-1], abs=1e-8)
    assert result.se == pytest.approx(np.sqrt(cov[-1, -1]), rel=1e-8)


def test_imputation_regression_se_matches_the_linear_formula(prop99) -> None:
    """SE² = σ̂²(1/n1 + c'(D0'D0)⁻¹c), with σ̂² from the control-cell fit."""
    _, cov, _, sigma2 = _dense_ols(prop99, False, prop99.W == 0)
    n, t = prop99.Y.shape
    rows, cols = np.nonzero(prop99.W)
    c = np.zeros(n + t - 1)
    np.add.at(c, rows, 1.0)
    np.add.at(c, n + cols - 1, 1.0)
    c /= rows.size
    expected = np.sqrt(sigma2 / rows.size + c @ cov @ c)
    assert DID(se="regression").fit(prop99).se_ == pytest.approx(expected, rel=1e-8)


def test_a_unit_treated_in_every_period_cannot_be_imputed() -> None:
    """Imputation needs an untreated period per unit; the error names the unit."""
    W = np.zeros((4, 3), dtype=int)
    W[0, :] = 1
    panel = PanelData(Y=np.zeros((4, 3)), W=W, units=["a", "b", "c", "d"])
    with pytest.raises(EstimationError, match=r"\['a'\] are treated in every period"):
        DID().fit(panel)
