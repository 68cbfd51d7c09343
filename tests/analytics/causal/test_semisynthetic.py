"""The TROP paper's semi-synthetic design and the ``veil causal bench`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from veil.analytics.causal import semisynthetic as ss
from veil.cli import exit_codes, main


def test_the_rank4_approximation_splits_into_additive_and_interactive_parts() -> None:
    """F is two-way additive, M has zero row and column means, F + M is the rank-4 SVD."""
    d = ss.load_design("prop99")
    F, M = d.F, d.M
    resid = F - F.mean(axis=1, keepdims=True) - F.mean(axis=0, keepdims=True) + F.mean()
    np.testing.assert_allclose(resid, 0, atol=1e-10)
    np.testing.assert_allclose(M.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(M.mean(axis=1), 0, atol=1e-10)
    assert np.linalg.matrix_rank(F + M, tol=1e-8) == 4


def test_ar2_autocorrelations_follow_the_yule_walker_recursion() -> None:
    """ρ1 = φ1/(1 − φ2), ρk = φ1 ρk−1 + φ2 ρk−2, laid out as a Toeplitz matrix."""
    R = ss._ar2_correlations(0.5, 0.2, 4)
    rho1 = 0.5 / 0.8
    rho2 = 0.5 * rho1 + 0.2
    np.testing.assert_allclose(R[0], [1.0, rho1, rho2, 0.5 * rho2 + 0.2 * rho1])
    np.testing.assert_allclose(R, R.T)


def test_the_ar2_coefficients_are_recovered_from_simulated_noise() -> None:
    """Pooled least squares recovers (φ1, φ2) from a long AR(2) panel."""
    rng = np.random.default_rng(0)
    E = np.zeros((200, 60))
    eps = rng.normal(size=E.shape)
    for t in range(E.shape[1]):
        E[:, t] = eps[:, t]
        if t >= 1:
            E[:, t] += 0.4 * E[:, t - 1]
        if t >= 2:
            E[:, t] += 0.3 * E[:, t - 2]
    phi = ss._ar2(E)
    assert phi == pytest.approx((0.4, 0.3), abs=0.03)


def test_the_logistic_assignment_model_matches_a_reference_fit() -> None:
    """IRLS probabilities equal scikit-learn's unpenalised logistic regression."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = (X @ [1.0, -0.5, 0.2, 0.0] + rng.logistic(size=80) > 0).astype(float)
    ours = ss._logistic(X, y)
    ref = LogisticRegression(C=1e12, max_iter=10_000, tol=1e-12).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_replications_treat_at_most_ten_units_for_the_last_ten_periods() -> None:
    """Logistic design (CPS): 1 ≤ treated units ≤ 10, the last 10 periods, effect zero."""
    d = ss.load_design("cps")
    assert d.propensity is not None
    assert d.propensity.shape == (50,)
    rng = np.random.default_rng(2)
    for _ in range(20):
        panel = d.simulate(rng)
        treated = panel.W.any(axis=1)
        assert 1 <= treated.sum() <= 10
        assert np.all(panel.W[treated][:, -10:] == 1)
        assert np.all(panel.W[:, :-10] == 0)


def test_the_random_design_treats_exactly_ten_units() -> None:
    """Prop 99 has one treated state, so units are drawn uniformly (the paper's random design)."""
    d = ss.load_design("prop99")
    assert d.propensity is None
    panel = d.simulate(np.random.default_rng(3))
    assert panel.W.any(axis=1).sum() == 10


def test_the_noise_covariance_matches_the_residual_scale() -> None:
    """Σ = c·R with ‖Σ‖_F = ‖E'E/N‖_F (the paper's scaling)."""
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(30, 20)).cumsum(axis=1)
    d = ss.fit_design(Y, None, n_treated=3, n_post=3)
    Z = (Y - Y.mean()) / Y.std()
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    E = Z - (U[:, :4] * s[:4]) @ Vt[:4]
    assert np.linalg.norm(d.sigma) == pytest.approx(np.linalg.norm(E.T @ E / 30))


@pytest.mark.slow
def test_a_small_benchmark_reports_rmse_relative_to_the_best() -> None:
    """Three replications on Prop 99: one row, the chosen columns, the best normalised to 1."""
    res = ss.run_benchmark(["prop99"], ["did", "sc", "dwcp"], n_replications=3, max_loo_cells=150)
    assert list(res.rmse.columns) == ["did", "sc", "dwcp"]
    assert res.normalized.loc["prop99"].min() == pytest.approx(1.0)
    assert res.relative_to_dwcp.loc["prop99", "dwcp"] == pytest.approx(1.0)
    assert res.paper().loc["prop99", "did"] == 2.16
    assert set(res.tuned["prop99"]["dwcp"]) == {"lambda_time", "lambda_unit", "lambda_nn"}
    assert res.estimates[("prop99", "did")].shape == (3,)


def test_the_cli_prints_the_table_as_json(capsys, tmp_path) -> None:
    """`veil causal bench --json` exits 0 with rmse, normalized and the paper's values."""
    png = tmp_path / "bench.png"
    code = main(
        [
            "causal", "bench", "--datasets", "prop99", "--estimators", "did,sc",
            "--replications", "2", "--plot", str(png), "--json",
        ]
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert {"rmse", "normalized", "paper_relative_to_trop", "bias", "tuned"} <= set(doc)
    assert set(doc["rmse"]["prop99"]) == {"did", "sc"}
    assert png.exists()
    assert png.stat().st_size > 0


def test_the_cli_names_an_unknown_data_set(capsys) -> None:
    """An unknown data set is a usage problem that names the known ones."""
    code = main(["causal", "bench", "--datasets", "basquee", "--json"])
    assert code == exit_codes.ERROR
    doc = json.loads(capsys.readouterr().out)
    assert "cps" in doc["error"]["message"]
