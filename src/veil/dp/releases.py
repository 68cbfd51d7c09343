"""Private statistics on one party's data: count, sum, mean, variance, histogram, quantiles, group-by.

Each statistic is a :class:`~veil.dp.mechanisms.Mechanism`: build it with the privacy parameters
and the public bounds, read its ``.guarantee``, then ``.release(data)``. The sensitivity is
derived, never asked for:

=============  ======================================  ==========================================
statistic      exact answer (per person ≤ k rows)      sensitivity (add/remove one person)
=============  ======================================  ==========================================
Count          rows                                    k
Sum            Σ clamp(x, a, b), on the grid g·ℤ       k · max(|a|, |b|)
Mean           (Σ (x − c)) / (valid count) + c         count k, centred sum k·(b − a)/2; ε/2 each
Variance       from count, Σ(x−c), Σ(x−c)²             k, k·(b−a)/2, k·((b−a)/2)²; ε/3 each
Histogram      count per bin (or category)             ℓ1 = k
Quantiles      exponential mechanism on a grid         k · max(α, 1 − α) per quantile, ε/m each
GroupBy        count / sum per key                     m partitions × c rows (× max(|a|,|b|))
=============  ======================================  ==========================================

Real values are clamped to ``bounds=(a, b)`` and rounded to a power-of-two grid (default
``2**-20``, coarser only when the bounds are huge), so the noisy answer is an exact integer
multiple of the granularity (see :mod:`veil.dp.mechanisms`). A sum without bounds would have
unbounded sensitivity — one person could add 10**300 — and is refused with
:class:`~veil.errors.PrivacyError`, not computed.

Data may be a numpy array, a list, a pandas Series or DataFrame (with ``column=``), or a
:class:`veil.dp.sources.Table` (CSV/Parquet through DuckDB, streamed: larger than memory is fine).
``person=`` (a column name or an array of identifiers) makes the release bound each person's rows
to ``max_contributions``; without it each row is taken to be a person contributing at most
``max_contributions`` rows, as the caller asserts. Missing values (NaN) count as rows for
:class:`Count` and are skipped by the other statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from veil.dp import _kernels as K
from veil.dp._numbers import probability
from veil.dp._release_base import (
    SQUARE_BITS,
    GridStatistic,
    ReleaseBase,
    bounds_of,
    noise_for,
    split_budget,
)
from veil.dp.groupby import GroupBy
from veil.dp.guarantee import Guarantee, Release
from veil.dp.selection import _exact_gaps, _first_accepted
from veil.errors import ConfigError
from veil.field import Csprng

__all__ = ["Count", "GroupBy", "Histogram", "Mean", "Quantiles", "Sum", "Variance"]


# ----- count and the grid statistics -------------------------------------------------------


class Count(ReleaseBase):
    """Count rows with noise: sensitivity = rows per person.

    Parameters
    ----------
    epsilon : rational > 0
    delta : rational, optional
        Needed for ``noise="gaussian"``.
    noise : {"laplace", "gaussian"}, default="laplace"
    column : str, optional
        Ignored for counting rows (kept for a uniform call on tables).
    person : str or array-like, optional
        Identifiers; each person's rows are bounded to ``max_contributions``.
    max_contributions : int, default=1

    Examples
    --------
    >>> from veil.field import Csprng
    >>> r = Count(epsilon=1).release(range(1000), rng=Csprng(seed=bytes(32)))
    >>> r.mechanism, float(r.epsilon)
    ('count: discrete Laplace, scale 1', 1.0)
    """

    statistic = "count"

    def __init__(self, epsilon: object, **kwargs: Any) -> None:
        super().__init__(epsilon, **kwargs)
        self._mech = noise_for(
            self.noise, self.epsilon, self.delta, Fraction(self.max_contributions), self.unit
        )
        self._parts = [self._mech]
        self.sensitivities = {"count": Fraction(self.max_contributions)}

    def _exact(self, data: Any, rng: Csprng) -> int:
        if isinstance(data, range):
            data = np.arange(data.start, data.stop, data.step)
        inp = self._input(data, rng, need_values=False)
        if inp.table is not None:
            return inp.table.count_rows(inp.person_column, self.max_contributions)
        return inp.n_rows

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        noisy = self._mech.release(self._exact(data, source), rng=source)
        return Release(
            int(noisy.value),
            self.guarantee,
            self.description,
            {"sensitivity": self.max_contributions},
        )

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.int64]:
        """Return ``size`` independent releases (for audits; each costs the guarantee)."""
        source = rng or Csprng()
        out: npt.NDArray[np.int64] = self._mech.sample(self._exact(data, source), size, rng=source)
        return out


class Sum(GridStatistic):
    """Sum values clamped to ``bounds`` with noise: sensitivity k·max(|a|, |b|).

    Parameters
    ----------
    epsilon : rational > 0
    bounds : (lower, upper)
        Public clamping range; required (an unbounded sum raises :class:`PrivacyError`).
    granularity : power of two, optional
        Grid of the released value; default 2**-20 (coarser for huge bounds).
    delta, noise, column, person, max_contributions
        As for :class:`Count`.

    Examples
    --------
    >>> from veil.field import Csprng
    >>> s = Sum(epsilon=1, bounds=(0, 100))
    >>> float(s.sensitivity)
    100.0
    >>> round(s.release([10.0, 20.0, 30.0], rng=Csprng(seed=bytes(32))).value) in range(-1000, 1100)
    True
    """

    statistic = "sum"

    def __init__(self, epsilon: object, **kwargs: Any) -> None:
        super().__init__(epsilon, **kwargs)
        grid_sens = Fraction(self.max_contributions * self._max_abs)
        self.sensitivity = grid_sens * self.granularity
        self._mech = noise_for(self.noise, self.epsilon, self.delta, grid_sens, self.unit)
        self._parts = [self._mech]
        self.sensitivities = {"sum": self.sensitivity}

    def _exact(self, data: Any, rng: Csprng) -> int:
        return self._moments(data, rng, 0, False).s1

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        noisy = self._mech.release(self._exact(data, source), rng=source)
        value = float(noisy.value) * float(self.granularity)
        return Release(
            value,
            self.guarantee,
            self.description,
            {**self._details(), "sensitivity": self.sensitivity},
        )

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.float64]:
        """Return ``size`` independent releases (for audits; each costs the guarantee)."""
        source = rng or Csprng()
        ints = self._mech.sample(self._exact(data, source), size, rng=source)
        return np.asarray(ints, dtype=np.float64) * float(self.granularity)


class Mean(GridStatistic):
    """Mean of values clamped to ``bounds``: noisy centred sum over noisy count, ε/2 each.

    The sum is taken around the midpoint c of the bounds, so its sensitivity is k·(b − a)/2
    rather than k·max(|a|, |b|); the result is c + S/N clamped to the bounds (post-processing).
    """

    statistic = "mean"

    def __init__(self, epsilon: object, **kwargs: Any) -> None:
        super().__init__(epsilon, **kwargs)
        eps, delta = split_budget(self.epsilon, self.delta, 2)
        k = self.max_contributions
        self._count = noise_for(self.noise, eps, delta, Fraction(k), self.unit)
        self._sum = noise_for(self.noise, eps, delta, Fraction(k * self._half), self.unit)
        self._parts = [self._count, self._sum]
        g = self.granularity
        self.sensitivities = {"count": Fraction(k), "centred_sum": k * self._half * g}

    def _finish(
        self, n: npt.NDArray[np.int64], s: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        g = float(self.granularity)
        mean = (self._center + s / np.maximum(n, 1)) * g
        return np.clip(mean, float(self.lower), float(self.upper))

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        m = self._moments(data, source, self._center, False)
        n = self._count.release(m.n_valid, rng=source).value
        s = self._sum.release(m.s1, rng=source).value
        value = float(self._finish(np.array([n]), np.array([s]))[0])
        return Release(value, self.guarantee, self.description, self._details())

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.float64]:
        """Return ``size`` independent releases (for audits; each costs the guarantee)."""
        source = rng or Csprng()
        m = self._moments(data, source, self._center, False)
        return self._finish(
            self._count.sample(m.n_valid, size, rng=source),
            self._sum.sample(m.s1, size, rng=source),
        )


class Variance(GridStatistic):
    """Sample variance (ddof = 1) of values clamped to ``bounds``, from three noisy sums, ε/3 each.

    N, S1 = Σ(v − c) and S2 = Σ(v − c)² with c the grid midpoint; the estimate
    (S2 − S1²/N)/(N − 1) is clamped to [0, (b − a)²/2].
    """

    statistic = "variance"
    bits = SQUARE_BITS

    def __init__(self, epsilon: object, **kwargs: Any) -> None:
        super().__init__(epsilon, **kwargs)
        eps, delta = split_budget(self.epsilon, self.delta, 3)
        k, h = self.max_contributions, self._half
        self._count = noise_for(self.noise, eps, delta, Fraction(k), self.unit)
        self._s1 = noise_for(self.noise, eps, delta, Fraction(k * h), self.unit)
        self._s2 = noise_for(self.noise, eps, delta, Fraction(k * h * h), self.unit)
        self._parts = [self._count, self._s1, self._s2]
        g = self.granularity
        self.sensitivities = {
            "count": Fraction(k),
            "centred_sum": k * h * g,
            "centred_sum_of_squares": k * h * h * g * g,
        }

    def _finish(self, n: Any, s1: Any, s2: Any) -> npt.NDArray[np.float64]:
        g2 = float(self.granularity) ** 2
        nf = np.maximum(np.asarray(n, dtype=np.float64), 2.0)
        s1f, s2f = np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
        var = (s2f - s1f * s1f / nf) / (nf - 1) * g2
        out: npt.NDArray[np.float64] = np.clip(var, 0.0, float((self.upper - self.lower) ** 2) / 2)
        return out

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        m = self._moments(data, source, self._center, True)
        n = self._count.release(m.n_valid, rng=source).value
        s1 = self._s1.release(m.s1, rng=source).value
        s2 = self._s2.release(m.s2, rng=source).value
        return Release(
            float(self._finish(n, s1, s2)), self.guarantee, self.description, self._details()
        )

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.float64]:
        """Return ``size`` independent releases (for audits; each costs the guarantee)."""
        source = rng or Csprng()
        m = self._moments(data, source, self._center, True)
        return self._finish(
            self._count.sample(m.n_valid, size, rng=source),
            self._s1.sample(m.s1, size, rng=source),
            self._s2.sample(m.s2, size, rng=source),
        )


# ----- histogram and quantiles -------------------------------------------------------------


class Histogram(ReleaseBase):
    """Noisy counts per bin: equal-width bins over ``bounds``, or public ``categories``.

    Parameters
    ----------
    epsilon : rational > 0
    bounds : (lower, upper), optional
        With ``bins``: equal-width numeric bins; values outside are clamped into the end bins.
    bins : int, default=10
    categories : sequence, optional
        Public category values instead of numeric bins; rows with other values are not counted.
    delta, noise, column, person, max_contributions
        As for :class:`Count`. The ℓ1 (and ℓ2) sensitivity is k: one person's k rows move at
        most k counts by one.

    Attributes
    ----------
    edges : ndarray or None
        Bin edges for numeric bins.
    """

    statistic = "histogram"

    def __init__(
        self,
        epsilon: object,
        *,
        bounds: Any = None,
        bins: int = 10,
        categories: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(epsilon, **kwargs)
        self.categories = None if categories is None else list(categories)
        if self.categories is None:
            self.lower, self.upper = bounds_of(bounds, "histogram")
            if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
                raise ConfigError(f"bins must be an integer >= 1, got {bins!r}", field="bins")
            self.bins = bins
            self.edges: npt.NDArray[np.float64] | None = np.linspace(
                float(self.lower), float(self.upper), bins + 1
            )
        else:
            if not self.categories or len(set(self.categories)) != len(self.categories):
                raise ConfigError("categories must be a non-empty list of distinct values")
            self.bins = len(self.categories)
            self.edges = None
        self._mech = noise_for(
            self.noise,
            self.epsilon,
            self.delta,
            Fraction(self.max_contributions),
            self.unit,
            self.bins,
        )
        self._parts = [self._mech]
        self.sensitivities = {"counts_l1": Fraction(self.max_contributions)}

    def _exact(self, data: Any, rng: Csprng) -> npt.NDArray[np.int64]:
        inp = self._input(data, rng)
        if inp.table is not None:
            assert inp.column is not None
            if self.categories is not None:
                return inp.table.category_counts(
                    inp.column, self.categories, inp.person_column, self.max_contributions
                )
            return inp.table.bin_counts(
                inp.column,
                float(self.lower),
                float(self.upper),
                self.bins,
                inp.person_column,
                self.max_contributions,
            )
        assert inp.values is not None
        if self.categories is not None:
            index = pd.Index(self.categories).get_indexer(pd.Series(inp.values))
            return np.bincount(index[index >= 0], minlength=self.bins).astype(np.int64)
        return K.bin_counts(inp.values, float(self.lower), float(self.upper), self.bins)

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        noisy = self._mech.release(self._exact(data, source), rng=source).value
        details: dict[str, Any] = {"sensitivity": self.max_contributions}
        if self.edges is not None:
            details["edges"] = self.edges
        else:
            details["categories"] = self.categories
        return Release(np.asarray(noisy), self.guarantee, self.description, details)

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.int64]:
        """Return ``size`` independent releases, shape ``(size, bins)`` (for audits)."""
        source = rng or Csprng()
        out: npt.NDArray[np.int64] = self._mech.sample(self._exact(data, source), size, rng=source)
        return out


class Quantiles(ReleaseBase):
    """Quantiles by the exponential mechanism over a grid of candidates in ``bounds``.

    For a quantile α = p/q and candidate cⱼ the score is −|(q − p)·Lⱼ − p·Gⱼ|, with Lⱼ (Gⱼ) the
    number of values below (at or above) cⱼ; one row moves one of Lⱼ, Gⱼ by one, so the
    sensitivity is k·max(p, q − p). Each of the m quantiles gets ε/m.

    Parameters
    ----------
    epsilon : rational > 0
    bounds : (lower, upper)
    quantiles : sequence of rationals in (0, 1), default=(0.5,)
    candidates : int, default=1001
        Candidates cⱼ = a + j(b − a)/(candidates − 1); the answer's resolution.
    column, person, max_contributions
        As for :class:`Count` (the exponential mechanism is pure ε-DP; no delta).

    Examples
    --------
    >>> from veil.field import Csprng
    >>> q = Quantiles(epsilon=1, bounds=(0, 100), quantiles=[0.5])
    >>> median = q.release(np.arange(10_000) % 100, rng=Csprng(seed=bytes(32))).value[0]
    >>> 45 <= median <= 55
    True
    """

    statistic = "quantiles"

    def __init__(
        self,
        epsilon: object,
        *,
        bounds: Any = None,
        quantiles: Sequence[object] = (0.5,),
        candidates: int = 1001,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("noise", "laplace") != "laplace":
            raise ConfigError("quantiles use the exponential mechanism; noise= does not apply")
        super().__init__(epsilon, **kwargs)
        self.lower, self.upper = bounds_of(bounds, "quantile")
        self.quantiles = [probability(q, "quantile", open_interval=True) for q in quantiles]
        if not self.quantiles:
            raise ConfigError("quantiles must not be empty", field="quantiles")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 2:
            raise ConfigError(
                f"candidates must be an integer >= 2, got {candidates!r}", field="candidates"
            )
        self.candidates = np.linspace(float(self.lower), float(self.upper), candidates)
        self._eps_each = self.epsilon / len(self.quantiles)
        self.sensitivities = {
            f"score_{float(q):g}": Fraction(
                self.max_contributions * max(q.numerator, q.denominator - q.numerator)
            )
            for q in self.quantiles
        }
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, self.unit)

    @property
    def description(self) -> str:
        return f"quantiles: exponential mechanism over {self.candidates.size} candidates"

    def _bins(self, data: Any, rng: Csprng) -> npt.NDArray[np.int64]:
        inp = self._input(data, rng)
        n_bins = self.candidates.size - 1
        if inp.table is not None:
            assert inp.column is not None
            return inp.table.bin_counts(
                inp.column,
                float(self.lower),
                float(self.upper),
                n_bins,
                inp.person_column,
                self.max_contributions,
            )
        assert inp.values is not None
        return K.bin_counts(inp.values, float(self.lower), float(self.upper), n_bins)

    def _indices(
        self, counts: npt.NDArray[np.int64], size: int, rng: Csprng
    ) -> list[npt.NDArray[np.int64]]:
        below = np.concatenate([[0], np.cumsum(counts)])  # L_j for candidate j = 0..K
        total = int(below[-1])
        out = []
        for alpha in self.quantiles:
            p, q = alpha.numerator, alpha.denominator
            scores = -np.abs((q - p) * below - p * (total - below))
            sens = self.max_contributions * max(p, q - p)
            gaps, den = _exact_gaps(scores, self._eps_each / (2 * sens))
            out.append(_first_accepted(rng, gaps, den, size))
        return out

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        source = rng or Csprng()
        picks = self._indices(self._bins(data, source), 1, source)
        values = [float(self.candidates[int(p[0])]) for p in picks]
        return Release(
            values,
            self.guarantee,
            self.description,
            {
                "quantiles": [float(q) for q in self.quantiles],
                "bounds": [float(self.lower), float(self.upper)],
            },
        )

    def sample(self, data: Any, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.float64]:
        """Return ``size`` independent releases, shape ``(size, len(quantiles))`` (for audits)."""
        source = rng or Csprng()
        picks = self._indices(self._bins(data, source), size, source)
        return np.stack([self.candidates[p] for p in picks], axis=1)
