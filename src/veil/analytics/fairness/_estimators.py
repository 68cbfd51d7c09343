"""Helpers around user estimators: weighted fitting (pipelines included), warm starts, constants."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline

from veil.errors import ConfigError, NotFittedError

__all__ = ["ConstantClassifier", "check_fitted", "fit_weighted", "positive_score", "warm_clone"]


def _last_step(est: Any) -> tuple[Any, str]:
    """Return the estimator that finally receives the weights and the routed parameter name."""
    key = "sample_weight"
    prefix: list[str] = []
    while isinstance(est, Pipeline):
        name, est = est.steps[-1]
        prefix.append(name)
    return est, "__".join([*prefix, key])


def fit_weighted(est: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray) -> Any:
    """Fit ``est`` on ``(X, y)`` with ``sample_weight`` routed to the step that uses it.

    A :class:`~sklearn.pipeline.Pipeline` (nested ones too) gets ``<last>__sample_weight``, the
    spelling pipelines understand without metadata routing; with routing enabled, the weight is
    passed as ``sample_weight`` and the pipeline routes it as the user requested.
    """
    import sklearn

    if isinstance(est, Pipeline) and not sklearn.get_config().get("enable_metadata_routing"):
        _, key = _last_step(est)
        return est.fit(X, y, **{key: sample_weight})
    return est.fit(X, y, sample_weight=sample_weight)


def check_weightable(est: Any) -> None:
    """Raise ConfigError if the estimator (or a pipeline's last step) takes no sample_weight."""
    from sklearn.utils.validation import has_fit_parameter

    last, _ = _last_step(est)
    if not hasattr(last, "fit") or not has_fit_parameter(last, "sample_weight"):
        raise ConfigError(
            f"estimator {type(last).__name__} does not accept fit(X, y, sample_weight=...)",
            field="estimator",
            hint="use an estimator whose fit takes sample_weight (e.g. LogisticRegression)",
        )


def warm_clone(est: Any) -> tuple[Any, bool]:
    """Return an unfitted clone, with ``warm_start=True`` on the final step when it has one."""
    working = clone(est)
    last, _ = _last_step(working)
    if "warm_start" in last.get_params(deep=False):
        last.set_params(warm_start=True)
        return working, True
    return working, False


def snapshot(est: Any, warm: bool) -> Any:
    """Return a frozen copy of a fitted working estimator (a copy only when it will be refit)."""
    return copy.deepcopy(est) if warm else est


def positive_score(est: Any, X: Any) -> np.ndarray:
    """Return a score for the positive class: ``predict_proba[:, 1]``, else the decision function."""
    if hasattr(est, "predict_proba"):
        proba = np.asarray(est.predict_proba(X))
        return proba[:, -1] if proba.ndim == 2 else proba
    if hasattr(est, "decision_function"):
        return np.asarray(est.decision_function(X), dtype=np.float64)
    return np.asarray(est.predict(X), dtype=np.float64)


class ConstantClassifier(ClassifierMixin, BaseEstimator):
    """Predict one label for every row (the oracle's answer when all costs favour one label)."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> ConstantClassifier:
        """Do nothing; the constant is the parameter."""
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Return the constant for each row of ``X``."""
        return np.full(len(X), self.value, dtype=np.int64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return probability 1 for the constant label."""
        p = np.full(len(X), float(self.value))
        return np.column_stack([1 - p, p])


def check_fitted(obj: Any, attr: str) -> None:
    """Raise NotFittedError saying 'call fit' when ``attr`` is missing."""
    if not hasattr(obj, attr):
        raise NotFittedError(
            f"this {type(obj).__name__} is not fitted yet; call fit(X, y, ...) first",
            hint="fit the estimator before predict, predict_proba or plot",
        )
