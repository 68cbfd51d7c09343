"""Constraints on a classifier's outputs, each a linear function of its predictions.

A constraint compares group statistics of the predictions ``h`` (0/1 per row). Written as
``γ(h) = M h + b`` with one row of ``M`` per (group, event) pair, it is what the reductions
approach needs: the Lagrangian stays linear in ``h``, so its minimizer is a cost-sensitive
classification (Agarwal, Beygelzimer, Dudík, Langford & Wallach 2018, §3).

==========================  ===================================================  ==========
constraint                  γ for group a (and event e)                          kind
==========================  ===================================================  ==========
DemographicParity           P(h=1 | A=a) − P(h=1)                                |γ| ≤ tol
EqualizedOdds               P(h=1 | A=a, Y=y) − P(h=1 | Y=y), y ∈ {0, 1}        |γ| ≤ tol
EqualOpportunity            P(h=1 | A=a, Y=1) − P(h=1 | Y=1)                     |γ| ≤ tol
ErrorRateParity             P(h≠Y | A=a) − P(h≠Y)                                |γ| ≤ tol
BoundedGroupLoss            P(h≠Y | A=a)                                         γ ≤ bound
==========================  ===================================================  ==========

Tolerances follow fairlearn's ``difference_bound``: each group against the overall rate, so two
groups may differ by up to twice the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from veil.errors import ConfigError

__all__ = [
    "CONSTRAINTS",
    "BoundedGroupLoss",
    "Constraint",
    "DemographicParity",
    "EqualOpportunity",
    "EqualizedOdds",
    "ErrorRateParity",
    "LinearForm",
    "make_constraint",
]


@dataclass(frozen=True)
class LinearForm:
    """``γ(h) = M @ h + b`` for 0/1 predictions ``h``; limits ``|γ| ≤ bound`` or ``γ ≤ bound``.

    Attributes
    ----------
    M : ndarray, shape (K, n_rows)
    b : ndarray, shape (K,)
    bound : float
    two_sided : bool
    labels : list of str, length K
    """

    M: np.ndarray
    b: np.ndarray
    bound: float
    two_sided: bool
    labels: list[str]

    def gamma(self, H: np.ndarray) -> np.ndarray:
        """Return γ for predictions ``H`` of shape (n_rows,) or (n_rows, T) → (K,) or (K, T)."""
        return self.M @ H + (self.b if H.ndim == 1 else self.b[:, None])

    def violations(self, gamma: np.ndarray) -> np.ndarray:
        """Return the signed constraint values ``(γ − bound, −γ − bound)`` stacked (≤ 0 is met)."""
        if self.two_sided:
            return np.concatenate([gamma - self.bound, -gamma - self.bound])
        return gamma - self.bound

    def multiplier(self, lam: np.ndarray) -> np.ndarray:
        """Return the net weight ``μ`` on γ from non-negative multipliers of the violations."""
        k = self.b.shape[0]
        return lam[:k] - lam[k:] if self.two_sided else lam


def _check_tol(name: str, value: float, param: str) -> None:
    if not isinstance(value, int | float) or not (0 <= value <= 1):
        raise ConfigError(
            f"the {param!r} parameter of {name} must be a number in [0, 1]; got {value!r}",
            field=param,
            hint="a tolerance on rates, e.g. 0.01 for one percentage point",
        )


def _indicators(
    codes: np.ndarray, event: np.ndarray, n_groups: int, w: np.ndarray
) -> tuple[np.ndarray, list[int]]:
    """Return rows ``w_i 1{A_i=a, E_i}/W_{a,E} − w_i 1{E_i}/W_E`` for groups with weight."""
    we = w * event
    total = we.sum()
    per = np.bincount(codes, weights=we, minlength=n_groups)
    kept = [a for a in range(n_groups) if per[a] > 0]
    M = np.empty((len(kept), codes.shape[0]))
    for r, a in enumerate(kept):
        M[r] = we * ((codes == a) / per[a] - 1.0 / total)
    return M, kept


@dataclass(frozen=True)
class Constraint:
    """Base of the output constraints; subclasses define :meth:`linear_form`."""

    def linear_form(
        self, y: np.ndarray, codes: np.ndarray, keys: list[str], w: np.ndarray
    ) -> LinearForm:
        """Return ``γ = M h + b`` for labels ``y`` (0/1), group ``codes`` and weights ``w``."""
        raise NotImplementedError

    @property
    def tolerance(self) -> float:
        """The tolerance (or bound) of the constraint."""
        raise NotImplementedError

    #: Name of the matching disparity in :data:`veil.analytics.fairness.metrics.DISPARITIES`.
    disparity: ClassVar[str] = ""

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.tolerance:g})"


@dataclass(frozen=True)
class _Parity(Constraint):
    difference_bound: float = 0.01

    def __post_init__(self) -> None:
        _check_tol(type(self).__name__, self.difference_bound, "difference_bound")

    @property
    def tolerance(self) -> float:
        """The bound on each group's gap to the overall rate."""
        return float(self.difference_bound)

    def _events(self, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return [("all", np.ones_like(y))]

    def linear_form(
        self, y: np.ndarray, codes: np.ndarray, keys: list[str], w: np.ndarray
    ) -> LinearForm:
        """Return γ per (group, event): the group's positive rate minus the overall one."""
        blocks, labels = [], []
        for ev_name, ev in self._events(y):
            M, kept = _indicators(codes, ev, len(keys), w)
            blocks.append(M)
            labels += [f"{keys[a]} | {ev_name}" for a in kept]
        M = np.vstack(blocks)
        return LinearForm(M, np.zeros(M.shape[0]), self.tolerance, True, labels)


@dataclass(frozen=True)
class DemographicParity(_Parity):
    """Equal selection rates: ``|P(h=1 | A=a) − P(h=1)| ≤ difference_bound`` for every group."""

    disparity: ClassVar[str] = "demographic_parity"


@dataclass(frozen=True)
class EqualizedOdds(_Parity):
    """Equal TPR and FPR: ``|P(h=1 | A=a, Y=y) − P(h=1 | Y=y)| ≤ difference_bound``."""

    disparity: ClassVar[str] = "equalized_odds"

    def _events(self, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return [("y=0", (y == 0).astype(float)), ("y=1", (y == 1).astype(float))]


@dataclass(frozen=True)
class EqualOpportunity(_Parity):
    """Equal TPR: ``|P(h=1 | A=a, Y=1) − P(h=1 | Y=1)| ≤ difference_bound``."""

    disparity: ClassVar[str] = "equal_opportunity"

    def _events(self, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return [("y=1", (y == 1).astype(float))]


@dataclass(frozen=True)
class ErrorRateParity(_Parity):
    """Equal error rates: ``|P(h≠Y | A=a) − P(h≠Y)| ≤ difference_bound``."""

    disparity: ClassVar[str] = "error_rate_parity"

    def linear_form(
        self, y: np.ndarray, codes: np.ndarray, keys: list[str], w: np.ndarray
    ) -> LinearForm:
        """Return γ per group: error rate minus overall error rate (error = y + h(1 − 2y))."""
        M, kept = _indicators(codes, np.ones_like(y), len(keys), w)
        b = M @ y
        return LinearForm(M * (1 - 2 * y), b, self.tolerance, True, [keys[a] for a in kept])


@dataclass(frozen=True)
class BoundedGroupLoss(Constraint):
    """Bounded error in every group: ``P(h≠Y | A=a) ≤ upper_bound`` (0-1 loss)."""

    upper_bound: float = 0.2
    disparity: ClassVar[str] = "error_rate_parity"

    def __post_init__(self) -> None:
        _check_tol("BoundedGroupLoss", self.upper_bound, "upper_bound")

    @property
    def tolerance(self) -> float:
        """The bound on every group's error rate."""
        return float(self.upper_bound)

    def linear_form(
        self, y: np.ndarray, codes: np.ndarray, keys: list[str], w: np.ndarray
    ) -> LinearForm:
        """Return γ per group: the group's error rate."""
        per = np.bincount(codes, weights=w, minlength=len(keys))
        kept = [a for a in range(len(keys)) if per[a] > 0]
        M = np.empty((len(kept), y.shape[0]))
        for r, a in enumerate(kept):
            M[r] = w * (codes == a) / per[a]
        b = M @ y
        return LinearForm(M * (1 - 2 * y), b, self.tolerance, False, [keys[a] for a in kept])


#: Name (as used by the CLI and the frontier) → constraint class.
CONSTRAINTS: dict[str, type[Constraint]] = {
    "demographic_parity": DemographicParity,
    "equalized_odds": EqualizedOdds,
    "equal_opportunity": EqualOpportunity,
    "error_rate_parity": ErrorRateParity,
    "bounded_group_loss": BoundedGroupLoss,
}


def make_constraint(name: str, tolerance: float) -> Constraint:
    """Return the constraint called ``name`` with the given tolerance (or bound)."""
    if name not in CONSTRAINTS:
        raise ConfigError(
            f"unknown constraint {name!r}; known: {', '.join(CONSTRAINTS)}",
            field="constraint",
        )
    cls = CONSTRAINTS[name]
    if cls is BoundedGroupLoss:
        return BoundedGroupLoss(upper_bound=tolerance)
    return cls(difference_bound=tolerance)  # type: ignore[call-arg]
