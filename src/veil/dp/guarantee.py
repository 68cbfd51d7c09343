"""What a mechanism promises, stated before it runs: the privacy unit, epsilon, delta (and rho).

A :class:`Guarantee` is a value: mechanisms return it from ``.guarantee`` without touching data,
accountants add guarantees up, and the ledger charges them. Epsilon and delta are exact fractions;
when the true loss is irrational (``ln 3`` for two fair coins, a converted zCDP bound) the fraction
is an upper bound rounded up, never down, so charging it is always safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from veil.errors import ConfigError

__all__ = ["Guarantee", "PrivacyUnit", "Release", "fraction_at_least"]

#: Digits kept when an irrational loss is rounded up to a fraction.
_ROUND_UP_DENOMINATOR = 10**12


def fraction_at_least(value: float) -> Fraction:
    """Return a fraction with denominator 10**12 that is at least ``value`` (``value >= 0``).

    Used for losses computed in floating point (logarithms, conversions): the result is rounded
    up by one unit of 1e-12 beyond the float's own rounding, so it is a safe upper bound.
    """
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"a privacy loss must be finite and >= 0, got {value!r}")
    if value == 0:
        return Fraction(0)
    scaled = Fraction(value) * _ROUND_UP_DENOMINATOR
    return Fraction(math.ceil(scaled) + 1, _ROUND_UP_DENOMINATOR)


@dataclass(frozen=True)
class PrivacyUnit:
    """Who is protected: the difference between two neighbouring datasets.

    Parameters
    ----------
    max_contributions : int or None, default=1
        Rows one person may add or remove (central model). ``None`` means any number: the
        release bounds each person's rows itself, using ``identifier``.
    identifier : str, optional
        The column (or name) identifying a person when releases bound contributions per person.
    local : bool, default=False
        Local model: each respondent randomizes their own answer, and the guarantee holds for any
        change of that one answer, even against whoever collects the responses.
    """

    max_contributions: int | None = 1
    identifier: str | None = None
    local: bool = False

    def __post_init__(self) -> None:
        k = self.max_contributions
        if k is None:
            if self.identifier is None:
                raise ConfigError(
                    "an unbounded number of rows per person needs an identifier to bound them",
                    field="max_contributions",
                )
        elif isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(
                f"max_contributions must be an integer >= 1, got {k!r}", field="max_contributions"
            )

    def __str__(self) -> str:
        if self.local:
            return "one respondent's answer (local model)"
        if self.max_contributions is None:
            return f"one person (identified by {self.identifier!r}) with any number of rows"
        rows = "row" if self.max_contributions == 1 else "rows"
        return f"one person adding or removing up to {self.max_contributions} {rows}"


@dataclass(frozen=True)
class Guarantee:
    """An (epsilon, delta)-differential-privacy guarantee for a privacy unit.

    Parameters
    ----------
    epsilon : Fraction
        Privacy loss bound, ``>= 0`` (an exact value or an upper bound).
    delta : Fraction, default=0
        Probability with which the epsilon bound may fail, in ``[0, 1)``.
    rho : Fraction, optional
        For Gaussian noise, the zero-concentrated DP parameter (Bun & Steinke 2016): rho values
        add under composition and convert to a tighter (epsilon, delta) than adding epsilons.
    unit : PrivacyUnit, default=one row
    """

    epsilon: Fraction
    delta: Fraction = Fraction(0)
    rho: Fraction | None = None
    unit: PrivacyUnit = field(default_factory=PrivacyUnit)

    def __post_init__(self) -> None:
        if self.epsilon < 0:
            raise ConfigError(f"epsilon must be >= 0, got {self.epsilon}", field="epsilon")
        if not 0 <= self.delta < 1:
            raise ConfigError(f"delta must be in [0, 1), got {self.delta}", field="delta")
        if self.rho is not None and self.rho < 0:
            raise ConfigError(f"rho must be >= 0, got {self.rho}", field="rho")

    @property
    def pure(self) -> bool:
        """Whether this is pure epsilon-DP (delta = 0)."""
        return self.delta == 0

    def __str__(self) -> str:
        text = f"(ε={float(self.epsilon):.6g}, δ={float(self.delta):.3g})-DP"
        if self.rho is not None:
            text += f", ρ={float(self.rho):.6g}-zCDP"
        return f"{text} for {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (floats for reading, exact fractions as strings)."""
        out: dict[str, Any] = {
            "epsilon": float(self.epsilon),
            "delta": float(self.delta),
            "epsilon_exact": str(self.epsilon),
            "delta_exact": str(self.delta),
            "unit": str(self.unit),
        }
        if self.rho is not None:
            out["rho"] = float(self.rho)
        return out


@dataclass(frozen=True)
class Release:
    """A released value with the guarantee it was produced under.

    Attributes
    ----------
    value : object
        The noisy answer (int, float, ndarray, label ...). Safe to publish.
    guarantee : Guarantee
        What releasing ``value`` cost.
    mechanism : str
        The mechanism and its noise, e.g. ``"discrete Laplace, scale 2"``.
    details : dict
        Public parameters: sensitivity, scale, granularity, bounds; never the exact answer.
    """

    value: Any
    guarantee: Guarantee
    mechanism: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def epsilon(self) -> Fraction:
        """Epsilon this release cost."""
        return self.guarantee.epsilon

    @property
    def delta(self) -> Fraction:
        """Delta this release cost."""
        return self.guarantee.delta

    def to_dict(self) -> dict[str, Any]:
        """Return ``value``, ``epsilon``, ``delta``, ``mechanism`` and details, JSON-ready."""
        value = self.value.tolist() if hasattr(self.value, "tolist") else self.value
        return {
            "value": value,
            **self.guarantee.to_dict(),
            "mechanism": self.mechanism,
            **{k: _plain(v) for k, v in self.details.items()},
        }


def _plain(value: object) -> object:
    if isinstance(value, Fraction):
        return float(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
