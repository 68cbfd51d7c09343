"""Additive-noise mechanisms as objects: state the guarantee first, then release.

Every mechanism is built from public parameters only; its constructor checks them all, so
``release`` cannot fail halfway on any input of the right type. ``.guarantee`` says what a release
costs before any data is touched (in the spirit of OpenDP's measurements), and :func:`compose`
combines mechanisms explicitly.

* :class:`LaplaceMechanism` — ε-DP for a (vector) query of ℓ1 sensitivity Δ. Integer answers get
  discrete Laplace noise of scale Δ/ε ([CKS20] Algorithm 2; P[z] ∝ exp(−ε|z|/Δ)).
* :class:`GaussianMechanism` — (ε, δ)-DP for a query of ℓ2 sensitivity Δ, with discrete Gaussian
  noise calibrated analytically (:func:`veil.dp.calibration.calibrate_discrete_gaussian`).

Real-valued answers (``granularity=2**-k``) are first rounded to the grid ``granularity·ℤ``,
then integer noise is added in grid units, and the result is scaled back: the output is always a
multiple of the granularity, so its low-order bits carry no information about the input (the
flaw Mironov 2012 found in floating-point Laplace). Rounding can move neighbouring answers apart
by up to one extra grid step per coordinate, and that step is charged: the grid sensitivity is
``⌊Δ/g⌋ + 1`` for one coordinate, ``Δ/g + d`` (ℓ1) or ``Δ/g + √d`` (ℓ2) for ``d`` coordinates.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from veil.dp import samplers
from veil.dp._numbers import positive_fraction, probability
from veil.dp.accountant import sequential
from veil.dp.calibration import calibrate_discrete_gaussian
from veil.dp.guarantee import Guarantee, PrivacyUnit, Release, fraction_at_least
from veil.errors import ConfigError, DataError
from veil.field import Csprng

__all__ = [
    "Composed",
    "GaussianMechanism",
    "LaplaceMechanism",
    "Mechanism",
    "check_granularity",
    "compose",
    "simplify_scale_up",
]

_MAX_GRID_VALUE = float(1 << 62)


class Mechanism(ABC):
    """A randomized algorithm with a stated differential-privacy guarantee.

    Subclasses check every parameter in ``__init__`` and set ``_guarantee`` there; ``guarantee``
    and ``description`` never touch data; ``release`` returns a
    :class:`~veil.dp.guarantee.Release` holding the noisy value and the guarantee it was
    produced under.
    """

    _guarantee: Guarantee

    @property
    def guarantee(self) -> Guarantee:
        """What one release costs, known before any data is seen (set by the constructor)."""
        return self._guarantee

    @property
    @abstractmethod
    def description(self) -> str:
        """The mechanism and its noise, e.g. ``"discrete Laplace, scale 2"``."""

    @abstractmethod
    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Release a noisy answer on ``data``; each call costs :attr:`guarantee`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.description}; {self.guarantee}>"


def compose(*mechanisms: Mechanism) -> Composed:
    """Return one mechanism running all of ``mechanisms`` on the same data (sequential composition).

    Examples
    --------
    >>> both = compose(LaplaceMechanism(0.5), LaplaceMechanism(0.25))
    >>> both.guarantee.epsilon
    Fraction(3, 4)
    """
    return Composed(mechanisms)


class Composed(Mechanism):
    """Several mechanisms released together on the same data; the guarantees add up.

    ``release(data)`` returns a :class:`Release` whose value is the tuple of the parts' values;
    the parts' own releases are in ``details["parts"]``.
    """

    def __init__(self, mechanisms: tuple[Mechanism, ...] | list[Mechanism]) -> None:
        self.mechanisms = tuple(mechanisms)
        if not self.mechanisms:
            raise ConfigError("compose() needs at least one mechanism")
        self._guarantee = sequential(*(m.guarantee for m in self.mechanisms))

    @property
    def description(self) -> str:
        return "composition of " + "; ".join(m.description for m in self.mechanisms)

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng if rng is not None else Csprng()
        parts = [m.release(data, rng=source) for m in self.mechanisms]
        return Release(
            tuple(p.value for p in parts), self.guarantee, self.description, {"parts": parts}
        )


def check_granularity(granularity: object) -> Fraction:
    """Return ``granularity`` as a fraction, requiring a power of two (``2**k``, k any integer).

    Powers of two make ``x / g`` and ``k · g`` exact in binary floating point, so rounding to the
    grid is a deterministic function of the input with the sensitivity the docs state.
    """
    g = positive_fraction(granularity, "granularity")
    num, den = g.numerator, g.denominator
    if num & (num - 1) or den & (den - 1):
        raise ConfigError(
            f"granularity must be a power of two such as 2**-20, got {granularity!r}",
            field="granularity",
            hint="pick the nearest power of two below the resolution you need",
        )
    return g


def simplify_scale_up(scale: Fraction, max_denominator: int = 1 << 32) -> Fraction:
    """Return a fraction ``>= scale`` with a denominator of at most ``max_denominator``.

    More noise than asked for never weakens a guarantee, and smaller numbers keep sampling on the
    64-bit fast path.
    """
    if scale.denominator <= max_denominator:
        return scale
    return Fraction(math.ceil(scale * max_denominator), max_denominator)


def _to_grid(values: npt.ArrayLike, granularity: Fraction | None, name: str) -> npt.NDArray[Any]:
    arr = np.asarray(values)
    if granularity is None and arr.dtype == object:  # Python integers beyond 64 bits: stay exact
        if not all(isinstance(v, int | np.integer) for v in arr.reshape(-1).tolist()):
            raise DataError(f"{name} must hold integers", hint="pass granularity=2**-k for reals")
        return arr
    if granularity is None:
        if arr.dtype.kind not in "iub":
            raise DataError(
                f"{name} must hold integers, got dtype {arr.dtype}",
                hint="pass granularity=2**-k to release real numbers on a grid",
            )
        if arr.size and (int(arr.max()) >= 1 << 62 or int(arr.min()) <= -(1 << 62)):
            return arr.astype(object)  # too close to the int64 limit: add noise exactly in Python
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iufb":
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    real = arr.astype(np.float64)
    if not np.isfinite(real).all():
        raise DataError(f"{name} holds NaN or infinite values", hint="clean or clamp them first")
    scaled = np.rint(real / float(granularity))
    if scaled.size and float(np.abs(scaled).max()) >= _MAX_GRID_VALUE:
        raise DataError(
            f"{name} is too large for granularity {granularity}: |value/granularity| >= 2**62",
            hint="use a coarser granularity",
        )
    return scaled.astype(np.int64)


def _from_grid(ints: npt.NDArray[Any], granularity: Fraction | None) -> Any:
    out: Any = ints if granularity is None else ints.astype(np.float64) * float(granularity)
    return out


def _check_shape(shape: tuple[int, ...], dimension: int) -> None:
    size = int(np.prod(shape)) if shape else 1
    if size != dimension:
        raise DataError(
            f"the query answer has {size} coordinates, but the mechanism was built for "
            f"dimension={dimension}",
            hint="build the mechanism with the answer's dimension: its sensitivity depends on it",
        )


class _Additive(Mechanism):
    """Shared release logic: answer on the grid, add integer noise, scale back."""

    name = "additive"

    def __init__(self, granularity: object, dimension: int, unit: PrivacyUnit | None) -> None:
        self.granularity = None if granularity is None else check_granularity(granularity)
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ConfigError(
                f"dimension must be an integer >= 1, got {dimension!r}", field="dimension"
            )
        self.dimension = dimension
        self.unit = unit or PrivacyUnit()

    @abstractmethod
    def _noise(self, count: int, rng: Csprng) -> npt.NDArray[np.int64]: ...

    def _details(self) -> dict[str, Any]:
        return {"granularity": self.granularity}

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Release ``data`` (the exact query answer: a number or an array) with noise added."""
        ints = _to_grid(data, self.granularity, "the query answer")
        _check_shape(ints.shape, self.dimension)
        noisy = ints + self._noise(ints.size, rng or Csprng()).reshape(ints.shape)
        out = _from_grid(noisy, self.granularity)
        value = (out.item() if hasattr(out, "item") else out) if np.ndim(out) == 0 else out
        return Release(value, self.guarantee, self.description, self._details())

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> Any:
        """Return ``size`` independent releases of ``data``, shape ``(size, *answer.shape)``.

        For audits and simulations: publishing all of them costs ``size`` times the guarantee.
        """
        ints = _to_grid(data, self.granularity, "the query answer")
        _check_shape(ints.shape, self.dimension)
        noise = self._noise(ints.size * size, rng or Csprng()).reshape((size, *ints.shape))
        return _from_grid(ints + noise, self.granularity)


class LaplaceMechanism(_Additive):
    """Add discrete Laplace noise: ε-DP for a query of ℓ1 sensitivity Δ.

    Parameters
    ----------
    epsilon : rational > 0
        Privacy loss of one release.
    l1_sensitivity : rational > 0, default=1
        max ‖f(D) − f(D')‖₁ over neighbouring datasets, in the query's own units.
    granularity : power of two, optional
        For real-valued answers: the grid the output lies on (see the module docstring). ``None``
        means the answer is an integer (or integer array) and noise is added to it directly.
    dimension : int, default=1
        Number of coordinates of the answer (needed on a grid: rounding adds one step each).
    unit : PrivacyUnit, optional
        Whom Δ refers to; default one row.

    Attributes
    ----------
    scale : Fraction
        Noise scale in grid units: P[z] ∝ exp(−|z|/scale), the standard deviation is close to
        √2·scale (exactly √(2q)/(1 − q) with q = exp(−1/scale)).
    grid_sensitivity : Fraction
        The sensitivity in grid units, including the rounding step.

    Examples
    --------
    >>> from veil.field import Csprng
    >>> mech = LaplaceMechanism(epsilon=1, l1_sensitivity=1)
    >>> mech.guarantee.epsilon, mech.scale
    (Fraction(1, 1), Fraction(1, 1))
    >>> isinstance(mech.release(42, rng=Csprng(seed=bytes(32))).value, int)
    True
    """

    def __init__(
        self,
        epsilon: object,
        l1_sensitivity: object = 1,
        *,
        granularity: object = None,
        dimension: int = 1,
        unit: PrivacyUnit | None = None,
    ) -> None:
        super().__init__(granularity, dimension, unit)
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.l1_sensitivity = positive_fraction(l1_sensitivity, "l1_sensitivity")
        if self.granularity is None:
            self.grid_sensitivity = self.l1_sensitivity
        elif dimension == 1:
            self.grid_sensitivity = Fraction(math.floor(self.l1_sensitivity / self.granularity) + 1)
        else:
            self.grid_sensitivity = self.l1_sensitivity / self.granularity + dimension
        self.scale = simplify_scale_up(self.grid_sensitivity / self.epsilon)
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, self.unit)

    @property
    def description(self) -> str:
        return f"discrete Laplace, scale {float(self.scale):.6g}" + _grid_text(self.granularity)

    def _noise(self, count: int, rng: Csprng) -> npt.NDArray[np.int64]:
        return samplers.discrete_laplace(self.scale, count, rng=rng)

    def _details(self) -> dict[str, Any]:
        return {
            "granularity": self.granularity,
            "scale": self.scale * (self.granularity or 1),
            "l1_sensitivity": self.l1_sensitivity,
        }


class GaussianMechanism(_Additive):
    """Add discrete Gaussian noise: (ε, δ)-DP for a query of ℓ2 sensitivity Δ.

    Parameters
    ----------
    epsilon : rational > 0
    delta : rational in (0, 1)
    l2_sensitivity : rational > 0, default=1
        max ‖f(D) − f(D')‖₂ over neighbouring datasets.
    granularity : power of two, optional
        As for :class:`LaplaceMechanism`.
    dimension : int, default=1
        One coordinate uses the exact privacy profile of the discrete Gaussian ([CKS20] Thm 7, the
        analytic calibration of Balle & Wang 2018 carried over to the integers); several use the
        zCDP bound ρ = Δ²/(2σ²) ([CKS20] Thm 14) converted by [CKS20] Cor. 13.
    unit : PrivacyUnit, optional

    Attributes
    ----------
    sigma2 : Fraction
        σ² of the noise in grid units (P[z] ∝ exp(−z²/(2σ²))).
    rho : Fraction
        The noise's zCDP parameter, for :func:`veil.dp.accountant.zcdp` accounting.
    """

    def __init__(
        self,
        epsilon: object,
        delta: object,
        l2_sensitivity: object = 1,
        *,
        granularity: object = None,
        dimension: int = 1,
        unit: PrivacyUnit | None = None,
    ) -> None:
        super().__init__(granularity, dimension, unit)
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.delta = probability(delta, "delta", open_interval=True)
        self.l2_sensitivity = positive_fraction(l2_sensitivity, "l2_sensitivity")
        if self.granularity is None:
            grid = self.l2_sensitivity
        elif dimension == 1:
            grid = Fraction(math.floor(self.l2_sensitivity / self.granularity) + 1)
        else:
            grid = self.l2_sensitivity / self.granularity + fraction_at_least(math.sqrt(dimension))
        self.grid_sensitivity = grid
        self.sigma2, rho = calibrate_discrete_gaussian(
            float(self.epsilon), float(self.delta), float(grid), scalar=dimension == 1
        )
        self.rho = fraction_at_least(rho)
        self._guarantee = Guarantee(self.epsilon, self.delta, self.rho, self.unit)

    @property
    def sigma(self) -> float:
        """σ in the answer's own units (grid units times the granularity)."""
        return math.sqrt(float(self.sigma2)) * float(self.granularity or 1)

    @property
    def description(self) -> str:
        return f"discrete Gaussian, sigma {self.sigma:.6g}" + _grid_text(self.granularity)

    def _noise(self, count: int, rng: Csprng) -> npt.NDArray[np.int64]:
        return samplers.discrete_gaussian(self.sigma2, count, rng=rng)

    def _details(self) -> dict[str, Any]:
        return {
            "granularity": self.granularity,
            "sigma": self.sigma,
            "l2_sensitivity": self.l2_sensitivity,
        }


def _grid_text(granularity: Fraction | None) -> str:
    return "" if granularity is None else f" on the grid {float(granularity):g}·Z"
