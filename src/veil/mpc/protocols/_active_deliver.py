"""Reliable signed delivery: point-to-point messages that every honest party ends up agreeing on.

One *delivery* sends each receiver its payload with the sender's signature, then runs one
broadcast in which every party reports, per sender, what it got:

- for payloads meant to be the same for everyone (``same_to_all``, e.g. opening shares), the digest
  and the sender's signature, so that two different signed payloads prove that the sender
  equivocated: it is named;
- a payload that is missing, malformed, or badly signed is reported; its sender must then
  broadcast it (*republish*), or be named. A republished payload is public: this is safe because
  of the two parties in the dispute (sender and complaining receiver) one is corrupt and already
  knows it [BGW-DT].

Afterwards every honest party holds every payload addressed to it, with the sender's signature
(transferable evidence for audits) or as agreed broadcast data. Cost without faults: one round of
payloads and one broadcast (``t + 1`` rounds) of 97 bytes per sender.

[BGW-DT] I. Abraham, G. Asharov, "The BGW verifiable secret sharing protocol", Decentralized
Thoughts, 2022.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from veil.field import FieldArray
from veil.mpc.protocols._active_ctx import SIG_WORDS, Context, digest_words, from_words, to_words
from veil.net.broadcast import SIGNATURE_BYTES

__all__ = ["Delivery", "deliver"]

_OK, _MISSING = 0, 1


@dataclass
class Delivery:
    """What one party holds after a delivery.

    Attributes
    ----------
    instance : bytes
        The signed instance name (evidence refers to it).
    payloads : dict of int to FieldArray
        ``payloads[j]``: what sender ``j`` sent this party (every sender it expected).
    signatures : dict of int to bytes
        ``j``'s signature on ``payloads[j]`` when it came point to point.
    republished : dict of int to dict of int to FieldArray
        Payloads that senders had to broadcast, by sender then receiver (public, agreed).
    notes : list of bytes
        The extra payload every party attached to its report (agreed).
    everyone : dict of int to FieldArray
        ``same_to_all`` only: every sender's payload (the same at every honest party).
    """

    instance: bytes
    payloads: dict[int, FieldArray]
    signatures: dict[int, bytes]
    republished: dict[int, dict[int, FieldArray]] = field(default_factory=dict)
    notes: list[bytes] = field(default_factory=list)
    everyone: dict[int, FieldArray] = field(default_factory=dict)


async def deliver(
    ctx: Context,
    step: str,
    outgoing: Mapping[int, FieldArray],
    senders: Sequence[int],
    *,
    same_to_all: bool = False,
    receivers_of: Callable[[int], Sequence[int]] | None = None,
    validate: Callable[[int, FieldArray], bool] | None = None,
    note: bytes = b"",
) -> Delivery:
    """Deliver ``outgoing[i]`` to each receiver ``i`` reliably; return what this party holds.

    Parameters
    ----------
    step : str
        Name of the protocol step (messages, errors and evidence name it).
    outgoing : mapping of int to FieldArray
        This party's payload per receiver (uint64 words).
    senders : sequence of int
        Every party that sends in this delivery (the same list at every party).
    same_to_all : bool
        Senders send one payload to every other party; equivocation is detected and named.
    receivers_of : callable, optional
        ``receivers_of(j)``: the parties sender ``j`` sends to (default: all others).
    validate : callable, optional
        ``validate(sender, payload)``: whether a payload is well formed (size, field elements).
    note : bytes
        An extra payload for this party's report broadcast (returned agreed, in ``notes``).
    """
    instance = ctx.instance(step)
    me = ctx.me
    receivers_of = receivers_of or (lambda j: [k for k in range(ctx.n) if k != j])
    validate = validate or (lambda _j, _w: True)
    words_out: dict[int, FieldArray] = {}
    sent: dict[int, FieldArray] = {}  # what this party actually signed and sent, per receiver
    for receiver, payload in outgoing.items():
        payload = np.ascontiguousarray(payload, dtype=np.uint64).reshape(-1)
        if ctx.adversary is not None:
            payload = ctx.adversary.tamper(step, receiver, payload)
        sig = ctx.sign(instance, receiver, digest_words(payload))
        if ctx.adversary is not None:
            sig = ctx.adversary.sign(step, receiver, sig)
        words_out[receiver] = np.concatenate([payload, _sig_words(sig)])
        sent[receiver] = payload
    expected = [j for j in senders if j != me and me in receivers_of(j)]
    received = await ctx.exchange(step, words_out, expected)
    payloads: dict[int, FieldArray] = {}
    signatures: dict[int, bytes] = {}
    for j in expected:
        words = received.get(j)
        if words is None or words.size < SIG_WORDS:
            continue
        payload, sig = words[:-SIG_WORDS], words[-SIG_WORDS:].tobytes()
        if validate(j, payload) and ctx.verify(j, me, instance, digest_words(payload), sig):
            payloads[j] = payload
            signatures[j] = sig
    report = _report(expected, payloads, signatures, same_to_all)
    outcome = await ctx.broadcast(f"{step}/report", _pack(report, note))
    reports = [_unpack(v or b"") for v in outcome.values]
    notes = [r[1] for r in reports]
    for k, (entries, _) in enumerate(reports):
        if entries is None:  # a malformed report is a malformed broadcast
            raise ctx.cheater([k], f"{step}/report", f"party {k} broadcast a malformed report")
    # who must republish what; who equivocated
    requests: dict[int, list[int]] = {}
    signed_digest: dict[int, bytes] = {}
    for reporter, (entries, _) in enumerate(reports):
        assert entries is not None
        for sender, status, dig, sig in entries:
            if reporter == sender or reporter not in receivers_of(sender):
                continue
            if status == _MISSING:
                requests.setdefault(sender, []).append(reporter)
            elif same_to_all and ctx.verify(sender, reporter, instance, dig, sig):
                previous = signed_digest.setdefault(sender, dig)
                if previous != dig:
                    raise ctx.cheater(
                        [sender],
                        step,
                        f"party {sender} signed different payloads for different parties",
                    )
    republished: dict[int, dict[int, FieldArray]] = {}
    if requests:
        mine = b""
        if me in requests:
            mine = b"".join(
                struct.pack(">H", r) + to_words(words_out[r][:-SIG_WORDS].tobytes()).tobytes()
                for r in sorted(requests[me])
                if r in words_out
            )
        outcome = await ctx.broadcast(f"{step}/republish", mine)
        for sender, reporters in sorted(requests.items()):
            parsed = _parse_republish(outcome.values[sender] or b"")
            bad = parsed is None or sorted(parsed) != sorted(reporters)
            if not bad:
                assert parsed is not None
                for words in parsed.values():
                    if not validate(sender, words):
                        bad = True
                    elif same_to_all and sender in signed_digest:
                        bad = bad or digest_words(words) != signed_digest[sender]
            if bad:
                raise ctx.cheater(
                    [sender],
                    step,
                    f"party {sender} did not deliver its {step!r} message to parties "
                    f"{sorted(reporters)}, nor broadcast it when they complained",
                )
            assert parsed is not None
            republished[sender] = parsed
            if me in parsed:
                payloads[sender] = parsed[me]
                signatures.pop(sender, None)
    delivery = Delivery(instance, payloads, signatures, republished, notes)
    if same_to_all:
        for j in senders:
            if j == me:
                delivery.everyone[j] = sent[min(sent)]
            elif j in payloads:
                delivery.everyone[j] = payloads[j]
    return delivery


def _sig_words(sig: bytes) -> FieldArray:
    padded = sig[:SIGNATURE_BYTES].ljust(SIGNATURE_BYTES, b"\0")
    return np.frombuffer(padded, dtype=np.uint64).copy()


def _report(
    expected: Sequence[int],
    payloads: Mapping[int, FieldArray],
    signatures: Mapping[int, bytes],
    same_to_all: bool,
) -> list[tuple[int, int, bytes, bytes]]:
    entries = []
    for j in expected:
        if j in payloads:
            dig = digest_words(payloads[j]) if same_to_all else b""
            sig = signatures[j] if same_to_all else b""
            entries.append((j, _OK, dig, sig))
        else:
            entries.append((j, _MISSING, b"", b""))
    return entries


def _pack(entries: list[tuple[int, int, bytes, bytes]], note: bytes) -> bytes:
    out = [struct.pack(">HI", len(entries), len(note)), note]
    for sender, status, dig, sig in entries:
        out.append(struct.pack(">HBBB", sender, status, len(dig), len(sig)) + dig + sig)
    return b"".join(out)


def _unpack(data: bytes) -> tuple[list[tuple[int, int, bytes, bytes]] | None, bytes]:
    try:
        count, note_size = struct.unpack_from(">HI", data, 0)
        offset = 6
        note = data[offset : offset + note_size]
        if len(note) != note_size:
            return None, b""
        offset += note_size
        entries = []
        for _ in range(count):
            sender, status, dsize, ssize = struct.unpack_from(">HBBB", data, offset)
            offset += 5
            dig, sig = data[offset : offset + dsize], data[offset + dsize : offset + dsize + ssize]
            offset += dsize + ssize
            if status not in (_OK, _MISSING) or len(sig) != ssize:
                return None, note
            entries.append((sender, status, dig, sig))
    except struct.error:
        return None, b""
    if offset != len(data):
        return None, note
    return entries, note


def _parse_republish(data: bytes) -> dict[int, FieldArray] | None:
    out: dict[int, FieldArray] = {}
    offset = 0
    try:
        while offset < len(data):
            (receiver,) = struct.unpack_from(">H", data, offset)
            (size,) = struct.unpack_from("<Q", data, offset + 2)
            words = (size + 7) // 8 + 1
            chunk = np.frombuffer(data[offset + 2 : offset + 2 + 8 * words], dtype=np.uint64)
            if chunk.size != words or receiver in out:
                return None
            out[receiver] = np.frombuffer(from_words(chunk), dtype=np.uint64).copy()
            offset += 2 + 8 * words
    except (struct.error, ValueError):
        return None
    return out
