"""Benchmarks behind ``veil bench causal``: one registered function per group of JSON keys.

A benchmark is ``fn(repeat, progress) -> dict[str, float]`` registered with
:func:`register_benchmark`; it returns its keys (wall-clock medians in seconds, suffix ``_s``;
memory in bytes, suffix ``_bytes``). Other modules of :mod:`veil.analytics.causal` add their own
(they are imported with the package), and ``veil bench causal`` runs them all.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["BENCHMARKS", "Benchmark", "median_seconds", "register_benchmark", "run_benchmarks"]

#: ``benchmark(repeat, progress)`` → ``{key: value}``; ``progress(message)`` reports what runs.
Benchmark = Callable[[int, Callable[[str], None]], dict[str, float]]

#: Benchmark name → function; names are the main JSON key each produces.
BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(name: str) -> Callable[[Benchmark], Benchmark]:
    """Register a benchmark function under ``name``."""

    def decorate(fn: Benchmark) -> Benchmark:
        BENCHMARKS[name] = fn
        return fn

    return decorate


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Return the median wall-clock seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def run_benchmarks(
    names: list[str] | None = None,
    *,
    repeat: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Run the named benchmarks (all by default) and merge their keys."""
    report = progress or (lambda message: None)
    out: dict[str, float] = {}
    for name in names or sorted(BENCHMARKS):
        report(name)
        out.update(BENCHMARKS[name](repeat, report))
    return out


# ---------------------------------------------------------------------- the benchmarks


def _prop99() -> Any:
    from veil import datasets
    from veil.analytics.causal.panel import PanelData

    return PanelData.from_long(
        datasets.load("prop99"),
        unit="State",
        time="Year",
        outcome="PacksPerCapita",
        treatment="treated",
    )


def large_panel(
    n: int = 1000, t: int = 100, n_treated: int = 50, t_post: int = 10, seed: int = 0
) -> Any:
    """Return a simulated ``n × t`` panel: two-way effects, rank-2 factors, AR(1) noise, effect 1."""
    import numpy as np

    from veil.analytics.causal.panel import PanelData

    rng = np.random.default_rng(seed)  # public simulated data
    factors = rng.normal(size=(n, 2)) @ rng.normal(size=(2, t)).cumsum(axis=1) * 0.2
    noise = np.zeros((n, t))
    eps = rng.normal(size=(n, t))
    for s in range(t):
        noise[:, s] = (0.5 * noise[:, s - 1] if s else 0.0) + eps[:, s]
    Y = rng.normal(size=(n, 1)) * 3 + rng.normal(size=(1, t)).cumsum(axis=1) + factors + noise
    W = np.zeros((n, t), dtype=np.int8)
    W[n - n_treated :, t - t_post :] = 1
    return PanelData(Y=Y + W, W=W)


def _placebo200(cls_name: str) -> Benchmark:
    def run(repeat: int, progress: Callable[[str], None]) -> dict[str, float]:
        from veil.analytics.causal import ESTIMATORS

        panel = _prop99()
        cls: Any = ESTIMATORS[cls_name]
        cls().fit(panel)  # warm-up: loads the compiled kernel from cache (or compiles it)
        return {
            f"{cls_name}_placebo200_s": median_seconds(
                lambda: cls(se="placebo", n_replications=200, random_state=0).fit(panel), repeat
            )
        }

    return run


register_benchmark("sdid_placebo200_s")(_placebo200("sdid"))
register_benchmark("sc_placebo200_s")(_placebo200("sc"))


@register_benchmark("sdid_large_s")
def _sdid_large(repeat: int, progress: Callable[[str], None]) -> dict[str, float]:
    import resource
    import tracemalloc

    from veil.analytics.causal import ESTIMATORS

    panel = large_panel()
    est: Any = ESTIMATORS["sdid"]
    seconds = median_seconds(lambda: est().fit(panel), repeat)
    tracemalloc.start()
    est().fit(panel)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return {
        "sdid_large_s": seconds,
        "sdid_large_alloc_peak_bytes": float(peak),
        "process_peak_rss_bytes": float(rss),
    }
