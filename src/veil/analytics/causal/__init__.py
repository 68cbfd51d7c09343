"""Causal effects from panel data: one estimator interface, one result object, pluggable variance.

>>> from veil import datasets
>>> from veil.analytics.causal import PanelData, SyntheticDID
>>> panel = PanelData.from_long(datasets.load("prop99"), unit="State", time="Year",
...                             outcome="PacksPerCapita", treatment="treated")
>>> round(SyntheticDID().fit(panel).result_.att, 2)
-15.6

Registries, extended by modules of this package on import:

- :data:`ESTIMATORS` — name → estimator class (``did``, ``sc``, ``sc_intercept``, ``sdid``, ...),
  filled by :func:`register_estimator`;
- :data:`VARIANCE_METHODS` — name → variance method (``placebo``, ``jackknife``, ...), filled by
  :func:`register_variance`;
- :data:`veil.analytics.causal.bench.BENCHMARKS` — ``veil bench causal`` keys.

Every public module of this package is imported when the package is, so a new module that
registers an estimator, a variance method or a benchmark is picked up without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

from veil.analytics.causal.base import (
    ESTIMATORS,
    PanelEstimator,
    build_result,
    get_estimator,
    register_estimator,
)
from veil.analytics.causal.panel import PanelData, TreatmentPattern
from veil.analytics.causal.results import CausalResult, VarianceEstimate, Weights
from veil.analytics.causal.variance import (
    VARIANCE_METHODS,
    VARIANCE_TARGETS,
    VarianceContext,
    estimate_variance,
    register_variance,
)

__all__ = [
    "DID",
    "ESTIMATORS",
    "VARIANCE_METHODS",
    "VARIANCE_TARGETS",
    "CausalResult",
    "PanelData",
    "PanelEstimator",
    "SyntheticControl",
    "SyntheticControlIntercept",
    "SyntheticDID",
    "TreatmentPattern",
    "VarianceContext",
    "VarianceEstimate",
    "Weights",
    "build_result",
    "estimate_variance",
    "get_estimator",
    "register_estimator",
    "register_variance",
]


def _load_plugins() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_load_plugins()

from veil.analytics.causal.did import DID  # noqa: E402
from veil.analytics.causal.sc import SyntheticControl, SyntheticControlIntercept  # noqa: E402
from veil.analytics.causal.sdid import SyntheticDID  # noqa: E402
