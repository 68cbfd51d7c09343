"""The panel-estimator contract: keyword-only parameters, one constraint table, ``fit`` → ``self``.

Every estimator in :mod:`veil.analytics.causal` subclasses :class:`PanelEstimator`:

- ``__init__`` only stores its keyword-only arguments (no validation, no work);
- the class attribute ``_parameter_constraints`` maps each parameter to the values it accepts
  (:class:`Interval`, :class:`Options`, :class:`InRegistry`, a type, or ``None``); ``fit`` checks
  it first and names the parameter, the value received and what is allowed;
- ``fit(panel)`` checks the treatment pattern against ``supported_patterns``, computes the
  estimate with ``_fit``, runs the variance method named by ``se`` (if any) and returns ``self``;
  learned state ends in ``_`` (``result_``, ``att_``) and reading it before ``fit`` raises
  :class:`~veil.errors.NotFittedError` saying "call fit".

Subclasses register under a name with :func:`register_estimator`, which is how the CLI and the
contract tests find them (``ESTIMATORS["sdid"]``).

Hooks for variance methods (see :mod:`veil.analytics.causal.variance`): ``_att(panel)`` returns the
point estimate alone and ``_att_batch(panels)`` a vector of them; override ``_att_batch`` to solve
many same-shaped replicate problems at once.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from veil.analytics.causal.panel import PanelData, TreatmentPattern
from veil.analytics.causal.results import CausalResult, Weights
from veil.errors import ConfigError, NotFittedError, PanelDataError

__all__ = [
    "ESTIMATORS",
    "Constraint",
    "InRegistry",
    "Interval",
    "Options",
    "PanelEstimator",
    "ProgressCallback",
    "build_result",
    "get_estimator",
    "register_estimator",
]

#: ``progress(done, total)`` — called by long loops (placebo, bootstrap, tuning) as work completes.
ProgressCallback = Callable[[int, int], None]

#: Registry name → estimator class. Filled by :func:`register_estimator`.
ESTIMATORS: dict[str, type[PanelEstimator]] = {}

E = TypeVar("E", bound="PanelEstimator")


def register_estimator(name: str) -> Callable[[type[E]], type[E]]:
    """Register an estimator class under ``name`` (used by the CLI ``--method`` and the tests)."""

    def decorate(cls: type[E]) -> type[E]:
        if name in ESTIMATORS and ESTIMATORS[name] is not cls:
            raise ConfigError(
                f"estimator name {name!r} is already registered to {ESTIMATORS[name].__name__}",
                field="name",
                hint="pick a different registry name",
            )
        cls.name = name
        ESTIMATORS[name] = cls
        return cls

    return decorate


def get_estimator(name: str) -> type[PanelEstimator]:
    """Return the estimator class registered as ``name``, or raise naming the known ones."""
    if name not in ESTIMATORS:
        raise ConfigError(
            f"unknown estimator {name!r}; known: {', '.join(sorted(ESTIMATORS))}",
            field="method",
            hint="choose one of the registered estimators",
        )
    return ESTIMATORS[name]


# ---------------------------------------------------------------------- constraints


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int`` or ``float``; ints are accepted as floats) between bounds."""

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real):
            return False
        x = float(value)
        if math.isnan(x):
            return False
        lo, hi = self.left, self.right
        open_left = self.closed in ("right", "neither")
        open_right = self.closed in ("left", "neither")
        if lo is not None and (x < lo or (x == lo and open_left)):
            return False
        return not (hi is not None and (x > hi or (x == hi and open_right)))

    def __str__(self) -> str:
        lo = "-inf" if self.left is None else f"{self.left:g}"
        hi = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("both", "left") and self.left is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{'an int' if self.kind is int else 'a float'} in the range {lb}{lo}, {hi}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: frozenset[object]

    def accepts(self, value: object) -> bool:
        try:
            return value in self.values
        except TypeError:
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in sorted(self.values, key=str))


@dataclass(frozen=True)
class InRegistry:
    """A key of a registry that may grow at import time (variance methods, estimators)."""

    registry: Mapping[str, object]
    what: str

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.registry

    def __str__(self) -> str:
        return f"a {self.what}: " + ", ".join(repr(k) for k in sorted(self.registry))


Constraint = Interval | Options | InRegistry | type | None


def _accepts(constraint: Constraint, value: object) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, type):
        return isinstance(value, constraint) and not (
            constraint is not bool and isinstance(value, bool)
        )
    return constraint.accepts(value)


def _describe(constraint: Constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def _common_constraints() -> dict[str, list[Constraint]]:
    from veil.analytics.causal.variance import VARIANCE_METHODS

    return {
        "se": [None, InRegistry(VARIANCE_METHODS, "variance method")],
        "n_replications": [Interval(int, 2, None)],
        "random_state": [None, Interval(int, 0, None), np.random.Generator],
    }


# ---------------------------------------------------------------------- the base class


class PanelEstimator:
    """Base class of the causal panel estimators; see the module docstring for the contract.

    Subclasses define ``__init__`` with keyword-only parameters that include ``se``,
    ``n_replications`` and ``random_state`` (the variance request), list allowed values in
    ``_parameter_constraints``, the designs they handle in ``supported_patterns``, and implement
    ``_fit(panel) -> CausalResult``.
    """

    #: Registry name, set by :func:`register_estimator`.
    name: ClassVar[str] = ""
    #: Treatment patterns ``fit`` accepts; others raise :class:`~veil.errors.PanelDataError`.
    supported_patterns: ClassVar[frozenset[TreatmentPattern]] = frozenset(TreatmentPattern)
    #: Whether the estimator uses covariates (``panel.X``); otherwise a panel with them is refused.
    supports_covariates: ClassVar[bool] = False
    #: Parameter name → allowed values (any entry may match). ``se``, ``n_replications`` and
    #: ``random_state`` are added for every estimator.
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    # -- parameters (scikit-learn style) --------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind is inspect.Parameter.KEYWORD_ONLY
        ]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters and their current values."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        """Set constructor parameters; unknown names raise :class:`~veil.errors.ConfigError`."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {key!r}; "
                    f"parameters are {sorted(valid)}",
                    field=key,
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _validate_params(self) -> None:
        table = {**_common_constraints(), **self._parameter_constraints}
        for name, value in self.get_params().items():
            allowed = table.get(name)
            if allowed is None:
                continue
            if not any(_accepts(c, value) for c in allowed):
                expected = " or ".join(_describe(c) for c in allowed)
                raise ConfigError(
                    f"The {name!r} parameter of {type(self).__name__} must be {expected}. "
                    f"Got {value!r} instead.",
                    field=name,
                    hint=f"pass a valid {name}= to {type(self).__name__}(...)",
                )

    # -- fitting ----------------------------------------------------------------------

    def _check_panel(self, panel: PanelData) -> None:
        if not isinstance(panel, PanelData):
            raise ConfigError(
                f"{type(self).__name__}.fit expects a PanelData; got {type(panel).__name__}",
                field="panel",
                hint="build one with PanelData.from_long(df, unit=, time=, outcome=, treatment=)",
            )
        if panel.pattern not in self.supported_patterns:
            allowed = ", ".join(sorted(p.value for p in self.supported_patterns))
            users = sorted(
                n for n, c in ESTIMATORS.items() if panel.pattern in c.supported_patterns
            )
            raise PanelDataError(
                f"{type(self).__name__} ({self.name}) handles {allowed} designs; this panel's "
                f"treatment pattern is {panel.pattern.value}",
                field="treatment",
                hint=f"estimators that handle {panel.pattern.value} designs: {', '.join(users)}",
            )
        if panel.X is not None and not self.supports_covariates:
            with_cov = sorted(n for n, c in ESTIMATORS.items() if c.supports_covariates)
            raise PanelDataError(
                f"{type(self).__name__} ({self.name}) does not use covariates, but the panel has "
                f"{list(panel.covariate_names)}",
                field="covariates",
                hint=f"drop the covariates, or use an estimator that adjusts for them: "
                f"{', '.join(with_cov)}",
            )

    def fit(self: E, panel: PanelData, *, progress: ProgressCallback | None = None) -> E:
        """Estimate the effect on the treated cells of ``panel``; return ``self``.

        Parameters
        ----------
        panel : PanelData
            The panel; its treatment pattern must be in ``supported_patterns``.
        progress : callable, optional
            ``progress(done, total)``, called while the variance replicates run.

        Returns
        -------
        self
            With ``result_`` (a :class:`CausalResult`), ``att_`` and ``se_`` set.
        """
        from veil.analytics.causal.variance import estimate_variance

        self._validate_params()
        self._check_panel(panel)
        result = self._fit(panel)
        se_method = getattr(self, "se", None)
        if se_method is not None:
            variance = estimate_variance(
                self,
                panel,
                method=se_method,
                n_replications=int(getattr(self, "n_replications", 200)),
                random_state=getattr(self, "random_state", None),
                progress=progress,
            )
            result = result.with_variance(variance)
        self.result_ = result
        self.att_ = result.att
        self.se_ = result.se
        return self

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: fitted state read before fit.
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(panel) "
                f"before reading {name!r}",
                field=name,
                hint=f"run {type(self).__name__}(...).fit(panel) first",
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- to implement / override -------------------------------------------------------

    def _fit(self, panel: PanelData) -> CausalResult:
        raise NotImplementedError

    def _att(self, panel: PanelData) -> float:
        """Return the point estimate alone (used for replicates); override when cheaper."""
        return self._fit(panel).att

    def _att_batch(
        self, panels: Sequence[PanelData], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Return the point estimates of many replicate panels, shape ``(len(panels),)``."""
        out = np.empty(len(panels))
        for k, p in enumerate(panels):
            out[k] = self._att(p)
            if progress is not None:
                progress(k + 1, len(panels))
        return out

    def _jackknife_atts(
        self, panel: PanelData, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Return the estimates with each unit left out in turn, shape ``(N,)`` (refits)."""
        keep = np.ones(panel.n_units, dtype=bool)
        panels = []
        for i in range(panel.n_units):
            keep[i] = False
            panels.append(panel.subset(np.flatnonzero(keep)))
            keep[i] = True
        return self._att_batch(panels, progress)


def build_result(
    estimator: PanelEstimator,
    panel: PanelData,
    counterfactual: np.ndarray,
    *,
    weights: Weights | None = None,
    att: float | None = None,
    details: dict[str, Any] | None = None,
) -> CausalResult:
    """Assemble a :class:`CausalResult` from the treated units' estimated untreated outcomes.

    Parameters
    ----------
    counterfactual : ndarray of shape (N1, T)
        ``Ŷ(0)`` for the treated units (rows in panel order), every period; NaN allowed off the
        treated cells.
    att : float, optional
        Overall estimate; by default the mean of ``Y − Ŷ(0)`` over treated cells.
    """
    treated = np.flatnonzero(panel.treated_units)
    Y1 = panel.Y[treated]
    W1 = panel.W[treated].astype(bool)
    rows, cols = np.nonzero(W1)
    observed = Y1[rows, cols]
    cf = counterfactual[rows, cols]
    effects = pd.DataFrame(
        {
            "unit": panel.units[treated][rows],
            "time": panel.times[cols],
            "observed": observed,
            "counterfactual": cf,
            "effect": observed - cf,
        }
    )
    estimate = float(np.mean(observed - cf)) if att is None else float(att)
    labels = pd.Index(panel.units[treated], name="unit")
    periods = pd.Index(panel.times, name="time")
    return CausalResult(
        method=estimator.name,
        att=estimate,
        effects=effects,
        counterfactual=pd.DataFrame(counterfactual, index=labels, columns=periods),
        observed=pd.DataFrame(Y1, index=labels, columns=periods),
        weights=weights if weights is not None else Weights(),
        n_units=panel.n_units,
        n_periods=panel.n_periods,
        n_treated_cells=panel.n_treated_cells,
        params=estimator.get_params(),
        details=details or {},
    )
