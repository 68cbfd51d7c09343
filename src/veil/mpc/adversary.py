"""Run parties that cheat: a test harness for active security (and the ``veil demo cheat`` demo).

A :class:`Misbehaviour` says what a corrupt party does; :func:`gather_with_cheaters` runs a program
with some parties corrupted (in one process, over memory channels) and returns every party's
outcome — its result or the error it stopped with — instead of raising, so a test can check the
rule of active mode: the honest parties output the correct result, or they all stop with
:class:`~veil.errors.CheaterDetected` naming a cheater.

The corrupt party runs the honest protocol code with an :class:`Adversary` hooked into it. The
hooks sit where a real cheater would act:

====================  ===========================================================================
kind                  what the corrupt party does (from its ``after``-th chance on)
====================  ===========================================================================
``wrong-share``       adds 1 to its share in every opening (signing the wrong share)
``equivocate``        sends ``victim`` a different opening share than everyone else (both signed)
``wrong-mul-share``   adds 1 to its local product before re-sharing it (an additive attack)
``bad-tag``           adds 1 to its local product of the tag ``r·x``
``bad-signature``     corrupts its signatures on opening shares
``withhold``          stops sending anything to ``victim`` (everyone, if ``victim`` is None)
``garbage``           replaces its multiplication messages by random bytes
``crash``             stops dead (its channels close) at its first multiplication
====================  ===========================================================================

This module is a test utility: it never weakens an honest party, and a runtime only uses it when
a test installs it (``runtime.protocols.ctx.adversary``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.errors import ConfigError
from veil.field import Field, FieldArray
from veil.mpc.launcher import Program
from veil.mpc.runtime import Runtime
from veil.net.broadcast import SigningKeys
from veil.net.channels import Timeouts, memory_mesh

__all__ = [
    "KINDS",
    "Adversary",
    "Misbehaviour",
    "PartyOutcome",
    "gather_with_cheaters",
    "install",
    "run_with_cheaters",
]

#: Every misbehaviour the harness can play.
KINDS = (
    "wrong-share",
    "equivocate",
    "wrong-mul-share",
    "bad-tag",
    "bad-signature",
    "withhold",
    "garbage",
    "crash",
)


@dataclass(frozen=True)
class Misbehaviour:
    """What a corrupt party does.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    victim : int or None
        The party that ``equivocate`` and ``withhold`` target (``withhold``: None means everyone;
        ``equivocate``: None means party 0, or 1 for party 0 itself).
    after : int
        How many chances to cheat to let pass first (0: cheat at the first one).
    """

    kind: str
    victim: int | None = None
    after: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"misbehaviour kind must be one of {list(KINDS)}, got {self.kind!r}",
                field="kind",
            )


class CrashNow(Exception):
    """Raised inside the corrupt party to stop it dead (its channels are then closed)."""


class Adversary:
    """The hooks the active suite calls at a corrupt party (see the module docstring)."""

    def __init__(self, party: int, n_parties: int, behaviour: Misbehaviour) -> None:
        self.party = party
        self.n = n_parties
        self.behaviour = behaviour
        self.seen = 0
        self.acted = 0

    def _chance(self) -> bool:
        self.seen += 1
        if self.seen > self.behaviour.after:
            self.acted += 1
            return True
        return False

    def _victim(self) -> int:
        victim = self.behaviour.victim
        if victim is None:
            return 1 if self.party == 0 else 0
        return victim

    def outgoing(self, kind: str, outgoing: dict[int, FieldArray]) -> dict[int, FieldArray]:
        """Change what this party sends in one exchange (withhold, garbage, crash)."""
        b = self.behaviour
        if b.kind == "withhold" and outgoing and self._chance():
            if b.victim is None:
                return {}
            return {j: w for j, w in outgoing.items() if j != b.victim}
        if b.kind == "garbage" and kind == "mul" and self._chance():
            return {
                j: np.frombuffer(os.urandom(8 * (w.size + 1)), dtype=np.uint64)
                for j, w in outgoing.items()
            }
        if b.kind == "crash" and kind == "mul" and self._chance():
            raise CrashNow(f"party {self.party} crashes (test harness)")
        return outgoing

    def broadcast(self, step: str, payload: bytes) -> bytes:
        """Change what this party broadcasts (no misbehaviour here alters broadcasts)."""
        return payload

    def tamper(self, step: str, receiver: int, words: FieldArray) -> FieldArray:
        """Change a payload before it is signed (shares) or a local product before re-sharing."""
        b = self.behaviour
        hit = (
            (b.kind == "wrong-share" and step == "open")
            or (b.kind == "equivocate" and step == "open" and receiver == self._victim())
            or (b.kind == "wrong-mul-share" and step == "product")
            or (b.kind == "bad-tag" and step == "tag")
        )
        if not hit or words.size == 0:
            return words
        if (b.kind != "equivocate" or receiver == self._victim()) and not self._chance():
            return words
        out = np.array(words, dtype=np.uint64, copy=True)
        out[0] = (int(out[0]) + 1) % (2**61 - 1)
        return out

    def sign(self, step: str, receiver: int, signature: bytes) -> bytes:
        """Change a signature (``bad-signature``: on opening shares)."""
        if self.behaviour.kind == "bad-signature" and step == "open" and self._chance():
            return bytes([signature[0] ^ 1]) + signature[1:]
        return signature


def install(rt: Runtime, behaviour: Misbehaviour) -> Adversary:
    """Make ``rt``'s party play ``behaviour`` from now on (active runtimes only)."""
    ctx = getattr(rt.protocols, "ctx", None)
    if ctx is None:
        raise ConfigError(
            f"misbehaviours need security='active', got {rt.security!r}", field="security"
        )
    adversary = Adversary(rt.party_id, rt.n_parties, behaviour)
    ctx.adversary = adversary
    return adversary


@dataclass
class PartyOutcome:
    """How one party's run ended.

    Attributes
    ----------
    party : int
    value : Any
        The program's result (None if it stopped with an error).
    error : BaseException or None
        What it stopped with.
    corrupt : bool
        Whether the harness corrupted this party.
    corrected : list of int
        Parties whose wrong shares error correction fixed (``t < n/3``).
    """

    party: int
    value: Any = None
    error: BaseException | None = None
    corrupt: bool = False
    corrected: list[int] = field(default_factory=list)


async def gather_with_cheaters(
    program: Program,
    n_parties: int,
    cheaters: Mapping[int, Misbehaviour],
    *,
    threshold: int | None = None,
    args: Sequence[Any] = (),
    field_: Field | None = None,
    timeouts: Timeouts | None = None,
) -> list[PartyOutcome]:
    """Run ``program`` in active mode with ``cheaters`` corrupted; return every party's outcome."""
    timeouts = timeouts or Timeouts(recv_seconds=2.0)
    mesh = memory_mesh(n_parties, timeouts)
    keys = SigningKeys.generate(n_parties)

    async def party(i: int) -> PartyOutcome:
        outcome = PartyOutcome(i, corrupt=i in cheaters)
        try:
            async with Runtime(
                i,
                n_parties,
                threshold,
                mesh[i],
                field=field_,
                timeouts=timeouts,
                security="active",
                signing=keys[i],
            ) as rt:
                if i in cheaters:
                    install(rt, cheaters[i])
                outcome.value = await program(rt, *args)
                outcome.corrected = list(rt.protocols.ctx.corrected)  # type: ignore[attr-defined]
        except Exception as exc:
            outcome.error = exc
            for channel in mesh[i].values():  # a stopped party's peers learn it at once
                await channel.aclose()
        return outcome

    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), CrashNow):
            return  # the crashed party's own pending operations: expected
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet)
    try:
        return list(await asyncio.gather(*(party(i) for i in range(n_parties))))
    finally:
        loop.set_exception_handler(previous)


def run_with_cheaters(
    program: Program,
    n_parties: int,
    cheaters: Mapping[int, Misbehaviour],
    **kwargs: Any,
) -> list[PartyOutcome]:
    """Run :func:`gather_with_cheaters` in a fresh event loop."""
    return asyncio.run(gather_with_cheaters(program, n_parties, cheaters, **kwargs))
