"""Accuracy–fairness frontier: sweep a constraint's tolerance and record accuracy vs disparity.

Each point is one :class:`~veil.analytics.fairness.reductions.ExponentiatedGradient` fit at a
tolerance. Accuracy and disparity are the randomized classifier's *expected* values on the
evaluation data (from ``predict_proba``, so no coin flips blur the curve).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from veil.analytics.fairness._inputs import encode_groups
from veil.analytics.fairness.constraints import make_constraint
from veil.analytics.fairness.metrics import disparity
from veil.analytics.fairness.reductions import ExponentiatedGradient, _binary_target, sensitive_from

__all__ = ["Frontier", "fairness_frontier"]


@dataclass
class Frontier:
    """Points of the frontier: ``tolerance``, ``accuracy``, ``disparity``, ``n_oracle_calls``."""

    points: pd.DataFrame
    constraint: str

    def plot(self, ax: Any = None) -> Any:
        """Plot accuracy against disparity, each point labelled by its tolerance; return the Axes."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.6))
        p = self.points
        ax.plot(p["disparity"], p["accuracy"], "o-", color="#1f5f8b")
        for row in p.itertuples():
            ax.annotate(f"{row.tolerance:g}", (row.disparity, row.accuracy), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
        ax.set_xlabel(f"{self.constraint.replace('_', ' ')} difference")
        ax.set_ylabel("accuracy")
        ax.set_title("Accuracy–fairness frontier (labels: tolerance)", fontsize=10)
        ax.grid(alpha=0.3)
        return ax


def expected_table(p: np.ndarray, y01: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Return the expected confusion table ``(G, 2, 2)`` of a randomized classifier ``P(ŷ=1)=p``."""
    t = np.zeros((n_groups, 2, 2))
    for label in (0, 1):
        m = y01 == label
        t[:, label, 1] = np.bincount(codes[m], weights=p[m], minlength=n_groups)
        t[:, label, 0] = np.bincount(codes[m], weights=1 - p[m], minlength=n_groups)
    return t


def fairness_frontier(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    sensitive_features: Any,
    constraint: str = "demographic_parity",
    tolerances: Sequence[float] = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
    X_eval: Any = None,
    y_eval: Any = None,
    sensitive_eval: Any = None,
    **eg_params: Any,
) -> Frontier:
    """Fit the constrained learner at each tolerance and measure accuracy and disparity.

    Parameters
    ----------
    estimator : scikit-learn classifier taking ``sample_weight``
    X, y, sensitive_features : training data (as for ``ExponentiatedGradient.fit``)
    constraint : str
        A name from :data:`~veil.analytics.fairness.constraints.CONSTRAINTS` (parity kinds).
    tolerances : sequence of float
    X_eval, y_eval, sensitive_eval : optional held-out data (default: the training data)
    **eg_params
        Passed to :class:`ExponentiatedGradient` (e.g. ``max_iter``).

    Returns
    -------
    Frontier
    """
    sens = sensitive_from(X, sensitive_features)
    if X_eval is None:
        X_eval, y_eval, sens_eval = X, y, sens
    else:
        sens_eval = sensitive_from(X_eval, sensitive_eval)
    y01, _ = _binary_target(y_eval)
    groups = encode_groups(sens_eval, y01.shape[0])
    rows = []
    for tol in tolerances:
        c = make_constraint(constraint, tol)
        eg = ExponentiatedGradient(estimator, constraint=c, **eg_params)
        eg.fit(X, y, sensitive_features=sens)
        p = eg.predict_proba(X_eval)[:, 1]
        t = expected_table(p, y01, groups.codes, groups.n_groups)
        rows.append({
            "tolerance": float(tol),
            "accuracy": float(np.mean(np.where(y01 == 1, p, 1 - p))),
            "disparity": float(disparity(t, c.disparity)),
            "n_oracle_calls": eg.n_oracle_calls_,
        })  # fmt: skip
    return Frontier(pd.DataFrame(rows), constraint)
