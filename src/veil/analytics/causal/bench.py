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
