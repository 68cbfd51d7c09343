"""Shared plumbing of the private statistics: inputs, bounds, grids, noise, the base class."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from veil.dp import _kernels as K
from veil.dp._numbers import as_fraction, positive_fraction, probability
from veil.dp.accountant import sequential
from veil.dp.guarantee import Guarantee, PrivacyUnit
from veil.dp.mechanisms import GaussianMechanism, LaplaceMechanism, Mechanism, check_granularity
from veil.dp.sources import Table
from veil.errors import ConfigError, DataError, PrivacyError
from veil.field import Csprng

__all__ = [
    "DEFAULT_GRID_EXPONENT",
    "GRID_BITS",
    "SQUARE_BITS",
    "GridStatistic",
    "ReleaseBase",
    "bounds_of",
    "column_of",
    "grid_of",
    "noise_for",
    "resolve_input",
    "split_budget",
    "unit_for",
]

#: Finest default grid: 2**-20 ≈ 1e-6.
DEFAULT_GRID_EXPONENT = -20
# Grid values must stay below 2**36 in magnitude (chunks of 2**17 rows then sum exactly in float64).
GRID_BITS = 36
# For variances the squares must stay below 2**46 (chunks of 2**17 squares sum within int64).
SQUARE_BITS = 23


@dataclass
class _Input:
    values: npt.NDArray[Any] | None
    n_rows: int
    table: Table | None
    column: str | None
    person_column: str | None


def column_of(data: Any, name: str, role: str) -> Any:
    try:
        return data[name]
    except (KeyError, IndexError) as exc:
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else list(data)
        raise DataError(
            f"{role} {name!r} is not in the data; columns are {cols}", field=name
        ) from exc


def resolve_input(
    data: Any,
    column: str | None,
    person: Any,
    max_rows: int,
    rng: Csprng,
    *,
    need_values: bool = True,
) -> _Input:
    """Turn ``data`` into values (numpy) or a Table, bounding rows per person on the numpy path."""
    if isinstance(data, Table):
        if need_values and column is None:
            raise ConfigError("pass column= to say which column of the table to use")
        if person is not None and not isinstance(person, str):
            raise ConfigError("with a Table, person= must name a column")
        if column is not None:
            data.check_column(column)
        return _Input(None, -1, data, column, person)
    frame_like = isinstance(data, pd.DataFrame | Mapping)
    if frame_like:
        if need_values and column is None:
            raise ConfigError("pass column= to say which column of the data frame to use")
        values = None if column is None else np.asarray(column_of(data, column, "column"))
        if values is None:
            first = next(iter(data.values())) if isinstance(data, Mapping) else data.index
            n = len(first)
        else:
            n = values.shape[0]
        person_values = (
            column_of(data, person, "person column") if isinstance(person, str) else person
        )
    else:
        if column is not None:
            raise ConfigError("column= applies to data frames and tables; pass the values directly")
        if isinstance(person, str):
            raise ConfigError(
                f"person={person!r} names a column, but the data is a plain array",
                hint="pass a DataFrame or Table, or person= as an array of identifiers",
            )
        values = np.asarray(data)
        if values.ndim != 1:
            raise DataError(f"values must be one-dimensional, got shape {values.shape}")
        n = values.shape[0]
        person_values = person
    if person_values is not None:
        ids = np.ravel(np.asarray(person_values, dtype=object))
        if ids.shape[0] != n:
            raise DataError(f"person has {ids.shape[0]} entries for {n} rows")
        keep = K.bound_contributions(ids, max_rows, rng)
        values = None if values is None else values[keep]
        n = int(keep.sum())
    return _Input(values, n, None, column, None)


def unit_for(person: Any, max_contributions: int) -> PrivacyUnit:
    if (
        isinstance(max_contributions, bool)
        or not isinstance(max_contributions, int)
        or max_contributions < 1
    ):
        raise ConfigError(
            f"max_contributions must be an integer >= 1, got {max_contributions!r}",
            field="max_contributions",
        )
    if person is None:
        return PrivacyUnit(max_contributions=max_contributions)
    return PrivacyUnit(
        max_contributions=None, identifier=person if isinstance(person, str) else "person"
    )


def noise_for(
    noise: str,
    epsilon: Fraction,
    delta: Fraction | None,
    sensitivity: Fraction,
    unit: PrivacyUnit,
    dimension: int = 1,
) -> LaplaceMechanism | GaussianMechanism:
    if noise == "laplace":
        return LaplaceMechanism(epsilon, sensitivity, dimension=dimension, unit=unit)
    if noise == "gaussian":
        if delta is None:
            raise ConfigError("noise='gaussian' needs delta=", field="delta")
        return GaussianMechanism(epsilon, delta, sensitivity, dimension=dimension, unit=unit)
    raise ConfigError(f"noise must be 'laplace' or 'gaussian', got {noise!r}", field="noise")


def bounds_of(bounds: Any, statistic: str) -> tuple[Fraction, Fraction]:
    if bounds is None:
        raise PrivacyError(
            f"a private {statistic} needs bounds: without them one person could add an "
            "arbitrarily large value (say 10**300), so the sensitivity, and the noise needed to "
            "hide that person, would be unbounded",
            hint="pass bounds=(lower, upper) (--bounds LOWER UPPER on the command line); "
            "each value is clamped into them first",
            field="bounds",
        )
    try:
        lo_raw, hi_raw = bounds
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bounds must be a pair (lower, upper), got {bounds!r}") from exc
    lo, hi = as_fraction(lo_raw, "lower bound"), as_fraction(hi_raw, "upper bound")
    if not lo < hi:
        raise ConfigError(f"bounds must satisfy lower < upper, got {bounds!r}", field="bounds")
    return lo, hi


def grid_of(granularity: Any, magnitude: Fraction, bits: int) -> Fraction:
    """Return the granularity: the given power of two, or the finest default that keeps sums exact."""
    limit = Fraction(1 << bits)
    if granularity is not None:
        g = check_granularity(granularity)
        if magnitude / g >= limit:
            raise ConfigError(
                f"granularity {granularity} is too fine for values up to {float(magnitude):g}",
                hint=f"use a granularity of at least 2**{math.ceil(math.log2(magnitude / limit)) + 1}",
                field="granularity",
            )
        return g
    exponent = DEFAULT_GRID_EXPONENT
    while magnitude / Fraction(2) ** exponent >= limit:
        exponent += 1
    return Fraction(2) ** exponent


def split_budget(
    epsilon: Fraction, delta: Fraction | None, parts: int
) -> tuple[Fraction, Fraction | None]:
    return epsilon / parts, None if delta is None else delta / parts


class ReleaseBase(Mechanism):
    """Shared parameters: privacy budget, noise kind, column, contribution bounds."""

    statistic = "statistic"

    def __init__(
        self,
        epsilon: object,
        *,
        delta: object = None,
        noise: str = "laplace",
        column: str | None = None,
        person: Any = None,
        max_contributions: int = 1,
    ) -> None:
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.delta = None if delta is None else probability(delta, "delta", open_interval=True)
        if noise not in ("laplace", "gaussian"):
            raise ConfigError(
                f"noise must be 'laplace' or 'gaussian', got {noise!r}", field="noise"
            )
        if noise == "gaussian" and self.delta is None:
            raise ConfigError("noise='gaussian' needs delta= (for example 1e-6)", field="delta")
        self.noise = noise
        self.column = column
        self.person = person
        self.max_contributions = max_contributions
        self.unit = unit_for(person, max_contributions)
        self._parts: list[Mechanism] = []
        #: Sensitivity of each noisy part, in the data's units (derived, never asked for).
        self.sensitivities: dict[str, Fraction] = {}

    @property
    def guarantee(self) -> Guarantee:
        """The parts' guarantees composed sequentially (or the one set by the subclass)."""
        if self._parts:
            return sequential(*(m.guarantee for m in self._parts))
        return self._guarantee

    @property
    def description(self) -> str:
        return f"{self.statistic}: " + "; ".join(m.description for m in self._parts)

    def _input(self, data: Any, rng: Csprng, need_values: bool = True) -> _Input:
        return resolve_input(
            data, self.column, self.person, self.max_contributions, rng, need_values=need_values
        )


class GridStatistic(ReleaseBase):
    """A statistic of values clamped to bounds and rounded to a power-of-two grid."""

    bits = GRID_BITS

    def __init__(
        self, epsilon: object, *, bounds: Any = None, granularity: Any = None, **kwargs: Any
    ) -> None:
        super().__init__(epsilon, **kwargs)
        self.lower, self.upper = bounds_of(bounds, self.statistic)
        magnitude = max(abs(self.lower), abs(self.upper), self.upper - self.lower)
        if self.bits == SQUARE_BITS:
            magnitude = (self.upper - self.lower) / 2
        self.granularity = grid_of(granularity, magnitude, self.bits)
        g = self.granularity
        self._lo_grid = math.floor(self.lower / g)
        self._hi_grid = math.ceil(self.upper / g)
        self._center = (self._lo_grid + self._hi_grid) // 2
        self._half = max(self._hi_grid - self._center, self._center - self._lo_grid)
        self._max_abs = max(abs(self._lo_grid), abs(self._hi_grid))

    def _moments(self, data: Any, rng: Csprng, center: int, squares: bool) -> K.GridMoments:
        inp = self._input(data, rng)
        lo, hi, inv_g = float(self.lower), float(self.upper), float(1 / self.granularity)
        if inp.table is not None:
            assert inp.column is not None
            return inp.table.grid_moments(
                inp.column,
                lo,
                hi,
                inv_g,
                center,
                squares,
                inp.person_column,
                self.max_contributions,
            )
        assert inp.values is not None
        return K.grid_moments(inp.values, lo, hi, inv_g, center, squares)

    def _details(self) -> dict[str, Any]:
        return {
            "bounds": [float(self.lower), float(self.upper)],
            "granularity": self.granularity,
            "sensitivities": {k: float(v) for k, v in self.sensitivities.items()},
        }
