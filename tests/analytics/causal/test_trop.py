"""TROP / DWCP: weights, the batched solver, special cases, leave-one-out tuning, inference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veil.analytics.causal import DID, ESTIMATORS, PanelData
from veil.analytics.causal import _trop_core as core
from veil.analytics.causal._lowrank import fit_twfe_lowrank, objective
from veil.analytics.causal.mc import mcnnm_fit
from veil.analytics.causal.trop import DWCP, TROP
from veil.errors import ConfigError, EstimationError

INF = math.inf


def factor_panel(seed: int = 0, n: int = 16, t: int = 12, n1: int = 3, t1: int = 3, effect=1.0):
    """Two-way effects + rank-1 factor + noise; block of n1 treated units for the last t1 periods."""
    rng = np.random.default_rng(seed)
    Y = (
        rng.normal(size=(n, 1))
        + np.cumsum(rng.normal(0, 0.3, size=(1, t)), axis=1)
        + np.outer(rng.normal(size=n), np.linspace(-1, 1, t))
        + 0.1 * rng.normal(size=(n, t))
    )
    W = np.zeros((n, t), dtype=int)
    W[n - n1 :, t - t1 :] = 1
    return PanelData(Y=Y + effect * W, W=W)


# ---------------------------------------------------------------------------- weights


def test_leave_one_period_out_distances_follow_the_definition() -> None:
    """d_{−t}(j, i) is the RMS gap over periods both left untreated, excluding t (eq. 3)."""
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(5, 7))
    W = np.zeros((5, 7))
    W[4, 5:] = 1
    W[3, 6] = 1
    dist = core.UnitDistances(Y, W)
    for i, t in [(0, 2), (4, 1), (3, 6), (2, 5)]:
        d, ok = dist.for_cells(np.array([i]), np.array([t]))
        for j in range(5):
            common = [u for u in range(7) if u != t and W[i, u] == 0 and W[j, u] == 0]
            expected = np.sqrt(np.mean([(Y[i, u] - Y[j, u]) ** 2 for u in common]))
            assert ok[0, j]
            assert d[0, j] == pytest.approx(expected, abs=1e-6)


def test_weights_are_the_unnormalised_exponentials_of_eq_3() -> None:
    """ω_j θ_s (1 − W_js) with ω_i = θ_t = 1 and the target cell itself at zero."""
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(4, 6))
    W = np.zeros((4, 6))
    W[3, 4:] = 1
    dist = core.UnitDistances(Y, W)
    w = core.cell_weights(W, dist, np.array([1]), np.array([2]), 0.5, 0.7)[0]
    d, _ = dist.for_cells(np.array([1]), np.array([2]))
    expected = np.outer(np.exp(-0.7 * d[0]), np.exp(-0.5 * np.abs(np.arange(6) - 2))) * (1 - W)
    expected[1, 2] = 0.0
    np.testing.assert_allclose(w, expected)
    assert w[1, 1] == pytest.approx(np.exp(-0.5))  # ω_i = 1


def test_normalised_weights_sum_to_one_in_each_dimension() -> None:
    """normalize=True rescales ω and θ to sum to one before masking ([TROP] §5)."""
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(4, 6))
    W = np.zeros((4, 6))
    dist = core.UnitDistances(Y, W)
    i, t = np.array([3]), np.array([5])
    w = core.cell_weights(W, dist, i, t, 0.3, 0.2, normalize=True)[0]
    d, _ = dist.for_cells(i, t)
    omega = np.exp(-0.2 * d[0])
    omega[3] = 1.0
    theta = np.exp(-0.3 * np.abs(np.arange(6) - 5))
    expected = np.outer(omega / omega.sum(), theta / theta.sum())
    target = expected[3, 5]
    expected[3, 5] = 0.0
    np.testing.assert_allclose(w, expected)
    assert w.sum() + target == pytest.approx(1.0)


# ---------------------------------------------------------------------------- the solver


def test_infinite_penalty_is_weighted_least_squares_of_the_fixed_effects() -> None:
    """λ = inf gives the weighted two-way fixed effects fit (checked against lstsq)."""
    rng = np.random.default_rng(3)
    n, t = 6, 5
    Y = rng.normal(size=(n, t))
    w = rng.random((1, n, t))
    w[0, 2, 3] = 0.0
    fit = fit_twfe_lowrank(Y, w, INF)
    D = np.zeros((n * t, n + t))
    for i in range(n):
        for s in range(t):
            D[i * t + s, i] = 1
            D[i * t + s, n + s] = 1
    sw = np.sqrt(w[0].ravel())
    coef, *_ = np.linalg.lstsq(D * sw[:, None], Y.ravel() * sw, rcond=None)
    np.testing.assert_allclose(fit.fitted[0].ravel(), D @ coef, atol=1e-9)


def test_the_low_rank_solution_satisfies_the_optimality_conditions() -> None:
    """At the solution 2w⊙(Y−fit) = λ(UV' + P), P ⊥ U, V, ‖P‖₂ ≤ 1 (nuclear-norm KKT)."""
    rng = np.random.default_rng(4)
    n, t = 9, 8
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 2)) @ rng.normal(size=(2, t))
    Y += 0.3 * rng.normal(size=(n, t))
    w = np.exp(-0.4 * np.abs(np.arange(t) - 6))[None, None, :] * rng.uniform(0.2, 1, (1, n, 1))
    lam = 0.8
    fit = fit_twfe_lowrank(Y, w, lam, tol=1e-12, max_iter=100_000)
    G = 2 * w[0] * (Y - fit.fitted[0])
    U, s, Vt = np.linalg.svd(fit.L[0])
    r = int((s > 1e-8 * s[0]).sum())
    assert r >= 1
    Ur, Vr = U[:, :r], Vt[:r].T
    np.testing.assert_allclose(Ur.T @ G @ Vr, lam * np.eye(r), atol=1e-6)
    Pu, Pv = np.eye(n) - Ur @ Ur.T, np.eye(t) - Vr @ Vr.T
    assert np.linalg.norm(Pu @ G @ Pv, 2) <= lam * (1 + 1e-6)
    # The fixed effects absorb the weighted row and column sums of the residual.
    np.testing.assert_allclose(G.sum(axis=1), 0, atol=1e-7)
    np.testing.assert_allclose(G.sum(axis=0), 0, atol=1e-7)


def test_tracked_subspace_and_full_svd_give_the_same_solution() -> None:
    """The partial (subspace) SVD path reaches the full-SVD solution."""
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(20, 15)) + rng.normal(size=(20, 1)) @ rng.normal(size=(1, 15))
    w = rng.random((3, 20, 15))
    lam = np.array([0.5, 2.0, 8.0])
    a = fit_twfe_lowrank(Y, w, lam, tol=1e-11, max_iter=100_000, oversample=2)
    b = fit_twfe_lowrank(Y, w, lam, tol=1e-11, max_iter=100_000, oversample=20)
    np.testing.assert_allclose(a.fitted, b.fitted, atol=1e-6)
    np.testing.assert_allclose(objective(Y, w, lam, a), objective(Y, w, lam, b), rtol=1e-9)


# ---------------------------------------------------------------------------- special cases


def test_uniform_weights_without_low_rank_is_did_on_prop99(prop99) -> None:
    """λ_time = λ_unit = 0, λ_nn = inf reproduces DID on Prop 99: −27.35 ([TROP] §2.2)."""
    est = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=INF).fit(prop99)
    assert est.att_ == pytest.approx(-27.35, abs=0.005)
    assert est.att_ == pytest.approx(DID().fit(prop99).att_, abs=1e-8)


def test_uniform_weights_without_low_rank_is_imputation_did_under_staggering() -> None:
    """With staggered adoption the special case is the imputation DID estimator, cell by cell."""
    panel = factor_panel(seed=6)
    W = panel.W.copy()
    W[-1, -5:] = 1
    W[-4, -2:] = 1
    panel = PanelData(Y=panel.Y, W=W)
    a = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=INF).fit(panel)
    b = DID(kind="imputation").fit(panel)
    np.testing.assert_allclose(
        a.result_.effects["effect"].to_numpy(), b.result_.effects["effect"].to_numpy(), atol=1e-8
    )


def test_uniform_weights_with_finite_penalty_is_mc_nnm(prop99) -> None:
    """Zero λ's and finite λ_nn equal MC-NNM with λ_MC = λ_nn/|O| (solved by MCPanel's CD)."""
    n_obs = int((prop99.W == 0).sum())
    lam_mc = 0.05
    est = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=lam_mc * n_obs).fit(prop99)
    mc = mcnnm_fit(prop99.Y, prop99.W == 0, lam_mc, tol=1e-13, max_iter=200_000)
    tau_mc = float(np.mean((prop99.Y - mc.predict())[prop99.W == 1]))
    assert est.att_ == pytest.approx(tau_mc, abs=2e-3)
    assert est.result_.details["rank"][0] >= 1


# ---------------------------------------------------------------------------- tuning


def test_a_leave_one_out_pseudo_effect_is_the_cell_left_out_of_its_own_fit() -> None:
    """τ̂^loo_it = Y_it minus the fit on the other untreated cells with weights centred on (i, t)."""
    panel = factor_panel(seed=7, n=8, t=7)
    Y, W = panel.Y, panel.W.astype(float)
    lam = core.Lambdas(0.3, 0.5, 2.0)
    fits = core.fit_cells(Y, W, np.array([2]), np.array([3]), lam, tol=1e-10)
    w = core.cell_weights(W, core.UnitDistances(Y, W), np.array([2]), np.array([3]), 0.3, 0.5)
    assert w[0, 2, 3] == 0.0
    Y_poison = Y.copy()
    Y_poison[2, 3] += 1e3  # the cell's own value must not enter its fit
    direct = fit_twfe_lowrank(Y_poison, w, 2.0, tol=1e-12, max_iter=100_000)
    assert fits.tau[0] == pytest.approx(Y[2, 3] - direct.fitted[0, 2, 3], abs=1e-6)


def test_the_criterion_sums_squared_pseudo_effects_over_control_cells() -> None:
    """Q(λ) = Σ_{W_it=0} τ̂^loo_it² over every control cell ([TROP] eq. 5)."""
    panel = factor_panel(seed=8, n=7, t=6)
    W = panel.W.astype(float)
    q, fits = core.loo_criterion(panel.Y, W, core.Lambdas(0.2, 0.0, INF))
    assert fits.tau.size == int((W == 0).sum())
    assert q == pytest.approx(float(np.sum(fits.tau**2)))


def test_tuning_returns_the_best_point_it_evaluated_and_follows_the_stages() -> None:
    """The chosen λ minimises Q over the evaluated path; stage 1 searches λ_time with λ_nn = inf."""
    panel = factor_panel(seed=9)
    res = core.tune(panel.Y, panel.W.astype(float))
    qs = [q for _, q in res.path]
    assert res.criterion == pytest.approx(min(qs))
    first = res.path[: len(res.grids.time)]
    assert all(lam.unit == 0.0 and lam.nn == INF for lam, _ in first)
    assert [lam.time for lam, _ in first] == list(res.grids.time)
    assert res.n_cells == int((panel.W == 0).sum())


def test_fixed_lambdas_are_not_searched() -> None:
    """Given λ values stay as given; only the others are tuned."""
    panel = factor_panel(seed=10)
    est = TROP(lambda_nn=INF, lambda_unit=0.0).fit(panel)
    assert est.lambdas_[1:] == (0.0, INF)
    assert all(p["lambda_nn"] == INF for p in est.result_.details["tuning_path"])


def test_tuned_trop_beats_did_when_there_is_a_factor_and_recovers_the_effect() -> None:
    """Treated units load on a trend that DID cannot remove; the tuned estimator does."""
    rng = np.random.default_rng(11)
    n, t = 20, 14
    loading = np.r_[np.linspace(-1, 2, n - 3), [1.8, 1.9, 2.0]]
    Y = rng.normal(size=(n, 1)) + np.outer(loading, np.linspace(0, 3, t))
    Y += 0.05 * rng.normal(size=(n, t))
    W = np.zeros((n, t), dtype=int)
    W[-3:, -3:] = 1
    panel = PanelData(Y=Y + W, W=W)
    tuned = TROP().fit(panel)
    did = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=INF).fit(panel)
    assert abs(tuned.att_ - 1.0) < abs(did.att_ - 1.0)
    assert tuned.att_ == pytest.approx(1.0, abs=0.25)
    assert tuned.result_.details["tuned"] is True


def test_a_subset_of_leave_one_out_cells_can_be_used() -> None:
    """max_loo_cells caps the cells in the criterion (for large panels)."""
    panel = factor_panel(seed=12)
    est = TROP(max_loo_cells=40, lambda_nn=INF).fit(panel)
    assert est.result_.details["n_loo_cells"] == 40


def test_placebo_tuning_scores_placebo_assignments_on_the_controls() -> None:
    """tuning="placebo" (the replication code's criterion) runs the same search on placebo ATTs."""
    panel = factor_panel(seed=17)
    est = TROP(tuning="placebo", n_placebo_trials=8, lambda_nn=INF).fit(panel)
    path = est.result_.details["tuning_path"]
    assert est.result_.details["loo_criterion"] == pytest.approx(min(p["Q"] for p in path))
    assert est.result_.details["n_loo_cells"] == 8  # one placebo ATT per trial
    with pytest.raises(ConfigError, match="'tuning' parameter"):
        TROP(tuning="cv").fit(panel)


@pytest.mark.slow
def test_full_tuning_on_prop99_gives_an_estimate_between_sc_and_did(prop99) -> None:
    """Tuned TROP on Prop 99 lands in the range of the published estimators (−27.35 … −15.6)."""
    est = TROP().fit(prop99)
    assert -27.35 < est.att_ < -15.6
    assert est.result_.details["n_loo_cells"] == int((prop99.W == 0).sum())


# ---------------------------------------------------------------------------- estimator


def test_covariates_remove_a_confounding_covariate() -> None:
    """A time-varying covariate that drives both outcome and treated units is adjusted for."""
    panel = factor_panel(seed=13, effect=2.0)
    rng = np.random.default_rng(13)
    X = rng.normal(size=(*panel.Y.shape, 1))
    X[panel.W == 1] += 2.0
    cov = PanelData(Y=panel.Y + 1.5 * X[..., 0], W=panel.W, X=X, covariate_names=("x",))
    est = TROP(lambda_time=0.1, lambda_unit=0.0, lambda_nn=INF).fit(cov)
    assert est.att_ == pytest.approx(2.0, abs=0.3)
    assert est.result_.details["gamma"]["x"] == pytest.approx(1.5, abs=0.1)


def test_result_reports_the_lambdas_and_averaged_weights() -> None:
    """details carry the λ's and the normalisation choice; weights sum to one."""
    est = TROP(lambda_time=0.2, lambda_unit=0.1, lambda_nn=INF).fit(factor_panel(seed=14))
    det = est.result_.details
    assert (det["lambda_time"], det["lambda_unit"], det["lambda_nn"]) == (0.2, 0.1, INF)
    assert det["normalize_weights"] is False
    assert est.result_.weights.unit.sum() == pytest.approx(1.0)
    assert est.result_.weights.time.sum() == pytest.approx(1.0)


def test_the_stratified_bootstrap_resamples_both_groups() -> None:
    """[TROP] Alg. 3 gives a positive SE with replicates at the fixed λ̂."""
    est = TROP(
        lambda_time=0.1, lambda_unit=0.0, lambda_nn=INF, se="stratified_bootstrap",
        n_replications=30,
    ).fit(factor_panel(seed=15))  # fmt: skip
    assert est.se_ > 0
    assert est.result_.variance.replicates.shape == (30,)


def test_the_stratified_bootstrap_refuses_a_single_treated_unit(prop99) -> None:
    """With one treated unit the treated row never varies; the error says what to use."""
    with pytest.raises(EstimationError, match="at least two treated units"):
        TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=INF, se="stratified_bootstrap").fit(prop99)


def test_a_treated_cell_without_comparison_is_reported_by_name() -> None:
    """A period in which every unit is treated cannot be imputed; the cell is named."""
    panel = factor_panel(seed=16, n=5, t=6)
    W = panel.W.copy()
    W[:, -1] = 1
    with pytest.raises(EstimationError, match="cannot estimate treated cell"):
        TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=INF).fit(PanelData(Y=panel.Y, W=W))


def test_a_zero_nuclear_penalty_is_refused() -> None:
    """λ_nn = 0 leaves L undetermined on unweighted cells, so it is not allowed."""
    with pytest.raises(ConfigError, match=r"'lambda_nn' parameter .* Got 0\.0"):
        TROP(lambda_nn=0.0).fit(factor_panel())


def test_the_estimator_is_registered_as_dwcp_and_trop() -> None:
    """The CLI names: dwcp, with trop as an alias; DWCP is the same class."""
    assert ESTIMATORS["dwcp"] is TROP
    assert ESTIMATORS["trop"] is TROP
    assert DWCP is TROP
    assert TROP.name == "dwcp"
