"""Variance methods: the registry, each built-in method, and plugging in a new one."""

from __future__ import annotations

import numpy as np
import pytest

from veil.analytics.causal import (
    DID,
    VARIANCE_METHODS,
    VarianceEstimate,
    estimate_variance,
    register_variance,
)
from veil.analytics.causal.variance import VARIANCE_TARGETS
from veil.errors import ConfigError, EstimationError


def test_the_built_in_methods_are_registered_with_their_targets() -> None:
    """placebo, time_placebo, jackknife, bootstrap and regression exist and say what they target."""
    for name in ("placebo", "time_placebo", "jackknife", "bootstrap", "regression"):
        assert name in VARIANCE_METHODS
        assert "exchangeable" in VARIANCE_TARGETS[name] or "iid" in VARIANCE_TARGETS[name]


def test_a_registered_method_is_usable_as_se(block_panel) -> None:
    """A new method registered by name is accepted by se= and its result is carried through."""

    def constant(estimator, panel, ctx) -> VarianceEstimate:
        return VarianceEstimate(se=1.25, method="test_constant", target="nothing")

    register_variance("test_constant", target="a test")(constant)
    try:
        result = DID(se="test_constant").fit(block_panel).result_
        assert result.se == 1.25
        assert result.variance.method == "test_constant"
    finally:
        del VARIANCE_METHODS["test_constant"]


def test_registering_a_name_twice_is_refused() -> None:
    """A second, different function under an existing name is a ConfigError."""
    with pytest.raises(ConfigError, match="already registered"):
        register_variance("placebo", target="x")(lambda e, p, c: None)


def test_the_unit_placebo_uses_only_controls(prop99) -> None:
    """Placebo replicates come from panels of the 38 controls with one pseudo-treated state."""
    seen = []

    class Recording(DID):
        def _att(self, panel):
            seen.append(panel)
            return super()._att(panel)

    v = estimate_variance(Recording(), prop99, method="placebo", n_replications=4, random_state=1)
    assert v.replicates.shape == (4,)
    assert all(p.n_units == 38 and "California" not in p.units for p in seen)
    assert all(p.n_treated_cells == 12 and p.n_pre == 19 for p in seen)
    assert v.se == pytest.approx(np.std(v.replicates))


def test_placebo_replicates_are_reproducible_with_a_seed(block_panel) -> None:
    """The same random_state gives the same replicates."""
    a = estimate_variance(DID(), block_panel, method="placebo", n_replications=6, random_state=3)
    b = estimate_variance(DID(), block_panel, method="placebo", n_replications=6, random_state=3)
    np.testing.assert_array_equal(a.replicates, b.replicates)


def test_the_placebo_se_is_near_the_noise_level(make_panel) -> None:
    """With iid noise sd 1, one treated unit and 4 post periods, the DID SE is near 0.5·√(1+1/8·…)."""
    panel = make_panel(n=60, t=12, treated=1, t0=8, noise=1.0, seed=5)
    v = estimate_variance(DID(), panel, method="placebo", n_replications=200, random_state=0)
    # Var = σ²(1/4 + 1/8) for the treated unit, plus a small control-mean term: ≈ 0.61.
    assert 0.45 < v.se < 0.8


def test_the_time_placebo_moves_the_window_back(prop99) -> None:
    """For Prop 99 (19 pre, 12 post years) the window can start in 1972–1977: six placebos."""
    v = estimate_variance(DID(), prop99, method="time_placebo")
    assert v.details["placebo_starts"] == [1972, 1973, 1974, 1975, 1976, 1977]
    assert v.replicates.shape == (6,)


def test_the_time_placebo_refuses_staggered_designs(make_panel) -> None:
    """Different adoption times have no single window to move."""
    panel = make_panel()
    W = panel.W.copy()
    W[-1, 6:] = 1
    with pytest.raises(EstimationError, match="same periods"):
        estimate_variance(DID(), panel.with_treatment(W), method="time_placebo")


def test_the_jackknife_needs_two_treated_units(prop99, block_panel) -> None:
    """With California alone the jackknife is undefined; with three treated units it runs."""
    with pytest.raises(EstimationError, match="at least two treated units"):
        estimate_variance(DID(), prop99, method="jackknife")
    v = estimate_variance(DID(), block_panel, method="jackknife")
    assert v.replicates.shape == (20,)
    assert v.se > 0


def test_the_bootstrap_keeps_treated_and_controls_in_every_draw(block_panel) -> None:
    """Every bootstrap panel has at least one treated and one control unit."""
    v = estimate_variance(DID(), block_panel, method="bootstrap", n_replications=30, random_state=2)
    assert np.all(np.isfinite(v.replicates))
    assert v.se > 0


def test_an_unknown_method_lists_the_known_ones(block_panel) -> None:
    """The error lists the registered names."""
    with pytest.raises(ConfigError, match=r"known: .*placebo"):
        estimate_variance(DID(), block_panel, method="magic")


def test_progress_is_reported_for_every_replicate(block_panel) -> None:
    """The progress callback sees done counts up to the total."""
    calls = []
    estimate_variance(
        DID(),
        block_panel,
        method="placebo",
        n_replications=7,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (7, 7)


def test_the_time_placebo_se_is_the_root_mean_square_of_placebo_effects(prop99) -> None:
    """Placebo effects should be zero, so a systematic gap counts: se = sqrt(mean τ̂_s²)."""
    v = estimate_variance(DID(), prop99, method="time_placebo")
    assert v.se == pytest.approx(np.sqrt(np.mean(v.replicates**2)))
    assert v.details["mean"] < -10  # DID's pre-1989 California gap, visible in every window
