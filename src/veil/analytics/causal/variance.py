"""Variance estimators for panel ATT estimates, pluggable by name.

Each method is a function ``method(estimator, panel, ctx) -> VarianceEstimate`` registered with
:func:`register_variance` under the name users pass as ``se=`` (``SyntheticDID(se="placebo")``,
``veil causal estimate --se placebo``). Methods only talk to an estimator through its replicate
hooks (``_att_batch``, ``_jackknife_atts``, ``_regression_variance``), so new estimators get every
method for free and new methods work with every estimator.

Built in (each says what it treats as exchangeable, i.e. which variance it targets):

============== ========================================================================
``placebo``    Unit placebo ([SDID] Alg. 4): drop the treated units, give the treated
               units' treatment rows to ``N1`` randomly chosen controls, re-estimate;
               ``se = sd(τ̂_b)`` (population sd). Units exchangeable. Needs ``N0 > N1``.
``time_placebo`` Keep the pre-treatment periods only and move the treatment window of the
               treated units back to every earlier start with at least 2 prior periods;
               ``se = sqrt(mean τ̂_s²)`` — not centred: the true placebo effect is 0, and the
               few, overlapping windows would hide a systematic pre-period gap. Periods
               exchangeable (the treated units' variance over time).
``jackknife``  Leave one unit out ([SDID] Alg. 3); ``se = sqrt((n−1)/n · Σ(τ̂_(i) − τ̄)²)``.
               Needs at least two treated units. SDID keeps its weights fixed, as in the paper.
``bootstrap``  Unit bootstrap ([SDID] Alg. 2): draw ``N`` units with replacement (redraw if
               no treated or no control unit is drawn), re-estimate; ``se = sd(τ̂_b)``.
               Needs many treated units to be valid.
``regression`` The estimator's own regression variance (DID: OLS variance of τ̂ in the
               two-way fixed-effects regression). Cells exchangeable (homoskedastic).
============== ========================================================================

[SDID] Arkhangelsky, Athey, Hirshberg, Imbens, Wager (2021), AER 111(12), §5 and Algorithms 2–4.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from veil.analytics.causal.panel import PanelData, TreatmentPattern
from veil.analytics.causal.results import VarianceEstimate
from veil.errors import ConfigError, EstimationError

if TYPE_CHECKING:
    from veil.analytics.causal.base import PanelEstimator, ProgressCallback

__all__ = [
    "VARIANCE_METHODS",
    "VarianceContext",
    "VarianceMethod",
    "estimate_variance",
    "register_variance",
]


@dataclass(frozen=True)
class VarianceContext:
    """What a variance method may use besides the estimator and panel.

    Attributes
    ----------
    n_replications : int
        Number of replicates for resampling methods (placebo, bootstrap).
    rng : numpy.random.Generator
        Randomness for resampling (public simulation randomness, not a secret).
    progress : callable or None
        ``progress(done, total)`` to report replicate progress.
    """

    n_replications: int
    rng: np.random.Generator
    progress: ProgressCallback | None = None


VarianceMethod = Callable[["PanelEstimator", PanelData, VarianceContext], VarianceEstimate]

#: Name → variance method. Extend with :func:`register_variance`.
VARIANCE_METHODS: dict[str, VarianceMethod] = {}
#: Name → one line saying what the method treats as exchangeable.
VARIANCE_TARGETS: dict[str, str] = {}


def register_variance(name: str, *, target: str) -> Callable[[VarianceMethod], VarianceMethod]:
    """Register ``method(estimator, panel, ctx) -> VarianceEstimate`` under ``name``.

    ``target`` says which (conditional) variance it estimates, e.g. "units exchangeable".
    """

    def decorate(fn: VarianceMethod) -> VarianceMethod:
        if name in VARIANCE_METHODS and VARIANCE_METHODS[name] is not fn:
            raise ConfigError(f"variance method {name!r} is already registered", field="se")
        VARIANCE_METHODS[name] = fn
        VARIANCE_TARGETS[name] = target
        return fn

    return decorate


def estimate_variance(
    estimator: PanelEstimator,
    panel: PanelData,
    *,
    method: str,
    n_replications: int = 200,
    random_state: int | np.random.Generator | None = None,
    progress: ProgressCallback | None = None,
) -> VarianceEstimate:
    """Run variance method ``method`` for ``estimator`` (with its current parameters) on ``panel``.

    Parameters
    ----------
    method : str
        A key of :data:`VARIANCE_METHODS`.
    n_replications : int, default=200
        Replicates for resampling methods.
    random_state : int, Generator or None
        Seed for resampling; ``None`` draws fresh entropy.

    Returns
    -------
    VarianceEstimate
    """
    if method not in VARIANCE_METHODS:
        raise ConfigError(
            f"unknown variance method {method!r}; known: {', '.join(sorted(VARIANCE_METHODS))}",
            field="se",
            hint="pass one of the registered names as se=",
        )
    rng = (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(random_state)
    )
    ctx = VarianceContext(n_replications=n_replications, rng=rng, progress=progress)
    return VARIANCE_METHODS[method](estimator, panel, ctx)


def _sd(replicates: np.ndarray) -> float:
    # sqrt((R-1)/R) * sd(ddof=1) as in [SDID] Alg. 2 and 4 == population sd.
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 2:
        return math.nan
    return float(np.std(finite, ddof=0))


# ---------------------------------------------------------------------- built-in methods


@register_variance("placebo", target="units exchangeable (unit placebo, [SDID] Alg. 4)")
def placebo_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """Unit placebo: reassign the treated rows' pattern to random controls, re-estimate."""
    treated = panel.treated_units
    controls = np.flatnonzero(~treated)
    n1, n0 = int(treated.sum()), controls.size
    if n0 <= n1:
        raise EstimationError(
            f"the unit placebo needs more control units than treated ones; got {n0} controls "
            f"and {n1} treated units",
            field="se",
            hint="use se='bootstrap' or se='time_placebo' instead",
        )
    W_treated = panel.W[treated]
    X = None if panel.X is None else panel.X[controls]
    panels: list[PanelData] = []
    for _ in range(ctx.n_replications):
        pick = ctx.rng.choice(n0, size=n1, replace=False)
        W = np.zeros((n0, panel.n_periods), dtype=np.int8)
        W[pick] = W_treated
        panels.append(
            PanelData(
                Y=panel.Y[controls],
                W=W,
                units=panel.units[controls],
                times=panel.times,
                X=X,
                covariate_names=panel.covariate_names,
            )
        )
    atts = estimator._att_batch(panels, ctx.progress)
    return VarianceEstimate(
        se=_sd(atts),
        method="placebo",
        replicates=atts,
        target=VARIANCE_TARGETS["placebo"],
        details={"n_controls": n0, "n_treated_units": n1, "mean": float(np.nanmean(atts))},
    )


@register_variance(
    "time_placebo", target="periods exchangeable (the treated units' variance over time)"
)
def time_placebo_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """Time placebo: move the treatment window back in time on pre-treatment data only."""
    min_pre = 2
    cols = np.flatnonzero(panel.W.any(axis=0))
    t0, t1 = int(cols[0]), int(cols.size)
    treated = panel.treated_units
    simultaneous = panel.pattern in (TreatmentPattern.BLOCK, TreatmentPattern.SINGLE_CELL) and (
        bool(np.all(panel.W[treated][:, cols] == 1)) and cols[-1] - cols[0] + 1 == t1
    )
    if not simultaneous:
        raise EstimationError(
            f"the time placebo needs every treated unit treated over the same periods "
            f"(block or single-cell design); this panel's pattern is {panel.pattern.value}",
            field="se",
            hint="use se='placebo' or se='bootstrap'",
        )
    starts = list(range(min_pre, t0 - t1 + 1))
    if len(starts) < 2:
        raise EstimationError(
            f"the time placebo needs at least {min_pre + t1 + 1} pre-treatment periods for a "
            f"{t1}-period treatment window; the panel has {t0}",
            field="se",
            hint="use se='placebo' (unit placebo) instead",
        )
    panels: list[PanelData] = []
    for s in starts:
        W = np.zeros((panel.n_units, s + t1), dtype=np.int8)
        W[treated, s:] = 1
        X = None if panel.X is None else panel.X[:, : s + t1]
        panels.append(
            PanelData(
                Y=panel.Y[:, : s + t1],
                W=W,
                units=panel.units,
                times=panel.times[: s + t1],
                X=X,
                covariate_names=panel.covariate_names,
            )
        )
    atts = estimator._att_batch(panels, ctx.progress)
    finite = atts[np.isfinite(atts)]
    return VarianceEstimate(
        se=float(np.sqrt(np.mean(finite**2))) if finite.size >= 2 else math.nan,
        method="time_placebo",
        replicates=atts,
        target=VARIANCE_TARGETS["time_placebo"],
        details={
            "placebo_starts": [_label(panel.times[s]) for s in starts],
            "mean": float(np.mean(finite)) if finite.size else math.nan,
        },
    )


@register_variance("jackknife", target="units exchangeable (leave one unit out, [SDID] Alg. 3)")
def jackknife_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """Leave-one-unit-out jackknife; the estimator decides whether weights are re-estimated."""
    n1 = int(panel.treated_units.sum())
    if n1 < 2:
        raise EstimationError(
            f"the jackknife needs at least two treated units (leaving out the only treated unit "
            f"leaves nothing to estimate); this panel has {n1}",
            field="se",
            hint="use se='placebo' for a single treated unit",
        )
    atts = estimator._jackknife_atts(panel, ctx.progress)
    n = atts.size
    se = float(math.sqrt((n - 1) / n * np.sum((atts - atts.mean()) ** 2)))
    return VarianceEstimate(
        se=se, method="jackknife", replicates=atts, target=VARIANCE_TARGETS["jackknife"]
    )


@register_variance("bootstrap", target="units sampled iid (unit bootstrap, [SDID] Alg. 2)")
def bootstrap_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """Unit bootstrap: resample whole unit trajectories with replacement, re-estimate."""
    n = panel.n_units
    treated = panel.treated_units
    panels: list[PanelData] = []
    redraws = 0
    while len(panels) < ctx.n_replications:
        rows = np.sort(ctx.rng.integers(0, n, size=n))
        k = int(treated[rows].sum())
        if k == 0 or k == n:
            redraws += 1
            if redraws > 100 * ctx.n_replications:
                raise EstimationError(
                    "the unit bootstrap keeps drawing samples without a treated or a control unit",
                    field="se",
                    hint="use se='placebo'",
                )
            continue
        # Treated rows last, so the pattern of each draw matches the original design.
        rows = np.concatenate([rows[~treated[rows]], rows[treated[rows]]])
        panels.append(panel.subset(rows))
    atts = estimator._att_batch(panels, ctx.progress)
    return VarianceEstimate(
        se=_sd(atts),
        method="bootstrap",
        replicates=atts,
        target=VARIANCE_TARGETS["bootstrap"],
        details={"redraws": redraws},
    )


@register_variance("regression", target="cells exchangeable (homoskedastic regression errors)")
def regression_variance(
    estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
) -> VarianceEstimate:
    """The estimator's analytic regression variance (DID/TWFE)."""
    hook = getattr(type(estimator), "_regression_variance", None)
    if hook is None:
        raise EstimationError(
            f"{type(estimator).__name__} has no regression-based variance",
            field="se",
            hint="regression-based variance is defined for did; use se='placebo' here",
        )
    se, details = estimator._regression_variance(panel)
    return VarianceEstimate(
        se=float(se),
        method="regression",
        target=VARIANCE_TARGETS["regression"],
        details=details,
    )


def _label(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
