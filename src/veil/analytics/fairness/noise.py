"""The one place where an audit's published counts get differential-privacy noise.

An audit publishes contingency tables of counts (group × true label × prediction, and group ×
score bin × label); every other figure is computed from them, so noising the tables is the whole
release and everything after it is post-processing (free under DP). A :class:`CountMechanism` is
what the audit calls; :func:`count_mechanism` builds the default one.

Mechanism: the discrete Laplace (two-sided geometric) mechanism of Ghosh, Roughgarden &
Sundararajan (2009), sampled exactly as in Canonne, Kamath & Steinke (2020), Algorithms 1–2,
with rational arithmetic and the operating system's CSPRNG (``secrets``), so no floating-point
artefact can leak a count. Privacy unit: one row (add/remove). A table in which each row falls in
exactly one cell has L1 sensitivity 1, so noise of scale ``1/ε`` on every cell makes the whole
table ε-DP (Dwork & Roth 2014, Thm 3.6).

This sampler stands in for :mod:`veil.dp` until that layer ships its count mechanism; the audit
only sees :class:`CountMechanism`, so the swap is one function.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from veil.errors import PrivacyError

__all__ = ["CountMechanism", "DiscreteLaplaceCounts", "count_mechanism"]


class CountMechanism(Protocol):
    """Release a table of non-negative integer counts with a stated ε."""

    epsilon: float

    def release(self, counts: np.ndarray) -> np.ndarray:
        """Return the counts with noise added (same shape, int64; may be negative)."""
        ...

    def simulate(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Return public draws from the noise distribution (for intervals; never for release)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return the mechanism, ε, scale, sensitivity and privacy unit, for the report."""
        ...


def _bernoulli(p: Fraction) -> bool:
    return secrets.randbelow(p.denominator) < p.numerator


def _bernoulli_exp(gamma: Fraction) -> bool:
    """Return True with probability exp(−gamma), exactly (CKS20, Algorithm 1)."""
    while gamma > 1:
        if not _bernoulli_exp(Fraction(1)):
            return False
        gamma -= 1
    k = 1
    while _bernoulli(gamma / k):
        k += 1
    return k % 2 == 1


def _discrete_laplace(scale: Fraction) -> int:
    """Return one draw of P(x) ∝ exp(−|x| / scale), exactly (CKS20, Algorithm 2)."""
    s, t = scale.denominator, scale.numerator  # scale = t / s
    while True:
        u = secrets.randbelow(t)
        if not _bernoulli_exp(Fraction(u, t)):
            continue
        v = 0
        while _bernoulli_exp(Fraction(1)):
            v += 1
        y = (u + t * v) // s
        negative = secrets.randbelow(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


@dataclass(frozen=True)
class DiscreteLaplaceCounts:
    """Discrete Laplace noise of scale ``sensitivity / epsilon`` on every count.

    Parameters
    ----------
    epsilon : float
        Privacy loss of one release, ``0 < epsilon``; approximated by a fraction with
        denominator at most 10**6 (the stated ε is that fraction, never larger than asked).
    sensitivity : int, default=1
        L1 sensitivity of the table (1 when each row lands in one cell).
    """

    epsilon: float
    sensitivity: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.epsilon, int | float) and math.isfinite(self.epsilon)) or (
            self.epsilon <= 0
        ):
            raise PrivacyError(
                f"epsilon must be a finite number > 0; got {self.epsilon!r}",
                field="epsilon",
                hint="typical values are 0.1 to 2; larger means less noise and less privacy",
            )
        if self.sensitivity < 1:
            raise PrivacyError(
                f"sensitivity must be a positive integer; got {self.sensitivity!r}",
                field="sensitivity",
            )

    @property
    def scale(self) -> Fraction:
        """Noise scale ``sensitivity / ε`` as an exact fraction (ε rounded down, never up)."""
        eps = Fraction(self.epsilon).limit_denominator(10**6)
        if eps > Fraction(self.epsilon):
            eps = Fraction(math.floor(self.epsilon * 10**6), 10**6)
        return Fraction(self.sensitivity) / eps

    def release(self, counts: np.ndarray) -> np.ndarray:
        """Return ``counts`` plus independent exact discrete Laplace noise, as int64."""
        exact = np.asarray(counts)
        if not np.allclose(exact, np.round(exact)):
            raise PrivacyError(
                "only integer counts can be released with discrete noise",
                field="counts",
                hint="sample weights are not supported under epsilon=; drop them",
            )
        flat = np.round(exact).astype(np.int64).reshape(-1)
        scale = self.scale
        noise = np.fromiter((_discrete_laplace(scale) for _ in range(flat.size)), np.int64)
        return (flat + noise).reshape(exact.shape)

    def simulate(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Return public draws of the same noise (difference of two geometrics) for intervals."""
        p = 1.0 - math.exp(-1.0 / float(self.scale))
        return rng.geometric(p, size=shape) - rng.geometric(p, size=shape)

    def describe(self) -> dict[str, Any]:
        """Return what was released and how, for the audit report."""
        return {
            "mechanism": "discrete Laplace (exact sampler, OS CSPRNG)",
            "epsilon": float(Fraction(self.sensitivity) / self.scale),
            "scale": float(self.scale),
            "sensitivity": self.sensitivity,
            "privacy_unit": "one row (add/remove)",
        }


def count_mechanism(epsilon: float, *, sensitivity: int = 1) -> CountMechanism:
    """Return the default count mechanism for a release of loss ``epsilon``."""
    return DiscreteLaplaceCounts(epsilon=epsilon, sensitivity=sensitivity)
