"""Rich subgroup fairness (Kearns, Neel, Roth & Wu 2018): audit and learn over linear subgroups.

Subgroups are linear threshold functions of the protected attributes,
``g(z) = 1{w·z + b > 0}``, so they include every attribute value, many intersections and
thresholds on numeric attributes. The disparity of ``g`` weighs the gap in a rate by the
subgroup's size, so tiny subgroups cannot dominate:

- statistical parity: ``Δ(g) = P(g=1) · (P(ŷ=1 | g=1) − P(ŷ=1))``,
- false positives: ``Δ(g) = P(g=1, y=0) · (P(ŷ=1 | g=1, y=0) − P(ŷ=1 | y=0))``,
- false negatives: the same with ``y=1`` and ``ŷ=0``.

``Δ(g) = E[g(z)·c]`` with ``c_i`` the row's deviation from the (conditional) mean, so the
most-violated subgroup is a cost-sensitive classification over ``z``; as in the paper, the
auditor solves it by a least-squares regression of ``c`` on ``z`` (the paper's oracle), then
picks the best threshold along that direction, for each sign of the disparity. Being a
heuristic oracle, it finds a subgroup with large disparity, not provably the largest.

The learner plays fictitious play (Kearns et al., Algorithm "FairFictPlay"): the learner
best-responds to the average of the auditor's past subgroups (a cost-sensitive fit of the base
estimator), the auditor best-responds to the uniform mixture of the learner's classifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from veil.analytics.fairness._estimators import (
    ConstantClassifier,
    check_weightable,
    fit_weighted,
    snapshot,
    warm_clone,
)
from veil.analytics.fairness._inputs import as_binary, as_vector
from veil.analytics.fairness.reductions import MixtureClassifier, _binary_target
from veil.errors import ConfigError, DataError

__all__ = ["Subgroup", "SubgroupFairClassifier", "find_subgroup"]

_KINDS = ("statistical_parity", "false_positive", "false_negative")


def _design(protected: Any, n: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Return the protected attributes as a float matrix (categoricals one-hot) and names."""
    if isinstance(protected, pd.Series):
        protected = protected.to_frame()
    if not isinstance(protected, pd.DataFrame):
        arr = np.asarray(protected)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        protected = pd.DataFrame(arr, columns=[f"z{i}" for i in range(arr.shape[1])])
    frame = pd.get_dummies(protected, dtype=float)
    if n is not None and len(frame) != n:
        raise DataError(
            f"protected attributes have {len(frame)} rows but the predictions have {n}",
            field="protected",
        )
    Z = frame.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(Z)):
        raise DataError("protected attributes have missing values", field="protected",
                        hint="fill or drop them first")  # fmt: skip
    return Z, [str(c) for c in frame.columns]


def _costs(p: np.ndarray, y: np.ndarray | None, kind: str) -> np.ndarray:
    """Return ``c`` with ``Δ(g) = mean(g · c)`` for expected predictions ``p``."""
    if kind == "statistical_parity":
        return p - p.mean()
    if y is None:
        raise ConfigError(f"kind={kind!r} needs y_true", field="y_true")
    if kind == "false_positive":
        m = y == 0
        return np.where(m, p - p[m].mean(), 0.0)
    m = y == 1
    miss = 1.0 - p
    return np.where(m, miss - miss[m].mean(), 0.0)


@dataclass(frozen=True)
class Subgroup:
    """A linear subgroup ``1{coef·z + intercept > 0}`` and its disparity.

    Attributes
    ----------
    coef : ndarray, shape (n_attributes,)
    intercept : float
    names : list of str
        Attribute (one-hot column) names matching ``coef``.
    size : float
        ``P(g=1)`` (or ``P(g=1, y=·)`` for error kinds): the weight in the disparity.
    rate, overall : float
        The rate inside the subgroup and overall (for the kind's condition).
    disparity : float
        ``size · |rate − overall|``.
    kind : str
    """

    coef: np.ndarray
    intercept: float
    names: list[str]
    size: float
    rate: float
    overall: float
    disparity: float
    kind: str

    def contains(self, protected: Any) -> np.ndarray:
        """Return a boolean mask of the rows of ``protected`` inside the subgroup."""
        Z, names = _design(protected)
        if names != self.names:
            frame = pd.DataFrame(Z, columns=names).reindex(columns=self.names, fill_value=0.0)
            Z = frame.to_numpy()
        return np.asarray(Z @ self.coef + self.intercept > 0)

    def describe(self, top: int = 4) -> str:
        """Return the largest coefficients as text, e.g. ``+0.8 sex_Female −0.5 age``."""
        order = np.argsort(-np.abs(self.coef))[:top]
        terms = " ".join(f"{self.coef[i]:+.2f}·{self.names[i]}" for i in order)
        return f"{terms} {self.intercept:+.2f} > 0"


def _auditor(Z1: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, float]:
    """Return (coef, intercept) of a subgroup with large ``|mean(g·c)|``.

    The regression of ``c`` on ``z`` gives the direction (the paper's oracle); the threshold is
    then chosen exactly along it, one sort and a cumulative sum per sign, instead of at 0.
    """
    beta, *_ = np.linalg.lstsq(Z1, c, rcond=None)
    score = Z1 @ beta
    best: tuple[np.ndarray, float] = (np.zeros(Z1.shape[1] - 1), -1.0)
    best_val, best_size = -np.inf, np.inf
    for sign in (1.0, -1.0):
        s = sign * score
        order = np.argsort(-s, kind="stable")
        ss = s[order]
        cum = np.cumsum(c[order])
        # a cut is only possible between distinct scores
        cut = np.r_[ss[1:] < ss[:-1], True]
        vals = np.where(cut, np.abs(cum), -np.inf)
        k = int(np.argmax(vals))
        # a subgroup and its complement have the same disparity: report the smaller one
        tie = abs(vals[k] - best_val) <= 1e-12 * max(1.0, abs(best_val))
        if (vals[k] > best_val and not tie) or (tie and k + 1 < best_size):
            best_size = k + 1
            tau = (ss[k] + ss[k + 1]) / 2 if k + 1 < ss.shape[0] else ss[k] - 1.0
            best, best_val = (sign * beta[1:], float(sign * beta[0] - tau)), float(vals[k])
    return best


def _evaluate(
    coef: np.ndarray, intercept: float, Z: np.ndarray, p: np.ndarray, y: np.ndarray | None,
    kind: str, names: list[str],
) -> Subgroup:  # fmt: skip
    g = Z @ coef + intercept > 0
    cond = np.ones_like(p, dtype=bool) if kind == "statistical_parity" else (
        y == (0 if kind == "false_positive" else 1))  # fmt: skip
    v = p if kind != "false_negative" else 1.0 - p
    inside = g & cond
    size = float(inside.mean())
    overall = float(v[cond].mean()) if cond.any() else np.nan
    rate = float(v[inside].mean()) if inside.any() else np.nan
    disp = size * abs(rate - overall) if inside.any() else 0.0
    return Subgroup(coef, intercept, names, size, rate, overall, disp, kind)


def find_subgroup(
    y_pred: Any,
    protected: Any,
    *,
    y_true: Any = None,
    kind: str = "statistical_parity",
    pos_label: Any = None,
) -> Subgroup:
    """Find a linear subgroup of the protected attributes with large weighted disparity.

    Parameters
    ----------
    y_pred : array-like, shape (n_rows,)
        Predictions (labels), or probabilities in [0, 1] of a randomized classifier.
    protected : DataFrame, Series or array, shape (n_rows, k)
        Protected attributes; categorical columns are one-hot encoded.
    y_true : array-like, shape (n_rows,), optional
        Needed for ``kind="false_positive"`` / ``"false_negative"``.
    kind : {"statistical_parity", "false_positive", "false_negative"}

    Returns
    -------
    Subgroup
    """
    if kind not in _KINDS:
        raise ConfigError(f"kind must be one of {_KINDS}; got {kind!r}", field="kind")
    raw = as_vector("y_pred", y_pred)
    if raw.dtype.kind == "f" and np.all((raw >= 0) & (raw <= 1)) and pos_label is None:
        p = raw.astype(np.float64)
    else:
        p = as_binary("y_pred", raw, pos_label=pos_label)
    n = p.shape[0]
    y = None if y_true is None else as_binary("y_true", y_true, pos_label=pos_label, n=n)
    Z, names = _design(protected, n)
    Z1 = np.column_stack([np.ones(n), Z])
    coef, intercept = _auditor(Z1, _costs(p, y, kind))
    return _evaluate(coef, intercept, Z, p, y, kind, names)


class SubgroupFairClassifier(MixtureClassifier):
    """Learn a classifier fair to every linear subgroup, by fictitious play (Kearns et al. 2018).

    Parameters
    ----------
    estimator : scikit-learn classifier taking ``sample_weight`` (pipelines included)
    gamma : float, default=0.01
        Allowed weighted disparity ``Δ(g)`` of any subgroup.
    kind : {"statistical_parity", "false_positive", "false_negative"}
    C : float, default=10.0
        The auditor's multiplier on a violated subgroup.
    max_iter : int, default=30
    min_iter : int, default=3

    Attributes
    ----------
    predictors_, weights_ : the uniform mixture of the learner's classifiers
    subgroups_ : list of Subgroup, the auditor's plays
    history_ : DataFrame with ``error`` and ``max_disparity`` of the mixture per round
    deterministic_ : the single classifier with the lowest ``error + C·disparity``
    """

    def __init__(
        self,
        estimator: Any,
        *,
        gamma: float = 0.01,
        kind: str = "statistical_parity",
        C: float = 10.0,
        max_iter: int = 30,
        min_iter: int = 3,
    ) -> None:
        self.estimator = estimator
        self.gamma = gamma
        self.kind = kind
        self.C = C
        self.max_iter = max_iter
        self.min_iter = min_iter

    def fit(self, X: Any, y: Any, *, protected: Any) -> SubgroupFairClassifier:
        """Fit by fictitious play; ``protected`` holds the attributes subgroups are built on."""
        if self.kind not in _KINDS:
            raise ConfigError(f"kind must be one of {_KINDS}; got {self.kind!r}", field="kind")
        if not (isinstance(self.gamma, int | float) and 0 <= self.gamma <= 1):
            raise ConfigError(f"gamma must be in [0, 1]; got {self.gamma!r}", field="gamma")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ConfigError(f"max_iter must be a positive integer; got {self.max_iter!r}",
                              field="max_iter")  # fmt: skip
        check_weightable(self.estimator)
        y01, self.classes_ = _binary_target(y)
        n = y01.shape[0]
        Z, names = _design(protected, n)
        Z1 = np.column_stack([np.ones(n), Z])
        working, warm = warm_clone(self.estimator)
        err_cost = (1.0 - 2.0 * y01) / n
        audit_cost = np.zeros(n)  # running sum of the auditor's plays, as costs on h
        preds: list[np.ndarray] = []
        self.predictors_, self.subgroups_ = [], []
        rows = []
        for t in range(self.max_iter):
            cost = err_cost + self.C * audit_cost / max(len(self.subgroups_), 1)
            label = (cost < 0).astype(np.int64)
            if label.min() == label.max():
                h: Any = ConstantClassifier(int(label[0])).fit(X)
            else:
                fit_weighted(working, X, label, np.abs(cost) * (n / np.abs(cost).sum()))
                h = snapshot(working, warm)
            self.predictors_.append(h)
            preds.append(np.asarray(h.predict(X), dtype=np.float64))
            p_bar = np.mean(preds, axis=0)
            c = _costs(p_bar, y01, self.kind)
            coef, intercept = _auditor(Z1, c)
            sg = _evaluate(coef, intercept, Z, p_bar, y01, self.kind, names)
            rows.append({"error": float(np.mean(np.abs(p_bar - y01))),
                         "max_disparity": sg.disparity})  # fmt: skip
            if sg.disparity <= self.gamma and t + 1 >= self.min_iter:
                break
            if sg.disparity > self.gamma:
                g = (Z @ coef + intercept > 0).astype(np.float64)
                sign = 1.0 if sg.rate > sg.overall else -1.0
                # Δ_g(h) = mean(g·c(h)) is linear in h; its gradient per row is g minus its
                # (conditional) mean over the rows the kind conditions on
                if self.kind == "statistical_parity":
                    grad = g - g.mean()
                else:
                    m = y01 == (0 if self.kind == "false_positive" else 1)
                    grad = np.where(m, g - g[m].mean(), 0.0)
                    if self.kind == "false_negative":
                        grad = -grad
                audit_cost += sign * grad / n
                self.subgroups_.append(sg)
        self.weights_ = np.full(len(self.predictors_), 1.0 / len(self.predictors_))
        self.history_ = pd.DataFrame(rows)
        scores = [np.mean(np.abs(p - y01)) + self.C * _evaluate(
            *_auditor(Z1, _costs(p, y01, self.kind)), Z, p, y01, self.kind, names).disparity
            for p in preds]  # fmt: skip
        self.deterministic_ = self.predictors_[int(np.argmin(scores))]
        return self
