"""Conditional variance estimators for panel ATT estimates (unit, time, or both).

After Almeida, Olaizola, Lestant, Imbens, Athey, "Estimating Variances for Causal Panel Data
Estimators", arXiv 2510.11841 [VAR]. Only the paper's abstract and introduction could be read;
what they establish, and what this module takes from them:

- the three estimators in use — regression-based, Unit-Placebo and Time-Placebo — rest on
  different exchangeability assumptions and therefore target different *conditional* variances;
- all are valid under some assumptions, but their power differs with the heteroskedasticity of
  the data;
- the paper proposes an estimator that models heteroskedasticity in the unit *and* the time
  dimension and has better power in realistic panels.

The formulas below are veil's construction from those statements (the paper's own estimator could
not be checked; see ``docs/causal-mc-trop.md``). Every placebo re-runs the estimator itself, so
they apply to any registered estimator. With ``D`` the treated units and ``S`` the treatment
window (block or single-cell designs), and placebo effects whose true value is 0:

================= ==================================== =========================================
``se=``           placebos (mean of squared estimates) conditional variance targeted
================= ==================================== =========================================
``conditional_    time placebos: units ``D``, window   ``Var(τ̂ | units D)``: the treated units'
unit``            moved to earlier periods ``S'`` (data own noise, averaged over windows; assumes
                  up to the end of ``S'``)             periods exchangeable
``conditional_    unit placebos: the window ``S`` on   ``Var(τ̂ | periods S)``: the treated
time``            control units ``D'`` (treated units  periods' noise, averaged over units;
                  dropped)                             assumes units exchangeable
``marginal``      unit-and-time placebos: controls     the unconditional variance; assumes all
                  ``D'`` on earlier windows ``S'``     cells exchangeable
``conditional``   the two-way combination              ``Var(τ̂ | units D, periods S)`` under
                  ``V_unit · V_time / V_marginal``     multiplicative heteroskedasticity
================= ==================================== =========================================

Why the combination: if the variance of a window average factorises, ``v(D', S') = a(D')·b(S')``
(errors ``ε_it`` independent across units with ``Var ε_it = a_i b_t``), then the three placebo
families estimate ``ā_D b̄``, ``ā b_S`` and ``ā b̄`` (bars: averages over placebo units or
windows), and ``V_unit V_time / V_marginal`` estimates ``a_D b_S`` — the variance of the cell
actually treated. It is the fitted value of the two-way (independence) model for the table of
squared placebo effects, i.e. the Poisson log-linear model ``log E τ̂² = u_unit + v_window``.

Means of squares are uncentred (the placebo effects' true value is 0, so this is their mean
squared error); SEs are their square roots.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from veil.analytics.causal.panel import PanelData, TreatmentPattern
from veil.analytics.causal.results import VarianceEstimate
from veil.analytics.causal.variance import VarianceContext, register_variance
from veil.errors import ConfigError, EstimationError

if TYPE_CHECKING:
    from veil.analytics.causal.base import PanelEstimator, ProgressCallback

__all__ = ["CONDITIONING_TARGETS", "PlaceboDesign", "conditional_variance", "placebo_design"]

#: ``conditioning`` → what the estimate targets (also the ``target`` of the registered methods).
CONDITIONING_TARGETS: dict[str, str] = {
    "unit": "Var(τ̂ | treated units): time placebos on the treated units; periods exchangeable",
    "time": "Var(τ̂ | treated periods): unit placebos on the treatment window; units exchangeable",
    "both": "Var(τ̂ | treated units and periods): two-way (multiplicative) heteroskedasticity, "
    "V_unit·V_time/V_marginal",
    "marginal": "unconditional variance: unit-and-time placebos; all cells exchangeable",
}

_MIN_PRE = 2


@dataclass(frozen=True)
class PlaceboDesign:
    """The treatment layout the placebos copy.

    Attributes
    ----------
    treated : ndarray of int
        Rows of the treated units.
    controls : ndarray of int
        Rows of the never-treated units.
    start : int
        First treated period (column).
    length : int
        Window length ``T1``.
    starts : list of int
        Window starts for time placebos: the window ends before ``start`` and leaves at least
        two earlier periods.
    """

    treated: np.ndarray
    controls: np.ndarray
    start: int
    length: int
    starts: list[int]


def placebo_design(panel: PanelData) -> PlaceboDesign:
    """Return the window layout of a block or single-cell design, or raise naming the problem."""
    W = panel.W.astype(bool)
    rows = np.flatnonzero(W.any(axis=1))
    cols = np.flatnonzero(W.any(axis=0))
    start, length = int(cols[0]), int(cols.size)
    block = (
        panel.pattern in (TreatmentPattern.BLOCK, TreatmentPattern.SINGLE_CELL)
        and cols[-1] - cols[0] + 1 == length
        and bool(np.all(W[np.ix_(rows, cols)]))
        and int(W.sum()) == rows.size * length
    )
    if not block:
        raise EstimationError(
            f"conditional variances need every treated unit treated over the same periods "
            f"(block or single-cell design); this panel's pattern is {panel.pattern.value}",
            field="se",
            hint="use se='bootstrap' or se='stratified_bootstrap' for staggered designs",
        )
    controls = np.flatnonzero(~W.any(axis=1))
    starts = list(range(_MIN_PRE, start - length + 1))
    return PlaceboDesign(rows, controls, start, length, starts)


def _time_placebos(panel: PanelData, d: PlaceboDesign) -> list[PanelData]:
    out = []
    for s in d.starts:
        end = s + d.length
        W = np.zeros((panel.n_units, end), dtype=np.int8)
        W[d.treated, s:end] = 1
        out.append(_panel(panel, np.arange(panel.n_units), end, W))
    return out


def _unit_placebo_sets(
    d: PlaceboDesign, n: int, rng: np.random.Generator
) -> list[np.ndarray]:  # fmt: skip
    n1 = d.treated.size
    if n1 == 1:
        return [np.array([j]) for j in range(d.controls.size)]
    return [np.sort(rng.choice(d.controls.size, n1, replace=False)) for _ in range(n)]


def _unit_placebos(
    panel: PanelData, d: PlaceboDesign, n: int, rng: np.random.Generator
) -> list[PanelData]:
    out = []
    T = panel.n_periods
    for pick in _unit_placebo_sets(d, n, rng):
        W = np.zeros((d.controls.size, T), dtype=np.int8)
        W[pick, d.start : d.start + d.length] = 1
        out.append(_panel(panel, d.controls, T, W))
    return out


def _marginal_placebos(
    panel: PanelData, d: PlaceboDesign, n: int, rng: np.random.Generator
) -> list[PanelData]:
    n1 = d.treated.size
    if n1 == 1:
        pairs = [(j, s) for j in range(d.controls.size) for s in d.starts]
        if len(pairs) > n:
            idx = rng.choice(len(pairs), n, replace=False)
            pairs = [pairs[k] for k in sorted(idx)]
        picks = [(np.array([j]), s) for j, s in pairs]
    else:
        picks = [
            (np.sort(rng.choice(d.controls.size, n1, replace=False)), int(rng.choice(d.starts)))
            for _ in range(n)
        ]
    out = []
    for pick, s in picks:
        end = s + d.length
        W = np.zeros((d.controls.size, end), dtype=np.int8)
        W[pick, s:end] = 1
        out.append(_panel(panel, d.controls, end, W))
    return out


def _panel(panel: PanelData, rows: np.ndarray, end: int, W: np.ndarray) -> PanelData:
    X = None if panel.X is None else panel.X[rows, :end]
    return PanelData(
        Y=panel.Y[rows, :end], W=W, units=panel.units[rows], times=panel.times[:end], X=X,
        covariate_names=panel.covariate_names,
    )  # fmt: skip


def _mean_square(
    estimator: PanelEstimator,
    panels: list[PanelData],
    progress: ProgressCallback | None,
) -> tuple[float, np.ndarray]:
    if not panels:
        return math.nan, np.empty(0)
    atts = np.asarray(estimator._att_batch(panels, progress), dtype=float)
    finite = atts[np.isfinite(atts)]
    return (float(np.mean(finite**2)) if finite.size else math.nan), atts


def conditional_variance(
    estimator: PanelEstimator,
    panel: PanelData,
    *,
    conditioning: str = "both",
    n_replications: int = 200,
    random_state: int | np.random.Generator | None = 0,
    progress: ProgressCallback | None = None,
) -> VarianceEstimate:
    """Estimate the variance of ``estimator``'s ATT on ``panel``, conditional as requested.

    Parameters
    ----------
    estimator : PanelEstimator
        Re-run on every placebo panel (with its current parameters; tuned estimators reuse the
        tuning parameters of their last fit).
    panel : PanelData
        Block or single-cell design.
    conditioning : {"both", "unit", "time", "marginal"}, default="both"
        Which variance to target; see the module docstring.
    n_replications : int, default=200
        Cap on the unit placebos (when more than one unit is treated) and on the
        unit-and-time placebos; time placebos use every admissible window, and with one treated
        unit every control is used.
    random_state : int, Generator or None, default=0
        Randomness for choosing placebo units (public).

    Returns
    -------
    VarianceEstimate
        ``se`` in outcome units; ``details`` has the three mean squares ``v_unit``,
        ``v_time``, ``v_marginal`` (where computed), the number of placebos behind each, and
        ``df``: degrees of freedom for a t reference distribution (the number of placebos, or
        for ``"both"`` the Satterthwaite value ``1/df = 1/k_unit + 1/k_time + 1/k_marginal``).
        With few placebos, ``|τ̂|/se`` has heavier tails than the normal: use
        ``scipy.stats.t.ppf(1 − α/2, df)`` rather than 1.96.
    """
    if conditioning not in CONDITIONING_TARGETS:
        raise ConfigError(
            f"conditioning must be one of {sorted(CONDITIONING_TARGETS)}; got {conditioning!r}",
            field="conditioning",
            hint="'both' models heteroskedasticity in units and periods",
        )
    rng = (
        random_state
        if isinstance(random_state, np.random.Generator)
        else np.random.default_rng(random_state)
    )
    d = placebo_design(panel)
    need_time = conditioning in ("unit", "both")
    need_unit = conditioning in ("time", "both")
    need_marg = conditioning in ("marginal", "both")
    if (need_time or need_marg) and not d.starts:
        raise EstimationError(
            f"time placebos need at least {_MIN_PRE + d.length} periods before treatment for a "
            f"{d.length}-period window; the panel has {d.start}",
            field="se",
            hint="use se='conditional_time' (unit placebos only)",
        )
    if (need_unit or need_marg) and d.controls.size <= d.treated.size:
        raise EstimationError(
            f"unit placebos need more control units than treated ones; got "
            f"{d.controls.size} controls and {d.treated.size} treated",
            field="se",
            hint="use se='conditional_unit' (time placebos only)",
        )
    details: dict[str, float | int | str] = {"conditioning": conditioning}
    reps: list[np.ndarray] = []
    v_unit = v_time = v_marg = math.nan
    if need_time:
        placebos = _time_placebos(panel, d)
        v_unit, a = _mean_square(estimator, placebos, progress)
        details.update(v_unit=v_unit, n_time_placebos=len(placebos))
        reps.append(a)
    if need_unit:
        placebos = _unit_placebos(panel, d, n_replications, rng)
        v_time, a = _mean_square(estimator, placebos, progress)
        details.update(v_time=v_time, n_unit_placebos=len(placebos))
        reps.append(a)
    if need_marg:
        placebos = _marginal_placebos(panel, d, n_replications, rng)
        v_marg, a = _mean_square(estimator, placebos, progress)
        details.update(v_marginal=v_marg, n_unit_time_placebos=len(placebos))
        reps.append(a)
    counts = {
        "unit": int(details.get("n_time_placebos", 0)),
        "time": int(details.get("n_unit_placebos", 0)),
        "marginal": int(details.get("n_unit_time_placebos", 0)),
    }
    if conditioning == "unit":
        v, df = v_unit, float(counts["unit"])
    elif conditioning == "time":
        v, df = v_time, float(counts["time"])
    elif conditioning == "marginal":
        v, df = v_marg, float(counts["marginal"])
    else:
        v = v_unit * v_time / v_marg if v_marg > 0 else math.nan
        # Satterthwaite on the log scale: Var log(χ²_k/k) ≈ 2/k, so 1/df = Σ 1/k.
        df = 1.0 / sum(1.0 / max(k, 1) for k in counts.values())
    details["df"] = df
    name = "conditional" if conditioning == "both" else f"conditional_{conditioning}"
    if conditioning == "marginal":
        name = "marginal"
    return VarianceEstimate(
        se=math.sqrt(v) if np.isfinite(v) and v >= 0 else math.nan,
        method=name,
        replicates=np.concatenate(reps) if reps else None,
        target=CONDITIONING_TARGETS[conditioning],
        details=details,
    )


def _registered(conditioning: str) -> Callable[..., VarianceEstimate]:
    def method(
        estimator: PanelEstimator, panel: PanelData, ctx: VarianceContext
    ) -> VarianceEstimate:
        return conditional_variance(
            estimator, panel, conditioning=conditioning, n_replications=ctx.n_replications,
            random_state=ctx.rng, progress=ctx.progress,
        )  # fmt: skip

    method.__name__ = f"conditional_{conditioning}_variance"
    method.__doc__ = (
        f"Conditional variance, conditioning={conditioning!r}: "
        + (CONDITIONING_TARGETS[conditioning])
    )
    return method


register_variance("conditional", target=CONDITIONING_TARGETS["both"])(_registered("both"))
register_variance("conditional_unit", target=CONDITIONING_TARGETS["unit"])(_registered("unit"))
register_variance("conditional_time", target=CONDITIONING_TARGETS["time"])(_registered("time"))
register_variance("marginal", target=CONDITIONING_TARGETS["marginal"])(_registered("marginal"))
