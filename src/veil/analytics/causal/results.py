"""One tidy result object for every panel estimator: estimate, effects, counterfactual, weights, SE."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from veil.errors import ConfigError, EstimationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CausalResult", "VarianceEstimate", "Weights"]


@dataclass(frozen=True)
class Weights:
    """Weights an estimator put on control units and pre-treatment periods.

    Attributes
    ----------
    unit : pandas.Series or None
        Unit weights ``ω`` indexed by unit label (controls only), or ``None`` if the method has none.
    time : pandas.Series or None
        Time weights ``λ`` indexed by period label (pre-treatment periods), or ``None``.
    intercept : float or None
        Level shift added to the weighted controls (SC with intercept, SDID), or ``None``.
    """

    unit: pd.Series | None = None
    time: pd.Series | None = None
    intercept: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"unit": {label: w}, "time": {label: w}, "intercept": x}`` (JSON-ready)."""
        return {
            "unit": None if self.unit is None else _series_dict(self.unit),
            "time": None if self.time is None else _series_dict(self.time),
            "intercept": self.intercept,
        }


@dataclass(frozen=True)
class VarianceEstimate:
    """Standard error of an ATT estimate and how it was obtained.

    Attributes
    ----------
    se : float
        Standard error, in the outcome's units (NaN when it cannot be computed).
    method : str
        Name of the variance method in :data:`veil.analytics.causal.variance.VARIANCE_METHODS`.
    replicates : ndarray of shape (R,) or None
        Replicate estimates (placebo, bootstrap, jackknife) the SE was computed from.
    target : str
        What the method treats as exchangeable, i.e. which (conditional) variance it estimates.
    details : dict
        Method-specific diagnostics (e.g. number of failed draws).
    """

    se: float
    method: str
    replicates: np.ndarray | None = None
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CausalResult:
    """Estimated average treatment effect on the treated cells, with everything behind it.

    Attributes
    ----------
    method : str
        Registry name of the estimator (``did``, ``sc``, ``sdid`` ...).
    att : float
        Average effect over treated cells, ``τ̂ = Σ W_it τ̂_it / Σ W_it`` unless the method
        defines another weighting (see its docs), in outcome units.
    effects : pandas.DataFrame
        One row per treated cell: ``unit, time, observed, counterfactual, effect``.
    counterfactual : pandas.DataFrame
        Estimated untreated outcomes ``Ŷ(0)`` of the treated units (rows) in every period
        (columns); NaN where the method gives none.
    observed : pandas.DataFrame
        Observed outcomes of the treated units, same layout as ``counterfactual``.
    weights : Weights
        Unit and time weights (``.weights.unit``, ``.weights.time``).
    variance : VarianceEstimate or None
        How ``se`` was computed; ``None`` if no variance was requested.
    n_units, n_periods, n_treated_cells : int
        Panel size.
    params : dict
        The estimator's parameters at fit time.
    details : dict
        Method-specific extras (regularisation used, cohorts, solver iterations ...).
    """

    method: str
    att: float
    effects: pd.DataFrame
    counterfactual: pd.DataFrame
    observed: pd.DataFrame
    weights: Weights = field(default_factory=Weights)
    variance: VarianceEstimate | None = None
    n_units: int = 0
    n_periods: int = 0
    n_treated_cells: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ inference

    @property
    def estimate(self) -> float:
        """Alias of :attr:`att`."""
        return self.att

    @property
    def se(self) -> float:
        """Standard error of :attr:`att` (NaN if no variance method was run)."""
        return math.nan if self.variance is None else float(self.variance.se)

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        """Return the normal-approximation ``1 - alpha`` confidence interval ``att ± z·se``.

        Raises
        ------
        ConfigError
            ``alpha`` is not in (0, 1).
        EstimationError
            No standard error is available (fit with ``se="placebo"`` or another method).
        """
        if not 0.0 < alpha < 1.0:
            raise ConfigError(
                f"alpha must be in (0, 1); got {alpha!r}",
                field="alpha",
                hint="alpha=0.05 gives a 95% interval",
            )
        if math.isnan(self.se):
            raise EstimationError(
                f"no standard error for this {self.method} estimate, so no confidence interval",
                field="se",
                hint="fit with se='placebo' (or 'jackknife', 'bootstrap', ...) to get one",
            )
        z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
        return (self.att - z * self.se, self.att + z * self.se)

    conf_int = ci

    def with_variance(self, variance: VarianceEstimate) -> CausalResult:
        """Return a copy carrying ``variance``."""
        return dataclasses.replace(self, variance=variance)

    # ------------------------------------------------------------------ presentation

    @property
    def effects_by_time(self) -> pd.DataFrame:
        """Mean observed, counterfactual and effect over treated cells, one row per period."""
        grouped = self.effects.groupby("time", sort=True)[["observed", "counterfactual", "effect"]]
        return grouped.mean().assign(n_cells=self.effects.groupby("time").size())

    def summary(self, alpha: float = 0.05) -> str:
        """Return a short text report: estimate, SE, interval, panel size and weights."""
        lines = [
            f"{self.method} estimate of the ATT",
            "=" * 44,
            f"{'ATT':<24}{self.att:>20.4f}",
        ]
        if not math.isnan(self.se):
            assert self.variance is not None
            low, high = self.ci(alpha)
            level = f"{100 * (1 - alpha):g}% CI"
            lines += [
                f"{'SE (' + self.variance.method + ')':<24}{self.se:>20.4f}",
                f"{level:<24}{f'[{low:.4f}, {high:.4f}]':>20}",
            ]
        lines += [
            f"{'units × periods':<24}{f'{self.n_units} × {self.n_periods}':>20}",
            f"{'treated cells':<24}{self.n_treated_cells:>20}",
        ]
        if self.weights.unit is not None:
            top = self.weights.unit.sort_values(ascending=False)
            top = top[top > 1e-6].head(5)
            shown = ", ".join(f"{k} {v:.3f}" for k, v in top.items())
            lines.append(f"{'top unit weights':<24}{shown}")
        if self.weights.intercept is not None:
            lines.append(f"{'intercept':<24}{self.weights.intercept:>20.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None) -> Figure:
        """Plot observed vs counterfactual (mean over treated units) and the effect per period.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, optional
            Where to draw; a new figure with two panels otherwise.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        if ax is None:
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        else:
            top, bottom = ax
            fig = top.figure
        times = self.observed.columns
        top.plot(times, self.observed.mean(axis=0).to_numpy(), label="observed (treated)")
        top.plot(
            times,
            self.counterfactual.mean(axis=0).to_numpy(),
            linestyle="--",
            label=f"counterfactual ({self.method})",
        )
        first = self.effects["time"].min()
        for axis in (top, bottom):
            axis.axvline(first, color="grey", linewidth=0.8, linestyle=":")
        top.set_ylabel("outcome")
        top.legend(loc="best")
        by_time = self.effects_by_time
        bottom.plot(by_time.index, by_time["effect"].to_numpy(), marker="o")
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.set_ylabel("effect")
        bottom.set_xlabel("time")
        title = f"{self.method}: ATT {self.att:.3f}"
        if not math.isnan(self.se):
            title += f" (SE {self.se:.3f})"
        top.set_title(title)
        return fig

    def to_dict(self, alpha: float = 0.05) -> dict[str, Any]:
        """Return a JSON-ready dict: method, att, se, ci_low, ci_high, panel size, effects, weights."""
        low = high = math.nan
        if not math.isnan(self.se):
            low, high = self.ci(alpha)
        return {
            "method": self.method,
            "att": _num(self.att),
            "se": _num(self.se),
            "se_method": None if self.variance is None else self.variance.method,
            "ci_low": _num(low),
            "ci_high": _num(high),
            "alpha": alpha,
            "n_units": self.n_units,
            "n_periods": self.n_periods,
            "n_treated_cells": self.n_treated_cells,
            "effects": [
                {k: _jsonable(v) for k, v in row.items()}
                for row in self.effects.to_dict(orient="records")
            ],
            "weights": self.weights.to_dict(),
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating | float):
        return _num(float(v))
    if v is None or isinstance(v, bool | int | str):
        return v
    return str(v)


def _series_dict(s: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in s.items()}
