"""Numerical core of TROP / DWCP on plain arrays: weights, per-cell fits, leave-one-out tuning.

Everything here takes ``Y`` (N×T outcomes), ``W`` (N×T 0/1 treatment) and optional covariates
``X`` (N×T×K) as numpy arrays; :mod:`veil.analytics.causal.trop` wraps it as an estimator.

Per-cell estimator ([TROP] eq. 2–3 for one treated cell, eq. 13 in general). For a target cell
``(i, t)``:

- time weights ``θ_s = exp(−λ_time · |t − s|)`` (``s`` counts periods);
- unit weights ``ω_j = exp(−λ_unit · d_{−t}(j, i))`` with the leave-target-period-out distance
  ``d_{−t}(j, i)² = Σ_{u≠t} (1−W_iu)(1−W_ju)(Y_iu − Y_ju)² / Σ_{u≠t} (1−W_iu)(1−W_ju)``; a unit
  with no untreated period in common with ``i`` (other than ``t``) gets ``ω_j = 0``;
- ``(α̂, β̂, γ̂, L̂) = argmin Σ_{j,s} (1−W_js) ω_j θ_s (Y_js − α_j − β_s − X_js·γ − L_js)² + λ_nn‖L‖_*``
  over untreated cells other than the target; ``τ̂_it = Y_it − α̂_i − β̂_t − X_it·γ̂ − L̂_it``.

The ATT is the mean of ``τ̂_it`` over treated cells ([TROP] Alg. 2). Tuning minimises
``Q(λ) = Σ_{W_it = 0} τ̂_it^{loo}(λ)²`` where ``τ̂^{loo}_it`` is the same estimator aimed at the
control cell ``(i, t)`` with that cell left out ([TROP] eq. 4–5), by the coordinate search of
[TROP] footnote 2 (see :func:`tune`).

Weights are **not normalised** by default (eq. 3 as written; ``normalize=True`` rescales ``ω`` and
``θ`` to sum to one, as §5 assumes). See ``docs/causal-mc-trop.md`` for why.

[TROP] Athey, Imbens, Qu, Viviano (2025), "Triply Robust Panel Estimators", arXiv 2508.21536.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from veil.analytics.causal._lowrank import LowRankFit, fit_twfe_lowrank, lambda_max

__all__ = [
    "CellFits",
    "Lambdas",
    "TuningResult",
    "UnitDistances",
    "cell_weights",
    "default_grids",
    "fit_cells",
    "loo_criterion",
    "tune",
]

#: Bytes one chunk of per-cell problems may use (about ten float64 arrays of shape (B, N, T)).
CHUNK_BYTES = 192 * 2**20


@dataclass(frozen=True, order=True)
class Lambdas:
    """Tuning parameters ``(λ_time, λ_unit, λ_nn)``; ``λ_nn = inf`` means no low-rank part."""

    time: float
    unit: float
    nn: float

    def as_tuple(self) -> tuple[float, float, float]:
        """Return ``(time, unit, nn)``."""
        return (self.time, self.unit, self.nn)


class UnitDistances:
    """Leave-one-period-out RMS outcome distances between units, ``d_{−t}(j, i)``.

    Sums over commonly untreated periods are computed once with matrix products (``O(N² T)``);
    leaving out period ``t`` subtracts that period's term.
    """

    def __init__(self, Y: np.ndarray, W: np.ndarray) -> None:
        M = 1.0 - np.asarray(W, dtype=float)
        Y = np.asarray(Y, dtype=float)
        self.Y, self.M = Y, M
        MY, MY2 = M * Y, M * Y * Y
        # Σ_u m_ju m_iu (Y_ju − Y_iu)² = (MY²)M' + M(MY²)' − 2 (MY)(MY)'
        self.sq = np.maximum(MY2 @ M.T + M @ MY2.T - 2.0 * (MY @ MY.T), 0.0)  # (j, i)
        self.count = M @ M.T

    def for_cells(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(d, ok)``, each of shape ``(B, N)``: ``d[b, j] = d_{−t_b}(j, i_b)``.

        ``ok`` is False where unit ``j`` shares no untreated period with ``i_b`` besides ``t_b``.
        """
        m_t = self.M[:, cols].T  # (B, N): m_{j t_b}
        both = m_t * self.M[rows, cols][:, None]  # m_{j t} m_{i t}
        y_t = self.Y[:, cols].T
        gap = (y_t - self.Y[rows, cols][:, None]) ** 2
        sq = self.sq[:, rows].T - both * gap
        cnt = self.count[:, rows].T - both
        ok = cnt > 0.5
        d = np.sqrt(np.maximum(np.divide(sq, cnt, out=np.zeros_like(sq), where=ok), 0.0))
        return d, ok


def cell_weights(
    W: np.ndarray,
    dist: UnitDistances,
    rows: np.ndarray,
    cols: np.ndarray,
    lam_time: float,
    lam_unit: float,
    *,
    normalize: bool = False,
    square: bool = False,
) -> np.ndarray:
    """Return the weight matrices ``w[b] = ω ⊗ θ ⊙ (1 − W)`` for target cells ``(rows, cols)``.

    The target cell itself gets weight 0 (for a treated target it is 0 already). Shape
    ``(B, N, T)``. ``normalize`` rescales ``ω`` and ``θ`` to sum to one; ``square`` squares them
    (the replication code's convention, see the docs).
    """
    T = W.shape[1]
    d, ok = dist.for_cells(rows, cols)
    omega = np.where(ok, np.exp(-lam_unit * d), 0.0)
    omega[np.arange(rows.size), rows] = 1.0
    theta = np.exp(-lam_time * np.abs(np.arange(T)[None, :] - cols[:, None]))
    if square:
        omega, theta = omega**2, theta**2
    if normalize:
        omega = omega / omega.sum(axis=1, keepdims=True)
        theta = theta / theta.sum(axis=1, keepdims=True)
    w = omega[:, :, None] * theta[:, None, :] * (1.0 - W)[None]
    w[np.arange(rows.size), rows, cols] = 0.0
    return np.asarray(w)


def _identified(w: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    b = np.arange(rows.size)
    return np.asarray((w[b, rows, :].sum(axis=1) > 0) & (w[b, :, cols].sum(axis=1) > 0))


def _chunks(n_cells: int, N: int, T: int) -> list[slice]:
    size = max(1, int(CHUNK_BYTES // (10 * 8 * N * T)))
    return [slice(a, min(a + size, n_cells)) for a in range(0, n_cells, size)]


@dataclass
class CellFits:
    """Per-cell effects and the solver state behind them (a warm start for nearby ``λ``).

    Attributes
    ----------
    rows, cols : ndarray of shape (B,)
        Target cells.
    tau : ndarray of shape (B,)
        ``Y_it − Ŷ_it(0)`` per target cell; NaN where the fit is not identified.
    counterfactual : ndarray of shape (B,)
        ``Ŷ_it(0)``.
    L : ndarray of shape (B, N, T) or None
        Low-rank parts (kept only when asked, for warm starts).
    basis : ndarray of shape (B, T, k) or None
        Tracked singular subspaces.
    n_iter : ndarray of shape (B,)
        Solver iterations.
    converged : ndarray of shape (B,), bool
    rank : ndarray of shape (B,)
    """

    rows: np.ndarray
    cols: np.ndarray
    tau: np.ndarray
    counterfactual: np.ndarray
    L: np.ndarray | None
    basis: np.ndarray | None
    n_iter: np.ndarray
    converged: np.ndarray
    rank: np.ndarray
    gamma: np.ndarray | None = None


def fit_cells(
    Y: np.ndarray,
    W: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    lambdas: Lambdas,
    *,
    X: np.ndarray | None = None,
    dist: UnitDistances | None = None,
    normalize: bool = False,
    square: bool = False,
    warm: CellFits | None = None,
    keep_state: bool = False,
    tol: float = 1e-7,
    max_iter: int = 5000,
) -> CellFits:
    """Fit the per-cell estimator for each target ``(rows[b], cols[b])`` (treated or control).

    Control targets are left out of their own fit (leave-one-out); treated cells are never in
    any fit. Problems are solved in memory-bounded chunks, vectorised within a chunk.

    Parameters
    ----------
    Y, W : ndarray of shape (N, T)
    rows, cols : ndarray of shape (B,), int
    lambdas : Lambdas
    X : ndarray of shape (N, T, K), optional
    dist : UnitDistances, optional
        Precomputed distances (reused across ``λ``).
    normalize, square : bool
        Weight conventions, see :func:`cell_weights`.
    warm : CellFits, optional
        Fits of the same cells at a nearby ``λ`` with ``L`` kept (``keep_state=True``).
    keep_state : bool, default=False
        Keep ``L`` and the subspaces in the result (memory ``B·N·T`` floats).
    tol, max_iter :
        Solver stopping rule (relative to the outcome's standard deviation).
    """
    N, T = Y.shape
    dist = dist if dist is not None else UnitDistances(Y, W)
    B = rows.size
    tau = np.full(B, np.nan)
    cf = np.full(B, np.nan)
    n_iter = np.zeros(B, dtype=int)
    conv = np.ones(B, dtype=bool)
    rank = np.zeros(B, dtype=int)
    L_all = np.zeros((B, N, T)) if keep_state and math.isfinite(lambdas.nn) else None
    basis_all: np.ndarray | None = None
    gamma_all = None if X is None else np.full((B, X.shape[2]), np.nan)
    sd = float(np.std(Y[W == 0])) or 1.0
    # The solver's tolerance is relative to 1 + max|Y|; restate it relative to the outcome's sd.
    tol_solver = tol * sd / (1.0 + float(np.abs(Y).max()))
    for chunk in _chunks(B, N, T):
        r, c = rows[chunk], cols[chunk]
        w = cell_weights(
            W, dist, r, c, lambdas.time, lambdas.unit, normalize=normalize, square=square
        )
        ok = _identified(w, r, c)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        w = w[idx]
        L0 = basis0 = None
        if warm is not None and warm.L is not None and math.isfinite(lambdas.nn):
            L0 = warm.L[chunk][idx]
            basis0 = None if warm.basis is None else warm.basis[chunk][idx]
        fit: LowRankFit = fit_twfe_lowrank(
            Y, w, lambdas.nn, X=X, L0=L0, basis0=basis0, tol=tol_solver, max_iter=max_iter
        )
        ri, ci = r[idx], c[idx]
        yhat = fit.at(ri, ci)
        sel = np.arange(B)[chunk][idx]
        cf[sel] = yhat
        tau[sel] = Y[ri, ci] - yhat
        n_iter[sel] = fit.n_iter
        conv[sel] = fit.converged
        rank[sel] = fit.rank
        if gamma_all is not None and fit.gamma is not None:
            gamma_all[sel] = fit.gamma
        if L_all is not None:
            L_all[sel] = fit.L
            if basis_all is None or basis_all.shape[2] < fit.basis.shape[2]:
                old = basis_all
                basis_all = np.zeros((B, T, fit.basis.shape[2]))
                if old is not None:
                    basis_all[:, :, : old.shape[2]] = old
            basis_all[sel, :, : fit.basis.shape[2]] = fit.basis
    return CellFits(
        rows=rows,
        cols=cols,
        tau=tau,
        counterfactual=cf,
        L=L_all,
        basis=basis_all,
        n_iter=n_iter,
        converged=conv,
        rank=rank,
        gamma=gamma_all,
    )


def loo_criterion(
    Y: np.ndarray,
    W: np.ndarray,
    lambdas: Lambdas,
    *,
    X: np.ndarray | None = None,
    dist: UnitDistances | None = None,
    normalize: bool = False,
    square: bool = False,
    warm: CellFits | None = None,
    keep_state: bool = False,
    tol: float = 1e-4,
    cells: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, CellFits]:
    """Return ``Q(λ) = Σ_{W_it=0} τ̂^{loo}_it(λ)²`` ([TROP] eq. 5) and the per-cell fits.

    Control cells whose leave-one-out fit is not identified (their unit or period has no other
    weighted untreated cell) are skipped; ``CellFits.tau`` is NaN there. ``cells`` restricts the
    sum to the given control cells.
    """
    rows, cols = np.nonzero(W == 0) if cells is None else cells
    fits = fit_cells(
        Y,
        W,
        rows,
        cols,
        lambdas,
        X=X,
        dist=dist,
        normalize=normalize,
        square=square,
        warm=warm,
        keep_state=keep_state,
        tol=tol,
    )
    return float(np.nansum(fits.tau**2)), fits


# ---------------------------------------------------------------------------- tuning


@dataclass(frozen=True)
class Grids:
    """Coarse grids of the coordinate search; ``nn`` values in the same units as ``λ_nn``."""

    time: tuple[float, ...]
    unit: tuple[float, ...]
    nn: tuple[float, ...]


def default_grids(
    Y: np.ndarray,
    W: np.ndarray,
    *,
    X: np.ndarray | None = None,
    normalize: bool = False,
    square: bool = False,
) -> Grids:
    """Return veil's default coarse grids (the paper gives none; see the docs).

    - ``λ_time`` (per period): 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2.
    - ``λ_unit``: ``c / d̄`` for c in 0, 0.25, 0.5, 1, 2, 4, 8, where ``d̄`` is the median RMS
      distance between distinct units over commonly untreated periods (so the grid is free of the
      outcome's units).
    - ``λ_nn``: ``inf`` then ``λ_ref · 10^(−k/2)`` for k = 0..6, where ``λ_ref`` is the smallest
      penalty that sets ``L = 0`` in the uniform-weight fit on all untreated cells (MC-NNM's
      ``λ_max`` times the number of cells).
    """
    dist = UnitDistances(Y, W)
    N = Y.shape[0]
    off = ~np.eye(N, dtype=bool) & (dist.count > 0)
    d = np.sqrt(dist.sq[off] / dist.count[off])
    dbar = float(np.median(d)) if d.size else 1.0
    dbar = dbar if dbar > 0 else 1.0
    unit = tuple(c / dbar for c in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0))
    M = 1.0 - W
    w0 = M[None].copy()
    if square or normalize:
        w0 = w0 / (W.size if normalize else 1.0)
    lam_ref = float(lambda_max(Y, w0, X)[0])
    lam_ref = lam_ref if lam_ref > 0 else 1.0
    nn = (math.inf, *(lam_ref * 10 ** (-k / 2) for k in range(7)))
    return Grids(time=(0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2), unit=unit, nn=nn)


@dataclass
class TuningResult:
    """Outcome of the leave-one-out search.

    Attributes
    ----------
    lambdas : Lambdas
        The minimiser of ``Q`` found.
    criterion : float
        ``Q`` at ``lambdas``.
    path : list of (Lambdas, float)
        Every ``(λ, Q(λ))`` evaluated, in order.
    n_cells : int
        Control cells in ``Q`` (identified leave-one-out fits).
    seconds : float
        Wall time of the search.
    grids : Grids
        Coarse grids used.
    """

    lambdas: Lambdas
    criterion: float
    path: list[tuple[Lambdas, float]]
    n_cells: int
    seconds: float
    grids: Grids
    stages: dict[str, Lambdas] = field(default_factory=dict)


def _neighbours(grid: Sequence[float], value: float) -> tuple[float, float]:
    g = sorted(grid)
    k = g.index(value)
    lo = g[k - 1] if k > 0 else g[k]
    hi = g[k + 1] if k + 1 < len(g) else g[k]
    return lo, hi


def _fine(grid: Sequence[float], value: float, *, log: bool, points: int) -> list[float]:
    """Return ``points`` values spanning the coarse neighbours of ``value`` (including it)."""
    finite = [g for g in grid if math.isfinite(g)]
    if not math.isfinite(value):
        return [value]
    lo, hi = _neighbours(finite, value)
    if log:
        lo, hi = (lo if lo > 0 else value), (hi if hi > 0 else value)
        vals = np.geomspace(lo, hi, points) if lo != hi else np.array([value])
    else:
        vals = np.linspace(lo, hi, points) if lo != hi else np.array([value])
    out = sorted({float(v) for v in vals} | {value})
    return out


def tune(
    Y: np.ndarray,
    W: np.ndarray,
    *,
    X: np.ndarray | None = None,
    grids: Grids | None = None,
    fixed: dict[str, float] | None = None,
    normalize: bool = False,
    square: bool = False,
    fine_points: int = 5,
    max_cycles: int = 10,
    tol: float = 1e-4,
    progress: Callable[[int, int], None] | None = None,
    max_cells: int | None = None,
    criterion: str = "loo",
    n_trials: int = 50,
) -> TuningResult:
    """Choose ``(λ_time, λ_unit, λ_nn)`` by leave-one-out cross-validation ([TROP] eq. 4–5).

    ``criterion="placebo"`` replaces eq. 5 by the criterion of the authors' replication code
    (used for the paper's simulations): on the never-treated units only, ``n_trials`` placebo
    assignments each treat as many units as are treated in ``W`` for as many final periods,
    and ``Q(λ) = mean τ̂_k²`` over the trials' estimated (zero) effects; same search.

    Search ([TROP] footnote 2, made concrete here because the paper leaves the grids open):

    1. ``λ_time`` over its coarse grid with ``λ_unit = 0``, ``λ_nn = inf``;
    2. ``λ_unit`` over its grid with ``λ_time`` from 1 and ``λ_nn = inf``;
    3. ``λ_nn`` over its grid (from ``inf`` downwards, each fit warm-started from the previous
       one; the descent stops at the first rise of ``Q``) with the other two fixed;
    4. each coordinate gets a finer grid of ``fine_points`` values spanning its coarse neighbours
       (geometric for ``λ_nn``); the three are updated in turn, each by descent along its fine
       grid from the current value with the other two held at their latest values, until a
       whole cycle changes nothing (at most ``max_cycles`` cycles).

    Every ``Q`` evaluation is memoised; fits with a finite ``λ_nn`` start from the stored
    solution of the nearest evaluated point. Coordinates named in ``fixed`` (``"time"``,
    ``"unit"``, ``"nn"``) keep the given value and are not searched. ``max_cells`` replaces the
    sum over all control cells by a sum over a fixed random subset of that many (seed 0).
    """
    start = time.perf_counter()
    dist = UnitDistances(Y, W)
    grids = (
        grids if grids is not None else default_grids(Y, W, X=X, normalize=normalize, square=square)
    )
    fixed = dict(fixed or {})
    grids = Grids(
        time=(fixed["time"],) if "time" in fixed else grids.time,
        unit=(fixed["unit"],) if "unit" in fixed else grids.unit,
        nn=(fixed["nn"],) if "nn" in fixed else grids.nn,
    )
    rows0, cols0 = np.nonzero(W == 0)
    cells: tuple[np.ndarray, np.ndarray] = (rows0, cols0)
    if max_cells is not None and cells[0].size > max_cells:
        pick = np.sort(np.random.default_rng(0).choice(cells[0].size, max_cells, replace=False))
        cells = (cells[0][pick], cells[1][pick])
    trials: list[np.ndarray] = []
    if criterion == "placebo":
        treated = W.any(axis=1)
        controls = np.flatnonzero(~treated)
        n_tr = max(1, min(int(treated.sum()), controls.size - 1))
        t_post = max(1, int(W.sum(axis=1).max()))
        prng = np.random.default_rng(0)  # public: which controls play treated
        for _ in range(n_trials):
            Wk = np.zeros((controls.size, W.shape[1]))
            Wk[prng.choice(controls.size, n_tr, replace=False), W.shape[1] - t_post :] = 1.0
            trials.append(Wk)
        Yc = Y[controls]
        Xc = None if X is None else X[controls]
    elif criterion != "loo":
        raise ValueError(f"criterion must be 'loo' or 'placebo'; got {criterion!r}")
    memo: dict[tuple[float, float, float], float] = {}
    states: dict[tuple[float, float, float], CellFits] = {}
    path: list[tuple[Lambdas, float]] = []
    n_cells = 0
    budget = len(grids.time) + len(grids.unit) + len(grids.nn) + 6 * fine_points

    unit_scale = max(grids.unit) if max(grids.unit) > 0 else 1.0

    def nearest_state(key: tuple[float, float, float]) -> CellFits | None:
        best, best_d = None, math.inf
        for k2, st in states.items():
            dd = (
                abs(k2[0] - key[0])
                + abs(k2[1] - key[1]) / unit_scale
                + abs(math.log(k2[2]) - math.log(key[2]))
            )
            if dd < best_d:
                best, best_d = st, dd
        return best

    def Q(lt: float, lu: float, ln: float) -> float:
        nonlocal n_cells
        key = (lt, lu, ln)
        if key in memo:
            return memo[key]
        lam = Lambdas(lt, lu, ln)
        if trials:
            atts = att_many(
                [Yc] * len(trials), trials, lam, Xs=None if Xc is None else [Xc] * len(trials),
                normalize=normalize, square=square, tol=tol,
            )  # fmt: skip
            q = float(np.nanmean(atts**2))
            n_cells = int(np.isfinite(atts).sum())
            memo[key] = q
            path.append((lam, q))
            if progress is not None:
                progress(min(len(memo), budget), budget)
            return q
        finite = math.isfinite(ln)
        warm = nearest_state(key) if finite else None
        q, fits = loo_criterion(
            Y, W, lam, X=X, dist=dist, normalize=normalize, square=square, warm=warm,
            keep_state=finite, tol=tol, cells=cells,
        )  # fmt: skip
        n_cells = int(np.isfinite(fits.tau).sum())
        memo[key] = q
        path.append((lam, q))
        if finite:
            states[key] = fits
            if len(states) > 3:  # keep memory bounded: drop the oldest non-best state
                best_key = min(states, key=lambda k3: memo[k3])
                for k3 in list(states):
                    if k3 != best_key and k3 != key:
                        del states[k3]
                        break
        if progress is not None:
            progress(min(len(memo), budget), budget)
        return q

    def argmin(cands: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
        vals = [Q(*c) for c in cands]
        return cands[int(np.argmin(vals))]

    # Stages 1-2: λ_nn = inf (or its fixed value); a searched grid whose best value is its
    # largest is extended upwards.
    nn0 = fixed.get("nn", math.inf)
    u0 = fixed.get("unit", 0.0)
    time_grid = list(grids.time)
    if "time" not in fixed:
        time_grid = _extend(time_grid, lambda g: Q(g, u0, nn0), cap=_TIME_CAP)
    lt = min(time_grid, key=lambda g: Q(g, u0, nn0))
    unit_grid = list(grids.unit)
    if "unit" not in fixed:
        unit_cap = max(unit_grid) * 8 if max(unit_grid) > 0 else 1.0
        unit_grid = _extend(unit_grid, lambda g: Q(lt, g, nn0), cap=unit_cap)
    lu = min(unit_grid, key=lambda g: Q(lt, g, nn0))
    stages = {"time": Lambdas(lt, 0.0, math.inf), "unit": Lambdas(lt, lu, math.inf)}
    # Stage 3: λ_nn path from inf downwards, warm-started; stop at the first rise of Q (fits get
    # slower as λ_nn falls and the rank of L grows).
    nn_desc = sorted(grids.nn, reverse=True)
    best_nn, best_q, prev = nn_desc[0], math.inf, math.inf
    for g in nn_desc:
        q = Q(lt, lu, g)
        if q < best_q:
            best_nn, best_q = g, q
        if q > prev:
            break
        prev = q
    ln = best_nn
    stages["nn"] = Lambdas(lt, lu, ln)
    # Stage 4: finer grids, coordinate cycles.
    fine_t = _fine(time_grid, lt, log=False, points=fine_points)
    fine_u = _fine(unit_grid, lu, log=False, points=fine_points)
    fine_n = _fine(grids.nn, ln, log=True, points=fine_points)
    cur = (lt, lu, ln)
    axes = [
        (axis, fine)
        for axis, name, fine in ((0, "time", fine_t), (1, "unit", fine_u), (2, "nn", fine_n))
        if name not in fixed
    ]
    for _ in range(max_cycles if len(axes) > 1 else 1):
        before = cur
        for axis, fine in axes:
            cur = _descend(cur, axis, fine, Q)
        if cur == before:
            break
    lam = Lambdas(*cur)
    if progress is not None:
        progress(budget, budget)
    return TuningResult(
        lambdas=lam,
        criterion=memo[cur],
        path=path,
        n_cells=n_cells,
        seconds=time.perf_counter() - start,
        grids=grids,
        stages=stages,
    )


_TIME_CAP = 6.0  # exp(-6) ≈ 0.0025: beyond this only the target's own period counts


def _extend(grid: list[float], q: Callable[[float], float], *, cap: float) -> list[float]:
    """Extend ``grid`` by factors of 1.5 while its largest value is the best (up to ``cap``)."""
    grid = sorted(grid)
    while grid[-1] > 0 and grid[-1] * 1.5 <= cap and min(grid, key=q) == grid[-1]:
        grid.append(grid[-1] * 1.5)
    return grid


def _descend(
    cur: tuple[float, float, float],
    axis: int,
    fine: Sequence[float],
    Q: Callable[[float, float, float], float],
) -> tuple[float, float, float]:
    """Move coordinate ``axis`` of ``cur`` along ``fine`` while ``Q`` decreases."""
    if len(fine) < 2 or cur[axis] not in fine:
        return cur
    vals = list(fine)
    k = vals.index(cur[axis])

    def at(j: int) -> tuple[float, float, float]:
        c = list(cur)
        c[axis] = vals[j]
        return (c[0], c[1], c[2])

    best = Q(*cur)
    for direction in (-1, 1):
        j = k
        moved = False
        while 0 <= j + direction < len(vals):
            q = Q(*at(j + direction))
            if q < best:
                best, j, moved = q, j + direction, True
            else:
                break
        if moved:
            return at(j)
    return cur


# ---------------------------------------------------------------------------- many panels


def treated_cells(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rows, cols)`` of the treated cells, row-major."""
    rows, cols = np.nonzero(W == 1)
    return rows, cols


def att_many(
    Ys: Sequence[np.ndarray],
    Ws: Sequence[np.ndarray],
    lambdas: Lambdas,
    *,
    Xs: Sequence[np.ndarray | None] | None = None,
    normalize: bool = False,
    square: bool = False,
    tol: float = 1e-6,
) -> np.ndarray:
    """Return the ATT of each panel ``(Ys[p], Ws[p])`` at fixed ``λ``, shape ``(P,)``.

    Panels of equal shape (and without covariates) are solved together: all their treated cells
    form one batch with per-problem outcomes, so placebo and bootstrap replicates cost about one
    vectorised fit. NaN where some treated cell is not identified.
    """
    P = len(Ys)
    out = np.full(P, np.nan)
    Xs = list(Xs) if Xs is not None else [None] * P
    groups: dict[tuple[int, int], list[int]] = {}
    for p in range(P):
        if Xs[p] is not None:
            rows, cols = treated_cells(Ws[p])
            fits = fit_cells(
                Ys[p], Ws[p], rows, cols, lambdas, X=Xs[p], normalize=normalize, square=square,
                tol=tol,
            )  # fmt: skip
            out[p] = float(np.mean(fits.tau))
        else:
            groups.setdefault(Ys[p].shape, []).append(p)
    for (N, T), members in groups.items():
        Yb, wb, tb, owner, targets = [], [], [], [], []
        for p in members:
            Y, W = np.asarray(Ys[p], dtype=float), np.asarray(Ws[p], dtype=float)
            rows, cols = treated_cells(W)
            w = cell_weights(
                W, UnitDistances(Y, W), rows, cols, lambdas.time, lambdas.unit,
                normalize=normalize, square=square,
            )  # fmt: skip
            ok = _identified(w, rows, cols)
            Yb.append(np.broadcast_to(Y, w.shape))
            wb.append(w)
            tb.append(np.where(ok, 0.0, np.nan))
            owner.append(np.full(rows.size, p))
            targets.append(np.stack([rows, cols], axis=1))
        Y_all = np.concatenate(Yb)
        w_all = np.concatenate(wb)
        bad = np.concatenate(tb)
        who = np.concatenate(owner)
        cells = np.concatenate(targets)
        tau = np.full(who.size, np.nan)
        sd = float(np.mean([np.std(Ys[p]) for p in members])) or 1.0
        tol_solver = tol * sd / (1.0 + float(np.abs(Y_all).max()))
        good = np.flatnonzero(np.isfinite(bad))
        for chunk in _chunks(good.size, N, T):
            sel = good[chunk]
            fit = fit_twfe_lowrank(Y_all[sel], w_all[sel], lambdas.nn, tol=tol_solver)
            b = np.arange(sel.size)
            r, c = cells[sel, 0], cells[sel, 1]
            tau[sel] = Y_all[sel][b, r, c] - fit.at(r, c)
        for p in members:
            vals = tau[who == p]
            out[p] = float(np.mean(vals)) if np.all(np.isfinite(vals)) else np.nan
    return out
