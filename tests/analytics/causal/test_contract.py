"""The estimator contract, run against every registered estimator (like sklearn's common checks).

Estimators registered by any module of ``veil.analytics.causal`` are picked up automatically.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import pytest

from veil.analytics.causal import (
    ESTIMATORS,
    CausalResult,
    PanelData,
    PanelEstimator,
    TreatmentPattern,
)
from veil.errors import ConfigError, NotFittedError, PanelDataError

NAMES = sorted(ESTIMATORS)


@pytest.fixture(params=NAMES)
def estimator_class(request) -> type[PanelEstimator]:
    """Each registered estimator class in turn."""
    return ESTIMATORS[request.param]


def fast(cls: type[PanelEstimator], **params) -> PanelEstimator:
    """Return an instance with cheap settings where the estimator has them."""
    return cls(**params)


def test_the_core_estimators_are_registered() -> None:
    """DID, both synthetic controls and SDID are in the registry under their CLI names."""
    assert {"did", "sc", "sc_intercept", "sdid"} <= set(ESTIMATORS)


def test_init_takes_keyword_only_arguments_and_stores_them(estimator_class) -> None:
    """Every __init__ parameter is keyword-only and stored verbatim under its own name."""
    sig = inspect.signature(estimator_class.__init__)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    assert params, "an estimator has at least the variance parameters"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    est = estimator_class()
    assert est.get_params() == {p.name: p.default for p in params}
    assert {"se", "n_replications", "random_state"} <= set(est.get_params())


def test_fit_returns_self_with_fitted_state(estimator_class, block_panel) -> None:
    """fit returns the estimator itself, with result_, att_ and se_ set."""
    est = fast(estimator_class)
    assert est.fit(block_panel) is est
    assert isinstance(est.result_, CausalResult)
    assert est.att_ == est.result_.att
    assert math.isnan(est.se_)


def test_reading_fitted_state_before_fit_says_call_fit(estimator_class) -> None:
    """result_ before fit raises NotFittedError (also an AttributeError) telling to call fit."""
    est = estimator_class()
    with pytest.raises(NotFittedError, match="call fit"):
        _ = est.result_
    assert not hasattr(est, "att_")


def test_result_fields_are_present_and_consistent(estimator_class, block_panel) -> None:
    """The result has per-cell effects, a counterfactual, weights, and panel sizes."""
    result = fast(estimator_class).fit(block_panel).result_
    assert result.method == estimator_class.name
    assert np.isfinite(result.att)
    assert list(result.effects.columns) == ["unit", "time", "observed", "counterfactual", "effect"]
    assert len(result.effects) == block_panel.n_treated_cells
    np.testing.assert_allclose(
        result.effects["effect"], result.effects["observed"] - result.effects["counterfactual"]
    )
    assert isinstance(result.counterfactual, pd.DataFrame)
    assert result.counterfactual.shape == (3, block_panel.n_periods)
    assert (result.n_units, result.n_periods, result.n_treated_cells) == (20, 12, 12)
    assert set(result.to_dict()) >= {"method", "att", "se", "ci_low", "ci_high", "n_units"}


def test_a_constant_effect_without_noise_is_recovered(estimator_class, make_panel) -> None:
    """On a noise-free two-way fixed effects panel every estimator finds the effect."""
    panel = make_panel(noise=0.0, effect=3.0)
    assert fast(estimator_class).fit(panel).att_ == pytest.approx(3.0, abs=1e-3)


def test_an_invalid_parameter_is_named_at_fit(estimator_class, block_panel) -> None:
    """A bad n_replications is reported by fit with the parameter, value and allowed range."""
    est = estimator_class(n_replications=-3)
    with pytest.raises(ConfigError, match=r"'n_replications' parameter .* Got -3 instead"):
        est.fit(block_panel)


def test_an_unknown_variance_method_is_named(estimator_class, block_panel) -> None:
    """se= must name a registered variance method."""
    with pytest.raises(ConfigError, match=r"'se' parameter .*'placebo'.* Got 'nope'"):
        estimator_class(se="nope").fit(block_panel)


def test_placebo_standard_errors_run(estimator_class, block_panel) -> None:
    """Every estimator gets a finite, positive placebo SE with a few replications."""
    result = estimator_class(se="placebo", n_replications=5).fit(block_panel).result_
    assert result.se > 0
    assert result.variance.replicates.shape == (5,)
    low, high = result.ci()
    assert low < result.att < high


def test_unsupported_designs_are_refused_by_name(estimator_class) -> None:
    """An estimator refuses a pattern it does not handle with a PanelDataError naming it."""
    W = np.zeros((6, 6), dtype=int)
    W[0, 2] = W[0, 4] = 1  # switches off: general
    panel = PanelData(Y=np.random.default_rng(0).normal(size=(6, 6)), W=W)
    if TreatmentPattern.GENERAL in estimator_class.supported_patterns:
        pytest.skip(f"{estimator_class.name} handles general designs")
    with pytest.raises(PanelDataError, match="treatment pattern is general"):
        estimator_class().fit(panel)


def test_fit_refuses_something_that_is_not_a_panel(estimator_class) -> None:
    """Passing a DataFrame instead of PanelData says how to build one."""
    with pytest.raises(ConfigError, match=r"PanelData\.from_long"):
        estimator_class().fit(pd.DataFrame({"a": [1]}))
