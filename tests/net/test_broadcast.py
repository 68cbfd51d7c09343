"""Dolev–Strong broadcast (sans-I/O): agreement, validity and evidence against lying senders."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from veil.errors import ConfigError
from veil.net.broadcast import DolevStrong, SignedPayload, SigningKeys

#: A corrupt party's behaviour: (round, its honest message, receiver) -> what it sends (None: nothing).
Tamper = Callable[[int, bytes, int], bytes | None]


def run(
    n: int, t: int, payloads: list[bytes], corrupt: dict[int, Tamper] | None = None
) -> list[DolevStrong]:
    """Run one parallel broadcast among n parties; corrupt parties' messages go through their tamper."""
    keys = SigningKeys.generate(n)
    parties = [DolevStrong(keys[i], t, b"test#1", payloads[i]) for i in range(n)]
    corrupt = corrupt or {}
    for rnd in range(1, t + 2):
        messages = [p.message() for p in parties]
        for receiver in range(n):
            for sender in range(n):
                if sender == receiver:
                    continue
                data: bytes | None = messages[sender]
                if sender in corrupt:
                    data = corrupt[sender](rnd, messages[sender], receiver)
                parties[receiver].deliver(sender, data)
        for p in parties:
            p.end_round()
    return parties


@pytest.mark.parametrize(("n", "t"), [(3, 1), (4, 1), (5, 2), (7, 3)])
def test_honest_senders_are_received_by_everyone(n: int, t: int) -> None:
    """Validity: every party outputs every honest payload, empty ones included."""
    payloads = [f"party {i}".encode() if i % 2 else b"" for i in range(n)]
    for party in run(n, t, payloads):
        outcome = party.outcome()
        assert outcome.values == payloads
        assert outcome.equivocations == {}


@pytest.mark.parametrize(("n", "t"), [(3, 1), (4, 1), (5, 2), (7, 3)])
def test_an_equivocating_sender_is_caught_with_evidence_everywhere(n: int, t: int) -> None:
    """A sender signing different payloads for different parties gets ⊥ and two signed payloads."""
    cheater = n - 1
    keys = SigningKeys.generate(n)
    payloads = [b"ok"] * n
    parties = [DolevStrong(keys[i], t, b"eq#1", payloads[i]) for i in range(n)]
    other = DolevStrong(keys[cheater], t, b"eq#1", b"forged")  # the cheater's second payload
    for rnd in range(1, t + 2):
        messages = [p.message() for p in parties]
        alt = other.message()
        for receiver in range(n):
            for sender in range(n):
                if sender != receiver:
                    data = messages[sender]
                    if sender == cheater and rnd == 1 and receiver % 2:
                        data = alt
                    parties[receiver].deliver(sender, data)
        for p in parties:
            p.end_round()
        other.end_round()
    honest = [p.outcome() for i, p in enumerate(parties) if i != cheater]
    for outcome in honest:
        assert outcome.values[cheater] is None
        first, second = outcome.equivocations[cheater]
        assert first.payload != second.payload
        assert first.valid(keys[0])
        assert second.valid(keys[0])
    assert len({tuple(o.values) for o in honest}) == 1


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3)])
def test_a_sender_who_talks_to_one_party_only_still_reaches_everyone(n: int, t: int) -> None:
    """Agreement: a payload sent to a single honest party is relayed to all of them."""
    cheater = 0

    def only_to_one(rnd: int, message: bytes, receiver: int) -> bytes | None:
        return message if rnd > 1 or receiver == 1 else None

    parties = run(n, t, [b"x"] * n, {cheater: only_to_one})
    outcomes = [p.outcome() for p in parties[1:]]
    assert all(o.values[cheater] == b"x" for o in outcomes)


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3)])
def test_a_silent_sender_is_bottom_at_every_honest_party(n: int, t: int) -> None:
    """A party that sends nothing gets ⊥ (listed as silent), and the others are unaffected."""
    silent = n - 1
    parties = run(n, t, [b"v"] * n, {silent: lambda rnd, message, receiver: None})
    for party in parties[:-1]:
        outcome = party.outcome()
        assert outcome.values[silent] is None
        assert outcome.silent == [silent]
        assert outcome.values[:-1] == [b"v"] * (n - 1)


def test_a_late_payload_signed_only_by_corrupt_parties_cannot_split_the_honest() -> None:
    """t corrupt parties release a payload in the last round to one honest party: nobody accepts it."""
    n, t = 5, 2
    keys = SigningKeys.generate(n)
    instance = b"late#1"
    parties = [DolevStrong(keys[i], t, instance, b"") for i in range(n)]
    corrupt = (3, 4)
    from veil.net.broadcast import digest

    payload = b"surprise"
    chain = [(c, keys[c].sign(instance, 3, digest(payload))) for c in corrupt]

    import struct

    def entry() -> bytes:
        out = struct.pack(">H", 1) + struct.pack(">HIB", 3, len(payload), len(chain)) + payload
        for signer, sig in chain:
            out += struct.pack(">H", signer) + sig
        return out

    for rnd in range(1, t + 2):
        messages = [p.message() for p in parties]
        for receiver in range(3):
            for sender in range(n):
                if sender == receiver:
                    continue
                data = messages[sender]
                if sender == 4:
                    data = entry() if (rnd == 2 and receiver == 0) else None
                if sender == 3:
                    data = None
                parties[receiver].deliver(sender, data)
        for p in parties:
            p.end_round()
    outcomes = [parties[i].outcome() for i in range(3)]
    assert len({tuple(o.values) for o in outcomes}) == 1


def test_garbage_and_forged_signatures_are_ignored() -> None:
    """Malformed messages are noted; a payload with a forged signature is never accepted."""
    n, t = 3, 1
    keys = SigningKeys.generate(n)
    party = DolevStrong(keys[0], t, b"g#1", b"")
    party.deliver(1, b"\x00\x01garbage")
    assert party.malformed == {1}
    forger = DolevStrong(keys[2], t, b"g#1", b"fake")
    message = forger.message()
    # party 2's entry re-labelled as party 1's: the signature is party 2's, so it is refused
    tampered = message[:2] + (1).to_bytes(2, "big") + message[4:]
    party.deliver(2, tampered)
    party.end_round()
    party.end_round()
    assert party.outcome().values[1] is None


def test_signed_payloads_do_not_verify_in_another_run() -> None:
    """A signature names the run: it is worthless as evidence in a different run."""
    first = SigningKeys.generate(3)
    second = [SigningKeys(k.party_id, k.private_key, k.public_keys, b"\x01" * 32) for k in first]
    from veil.net.broadcast import digest

    sig = first[1].sign(b"x", 1, digest(b"p"))
    assert SignedPayload(b"x", 1, b"p", sig).valid(first[0])
    assert not SignedPayload(b"x", 1, b"p", sig).valid(second[0])


def test_bad_parameters_are_refused() -> None:
    """The threshold must be below n, and run ids are 32 bytes."""
    keys = SigningKeys.generate(3)
    with pytest.raises(ConfigError, match="threshold must be in"):
        DolevStrong(keys[0], 3, b"x", b"")
    with pytest.raises(ConfigError, match="run_id must be 32 bytes"):
        SigningKeys(0, keys[0].private_key, keys[0].public_keys, b"short")
