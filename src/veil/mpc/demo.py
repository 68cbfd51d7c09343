"""The four engineers: compute the sum and average of four raises, and nobody learns a raise.

Alice, Bob, Carlos and David want their average raise without telling each other their own. Each
is a party. Each splits their raise into four shares and hands one to each colleague (keeping one);
each adds up the four shares they hold; the four sums are published, and they add up to the total.
Every share, and every sum a party holds, is a uniformly random field element on its own: none of
them is anybody's raise.

- ``scheme="additive"``: n-of-n additive shares (all four sums are needed).
- ``scheme="shamir"``: Shamir shares of degree ``t = 1`` (any two sums give the total).

:func:`raises_program` is what each party runs; :func:`run_raises` runs it as four processes over
TLS on loopback (or in one process over memory channels with ``processes=False``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from veil.errors import ConfigError
from veil.field import FieldArray
from veil.mpc.launcher import run_local
from veil.mpc.runtime import Runtime
from veil.sharing import additive, shamir

__all__ = ["ENGINEERS", "raises_program", "run_raises"]

#: The example's engineers and their (private) raises.
ENGINEERS: dict[str, int] = {"Alice": 3800, "Bob": 2514, "Carlos": 2982, "David": 3390}

Scheme = Literal["additive", "shamir"]


async def raises_program(rt: Runtime, scheme: Scheme, raises: list[int]) -> dict[str, Any]:
    """Run one engineer's part: share the raise, add the shares held, publish, add the sums.

    Returns what this party saw: the shares it dealt (``shares_sent[j]`` went to party ``j``), the
    shares it holds (``shares_held[i]`` came from party ``i``), its sum of them, and the total.
    Field elements are shown as integers in ``(-p/2, p/2]``.
    """
    field, n, me = rt.field, rt.n_parties, rt.party_id
    secret = field.array([raises[me]])
    if scheme == "additive":
        dealt = additive.share(field, secret, n)
    elif scheme == "shamir":
        dealt = shamir.share(field, secret, threshold=rt.threshold, n_parties=n)
    else:
        raise ConfigError(f"scheme must be 'additive' or 'shamir', got {scheme!r}", field="scheme")
    peers = [j for j in range(n) if j != me]

    def gather(received: dict[int, FieldArray], own: FieldArray) -> FieldArray:
        return np.stack([own.reshape(-1) if i == me else received[i] for i in range(n)])

    held = await rt.exchange(
        "deal", {j: dealt[j] for j in peers}, peers, lambda got: gather(got, dealt[me])
    )
    held_sum = field.sum(held, axis=0)  # this party's share of the total
    published = await rt.exchange(
        "publish", dict.fromkeys(peers, held_sum), peers, lambda got: gather(got, held_sum)
    )
    if scheme == "additive":
        total = field.sum(published, axis=0)
    else:  # any t + 1 published sums determine the total; use the first t + 1
        first = list(range(rt.threshold + 1))
        total = shamir.reconstruct(field, published[first], first)
    signed = field.to_signed
    value = int(signed(np.asarray(total))[0])
    return {
        "party": me,
        "shares_sent": signed(dealt.reshape(-1)).tolist(),
        "shares_held": signed(held.reshape(-1)).tolist(),
        "sum_held": int(signed(np.asarray(held_sum))[0]),
        "sums_published": signed(published.reshape(-1)).tolist(),
        "sum": value,
    }


def run_raises(
    scheme: Scheme = "additive",
    *,
    engineers: dict[str, int] | None = None,
    processes: bool = True,
) -> dict[str, Any]:
    """Run the demo and return ``{"sum", "average", "scheme", "parties": [...]}``.

    With ``processes=True`` each engineer is a separate process with its own key and certificate,
    connected to the others by mutually authenticated TLS on loopback.
    """
    people = dict(ENGINEERS if engineers is None else engineers)
    names, raises = list(people), list(people.values())
    n = len(names)
    if processes:
        from veil.mpc.processes import run_parties

        values = [r.value for r in run_parties(raises_program, n, args=(scheme, raises))]
    else:
        values = run_local(raises_program, n, args=(scheme, raises))
    totals = {v["sum"] for v in values}
    if len(totals) != 1:
        raise ConfigError(f"the parties disagree on the sum: {sorted(totals)}")
    total = totals.pop()
    parties = [
        {"name": name, "raise": raise_, **value}
        for name, raise_, value in zip(names, raises, values, strict=True)
    ]
    return {"sum": total, "average": total / n, "scheme": scheme, "parties": parties}
