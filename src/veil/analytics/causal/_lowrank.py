"""Batched solver: weighted two-way fixed effects plus a nuclear-norm-penalised low-rank matrix.

For each of ``B`` problems ``b`` (same ``N × T`` shape, own weights and penalty) it solves

    min_{α, β, γ, L}  Σ_{j,s} w_bjs (Y_bjs − α_j − β_s − X_js·γ − L_js)²  +  λ_b ‖L‖_*

with ``w ≥ 0``, ``‖·‖_*`` the nuclear norm, the fixed effects ``α, β`` and covariate coefficients
``γ`` unpenalised. This is the inner problem of TROP ([TROP] eq. 2 and 13: one problem per target
cell) and of MC-NNM ([MC]: 0/1 weights on the observed cells).

Method
------
The unpenalised part is profiled out: for a given ``L`` the best ``(α, β, γ)`` is a weighted
least-squares projection ``P_w`` of ``Y − L`` (two-way fixed effects by a Schur complement on the
period effects; covariates by Frisch–Waugh–Lovell on the fixed-effect residuals). What is left,
``h(L) = ‖(I − P_w)(Y − L)‖²_w + λ‖L‖_*``, is solved by accelerated proximal gradient (FISTA,
Beck & Teboulle 2009) with gradient-based adaptive restart (O'Donoghue & Candès 2015): the smooth
part has gradient ``−2 w ⊙ E`` (``E`` the residual after the projection; envelope theorem) and
Lipschitz constant ``2 max(w)``, and the proximal step is singular-value soft-thresholding
``S_κ(G) = U (σ − κ)_+ V'`` with ``κ = λ / (2 max w)`` ([MC] §4, Mazumder, Hastie, Tibshirani 2010).

Everything is vectorised over the batch: one stacked SVD per iteration, problems that have
converged leave the active set. ``λ = inf`` skips the low-rank part (``L = 0``): one projection.

[MC] Athey, Bayati, Doudchenko, Imbens, Khosravi (2021), JASA 116(536).
[TROP] Athey, Imbens, Qu, Viviano (2025), "Triply Robust Panel Estimators", arXiv 2508.21536.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LowRankFit", "WeightedProjector", "fit_twfe_lowrank", "lambda_max"]

_EPS = 1e-12


class WeightedProjector:
    """Weighted least-squares fit of two-way fixed effects (and covariates) for a batch.

    Parameters
    ----------
    w : ndarray of shape (B, N, T)
        Non-negative cell weights, one matrix per problem.
    X : ndarray of shape (N, T, K) or (B, N, T, K), optional
        Covariates (coefficients ``γ`` shared by all cells of a problem).

    Notes
    -----
    Normal equations of ``min Σ w (Z − α_j − β_s)²``: with row sums ``R`` and column sums ``C``,
    ``α = (Σ_s w Z − w β) / R`` and ``S β = Σ_j w Z − w' (Σ_s w Z / R)`` where
    ``S = diag(C) − w' diag(1/R) w`` (Schur complement). ``S`` is singular along the constant
    vector (the usual α/β normalisation); ``S + c 11'`` is inverted instead, which picks the
    solution with ``Σ β = 0`` and leaves fitted values unchanged. Units or periods with zero
    weight get zero effects.
    """

    def __init__(self, w: np.ndarray, X: np.ndarray | None = None) -> None:
        self.w = w
        R = w.sum(axis=2)
        C = w.sum(axis=1)
        self.r_inv = np.divide(1.0, R, out=np.zeros_like(R), where=R > 0)
        S = -np.matmul((w * self.r_inv[:, :, None]).transpose(0, 2, 1), w)
        T = w.shape[2]
        idx = np.arange(T)
        S[:, idx, idx] += C
        scale = np.maximum(C.mean(axis=1), _EPS)
        S += (scale / T)[:, None, None]
        S[:, idx, idx] += np.where(C > 0, _EPS * scale[:, None], 1.0)
        # Factorised lazily: one projection (λ = inf) needs a solve, repeated ones an inverse.
        self.S = S
        self.m: np.ndarray | None = None
        self._solves = 0
        self.X = X
        self.Xt: np.ndarray | None = None
        self.g_inv: np.ndarray | None = None
        if X is not None:
            Xb = X if X.ndim == 4 else np.broadcast_to(X, (w.shape[0], *X.shape))
            # Frisch–Waugh–Lovell: residualise each covariate on the weighted fixed effects.
            Xt = np.empty(Xb.shape)
            for k in range(Xb.shape[3]):
                Xt[..., k] = Xb[..., k] - self._fe_fitted(Xb[..., k])
            G = np.einsum("bjs,bjsk,bjsl->bkl", w, Xt, Xt, optimize=True)
            K = G.shape[1]
            G[:, np.arange(K), np.arange(K)] += (
                _EPS * np.maximum(np.trace(G, axis1=1, axis2=2) / K, _EPS)[:, None]
            )
            self.Xt = Xt
            self.g_inv = np.linalg.inv(G)
            self.Xb = Xb

    def _fe(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wz = self.w * Z
        ra = wz.sum(axis=2)
        cb = wz.sum(axis=1)
        rhs = cb - np.matmul((ra * self.r_inv)[:, None, :], self.w)[:, 0, :]
        if self.m is None and self._solves == 0:
            self._solves = 1
            beta = np.linalg.solve(self.S, rhs[:, :, None])[:, :, 0]
        else:
            if self.m is None:
                self.m = np.linalg.inv(self.S)
            beta = np.matmul(self.m, rhs[:, :, None])[:, :, 0]
        alpha = (ra - np.matmul(self.w, beta[:, :, None])[:, :, 0]) * self.r_inv
        return alpha, beta

    def _fe_fitted(self, Z: np.ndarray) -> np.ndarray:
        alpha, beta = self._fe(Z)
        return np.asarray(alpha[:, :, None] + beta[:, None, :])

    def coef(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return ``(α, β, γ)`` for data ``Z`` without forming the fitted matrix."""
        Z = np.broadcast_to(Z, self.w.shape)
        if self.Xt is None:
            alpha, beta = self._fe(Z)
            return alpha, beta, None
        assert self.g_inv is not None
        xz = np.einsum("bjs,bjsk,bjs->bk", self.w, self.Xt, Z, optimize=True)
        gamma = np.einsum("bkl,bl->bk", self.g_inv, xz)
        alpha, beta = self._fe(Z - np.einsum("bjsk,bk->bjs", self.Xb, gamma))
        return alpha, beta, gamma

    def fit(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """Return ``(α (B,N), β (B,T), γ (B,K) or None, fitted (B,N,T))`` for data ``Z``."""
        Z = np.broadcast_to(Z, self.w.shape)
        gamma = None
        if self.Xt is None:
            alpha, beta = self._fe(Z)
            fitted = alpha[:, :, None] + beta[:, None, :]
        else:
            assert self.g_inv is not None
            xz = np.einsum("bjs,bjsk,bjs->bk", self.w, self.Xt, Z, optimize=True)
            gamma = np.einsum("bkl,bl->bk", self.g_inv, xz)
            xg = np.einsum("bjsk,bk->bjs", self.Xb, gamma)
            alpha, beta = self._fe(Z - xg)
            fitted = alpha[:, :, None] + beta[:, None, :] + xg
        return alpha, beta, gamma, fitted

    def take(self, rows: np.ndarray) -> WeightedProjector:
        """Return the projector restricted to problems ``rows`` (no recomputation)."""
        out = object.__new__(WeightedProjector)
        out.w = self.w[rows]
        out.r_inv = self.r_inv[rows]
        out.S = self.S[rows]
        out.m = None if self.m is None else self.m[rows]
        out._solves = self._solves
        out.X = self.X
        out.Xt = None if self.Xt is None else self.Xt[rows]
        out.g_inv = None if self.g_inv is None else self.g_inv[rows]
        if self.Xt is not None:
            out.Xb = self.Xb[rows]
        return out


@dataclass(frozen=True)
class LowRankFit:
    """Solution of a batch of weighted fixed-effects + low-rank problems.

    Attributes
    ----------
    alpha : ndarray of shape (B, N)
        Unit effects.
    beta : ndarray of shape (B, T)
        Period effects.
    gamma : ndarray of shape (B, K) or None
        Covariate coefficients.
    L : ndarray of shape (B, N, T)
        Low-rank part (zeros when ``λ = inf``).
    n_iter : ndarray of shape (B,)
        Proximal-gradient iterations used.
    converged : ndarray of shape (B,), bool
        Whether the change in ``L`` fell below the tolerance.
    rank : ndarray of shape (B,)
        Rank of ``L``.
    basis : ndarray of shape (B, T, k)
        Right singular subspace tracked by the solver (a warm start for neighbouring fits).
    """

    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray | None
    L: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    rank: np.ndarray
    basis: np.ndarray
    X: np.ndarray | None = None

    @property
    def fitted(self) -> np.ndarray:
        """``α_j + β_s + X_js·γ + L_js`` in every cell, shape ``(B, N, T)`` (also unweighted cells)."""
        out = self.alpha[:, :, None] + self.beta[:, None, :] + self.L
        if self.X is not None and self.gamma is not None:
            Xb = self.X if self.X.ndim == 4 else self.X[None]
            out = out + np.einsum("bjsk,bk->bjs", np.broadcast_to(Xb, (*out.shape, Xb.shape[-1])),
                                  self.gamma)  # fmt: skip
        return np.asarray(out)

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Return the fitted value of cell ``(rows[b], cols[b])`` of problem ``b``, shape ``(B,)``."""
        b = np.arange(rows.size)
        out = self.alpha[b, rows] + self.beta[b, cols] + self.L[b, rows, cols]
        if self.X is not None and self.gamma is not None:
            x = self.X[rows, cols] if self.X.ndim == 3 else self.X[b, rows, cols]
            out = out + np.einsum("bk,bk->b", x, self.gamma)
        return np.asarray(out)


def _orthonormalize(A: np.ndarray) -> np.ndarray:
    """Return orthonormal columns spanning each ``A[b]`` (Householder QR, batched)."""
    return np.linalg.qr(A)[0]


def _svt_subspace(
    G: np.ndarray, kappa: np.ndarray, basis: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft-threshold ``G[b]`` on the top singular subspace tracked by ``basis[b]``.

    One block power step (``G'G basis``) followed by Rayleigh–Ritz: the Ritz triplets are exact
    when the subspace holds every singular direction above the threshold; :func:`fit_twfe_lowrank`
    checks that at convergence with a full SVD. Returns ``(L, rank, new basis)``.
    """
    Q = _orthonormalize(np.matmul(G.transpose(0, 2, 1), np.matmul(G, basis)))
    P = np.matmul(G, Q)  # (B, N, k)
    evals, R = np.linalg.eigh(np.matmul(P.transpose(0, 2, 1), P))
    evals, R = evals[:, ::-1], R[:, :, ::-1]  # descending
    sigma = np.sqrt(np.maximum(evals, 0.0))
    s = np.maximum(sigma - kappa[:, None], 0.0)
    rank = (s > 0).sum(axis=1)
    V = np.matmul(Q, R)
    scale = np.divide(s, sigma, out=np.zeros_like(s), where=sigma > 0)
    L = np.matmul(np.matmul(P, R) * scale[:, None, :], V.transpose(0, 2, 1))
    return L, rank, V


def _svt_full(G: np.ndarray, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft-threshold the singular values of each ``G[b]`` by ``kappa[b]`` (full SVD)."""
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    s = np.maximum(s - kappa[:, None], 0.0)
    rank = (s > 0).sum(axis=1)
    return np.matmul(U * s[:, None, :], Vt), rank, Vt.transpose(0, 2, 1)


def lambda_max(Y: np.ndarray, w: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
    """Return the smallest ``λ`` with ``L = 0`` optimal, per problem: ``2 ‖w ⊙ E₀‖_op``.

    ``E₀`` is the residual of the weighted fixed-effects (and covariate) fit of ``Y``; shapes as in
    :func:`fit_twfe_lowrank`.
    """
    w = w if w.ndim == 3 else w[None]
    Yb = np.broadcast_to(Y, w.shape)
    proj = WeightedProjector(w, X)
    E0 = Yb - proj.fit(Yb)[3]
    return np.asarray(2.0 * np.linalg.norm(w * E0, ord=2, axis=(1, 2)))


def fit_twfe_lowrank(
    Y: np.ndarray,
    w: np.ndarray,
    lam: float | np.ndarray,
    *,
    X: np.ndarray | None = None,
    L0: np.ndarray | None = None,
    basis0: np.ndarray | None = None,
    tol: float = 1e-6,
    max_iter: int = 5000,
    projector: WeightedProjector | None = None,
    oversample: int = 3,
) -> LowRankFit:
    """Solve a batch of weighted two-way-fixed-effects + nuclear-norm problems.

    Parameters
    ----------
    Y : ndarray of shape (N, T) or (B, N, T)
        Outcomes (shared by all problems, or one matrix each). Cells with zero weight may hold
        anything finite.
    w : ndarray of shape (B, N, T)
        Non-negative weights; a cell with weight 0 does not enter the fit.
    lam : float or ndarray of shape (B,)
        Nuclear-norm penalty ``λ ≥ 0`` on the sum (not the mean) of weighted squares; ``inf``
        means no low-rank part.
    X : ndarray of shape (N, T, K) or (B, N, T, K), optional
        Covariates.
    L0 : ndarray of shape (B, N, T), optional
        Warm start for ``L``.
    basis0 : ndarray of shape (T, k) or (B, T, k), optional
        Warm start for the tracked right singular subspace (e.g. ``LowRankFit.basis`` of a
        neighbouring fit); by default the top right singular vectors of ``Y``'s residual.
    tol : float, default=1e-6
        Stop a problem when ``max |ΔL| ≤ tol · (1 + max |Y|)`` between iterations.
    max_iter : int, default=5000
        Iteration cap per problem (``converged`` says whether it was reached).
    projector : WeightedProjector, optional
        Precomputed projector for ``w`` and ``X`` (reused across penalties).
    oversample : int, default=3
        Extra directions tracked beyond the current rank of ``L``.

    Returns
    -------
    LowRankFit
    """
    w = np.asarray(w, dtype=float)
    B, N, T = w.shape
    kmax = min(N, T)
    Y = np.asarray(Y, dtype=float)
    shared = Y.ndim == 2
    Yb = np.broadcast_to(Y, w.shape)
    lam_b = np.broadcast_to(np.asarray(lam, dtype=float), (B,)).copy()
    proj = projector if projector is not None else WeightedProjector(w, X)
    L = np.zeros(w.shape) if L0 is None else np.array(L0, dtype=float, copy=True)
    n_iter = np.zeros(B, dtype=int)
    converged = np.ones(B, dtype=bool)
    rank = np.zeros(B, dtype=int)
    finite = np.isfinite(lam_b)
    L[~finite] = 0.0
    if finite.any() and L0 is None:
        # L = 0 is optimal where λ ≥ λ_max = 2‖w ⊙ E₀‖₂ (E₀: residual of the fixed-effects fit).
        cand = np.flatnonzero(finite)
        Yc = Y if shared else Y[cand]
        E0 = Yc - proj.take(cand).fit(Yc)[3]
        lmax = 2.0 * np.linalg.svd(w[cand] * E0, compute_uv=False)[:, 0]
        finite[cand[lam_b[cand] >= lmax]] = False
    k = min(kmax, max(oversample + 1, 2))
    if basis0 is not None:
        k = min(kmax, max(k, basis0.shape[-1]))
    basis_all = np.zeros((B, T, k))
    active = np.flatnonzero(finite)
    if active.size:
        wmax = np.maximum(w.reshape(B, -1).max(axis=1), _EPS)
        scale = 1.0 + (np.abs(Y).max() if shared else np.abs(Y).reshape(B, -1).max(axis=1))
        scale = np.broadcast_to(scale, (B,))
        converged[active] = False
        ps = proj.take(active)
        La = L[active]
        basis = _initial_basis(Yb[active[:1]], ps, basis0, active, k)
        V = La.copy()
        t = np.ones(active.size)
        ratio = w[active] / wmax[active][:, None, None]
        kappa = lam_b[active] / (2.0 * wmax[active])
        Ya = Y if shared else Y[active]
        sc = scale[active]
        for it in range(1, max_iter + 1):
            # Gradient step at the extrapolated point V (in place: these arrays are B·N·T).
            G = np.subtract(Ya, V)
            G -= ps.fit(G)[3]
            G *= ratio
            G += V
            if basis.shape[2] >= kmax:
                L_new, rk, basis = _svt_full(G, kappa)
            else:
                L_new, rk, basis = _svt_subspace(G, kappa, basis)
            step = np.subtract(L_new, La)
            # Adaptive restart: drop the momentum where it points uphill.
            V -= L_new
            uphill = np.einsum("bij,bij->b", V, step) > 0
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            mom = np.where(uphill, 0.0, (t - 1.0) / t_new)
            t = np.where(uphill, 1.0, t_new)
            np.multiply(step, mom[:, None, None], out=V)
            V += L_new
            flat = step.reshape(step.shape[0], -1)
            delta = np.maximum(flat.max(axis=1), -flat.min(axis=1))
            La = L_new
            done = delta <= tol * sc
            if basis.shape[2] < kmax:
                done &= _subspace_is_complete(G, kappa, rk, done)
            if int(rk.max(initial=0)) + oversample > basis.shape[2] and basis.shape[2] < kmax:
                basis = _grow(basis, min(kmax, int(rk.max()) + oversample))
            if done.any() or it == max_iter:
                finished = done | (it == max_iter)
                rows = active[finished]
                L[rows] = La[finished]
                n_iter[rows] = it
                converged[rows] = done[finished]
                rank[rows] = rk[finished]
                if basis_all.shape[2] < basis.shape[2]:
                    basis_all = _grow(basis_all, basis.shape[2], random=False)
                basis_all[rows, :, : basis.shape[2]] = basis[finished]
                keep = ~finished
                if not keep.any():
                    break
                active = active[keep]
                ps = ps.take(np.flatnonzero(keep))
                La, V, t, basis = La[keep], V[keep], t[keep], basis[keep]
                ratio, kappa, sc = ratio[keep], kappa[keep], sc[keep]
                Ya = Ya if shared else Ya[keep]
    alpha, beta, gamma = proj.coef(Y if shared and not np.isfinite(lam_b).any() else Yb - L)
    return LowRankFit(
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        L=L,
        n_iter=n_iter,
        converged=converged,
        rank=rank,
        basis=basis_all,
        X=X,
    )


def _initial_basis(
    Y: np.ndarray,
    proj: WeightedProjector,
    basis0: np.ndarray | None,
    rows: np.ndarray,
    k: int,
) -> np.ndarray:
    B, T = rows.size, Y.shape[2]
    if basis0 is not None:
        b0 = basis0[rows] if basis0.ndim == 3 else np.broadcast_to(basis0, (B, *basis0.shape))
        b0 = b0[:, :, :k]
        if b0.shape[2] < k:
            b0 = _grow(np.array(b0), k)
        return _orthonormalize(np.array(b0, dtype=float) + _jitter(B, T, k, 1e-8))
    # Shared start: right singular vectors of the first problem's weighted residual.
    E = Y - proj.take(np.array([0])).fit(Y)[3]
    _, _, Vt = np.linalg.svd(proj.w[:1] * E, full_matrices=False)
    start = Vt[0, :k, :].T
    return _orthonormalize(np.broadcast_to(start, (B, T, k)) + _jitter(B, T, k, 1e-6))


def _jitter(B: int, T: int, k: int, size: float) -> np.ndarray:
    # Fixed public pseudo-randomness: keeps the tracked block of full column rank.
    return size * np.random.default_rng(12345).standard_normal((1, T, k)).repeat(B, axis=0)


def _grow(basis: np.ndarray, k: int, *, random: bool = True) -> np.ndarray:
    B, T, k0 = basis.shape
    if k <= k0:
        return basis
    extra = _jitter(B, T, k - k0, 1.0) if random else np.zeros((B, T, k - k0))
    out = np.concatenate([basis, extra], axis=2)
    return _orthonormalize(out) if random else out


def _subspace_is_complete(
    G: np.ndarray, kappa: np.ndarray, rank: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Return, per problem, whether no singular value of ``G`` beyond ``rank`` exceeds ``kappa``.

    Only the ``candidates`` (about to stop) are checked, with one full SVD each; the others are
    reported as complete (they are not stopping anyway).
    """
    ok = np.ones(G.shape[0], dtype=bool)
    idx = np.flatnonzero(candidates)
    if idx.size:
        s = np.linalg.svd(G[idx], compute_uv=False)
        nxt = np.take_along_axis(s, np.minimum(rank[idx], s.shape[1] - 1)[:, None], axis=1)[:, 0]
        full = rank[idx] >= s.shape[1]
        ok[idx] = full | (nxt <= kappa[idx] * (1 + 1e-9) + 1e-12 * s[:, 0])
    return ok


def objective(Y: np.ndarray, w: np.ndarray, lam: float | np.ndarray, fit: LowRankFit) -> np.ndarray:
    """Return the objective ``Σ w (Y − fitted)² + λ ‖L‖_*`` of ``fit``, shape ``(B,)``."""
    Yb = np.broadcast_to(Y, w.shape)
    sse = np.einsum("bij,bij->b", w, (Yb - fit.fitted) ** 2)
    lam_b = np.broadcast_to(np.asarray(lam, dtype=float), (w.shape[0],))
    nuc = np.linalg.svd(fit.L, compute_uv=False).sum(axis=1)
    pen = np.where(np.isfinite(lam_b), lam_b * nuc, 0.0)
    return np.asarray(sse + pen)
