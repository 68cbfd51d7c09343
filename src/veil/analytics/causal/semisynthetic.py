"""Semi-synthetic placebo benchmark of the panel estimators, after the TROP paper's design.

For a real outcome matrix the design ([TROP] §3.1, eq. 6 and 8) is:

1. standardise ``Y`` over all ``N·T`` entries (population sd);
2. rank-4 SVD ``L = U₄S₄V₄'``; additive part ``F_it = L̄_i· + L̄_·t − L̄``, interactive part
   ``M = L − F``, residual ``E = Y − L``;
3. AR(2) noise: pooled no-intercept least squares of ``E_it`` on ``(E_i,t−1, E_i,t−2)`` gives
   ``(φ₁, φ₂)``; autocorrelations ``ρ₀ = 1, ρ₁ = φ₁/(1 − φ₂), ρ_k = φ₁ρ_k−1 + φ₂ρ_k−2``;
   ``Σ = c·[ρ_|s−t|]`` with ``c = ‖E'E/N‖_F / ‖[ρ_|s−t|]‖_F``;
4. assignment: unpenalised logistic regression (with intercept) of the real ever-treated
   indicator on the unit factors ``√N·U₄``; each replication draws ``D_i ~ Bernoulli(π̂_i)``, treats
   one unit uniformly if none is drawn and keeps a uniform subset of ``n_treated`` if more are.
   Data sets without a usable indicator (Prop 99 has one treated state) use the paper's
   "random" design: ``n_treated`` units uniformly;
5. each replication: ``Y* = F + M + E*`` with rows of ``E*`` iid ``N(0, Σ)``, treatment
   ``W_it = D_i·1{t > T − n_post}``, true effect 0;
6. RMSE ``= sqrt(mean τ̂²)`` over replications, reported relative to the best estimator.

Defaults follow the paper: ``n_treated = 10``, ``n_post = 10``, rank 4. Estimators with tuning
parameters (``dwcp``, ``mc``) are tuned once, on the first replication's panel, and run with those
values in every replication (the paper fixes TROP's ``λ`` the same way).

[TROP] Athey, Imbens, Qu, Viviano (2025), arXiv 2508.21536, §3.1 and Table 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from veil.analytics.causal.base import ESTIMATORS, PanelEstimator
from veil.analytics.causal.panel import PanelData
from veil.errors import ConfigError, EstimationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BENCH_DATASETS",
    "BENCH_ESTIMATORS",
    "PAPER_TABLE",
    "PLACEBO_TUNED",
    "BenchmarkResult",
    "Design",
    "fit_design",
    "load_design",
    "run_benchmark",
]

#: The paper's Table 1 rows for the shipped data sets: RMSE relative to TROP.
PAPER_TABLE: dict[str, dict[str, float]] = {
    "cps": {"dwcp": 1.0, "sdid": 1.14, "sc": 1.44, "did": 1.91, "mc": 1.26, "sc_intercept": 1.22},
    "penn": {"dwcp": 1.0, "sdid": 1.44, "sc": 1.59, "did": 7.85, "mc": 1.76, "sc_intercept": 1.54},
    "prop99": {
        "dwcp": 1.0, "sdid": 1.22, "sc": 1.48, "did": 2.16, "mc": 1.14, "sc_intercept": 1.45,
    },
}  # fmt: skip

#: Data set → (unit, time, outcome, ever-treated indicator column or None for random design).
BENCH_DATASETS: dict[str, tuple[str, str, str, str | None]] = {
    "cps": ("state", "year", "log_wage", "min_wage"),
    "penn": ("country", "year", "log_gdp", "dem"),
    "prop99": ("State", "Year", "PacksPerCapita", None),
}

#: The six estimators compared, by registry name (``sc_intercept`` is the paper's DIFP).
BENCH_ESTIMATORS: tuple[str, ...] = ("dwcp", "sdid", "sc", "did", "mc", "sc_intercept")

#: Extra benchmark-only name: TROP tuned by the replication code's placebo criterion.
PLACEBO_TUNED = "dwcp_placebo"


@dataclass(frozen=True)
class Design:
    """A fitted semi-synthetic data-generating process.

    Attributes
    ----------
    name : str
    F : ndarray of shape (N, T)
        Additive (two-way) part of the rank-4 approximation.
    M : ndarray of shape (N, T)
        Interactive part.
    sigma : ndarray of shape (T, T)
        Noise covariance of one unit's row (AR(2)).
    phi : tuple of float
        ``(φ₁, φ₂)``.
    propensity : ndarray of shape (N,) or None
        Assignment probabilities; ``None`` for the random design.
    n_treated, n_post : int
    """

    name: str
    F: np.ndarray
    M: np.ndarray
    sigma: np.ndarray
    phi: tuple[float, float]
    propensity: np.ndarray | None
    n_treated: int = 10
    n_post: int = 10
    _chol: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)

    def __post_init__(self) -> None:
        vals, vecs = np.linalg.eigh(self.sigma)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # Σ = root root'
        object.__setattr__(self, "_chol", root)

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, T)``."""
        N, T = self.F.shape
        return int(N), int(T)

    def draw_treated(self, rng: np.random.Generator) -> np.ndarray:
        """Return the indices of the treated units of one replication."""
        N = self.F.shape[0]
        if self.propensity is None:
            return np.sort(rng.choice(N, size=self.n_treated, replace=False))
        D = np.flatnonzero(rng.random(N) < self.propensity)
        if D.size == 0:
            return np.array([int(rng.integers(N))])
        if D.size > self.n_treated:
            D = np.sort(rng.choice(D, size=self.n_treated, replace=False))
        return D

    def simulate(self, rng: np.random.Generator) -> PanelData:
        """Return one placebo panel (true effect 0); simulation randomness is public."""
        N, T = self.F.shape
        noise = rng.standard_normal((N, T)) @ self._chol.T
        W = np.zeros((N, T), dtype=np.int8)
        W[self.draw_treated(rng), T - self.n_post :] = 1
        return PanelData(Y=self.F + self.M + noise, W=W)


def _ar2(E: np.ndarray) -> tuple[float, float]:
    y = E[:, 2:].ravel()
    Z = np.stack([E[:, 1:-1].ravel(), E[:, :-2].ravel()], axis=1)
    coef, *_ = np.linalg.lstsq(Z, y, rcond=None)
    return float(coef[0]), float(coef[1])


def _ar2_correlations(phi1: float, phi2: float, T: int) -> np.ndarray:
    rho = np.empty(T)
    rho[0] = 1.0
    if T > 1:
        rho[1] = phi1 / (1.0 - phi2) if abs(1.0 - phi2) > 1e-12 else 0.0
    for k in range(2, T):
        rho[k] = phi1 * rho[k - 1] + phi2 * rho[k - 2]
    idx = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    return np.asarray(rho[idx])


def _logistic(X: np.ndarray, y: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Return fitted probabilities of an (essentially) unpenalised logistic regression (IRLS)."""
    Z = np.column_stack([np.ones(len(y)), X])
    beta = np.zeros(Z.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ beta, -30, 30)))
        w = np.maximum(p * (1 - p), 1e-10)
        H = Z.T @ (Z * w[:, None]) + 1e-8 * np.eye(Z.shape[1])  # tiny ridge: separable data
        step = np.linalg.solve(H, Z.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return 1.0 / (1.0 + np.exp(-np.clip(Z @ beta, -30, 30)))


def fit_design(
    Y: np.ndarray,
    ever_treated: np.ndarray | None,
    *,
    name: str = "",
    rank: int = 4,
    n_treated: int = 10,
    n_post: int = 10,
) -> Design:
    """Fit the semi-synthetic design to an outcome matrix (steps 1–4 of the module docstring).

    Parameters
    ----------
    Y : ndarray of shape (N, T)
        Real outcomes.
    ever_treated : ndarray of shape (N,), bool, or None
        Real treatment indicator for the assignment model; ``None`` for the random design.
    rank : int, default=4
    n_treated, n_post : int, default=10

    Returns
    -------
    Design
    """
    Y = np.asarray(Y, dtype=float)
    N, T = Y.shape
    if n_treated >= N or n_post >= T - 2:
        raise ConfigError(
            f"the design needs n_treated < N and n_post < T − 2; got n_treated={n_treated}, "
            f"n_post={n_post} for a {N} × {T} panel",
            field="n_treated",
            hint="lower n_treated / n_post",
        )
    Z = (Y - Y.mean()) / Y.std()
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    L = (U[:, :rank] * s[:rank]) @ Vt[:rank]
    F = L.mean(axis=1, keepdims=True) + L.mean(axis=0, keepdims=True) - L.mean()
    M = L - F
    E = Z - L
    phi = _ar2(E)
    R = _ar2_correlations(*phi, T)
    c = np.linalg.norm(E.T @ E / N) / np.linalg.norm(R)
    propensity = None
    if ever_treated is not None:
        d = np.asarray(ever_treated, dtype=float)
        if 0 < d.sum() < N:
            propensity = _logistic(math.sqrt(N) * U[:, :rank], d)
    return Design(
        name=name, F=F, M=M, sigma=c * R, phi=phi, propensity=propensity,
        n_treated=n_treated, n_post=n_post,
    )  # fmt: skip


def load_design(name: str, *, n_treated: int = 10, n_post: int = 10) -> Design:
    """Return the design fitted to a shipped data set (``cps``, ``penn``, ``prop99``)."""
    from veil import datasets

    if name not in BENCH_DATASETS:
        raise ConfigError(
            f"no semi-synthetic design for data set {name!r}; known: {sorted(BENCH_DATASETS)}",
            field="datasets",
            hint="choose from " + ", ".join(sorted(BENCH_DATASETS)),
        )
    unit, tcol, outcome, treat = BENCH_DATASETS[name]
    df = datasets.load(name)
    Y = df.pivot(index=unit, columns=tcol, values=outcome).sort_index(axis=1)
    ever = None
    if treat is not None:
        ever = df.groupby(unit)[treat].any().reindex(Y.index).to_numpy()
    return fit_design(Y.to_numpy(), ever, name=name, n_treated=n_treated, n_post=n_post)


# ---------------------------------------------------------------------------- running


@dataclass
class BenchmarkResult:
    """RMSE of each estimator on each design.

    Attributes
    ----------
    rmse : pandas.DataFrame
        Rows: data sets; columns: estimators; ``sqrt(mean τ̂²)`` in standardised outcome units.
    bias : pandas.DataFrame
        ``mean τ̂``, same layout.
    estimates : dict
        ``(data set, estimator) → ndarray of τ̂`` per replication.
    tuned : dict
        Per data set, the tuning parameters used (``dwcp`` λ's, ``mc`` penalty).
    seconds : pandas.DataFrame
        Wall time per data set and estimator (all replications), seconds.
    n_replications : int
    seed : int
    """

    rmse: pd.DataFrame
    bias: pd.DataFrame
    estimates: dict[tuple[str, str], np.ndarray]
    tuned: dict[str, dict[str, Any]]
    seconds: pd.DataFrame
    n_replications: int
    seed: int

    @property
    def normalized(self) -> pd.DataFrame:
        """RMSE divided by each row's minimum (1.00 = best on that data set)."""
        return self.rmse.div(self.rmse.min(axis=1), axis=0)

    @property
    def relative_to_dwcp(self) -> pd.DataFrame:
        """RMSE divided by ``dwcp``'s, as the paper reports (``dwcp`` = 1); NaN without dwcp."""
        if "dwcp" not in self.rmse.columns:
            return self.rmse * np.nan
        return self.rmse.div(self.rmse["dwcp"], axis=0)

    def paper(self) -> pd.DataFrame:
        """Return the paper's Table 1 values for the same rows and columns (NaN if absent)."""
        rows = {d: PAPER_TABLE.get(d, {}) for d in self.rmse.index}
        return pd.DataFrame(rows).T.reindex(columns=self.rmse.columns)

    def orderings(self) -> dict[str, tuple[list[str], list[str]]]:
        """Per data set: (our ranking best → worst, the paper's ranking)."""
        out = {}
        paper = self.paper()
        for d in self.rmse.index:
            ours = list(self.rmse.loc[d].sort_values().index)
            theirs = list(paper.loc[d].dropna().sort_values().index)
            out[d] = (ours, theirs)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (RMSE, normalised, bias, paper values, tuning)."""
        return {
            "n_replications": self.n_replications,
            "seed": self.seed,
            "rmse": _frame(self.rmse),
            "normalized": _frame(self.normalized),
            "relative_to_dwcp": _frame(self.relative_to_dwcp),
            "bias": _frame(self.bias),
            "paper_relative_to_trop": _frame(self.paper()),
            "tuned": self.tuned,
            "seconds": _frame(self.seconds),
        }

    def plot(self, ax: Any = None) -> Figure:
        """Bar chart of normalised RMSE per data set, with the paper's values as markers."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 4.2))
        else:
            fig = ax.figure
        has_dwcp = "dwcp" in self.rmse.columns
        norm = self.relative_to_dwcp if has_dwcp else self.normalized
        paper = self.paper()
        n_est = len(norm.columns)
        width = 0.8 / n_est
        x = np.arange(len(norm.index))
        for k, est in enumerate(norm.columns):
            pos = x - 0.4 + width * (k + 0.5)
            ax.bar(pos, norm[est], width, label=est)
            ax.scatter(pos, paper[est], color="black", marker="_", s=120, zorder=3)
        ax.set_xticks(x, list(norm.index))
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_ylabel("RMSE relative to dwcp (TROP)" if has_dwcp else "RMSE relative to the best")
        ax.set_title(
            f"Semi-synthetic placebo benchmark ({self.n_replications} replications; "
            "black ticks: paper)"
        )
        ax.legend(ncols=3, fontsize=8)
        fig.tight_layout()
        return fig


def _frame(df: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    return {
        str(r): {str(c): (None if not np.isfinite(v) else float(v)) for c, v in row.items()}
        for r, row in df.iterrows()
    }


def _tune(design: Design, names: Sequence[str], panel: PanelData, max_loo_cells: int | None
          ) -> tuple[dict[str, PanelEstimator], dict[str, Any]]:  # fmt: skip
    from veil.analytics.causal.mc import MatrixCompletion
    from veil.analytics.causal.trop import TROP

    ests: dict[str, PanelEstimator] = {}
    tuned: dict[str, Any] = {}
    for name in names:
        if name in ("dwcp", "trop", PLACEBO_TUNED):
            tuning = "placebo" if name == PLACEBO_TUNED else "loo"
            probe = TROP(max_loo_cells=max_loo_cells, tuning=tuning).fit(panel)
            lt, lu, ln = probe.lambdas_
            ests[name] = TROP(lambda_time=lt, lambda_unit=lu, lambda_nn=ln)
            tuned[name] = {"lambda_time": lt, "lambda_unit": lu, "lambda_nn": ln}
            continue
        cls = ESTIMATORS[name]
        if name == "mc":
            probe_mc = MatrixCompletion(n_lambda=30).fit(panel)
            lam = float(probe_mc.result_.details["lambda"])
            ests[name] = MatrixCompletion(penalty=lam)
            tuned[name] = {"penalty": lam}
        else:
            ests[name] = cls()
    return ests, tuned


def run_benchmark(
    datasets: Sequence[str] = ("cps", "penn", "prop99"),
    estimators: Sequence[str] = BENCH_ESTIMATORS,
    *,
    n_replications: int = 200,
    seed: int = 0,
    n_treated: int = 10,
    n_post: int = 10,
    max_loo_cells: int | None = 2000,
    progress: Callable[[str, int, int], None] | None = None,
) -> BenchmarkResult:
    """Run the semi-synthetic benchmark; return RMSE per data set and estimator.

    Parameters
    ----------
    datasets : sequence of str
        Shipped panels (keys of :data:`BENCH_DATASETS`).
    estimators : sequence of str
        Registry names (default: the six of the paper); ``"dwcp_placebo"`` adds TROP tuned by
        the replication code's placebo criterion instead of the paper's leave-one-out one.
    n_replications : int, default=200
        Simulated panels per data set (the paper uses 1000).
    seed : int, default=0
        Seed of the simulation (public randomness); the same panels are given to every estimator.
    n_treated, n_post : int, default=10
    max_loo_cells : int or None, default=2000
        Cap on the control cells in TROP's leave-one-out criterion while tuning on the first
        replication (a fixed random subset; ``None`` = all). Only the Penn panel (5,228 control
        cells) exceeds it by default.
    progress : callable, optional
        ``progress(data set, done, total)`` after each replication.

    Returns
    -------
    BenchmarkResult
    """
    unknown = [e for e in estimators if e not in ESTIMATORS and e != PLACEBO_TUNED]
    if unknown:
        raise ConfigError(
            f"unknown estimator(s) {unknown}; known: {sorted(ESTIMATORS)}",
            field="estimators",
            hint="use registry names such as did, sc, sc_intercept, mc, sdid, dwcp",
        )
    rmse: dict[str, dict[str, float]] = {}
    bias: dict[str, dict[str, float]] = {}
    secs: dict[str, dict[str, float]] = {}
    estimates: dict[tuple[str, str], np.ndarray] = {}
    tuned: dict[str, dict[str, Any]] = {}
    for d_index, name in enumerate(datasets):
        design = load_design(name, n_treated=n_treated, n_post=n_post)
        rng = np.random.default_rng([seed, d_index])
        panels = [design.simulate(rng) for _ in range(n_replications)]
        start = time.perf_counter()
        ests, tuned[name] = _tune(design, estimators, panels[0], max_loo_cells)
        tuning_seconds = time.perf_counter() - start
        tuned[name]["tuning_seconds"] = tuning_seconds
        vals = {e: np.full(n_replications, np.nan) for e in estimators}
        secs[name] = dict.fromkeys(estimators, 0.0)
        for e in estimators:
            start = time.perf_counter()
            est = ests[e]
            if e in ("dwcp", "trop", PLACEBO_TUNED):
                # λ fixed: all replications' treated cells are solved as one batch.
                vals[e] = est._att_batch(panels)
            else:
                for r, panel in enumerate(panels):
                    try:
                        vals[e][r] = est.fit(panel).att_
                    except EstimationError:
                        vals[e][r] = np.nan
            secs[name][e] = time.perf_counter() - start
            if progress is not None:
                progress(name, estimators.index(e) + 1, len(estimators))
        for e in estimators:
            estimates[(name, e)] = vals[e]
        rmse[name] = {e: float(np.sqrt(np.nanmean(vals[e] ** 2))) for e in estimators}
        bias[name] = {e: float(np.nanmean(vals[e])) for e in estimators}
    cols = list(estimators)
    return BenchmarkResult(
        rmse=pd.DataFrame(rmse).T[cols],
        bias=pd.DataFrame(bias).T[cols],
        estimates=estimates,
        tuned=tuned,
        seconds=pd.DataFrame(secs).T[cols],
        n_replications=n_replications,
        seed=seed,
    )
