"""Synthetic control, SC with intercept and synthetic DiD: published values and special cases."""

from __future__ import annotations

import numpy as np
import pytest

from veil.analytics.causal import (
    DID,
    PanelData,
    SyntheticControl,
    SyntheticControlIntercept,
    SyntheticDID,
)
from veil.errors import EstimationError, PanelDataError

SYNTHETIC = [SyntheticControl, SyntheticControlIntercept, SyntheticDID]


def test_prop99_sc_is_minus_19_62(prop99) -> None:
    """Synthetic control for California matches [SDID] Table 1 and R synthdid (−19.62)."""
    assert SyntheticControl().fit(prop99).att_ == pytest.approx(-19.62, abs=0.05)


def test_prop99_sdid_is_minus_15_60(prop99) -> None:
    """Synthetic DiD for California matches [SDID] Table 1 and R synthdid (−15.60)."""
    assert SyntheticDID().fit(prop99).att_ == pytest.approx(-15.60, abs=0.05)


def test_prop99_sc_with_intercept_is_minus_11_1(prop99) -> None:
    """DIFP (SC with intercept) for California is −11.1 ([SDID] Table 1)."""
    assert SyntheticControlIntercept().fit(prop99).att_ == pytest.approx(-11.1, abs=0.05)


def test_sdid_weights_live_on_the_simplex(prop99) -> None:
    """ω over the 38 controls and λ over the 19 pre years are non-negative and sum to one."""
    w = SyntheticDID().fit(prop99).result_.weights
    assert len(w.unit) == 38
    assert len(w.time) == 19
    for series in (w.unit, w.time):
        assert (series >= 0).all()
        assert series.sum() == pytest.approx(1.0)
    assert "California" not in w.unit.index


def test_sdid_is_the_weighted_two_way_regression(prop99) -> None:
    """τ̂ equals weighted TWFE with weights ω_i·λ_t (treated 1/N1, post 1/T1) ([SDID] eq. 1)."""
    result = SyntheticDID().fit(prop99).result_
    n, t = prop99.Y.shape
    tr = prop99.treated_units
    omega = np.where(tr, 1.0 / tr.sum(), 0.0)
    omega[~tr] = result.weights.unit.reindex(prop99.units[~tr]).to_numpy()
    lam = np.full(t, 1.0 / (t - prop99.n_pre))
    lam[: prop99.n_pre] = result.weights.time.to_numpy()
    i, s = np.indices((n, t))
    D = np.zeros((n * t, n + t))
    D[np.arange(n * t), i.ravel()] = 1.0
    D[np.arange(n * t), n + s.ravel()] = 1.0
    D = np.column_stack([D[:, 1:], prop99.W.ravel()])  # drop one dummy for identification
    sw = np.sqrt((omega[:, None] * lam[None, :]).ravel())
    coef, *_ = np.linalg.lstsq(D * sw[:, None], prop99.Y.ravel() * sw, rcond=None)
    assert coef[-1] == pytest.approx(result.att, abs=1e-6)


def test_sc_is_treated_post_mean_minus_weighted_controls(prop99) -> None:
    """SC: τ̂ = Ȳtr,post − Σ ω_i Ȳi,post, with no time weights and no intercept."""
    result = SyntheticControl().fit(prop99).result_
    assert result.weights.time is None
    assert result.weights.intercept is None
    post = prop99.Y[:, prop99.n_pre :].mean(axis=1)
    controls = result.weights.unit.reindex(prop99.units[prop99.control_units]).to_numpy()
    expected = post[prop99.treated_units].mean() - controls @ post[prop99.control_units]
    assert result.att == pytest.approx(expected, abs=1e-9)


def test_sc_finds_a_treated_unit_that_is_a_mix_of_controls() -> None:
    """If the treated path is 0.3·u0 + 0.7·u1 before treatment, SC puts those weights there."""
    rng = np.random.default_rng(4)
    t, t0 = 30, 24
    controls = rng.normal(size=(6, t)).cumsum(axis=1)
    treated = 0.3 * controls[0] + 0.7 * controls[1]
    treated[t0:] += 5.0
    W = np.zeros((7, t), dtype=int)
    W[6, t0:] = 1
    panel = PanelData(Y=np.vstack([controls, treated]), W=W)
    result = SyntheticControl(sparsify=False, max_iter=100_000).fit(panel).result_
    np.testing.assert_allclose(result.weights.unit.to_numpy()[:2], [0.3, 0.7], atol=2e-3)
    assert result.att == pytest.approx(5.0, abs=0.05)


def test_sdid_with_overwhelming_ridge_is_did(prop99) -> None:
    """Huge ζ_ω, ζ_λ flatten both weight vectors, and SDID becomes DID."""
    sdid = SyntheticDID(eta_omega=1e6, eta_lambda=1e6, sparsify=False).fit(prop99).att_
    assert sdid == pytest.approx(DID().fit(prop99).att_, abs=1e-3)


def test_the_counterfactual_reproduces_the_effects(prop99) -> None:
    """Per-cell effects are observed minus counterfactual, and their mean is the ATT."""
    for cls in SYNTHETIC:
        result = cls().fit(prop99).result_
        assert result.effects["effect"].mean() == pytest.approx(result.att, abs=1e-9)
        assert result.counterfactual.shape == (1, 31)
        assert np.isfinite(result.counterfactual.to_numpy()).all()


@pytest.mark.parametrize("cls", SYNTHETIC)
def test_staggered_adoption_averages_cohorts_by_treated_cells(cls, make_panel) -> None:
    """A two-cohort design equals the cell-weighted average of the two block estimates."""
    panel = make_panel(n=25, t=14, treated=4, t0=9, seed=3)
    W = panel.W.copy()
    W[-6:-4, 11:] = 1  # a second cohort adopting two periods later
    staggered = panel.with_treatment(W)
    never = panel.adoption >= panel.n_periods
    never[-6:-4] = False
    first = np.flatnonzero(never | (staggered.adoption == 9))
    second = np.flatnonzero(never | (staggered.adoption == 11))
    a1 = cls().fit(staggered.subset(first)).att_
    a2 = cls().fit(staggered.subset(second)).att_
    expected = (4 * 5 * a1 + 2 * 3 * a2) / (4 * 5 + 2 * 3)
    result = cls().fit(staggered).result_
    assert result.att == pytest.approx(expected, abs=1e-9)
    assert [c["adoption"] for c in result.details["cohorts"]] == [2009, 2011]


@pytest.mark.parametrize("cls", SYNTHETIC)
def test_switching_treatment_is_refused(cls) -> None:
    """Treatment that turns off again is not a design these estimators handle."""
    W = np.zeros((6, 6), dtype=int)
    W[0, [2, 4]] = 1
    with pytest.raises(PanelDataError, match="general"):
        cls().fit(PanelData(Y=np.random.default_rng(0).normal(size=(6, 6)), W=W))


def test_one_pre_period_is_too_few() -> None:
    """The noise level needs first differences, so at least two pre periods."""
    W = np.zeros((5, 4), dtype=int)
    W[0, 1:] = 1
    with pytest.raises(EstimationError, match="at least 2 are needed"):
        SyntheticDID().fit(PanelData(Y=np.random.default_rng(0).normal(size=(5, 4)), W=W))


def test_all_units_treated_eventually_is_refused(make_panel) -> None:
    """Without never-treated units there are no controls to weight."""
    panel = make_panel(n=4, t=6, treated=4, t0=3)
    W = panel.W.copy()
    W[:2, 4:] = 1
    W[2:, 2:] = 1
    with pytest.raises(EstimationError, match="never-treated"):
        SyntheticDID().fit(panel.with_treatment(W))


def test_sdid_fixed_weight_jackknife_matches_alg3(make_panel) -> None:
    """Jackknife replicates keep λ and renormalised ω fixed ([SDID] Alg. 3)."""
    panel = make_panel(n=15, t=10, treated=3, t0=7, noise=0.5, seed=8)
    est = SyntheticDID(se="jackknife").fit(panel)
    result = est.result_
    omega = result.weights.unit.to_numpy()
    lam = result.weights.time.to_numpy()
    Y, t0 = panel.Y, 7
    gap = Y[:, t0:].mean(axis=1) - Y[:, :t0] @ lam
    co, tr = gap[:12], gap[12:]
    w = np.delete(omega, 0)
    first = tr.mean() - (w / w.sum()) @ co[1:]
    assert result.variance.replicates[0] == pytest.approx(first, abs=1e-10)
    reps = result.variance.replicates
    assert result.se == pytest.approx(np.sqrt((15 - 1) / 15 * np.sum((reps - reps.mean()) ** 2)))


def test_prop99_placebo_standard_errors_are_near_the_published_ones(prop99) -> None:
    """200 unit placebos give SEs near the paper's (SDID 9.9, SC 11.2 with other seeds)."""
    sdid = SyntheticDID(se="placebo", n_replications=200, random_state=1).fit(prop99).se_
    sc = SyntheticControl(se="placebo", n_replications=200, random_state=1).fit(prop99).se_
    assert 7.0 < sdid < 13.0
    assert 8.0 < sc < 14.5
