"""Properties CrossHair must report as "Confirmed over all paths" (``make verify``).

Each function is a property: its leading ``assert`` statements are preconditions, the others must
hold on every execution path (CrossHair's ``asserts`` analysis). "Confirmed over all paths" means
CrossHair's symbolic execution explored every path through the code with the inputs left
symbolic, and the solver refuted every violation: a proof for these functions, relative to
CrossHair's model of Python. Anything short of that (a timeout, "not confirmed") fails the gate.

Shamir properties run on the Nagini-proved scalar reference (``verify/nagini/shamir.py`` without
its contracts) at the product's evaluation points ``x = i + 1``; the budget properties run on the
product's own ``veil.dp.budget``; the codec properties on the product's ``veil.net.codec``. The
``codec_*_contract`` functions are two of the contracts that ``verify/nagini/codec.py`` trusts
(``@ContractOnly``: Nagini has no model of ``bytes([...])``); ``verify/z3/codec_primitives.py``
proves all four of them (CrossHair does not confirm the 64-bit one and the header in time).
"""

from __future__ import annotations

from pathlib import Path

from contracts import load_proved

from veil.dp import budget
from veil.net import codec

_SHAMIR = load_proved(Path(__file__).resolve().parent.parent / "nagini" / "shamir.py")
P = 2**61 - 1  # the product's default prime


def shamir_degree1_round_trip(secret: int, a1: int) -> None:
    assert 0 <= secret < P and 0 <= a1 < P
    shares = [_SHAMIR.evaluate([secret, a1], x, P) for x in (1, 2, 3)]
    assert _SHAMIR.reconstruct_at_zero([1, 2], shares[:2], P) == secret
    assert _SHAMIR.reconstruct_at_zero([2, 3], shares[1:], P) == secret
    assert _SHAMIR.reconstruct_at_zero([1, 3], [shares[0], shares[2]], P) == secret


def shamir_degree2_round_trip(secret: int, a1: int, a2: int) -> None:
    assert 0 <= secret < P and 0 <= a1 < P and 0 <= a2 < P
    shares = [_SHAMIR.evaluate([secret, a1, a2], x, P) for x in (1, 2, 3)]
    assert _SHAMIR.reconstruct_at_zero([1, 2, 3], shares, P) == secret


def budget_spend_never_overspends(total: int, spent: int, charge: int) -> None:
    assert 0 <= spent <= total and 0 <= charge
    after = budget.spend(total, spent, charge)
    assert spent <= after <= total
    assert budget.remaining(total, after) >= 0
    if budget.can_afford(total, spent, charge):
        assert budget.remaining(total, after) == budget.remaining(total, spent) - charge


def budget_compose_only_grows(spent: int, charge: int) -> None:
    assert 0 <= charge
    assert budget.compose(spent, charge) >= spent


def codec_encode_u16_contract(value: int) -> None:
    assert 0 <= value < 2**16
    out = codec.encode_u16(value)
    assert len(out) == 2
    assert codec.decode_u16(out, 0) == value


def codec_encode_u32_contract(value: int) -> None:
    assert 0 <= value < 2**32
    out = codec.encode_u32(value)
    assert len(out) == 4
    assert codec.decode_u32(out, 0) == value
