"""Private set intersection among n parties: the intersection, or only its size, to named recipients.

Each party holds a set of identifiers (strings, numbers, any ``str()``-able value). Nobody learns
anything about the other sets beyond the output.

Protocol
--------
1. Every party hashes its identifiers into the field, ``h(e) = SHA-256("veil-psi" || e) mod p``.
   Two different identifiers collide with probability ``1/p`` per pair, so for ``N`` identifiers in
   all the chance of any collision is at most ``N**2 / (2 p)``, about ``N**2 * 2**-62`` (below
   ``2**-22`` for a million identifiers); a collision can only add a false member.
2. The party with the smallest set (the *candidate*; set sizes are public) shuffles its hashes with
   its CSPRNG and shares them. Every other party ``j`` shares the coefficients of
   ``P_j(x) = prod_{e in S_j} (x - e)``, which vanishes exactly on its set.
3. In MPC: the powers ``e, e**2, ..., e**d`` of each candidate (``ceil(log2 d)`` rounds), each
   ``P_j(e)`` as one inner product, and ``z = sum_j rho_j P_j(e)`` with secret random ``rho_j``, which
   is 0 iff ``e`` is in every set (a false 0 has probability ``1/p``).
4. ``[z == 0]`` by the full-field zero test of :func:`veil.mpc.protocols.compare.is_zero`
   (perfectly hiding). Then either ``sum [z == 0]`` (``reveal="size"``) or ``[z == 0] * e`` for every
   candidate (``reveal="elements"``) is opened to the recipients: the hashes of the members, zeros
   for the others, in the candidate's shuffled order. Each recipient maps hashes back to its own
   identifiers; a recipient without a set learns only the hashes.

Leakage beyond the output: the set sizes (use ``pad_to`` to hide them up to a public bound) and,
with ``reveal="elements"``, nothing else (the order is a fresh shuffle).
Cost: ``s * d`` multiplications for the powers (``s`` the smallest set, ``d`` the largest),
``s`` zero tests.

Example
-------
>>> from veil.mpc import run_local
>>> sets = [["ann", "bob", "eve"], ["bob", "eve", "joe", "zoe"], ["eve", "bob", "kim"]]
>>> async def program(rt):
...     return await private_intersection(rt, sets[rt.party_id])
>>> sorted(run_local(program, 3)[0].elements)
['bob', 'eve']
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.field import Field, FieldArray
from veil.mpc import Runtime, SecretArray, concatenate
from veil.mpc.protocols.compare import is_zero

__all__ = [
    "DOMAIN",
    "IntersectionResult",
    "hash_identifiers",
    "plain_intersection",
    "private_intersection",
    "psi_program",
]

#: Domain separation prefix of the identifier hash.
DOMAIN = b"veil-psi"

Reveal = Literal["elements", "size"]


@dataclass(frozen=True)
class IntersectionResult:
    """What a recipient learns.

    Attributes
    ----------
    size : int
        Number of identifiers in every set.
    elements : list
        The members this recipient can name (its own identifiers whose hashes were opened); empty
        for ``reveal="size"``.
    hashes : list of int
        The opened hashes of the members (``reveal="elements"`` only), for recipients without a set.
    """

    size: int
    elements: list[Any] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (identifiers as strings)."""
        return {
            "size": self.size,
            "elements": sorted(str(e) for e in self.elements),
            "hashes": self.hashes,
        }


def hash_identifiers(field: Field, identifiers: object) -> FieldArray:
    """Hash identifiers (``str(e)`` as UTF-8) into field elements: ``SHA-256(DOMAIN || e) mod p``."""
    values = [
        int.from_bytes(hashlib.sha256(DOMAIN + str(e).encode()).digest()[:8], "big") % field.p
        for e in identifiers  # type: ignore[attr-defined]
    ]
    return np.array(values, dtype=np.uint64)


def _polynomial(field: Field, roots: FieldArray) -> FieldArray:
    """Coefficients ``c_0..c_{d-1}`` of the monic ``prod (x - root)`` (``c_d = 1`` is implicit)."""
    coefficients = np.ones(1, dtype=np.uint64)  # highest degree last
    for root in roots:
        shifted = np.concatenate([np.zeros(1, dtype=np.uint64), coefficients])
        scaled = np.concatenate(
            [field.mul(coefficients, np.asarray(root, np.uint64)), np.zeros(1, np.uint64)]
        )
        coefficients = field.sub(shifted, scaled)
    return coefficients[:-1]


def _powers(x: SecretArray, degree: int) -> SecretArray:
    """Return ``[x**0, x**1, ..., x**degree]`` along a new last axis, ``ceil(log2 degree)`` rounds."""
    count = x.shape[0]
    rt = x.runtime
    powers = [rt.constant(np.ones(count, dtype=np.int64)).reshape(count, 1), x.reshape(count, 1)]
    have = 1
    while have < degree:
        block = concatenate(powers[1:], axis=1)  # x**1 .. x**have
        take = min(have, degree - have)
        top = block[:, have - 1 : have]  # x**have
        powers.append(block[:, :take] * top)  # x**(have+1) .. x**(have+take)
        have += take
    return concatenate(powers, axis=1)


async def private_intersection(
    rt: Runtime,
    identifiers: object,
    *,
    reveal: Reveal = "elements",
    recipients: list[int] | None = None,
    pad_to: int | None = None,
) -> IntersectionResult | None:
    """Intersect every party's set of identifiers; every party calls it with its own set.

    Parameters
    ----------
    identifiers : iterable
        This party's identifiers (duplicates are removed).
    reveal : {"elements", "size"}, default="elements"
        Open the members (as hashes, named by each recipient from its own set) or only their count.
    recipients : list of int, optional
        Parties that learn the result (default: all); the others get ``None``.
    pad_to : int, optional
        Pad every set with random dummy hashes to this public size, hiding the true sizes.

    Returns
    -------
    IntersectionResult or None
    """
    if reveal not in ("elements", "size"):
        raise ConfigError(f"reveal must be 'elements' or 'size', got {reveal!r}", field="reveal")
    field_ = rt.field
    mine = list(dict.fromkeys(identifiers))  # type: ignore[call-overload]
    hashes = hash_identifiers(field_, mine)
    if pad_to is not None:
        if pad_to < len(mine):
            raise ConfigError(
                f"pad_to={pad_to} is smaller than this party's {len(mine)} identifiers",
                field="pad_to",
            )
        hashes = np.concatenate([hashes, field_.random(pad_to - len(mine))])
    sizes = await _sizes(rt, hashes.size)
    who = list(range(rt.n_parties)) if recipients is None else sorted(set(recipients))
    if min(sizes) == 0:
        return IntersectionResult(0) if rt.party_id in who else None
    candidate = int(np.argmin(sizes))
    order = _shuffled(hashes.size)
    offered = await rt.input(hashes[order] if rt.party_id == candidate else None, sender=candidate)
    others = [j for j in range(rt.n_parties) if j != candidate]
    coefficients = await asyncio.gather(
        *(
            rt.input(_polynomial(field_, hashes) if rt.party_id == j else None, sender=j)
            for j in others
        )
    )
    degree = max(sizes[j] for j in others)
    powers = _powers(offered, degree)  # (s, degree + 1)
    terms = []
    for j, c in zip(others, coefficients, strict=True):
        d = sizes[j]
        value = powers[:, :d].vecdot(c) + powers[:, d]  # P_j(e), monic
        terms.append(value.reshape(-1, 1))
    values = concatenate(terms, axis=1)  # (s, n - 1)
    weights = rt.random(values.shape)
    combined = values.vecdot(weights)  # sum_j rho_j P_j(e)
    member = await is_zero(combined)
    if reveal == "size":
        opened = await _open_to(member.sum(), who, rt)
        return None if opened is None else IntersectionResult(int(opened))
    opened = await _open_to(member * offered, who, rt)
    if opened is None:
        return None
    found = [int(h) % field_.p for h in opened.tolist() if int(h) != 0]
    lookup = {int(h): e for h, e in zip(hashes[: len(mine)].tolist(), mine, strict=True)}
    return IntersectionResult(len(found), [lookup[h] for h in found if h in lookup], sorted(found))


async def _sizes(rt: Runtime, size: int) -> list[int]:
    """Learn every party's (public) set size: the shapes of one empty input each."""
    shared = await rt.input_all(np.zeros((size, 0), dtype=np.int64))
    return [s.shape[0] for s in shared]


def _shuffled(count: int) -> npt.NDArray[np.intp]:
    """A uniformly random permutation from the operating system's CSPRNG (Fisher-Yates)."""
    order = list(range(count))
    for i in range(count - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.intp)


async def _open_to(value: SecretArray, who: list[int], rt: Runtime) -> np.ndarray[Any, Any] | None:
    opened = await asyncio.gather(*(value.open(to=party) for party in who))
    return dict(zip(who, opened, strict=True)).get(rt.party_id)


def plain_intersection(sets: list[Any]) -> set[Any]:
    """The plaintext intersection, for checks and plain mode."""
    result = set(sets[0]) if sets else set()
    for other in sets[1:]:
        result &= set(other)
    return result


async def psi_program(
    rt: Runtime, sets: list[list[Any]], reveal: Reveal = "elements"
) -> dict[str, Any] | None:
    """Demo program: party ``i`` holds ``sets[i]`` (the demo simulates every party)."""
    result = await private_intersection(rt, sets[rt.party_id], reveal=reveal)
    return None if result is None else result.to_dict()
