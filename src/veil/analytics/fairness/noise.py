"""The one place where an audit's published counts get differential-privacy noise.

An audit publishes contingency tables of counts (group × true label × prediction, and group ×
score bin × label); every other figure is computed from them, so noising the tables is the whole
release and everything after it is post-processing (free under DP). A :class:`CountMechanism` is
what the audit calls; :func:`count_mechanism` builds the default one.

Mechanism: the discrete Laplace (two-sided geometric) mechanism of Ghosh, Roughgarden &
Sundararajan (2009), sampled by :func:`veil.dp.samplers.discrete_laplace` — exact on the integers
from CSPRNG words (Canonne, Kamath & Steinke 2020, Algorithms 1–2), so no floating-point artefact
can leak a count. Its scale is the one :class:`veil.dp.LaplaceMechanism` uses for the same ε and
sensitivity, and its :attr:`~DiscreteLaplaceCounts.guarantee` is a :class:`veil.dp.Guarantee`,
so a release can be charged to a :class:`veil.dp.ledger.Ledger`. Privacy unit: one row
(add/remove). A table in which each row falls in exactly one cell has L1 sensitivity 1, so noise
of scale ``1/ε`` on every cell makes the whole table ε-DP (Dwork & Roth 2014, Thm 3.6).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from veil.dp import samplers
from veil.dp.guarantee import Guarantee
from veil.dp.ledger import Ledger
from veil.dp.mechanisms import LaplaceMechanism
from veil.errors import ConfigError, PrivacyError
from veil.field import Csprng

__all__ = [
    "CountMechanism",
    "DiscreteLaplaceCounts",
    "charged",
    "check_epsilon",
    "check_ledger",
    "count_mechanism",
]


def check_epsilon(epsilon: object, name: str = "epsilon") -> Fraction:
    """Return ``epsilon`` as an exact fraction, or raise PrivacyError unless it is finite and > 0.

    Floats are read as the decimal they print as (``0.1`` is 1/10), as in :mod:`veil.dp`.
    """
    try:  # the public constructor parses and checks it exactly as veil.dp does
        value = None if isinstance(epsilon, bool) else LaplaceMechanism(epsilon).epsilon
    except ConfigError:
        value = None
    if value is None:
        raise PrivacyError(
            f"{name} must be a finite number > 0; got {epsilon!r}",
            field=name,
            hint="typical values are 0.1 to 2; larger means less noise and less privacy",
        )
    return value


class CountMechanism(Protocol):
    """Release a table of non-negative integer counts with a stated ε."""

    @property
    def epsilon(self) -> float:
        """Privacy loss of one release."""
        ...

    @property
    def guarantee(self) -> Guarantee:
        """What one release costs (for a ledger), known before any data is seen."""
        ...

    def release(self, counts: np.ndarray, *, rng: Csprng | None = None) -> np.ndarray:
        """Return the counts with noise added (same shape, int64; may be negative)."""
        ...

    def simulate(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Return public draws from the noise distribution (for intervals; never for release)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return the mechanism, ε, scale, sensitivity and privacy unit, for the report."""
        ...


class DiscreteLaplaceCounts:
    """Discrete Laplace noise of scale ``sensitivity / epsilon`` on every count of a table.

    Parameters
    ----------
    epsilon : float, int, str or Fraction
        Privacy loss of one release, ``0 < epsilon``. A float is read as the decimal it prints
        as (``0.1`` is exactly 1/10), as everywhere in :mod:`veil.dp`.
    sensitivity : int, default=1
        L1 sensitivity of the table (1 when each row lands in one cell).

    Attributes
    ----------
    scale : Fraction
        Noise scale: P[z] ∝ exp(−|z|/scale); the standard deviation is ≈ √2·scale.
    guarantee : veil.dp.Guarantee
        ε-DP (δ = 0) for one row added or removed.

    Examples
    --------
    >>> from veil.field import Csprng
    >>> mech = DiscreteLaplaceCounts(epsilon=0.5)
    >>> mech.scale
    Fraction(2, 1)
    >>> mech.release(np.array([[10, 20], [30, 40]]), rng=Csprng(seed=bytes(32))).shape
    (2, 2)
    """

    def __init__(self, epsilon: float | int | str | Fraction, sensitivity: int = 1) -> None:
        exact = check_epsilon(epsilon)
        if isinstance(sensitivity, bool) or not isinstance(sensitivity, int) or sensitivity < 1:
            raise PrivacyError(
                f"sensitivity must be a positive integer; got {sensitivity!r}",
                field="sensitivity",
                hint="1 when each row falls in exactly one cell of the table",
            )
        try:
            self._mech = LaplaceMechanism(exact, l1_sensitivity=sensitivity)
        except ConfigError as exc:  # e.g. an epsilon too fine for 64-bit sampling
            raise PrivacyError(str(exc), field="epsilon", hint=exc.hint) from exc
        self.sensitivity = sensitivity

    @property
    def epsilon(self) -> float:
        """ε of one release, as a float (the exact value is ``guarantee.epsilon``)."""
        return float(self._mech.epsilon)

    @property
    def scale(self) -> Fraction:
        """Noise scale ``sensitivity / ε`` as an exact fraction (rounded up, never down)."""
        return self._mech.scale

    @property
    def guarantee(self) -> Guarantee:
        """ε-DP for one row added or removed; charge this to a ledger before releasing."""
        return self._mech.guarantee

    def release(self, counts: np.ndarray, *, rng: Csprng | None = None) -> np.ndarray:
        """Return ``counts`` plus independent exact discrete Laplace noise, as int64.

        Parameters
        ----------
        counts : array of integers, any shape
        rng : Csprng, optional
            A fresh OS-seeded stream when omitted; pass a seeded one only in tests.

        Raises
        ------
        PrivacyError
            If a count is not an integer (weighted counts have another sensitivity).
        """
        exact = np.asarray(counts)
        if exact.size and not np.array_equal(exact, np.round(exact)):
            raise PrivacyError(
                "only integer counts can be released with discrete noise",
                field="counts",
                hint="sample weights are not supported under epsilon=; drop them",
            )
        flat = np.round(exact).astype(np.int64).reshape(-1)
        noise = samplers.discrete_laplace(self.scale, flat.size, rng=rng)
        return (flat + noise).reshape(exact.shape)

    def simulate(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Return public draws of the same noise (difference of two geometrics) for intervals."""
        p = -math.expm1(-1.0 / float(self.scale))
        return rng.geometric(p, size=shape) - rng.geometric(p, size=shape)

    def describe(self) -> dict[str, Any]:
        """Return what was released and how, for the audit report."""
        return {
            "mechanism": "discrete Laplace (veil.dp exact sampler, CSPRNG)",
            "epsilon": self.epsilon,
            "scale": float(self.scale),
            "sensitivity": self.sensitivity,
            "privacy_unit": str(self.guarantee.unit),
        }

    def __repr__(self) -> str:
        return f"DiscreteLaplaceCounts(epsilon={self.epsilon!r}, sensitivity={self.sensitivity})"


def count_mechanism(epsilon: float | Fraction, *, sensitivity: int = 1) -> CountMechanism:
    """Return the default count mechanism for a release of loss ``epsilon``."""
    return DiscreteLaplaceCounts(epsilon=epsilon, sensitivity=sensitivity)


def check_ledger(ledger: Ledger | str | Path | None, dataset: str | None, private: bool) -> None:
    """Raise ConfigError unless ``ledger`` and ``dataset`` come together, and only with ε."""
    if (ledger is None) != (dataset is None) or (ledger is not None and not private):
        raise ConfigError(
            "ledger= and dataset= go together, and only with epsilon=",
            field="dataset" if dataset is None else "ledger",
            hint="name the ledger and the dataset whose budget pays for an epsilon= release",
        )


@contextmanager
def charged(
    ledger: Ledger | str | Path | None, dataset: str | None, guarantee: Guarantee, what: str
) -> Iterator[dict[str, Any]]:
    """Charge ``guarantee`` to ``dataset`` before the block runs; report what remains after.

    Without a ledger the block just runs. With one, the charge is durable before the block
    starts (:meth:`veil.dp.ledger.Ledger.charge`), is marked revealed when the block ends and
    failed if it raises (the budget stays spent either way: privacy is never at risk). The
    yielded dict is filled afterwards with ``path``, ``dataset``, ``charge_id``,
    ``remaining_epsilon`` and ``remaining_delta``.

    Raises
    ------
    BudgetExhausted
        The charge does not fit; the block does not run and nothing is recorded.
    """
    info: dict[str, Any] = {}
    if ledger is None:
        yield info
        return
    with ExitStack() as stack:
        book = ledger if isinstance(ledger, Ledger) else stack.enter_context(Ledger(ledger))
        charge_id = book.charge(str(dataset), guarantee, what)
        try:
            yield info
        except BaseException as exc:
            book.finish(charge_id, revealed=False, note=f"{type(exc).__name__}: {exc}")
            raise
        book.finish(charge_id, revealed=True)
        left = book.budget(str(dataset))
        info.update(
            path=book.path,
            dataset=dataset,
            charge_id=charge_id,
            remaining_epsilon=float(left.remaining_epsilon),
            remaining_delta=float(left.remaining_delta),
        )
