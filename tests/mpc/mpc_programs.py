"""Programs for the process tests; importable by the party processes (tests/mpc is on PYTHONPATH)."""

from __future__ import annotations

import os

from veil.mpc import Runtime


async def product_program(rt: Runtime, x: list[int], y: list[int]) -> list[int]:
    """Party 0 inputs x, party 1 inputs y; everybody opens the elementwise product."""
    a = await rt.input(x if rt.party_id == 0 else None, sender=0)
    b = await rt.input(y if rt.party_id == 1 else None, sender=1)
    return (await rt.open(a * b)).tolist()


async def crash_program(rt: Runtime, victim: int) -> int:
    """The victim's process dies abruptly after the first input; the others keep going."""
    a = await rt.input([1, 2] if rt.party_id == 0 else None, sender=0)
    if rt.party_id == victim:
        os._exit(3)
    return int((await rt.open(a * a)).sum())
