"""Signed broadcast among a fixed set of parties: keys, signed statements and Dolev–Strong (sans-I/O).

Active security needs a *broadcast channel*: when a party announces a complaint, a verdict or a
challenge, every honest party must receive the same value, or all must agree that the sender sent
nothing valid. With ``t < n/2`` this is impossible without set-up, so veil's parties sign with
Ed25519 keys known to all (the federation's certificate keys, or keys a launcher generates for an
in-process run) and run the protocol of Dolev and Strong [DS83].

:class:`DolevStrong` runs ``n`` broadcasts at once (every party is the sender of one payload; an
idle party sends an empty one) over ``t + 1`` rounds. It moves no bytes itself: the caller asks for
the message of the round (:meth:`DolevStrong.message`, one message for all peers), hands over what
each peer sent (:meth:`DolevStrong.deliver`, ``None`` for nothing), ends the round
(:meth:`DolevStrong.end_round`), and after round ``t + 1`` reads :meth:`DolevStrong.outcome`.

Guarantees, for any ``t < n`` corrupt parties, given that signatures cannot be forged (Ed25519,
computational) and that rounds are synchronous (a message that misses its round is lost):

- **Agreement**: all honest parties output the same value for every sender (a payload or ⊥).
- **Validity**: an honest sender's payload is output by every honest party.
- **Evidence**: a sender that signed two different payloads is caught; the two signed payloads,
  checkable by anyone with the public keys, are in :attr:`BroadcastOutcome.equivocations`.

A value is accepted in round ``r`` only with ``r`` valid signatures by distinct parties on it, the
sender's first; a newly accepted value is relayed with one more signature. At most two values per
sender are relayed, so the traffic stays ``O(n^2)`` signatures per party and round.

Signed statements bind the run (``SigningKeys.run_id``, fresh per run so a signature can never be
replayed into another run), an instance name (unique per broadcast within the run), the sender and
the SHA-256 digest of the payload.

References
----------
[DS83] D. Dolev, H. R. Strong, "Authenticated algorithms for Byzantine agreement", SIAM Journal on
Computing 12(4), 1983. Summary used: https://decentralizedthoughts.github.io/2019-12-22-dolev-strong/
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veil.errors import ConfigError

__all__ = [
    "SIGNATURE_BYTES",
    "BroadcastOutcome",
    "DolevStrong",
    "SignedPayload",
    "SigningKeys",
    "digest",
]

#: Bytes of an Ed25519 signature.
SIGNATURE_BYTES = 64
_DOMAIN = b"veil/signed/v1"
_MAX_PARTIES = 1 << 16


def digest(payload: bytes | memoryview) -> bytes:
    """Return the SHA-256 digest (32 bytes) that signatures cover."""
    return hashlib.sha256(payload).digest()


@dataclass(frozen=True, eq=False)
class SigningKeys:
    """One party's signing key, everybody's verification keys, and the run they sign for.

    Attributes
    ----------
    party_id : int
        The party holding ``private_key``.
    private_key : Ed25519PrivateKey
        This party's key (its federation key, or one generated for an in-process run).
    public_keys : tuple of Ed25519PublicKey
        Party ``i``'s key at index ``i``, the same list at every party (the PKI).
    run_id : bytes
        32 bytes, fresh for every run and the same at every party: signatures name it, so none
        can be replayed into another run.
    """

    party_id: int
    private_key: Ed25519PrivateKey
    public_keys: tuple[Ed25519PublicKey, ...]
    run_id: bytes

    def __post_init__(self) -> None:
        n = len(self.public_keys)
        if not 0 <= self.party_id < n or n > _MAX_PARTIES:
            raise ConfigError(
                f"party_id must be in [0, {n}) for {n} public keys, got {self.party_id}",
                field="party_id",
            )
        if len(self.run_id) != 32:
            raise ConfigError(
                f"run_id must be 32 bytes, got {len(self.run_id)}",
                field="run_id",
                hint="draw it with os.urandom(32) once per run and give it to every party",
            )

    @property
    def n_parties(self) -> int:
        """Number of parties in the PKI."""
        return len(self.public_keys)

    @classmethod
    def generate(cls, n_parties: int, run_id: bytes | None = None) -> list[SigningKeys]:
        """Return fresh keys for ``n_parties`` parties of one run (for in-process runs and tests).

        This plays the trusted set-up of a PKI: use it only where one process runs every party.
        """
        run = os.urandom(32) if run_id is None else run_id
        private = [Ed25519PrivateKey.generate() for _ in range(n_parties)]
        public = tuple(k.public_key() for k in private)
        return [cls(i, key, public, run) for i, key in enumerate(private)]

    def statement(self, instance: bytes, sender: int, payload_digest: bytes) -> bytes:
        """Return the bytes a signature covers: run, instance, sender and payload digest."""
        return (
            b"".join(
                (_DOMAIN, self.run_id, struct.pack(">I", len(instance)), instance),
            )
            + struct.pack(">H", sender)
            + payload_digest
        )

    def sign(self, instance: bytes, sender: int, payload_digest: bytes) -> bytes:
        """Sign the statement about ``sender``'s payload with this party's key (64 bytes)."""
        return self.private_key.sign(self.statement(instance, sender, payload_digest))

    def verify(
        self, signer: int, signature: bytes, instance: bytes, sender: int, payload_digest: bytes
    ) -> bool:
        """Return whether ``signature`` is ``signer``'s on the statement (False for bad signers)."""
        if not 0 <= signer < len(self.public_keys) or len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self.public_keys[signer].verify(
                signature, self.statement(instance, sender, payload_digest)
            )
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignedPayload:
    """A payload with its sender's signature: transferable evidence of what the sender said.

    Attributes
    ----------
    instance : bytes
        The broadcast or message the signature is about.
    sender : int
        The party that signed.
    payload : bytes
    signature : bytes
    """

    instance: bytes
    sender: int
    payload: bytes
    signature: bytes

    def valid(self, keys: SigningKeys) -> bool:
        """Return whether the sender's signature checks under ``keys``' PKI and run."""
        return keys.verify(
            self.sender, self.signature, self.instance, self.sender, digest(self.payload)
        )


@dataclass
class BroadcastOutcome:
    """What a Dolev–Strong run decided; the same at every honest party.

    Attributes
    ----------
    values : list of bytes or None
        ``values[s]`` is sender ``s``'s payload, or None (⊥) when it sent nothing valid to anyone
        honest in time, or signed two different payloads.
    equivocations : dict of int to (SignedPayload, SignedPayload)
        Senders proven to have signed two different payloads, with the two signed payloads.
    """

    values: list[bytes | None]
    equivocations: dict[int, tuple[SignedPayload, SignedPayload]] = field(default_factory=dict)

    @property
    def silent(self) -> list[int]:
        """Senders whose value is ⊥ without an equivocation: they broadcast nothing valid."""
        return [s for s, v in enumerate(self.values) if v is None and s not in self.equivocations]


class DolevStrong:
    """``n`` parallel Dolev–Strong broadcasts seen from one party (sans-I/O).

    Parameters
    ----------
    keys : SigningKeys
        This party's keys; ``keys.party_id`` is this party.
    threshold : int
        ``t``: the run lasts ``t + 1`` rounds and tolerates any ``t < n`` corrupt parties.
    instance : bytes
        A name unique within the run (e.g. ``b"open#17/verdict"``); every party uses the same.
    payload : bytes
        What this party broadcasts (may be empty).
    """

    def __init__(self, keys: SigningKeys, threshold: int, instance: bytes, payload: bytes) -> None:
        n = keys.n_parties
        if not 0 <= threshold < n:
            raise ConfigError(
                f"threshold must be in [0, {n}) for {n} parties, got {threshold}",
                field="threshold",
            )
        self.keys = keys
        self.n = n
        self.rounds = threshold + 1
        self.instance = instance
        self.round = 1
        self.me = keys.party_id
        # per sender: payload -> list of (signer, signature); at most two payloads per sender
        self._accepted: list[dict[bytes, list[tuple[int, bytes]]]] = [{} for _ in range(n)]
        self._relay: list[tuple[int, bytes, list[tuple[int, bytes]]]] = []
        self._pending_relay: list[tuple[int, bytes, list[tuple[int, bytes]]]] = []
        self.malformed: set[int] = set()
        own_sig = keys.sign(instance, self.me, digest(payload))
        self._accepted[self.me][payload] = [(self.me, own_sig)]
        self._relay.append((self.me, payload, [(self.me, own_sig)]))
        self._verified: set[tuple[int, int, bytes]] = set()

    @property
    def done(self) -> bool:
        """Whether all ``t + 1`` rounds have ended."""
        return self.round > self.rounds

    def message(self) -> bytes:
        """Return this round's message, the same for every peer (relays with our signature)."""
        out = [struct.pack(">H", len(self._relay))]
        for sender, payload, chain in self._relay:
            out.append(struct.pack(">HIB", sender, len(payload), len(chain)))
            out.append(payload)
            for signer, sig in chain:
                out.append(struct.pack(">H", signer))
                out.append(sig)
        return b"".join(out)

    def deliver(self, peer: int, data: bytes | None) -> None:
        """Take ``peer``'s message of the current round (None: nothing arrived in time)."""
        if data is None or self.done:
            return
        try:
            entries = _parse(data, self.n)
        except ValueError:
            self.malformed.add(peer)
            return
        for sender, payload, chain in entries:
            self._consider(sender, payload, chain)

    def _consider(self, sender: int, payload: bytes, chain: list[tuple[int, bytes]]) -> None:
        accepted = self._accepted[sender]
        if payload in accepted or len(accepted) >= 2:
            return
        signers = [s for s, _ in chain]
        if (
            len(chain) != self.round
            or signers[0] != sender
            or len(set(signers)) != len(signers)
            or self.me in signers
        ):
            return
        d = digest(payload)
        for signer, sig in chain:
            key = (signer, sender, sig)
            if key in self._verified:
                continue
            if not self.keys.verify(signer, sig, self.instance, sender, d):
                return
            self._verified.add(key)
        accepted[payload] = list(chain)
        if self.round < self.rounds:
            own = self.keys.sign(self.instance, sender, d)
            self._pending_relay.append((sender, payload, [*chain, (self.me, own)]))

    def end_round(self) -> None:
        """Close the current round: what was accepted in it is relayed in the next."""
        self._relay = self._pending_relay
        self._pending_relay = []
        self.round += 1

    def outcome(self) -> BroadcastOutcome:
        """Return the decision; call after round ``t + 1`` has ended."""
        if not self.done:
            raise RuntimeError(f"the broadcast is in round {self.round} of {self.rounds}")
        values: list[bytes | None] = []
        equivocations: dict[int, tuple[SignedPayload, SignedPayload]] = {}
        for sender, accepted in enumerate(self._accepted):
            if len(accepted) == 1:
                values.append(next(iter(accepted)))
                continue
            values.append(None)
            if len(accepted) >= 2:
                (p1, c1), (p2, c2) = list(accepted.items())[:2]
                equivocations[sender] = (
                    SignedPayload(self.instance, sender, p1, c1[0][1]),
                    SignedPayload(self.instance, sender, p2, c2[0][1]),
                )
        return BroadcastOutcome(values, equivocations)


def _parse(data: bytes, n: int) -> list[tuple[int, bytes, list[tuple[int, bytes]]]]:
    """Decode a round message; raise ValueError on any malformation."""
    view = memoryview(data)
    if len(view) < 2:
        raise ValueError("short message")
    (count,) = struct.unpack_from(">H", view, 0)
    offset = 2
    entries = []
    for _ in range(count):
        if offset + 7 > len(view):
            raise ValueError("truncated entry header")
        sender, size, links = struct.unpack_from(">HIB", view, offset)
        offset += 7
        if sender >= n or links == 0 or offset + size > len(view):
            raise ValueError("bad entry")
        payload = bytes(view[offset : offset + size])
        offset += size
        chain = []
        for _ in range(links):
            if offset + 2 + SIGNATURE_BYTES > len(view):
                raise ValueError("truncated signature")
            (signer,) = struct.unpack_from(">H", view, offset)
            chain.append((signer, bytes(view[offset + 2 : offset + 2 + SIGNATURE_BYTES])))
            offset += 2 + SIGNATURE_BYTES
        entries.append((sender, payload, chain))
    if offset != len(view):
        raise ValueError("trailing bytes")
    return entries
