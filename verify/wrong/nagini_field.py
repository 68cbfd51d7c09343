"""MUST BE REJECTED by Nagini: an off-by-one modular addition under the correct specification.

``s > p`` should be ``s >= p``: for ``a + b == p`` this returns ``p``, not 0. ``make verify`` fails
if Nagini accepts this file, which shows that the Nagini step can fail.
"""

from nagini_contracts.contracts import *


def add(a: int, b: int, p: int) -> int:
    Requires(p > 1)
    Requires(0 <= a and a < p and 0 <= b and b < p)
    Ensures(Result() == (a + b) % p)
    s = a + b
    if s > p:
        return s - p
    return s
