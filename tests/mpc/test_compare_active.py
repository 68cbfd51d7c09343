"""Secure numbers under every suite: the same protocols with checked products (active mode)."""

from __future__ import annotations

from typing import Any

import numpy as np
from secure_helpers import INT32_EDGES

from veil.analytics.apps.auction import sealed_bid_auction
from veil.mpc import Runtime, SecFxp, SecInt, run_local, where

X = np.array([*INT32_EDGES, 5])
Y = np.array([*INT32_EDGES[::-1], 5])


async def numbers(rt: Runtime, generic: bool) -> list[Any]:
    if generic:  # the path every suite that checks its products takes
        rt.protocols.reduces_local_products = False  # type: ignore[misc]
    x = await rt.input(X if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
    y = await rt.input(Y if rt.party_id == 1 else None, sender=1, dtype=SecInt(32))
    f = await rt.input([1.5, -2.25] if rt.party_id == 2 else None, sender=2, dtype=SecFxp(16, 16))
    results = [x < y, x == y, where(x >= y, x, y), f * f, (f / 3)]
    return [(await r.open()).tolist() for r in results]


def expected() -> list[Any]:
    return [
        (X < Y).tolist(),
        (X == Y).tolist(),
        np.maximum(X, Y).tolist(),
        [2.25, 5.0625],
        [0.5, -0.75],
    ]


def test_comparisons_and_truncation_without_local_product_sums() -> None:
    """The generic path (products through the suite's mul and vecdot) gives the same answers."""
    assert run_local(numbers, 3, args=(True,))[0] == expected()


def test_comparisons_and_truncation_run_under_the_active_suite() -> None:
    """security='active': verified inputs, checked products, checked masks; same results."""
    results = run_local(numbers, 3, args=(False,), security="active")
    assert results[0] == expected()
    assert results[1] == results[0] == results[2]


def test_a_sealed_bid_auction_runs_under_the_active_suite() -> None:
    """The application code is unchanged in active mode."""

    async def program(rt: Runtime) -> Any:
        return await sealed_bid_auction(rt, [[120, 90], [150], [150, 80]][rt.party_id])

    outcome = run_local(program, 3, security="active")[0]
    assert (outcome.winner, outcome.price) == (2, 150)
