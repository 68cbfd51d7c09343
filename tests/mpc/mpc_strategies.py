"""Hypothesis strategies shared by the mpc tests: party counts and small integer arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: The party counts the issue asks to cover, each with its largest threshold.
PARTY_COUNTS = (3, 4, 5, 7)

#: Values whose products and sums stay far inside (-p/2, p/2) for p = 2**61 - 1.
small_ints = st.integers(min_value=-(2**20), max_value=2**20)


def int_arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] = (4,),
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of int64 in [-2**20, 2**20] with the given shape."""
    return hnp.arrays(np.int64, shape, elements=small_ints)


def paired_arrays(max_len: int = 6) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """Two int arrays of one random 1-D shape."""
    return st.integers(1, max_len).flatmap(lambda n: st.tuples(int_arrays((n,)), int_arrays((n,))))
