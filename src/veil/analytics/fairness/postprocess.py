"""Post-process a scorer with group-specific (randomized) thresholds (Hardt, Price & Srebro 2016).

For each group, every threshold ``s ≥ τ`` on the score is a point of a curve: (selection rate,
accuracy) for demographic parity, (TPR, −FPR) for equal opportunity, the ROC curve (FPR, TPR)
for equalized odds. Randomizing between two thresholds reaches any point of the segment between
them, so each group can reach its curve's upper concave hull. The constraint asks the groups to
sit at a common ``x`` (within ``tolerance``); the best common ``x`` maximizes overall accuracy,
found on a grid of ``grid_size`` points. For equalized odds the common point ``(x, y)`` must lie
under every group's ROC hull; a group whose hull is higher mixes its hull point with a coin of
bias ``x`` (the diagonal), as in Hardt et al., §4.

Grouping uses the sensitive features at prediction time too: the thresholds are per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from veil.analytics.fairness._estimators import check_fitted, fit_weighted, positive_score
from veil.analytics.fairness._inputs import as_weights, encode_groups
from veil.analytics.fairness.reductions import _binary_target, sensitive_from
from veil.errors import ConfigError, DataError

__all__ = ["ThresholdOptimizer"]

_CONSTRAINTS = ("demographic_parity", "equal_opportunity", "equalized_odds")


@dataclass(frozen=True)
class _Rule:
    """A group's randomized threshold rule: with prob ``alpha`` threshold ``t_lo`` w.p. ``p``
    else ``t_hi``; with prob ``1 − alpha`` a coin of bias ``coin``."""

    t_lo: float
    t_hi: float
    p: float
    alpha: float = 1.0
    coin: float = 0.0

    def proba(self, s: np.ndarray) -> np.ndarray:
        hull = self.p * (s >= self.t_lo) + (1 - self.p) * (s >= self.t_hi)
        return self.alpha * hull + (1 - self.alpha) * self.coin


def _curve(s: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Return thresholds (descending, ``inf`` first) and weighted fp, tp, totals per threshold."""
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    last = np.r_[s[1:] != s[:-1], True]  # end of each block of equal scores
    tp = np.r_[0.0, np.cumsum(w * y)[last]]
    fp = np.r_[0.0, np.cumsum(w * (1 - y))[last]]
    tau = np.r_[np.inf, s[last]]
    return {"tau": tau, "tp": tp, "fp": fp, "pos": tp[-1], "neg": fp[-1]}


def _upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return indices of the upper concave hull of points sorted by ``x`` (monotone chain)."""
    hull: list[int] = []
    for i in range(x.shape[0]):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.asarray(hull)


class _GroupCurve:
    """One group's hull in the constraint's (x, y) plane, with the thresholds behind it."""

    def __init__(self, c: dict[str, np.ndarray], constraint: str) -> None:
        pos, neg = max(c["pos"], 1e-300), max(c["neg"], 1e-300)
        n = c["pos"] + c["neg"]
        if constraint == "demographic_parity":
            x, y = (c["tp"] + c["fp"]) / n, (c["tp"] - c["fp"]) / n
        elif constraint == "equal_opportunity":
            x, y = c["tp"] / pos, -c["fp"] / neg
        else:
            x, y = c["fp"] / neg, c["tp"] / pos
        # x is non-decreasing along descending thresholds; keep the best y per x, then the hull
        order = np.lexsort((-y, x))
        first = order[np.r_[True, x[order][1:] != x[order][:-1]]]
        x, y, tau = x[first], y[first], c["tau"][first]
        idx = _upper_hull(x, y)
        self.x, self.y, self.tau = x[idx], y[idx], tau[idx]
        self.pos, self.neg, self.n = c["pos"], c["neg"], n

    def value(self, grid: np.ndarray) -> np.ndarray:
        return np.interp(grid, self.x, self.y, left=-np.inf, right=-np.inf)

    def rule(self, x: float, y_target: float | None = None) -> _Rule:
        k = int(np.clip(np.searchsorted(self.x, x, side="right") - 1, 0, len(self.x) - 1))
        if k == len(self.x) - 1 or self.x[k + 1] == self.x[k]:
            base = _Rule(self.tau[k], self.tau[k], 1.0)
            y_hull = self.y[k]
        else:
            p = (self.x[k + 1] - x) / (self.x[k + 1] - self.x[k])
            base = _Rule(self.tau[k], self.tau[k + 1], float(p))
            y_hull = p * self.y[k] + (1 - p) * self.y[k + 1]
        if y_target is None or y_hull - x <= 1e-12 or y_target >= y_hull:
            return base
        alpha = float(np.clip((y_target - x) / (y_hull - x), 0.0, 1.0))
        return _Rule(base.t_lo, base.t_hi, base.p, alpha, float(x))


class ThresholdOptimizer(ClassifierMixin, BaseEstimator):
    """Choose group-specific randomized thresholds on a score to meet a constraint.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Gives the score (``predict_proba[:, 1]``, else ``decision_function``).
    constraint : {"demographic_parity", "equal_opportunity", "equalized_odds"}
    tolerance : float, default=0.0
        Largest allowed difference between groups in the constrained rate(s) (on the training
        data). For equalized odds only 0 is supported.
    prefit : bool, default=False
        Use the estimator as already fitted instead of fitting it.
    grid_size : int, default=1000
        Candidate common rates on [0, 1].

    Attributes
    ----------
    rules_ : dict of group key to rule
    common_ : float
        The common rate chosen (selection rate, TPR or FPR).
    estimator_ : fitted estimator
    classes_ : ndarray, shape (2,)

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from veil import datasets
    >>> df = datasets.load("german_credit")
    >>> X = df[["duration", "credit_amount", "age"]] / [72, 18424, 75]
    >>> to = ThresholdOptimizer(LogisticRegression(), constraint="demographic_parity")
    >>> to = to.fit(X, df["risk"], sensitive_features=df["sex"])
    >>> sorted(to.rules_)
    ['female', 'male']
    """

    def __init__(
        self,
        estimator: Any,
        *,
        constraint: str = "demographic_parity",
        tolerance: float = 0.0,
        prefit: bool = False,
        grid_size: int = 1000,
    ) -> None:
        self.estimator = estimator
        self.constraint = constraint
        self.tolerance = tolerance
        self.prefit = prefit
        self.grid_size = grid_size

    def _validate(self) -> None:
        if self.constraint not in _CONSTRAINTS:
            raise ConfigError(
                f"constraint must be one of {_CONSTRAINTS}; got {self.constraint!r}",
                field="constraint",
                hint="for bounded group loss or error-rate parity use ExponentiatedGradient",
            )
        if not isinstance(self.tolerance, int | float) or not 0 <= self.tolerance <= 1:
            raise ConfigError(
                f"tolerance must be a number in [0, 1]; got {self.tolerance!r}", field="tolerance"
            )
        if self.constraint == "equalized_odds" and self.tolerance != 0:
            raise ConfigError(
                "ThresholdOptimizer supports equalized odds with tolerance 0 only; "
                f"got {self.tolerance!r}",
                field="tolerance",
                hint="use ExponentiatedGradient(EqualizedOdds(difference_bound=...)) for slack",
            )
        if not isinstance(self.grid_size, int) or self.grid_size < 10:
            raise ConfigError(
                f"grid_size must be an integer >= 10; got {self.grid_size!r}", field="grid_size"
            )

    def fit(
        self, X: Any, y: Any, *, sensitive_features: Any, sample_weight: Any = None
    ) -> ThresholdOptimizer:
        """Fit the scorer (unless ``prefit``) and choose the thresholds; return self."""
        self._validate()
        y01, self.classes_ = _binary_target(y)
        n = y01.shape[0]
        sens = sensitive_from(X, sensitive_features)
        groups = encode_groups(sens, n)
        w = as_weights(sample_weight, n)
        if self.prefit:
            self.estimator_ = self.estimator
        else:
            est = clone(self.estimator)
            if w is None:
                est.fit(X, y01.astype(np.int64))
            else:
                fit_weighted(est, X, y01.astype(np.int64), w)
            self.estimator_ = est
        s = positive_score(self.estimator_, X)
        ww = np.ones(n) if w is None else w
        curves = {}
        for g, key in enumerate(groups.keys):
            m = groups.codes == g
            curves[key] = _GroupCurve(_curve(s[m], y01[m], ww[m]), self.constraint)
        self._choose(curves, ww.sum())
        self.attributes_ = list(groups.names)
        return self

    def _choose(self, curves: dict[str, _GroupCurve], total: float) -> None:
        grid = np.linspace(0.0, 1.0, self.grid_size)
        step = grid[1] - grid[0]
        half = int(np.floor(self.tolerance / 2 / step + 1e-9))
        values = {}
        for key, c in curves.items():
            if self.constraint == "demographic_parity":
                v = c.n * c.value(grid)  # weighted (tp − fp) at each selection rate
            elif self.constraint == "equal_opportunity":
                v = c.pos * grid + c.neg * c.value(grid)  # tp − fp with tpr = grid
            else:
                v = c.value(grid)  # hull TPR at each FPR
            values[key] = v
        if self.constraint == "equalized_odds":
            top = np.min(np.vstack(list(values.values())), axis=0)
            objective = sum(c.pos * top - c.neg * grid for c in curves.values())
            best = int(np.argmax(objective))
            self.common_ = float(grid[best])
            self.rules_ = {k: c.rule(grid[best], float(top[best])) for k, c in curves.items()}
            return
        size = 2 * half + 1
        windowed = {
            k: maximum_filter1d(np.where(np.isfinite(v), v, -1e300), size=size, mode="nearest")
            for k, v in values.items()
        }
        objective = sum(windowed.values())
        best = int(np.argmax(objective))
        self.common_ = float(grid[best])
        lo, hi = max(best - half, 0), min(best + half, len(grid) - 1)
        self.rules_ = {}
        for k, c in curves.items():
            pick = lo + int(np.argmax(values[k][lo : hi + 1]))
            self.rules_[k] = c.rule(grid[pick])

    def _proba(self, X: Any, sensitive_features: Any) -> np.ndarray:
        check_fitted(self, "rules_")
        s = positive_score(self.estimator_, X)
        groups = encode_groups(sensitive_from(X, sensitive_features), s.shape[0])
        unknown = sorted(set(groups.keys) - set(self.rules_))
        if unknown:
            raise DataError(
                f"groups {unknown[:5]} were not seen in fit; thresholds exist for "
                f"{sorted(self.rules_)[:8]}",
                field="sensitive_features",
                hint="refit with data that contains every group",
            )
        out = np.empty(s.shape[0])
        for code, key in enumerate(groups.keys):
            m = groups.codes == code
            out[m] = self.rules_[key].proba(s[m])
        return out

    def predict_proba(self, X: Any, *, sensitive_features: Any) -> np.ndarray:
        """Return the probability that the randomized rule predicts each class, (n_rows, 2)."""
        p = self._proba(X, sensitive_features)
        return np.column_stack([1 - p, p])

    def predict(
        self,
        X: Any,
        *,
        sensitive_features: Any,
        random_state: int | np.random.Generator | None = None,
    ) -> np.ndarray:
        """Return randomized predictions (pass ``random_state`` to reproduce them)."""
        p = self._proba(X, sensitive_features)
        draw = np.random.default_rng(random_state).random(p.shape[0]) < p
        return self.classes_[draw.astype(np.int64)]
