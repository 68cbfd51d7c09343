"""The public surface of veil.mpc is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import veil.mpc

EXPECTED = {
    "PartyResult",
    "Runtime",
    "RuntimeStats",
    "SecFxp",
    "SecInt",
    "SecretArray",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "concatenate",
    "maximum",
    "minimum",
    "reciprocal",
    "run_local",
    "run_parties",
    "secbool",
    "sqrt",
    "stack",
    "where",
}


def test_veil_mpc_exports_exactly_the_documented_names() -> None:
    """__all__ lists the runtime, the array, the secure types and the numpy-like functions."""
    assert set(veil.mpc.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(veil.mpc, name), name
