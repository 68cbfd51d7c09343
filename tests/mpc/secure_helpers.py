"""Helpers for the secure-number tests: run a typed computation at every party and open it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from veil.mpc import Runtime, SecretArray, run_local
from veil.mpc.types import SecretType

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
#: Edge values of 32-bit integers the issue asks to cover.
INT32_EDGES = [0, -1, 1, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1]


def int32_arrays(size: int = 6) -> st.SearchStrategy[np.ndarray]:
    """1-D int64 arrays of 32-bit values, edges included often."""
    values = st.one_of(st.sampled_from(INT32_EDGES), st.integers(INT32_MIN, INT32_MAX))
    return hnp.arrays(np.int64, (size,), elements=values)


def run_typed(
    op: Callable[..., Any],
    *arrays: np.ndarray,
    dtype: SecretType,
    n_parties: int = 3,
) -> Any:
    """Share ``arrays[k]`` from party ``k % n`` with ``dtype``, apply ``op``, open; parties agree."""

    async def program(rt: Runtime) -> Any:
        shared = []
        for k, values in enumerate(arrays):
            sender = k % rt.n_parties
            mine = values if rt.party_id == sender else None
            shared.append(await rt.input(mine, sender=sender, dtype=dtype))
        result = op(*shared)
        if isinstance(result, tuple):
            return [await r.open() for r in result]
        assert isinstance(result, SecretArray)
        return await result.open()

    results = run_local(program, n_parties)
    for other in results[1:]:
        np.testing.assert_equal(other, results[0])
    return results[0]
