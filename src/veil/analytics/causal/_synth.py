"""Shared machinery of SC, SC with intercept and SDID: weights by batched Frank–Wolfe, cohorts.

All three are the estimator of [SDID] Alg. 1 with different weight options ([synthdid]
``synthdid_estimate``, ``sc_estimate``, and the paper's DIFP):

=============== ================ ================= =====================
estimator       unit intercept   ζ_ω               time weights λ
=============== ================ ================= =====================
sc              no               1e-6 · σ̂          0 (not used)
sc_intercept    yes              1e-6 · σ̂          uniform 1/T0
sdid            yes              (N1·T1)^¼ · σ̂     fitted, ζ_λ = 1e-6 · σ̂
=============== ================ ================= =====================

``σ̂`` is the sample sd of the first differences of the control units' pre-period outcomes.
A *block problem* has control rows, the treated rows' average and a first treated period ``T0``;
staggered designs are split into one block problem per adoption cohort (the never-treated units as
controls, the cohort's units as treated, later adopters left out), and the cohort estimates are
averaged with weights proportional to their numbers of treated cells ([SDID] Appendix A, as in
the Stata ``sdid`` command). Same-shaped block problems — the 200 placebo panels, bootstrap draws —
are solved together by :func:`veil.analytics.causal._frank_wolfe.fw_simplex`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from veil.analytics.causal._frank_wolfe import fw_simplex, sparsify
from veil.analytics.causal.base import PanelEstimator, ProgressCallback, build_result
from veil.analytics.causal.panel import PanelData, TreatmentPattern
from veil.analytics.causal.results import CausalResult, Weights
from veil.errors import EstimationError

_PRE_SPARSIFY_ITER = 100  # [synthdid] max.iter.pre.sparsify
_ETA_TINY = 1e-6  # "infinitesimal" ridge of SC, DIFP and the SDID time weights


@dataclass(frozen=True)
class WeightOptions:
    """How the unit and time weights of one estimator are chosen (see the module table)."""

    omega_intercept: bool
    eta_omega: float | None  # None: the SDID value (N1·T1)^(1/4)
    lambda_mode: str  # "fit", "zero", "uniform"
    eta_lambda: float
    sparsify: bool
    max_iter: int


@dataclass
class BlockProblem:
    """One block design: ``Y_co`` (N0, T) controls, ``y_tr`` (T,) treated average, ``t0``."""

    Y_co: np.ndarray
    y_tr: np.ndarray
    t0: int
    n_treated: int
    control_rows: np.ndarray  # indices into the panel's units
    treated_rows: np.ndarray

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.Y_co.shape[0], self.Y_co.shape[1], self.t0, self.n_treated)

    @property
    def n_cells(self) -> int:
        return int(self.n_treated * (self.Y_co.shape[1] - self.t0))


def block_problems(panel: PanelData) -> list[BlockProblem]:
    """Split an absorbing design into block problems, one per adoption cohort."""
    never = np.flatnonzero(panel.adoption >= panel.n_periods)
    if never.size == 0:
        raise EstimationError(
            "every unit is treated at some point; synthetic control and SDID need never-treated "
            "units as controls",
            field="treatment",
            hint="use did (imputation) for designs without never-treated units",
        )
    out = []
    for a, members in sorted(panel.cohorts.items()):
        rows = np.flatnonzero(members)
        if a < 2:
            raise EstimationError(
                f"units {panel.units[rows][:5].tolist()} are treated from period "
                f"{panel.times[a]!r}, leaving {a} pre-treatment period(s); at least 2 are needed",
                field="treatment",
                hint="drop those units or add earlier periods",
            )
        out.append(
            BlockProblem(
                Y_co=panel.Y[never],
                y_tr=panel.Y[rows].mean(axis=0),
                t0=a,
                n_treated=rows.size,
                control_rows=never,
                treated_rows=rows,
            )
        )
    return out


@dataclass
class BlockSolution:
    """Weights and estimate of one block problem."""

    tau: float
    omega: np.ndarray  # (N0,)
    lam: np.ndarray  # (T0,)
    intercept_shift: float  # λ-weighted pre gap of the treated average (0 for SC)
    noise_level: float


def solve_blocks(problems: Sequence[BlockProblem], opts: WeightOptions) -> list[BlockSolution]:
    """Solve block problems, batching those of the same shape."""
    groups: dict[tuple[int, int, int, int], list[int]] = defaultdict(list)
    for k, p in enumerate(problems):
        groups[p.key].append(k)
    out: list[BlockSolution | None] = [None] * len(problems)
    for (_, _, t0, n1), members in groups.items():
        Y_co = np.stack([problems[k].Y_co for k in members])
        y_tr = np.stack([problems[k].y_tr for k in members])
        sol = _solve_batch(Y_co, y_tr, t0, n1, opts)
        for j, k in enumerate(members):
            out[k] = BlockSolution(
                tau=float(sol["tau"][j]),
                omega=sol["omega"][j],
                lam=sol["lam"][j],
                intercept_shift=float(sol["shift"][j]),
                noise_level=float(sol["noise"][j]),
            )
    return [s for s in out if s is not None]


def _solve_batch(
    Y_co: np.ndarray, y_tr: np.ndarray, t0: int, n1: int, opts: WeightOptions
) -> dict[str, np.ndarray]:
    """Weights and τ̂ for a stack of block problems: ``Y_co`` (B, N0, T), ``y_tr`` (B, T)."""
    B, _n0, T = Y_co.shape
    t1 = T - t0
    pre, post = Y_co[:, :, :t0], Y_co[:, :, t0:].mean(axis=2)  # (B,N0,T0), (B,N0)
    tr_pre, tr_post = y_tr[:, :t0], y_tr[:, t0:].mean(axis=1)  # (B,T0), (B,)
    noise = np.std(np.diff(pre, axis=2).reshape(B, -1), axis=1, ddof=1)
    min_decrease = 1e-5 * noise
    eta_omega = (n1 * t1) ** 0.25 if opts.eta_omega is None else opts.eta_omega
    # Unit weights: rows = pre periods, columns = controls; intercept = centre over time.
    A = np.swapaxes(pre, 1, 2)  # (B, T0, N0)
    y = tr_pre
    if opts.omega_intercept:
        A = A - A.mean(axis=1, keepdims=True)
        y = y - y.mean(axis=1, keepdims=True)
    omega = _weights(A, y, (eta_omega * noise) ** 2, min_decrease, opts)
    # Time weights: rows = controls, columns = pre periods; intercept = centre over units.
    if opts.lambda_mode == "fit":
        A = pre - pre.mean(axis=1, keepdims=True)
        y = post - post.mean(axis=1, keepdims=True)
        lam = _weights(A, y, (opts.eta_lambda * noise) ** 2, min_decrease, opts)
    elif opts.lambda_mode == "uniform":
        lam = np.full((B, t0), 1.0 / t0)
    else:
        lam = np.zeros((B, t0))
    # τ̂ = (ȳ_tr,post − λ'y_tr,pre) − ω'(Ȳ_co,post − Y_co,pre λ)   ([SDID] Alg. 1, step 4)
    tr_shift = np.einsum("bt,bt->b", lam, tr_pre)
    co_shift = np.einsum("bi,bit,bt->b", omega, pre, lam)
    tau = (tr_post - tr_shift) - (np.einsum("bi,bi->b", omega, post) - co_shift)
    return {"tau": tau, "omega": omega, "lam": lam, "shift": tr_shift - co_shift, "noise": noise}


def _weights(
    A: np.ndarray, y: np.ndarray, zeta2: np.ndarray, min_decrease: np.ndarray, opts: WeightOptions
) -> np.ndarray:
    """Minimise ζ²‖x‖² + ‖Ax − y‖²/m over the simplex, for a batch; sparsify as [synthdid]."""
    B, m, n = A.shape
    G = np.einsum("bti,btj->bij", A, A)
    c = np.einsum("bti,bt->bi", A, y)
    yy = np.einsum("bt,bt->b", y, y)
    x0 = np.full((B, n), 1.0 / n)
    if opts.sparsify:
        x, _ = fw_simplex(G, c, yy, m, zeta2, x0, min_decrease, _PRE_SPARSIFY_ITER)
        x0 = sparsify(x)
    x, _ = fw_simplex(G, c, yy, m, zeta2, x0, min_decrease, opts.max_iter)
    return x


class SyntheticEstimator(PanelEstimator):
    """Base of SC, SC with intercept and SDID: block designs and staggered adoption by cohort."""

    supported_patterns: ClassVar[frozenset[TreatmentPattern]] = frozenset(
        {TreatmentPattern.SINGLE_CELL, TreatmentPattern.BLOCK, TreatmentPattern.STAGGERED}
    )

    def _options(self) -> WeightOptions:
        raise NotImplementedError

    def _check_panel(self, panel: PanelData) -> None:
        super()._check_panel(panel)
        if not panel.is_absorbing:
            raise EstimationError(
                f"{type(self).__name__} needs treatment that stays on once it starts; the single "
                "treated cell here is followed by untreated periods",
                field="treatment",
                hint="drop the periods after the treated cell, or use did",
            )

    def _fit(self, panel: PanelData) -> CausalResult:
        problems = block_problems(panel)
        solutions = solve_blocks(problems, self._options())
        treated = np.flatnonzero(panel.treated_units)
        position = {row: k for k, row in enumerate(treated)}
        Y0 = np.full((treated.size, panel.n_periods), np.nan)
        cohorts = []
        for p, s in zip(problems, solutions, strict=True):
            synthetic = s.omega @ p.Y_co  # (T,)
            co_pre = synthetic[: p.t0] @ s.lam
            for row in p.treated_rows:
                # Per-unit level: the λ-weighted pre-period gap (0 when λ = 0, i.e. SC).
                Y0[position[row]] = synthetic + (panel.Y[row, : p.t0] @ s.lam - co_pre)
            cohorts.append(
                {
                    "adoption": _label(panel.times[p.t0]),
                    "att": s.tau,
                    "n_treated_units": p.n_treated,
                    "n_cells": p.n_cells,
                    "unit_weights": pd.Series(s.omega, index=panel.units[p.control_rows]),
                    "time_weights": pd.Series(s.lam, index=panel.times[: p.t0]),
                    "noise_level": s.noise_level,
                }
            )
        cells = np.array([p.n_cells for p in problems], dtype=float)
        att = float(np.dot(cells, [s.tau for s in solutions]) / cells.sum())
        weights = Weights()
        if len(problems) == 1:
            c = cohorts[0]
            opts = self._options()
            weights = Weights(
                unit=c["unit_weights"].rename("omega"),
                time=None if opts.lambda_mode == "zero" else c["time_weights"].rename("lambda"),
                intercept=None
                if opts.lambda_mode == "zero"
                else float(solutions[0].intercept_shift),
            )
        details: dict[str, Any] = {"cohorts": cohorts, "noise_level": solutions[0].noise_level}
        return build_result(self, panel, Y0, weights=weights, att=att, details=details)

    def _att(self, panel: PanelData) -> float:
        return float(self._att_batch([panel])[0])

    def _att_batch(
        self, panels: Sequence[PanelData], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        opts = self._options()
        problems: list[BlockProblem] = []
        owner: list[int] = []
        for k, panel in enumerate(panels):
            for p in block_problems(panel):
                problems.append(p)
                owner.append(k)
        out = np.zeros(len(panels))
        total = np.zeros(len(panels))
        chunk = max(1, len(problems) // 10) if progress is not None else len(problems)
        for start in range(0, len(problems), chunk):
            part = problems[start : start + chunk]
            for p, s, k in zip(
                part, solve_blocks(part, opts), owner[start : start + chunk], strict=True
            ):
                out[k] += p.n_cells * s.tau
                total[k] += p.n_cells
            if progress is not None:
                progress(min(start + chunk, len(problems)), len(problems))
        return out / total

    def _jackknife_atts(
        self, panel: PanelData, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Leave one unit out with the weights held fixed ([SDID] Alg. 3); block designs only."""
        if panel.pattern is TreatmentPattern.STAGGERED:
            return super()._jackknife_atts(panel, progress)
        (p,) = block_problems(panel)
        (s,) = solve_blocks([p], self._options())
        pre = p.Y_co[:, : p.t0]
        post = p.Y_co[:, p.t0 :].mean(axis=1)
        co_gap = post - pre @ s.lam  # (N0,)
        tr_gap = (
            panel.Y[p.treated_rows, p.t0 :].mean(axis=1) - panel.Y[p.treated_rows, : p.t0] @ s.lam
        )
        out = []
        for j in range(p.Y_co.shape[0]):
            w = np.delete(s.omega, j)
            if w.sum() <= 0:
                out.append(np.nan)
                continue
            out.append(tr_gap.mean() - np.dot(w / w.sum(), np.delete(co_gap, j)))
        for j in range(p.n_treated):
            out.append(np.delete(tr_gap, j).mean() - np.dot(s.omega, co_gap))
        if progress is not None:
            progress(len(out), len(out))
        atts = np.asarray(out)
        if not np.all(np.isfinite(atts)):
            raise EstimationError(
                "the fixed-weight jackknife is undefined: only one control unit has a non-zero "
                "weight",
                field="se",
                hint="use se='placebo' or se='bootstrap'",
            )
        return atts


def _label(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
