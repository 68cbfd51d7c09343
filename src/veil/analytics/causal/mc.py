"""Matrix completion with a nuclear-norm penalty (MC-NNM), penalty chosen by cross-validation.

Model ([MC] §2): ``Y_it(0) = L_it + Γ_i + Δ_t + X_it·γ + ε_it`` with ``L`` low rank. The treated
cells are missing; the untreated cells ``O`` are observed. The estimate solves

    min_{L, Γ, Δ, γ}  |O|⁻¹ Σ_{(i,t)∈O} (Y_it − L_it − Γ_i − Δ_t − X_it·γ)²  +  λ ‖L‖_*

(only ``L`` is penalised) and ``τ̂ = mean over treated cells of (Y_it − Ŷ_it(0))``.

Algorithm, following the reference implementation [MCPanel] (``mcnnm_fit``, ``mcnnm_cv``):

- start from ``L = 0`` and alternate ``Γ ← row means``, ``Δ ← column means`` of the residual over
  observed cells until they settle; ``λ_max = 2 σ₁(P_O(Y − Γ1' − 1Δ')) / |O|`` is the smallest
  penalty for which ``L̂ = 0``;
- for a fixed ``λ``, cyclic block updates: ``Γ``, ``Δ`` (and ``γ``: least squares on the observed
  residual), then the soft-impute step ``L ← S_{λ|O|/2}(P_O(Y − Γ1' − 1Δ' − Xγ) + P_O^⊥(L))``
  (singular-value soft-thresholding; Mazumder, Hastie & Tibshirani 2010); stop when the objective
  falls by a relative amount in ``[0, tol)``;
- the ``λ`` path: ``n_lambda − 1`` values log-spaced from ``λ_max`` to ``λ_max·10⁻³``, then 0,
  solved from the largest with warm starts;
- cross-validation: ``n_folds`` random splits, each observed cell kept for training with
  probability ``train_ratio``; the whole path is fitted on every fold (all folds at once, as one
  batched computation), the validation MSE averaged over folds, and the minimising ``λ`` refitted
  on all observed cells along the path.

[MC] Athey, Bayati, Doudchenko, Imbens, Khosravi (2021), "Matrix Completion Methods for Causal
Panel Data Models", JASA 116(536), 1716–1730. [MCPanel] https://github.com/susanathey/MCPanel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from veil.analytics.causal.base import (
    Constraint,
    Interval,
    PanelEstimator,
    ProgressCallback,
    build_result,
    register_estimator,
)
from veil.analytics.causal.panel import PanelData
from veil.analytics.causal.results import CausalResult
from veil.errors import EstimationError

__all__ = [
    "MCFit",
    "MatrixCompletion",
    "mcnnm_cv",
    "mcnnm_fit",
    "mcnnm_lambda_max",
    "mcnnm_lambda_path",
]


@dataclass(frozen=True)
class MCFit:
    """A fitted MC-NNM model (one problem, or a batch along the first axis).

    Attributes
    ----------
    L : ndarray of shape (N, T)
        Low-rank part.
    unit_effects : ndarray of shape (N,)
        ``Γ``.
    time_effects : ndarray of shape (T,)
        ``Δ``.
    gamma : ndarray of shape (K,)
        Covariate coefficients (empty without covariates).
    lam : float
        Penalty ``λ`` (per-cell-mean scale, as in [MCPanel]).
    n_iter : int
        Sweeps used at ``lam`` (the last point of the path).
    """

    L: np.ndarray
    unit_effects: np.ndarray
    time_effects: np.ndarray
    gamma: np.ndarray
    lam: float
    n_iter: int

    def predict(self, X: np.ndarray | None = None) -> np.ndarray:
        """Return ``Ŷ(0) = L + Γ1' + 1Δ' + X·γ``, shape ``(N, T)``."""
        out = self.L + self.unit_effects[:, None] + self.time_effects[None, :]
        if X is not None and self.gamma.size:
            out = out + X @ self.gamma
        return np.asarray(out)


@dataclass(frozen=True)
class MCCVResult:
    """Cross-validation of the MC-NNM penalty.

    Attributes
    ----------
    lam : float
        Chosen ``λ``.
    lambdas : ndarray of shape (n_lambda,)
        The path, decreasing.
    cv_mse : ndarray of shape (n_lambda,)
        Validation MSE averaged over folds.
    fit : MCFit
        Refit on all observed cells at ``lam``.
    """

    lam: float
    lambdas: np.ndarray
    cv_mse: np.ndarray
    fit: MCFit


# ---------------------------------------------------------------------------- the solver


def _check_observed(obs: np.ndarray) -> None:
    if not (obs.any(axis=1).all() and obs.any(axis=0).all()):
        raise EstimationError(
            "matrix completion needs at least one untreated cell in every unit and period",
            field="treatment",
            hint="drop units or periods that are treated throughout",
        )


class _State:
    """Batched CD state: ``B`` problems sharing ``Y`` and ``X`` with their own masks."""

    def __init__(self, Y: np.ndarray, mask: np.ndarray, X: np.ndarray | None) -> None:
        self.Y = Y  # (N, T)
        self.mask = mask.astype(float)  # (B, N, T)
        self.n_obs = self.mask.sum(axis=(1, 2))
        self.row_n = self.mask.sum(axis=2)
        self.col_n = self.mask.sum(axis=1)
        if np.any(self.row_n == 0) or np.any(self.col_n == 0):
            _check_observed(np.zeros((1, 1), dtype=bool))  # raises
        self.X = X
        B, N, T = self.mask.shape
        self.K = 0 if X is None else X.shape[2]
        self.L = np.zeros((B, N, T))
        self.u = np.zeros((B, N))
        self.v = np.zeros((B, T))
        self.g = np.zeros((B, self.K))
        if X is not None:
            XtX = np.einsum("bjs,jsk,jsl->bkl", self.mask, X, X)
            self.xtx_inv = np.linalg.inv(XtX + 1e-12 * np.eye(self.K))

    def xg(self) -> np.ndarray | float:
        if self.X is None:
            return 0.0
        return np.asarray(np.einsum("jsk,bk->bjs", self.X, self.g))

    def update_effects(self) -> None:
        m = self.mask
        R = self.Y[None] - self.L - self.xg()
        self.u = ((R - self.v[:, None, :]) * m).sum(axis=2) / self.row_n
        self.v = ((R - self.u[:, :, None]) * m).sum(axis=1) / self.col_n
        if self.X is not None:
            R2 = (self.Y[None] - self.L - self.u[:, :, None] - self.v[:, None, :]) * m
            self.g = np.einsum("bkl,jsl,bjs->bk", self.xtx_inv, self.X, R2)

    def fe_residual(self) -> np.ndarray:
        return self.Y[None] - self.u[:, :, None] - self.v[:, None, :] - self.xg()

    def objective(self, lam: np.ndarray) -> np.ndarray:
        E = (self.fe_residual() - self.L) * self.mask
        sse = np.einsum("bij,bij->b", E, E) / self.n_obs
        nuc = np.linalg.svd(self.L, compute_uv=False).sum(axis=1)
        return np.asarray(sse + lam * nuc)

    def update_L(self, lam: np.ndarray) -> None:
        m = self.mask
        G = m * self.fe_residual() + (1.0 - m) * self.L
        U, s, Vt = np.linalg.svd(G, full_matrices=False)
        s = np.maximum(s - (lam * self.n_obs / 2.0)[:, None], 0.0)
        k = int((s > 0).sum(axis=1).max())
        self.L = np.matmul(U[:, :, :k] * s[:, None, :k], Vt[:, :k, :]) if k else np.zeros_like(G)

    def initialize(self, max_sweeps: int = 1000, tol: float = 1e-5) -> None:
        prev = None
        for _ in range(max_sweeps):
            self.update_effects()
            cur = np.concatenate([self.u, self.v, self.g], axis=1)
            if prev is not None:
                scale = np.maximum(np.abs(prev).max(axis=1), 1e-12)
                if np.all(np.abs(cur - prev).max(axis=1) <= tol * scale):
                    break
            prev = cur

    def lambda_max(self) -> np.ndarray:
        G = self.mask * self.fe_residual()
        return np.asarray(2.0 * np.linalg.svd(G, compute_uv=False)[:, 0] / self.n_obs)

    def solve(self, lam: np.ndarray, max_iter: int, tol: float) -> int:
        obj = self.objective(lam)
        active = np.ones(lam.shape[0], dtype=bool)
        for it in range(1, max_iter + 1):
            self.update_effects()
            self.update_L(lam)
            new = self.objective(lam)
            rel = np.where(obj > 0, (obj - new) / np.where(obj > 0, obj, 1.0), 0.0)
            active &= ~(((rel >= 0) & (rel < tol)) | (new < 1e-8))
            obj = new
            if not active.any():
                return it
        return max_iter


def mcnnm_lambda_max(Y: np.ndarray, mask: np.ndarray, *, X: np.ndarray | None = None) -> float:
    """Return ``λ_max = 2 σ₁(P_O(Y − Γ1' − 1Δ' − Xγ)) / |O|``: the smallest ``λ`` with ``L̂ = 0``."""
    st = _State(np.asarray(Y, dtype=float), np.asarray(mask)[None], X)
    st.initialize()
    return float(st.lambda_max()[0])


def mcnnm_lambda_path(lam_max: float, n_lambda: int) -> np.ndarray:
    """Return [MCPanel]'s path: ``n_lambda − 1`` log-spaced values ``λ_max … λ_max·10⁻³``, then 0."""
    if n_lambda < 2:
        return np.array([lam_max])
    head = np.exp(np.linspace(np.log(lam_max), np.log(lam_max) - 3 * np.log(10), n_lambda - 1))
    return np.append(head, 0.0)


def mcnnm_fit(
    Y: np.ndarray,
    mask: np.ndarray,
    lam: float | Sequence[float] | np.ndarray,
    *,
    X: np.ndarray | None = None,
    max_iter: int = 1000,
    tol: float = 1e-5,
) -> MCFit:
    """Fit MC-NNM at penalty ``lam`` (or along a decreasing path ending there, warm-started).

    Parameters
    ----------
    Y : ndarray of shape (N, T)
        Outcomes; values in unobserved cells are ignored.
    mask : ndarray of shape (N, T)
        1 for observed (untreated) cells, 0 for missing (treated) ones.
    lam : float or sequence of float
        Penalty on the per-cell-mean scale of [MCPanel]; a decreasing sequence is solved in order
        with warm starts and the last value is returned.
    X : ndarray of shape (N, T, K), optional
        Time-varying covariates (coefficients unpenalised).
    max_iter : int, default=1000
        Sweeps per ``λ``.
    tol : float, default=1e-5
        Relative decrease of the objective below which a ``λ`` is finished.

    Returns
    -------
    MCFit
    """
    path = np.atleast_1d(np.asarray(lam, dtype=float))
    st = _State(np.asarray(Y, dtype=float), np.asarray(mask)[None], X)
    st.initialize()
    n_iter = 0
    for value in path:
        n_iter = st.solve(np.array([value]), max_iter, tol)
    return MCFit(
        L=st.L[0],
        unit_effects=st.u[0],
        time_effects=st.v[0],
        gamma=st.g[0],
        lam=float(path[-1]),
        n_iter=n_iter,
    )


def mcnnm_cv(
    Y: np.ndarray,
    mask: np.ndarray,
    *,
    X: np.ndarray | None = None,
    n_lambda: int = 100,
    n_folds: int = 5,
    train_ratio: float = 0.8,
    max_iter: int = 400,
    tol: float = 1e-5,
    rng: np.random.Generator | int | None = 0,
    progress: ProgressCallback | None = None,
) -> MCCVResult:
    """Choose ``λ`` by [MCPanel]'s cross-validation and refit on all observed cells.

    Parameters
    ----------
    Y, mask, X :
        As in :func:`mcnnm_fit`.
    n_lambda : int, default=100
        Length of the path (including the final 0).
    n_folds : int, default=5
    train_ratio : float, default=0.8
        Probability that an observed cell is in a fold's training set.
    max_iter : int, default=400
        Sweeps per ``λ`` per fold (the refit uses 1000).
    rng : Generator, int or None
        Fold randomness (public: it only splits the data).
    progress : callable, optional
        ``progress(done, n_lambda)`` along the path.

    Returns
    -------
    MCCVResult
    """
    Y = np.asarray(Y, dtype=float)
    obs = np.asarray(mask).astype(bool)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    train = obs[None] & (gen.random((n_folds, *obs.shape)) < train_ratio)
    valid = obs[None] & ~train
    st = _State(Y, train, X)
    st.initialize()
    lambdas = mcnnm_lambda_path(float(st.lambda_max().max()), n_lambda)
    mse = np.zeros((n_lambda, n_folds))
    for k, value in enumerate(lambdas):
        st.solve(np.full(n_folds, value), max_iter, tol)
        pred = Y[None] - st.fe_residual() + st.L
        err = (Y[None] - pred) * valid
        mse[k] = np.einsum("bij,bij->b", err, err) / np.maximum(valid.sum(axis=(1, 2)), 1)
        if progress is not None:
            progress(k + 1, n_lambda)
    cv = mse.mean(axis=1)
    best = int(np.argmin(cv))
    fit = mcnnm_fit(Y, obs, lambdas[: best + 1], X=X, tol=tol)
    return MCCVResult(lam=float(lambdas[best]), lambdas=lambdas, cv_mse=cv, fit=fit)


# ---------------------------------------------------------------------------- the estimator


@register_estimator("mc")
class MatrixCompletion(PanelEstimator):
    """Matrix completion with nuclear-norm penalty (MC-NNM, Athey et al. 2021).

    Parameters
    ----------
    penalty : float or None, default=None
        Penalty ``λ`` on [MCPanel]'s scale (mean squared error + ``λ‖L‖_*``); ``None`` chooses it by
        cross-validation (:func:`mcnnm_cv`).
    n_lambda : int, default=100
        Length of the cross-validation path.
    n_folds : int, default=5
        Cross-validation folds.
    train_ratio : float, default=0.8
        Share of observed cells in each fold's training set.
    max_iter : int, default=1000
        Sweeps per ``λ`` in the final fit along the cross-validation path.
    tol : float, default=1e-5
        Relative objective decrease that ends a ``λ`` ([MCPanel]'s rule). A fixed ``penalty`` is
        instead solved to a tight tolerance by the accelerated solver of
        :mod:`veil.analytics.causal._lowrank` (same objective).
    se : str or None, default=None
        Variance method (``"placebo"``, ``"bootstrap"``, ``"conditional"`` ...). Replicates reuse
        the ``λ`` chosen on the data.
    n_replications : int, default=200
    random_state : int, Generator or None, default=0
        Seed for the folds and for resampling variance methods.

    Attributes
    ----------
    result_ : CausalResult
        ``details``: ``lambda`` (chosen), ``lambdas`` and ``cv_mse`` (the path), ``rank`` of
        ``L̂``, ``n_iter``, ``unit_effects``, ``time_effects``, ``gamma``.
    lambda_selected_ : float
        The penalty used.

    Notes
    -----
    Any assignment pattern is allowed (treated cells are simply missing). The penalty on the sum of
    squares scale used by :class:`~veil.analytics.causal.trop.TROP` is ``λ_nn = |O|·λ``.

    Examples
    --------
    >>> from veil import datasets
    >>> from veil.analytics.causal import PanelData
    >>> from veil.analytics.causal.mc import MatrixCompletion
    >>> panel = PanelData.from_long(datasets.load("prop99"), unit="State", time="Year",
    ...                             outcome="PacksPerCapita", treatment="treated")
    >>> est = MatrixCompletion(n_lambda=20).fit(panel)
    >>> -30 < est.att_ < -15
    True
    """

    supports_covariates = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "penalty": [None, Interval(float, 0, None)],
        "n_lambda": [Interval(int, 2, None)],
        "n_folds": [Interval(int, 2, None)],
        "train_ratio": [Interval(float, 0, 1, closed="neither")],
        "max_iter": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        penalty: float | None = None,
        n_lambda: int = 100,
        n_folds: int = 5,
        train_ratio: float = 0.8,
        max_iter: int = 1000,
        tol: float = 1e-5,
        se: str | None = None,
        n_replications: int = 200,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.penalty = penalty
        self.n_lambda = n_lambda
        self.n_folds = n_folds
        self.train_ratio = train_ratio
        self.max_iter = max_iter
        self.tol = tol
        self.se = se
        self.n_replications = n_replications
        self.random_state = random_state

    def _fit(self, panel: PanelData) -> CausalResult:
        obs = panel.W == 0
        _check_observed(obs)
        details: dict[str, Any] = {}
        if self.penalty is None:
            rng = self.random_state
            cv = mcnnm_cv(
                panel.Y, obs, X=panel.X, n_lambda=self.n_lambda, n_folds=self.n_folds,
                train_ratio=self.train_ratio, tol=self.tol,
                rng=rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng),
            )  # fmt: skip
            fit = cv.fit
            details.update(lambdas=cv.lambdas, cv_mse=cv.cv_mse)
        else:
            fit = _fit_fixed(panel, float(self.penalty), self.max_iter, self.tol)
        self.lambda_selected_ = fit.lam
        Y0 = fit.predict(panel.X)
        treated = panel.treated_units
        rank = int(np.linalg.matrix_rank(fit.L)) if np.any(fit.L) else 0
        details.update(
            {
                "lambda": fit.lam,
                "lambda_nn": fit.lam * float(obs.sum()),
                "rank": rank,
                "n_iter": fit.n_iter,
                "unit_effects": fit.unit_effects,
                "time_effects": fit.time_effects,
                "gamma": dict(zip(panel.covariate_names, fit.gamma.tolist(), strict=True)),
            }
        )
        return build_result(self, panel, Y0[treated], details=details)

    def _att(self, panel: PanelData) -> float:
        _check_observed(panel.W == 0)
        lam = self.penalty if self.penalty is not None else getattr(self, "lambda_selected_", None)
        if lam is None:
            return self._fit(panel).att
        fit = _fit_fixed(panel, float(lam), self.max_iter, self.tol)
        W = panel.W.astype(bool)
        return float(np.mean((panel.Y - fit.predict(panel.X))[W]))


def _fit_fixed(panel: PanelData, lam: float, max_iter: int, tol: float) -> MCFit:
    """Solve MC-NNM at a fixed penalty to tight tolerance (accelerated solver shared with TROP).

    MCPanel's coordinate descent stops on a small relative decrease of the objective, which along
    a cold start can leave ``τ̂`` visibly unconverged; a fixed penalty is therefore solved with
    :func:`~veil.analytics.causal._lowrank.fit_twfe_lowrank` (same objective times ``|O|``).
    """
    from veil.analytics.causal._lowrank import fit_twfe_lowrank

    obs = (panel.W == 0).astype(float)
    sd = float(np.std(panel.Y[obs > 0])) or 1.0
    fit = fit_twfe_lowrank(
        panel.Y, obs[None], lam * obs.sum(), X=panel.X,
        tol=1e-7 * sd / (1.0 + float(np.abs(panel.Y).max())), max_iter=max(max_iter, 5000),
    )  # fmt: skip
    alpha, beta = fit.alpha[0], fit.beta[0]
    gamma = fit.gamma[0] if fit.gamma is not None else np.zeros(0)
    return MCFit(
        L=fit.L[0], unit_effects=alpha, time_effects=beta, gamma=gamma, lam=lam,
        n_iter=int(fit.n_iter[0]),
    )  # fmt: skip
