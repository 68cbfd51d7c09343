"""``veil bench mpc``: throughput and latency of the runtime, with each party a real process.

What is measured (each timing starts after a barrier, and the slowest party counts):

- ``mul_per_s``: elementwise products of two shared arrays of ``size`` elements per second (median
  of ``repeats`` rounds).
- ``input_per_s``: elements one party shares per second (median of ``repeats``).
- ``sum_1e6_s``: seconds for party 0 to share 10^6 inputs, add them up and open the sum.
- ``open_latency_ms``: median of 100 dependent opens of one element (each waits for the previous).
- ``bytes_per_mul``: payload bytes the busiest party sent per product (measured, headers included).
- ``theoretical_bytes_per_mul``: the protocol's count, ``8 * (n - 1 - t)`` for a re-sharing party.
- ``peak_rss_mb``: peak resident memory of the largest party process, in MiB.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from veil.mpc.processes import run_parties
from veil.mpc.runtime import Runtime

__all__ = ["bench_program", "run_bench"]

#: Inputs shared and summed for ``sum_1e6_s``.
SUM_INPUTS = 1_000_000
#: Dependent opens timed for ``open_latency_ms``.
OPENS = 100


async def bench_program(rt: Runtime, size: int, repeats: int, sum_inputs: int) -> dict[str, Any]:
    """Time this party's view of each operation; the values are public test data."""
    gen = np.random.default_rng(12345)  # public benchmark data, not secrets
    x = gen.integers(-(2**30), 2**30, size)
    y = gen.integers(-(2**30), 2**30, size)
    clock = time.perf_counter
    out: dict[str, Any] = {"input_s": [], "mul_s": [], "mul_bytes": []}
    a = b = None
    for _ in range(repeats):
        await rt.barrier()
        start = clock()
        a = await rt.input(x if rt.party_id == 0 else None, sender=0)
        out["input_s"].append(clock() - start)
    b = await rt.input(y if rt.party_id == 1 else None, sender=1)
    assert a is not None
    for _ in range(repeats):
        await rt.barrier()
        before = rt.stats.snapshot()
        start = clock()
        product = a * b
        await product.share()
        out["mul_s"].append(clock() - start)
        out["mul_bytes"].append((rt.stats - before).bytes_sent)
    check = await rt.open(product[:8])
    if not np.array_equal(check, x[:8] * y[:8]):
        raise AssertionError(f"the benchmark's product is wrong: {check} != {x[:8] * y[:8]}")

    values = gen.integers(0, 2**20, sum_inputs)
    await rt.barrier()
    start = clock()
    shared = await rt.input(values if rt.party_id == 0 else None, sender=0)
    total = int(await rt.open(shared.sum()))
    out["sum_s"] = clock() - start
    if total != int(values.sum()):
        raise AssertionError(f"the benchmark's sum is wrong: {total} != {int(values.sum())}")

    one = rt.random(1)
    await rt.barrier()
    latencies = []
    for _ in range(OPENS):
        start = clock()
        await rt.open(one)
        latencies.append(clock() - start)
    out["open_s"] = latencies
    return out


def run_bench(
    n_parties: int = 3, size: int = 1_000_000, *, repeats: int = 3, sum_inputs: int = SUM_INPUTS
) -> dict[str, Any]:
    """Run the benchmark as ``n_parties`` processes over TLS and return the JSON-ready figures."""
    results = run_parties(bench_program, n_parties, args=(size, repeats, sum_inputs))
    t = (n_parties - 1) // 2
    views = [r.value for r in results]

    def slowest(key: str) -> list[float]:  # per repeat, the slowest party's time
        return [max(v[key][k] for v in views) for k in range(len(views[0][key]))]

    mul_s = statistics.median(slowest("mul_s"))
    input_s = statistics.median(slowest("input_s"))
    open_s = statistics.median(slowest("open_s"))
    bytes_sent = max(max(v["mul_bytes"]) for v in views)
    return {
        "parties": n_parties,
        "threshold": t,
        "size": size,
        "security": "passive",
        "protocol": "Shamir, GRR degree reduction with pseudo-random shares (PRSS)",
        "transport": "TLS 1.3, mutual authentication, loopback",
        "mul_per_s": size / mul_s,
        "input_per_s": size / input_s,
        "sum_1e6_s": max(v["sum_s"] for v in views),
        "sum_inputs": sum_inputs,
        "open_latency_ms": 1000 * open_s,
        "bytes_per_mul": bytes_sent / size,
        "theoretical_bytes_per_mul": 8 * (n_parties - 1 - t),
        "peak_rss_mb": max(r.peak_rss_mb for r in results),
        "repeats": repeats,
    }
