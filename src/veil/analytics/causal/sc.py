"""Synthetic control (Abadie, Diamond & Hainmueller 2010) and SC with an intercept (DIFP)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from veil.analytics.causal._synth import SyntheticEstimator, WeightOptions
from veil.analytics.causal.base import Constraint, Interval, register_estimator

__all__ = ["SyntheticControl", "SyntheticControlIntercept"]

_SC_CONSTRAINTS: dict[str, list[Constraint]] = {
    "eta_omega": [Interval(float, 0, None)],
    "sparsify": [bool],
    "max_iter": [Interval(int, 1, None)],
}


@register_estimator("sc")
class SyntheticControl(SyntheticEstimator):
    """Synthetic control: a convex combination of controls that tracks the treated pre-period path.

    Parameters
    ----------
    eta_omega : float, default=1e-6
        Ridge multiplier, ``ζ_ω = eta_omega · σ̂`` — "infinitesimal", only to make ω unique.
    sparsify : bool, default=True
        Zero weights below a quarter of the largest after 100 iterations and restart ([synthdid]).
    max_iter : int, default=10000
        Frank–Wolfe iteration cap.
    se : str or None, default=None
        Variance method, usually ``"placebo"`` (the jackknife is not recommended for SC).
    n_replications : int, default=200
    random_state : int, Generator or None, default=0

    Attributes
    ----------
    result_ : CausalResult
        ``result_.weights.unit`` holds ω (no time weights, no intercept).
    att_, se_ : float

    Notes
    -----
    ``ω̂ = argmin_{ω ∈ Δ^{N0}} T0⁻¹ Σ_{t≤T0} (Σ_i ω_i Y_it − Ȳ_tr,t)² + ζ_ω² ‖ω‖²`` and
    ``τ̂ = Ȳ_tr,post − Σ_i ω̂_i Ȳ_i,post`` — the outcome-only synthetic control of Abadie,
    Diamond & Hainmueller (2010, JASA 105(490)) with identity predictor weights over all lagged
    outcomes, computed as R ``synthdid::sc_estimate`` does (Frank–Wolfe). Several treated units
    are averaged first; staggered adoption runs one SC per adoption cohort. On Prop 99
    ``τ̂ = −19.62`` ([SDID] Table 1).

    Examples
    --------
    >>> from veil import datasets
    >>> from veil.analytics.causal import PanelData, SyntheticControl
    >>> panel = PanelData.from_long(datasets.load("prop99"), unit="State", time="Year",
    ...                             outcome="PacksPerCapita", treatment="treated")
    >>> round(SyntheticControl().fit(panel).att_, 2)
    -19.62
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = _SC_CONSTRAINTS
    _intercept: ClassVar[bool] = False

    def __init__(
        self,
        *,
        eta_omega: float = 1e-6,
        sparsify: bool = True,
        max_iter: int = 10_000,
        se: str | None = None,
        n_replications: int = 200,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.eta_omega = eta_omega
        self.sparsify = sparsify
        self.max_iter = max_iter
        self.se = se
        self.n_replications = n_replications
        self.random_state = random_state

    def _options(self) -> WeightOptions:
        return WeightOptions(
            omega_intercept=self._intercept,
            eta_omega=self.eta_omega,
            lambda_mode="uniform" if self._intercept else "zero",
            eta_lambda=0.0,
            sparsify=self.sparsify,
            max_iter=self.max_iter,
        )


@register_estimator("sc_intercept")
class SyntheticControlIntercept(SyntheticControl):
    """Synthetic control with an intercept (Doudchenko & Imbens 2016; "DIFP" in [SDID]).

    Same parameters as :class:`SyntheticControl`.

    Notes
    -----
    ``(μ̂, ω̂) = argmin_{μ, ω ∈ Δ^{N0}} T0⁻¹ Σ_{t≤T0} (μ + Σ_i ω_i Y_it − Ȳ_tr,t)² + ζ_ω² ‖ω‖²`` and
    ``τ̂ = (Ȳ_tr,post − Ȳ_tr,pre) − Σ_i ω̂_i (Ȳ_i,post − Ȳ_i,pre)``: the synthetic control may sit at
    a different level from the treated unit (the de-meaned SC of Ferman & Pinto 2021). It is the
    simplex-constrained member of Doudchenko & Imbens' family (arXiv 1610.07748), as used by
    [SDID] Table 1 ("DIFP"; R ``synthdid_estimate`` with uniform time weights and ``eta.omega =
    1e-6``). Their unconstrained elastic-net variant is not implemented.
    """

    _intercept: ClassVar[bool] = True
