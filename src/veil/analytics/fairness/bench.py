"""Benchmark of fair learning on UCI Adult: accuracy, disparities and CPU seconds per method.

Setup (the one behind the figures in issue 8): Adult train and test splits pooled, complete
cases only (45,222 rows), 70/30 split with a fixed seed (13,567 test rows), label ``income >
50K``, sensitive attribute ``sex``, features one-hot encoded (sex included) and standardized on
the training part, base learner ``LogisticRegression(max_iter=1000)``. CPU time is
``time.process_time`` of the fit (all threads of this process).

Randomized classifiers (reductions, thresholds) are scored by the mean over
:data:`N_DRAWS` seeded draws of their predictions, which estimates the expected accuracy and
gaps to about ±0.0002 instead of the ±0.001 of one draw; a deterministic one is unchanged.

BLAS threads: every method runs under the same setting. By default the libraries choose
(OpenBLAS uses every core); ``blas_threads=1`` runs everything single-threaded, which on a
loaded machine removes the CPU time threads spend spinning and compares the algorithms alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from veil import datasets
from veil.analytics.fairness.constraints import DemographicParity, EqualizedOdds
from veil.analytics.fairness.metrics import confusion_by_group, disparity
from veil.analytics.fairness.postprocess import ThresholdOptimizer
from veil.analytics.fairness.reductions import ExponentiatedGradient
from veil.errors import ConfigError

__all__ = ["N_DRAWS", "adult_split", "run_bench"]


def adult_split(seed: int = 0, test_size: float = 0.3) -> dict[str, Any]:
    """Return standardized one-hot Adult features, labels and sex, split 70/30 with ``seed``."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    df = pd.concat([datasets.load("adult"), datasets.load("adult_test")], ignore_index=True)
    df = df.dropna().reset_index(drop=True)
    y = df["income"].str.startswith(">50K").astype(int).to_numpy()
    sex = df["sex"].to_numpy()
    X = pd.get_dummies(df.drop(columns=["income"]), dtype=float)
    Xtr, Xte, ytr, yte, str_, ste = train_test_split(
        X, y, sex, test_size=test_size, random_state=seed
    )
    scaler = StandardScaler().fit(Xtr)
    return {
        "X_train": scaler.transform(Xtr),
        "X_test": scaler.transform(Xte),
        "y_train": ytr,
        "y_test": yte,
        "sex_train": str_,
        "sex_test": ste,
    }


#: Seeded prediction draws averaged per randomized classifier.
N_DRAWS = 25


def _scores(
    y: np.ndarray, predict: Callable[[Any, int], Any], X: Any, sex: np.ndarray
) -> dict[str, float]:
    """Return accuracy and gaps averaged over :data:`N_DRAWS` seeded draws of ``predict(X)``."""
    codes = np.unique(sex, return_inverse=True)[1]
    table = np.zeros((int(codes.max()) + 1, 2, 2))
    correct = 0.0
    for seed in range(N_DRAWS):
        pred = np.asarray(predict(X, seed))
        table += confusion_by_group(y, pred, codes, table.shape[0])
        correct += float(np.mean(y == pred))
    return {
        "accuracy": correct / N_DRAWS,
        "dp_gap": float(disparity(table, "demographic_parity")),
        "eo_gap": float(disparity(table, "equalized_odds")),
    }


def _methods(tolerance: float, with_fairlearn: bool) -> dict[str, Callable[[dict[str, Any]], Any]]:
    from sklearn.linear_model import LogisticRegression

    def base() -> LogisticRegression:
        return LogisticRegression(max_iter=1000)

    def unconstrained(d: dict[str, Any]) -> Any:
        m = base().fit(d["X_train"], d["y_train"])
        return lambda X, seed: m.predict(X)

    def eg(constraint: Any) -> Callable[[dict[str, Any]], Any]:
        def run(d: dict[str, Any]) -> Any:
            m = ExponentiatedGradient(base(), constraint=constraint)
            m.fit(d["X_train"], d["y_train"], sensitive_features=d["sex_train"])
            return lambda X, seed: m.predict(X, random_state=seed)

        return run

    def thresholds(name: str) -> Callable[[dict[str, Any]], Any]:
        def run(d: dict[str, Any]) -> Any:
            m = ThresholdOptimizer(base(), constraint=name, tolerance=0.0)
            m.fit(d["X_train"], d["y_train"], sensitive_features=d["sex_train"])
            return lambda X, seed: m.predict(X, sensitive_features=d["sex_test"], random_state=seed)

        return run

    methods: dict[str, Callable[[dict[str, Any]], Any]] = {
        "unconstrained": unconstrained,
        "eg_demographic_parity": eg(DemographicParity(difference_bound=tolerance)),
        "eg_equalized_odds": eg(EqualizedOdds(difference_bound=tolerance)),
        "thresholds_demographic_parity": thresholds("demographic_parity"),
        "thresholds_equalized_odds": thresholds("equalized_odds"),
    }
    if with_fairlearn:
        from fairlearn import reductions as flr

        def fl(constraint: Any) -> Callable[[dict[str, Any]], Any]:
            def run(d: dict[str, Any]) -> Any:
                m = flr.ExponentiatedGradient(base(), constraint, eps=tolerance)
                m.fit(d["X_train"], d["y_train"], sensitive_features=d["sex_train"])
                return lambda X, seed: m.predict(X, random_state=seed)

            return run

        methods["fairlearn_eg_demographic_parity"] = fl(flr.DemographicParity())
        methods["fairlearn_eg_equalized_odds"] = fl(flr.EqualizedOdds())
    return methods


def run_bench(
    *,
    repeats: int = 3,
    tolerance: float = 0.01,
    seed: int = 0,
    with_fairlearn: bool = False,
    only: list[str] | None = None,
    blas_threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Run each method ``repeats`` times; return medians of ``accuracy``, gaps and ``cpu_s``.

    Accuracy and gaps are measured on the test split (randomized classifiers: averaged over
    :data:`N_DRAWS` seeded draws); ``cpu_s`` is the median process CPU time of ``fit``, in
    seconds. ``blas_threads`` caps BLAS threads for every method alike (``None``: defaults).
    """
    from threadpoolctl import threadpool_limits

    if blas_threads is not None and (not isinstance(blas_threads, int) or blas_threads < 1):
        raise ConfigError(
            f"blas_threads must be an integer >= 1; got {blas_threads!r}",
            field="blas_threads",
            hint="1 compares the algorithms without thread overhead; omit for library defaults",
        )
    methods = _methods(tolerance, with_fairlearn)
    unknown = sorted(set(only or []) - set(methods))
    if unknown:
        raise ConfigError(
            f"unknown benchmark method(s) {unknown}; known: {', '.join(methods)}",
            field="method",
            hint="fairlearn_* methods need --with-fairlearn",
        )
    data = adult_split(seed)
    out: dict[str, dict[str, float]] = {}
    for name, fit in methods.items():
        if only and name not in only:
            continue
        runs = []
        for _ in range(repeats):
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                start = time.process_time()
                predict = fit(data)
                cpu = time.process_time() - start
            scores = _scores(data["y_test"], predict, data["X_test"], data["sex_test"])
            runs.append({**scores, "cpu_s": cpu})
            if progress:
                progress(f"{name}: {runs[-1]}")
        out[name] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
        out[name]["repeats"] = repeats
    return out
