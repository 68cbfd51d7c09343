"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from veil.analytics.causal._synth import SyntheticEstimator, WeightOptions
from veil.analytics.causal.base import Constraint, Interval, register_estimator

__all__ = ["SyntheticDID"]


@register_estimator("sdid")
class SyntheticDID(SyntheticEstimator):
    """Synthetic DiD: unit weights ω and time weights λ, then a weighted two-way comparison.

    Parameters
    ----------
    eta_omega : float or None, default=None
        Unit-weight ridge multiplier; ``ζ_ω = eta_omega · σ̂``. ``None`` uses the paper's
        ``(N1·T1)^{1/4}`` (``N1`` treated units, ``T1`` post periods).
    eta_lambda : float, default=1e-6
        Time-weight ridge multiplier, ``ζ_λ = eta_lambda · σ̂`` (the paper leaves λ unregularised;
        the tiny ridge makes the solution unique).
    sparsify : bool, default=True
        After 100 Frank–Wolfe iterations zero weights below a quarter of the largest and restart,
        as the R package does.
    max_iter : int, default=10000
        Frank–Wolfe iteration cap per weight problem.
    se : str or None, default=None
        Variance method: ``"placebo"`` (one treated unit), ``"jackknife"``, ``"bootstrap"`` ...
    n_replications : int, default=200
        Replicates for resampling variance methods.
    random_state : int, Generator or None, default=0
        Seed for resampling variance methods.

    Attributes
    ----------
    result_ : CausalResult
        ``result_.weights.unit`` (ω over controls), ``.weights.time`` (λ over pre periods);
        ``result_.details["cohorts"]`` per adoption cohort.
    att_, se_ : float

    Notes
    -----
    ``σ̂`` is the sd of first differences of the controls' pre-period outcomes. With ``N0``
    controls and ``T0`` pre periods ([SDID] Alg. 1):

    - ``(ω0, ω) = argmin_{ω ∈ Δ^{N0}} Σ_{t≤T0} (ω0 + Σ_i ω_i Y_it − Ȳ_tr,t)² + ζ_ω² T0 ‖ω‖²``;
    - ``(λ0, λ) = argmin_{λ ∈ Δ^{T0}} Σ_{i≤N0} (λ0 + Σ_t λ_t Y_it − Ȳ_i,post)² + ζ_λ² N0 ‖λ‖²``;
    - ``τ̂ = (Ȳ_tr,post − Σ_t λ_t Ȳ_tr,t) − Σ_i ω_i (Ȳ_i,post − Σ_t λ_t Y_it)``,

    which is the weighted two-way fixed effects regression with weights ``ω_i λ_t``. Both weight
    problems are solved by Frank–Wolfe with the R ``synthdid`` stopping rule and sparsification.
    Staggered adoption: one SDID per adoption cohort against the never-treated units, averaged
    with weights proportional to the cohorts' treated cells ([SDID] Appendix A).
    On Prop 99 ``τ̂ = −15.60`` ([SDID] Table 1).

    Examples
    --------
    >>> from veil import datasets
    >>> from veil.analytics.causal import PanelData, SyntheticDID
    >>> panel = PanelData.from_long(datasets.load("prop99"), unit="State", time="Year",
    ...                             outcome="PacksPerCapita", treatment="treated")
    >>> round(SyntheticDID().fit(panel).att_, 2)
    -15.6
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "eta_omega": [None, Interval(float, 0, None)],
        "eta_lambda": [Interval(float, 0, None)],
        "sparsify": [bool],
        "max_iter": [Interval(int, 1, None)],
    }

    def __init__(
        self,
        *,
        eta_omega: float | None = None,
        eta_lambda: float = 1e-6,
        sparsify: bool = True,
        max_iter: int = 10_000,
        se: str | None = None,
        n_replications: int = 200,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.eta_omega = eta_omega
        self.eta_lambda = eta_lambda
        self.sparsify = sparsify
        self.max_iter = max_iter
        self.se = se
        self.n_replications = n_replications
        self.random_state = random_state

    def _options(self) -> WeightOptions:
        return WeightOptions(
            omega_intercept=True,
            eta_omega=self.eta_omega,
            lambda_mode="fit",
            eta_lambda=self.eta_lambda,
            sparsify=self.sparsify,
            max_iter=self.max_iter,
        )
