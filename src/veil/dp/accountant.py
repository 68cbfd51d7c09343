"""Composition: what several releases cost together, and an accountant that refuses to overspend.

* :func:`sequential` — basic composition: epsilons and deltas add (Dwork, McSherry, Nissim,
  Smith 2006); exact on fractions.
* :func:`parallel` — releases on *disjoint* partitions of the data, where each person falls in
  one partition, cost the maximum, not the sum (McSherry 2009, PINQ).
* :func:`advanced` — k-fold adaptive composition of (ε, δ)-DP mechanisms is
  (√(2k ln(1/δ'))·ε + kε(e^ε − 1), kδ + δ')-DP (Dwork, Rothblum, Vadhan 2010, Theorem III.3);
  returns the better of that and basic composition.
* :func:`zcdp` — Gaussian releases compose by adding ρ (Bun & Steinke 2016, Lemma 2.3) and
  convert to (ε, δ) once at the end ([CKS20] Corollary 13), which for many releases is far
  cheaper than adding epsilons. :class:`RenyiAccountant` does the same on a Rényi-DP curve
  (Mironov 2017), where pure-DP releases also fit (Bun & Steinke Prop. 1.4: ε-DP ⇒ ε²/2-zCDP).

:class:`Accountant` is an in-memory odometer with an optional budget (a privacy filter): it
charges a guarantee before the caller releases anything and refuses a charge that would exceed
the budget. For a budget that must survive restarts and be shared between processes, use
:class:`veil.dp.ledger.Ledger`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from fractions import Fraction

from veil.dp._numbers import as_fraction, probability
from veil.dp.calibration import zcdp_epsilon
from veil.dp.guarantee import Guarantee, PrivacyUnit, fraction_at_least
from veil.errors import BudgetExhausted, ConfigError, PrivacyError

__all__ = [
    "Accountant",
    "RenyiAccountant",
    "UnusualEpsilonWarning",
    "advanced",
    "parallel",
    "sequential",
    "zcdp",
]

#: Epsilons above this draw an :class:`UnusualEpsilonWarning` (OpenDP's context warns likewise).
UNUSUAL_EPSILON = Fraction(10)


class UnusualEpsilonWarning(UserWarning):
    """Warned when a budget or charge has an epsilon so large that little privacy remains."""


def _common_unit(guarantees: list[Guarantee]) -> PrivacyUnit:
    if not guarantees:
        raise ConfigError("composition needs at least one guarantee")
    units = {g.unit for g in guarantees}
    if len(units) > 1:
        raise PrivacyError(
            f"cannot compose guarantees for different privacy units: {sorted(map(str, units))}",
            hint="bound every release to the same contributions per person first",
        )
    return guarantees[0].unit


def sequential(*guarantees: Guarantee) -> Guarantee:
    """Return the guarantee of running all of ``guarantees`` on the same data: ε and δ add.

    ρ (zCDP) is kept, summed, only when every part states one.

    Examples
    --------
    >>> from fractions import Fraction
    >>> g = sequential(Guarantee(Fraction(1, 2)), Guarantee(Fraction(1, 4)))
    >>> g.epsilon
    Fraction(3, 4)
    """
    parts = list(guarantees)
    unit = _common_unit(parts)
    delta = sum((g.delta for g in parts), Fraction(0))
    if delta >= 1:
        raise PrivacyError(f"the composed delta {float(delta):.3g} reaches 1: no guarantee is left")
    rhos = [g.rho for g in parts if g.rho is not None]
    rho = sum(rhos, Fraction(0)) if len(rhos) == len(parts) else None
    return Guarantee(sum((g.epsilon for g in parts), Fraction(0)), delta, rho, unit)


def parallel(*guarantees: Guarantee) -> Guarantee:
    """Return the guarantee of releases on disjoint partitions: the maximum ε, δ (and ρ).

    Valid only when the partitions are disjoint *and* each person's rows fall in one partition
    (bound contributions per partition before calling this).
    """
    parts = list(guarantees)
    unit = _common_unit(parts)
    rhos = [g.rho for g in parts if g.rho is not None]
    rho = max(rhos) if len(rhos) == len(parts) else None
    return Guarantee(max(g.epsilon for g in parts), max(g.delta for g in parts), rho, unit)


def advanced(guarantee: Guarantee, k: int, delta_slack: object) -> Guarantee:
    """Return the guarantee of ``k`` adaptive runs of ``guarantee`` by advanced composition.

    Dwork, Rothblum, Vadhan 2010: ε' = √(2k ln(1/δ'))·ε + k·ε·(e^ε − 1), δ_total = k·δ + δ'.
    The result is never worse than basic composition (kε, kδ): the smaller epsilon is returned.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}", field="k")
    slack = probability(delta_slack, "delta_slack", open_interval=True)
    eps = float(guarantee.epsilon)
    advanced_eps = math.sqrt(2 * k * math.log(1 / float(slack))) * eps + k * eps * math.expm1(eps)
    basic = guarantee.epsilon * k
    if fraction_at_least(advanced_eps) < basic:
        return Guarantee(
            fraction_at_least(advanced_eps), guarantee.delta * k + slack, None, guarantee.unit
        )
    return Guarantee(basic, guarantee.delta * k, None, guarantee.unit)


def zcdp(rhos: Iterable[object], delta: object, unit: PrivacyUnit | None = None) -> Guarantee:
    """Return the (ε, δ) guarantee of releases whose zCDP parameters are ``rhos``.

    ρ adds under composition (Bun & Steinke 2016); the total converts to (ε, δ) by
    [CKS20] Corollary 13.
    """
    total = sum((as_fraction(r, "rho") for r in rhos), Fraction(0))
    d = probability(delta, "delta", open_interval=True)
    eps = zcdp_epsilon(float(total), float(d))
    return Guarantee(fraction_at_least(eps), d, total, unit or PrivacyUnit())


class Accountant:
    """Charge guarantees against an optional budget, before releasing (an in-memory privacy filter).

    Parameters
    ----------
    epsilon_budget : rational, optional
        Total epsilon allowed; ``None`` only tracks spending (an odometer).
    delta_budget : rational, default=0
        Total delta allowed.
    unit : PrivacyUnit, default=one row

    Examples
    --------
    >>> from fractions import Fraction
    >>> acc = Accountant(epsilon_budget=1)
    >>> acc.charge(Guarantee(Fraction(3, 4)))
    >>> acc.remaining_epsilon
    Fraction(1, 4)
    """

    def __init__(
        self,
        epsilon_budget: object = None,
        delta_budget: object = 0,
        unit: PrivacyUnit | None = None,
    ) -> None:
        self.unit = unit or PrivacyUnit()
        self.epsilon_budget = (
            None if epsilon_budget is None else as_fraction(epsilon_budget, "epsilon_budget")
        )
        self.delta_budget = probability(delta_budget, "delta_budget")
        if self.epsilon_budget is not None and self.epsilon_budget < 0:
            raise ConfigError(
                f"epsilon_budget must be >= 0, got {epsilon_budget!r}", field="epsilon_budget"
            )
        if self.epsilon_budget is not None and self.epsilon_budget > UNUSUAL_EPSILON:
            warnings.warn(
                f"an epsilon budget of {float(self.epsilon_budget):g} gives little privacy",
                UnusualEpsilonWarning,
                stacklevel=2,
            )
        self.charges: list[Guarantee] = []

    @property
    def spent(self) -> Guarantee:
        """Everything charged so far, by sequential composition."""
        if not self.charges:
            return Guarantee(Fraction(0), Fraction(0), Fraction(0), self.unit)
        return sequential(*self.charges)

    @property
    def remaining_epsilon(self) -> Fraction | None:
        """Epsilon left, or ``None`` without a budget."""
        if self.epsilon_budget is None:
            return None
        return self.epsilon_budget - self.spent.epsilon

    def can_afford(self, guarantee: Guarantee) -> bool:
        """Return whether charging ``guarantee`` stays within the budget."""
        if self.epsilon_budget is None:
            return True
        spent = self.spent
        return (
            spent.epsilon + guarantee.epsilon <= self.epsilon_budget
            and spent.delta + guarantee.delta <= self.delta_budget
        )

    def charge(self, guarantee: Guarantee) -> None:
        """Record ``guarantee`` as spent, or raise :class:`BudgetExhausted` and record nothing."""
        if guarantee.unit != self.unit:
            raise PrivacyError(
                f"this accountant protects {self.unit}; the charge is for {guarantee.unit}",
                hint="bound contributions the same way for every release",
            )
        if not self.can_afford(guarantee):
            spent = self.spent
            raise BudgetExhausted(
                f"charging ε={float(guarantee.epsilon):g}, δ={float(guarantee.delta):g} would "
                f"exceed the budget ε={float(self.epsilon_budget or 0):g}, "
                f"δ={float(self.delta_budget):g}; remaining ε="
                f"{float((self.epsilon_budget or 0) - spent.epsilon):g}, "
                f"δ={float(self.delta_budget - spent.delta):g}",
                hint="release fewer statistics or with a smaller epsilon",
            )
        self.charges.append(guarantee)


class RenyiAccountant:
    """Track a Rényi-DP curve over fixed orders and convert it to (ε, δ) on demand.

    Gaussian releases add α·ρ at each order α; pure ε-DP releases add their best Rényi bound
    min(ε, α·ε²/2) (Bun & Steinke 2016 Prop. 1.4, ε-DP ⇒ ε²/2-zCDP, and ε-DP ⇒ (α, ε)-RDP).

    Examples
    --------
    >>> acc = RenyiAccountant()
    >>> for _ in range(100):
    ...     acc.add_zcdp(0.01)
    >>> round(acc.epsilon(1e-6), 1)   # adding per-release (ε, δ=1e-8) instead would give 75
    7.8
    """

    ORDERS: tuple[float, ...] = (
        1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128, 256, 512,
        1024,
    )  # fmt: skip

    def __init__(self) -> None:
        self._curve = [0.0 for _ in self.ORDERS]
        self._pure_sum = 0.0
        self._gaussian = False

    def add_zcdp(self, rho: float) -> None:
        """Add a ρ-zCDP release (e.g. Gaussian noise with ρ = Δ²/(2σ²))."""
        if not rho >= 0:
            raise ConfigError(f"rho must be >= 0, got {rho!r}", field="rho")
        self._curve = [c + a * rho for c, a in zip(self._curve, self.ORDERS, strict=True)]
        self._gaussian = True

    def add_pure(self, epsilon: float) -> None:
        """Add an ε-DP release."""
        if not epsilon >= 0:
            raise ConfigError(f"epsilon must be >= 0, got {epsilon!r}", field="epsilon")
        self._curve = [
            c + min(epsilon, a * epsilon * epsilon / 2)
            for c, a in zip(self._curve, self.ORDERS, strict=True)
        ]
        self._pure_sum += epsilon

    def epsilon(self, delta: float) -> float:
        """Return the ε of the composed releases at the given δ ([CKS20] Proposition 12).

        With pure releases only, basic composition (their sum, at δ = 0) is used when smaller.
        """
        converted = zcdp_epsilon(0.0, delta, renyi=list(zip(self.ORDERS, self._curve, strict=True)))
        return converted if self._gaussian else min(converted, self._pure_sum)
