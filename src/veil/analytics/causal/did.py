"""Difference-in-differences / two-way fixed effects, with optional time-varying covariates.

Two variants (``kind=``), equal under block assignment without covariates:

- ``"imputation"`` (default): fit ``Y_it = α_i + β_t + X_it'γ + ε_it`` on the untreated cells only,
  impute ``Ŷ_it(0) = α̂_i + β̂_t + X_it'γ̂`` on the treated cells, ``τ̂_it = Y_it − Ŷ_it(0)``,
  ``τ̂ = mean τ̂_it`` (Borusyak, Jaravel & Spiess 2024; the TROP special case with uniform weights
  and no low-rank term). Valid under staggered adoption with heterogeneous effects.
- ``"twfe"``: the ordinary least squares regression on all cells
  ``Y_it = α_i + β_t + X_it'γ + τ W_it + ε_it`` with one common ``τ``. Under staggered adoption
  it mixes comparisons with possibly negative weights (Goodman-Bacon 2021); prefer imputation.

Both solve the normal equations of the fixed-effects design directly (their Gram matrix is built
from the cell mask without forming the ``NT × (N+T)`` design), so an ``N = 1000, T = 100`` panel
costs one ``1100 × 1100`` solve.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from veil.analytics.causal.base import (
    Constraint,
    Options,
    PanelEstimator,
    build_result,
    register_estimator,
)
from veil.analytics.causal.panel import PanelData
from veil.analytics.causal.results import CausalResult
from veil.errors import EstimationError

__all__ = ["DID"]


@register_estimator("did")
class DID(PanelEstimator):
    """Difference-in-differences with unit and period fixed effects.

    Parameters
    ----------
    kind : {"imputation", "twfe"}, default="imputation"
        Fit on untreated cells and impute (any pattern), or one OLS regression with a common effect.
    se : str or None, default=None
        Variance method (a key of ``VARIANCE_METHODS``): ``"regression"``, ``"placebo"`` ...
    n_replications : int, default=200
        Replicates for resampling variance methods.
    random_state : int, Generator or None, default=0
        Seed for resampling variance methods.

    Attributes
    ----------
    result_ : CausalResult
        The estimate; ``result_.details`` holds ``alpha`` (unit effects), ``beta`` (period
        effects, first period 0) and ``gamma`` (covariate coefficients).
    att_ : float
        ``result_.att``.
    se_ : float
        ``result_.se``.

    Notes
    -----
    Under block assignment without covariates ``τ̂ = (Ȳ_tr,post − Ȳ_tr,pre) − (Ȳ_co,post −
    Ȳ_co,pre)`` — on Prop 99 this is −27.35 packs per capita ([SDID] Table 1).

    Examples
    --------
    >>> from veil import datasets
    >>> from veil.analytics.causal import DID, PanelData
    >>> panel = PanelData.from_long(datasets.load("prop99"), unit="State", time="Year",
    ...                             outcome="PacksPerCapita", treatment="treated")
    >>> round(DID().fit(panel).att_, 2)
    -27.35
    """

    supports_covariates = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "kind": [Options(frozenset({"imputation", "twfe"}))]
    }

    def __init__(
        self,
        *,
        kind: str = "imputation",
        se: str | None = None,
        n_replications: int = 200,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.kind = kind
        self.se = se
        self.n_replications = n_replications
        self.random_state = random_state

    def _fit(self, panel: PanelData) -> CausalResult:
        fit = _solve(panel, self.kind)
        treated = panel.treated_units
        Y0 = fit["alpha"][treated, None] + fit["beta"][None, :]
        if panel.X is not None:
            Y0 = Y0 + panel.X[treated] @ fit["gamma"]
        details = {
            "kind": self.kind,
            "alpha": fit["alpha"],
            "beta": fit["beta"],
            "gamma": dict(zip(panel.covariate_names, fit["gamma"].tolist(), strict=True)),
        }
        return build_result(self, panel, Y0, att=fit.get("tau"), details=details)

    def _att(self, panel: PanelData) -> float:
        fit = _solve(panel, self.kind)
        if "tau" in fit:
            return float(fit["tau"])
        W = panel.W.astype(bool)
        rows, cols = np.nonzero(W)
        Y0 = fit["alpha"][rows] + fit["beta"][cols]
        if panel.X is not None:
            Y0 = Y0 + panel.X[rows, cols] @ fit["gamma"]
        return float(np.mean(panel.Y[rows, cols] - Y0))

    def _regression_variance(self, panel: PanelData) -> tuple[float, dict[str, Any]]:
        """Return the homoskedastic OLS standard error of ``τ̂`` and the residual variance."""
        fit = _solve(panel, self.kind)
        sigma2 = fit["rss"] / fit["dof"]
        if self.kind == "twfe":
            var = sigma2 * fit["inv_tau"]
        else:
            # τ̂ = mean(Y_treated) − c'θ̂ with θ̂ from control cells only: independent parts.
            n1 = panel.n_treated_cells
            var = sigma2 * (1.0 / n1 + float(fit["c"] @ np.linalg.solve(fit["G"], fit["c"])))
        return float(np.sqrt(var)), {"sigma2": float(sigma2), "dof": int(fit["dof"])}


def _solve(panel: PanelData, kind: str) -> dict[str, Any]:
    """Least squares for two-way fixed effects (+ covariates, + τ for ``twfe``) via normal equations.

    Parameters θ = (α_1..α_N, β_2..β_T, γ_1..γ_K[, τ]); β_1 = 0 for identification.
    """
    Y = panel.Y
    n, t = Y.shape
    W = panel.W.astype(bool)
    X = panel.X if panel.X is not None else np.zeros((n, t, 0))
    k = X.shape[2]
    M = (~W).astype(float) if kind == "imputation" else np.ones((n, t))
    _check_identified(panel, M)
    # Columns: α (n), β (t−1), γ (k), τ (twfe only).
    Z = [X[:, :, j] for j in range(k)]
    if kind == "twfe":
        Z.append(W.astype(float))
    q = len(Z)
    p = n + (t - 1) + q
    G = np.zeros((p, p))
    b = np.zeros(p)
    MY = M * Y
    G[np.arange(n), np.arange(n)] = M.sum(axis=1)
    G[:n, n : n + t - 1] = M[:, 1:]
    G[n : n + t - 1, :n] = M[:, 1:].T
    G[np.arange(n, n + t - 1), np.arange(n, n + t - 1)] = M.sum(axis=0)[1:]
    b[:n] = MY.sum(axis=1)
    b[n : n + t - 1] = MY.sum(axis=0)[1:]
    off = n + t - 1
    for a, Za in enumerate(Z):
        MZa = M * Za
        G[:n, off + a] = G[off + a, :n] = MZa.sum(axis=1)
        G[n:off, off + a] = G[off + a, n:off] = MZa.sum(axis=0)[1:]
        for c in range(a, q):
            G[off + a, off + c] = G[off + c, off + a] = float(np.sum(MZa * Z[c]))
        b[off + a] = float(np.sum(MZa * Y))
    # Scale for conditioning, solve, and check that covariates are not collinear with the FEs.
    d = np.sqrt(np.maximum(np.diag(G), 1e-300))
    Gs = G / d[:, None] / d[None, :]
    try:
        chol = np.linalg.cholesky(Gs)
    except np.linalg.LinAlgError:
        chol = None
    if chol is None or np.min(np.abs(np.diag(chol))) < 1e-7:
        names = [*panel.covariate_names, *(["treatment"] if kind == "twfe" else [])]
        raise EstimationError(
            "the fixed-effects regression is singular: a covariate (or the treatment) is "
            f"collinear with the unit and period effects; covariates {names}",
            field="covariates",
            hint="drop covariates that are constant within units or within periods",
        )
    theta = np.linalg.solve(Gs, b / d) / d
    alpha = theta[:n]
    beta = np.concatenate([[0.0], theta[n:off]])
    coef = theta[off:]
    fitted = alpha[:, None] + beta[None, :]
    for a, Za in enumerate(Z):
        fitted = fitted + coef[a] * Za
    rss = float(np.sum(M * (Y - fitted) ** 2))
    out: dict[str, Any] = {
        "alpha": alpha,
        "beta": beta,
        "gamma": coef[:k],
        "rss": rss,
        "dof": max(float(M.sum()) - p, 1.0),
        "G": G,
    }
    if kind == "twfe":
        out["tau"] = float(coef[k])
        e = np.zeros(p)
        e[-1] = 1.0
        out["inv_tau"] = float(np.linalg.solve(G, e)[-1])
    else:
        rows, cols = np.nonzero(W)
        cvec = np.zeros(p)
        np.add.at(cvec, rows, 1.0)
        np.add.at(cvec, n + cols[cols > 0] - 1, 1.0)
        for a in range(k):
            cvec[off + a] = X[rows, cols, a].sum()
        out["c"] = cvec / rows.size
    return out


def _check_identified(panel: PanelData, M: np.ndarray) -> None:
    units_without = np.flatnonzero(M.sum(axis=1) == 0)
    if units_without.size:
        raise EstimationError(
            f"unit(s) {panel.units[units_without][:5].tolist()} are treated in every period, so "
            "their unit effect cannot be estimated from untreated cells",
            field="treatment",
            hint="DID imputation needs at least one untreated period per unit; drop those units",
        )
    periods_without = np.flatnonzero(M.sum(axis=0) == 0)
    if periods_without.size:
        raise EstimationError(
            f"period(s) {panel.times[periods_without][:5].tolist()} have every unit treated, so "
            "their period effect cannot be estimated",
            field="treatment",
            hint="keep some not-yet-treated units in those periods, or drop the periods",
        )
