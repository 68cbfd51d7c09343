"""Conditional variance estimators: placebo families, the two-way combination, their targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veil.analytics.causal import VARIANCE_METHODS, VARIANCE_TARGETS, PanelData
from veil.analytics.causal.conditional_variance import (
    CONDITIONING_TARGETS,
    conditional_variance,
    placebo_design,
)
from veil.analytics.causal.trop import TROP
from veil.errors import ConfigError, EstimationError

DID = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=math.inf)  # imputation DID, batched


def hetero_panel(
    seed: int, *, unit_sd: np.ndarray | None = None, time_sd: np.ndarray | None = None,
    n: int = 40, t: int = 30,
) -> PanelData:  # fmt: skip
    """Two-way effects with noise sd unit_sd[i]·time_sd[t]; the last unit is treated last period."""
    rng = np.random.default_rng(seed)
    a = np.ones(n) if unit_sd is None else unit_sd
    b = np.ones(t) if time_sd is None else time_sd
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + np.outer(a, b) * rng.normal(size=(n, t))
    W = np.zeros((n, t), dtype=int)
    W[-1, -1] = 1
    return PanelData(Y=Y, W=W)


def test_the_four_methods_are_registered_with_what_they_target() -> None:
    """se='conditional', 'conditional_unit', 'conditional_time', 'marginal' each say their target."""
    for name, key in [
        ("conditional", "both"),
        ("conditional_unit", "unit"),
        ("conditional_time", "time"),
        ("marginal", "marginal"),
    ]:
        assert name in VARIANCE_METHODS
        assert VARIANCE_TARGETS[name] == CONDITIONING_TARGETS[key]
    assert "treated units and periods" in VARIANCE_TARGETS["conditional"]
    assert "periods exchangeable" in VARIANCE_TARGETS["conditional_unit"]
    assert "units exchangeable" in VARIANCE_TARGETS["conditional_time"]


def test_both_is_the_two_way_combination_of_the_three_placebo_families() -> None:
    """V_both = V_unit · V_time / V_marginal, from the same placebo fits."""
    panel = hetero_panel(0)
    v = conditional_variance(DID, panel, conditioning="both")
    d = v.details
    assert v.se**2 == pytest.approx(d["v_unit"] * d["v_time"] / d["v_marginal"])
    assert d["n_time_placebos"] == 30 - 1 - 2  # every window with ≥ 2 earlier periods
    assert d["n_unit_placebos"] == 39  # one treated unit: every control
    k = (d["n_time_placebos"], d["n_unit_placebos"], d["n_unit_time_placebos"])
    assert d["df"] == pytest.approx(1.0 / sum(1.0 / x for x in k))  # Satterthwaite, log scale


def test_the_placebo_families_copy_the_treatment_window() -> None:
    """A 2-unit × 3-period block gives windows of 3 periods starting at period 2 or later."""
    rng = np.random.default_rng(1)
    W = np.zeros((10, 12), dtype=int)
    W[-2:, -3:] = 1
    d = placebo_design(PanelData(Y=rng.normal(size=(10, 12)), W=W))
    assert (d.start, d.length) == (9, 3)
    assert d.starts == list(range(2, 7))
    assert list(d.treated) == [8, 9]
    assert d.controls.size == 8


def test_a_noisy_treated_unit_is_seen_by_the_unit_conditional_estimators() -> None:
    """Treated unit 3× noisier than the rest: conditioning on the unit scales the SE up ~3×."""
    ratios = []
    for seed in range(6):
        sd = np.ones(40)
        sd[-1] = 3.0
        panel = hetero_panel(seed, unit_sd=sd)
        unit = conditional_variance(DID, panel, conditioning="unit").se
        time_ = conditional_variance(DID, panel, conditioning="time").se
        ratios.append(unit / time_)
    assert 2.0 < np.median(ratios) < 4.0


def test_a_noisy_treated_period_is_seen_by_the_time_conditional_estimators() -> None:
    """Last period 3× noisier: conditioning on time scales the SE up relative to the unit view."""
    ratios = []
    for seed in range(6):
        sd = np.ones(30)
        sd[-1] = 3.0
        panel = hetero_panel(seed, time_sd=sd)
        both = conditional_variance(DID, panel, conditioning="both").se
        unit = conditional_variance(DID, panel, conditioning="unit").se
        ratios.append(both / unit)
    assert 2.0 < np.median(ratios) < 4.0


def test_under_homoskedasticity_every_target_is_the_same_variance() -> None:
    """Homoskedastic noise: all four estimate Var(τ̂) ≈ σ²(1 + 1/N0 + 1/T0 + …) ≈ 1.06."""
    ses = {c: [] for c in ("unit", "time", "both", "marginal")}
    for seed in range(8):
        panel = hetero_panel(seed)
        for c in ses:
            ses[c].append(conditional_variance(DID, panel, conditioning=c).se ** 2)
    for c, values in ses.items():
        assert np.mean(values) == pytest.approx(1.06, rel=0.25), c


def test_it_works_through_the_estimator_interface_for_other_estimators(prop99) -> None:
    """se='conditional' runs with SDID on Prop 99 and gives a positive SE."""
    from veil.analytics.causal import SyntheticDID

    result = SyntheticDID(se="conditional", n_replications=40).fit(prop99).result_
    assert result.se > 0
    assert result.variance.method == "conditional"
    assert result.variance.details["n_unit_time_placebos"] == 40


def test_staggered_designs_are_refused_with_an_alternative() -> None:
    """Placebo windows need a common treatment window."""
    rng = np.random.default_rng(2)
    W = np.zeros((8, 10), dtype=int)
    W[-1, 6:] = 1
    W[-2, 8:] = 1
    with pytest.raises(EstimationError, match="same periods"):
        conditional_variance(DID, PanelData(Y=rng.normal(size=(8, 10)), W=W))


def test_too_few_pre_periods_for_time_placebos_are_named() -> None:
    """A 3-period window needs at least 5 earlier periods; the hint offers unit placebos."""
    rng = np.random.default_rng(3)
    W = np.zeros((8, 6), dtype=int)
    W[-1, 3:] = 1
    with pytest.raises(EstimationError, match="conditional_time"):
        conditional_variance(DID, PanelData(Y=rng.normal(size=(8, 6)), W=W))


def test_an_unknown_conditioning_is_refused() -> None:
    """conditioning must be one of both, unit, time, marginal."""
    with pytest.raises(ConfigError, match="conditioning"):
        conditional_variance(DID, hetero_panel(0), conditioning="cells")
