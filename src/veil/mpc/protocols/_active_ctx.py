"""Shared state and plumbing of the active suite: tagged shares, tolerant exchanges, broadcast.

Everything here is used by every active protocol step:

- :class:`Tagged`: a share of ``x`` that carries this party's share of ``r·x``, its *tag* under the
  global secret key ``r`` (the randomized sharing of [CGH+18]).
- :class:`Context`: one party's keys and counters, :meth:`Context.exchange` (one tolerant round:
  a missing or malformed message is reported, never fatal), :meth:`Context.broadcast` (Dolev–Strong
  over ``t + 1`` rounds, :mod:`veil.net.broadcast`), signing and naming cheaters.

The rule every step follows: *what a party observes alone is reported in the next broadcast, and
only broadcast (agreed) data decides a branch*, so all honest parties always run the same rounds.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.errors import CheaterDetected, ProtocolError
from veil.field import Field, FieldArray
from veil.net.broadcast import BroadcastOutcome, DolevStrong, SigningKeys

if TYPE_CHECKING:
    from veil.mpc.protocols._active_deal import Dealt
    from veil.mpc.runtime import Runtime

__all__ = [
    "SIG_WORDS",
    "Context",
    "Tagged",
    "digest_words",
    "from_words",
    "plain",
    "tagged",
    "to_words",
]

#: uint64 words of an Ed25519 signature.
SIG_WORDS = 8


class Tagged(np.ndarray):
    """A share of ``x`` (the array itself) with ``tag``, this party's share of ``r·x``.

    Arrays derived from it by numpy operations lose the tag (``tag is None``): only the active
    suite makes tagged shares, through :func:`tagged`.
    """

    tag: FieldArray | None

    def __array_finalize__(self, obj: Any) -> None:
        self.tag = None


def tagged(value: FieldArray, tag: FieldArray) -> Tagged:
    """Return ``value`` viewed as a :class:`Tagged` share carrying ``tag`` (same shape)."""
    out = np.asarray(value, dtype=np.uint64).view(Tagged)
    out.tag = np.asarray(tag, dtype=np.uint64).reshape(out.shape)
    return out


def plain(a: FieldArray) -> FieldArray:
    """Return the share as a plain ``uint64`` array (no tag)."""
    return np.asarray(a, dtype=np.uint64).view(np.ndarray)


def to_words(data: bytes) -> FieldArray:
    """Pack bytes into uint64 words: a length word, then the bytes padded to whole words."""
    pad = (-len(data)) % 8
    body = np.frombuffer(data + bytes(pad), dtype=np.uint64)
    return np.concatenate([np.array([len(data)], dtype=np.uint64), body])


def from_words(words: FieldArray) -> bytes:
    """Unpack :func:`to_words`; raise ValueError on a malformed packing."""
    if words.size < 1:
        raise ValueError("empty packing")
    size = int(words[0])
    if size > 8 * (words.size - 1) or 8 * (words.size - 1) - size >= 8:
        raise ValueError("bad length word")
    return words[1:].tobytes()[:size]


class Context:
    """One party's view of an active run: identity, keys, and the round helpers.

    Attributes
    ----------
    rt : Runtime
    keys : SigningKeys
        Set by the suite's set-up.
    r_share : int
        This party's share of the global tag key ``r`` (set-up).
    corrected : list of int
        Parties whose wrong shares error correction fixed (``t < n/3``); the run went on.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.field: Field = rt.field
        self.p = rt.field.p
        self.n = rt.n_parties
        self.t = rt.threshold
        self.me = rt.party_id
        self.peers = [j for j in range(self.n) if j != self.me]
        self.keys: SigningKeys | None = None
        self.pair_keys: dict[int, bytes] = {}
        self.prss_keys: dict[frozenset[int], bytes] = {}
        self.r_share = 0
        #: The set-up dealings of the contributions to ``r`` (revealed to locate a cheater).
        self.r_dealings: dict[int, Dealt] = {}
        self.corrected: list[int] = []
        #: A harness hook: called as ``adversary(step, data)`` at tamper points (tests only).
        self.adversary: Any = None

    # ----- parameters ---------------------------------------------------------------------------

    @property
    def degree_checks(self) -> bool:
        """Whether honest shares could be off one polynomial: ``n >= t + 3`` (else any is fine).

        With at most ``n - t - 1`` honest parties besides a cheating dealer, i.e. ``n <= t + 2``,
        the honest shares are at most ``t + 1`` points and always lie on a degree-``t`` polynomial.
        """
        return self.n >= self.t + 3

    @property
    def corrects_errors(self) -> bool:
        """Whether openings correct ``t`` wrong shares (``n >= 3t + 1``)."""
        return self.n >= 3 * self.t + 1

    def signing(self) -> SigningKeys:
        """Return the run's keys (set-up must have run)."""
        if self.keys is None:  # pragma: no cover - set-up always sets them first
            raise ProtocolError("the active suite's keys are not set up", step="setup")
        return self.keys

    def instance(self, step: str) -> bytes:
        """Return a fresh instance name for ``step`` (the same at every party: labels are)."""
        return f"{step}#{self.rt.next_label()}".encode()

    # ----- rounds ---------------------------------------------------------------------------------

    async def exchange(
        self, kind: str, outgoing: Mapping[int, FieldArray], recv_from: Iterable[int]
    ) -> dict[int, FieldArray]:
        """Run one tolerant exchange; peers whose part is missing or malformed are absent."""
        sources = tuple(recv_from)
        if self.adversary is not None:
            outgoing = self.adversary.outgoing(kind, dict(outgoing))
        received: dict[int, FieldArray] = await self.rt.exchange(
            kind, outgoing, sources, lambda got: dict(got)
        )
        return received

    async def broadcast(self, step: str, payload: bytes) -> BroadcastOutcome:
        """Broadcast ``payload`` (every party broadcasts one, possibly empty); agreed outcome.

        Dolev–Strong, ``t + 1`` rounds. A party whose broadcast is ⊥ (silent, or two signed
        payloads) is named at once: every honest party sees the same ⊥.
        """
        keys = self.signing()
        instance = self.instance(step)
        if self.adversary is not None:
            payload = self.adversary.broadcast(step, payload)
        ds = DolevStrong(keys, self.t, instance, payload)
        while not ds.done:
            words = to_words(ds.message())
            received = await self.exchange("bcast", dict.fromkeys(self.peers, words), self.peers)
            for peer in self.peers:
                data = received.get(peer)
                try:
                    ds.deliver(peer, None if data is None else from_words(data))
                except ValueError:
                    ds.deliver(peer, None)
            ds.end_round()
        outcome = ds.outcome()
        bad = sorted(set(outcome.silent) | set(outcome.equivocations))
        if bad:
            reasons = [
                f"party {s} signed two different broadcasts"
                if s in outcome.equivocations
                else f"party {s} broadcast nothing valid"
                for s in bad
            ]
            raise self.cheater(bad, step, "; ".join(reasons))
        return outcome

    # ----- signatures -----------------------------------------------------------------------------

    def sign(self, instance: bytes, receiver: int, payload_digest: bytes) -> bytes:
        """Sign the digest of a payload this party sends to ``receiver`` under ``instance``."""
        return self.signing().sign(_addressed(instance, receiver), self.me, payload_digest)

    def verify(
        self, sender: int, receiver: int, instance: bytes, payload_digest: bytes, signature: bytes
    ) -> bool:
        """Check that ``sender`` signed the payload digest for ``receiver`` under ``instance``."""
        return self.signing().verify(
            sender, signature, _addressed(instance, receiver), sender, payload_digest
        )

    # ----- verdicts -------------------------------------------------------------------------------

    def cheater(self, parties: Sequence[int], step: str, reason: str) -> CheaterDetected:
        """Return the error every honest party raises when ``parties`` are proven cheaters."""
        named = sorted(set(parties))
        return CheaterDetected(
            f"party {named[0]} cheated in {step!r}: {reason}; every honest party stopped, "
            "and no output was produced",
            party=named[0],
            parties=named,
            step=step,
            hint="exclude the named party and run again; its evidence is in the message",
        )


def _addressed(instance: bytes, receiver: int) -> bytes:
    return instance + b">" + struct.pack(">H", receiver)


def digest_words(words: FieldArray) -> bytes:
    """Return the SHA-256 digest of an array of words (the bytes that signatures cover)."""
    return hashlib.sha256(np.ascontiguousarray(words).data).digest()
