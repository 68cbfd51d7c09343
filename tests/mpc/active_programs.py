"""Programs for the active-security tests; importable by party processes (tests/mpc is on the path)."""

from __future__ import annotations

from typing import Any

from veil.errors import VeilError
from veil.mpc import Runtime
from veil.mpc.adversary import Misbehaviour, install

#: The inputs of :func:`scenario_program` and the result every honest party must output.
X, Y = [3, -1, 4, 1], [5, 9, -2, 6]
EXPECTED = (
    [x * y + 7 for x, y in zip(X, Y, strict=True)],
    sum((x * y + 7) * x for x, y in zip(X, Y, strict=True)),
)


async def scenario_program(rt: Runtime, x: list[int], y: list[int]) -> tuple[list[int], int]:
    """Party 0 inputs x, the last party y; open x*y + 7 and sum((x*y + 7) * x)."""
    a = await rt.input(x if rt.party_id == 0 else None, sender=0)
    last = rt.n_parties - 1
    b = await rt.input(y if rt.party_id == last else None, sender=last)
    c = a * b + 7
    d = (c * a).sum()
    opened = await rt.open(c)
    return opened.tolist(), int(await rt.open(d))


async def cheating_program(
    rt: Runtime, cheaters: dict[int, Misbehaviour], x: list[int], y: list[int]
) -> dict[str, Any]:
    """Run :func:`scenario_program` with ``cheaters`` corrupted; report how this party ended.

    For party processes: the outcome comes back as data (the error's code, party and step), so the
    launcher never mistakes an honest party's :class:`~veil.errors.CheaterDetected` for a crash.
    """
    if rt.party_id in cheaters:
        install(rt, cheaters[rt.party_id])
    try:
        value = await scenario_program(rt, x, y)
    except VeilError as exc:
        return {"error": exc.code, "party": exc.fields.get("party"), "step": exc.fields.get("step")}
    return {"value": [value[0], value[1]]}
