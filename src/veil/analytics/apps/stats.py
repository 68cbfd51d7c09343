"""Summary statistics over all parties' values: count, mean, variance, min, max, median.

Every party holds a vector of numbers; the recipients learn the statistics of the union and nothing
else. Each statistic uses the cheapest secure route (local pre-aggregation where the maths allows):

- **count, mean, variance**: each party shares ``(n_i, sum x, sum x**2)`` of its own values; the
  totals ``N``, ``S1``, ``S2`` are opened (``N`` to every party: the other steps need it). Given
  ``N``, ``(S1, S2)`` and ``(mean, variance)`` are the same information, so nothing beyond the
  output is revealed. ``variance`` is the sample variance
  ``(S2 - S1**2 / N) / (N - 1)`` (computed in float64 after opening: cancellation loses precision
  when the mean is much larger than the spread).
- **min, max**: each party shares its own minimum and maximum; a secure tournament over the parties
  reveals only the overall extremes.
- **median**: a 16-ary search over the values' fixed-point grid. In each step every party shares,
  for 15 public thresholds ``v``, how many of its values are ``<= v``; the sums are compared with the
  rank ``r`` and only the bits ``[count(<= v) >= r]`` are opened. Such a bit is ``[median <= v]``, a
  function of the median alone, so the search reveals nothing beyond it. ``ceil(bits / 4)`` steps;
  for an even count the two middle values are found together and averaged, as ``numpy.median``.

Values are fixed point (:func:`~veil.mpc.SecFxp`, 16 fractional bits by default), so the median is
exact on that grid; sums are encoded with 16 fractional bits and must stay below ``2**43``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.mpc import Runtime, SecFxp, SecInt, SecretArray, concatenate, stack
from veil.mpc.types import FixedType

__all__ = ["STATISTICS", "Summary", "plain_summary", "secure_summary", "stats_program"]

#: The statistics :func:`secure_summary` can compute.
STATISTICS = ("count", "mean", "variance", "min", "max", "median")
#: Thresholds per step of the median search (a 16-ary search: 4 bits per step).
_FANOUT = 16


@dataclass(frozen=True)
class Summary:
    """The requested statistics of all parties' values (``None`` where not requested)."""

    count: int | None = None
    mean: float | None = None
    variance: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics that were computed, as a JSON-ready dict."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def _check(statistics: tuple[str, ...]) -> None:
    unknown = [s for s in statistics if s not in STATISTICS]
    if unknown or not statistics:
        raise ConfigError(
            f"statistics must be a non-empty subset of {STATISTICS}, got {list(statistics)}",
            field="statistics",
        )


async def secure_summary(
    rt: Runtime,
    values: object,
    *,
    statistics: tuple[str, ...] = STATISTICS,
    dtype: FixedType | None = None,
    recipients: list[int] | None = None,
) -> Summary | None:
    """Compute statistics of the union of every party's values; every party calls it.

    Parameters
    ----------
    values : array_like of float, shape (k,)
        This party's values (``k`` may be 0), within ``dtype``'s range.
    statistics : tuple of str, default=all of :data:`STATISTICS`
    dtype : FixedType, default=SecFxp(16, 16)
    recipients : list of int, optional
        Parties that learn the statistics (default: all); the others get ``None``.

    Raises
    ------
    ConfigError
        Unknown statistics, or no values at all.
    EncodingError
        At a party whose value (or local sum) is out of range, naming its position.
    """
    statistics = tuple(statistics)
    _check(statistics)
    kind = dtype if dtype is not None else SecFxp(16, 16)
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    who = list(range(rt.n_parties)) if recipients is None else sorted(set(recipients))
    sum_type = SecFxp(16, 43)
    local = np.array([x.sum(), np.square(x).sum()])
    moments, counts = await asyncio.gather(
        rt.input_all(local, dtype=sum_type), rt.input_all([x.size], dtype=SecInt(40))
    )
    total_count = sum(counts[1:], counts[0])
    sums = sum(moments[1:], moments[0])
    n = await _public_count(total_count)
    if n == 0:
        raise ConfigError("no party has any values", field="values")
    jobs: dict[str, Any] = {}
    if {"mean", "variance"} & set(statistics):
        jobs["sums"] = _open_to(sums, who, rt)
    if {"min", "max"} & set(statistics):
        jobs["extremes"] = _extremes(rt, x, kind, who)
    if "median" in statistics:
        jobs["median"] = _median(rt, x, kind, n, who)
    done = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    if rt.party_id not in who:
        return None
    result: dict[str, Any] = {"count": n if "count" in statistics else None}
    if "sums" in done:
        s1, s2 = (float(v) for v in done["sums"])
        mean = s1 / n
        if "mean" in statistics:
            result["mean"] = mean
        if "variance" in statistics:
            result["variance"] = (s2 - s1 * mean) / (n - 1) if n > 1 else 0.0
    if "extremes" in done:
        low, high = done["extremes"]
        result.update({k: v for k, v in (("min", low), ("max", high)) if k in statistics})
    if "median" in done:
        result["median"] = done["median"]
    return Summary(**result)


async def _public_count(count: SecretArray) -> int:
    """The total count, opened to all (it is needed to run the median search and the division)."""
    opened = await count.open()
    assert opened is not None
    return int(opened[0])


async def _open_to(value: SecretArray, who: list[int], rt: Runtime) -> npt.NDArray[Any] | None:
    opened = await asyncio.gather(*(value.open(to=party) for party in who))
    return dict(zip(who, opened, strict=True)).get(rt.party_id)


async def _extremes(
    rt: Runtime, x: npt.NDArray[np.float64], kind: FixedType, who: list[int]
) -> tuple[float, float] | None:
    local = np.array([x.min(), x.max()]) if x.size else np.zeros((0, 2))
    shared = await rt.input_all(local.reshape(-1, 2), dtype=kind)
    present = concatenate([s for s in shared if s.shape[0]])  # (parties with values, 2)
    both = stack([present[:, 0].min(), present[:, 1].max()])
    opened = await _open_to(both, who, rt)
    return None if opened is None else (float(opened[0]), float(opened[1]))


async def _median(
    rt: Runtime, x: npt.NDArray[np.float64], kind: FixedType, n: int, who: list[int]
) -> float | None:
    """The k-ary search for the ranks ``ceil(n/2)`` (and ``n/2 + 1`` when ``n`` is even)."""
    scale = 2.0**kind.fractional
    grid = np.sort(np.rint(x * scale).astype(np.int64))  # this party's values on the type's grid
    ranks = [(n + 1) // 2] if n % 2 else [n // 2, n // 2 + 1]
    bits = kind.signed_bits
    low = np.full(len(ranks), -(1 << (bits - 1)), dtype=np.int64)  # answer in [low, low + width)
    width = 1 << bits
    while width > 1:
        step = -(-width // _FANOUT)
        thresholds = low[:, None] + step * np.arange(1, _FANOUT)[None, :] - 1  # (ranks, 15)
        local = np.searchsorted(grid, thresholds, side="right")  # how many of mine are <= v
        counts = await rt.input_all(local, dtype=SecInt(40))
        total = sum(counts[1:], counts[0])
        reached = await (total >= np.array(ranks)[:, None]).open()  # [median <= v], public
        assert reached is not None
        below = np.asarray(reached, dtype=bool).argmax(axis=1)
        below = np.where(np.asarray(reached, dtype=bool).any(axis=1), below, _FANOUT - 1)
        low = low + step * below
        width = step
    value = float(np.mean(low)) / scale
    return value if rt.party_id in who else None


def plain_summary(values: object, *, statistics: tuple[str, ...] = STATISTICS) -> Summary:
    """The same statistics on plaintext values (all parties' values concatenated)."""
    _check(tuple(statistics))
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ConfigError("no values", field="values")
    every: dict[str, Any] = {
        "count": int(x.size),
        "mean": float(x.mean()),
        "variance": float(x.var(ddof=1)) if x.size > 1 else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
        "median": float(np.median(x)),
    }
    return Summary(**{k: v for k, v in every.items() if k in statistics})


async def stats_program(rt: Runtime, values_by_party: list[Any]) -> dict[str, Any] | None:
    """Demo program: party ``i`` holds ``values_by_party[i]`` (the demo simulates every party)."""
    summary = await secure_summary(rt, values_by_party[rt.party_id])
    return None if summary is None else summary.to_dict()
