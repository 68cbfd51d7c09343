"""Private group-by: noisy count and sum per group, with public keys or thresholded private keys."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from veil.dp import _kernels as K
from veil.dp._release_base import (
    ReleaseBase,
    bounds_of,
    column_of,
    grid_of,
    noise_for,
    split_budget,
)
from veil.dp.guarantee import Guarantee, Release
from veil.dp.mechanisms import GaussianMechanism, LaplaceMechanism
from veil.dp.sources import Table
from veil.errors import ConfigError
from veil.field import Csprng

__all__ = ["GroupBy"]


class GroupBy(ReleaseBase):
    """Noisy count and/or sum per group, with public keys or private keys chosen by thresholding.

    Parameters
    ----------
    epsilon : rational > 0
        Total for the whole table of groups (split equally between count and sum when both are
        asked for).
    by : str
        Column holding the group key.
    aggregates : sequence of {"count", "sum", "mean"}, default=("count",)
        "sum" and "mean" need ``column`` and ``bounds``; "mean" is sum/count (post-processing).
    keys : sequence, optional
        Public group keys (released even when empty, with noise). ``None``: keys are private and
        a group is released only if its noisy count clears a threshold τ chosen so that a group
        made by one person alone appears with probability at most ``delta`` (partition selection,
        Korolova et al. 2009, Wilson et al. 2020). Needs ``delta`` and Laplace noise.
    column : str, optional
        Value column for "sum"/"mean".
    bounds : (lower, upper), optional
    granularity : power of two, optional
    person : str or array-like, optional
        With it, each person keeps at most ``max_partitions`` groups and ``max_contributions``
        rows in each; without it each person is taken to contribute at most
        ``max_contributions`` rows in all.
    max_partitions : int, default=1
    delta, noise
        As for :class:`Count`.

    Notes
    -----
    Sensitivity of the count vector: ℓ1 = (groups per person) × (rows per group), so parallel
    composition across groups is built in: one ε covers every group.
    """

    statistic = "group-by"

    def __init__(
        self,
        epsilon: object,
        *,
        by: str,
        aggregates: Sequence[str] = ("count",),
        keys: Sequence[Any] | None = None,
        bounds: Any = None,
        granularity: Any = None,
        max_partitions: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(epsilon, **kwargs)
        self.by = by
        self.aggregates = tuple(aggregates)
        unknown = set(self.aggregates) - {"count", "sum", "mean"}
        if unknown or not self.aggregates:
            raise ConfigError(
                f"aggregates must be among 'count', 'sum', 'mean', got {list(self.aggregates)}",
                field="aggregates",
            )
        self.keys = None if keys is None else list(keys)
        if (
            isinstance(max_partitions, bool)
            or not isinstance(max_partitions, int)
            or max_partitions < 1
        ):
            raise ConfigError(f"max_partitions must be an integer >= 1, got {max_partitions!r}")
        self.max_partitions = max_partitions
        needs_sum = bool({"sum", "mean"} & set(self.aggregates))
        if needs_sum and self.column is None:
            raise ConfigError("aggregates 'sum' and 'mean' need column=", field="column")
        needs_count = "count" in self.aggregates or "mean" in self.aggregates or self.keys is None
        if self.keys is None:
            if self.delta is None:
                raise ConfigError(
                    "private keys (keys=None) need delta=: a group seen only because of one "
                    "person is released with probability at most delta",
                    field="delta",
                    hint="pass the public list of keys with keys=, or a small delta such as 1e-6",
                )
            if self.noise != "laplace":
                raise ConfigError("partition selection with private keys uses Laplace noise")
        k, m = self.max_contributions, self.max_partitions
        if self.person is None:
            self._l1_rows, self._per_group, self._groups_per_person = k, k, k
        else:
            self._l1_rows, self._per_group, self._groups_per_person = m * k, k, m
        parts = int(needs_count) + int(needs_sum)
        eps, delta = split_budget(self.epsilon, None if self.keys is None else self.delta, parts)
        n_dim = len(self.keys) if self.keys is not None else 1
        self._count = (
            noise_for(self.noise, eps, delta, Fraction(self._l1_rows), self.unit, n_dim)
            if needs_count
            else None
        )
        self._sum: LaplaceMechanism | GaussianMechanism | None = None
        if needs_sum:
            self.lower, self.upper = bounds_of(bounds, "group-by sum")
            self.granularity = grid_of(granularity, max(abs(self.lower), abs(self.upper)), 32)
            g = self.granularity
            self._lo_grid, self._hi_grid = math.floor(self.lower / g), math.ceil(self.upper / g)
            max_abs = max(abs(self._lo_grid), abs(self._hi_grid))
            self._sum = noise_for(
                self.noise, eps, delta, Fraction(self._l1_rows * max_abs), self.unit, n_dim
            )
        self._parts = [m_ for m_ in (self._count, self._sum) if m_ is not None]
        if self._count is not None:
            self.sensitivities["counts_l1"] = Fraction(self._l1_rows)
        if needs_sum:
            self.sensitivities["sums_l1"] = self._l1_rows * max_abs * self.granularity
        self.threshold: int | None = None
        if self.keys is None:
            assert self.delta is not None
            assert isinstance(self._count, LaplaceMechanism)
            scale = float(self._count.scale)
            tail = scale * math.log(self._groups_per_person / float(self.delta))
            self.threshold = self._per_group + math.ceil(tail * (1 + 1e-9)) + 1

    @property
    def guarantee(self) -> Guarantee:
        g = super().guarantee
        if self.keys is None:
            assert self.delta is not None
            return Guarantee(g.epsilon, self.delta, None, self.unit)
        return g

    def _exact(
        self, data: Any, rng: Csprng
    ) -> tuple[list[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        needs_sum = self._sum is not None
        lo = float(self.lower) if needs_sum else 0.0
        hi = float(self.upper) if needs_sum else 0.0
        inv_g = float(1 / self.granularity) if needs_sum else 1.0
        if isinstance(data, Table):
            keys, counts, sums = data.group_moments(
                self.by,
                self.column if needs_sum else None,
                lo,
                hi,
                inv_g,
                self.person if isinstance(self.person, str) else None,
                self.max_partitions,
                self.max_contributions,
            )
            if self.keys is None:
                return keys, counts, sums
            index = {k: i for i, k in enumerate(keys)}
            pick = np.array([index.get(k, -1) for k in self.keys], dtype=np.int64)
            found = pick >= 0
            c = np.zeros(len(self.keys), dtype=np.int64)
            s = np.zeros(len(self.keys), dtype=np.int64)
            c[found], s[found] = counts[pick[found]], sums[pick[found]]
            return list(self.keys), c, s
        key_values = np.asarray(column_of(data, self.by, "group-by column"))
        values = (
            np.asarray(column_of(data, self.column, "column"))
            if needs_sum and self.column
            else None
        )
        codes, key_list = K.group_codes(key_values, self.keys)
        if self.person is not None:
            ids = (
                column_of(data, self.person, "person column")
                if isinstance(self.person, str)
                else self.person
            )
            keep = K.bound_partitions(ids, codes, self.max_partitions, self.max_contributions, rng)
            codes = np.where(keep, codes, -1)
        counts, sums = K.group_moments(
            codes, len(key_list), values, lo, hi, inv_g, counts_needed=self._count is not None
        )
        return key_list, counts, sums

    def _noisy(
        self, counts: npt.NDArray[np.int64], sums: npt.NDArray[np.int64], rng: Csprng
    ) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.int64] | None]:
        nc = None
        if self._count is not None:
            nc = counts + self._count._noise(counts.size, rng)
        ns = None if self._sum is None else sums + self._sum._noise(sums.size, rng)
        return nc, ns

    def sample_counts(
        self, data: Any, size: int, *, rng: Csprng | None = None
    ) -> tuple[list[Any], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Return keys, ``size`` independent noisy count vectors and which groups each releases.

        For audits: shapes ``(size, n_keys)``; every row costs the guarantee.
        """
        if self._count is None:
            raise ConfigError("sample_counts needs the count aggregate")
        source = rng or Csprng()
        keys, counts, _ = self._exact(data, source)
        noise = self._count._noise(counts.size * size, source).reshape(size, counts.size)
        noisy = counts[None, :] + noise
        released = (
            noisy >= self.threshold if self.threshold is not None else np.ones(noisy.shape, bool)
        )
        return keys, noisy, released

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Release a DataFrame with one row per (released) group: the key and the aggregates."""
        source = rng or Csprng()
        keys, counts, sums = self._exact(data, source)
        noisy_counts, noisy_sums = self._noisy(counts, sums, source)
        keep = np.ones(len(keys), dtype=bool)
        if self.threshold is not None:
            assert noisy_counts is not None
            keep = noisy_counts >= self.threshold
        out: dict[str, Any] = {self.by: _key_column(keys)[keep]}
        if "count" in self.aggregates and noisy_counts is not None:
            out["count"] = noisy_counts[keep]
        if noisy_sums is not None:
            sums_real = noisy_sums[keep].astype(np.float64) * float(self.granularity)
            if "sum" in self.aggregates:
                out["sum"] = sums_real
            if "mean" in self.aggregates and noisy_counts is not None:
                out["mean"] = np.clip(
                    sums_real / np.maximum(noisy_counts[keep], 1),
                    float(self.lower),
                    float(self.upper),
                )
        details: dict[str, Any] = {"groups_released": int(keep.sum())}
        if self.threshold is not None:
            details["threshold"] = self.threshold
        return Release(pd.DataFrame(out), self.guarantee, self.description, details)


def _key_column(keys: list[Any]) -> npt.NDArray[Any]:
    """Return the keys as an array: int64 when they are all integers, objects otherwise."""
    if keys and all(isinstance(k, int | np.integer) and not isinstance(k, bool) for k in keys):
        return np.asarray(keys, dtype=np.int64)
    out = np.empty(len(keys), dtype=object)
    out[:] = keys
    return out
