"""The batched Frank–Wolfe solver: compiled and numpy kernels agree and reach the optimum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from veil.analytics.causal._frank_wolfe import HAVE_NUMBA, fw_simplex, fw_simplex_numpy, sparsify


def _problems(seed: int, b: int = 6, m: int = 12, n: int = 9):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(b, m, n))
    y = rng.normal(size=(b, m))
    G = np.einsum("bti,btj->bij", A, A)
    c = np.einsum("bti,bt->bi", A, y)
    yy = np.einsum("bt,bt->b", y, y)
    zeta2 = rng.uniform(0.01, 0.5, size=b)
    return A, y, G, c, yy, zeta2


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not installed")
def test_the_compiled_and_numpy_kernels_take_the_same_steps() -> None:
    """Both kernels give the same iterates and iteration counts on a batch."""
    _, _, G, c, yy, zeta2 = _problems(0)
    x0 = np.full(c.shape, 1.0 / c.shape[1])
    md = np.full(c.shape[0], 1e-6)
    for max_iter in (1, 7, 300, 5000):
        xa, ia = fw_simplex(G, c, yy, 12, zeta2, x0, md, max_iter)
        xb, ib = fw_simplex_numpy(G, c, yy, 12, zeta2, x0, md, max_iter)
        np.testing.assert_allclose(xa, xb, atol=1e-10)
        np.testing.assert_array_equal(ia, ib)


def test_the_solution_is_the_simplex_optimum() -> None:
    """Run long enough, each solution is near a general-purpose solver's optimum (FW is slow)."""
    A, y, G, c, yy, zeta2 = _problems(1)
    b, m, n = A.shape
    x, _ = fw_simplex(G, c, yy, m, zeta2, np.full((b, n), 1.0 / n), np.zeros(b), 20_000)
    for k in range(b):

        def f(v, k=k):
            return zeta2[k] * v @ v + np.sum((A[k] @ v - y[k]) ** 2) / m

        ref = minimize(
            f, np.full(n, 1.0 / n), method="SLSQP", bounds=[(0, 1)] * n,
            constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}], options={"ftol": 1e-14},
        )  # fmt: skip
        assert f(x[k]) == pytest.approx(ref.fun, rel=1e-4)
        np.testing.assert_allclose(x[k], ref.x, atol=1e-2)
    np.testing.assert_allclose(x.sum(axis=1), 1.0)
    assert (x >= 0).all()


def test_sparsify_drops_small_weights_and_renormalises() -> None:
    """Weights at most a quarter of the maximum become zero; rows sum to one."""
    out = sparsify(np.array([[0.5, 0.125, 0.375], [0.1, 0.2, 0.7]]))
    np.testing.assert_allclose(
        out, [[0.5 / 0.875, 0.0, 0.375 / 0.875], [0.0, 0.2 / 0.9, 0.7 / 0.9]]
    )
