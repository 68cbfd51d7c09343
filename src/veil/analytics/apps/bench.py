"""Benchmarks of secure comparisons and of the auction, with each party a real process over TLS.

- ``lt_per_s``: vectorized comparisons ``x < y`` of 32-bit signed integers (``SecInt(32)``) per
  second, median over ``repeats`` runs, each timed from a barrier to the slowest party's result;
  the masks are made inside the timed region (nothing is precomputed).
- ``auction_1000_s``: seconds for a second-price auction of ``bids`` bids spread over the parties,
  from sharing the bids to the revealed winner and price (median over ``repeats``).
- ``lt_bytes_per_party``: payload bytes the busiest party sent per comparison; ``lt_rounds``: rounds
  of one comparison batch.

The data are public test data (``numpy.random``); every party checks its results against numpy.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from veil.analytics.apps.auction import plain_auction, sealed_bid_auction
from veil.mpc import Runtime, SecInt, run_parties

__all__ = ["run_secure_bench", "secure_bench_program"]


async def secure_bench_program(
    rt: Runtime, comparisons: int, bids: int, repeats: int
) -> dict[str, Any]:
    """Time this party's view of the comparison batch and of the auction."""
    gen = np.random.default_rng(2024)  # public benchmark data, not secrets
    x = gen.integers(-(2**31), 2**31, comparisons)
    y = gen.integers(-(2**31), 2**31, comparisons)
    a = await rt.input(x if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
    b = await rt.input(y if rt.party_id == 1 else None, sender=1, dtype=SecInt(32))
    out: dict[str, Any] = {"lt_s": [], "lt_bytes": [], "lt_rounds": [], "auction_s": []}
    result = None
    for _ in range(repeats):
        await rt.barrier()
        before = rt.stats.snapshot()
        start = time.perf_counter()
        result = a < b
        await result.share()
        out["lt_s"].append(time.perf_counter() - start)
        spent = rt.stats - before
        out["lt_bytes"].append(spent.bytes_sent)
        out["lt_rounds"].append(spent.rounds)
    assert result is not None
    opened = await result.open()
    if opened is None or not np.array_equal(opened, x < y):
        raise AssertionError("the benchmark's comparisons disagree with numpy")

    per_party = [
        gen.integers(0, 2**31, bids // rt.n_parties + (i < bids % rt.n_parties))
        for i in range(rt.n_parties)
    ]
    expected = plain_auction(per_party, rule="second-price")
    for _ in range(repeats):
        await rt.barrier()
        start = time.perf_counter()
        outcome = await sealed_bid_auction(rt, per_party[rt.party_id], rule="second-price")
        out["auction_s"].append(time.perf_counter() - start)
        if outcome != expected:
            raise AssertionError(f"the benchmark's auction is wrong: {outcome} != {expected}")
    return out


def run_secure_bench(
    n_parties: int = 3, comparisons: int = 50_000, bids: int = 1000, *, repeats: int = 3
) -> dict[str, Any]:
    """Run the benchmark as ``n_parties`` processes over TLS and return the JSON-ready figures."""
    results = run_parties(secure_bench_program, n_parties, args=(comparisons, bids, repeats))
    views = [r.value for r in results]

    def slowest(key: str) -> list[float]:
        return [max(v[key][k] for v in views) for k in range(repeats)]

    lt_s = statistics.median(slowest("lt_s"))
    return {
        "lt_per_s": comparisons / lt_s,
        "lt_size": comparisons,
        "lt_bits": 32,
        "lt_rounds": views[0]["lt_rounds"][0],
        "lt_bytes_per_party": max(max(v["lt_bytes"]) for v in views) / comparisons,
        "auction_1000_s": statistics.median(slowest("auction_s")),
        "auction_bids": bids,
        "auction_rule": "second-price",
        "secure_repeats": repeats,
        "secure_peak_rss_mb": max(r.peak_rss_mb for r in results),
    }
