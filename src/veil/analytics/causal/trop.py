"""The doubly weighted causal panel estimator (DWCP), published as TROP.

Athey, Imbens, Qu, Viviano (2025), "Triply Robust Panel Estimators", arXiv 2508.21536 [TROP].
For every treated cell ``(i, t)`` a two-way fixed effects + low-rank fit is run on the untreated
cells, weighted by time weights ``θ_s = exp(−λ_time |t − s|)`` and unit weights
``ω_j = exp(−λ_unit · d_{−t}(j, i))`` (``d_{−t}``: RMS outcome gap between units ``j`` and ``i``
over their commonly untreated periods, leaving out ``t``), with a nuclear-norm penalty
``λ_nn ‖L‖_*``; ``τ̂_it = Y_it − Ŷ_it(0)`` and the ATT is their mean ([TROP] eq. 2–3, 13, Alg. 2).
The three ``λ`` are chosen by leave-one-out cross-validation over the control cells with the
paper's coordinate search ([TROP] eq. 4–5, footnote 2); see
:func:`veil.analytics.causal._trop_core.tune` for the grids and the search as implemented.

Special cases ([TROP] §2.2), tested: ``λ_time = λ_unit = 0, λ_nn = inf`` is DID (imputation form,
equal to TWFE under block assignment); ``λ_time = λ_unit = 0`` and finite ``λ_nn`` is MC-NNM with
``λ_MC = λ_nn / |O|`` (``|O|`` untreated cells).

Weight normalisation: the paper's eq. 3 defines unnormalised weights while its §5 assumes
``Σω = Σθ = 1``; the two differ (rescaling the weights is rescaling ``λ_nn``, by a factor that
changes from cell to cell). veil follows eq. 3 by default and offers ``normalize_weights=True``;
the choice is recorded in ``result_.details["normalize_weights"]``. ``docs/causal-mc-trop.md``
explains why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from veil.analytics.causal import _trop_core as core
from veil.analytics.causal.base import (
    ESTIMATORS,
    Constraint,
    Interval,
    Options,
    PanelEstimator,
    ProgressCallback,
    build_result,
    register_estimator,
)
from veil.analytics.causal.bench import median_seconds, register_benchmark
from veil.analytics.causal.panel import PanelData
from veil.analytics.causal.results import CausalResult, VarianceEstimate, Weights
from veil.analytics.causal.variance import VarianceContext, register_variance
from veil.errors import EstimationError

__all__ = ["DWCP", "TROP", "stratified_bootstrap_variance"]


@register_estimator("dwcp")
class TROP(PanelEstimator):
    """Doubly weighted causal panel estimator (DWCP / TROP), ``λ`` tuned by leave-one-out CV.

    Parameters
    ----------
    lambda_time : float or None, default=None
        Decay of the time weights per period, ``≥ 0``; ``None`` tunes it.
    lambda_unit : float or None, default=None
        Decay of the unit weights per unit of outcome distance, ``≥ 0``; ``None`` tunes it.
    lambda_nn : float or None, default=None
        Nuclear-norm penalty on the sum of weighted squares, ``> 0``; ``inf`` drops the low-rank
        part (weighted two-way fixed effects); ``None`` tunes it.
    normalize_weights : bool, default=False
        Rescale ``ω`` and ``θ`` of each cell to sum to one ([TROP] §5) instead of eq. 3's raw
        exponentials. Changes the meaning of ``lambda_nn``.
    tol : float, default=1e-7
        Solver tolerance for the final per-cell fits, relative to the outcome's sd.
    tuning_tol : float, default=1e-4
        Solver tolerance for the leave-one-out fits during tuning.
    max_loo_cells : int or None, default=None
        ``None`` (default) sums the criterion over every control cell, as the paper does; an
        integer uses a fixed random subset of that many control cells (for large panels).
    tuning : {"loo", "placebo"}, default="loo"
        ``"loo"``: the paper's leave-one-out criterion (eq. 4–5). ``"placebo"``: the criterion of
        the authors' replication code for the paper's simulations — placebo assignments on the
        never-treated units that copy the number of treated units and of treated final periods;
        same coordinate search.
    n_placebo_trials : int, default=50
        Placebo assignments per evaluation when ``tuning="placebo"`` (the replication uses 200).
    se : str or None, default=None
        Variance method; ``"stratified_bootstrap"`` is [TROP] Alg. 3. Replicates keep the ``λ``
        chosen on the data.
    n_replications : int, default=200
    random_state : int, Generator or None, default=0

    Attributes
    ----------
    result_ : CausalResult
        ``details``: ``lambda_time``, ``lambda_unit``, ``lambda_nn``, ``tuned``,
        ``normalize_weights``, ``loo_criterion`` (Q at the chosen λ), ``tuning_path``
        (list of ``{lambda_time, lambda_unit, lambda_nn, Q}``), ``tuning_seconds``,
        ``n_loo_cells``, ``rank`` and ``n_iter`` per treated cell, ``gamma``.
        ``weights``: each treated cell's ``ω`` and ``θ`` normalised to sum to one, averaged
        over the treated cells.
    lambdas_ : tuple of float
        ``(λ_time, λ_unit, λ_nn)`` used.

    Examples
    --------
    >>> import numpy as np
    >>> from veil.analytics.causal import PanelData
    >>> from veil.analytics.causal.trop import TROP
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(12, 1)) + rng.normal(size=(1, 10)) + 0.1 * rng.normal(size=(12, 10))
    >>> W = np.zeros((12, 10), dtype=int); W[-2:, -3:] = 1
    >>> est = TROP(lambda_time=0.0, lambda_unit=0.0, lambda_nn=float("inf"))
    >>> round(est.fit(PanelData(Y=Y + 2 * W, W=W)).att_, 1)
    2.0
    """

    supports_covariates = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "lambda_time": [None, Interval(float, 0, None)],
        "lambda_unit": [None, Interval(float, 0, None)],
        "lambda_nn": [None, Interval(float, 0, None, closed="neither")],
        "normalize_weights": [bool],
        "tol": [Interval(float, 0, None, closed="neither")],
        "tuning_tol": [Interval(float, 0, None, closed="neither")],
        "max_loo_cells": [None, Interval(int, 10, None)],
        "tuning": [Options(frozenset({"loo", "placebo"}))],
        "n_placebo_trials": [Interval(int, 2, None)],
    }

    def __init__(
        self,
        *,
        lambda_time: float | None = None,
        lambda_unit: float | None = None,
        lambda_nn: float | None = None,
        normalize_weights: bool = False,
        tol: float = 1e-7,
        tuning_tol: float = 1e-4,
        max_loo_cells: int | None = None,
        tuning: str = "loo",
        n_placebo_trials: int = 50,
        se: str | None = None,
        n_replications: int = 200,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.lambda_time = lambda_time
        self.lambda_unit = lambda_unit
        self.lambda_nn = lambda_nn
        self.normalize_weights = normalize_weights
        self.tol = tol
        self.tuning_tol = tuning_tol
        self.max_loo_cells = max_loo_cells
        self.tuning = tuning
        self.n_placebo_trials = n_placebo_trials
        self.se = se
        self.n_replications = n_replications
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def _lambdas(
        self, panel: PanelData, progress: ProgressCallback | None = None
    ) -> tuple[core.Lambdas, core.TuningResult | None]:
        given = {"time": self.lambda_time, "unit": self.lambda_unit, "nn": self.lambda_nn}
        fixed = {k: float(v) for k, v in given.items() if v is not None}
        if len(fixed) == 3:
            return core.Lambdas(fixed["time"], fixed["unit"], fixed["nn"]), None
        tuning = core.tune(
            panel.Y, panel.W.astype(float), X=panel.X, fixed=fixed,
            normalize=self.normalize_weights, tol=self.tuning_tol, progress=progress,
            max_cells=self.max_loo_cells, criterion=self.tuning, n_trials=self.n_placebo_trials,
        )  # fmt: skip
        return tuning.lambdas, tuning

    def tune(self, panel: PanelData, *, progress: ProgressCallback | None = None) -> Any:
        """Run only the leave-one-out search on ``panel``; return its ``TuningResult``."""
        self._validate_params()
        self._check_panel(panel)
        return self._lambdas(panel, progress)[1]

    def _fit(self, panel: PanelData) -> CausalResult:
        lam, tuning = self._lambdas(panel, getattr(self, "_progress", None))
        W = panel.W.astype(float)
        rows, cols = core.treated_cells(W)
        fits = core.fit_cells(
            panel.Y, W, rows, cols, lam, X=panel.X, normalize=self.normalize_weights,
            tol=self.tol,
        )  # fmt: skip
        if not np.all(np.isfinite(fits.tau)):
            bad = [
                (panel.units[r], panel.times[c])
                for r, c in zip(
                    rows[~np.isfinite(fits.tau)], cols[~np.isfinite(fits.tau)], strict=True
                )
            ][:5]
            raise EstimationError(
                f"TROP cannot estimate treated cell(s) {bad}: the unit has no other weighted "
                f"untreated period, or no other unit is untreated in that period",
                field="treatment",
                hint="each treated unit needs an untreated period and each treated period an "
                "untreated unit",
            )
        self.lambdas_ = lam.as_tuple()
        treated = np.flatnonzero(panel.treated_units)
        index = {u: k for k, u in enumerate(treated)}
        Y0 = np.full((treated.size, panel.n_periods), np.nan)
        Y0[[index[r] for r in rows], cols] = fits.counterfactual
        details: dict[str, Any] = {
            "lambda_time": lam.time,
            "lambda_unit": lam.unit,
            "lambda_nn": lam.nn,
            "tuned": tuning is not None,
            "normalize_weights": self.normalize_weights,
            "rank": fits.rank,
            "n_iter": fits.n_iter,
            "converged": bool(np.all(fits.converged)),
        }
        if fits.gamma is not None:
            g = np.nanmean(fits.gamma, axis=0)
            details["gamma"] = dict(zip(panel.covariate_names, g.tolist(), strict=True))
        if tuning is not None:
            details.update(
                loo_criterion=tuning.criterion,
                tuning_path=[
                    {"lambda_time": p.time, "lambda_unit": p.unit, "lambda_nn": p.nn, "Q": q}
                    for p, q in tuning.path
                ],
                tuning_seconds=tuning.seconds,
                n_loo_cells=tuning.n_cells,
            )
        return build_result(
            self, panel, Y0, weights=self._average_weights(panel, rows, cols, lam),
            details=details,
        )  # fmt: skip

    def _average_weights(
        self, panel: PanelData, rows: np.ndarray, cols: np.ndarray, lam: core.Lambdas
    ) -> Weights:
        W = panel.W.astype(float)
        dist = core.UnitDistances(panel.Y, W)
        d, ok = dist.for_cells(rows, cols)
        omega = np.where(ok, np.exp(-lam.unit * d), 0.0)
        omega[np.arange(rows.size), rows] = 0.0  # report weights on the other units
        theta = np.exp(-lam.time * np.abs(np.arange(panel.n_periods)[None, :] - cols[:, None]))
        theta = theta * (1.0 - W[rows])  # the treated unit's own untreated periods
        omega /= np.maximum(omega.sum(axis=1, keepdims=True), 1e-300)
        theta /= np.maximum(theta.sum(axis=1, keepdims=True), 1e-300)
        return Weights(
            unit=pd.Series(omega.mean(axis=0), index=pd.Index(panel.units, name="unit")),
            time=pd.Series(theta.mean(axis=0), index=pd.Index(panel.times, name="time")),
        )

    def fit(self, panel: PanelData, *, progress: ProgressCallback | None = None) -> TROP:
        """Estimate the effect on the treated cells of ``panel``; return ``self``.

        ``progress(done, total)`` is called during the tuning search and the variance replicates.
        """
        self._progress = progress
        try:
            return super().fit(panel, progress=progress)
        finally:
            self._progress = None

    # ------------------------------------------------------------------ replicates

    def _att(self, panel: PanelData) -> float:
        return float(self._att_batch([panel])[0])

    def _att_batch(
        self, panels: Sequence[PanelData], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Return the ATT of each replicate panel at the ``λ`` chosen on the data (one batch)."""
        given = (self.lambda_time, self.lambda_unit, self.lambda_nn)
        lam_t = getattr(self, "lambdas_", None)
        if all(v is not None for v in given):
            lam_t = tuple(float(v) for v in given)  # type: ignore[arg-type]
        if lam_t is None:
            out = np.array([self._fit(p).att for p in panels])
        else:
            out = core.att_many(
                [p.Y for p in panels], [p.W for p in panels], core.Lambdas(*lam_t),
                Xs=[p.X for p in panels], normalize=self.normalize_weights,
                tol=max(self.tol, 1e-6),
            )  # fmt: skip
        if progress is not None:
            progress(len(panels), len(panels))
        return out


#: The issue's name for the estimator; the registry knows it as ``dwcp`` and ``trop``.
DWCP = TROP
ESTIMATORS.setdefault("trop", TROP)


# ---------------------------------------------------------------------------- variance


@register_variance(
    "stratified_bootstrap",
    target="units sampled iid within the treated and the control group ([TROP] Alg. 3)",
)
def stratified_bootstrap_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """Stratified unit bootstrap ([TROP] Alg. 3): resample controls and treated units separately.

    Each replicate draws ``N0`` control rows and ``N1`` treated rows with replacement (whole
    trajectories with their treatment rows) and re-estimates; ``V̂ = mean τ̂_b² − (mean τ̂_b)²``.
    Valid as the number of treated units grows; with one treated unit the treated row never
    changes and the SE reflects the controls only, so it is refused.
    """
    treated = np.flatnonzero(panel.treated_units)
    controls = np.flatnonzero(~panel.treated_units)
    if treated.size < 2:
        raise EstimationError(
            f"the stratified bootstrap needs at least two treated units; this panel has "
            f"{treated.size}",
            field="se",
            hint="use se='placebo' or se='conditional' for a single treated unit",
        )
    panels = []
    for _ in range(ctx.n_replications):
        rows = np.concatenate(
            [
                np.sort(ctx.rng.choice(controls, size=controls.size, replace=True)),
                np.sort(ctx.rng.choice(treated, size=treated.size, replace=True)),
            ]
        )
        panels.append(panel.subset(rows))
    atts = estimator._att_batch(panels, ctx.progress)
    finite = atts[np.isfinite(atts)]
    se = float(np.sqrt(np.mean(finite**2) - np.mean(finite) ** 2)) if finite.size > 1 else math.nan
    return VarianceEstimate(
        se=se,
        method="stratified_bootstrap",
        replicates=atts,
        target="units sampled iid within the treated and the control group ([TROP] Alg. 3)",
        details={"n_failed": int(atts.size - finite.size)},
    )


# ---------------------------------------------------------------------------- benchmark


@register_benchmark("trop_tuned_s")
def _bench_trop_tuned(repeat: int, progress: Callable[[str], None]) -> dict[str, float]:
    """Seconds to fit TROP on Prop 99 with the full leave-one-out tuning (median of runs)."""
    from veil import datasets

    panel = PanelData.from_long(
        datasets.load("prop99"), unit="State", time="Year", outcome="PacksPerCapita",
        treatment="treated",
    )  # fmt: skip
    last: dict[str, Any] = {}

    def run() -> None:
        last["est"] = TROP().fit(panel)

    seconds = median_seconds(run, repeat)
    det = last["est"].result_.details
    return {
        "trop_tuned_s": seconds,
        "trop_tuned_evaluations": float(len(det["tuning_path"])),
        "trop_tuned_att": float(last["est"].att_),
    }
