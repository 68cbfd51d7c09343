"""Learn a classifier under output constraints by exponentiated gradient (the reductions approach).

Agarwal, Beygelzimer, Dudík, Langford & Wallach (2018), "A Reductions Approach to Fair
Classification", ICML, Algorithm 1: a zero-sum game between a learner choosing a randomized
classifier ``Q`` and an auditor choosing Lagrange multipliers ``λ`` (``‖λ‖₁ ≤ B``) on the
constraint violations. The auditor plays exponentiated gradient; the learner best-responds with a
cost-sensitive classification, i.e. one weighted ``fit`` of any estimator taking
``sample_weight`` (pipelines included: the weight goes to the last step).

What is done differently from a textbook run, to need fewer and cheaper oracle calls:

- **Multipliers from the restricted LP** (column generation). The auditor's next move is the
  dual solution of the LP that mixes the hypotheses found so far, smoothed toward the best
  multipliers seen (in-out stabilization, Wentges 1997), instead of an exponentiated-gradient
  step; ``dual="eg"`` restores the paper's update.
- **Subsample first.** The early rounds, where the multipliers move far and every best response
  is a fresh fit, run on a stratified share of the rows (``subsample``, 1/8 by default; each
  (group, label) cell keeps its share). Their hypotheses are then evaluated on all rows and
  become columns of the full LP, and the full-data rounds start from the last multipliers the
  subsample phase played, where the oracle is already warm. On UCI Adult this leaves two or
  three full-data fits. BLAS runs single-threaded in the subsample phase: on a few thousand
  rows, threads spin for more CPU time than they save.
- **Warm-started oracle.** Consecutive multipliers are close, so the best responses are too:
  when the estimator (or a pipeline's last step) has ``warm_start``, one working copy is refit
  from the previous solution and a snapshot kept per iteration.
- **No extra oracle call for the stopping rule.** Each best response ``h_t = argmin_h L(h, λ_t)``
  gives a lower bound ``L(h_t, λ_t)`` on the game's value (exact for an exact oracle; a
  surrogate learner such as logistic regression makes it approximate, as in any reductions
  run); the upper bound is the best mixture of the hypotheses found so far, a small linear
  program (HiGHS). The run stops when the two meet within ``nu``.
- **Vectorized moments.** Constraints are ``γ = M h + b`` (see :mod:`.constraints`); costs,
  violations and the LP columns are matrix products, never per-row Python.

The result is the LP's mixture over the hypotheses (``weights_``), used by :meth:`predict`
(randomized) and :meth:`predict_proba`, and the best single hypothesis (``deterministic_``,
:meth:`predict_deterministic`): lowest training error among those meeting the constraints, else
the lowest ``error + B · max violation``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from threadpoolctl import threadpool_limits

from veil.analytics.fairness._estimators import (
    ConstantClassifier,
    check_fitted,
    check_weightable,
    fit_weighted,
    snapshot,
    warm_clone,
)
from veil.analytics.fairness._inputs import as_vector, as_weights, encode_groups
from veil.analytics.fairness.constraints import Constraint, LinearForm
from veil.errors import ConfigError, DataError, EstimationError

__all__ = ["ExponentiatedGradient", "MixtureClassifier", "sensitive_from"]


def sensitive_from(X: Any, sensitive_features: Any) -> Any:
    """Return the sensitive features: given values, or column name(s) looked up in ``X``.

    A string, or a list of strings that are all columns of a DataFrame ``X``, names columns;
    anything else is taken as the values themselves.
    """
    names = [sensitive_features] if isinstance(sensitive_features, str) else sensitive_features
    if isinstance(sensitive_features, str) or (
        isinstance(X, pd.DataFrame)
        and isinstance(names, list | tuple)
        and names
        and all(isinstance(c, str) and c in X.columns for c in names)
    ):
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"sensitive_features={sensitive_features!r} names a column, but X is not a "
                "DataFrame",
                field="sensitive_features",
                hint="pass X as a DataFrame, or pass the sensitive values themselves",
            )
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise DataError(
                f"sensitive feature column(s) {missing} not in X; columns are "
                f"{list(X.columns)[:12]}",
                field="sensitive_features",
            )
        return X[sensitive_features]
    return sensitive_features


def _binary_target(y: Any) -> tuple[np.ndarray, np.ndarray]:
    y_arr = as_vector("y", y)
    classes = np.unique(y_arr)
    if classes.shape[0] != 2:
        raise DataError(
            f"y must have exactly two classes; got {classes.shape[0]}: {classes[:5].tolist()}",
            field="y",
            hint="fair classification here is binary; recode the target",
        )
    return (y_arr == classes[1]).astype(np.float64), classes


class MixtureClassifier(ClassifierMixin, BaseEstimator):
    """A randomized classifier: hypothesis ``j`` is used with probability ``weights_[j]``.

    Shared by :class:`ExponentiatedGradient` and the subgroup-fair learner. ``predict_proba``
    gives the probability that the randomized classifier says the positive class.
    """

    predictors_: list[Any]
    weights_: np.ndarray
    classes_: np.ndarray

    def _hypothesis_predictions(self, X: Any) -> np.ndarray:
        check_fitted(self, "weights_")
        used = np.flatnonzero(self.weights_ > 0)
        H = np.zeros((len(X), used.shape[0]))
        for col, j in enumerate(used):
            H[:, col] = np.asarray(self.predictors_[j].predict(X), dtype=np.float64)
        return H @ self.weights_[used]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``P(ŷ = class)`` under the randomization, shape (n_rows, 2)."""
        p = np.clip(self._hypothesis_predictions(X), 0.0, 1.0)
        return np.column_stack([1 - p, p])

    def predict(self, X: Any, random_state: int | np.random.Generator | None = None) -> np.ndarray:
        """Return randomized predictions (pass ``random_state`` to reproduce them)."""
        p = self.predict_proba(X)[:, 1]
        draw = np.random.default_rng(random_state).random(p.shape[0]) < p
        return self.classes_[draw.astype(np.int64)]

    def predict_deterministic(self, X: Any) -> np.ndarray:
        """Return the predictions of the best single hypothesis (``deterministic_``)."""
        check_fitted(self, "deterministic_")
        out = np.asarray(self.deterministic_.predict(X)).astype(np.int64)
        return self.classes_[out]


class ExponentiatedGradient(MixtureClassifier):
    """Learn a randomized classifier that meets an output constraint, by the reductions approach.

    Parameters
    ----------
    estimator : scikit-learn classifier
        Any estimator (or Pipeline) whose ``fit`` takes ``sample_weight`` and that predicts 0/1;
        cloned, never modified.
    constraint : Constraint
        E.g. ``DemographicParity(difference_bound=0.01)``; see :mod:`.constraints`.
    max_iter : int, default=50
        Most rounds (one oracle call each) in each phase.
    nu : float, optional
        Stop when the duality gap is below this; default ``0.5·std(|h₀ − y|)/√n`` (fairlearn's
        choice, a fraction of the error's standard error).
    eta0 : float, default=2.0
        With ``dual="eg"``: initial step ``eta0 / B``, halved when the gap stalls.
    warm_start : bool, default=True
        Refit one working copy from the previous solution when the estimator supports it.
    min_iter : int, default=1
        Full-data rounds before the stopping rule is consulted.
    dual : {"lp", "eg"}, default="lp"
        Where the next multipliers come from: the restricted LP's duals (see module
        docstring) or the paper's exponentiated-gradient update.
    B : float, optional
        Bound on ``‖λ‖₁``; default ``1 / difference_bound`` (as fairlearn), 100 for
        :class:`BoundedGroupLoss`.
    subsample : float in (0, 1] or None, default=0.125
        Share of the rows (stratified by group and label) on which the multipliers are first
        searched for (``dual="lp"`` only; see module docstring). Skipped when that share would
        be under 2,000 rows or over half the data; ``None`` never subsamples.
    random_state : int or None, default=0
        Seed of the subsample (public randomness).

    Attributes
    ----------
    predictors_ : list of fitted estimators, one per oracle call
    weights_ : ndarray, shape (n_predictors,)
        Mixture weights (sum to one).
    deterministic_ : fitted estimator
        Best single hypothesis (see module docstring).
    history_ : DataFrame
        Per round: ``phase`` (``"subsample"`` or ``"full"``), ``rows``, ``error``,
        ``max_violation``, ``lower``, ``upper``, ``gap``, ``oracle_s`` (CPU seconds).
    n_oracle_calls_ : int
        Oracle fits in both phases.
    classes_ : ndarray, shape (2,)

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from veil import datasets
    >>> from veil.analytics.fairness import DemographicParity, ExponentiatedGradient
    >>> df = datasets.load("german_credit")
    >>> X = df[["duration", "credit_amount", "age"]] / [72, 18424, 75]
    >>> eg = ExponentiatedGradient(LogisticRegression(), constraint=DemographicParity())
    >>> eg = eg.fit(X, df["risk"], sensitive_features=df["sex"])
    >>> eg.predict_proba(X).shape
    (1000, 2)
    """

    def __init__(
        self,
        estimator: Any,
        *,
        constraint: Constraint,
        max_iter: int = 50,
        nu: float | None = None,
        eta0: float = 2.0,
        warm_start: bool = True,
        min_iter: int = 1,
        dual: str = "lp",
        B: float | None = None,
        subsample: float | None = 0.125,
        random_state: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.constraint = constraint
        self.max_iter = max_iter
        self.nu = nu
        self.eta0 = eta0
        self.warm_start = warm_start
        self.min_iter = min_iter
        self.dual = dual
        self.B = B
        self.subsample = subsample
        self.random_state = random_state

    def _validate(self) -> None:
        if not isinstance(self.constraint, Constraint):
            raise ConfigError(
                f"constraint must be a veil Constraint (e.g. DemographicParity()); "
                f"got {type(self.constraint).__name__}",
                field="constraint",
            )
        if self.constraint.tolerance <= 0 and self.constraint.disparity != "error_rate_parity":
            raise ConfigError(
                "a tolerance of 0 makes B = 1/tolerance infinite",
                field="difference_bound",
                hint="use a small positive tolerance such as 0.005",
            )
        sub = self.subsample
        for name, ok in (
            ("max_iter", isinstance(self.max_iter, int) and self.max_iter >= 1),
            ("min_iter", isinstance(self.min_iter, int) and self.min_iter >= 1),
            ("eta0", isinstance(self.eta0, int | float) and self.eta0 > 0),
            ("nu", self.nu is None or (isinstance(self.nu, int | float) and self.nu > 0)),
            ("dual", self.dual in ("lp", "eg")),
            ("B", self.B is None or (isinstance(self.B, int | float) and self.B > 0)),
            ("subsample", sub is None or (isinstance(sub, int | float) and 0 < sub <= 1)),
            ("random_state", self.random_state is None or isinstance(self.random_state, int)),
        ):
            if not ok:
                raise ConfigError(
                    f"the {name!r} parameter of ExponentiatedGradient is invalid: "
                    f"{getattr(self, name)!r}",
                    field=name,
                    hint="max_iter/min_iter positive integers, eta0 and nu positive numbers, "
                    "subsample a share in (0, 1] or None",
                )
        check_weightable(self.estimator)

    def fit(
        self, X: Any, y: Any, *, sensitive_features: Any, sample_weight: Any = None
    ) -> ExponentiatedGradient:
        """Fit the constrained classifier; return self.

        Parameters
        ----------
        X : array-like or DataFrame, shape (n_rows, n_features)
            Passed to the estimator unchanged (row subsets of it in the subsample phase).
        y : array-like, shape (n_rows,)
            Two classes; the larger (sorted) is the positive one.
        sensitive_features : array-like, DataFrame, or column name(s) of ``X``
            Groups are the intersections of the given attributes.
        sample_weight : array-like, shape (n_rows,), optional
        """
        self._validate()
        y01, self.classes_ = _binary_target(y)
        n = y01.shape[0]
        groups = encode_groups(sensitive_from(X, sensitive_features), n)
        w = as_weights(sample_weight, n)
        w = np.ones(n) / n if w is None else w / w.sum()
        form = self.constraint.linear_form(y01, groups.codes, groups.keys, w)
        B = self._bound(form)
        oracle = _Oracle(self.estimator, self.warm_start)
        import os

        self._radius = float(os.environ.get("VEIL_RADIUS", "0"))
        lam0 = np.zeros(form.b.shape[0] * (2 if form.two_sided else 1))
        seeds: list[Any] = []
        rows: list[dict[str, Any]] = []
        idx = self._explore_rows(y01, groups.codes)
        if idx is not None:
            ws = w[idx] / w[idx].sum()
            sub_form = self.constraint.linear_form(y01[idx], groups.codes[idx], groups.keys, ws)
            sub = _Game(_take(X, idx), y01[idx], ws, sub_form, oracle)
            # BLAS threads on a few thousand rows cost more CPU (spinning) than they save
            with threadpool_limits(limits=1, user_api="blas"):
                _, lam_sub, _ = self._solve(
                    sub, B, np.zeros(sub.n_violations), None, "subsample", rows, n
                )
            lam0 = _transfer(lam_sub, sub_form, form)
            seeds = sub.predictors
        game = _Game(X, y01, w, form, oracle)
        for h in seeds:  # the subsample's hypotheses are columns of the full LP too
            game.add(h, np.asarray(h.predict(X), dtype=np.float64))
        weights, _, self.nu_ = self._solve(game, B, lam0, self.nu, "full", rows, n)
        self.predictors_ = game.predictors
        self.weights_ = weights
        self.history_ = pd.DataFrame(rows)
        self.n_oracle_calls_ = len(oracle.seconds)
        self.deterministic_ = game.predictors[game.best_single(B)]
        self.bound_ = B
        return self

    def _bound(self, form: LinearForm) -> float:
        if self.B is not None:
            return float(self.B)
        return 1.0 / max(form.bound, 1e-3) if form.two_sided else 100.0

    def _explore_rows(self, y: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
        """Return the rows of the subsample phase (stratified by group and label), or None."""
        n = y.shape[0]
        share = self.subsample
        if share is None or self.dual != "lp" or not _MIN_EXPLORE_ROWS <= share * n <= n / 2:
            return None
        rng = np.random.default_rng(self.random_state)
        stratum = codes * 2 + y.astype(np.int64)
        picked = []
        for s in np.unique(stratum):
            members = np.flatnonzero(stratum == s)
            take = min(members.shape[0], max(int(np.ceil(share * members.shape[0])), 30))
            picked.append(rng.choice(members, size=take, replace=False))
        return np.sort(np.concatenate(picked))

    def _solve(
        self,
        game: _Game,
        B: float,
        lam: np.ndarray,
        nu: float | None,
        phase: str,
        rows: list[dict[str, Any]],
        n_rows: int,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Play the game from multipliers ``lam``; return mixture weights, last λ and ``nu``.

        The default ``nu`` uses ``n_rows`` (the full data's), also in the subsample phase.
        """
        theta = np.zeros(game.n_violations)
        eta = self.eta0 / B
        cap = 0.25
        center, center_lower = lam, -np.inf
        lower, best_gap, last_check, last_gap = -np.inf, np.inf, 5, np.inf
        min_iter = self.min_iter if phase == "full" else 1
        for t in range(self.max_iter):
            j = game.best_response(lam)
            if nu is None:  # from the first hypothesis: the unconstrained fit
                err_rows = np.abs(game.H[:, 0] - game.y)
                nu = _NU_SHARE * float(np.std(err_rows)) / np.sqrt(n_rows) + 1e-7
            viol = game.V[:, j]
            here = game.err[j] + float(lam @ viol)  # the dual function at lam (a lower bound)
            if here > center_lower:
                center, center_lower = lam, here
            lower = max(lower, here)
            weights, upper, lam_lp = game.best_mixture(B)
            gap = upper - lower
            rows.append(
                {
                    "phase": phase,
                    "rows": game.n,
                    "error": game.err[j],
                    "max_violation": float(viol.max()),
                    "lower": lower,
                    "upper": upper,
                    "gap": gap,
                    "oracle_s": game.oracle.seconds[-1],
                }
            )
            if t + 1 >= min_iter and gap <= nu:
                lam_lp = lam  # hand on the last multipliers played (the oracle is warm there)
                break
            if self.dual == "lp":
                # The restricted LP's multipliers. While no mixture of the hypotheses found meets
                # the constraints, they sit at the bound B (far beyond the trade-off's slope);
                # keep their direction and grow their size from 1 by doubling instead.
                if lam_lp.sum() >= B * (1 - 1e-9):
                    lam = lam_lp * (cap / B)
                    cap = min(2.0 * cap, B)
                else:  # in-out smoothing toward the best multipliers so far (Wentges 1997)
                    lam = 0.5 * center + 0.5 * lam_lp
                continue
            best_gap = min(best_gap, gap)
            if t >= last_check * 1.6:  # the gap stalls: take smaller steps
                if best_gap > 0.9 * last_gap:
                    eta *= 0.5
                last_check, last_gap = t, best_gap
            theta += eta * viol
            lam = B * np.exp(theta) / (1.0 + np.exp(theta).sum())
        assert nu is not None
        return weights, lam_lp, nu


#: Default ``nu`` as a share of the error's standard error (fairlearn uses 0.5).
_NU_SHARE = 0.5

#: Fewest rows worth a subsample phase (below, full-data oracle calls are cheap anyway).
_MIN_EXPLORE_ROWS = 2000


def _take(X: Any, idx: np.ndarray) -> Any:
    """Return rows ``idx`` of a DataFrame, array, sparse matrix or list."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if hasattr(X, "shape"):
        return X[idx]
    return np.asarray(X)[idx]


def _transfer(lam: np.ndarray, source: LinearForm, target: LinearForm) -> np.ndarray:
    """Carry multipliers between linear forms, matching their constraint labels."""
    k_src, k_tgt = source.b.shape[0], target.b.shape[0]
    sides = 2 if target.two_sided else 1
    out = np.zeros(k_tgt * sides)
    where = {label: i for i, label in enumerate(source.labels)}
    for i, label in enumerate(target.labels):
        if label in where:
            for side in range(sides):
                out[side * k_tgt + i] = lam[side * k_src + where[label]]
    return out


class _Oracle:
    """The cost-sensitive classification oracle: one working estimator shared by both phases."""

    def __init__(self, estimator: Any, warm_start: bool) -> None:
        if warm_start:
            self.working, self.warm = warm_clone(estimator)
        else:
            self.working, self.warm = clone(estimator), False
        self.seconds: list[float] = []

    def fit(self, X: Any, label: np.ndarray, weight: np.ndarray) -> Any:
        """Return a fitted hypothesis for 0/1 ``label`` with ``weight`` (CPU time recorded)."""
        start = time.process_time()
        if label.min() == label.max() or weight.sum() <= 0:
            h: Any = ConstantClassifier(int(label[0])).fit(X)
        else:
            est = self.working if self.warm else clone(self.working)
            fit_weighted(est, X, label, weight * (label.shape[0] / weight.sum()))
            h = snapshot(est, self.warm)
        self.seconds.append(time.process_time() - start)
        return h


class _Game:
    """The Lagrangian game's state: hypotheses found, their errors and violations (vectorized)."""

    def __init__(
        self, X: Any, y: np.ndarray, w: np.ndarray, form: LinearForm, oracle: _Oracle
    ) -> None:
        self.X, self.y, self.w, self.form, self.n = X, y, w, form, y.shape[0]
        self.oracle = oracle
        self.err_cost = w * (1.0 - 2.0 * y)  # err(h) = w·y + err_cost·h
        self.err0 = float(w @ y)
        self.predictors: list[Any] = []
        self.H = np.zeros((self.n, 0))
        self.err = np.zeros(0)
        self.V = np.zeros((self.n_violations, 0))

    @property
    def n_violations(self) -> int:
        return self.form.b.shape[0] * (2 if self.form.two_sided else 1)

    def add(self, h: Any, pred: np.ndarray) -> int:
        self.predictors.append(h)
        self.H = np.column_stack([self.H, pred])
        self.err = np.append(self.err, self.err0 + self.err_cost @ pred)
        gamma = self.form.gamma(pred)
        self.V = np.column_stack([self.V, self.form.violations(gamma)])
        return len(self.predictors) - 1

    def best_response(self, lam: np.ndarray) -> int:
        """Fit the cost-sensitive classification for multipliers ``lam``; return its index."""
        cost = self.err_cost + self.form.M.T @ self.form.multiplier(lam)  # cost(1) − cost(0)
        h = self.oracle.fit(self.X, (cost < 0).astype(np.int64), np.abs(cost))
        start = time.process_time()
        pred = np.asarray(h.predict(self.X), dtype=np.float64)
        self.oracle.seconds[-1] += time.process_time() - start
        return self.add(h, pred)

    def best_mixture(self, B: float) -> tuple[np.ndarray, float, np.ndarray]:
        """Return LP weights minimizing ``error + B · max(0, max violation)``, value, duals.

        The duals are the multipliers ``λ ≥ 0`` (``Σλ ≤ B``) of the violation rows: the
        auditor's best reply restricted to the hypotheses found so far.
        """
        T = self.err.shape[0]
        c = np.append(self.err, B)
        A_ub = np.hstack([self.V, -np.ones((self.V.shape[0], 1))])
        A_eq = np.append(np.ones(T), 0.0)[None, :]
        res = linprog(
            c, A_ub=A_ub, b_ub=np.zeros(self.V.shape[0]), A_eq=A_eq, b_eq=[1.0],
            bounds=(0, None), method="highs",
        )  # fmt: skip
        if res.status != 0:  # pragma: no cover - the LP is always feasible (slack)
            raise EstimationError(
                f"the mixture LP failed: {res.message}",
                hint="report this with the data shape and constraint",
            )
        q = np.clip(res.x[:T], 0.0, None)
        lam = np.clip(-np.asarray(res.ineqlin.marginals), 0.0, None)
        return q / q.sum(), float(res.fun), lam

    def best_single(self, B: float) -> int:
        worst = self.V.max(axis=0)
        feasible = np.flatnonzero(worst <= 1e-12)
        if feasible.size:
            return int(feasible[np.argmin(self.err[feasible])])
        return int(np.argmin(self.err + B * np.maximum(worst, 0.0)))
