"""``veil bench dp``: throughput of private releases on one core, medians of repeated runs.

The data are public simulated numbers (``numpy.random``, as benchmarks may use); every noise
draw comes from the CSPRNG as in production.
"""

from __future__ import annotations

import math
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from veil.dp.groupby import GroupBy
from veil.dp.mechanisms import LaplaceMechanism
from veil.dp.releases import Count, Mean, Sum


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _extra_mb(fn: Callable[[], object]) -> float:
    """Return the peak memory ``fn`` allocates beyond what exists when it starts, in MiB.

    numpy reports its buffers to :mod:`tracemalloc`, so this counts the release's own arrays.
    """
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(0, peak - before) / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _big_input(x: np.ndarray, epsilon: float, repeats: int, mae_releases: int) -> dict[str, float]:
    count = Count(epsilon)
    total = Sum(epsilon, bounds=(0, 100))
    mean = Mean(epsilon, bounds=(0, 100))
    out = {
        "count_s": _median_seconds(lambda: count.release(x), repeats),
        "sum_s": _median_seconds(lambda: total.release(x), repeats),
        "mean_s": _median_seconds(lambda: mean.release(x), repeats),
        "extra_mb": max(
            _extra_mb(lambda: count.release(x)),
            _extra_mb(lambda: total.release(x)),
            _extra_mb(lambda: mean.release(x)),
        ),
    }
    exact = float(np.clip(x, 0, 100).sum())
    out["mae"] = float(np.mean(np.abs(total.sample(x, mae_releases) - exact)))
    # E|Z| of the discrete Laplace noise, 2q/(1 - q^2) grid units with q = exp(-1/scale)
    noise = total._mech
    assert isinstance(noise, LaplaceMechanism)
    q = math.exp(-1 / float(noise.scale))
    out["mae_expected"] = 2 * q / (1 - q * q) * float(total.granularity)
    return out


def run(
    *,
    rows: int = 10_000_000,
    group_rows: int = 1_000_000,
    groups: int = 1000,
    repeats: int = 5,
    mae_releases: int = 200,
    epsilon: float = 1.0,
) -> dict[str, Any]:
    """Time count, clamped sum and mean on ``rows`` floats in [0, 100], and grouped releases.

    Returns
    -------
    dict
        ``count_mrows_per_s``, ``sum_mrows_per_s``, ``mean_mrows_per_s`` (millions of rows per
        second, median), ``grouped_count_ms``, ``grouped_sum_ms`` (median milliseconds for
        ``group_rows`` rows in ``groups`` groups with public keys), ``sum_mae`` (mean absolute
        error of the sum over ``mae_releases`` releases at ``epsilon``; ``sum_mae_expected`` is its
        exact expectation, E|noise|, which 200 draws estimate to about ±7%), ``peak_rss_mb``,
        ``input_mb`` and ``extra_mb`` (the most memory one release on the big input allocates).
    """
    gen = np.random.default_rng(12345)
    big = _big_input(gen.uniform(0.0, 100.0, rows), epsilon, repeats, mae_releases)
    keys = gen.integers(0, groups, group_rows)
    values = gen.uniform(0.0, 100.0, group_rows)
    data = {"g": keys, "x": values}
    grouped_count = GroupBy(epsilon, by="g", keys=range(groups))
    grouped_sum = GroupBy(
        epsilon, by="g", keys=range(groups), aggregates=["sum"], column="x", bounds=(0, 100)
    )
    t_gcount = _median_seconds(lambda: grouped_count.release(data), repeats)
    t_gsum = _median_seconds(lambda: grouped_sum.release(data), repeats)
    return {
        "rows": rows,
        "group_rows": group_rows,
        "groups": groups,
        "repeats": repeats,
        "epsilon": epsilon,
        "count_mrows_per_s": rows / big["count_s"] / 1e6,
        "sum_mrows_per_s": rows / big["sum_s"] / 1e6,
        "mean_mrows_per_s": rows / big["mean_s"] / 1e6,
        "grouped_count_ms": t_gcount * 1e3,
        "grouped_sum_ms": t_gsum * 1e3,
        "sum_mae": big["mae"],
        "sum_mae_expected": big["mae_expected"],
        "sum_mae_releases": mae_releases,
        "peak_rss_mb": _peak_rss_mb(),
        "input_mb": rows * 8 / 2**20,
        "extra_mb": big["extra_mb"],
    }
