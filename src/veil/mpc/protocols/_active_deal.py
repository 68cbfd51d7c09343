"""Verifiable dealing (the dealer is caught while sharing) and revealing dealings for audits.

:func:`deal` is the sharing half of VSS as the protocol note builds it from [RB89] and [BGW-DT]
(note §3–§4, "checked sharing"), with signatures in place of information checking:

1. Each dealer ``D`` picks polynomials of degree ``t`` through its values, plus one blinding
   polynomial ``g_j`` per challenger ``P_j`` (:func:`veil.sharing.vss.deal`), and sends party ``i``
   its evaluations at ``x = i + 1``, signed (:mod:`~veil.mpc.protocols._active_deliver`: a missing
   or bad message must be re-sent by broadcast, making ``P_i`` *public*).
2. Degree check, when ``n >= t + 3`` (with fewer parties any ``t + 1`` honest shares lie on a
   polynomial of degree ``t``, so there is nothing to check): every ``P_j`` broadcasts a random
   challenge ``r_j``; ``D`` broadcasts ``h_j = g_j + sum_l r_j^l f_l``
   (:func:`veil.sharing.vss.check_polynomials`); ``P_i`` complains if its shares disagree with
   ``h_j(i + 1)`` (:func:`veil.sharing.vss.verify_against_check`); ``D`` publishes the values of
   every complaining party; :func:`veil.sharing.vss.degree_verdict` names ``D`` for a missing or
   contradicting answer or more than ``t`` public parties. Honest shares then lie on one
   polynomial of degree ``t``, except with probability ``2^n (L/p)^h`` (``h >= n - t`` honest
   challengers).

:func:`reveal` opens dealings completely (their polynomials), for audits of input-independent
work and for the tag key ``r``: each dealer broadcasts its coefficients; a party whose signed
share disagrees broadcasts it as evidence; the dealer (valid evidence) or the accuser (invalid
evidence) is named.

[RB89] T. Rabin, M. Ben-Or, STOC 1989. [BGW-DT] I. Abraham, G. Asharov, Decentralized Thoughts, 2022.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from veil.field import FieldArray
from veil.mpc.protocols._active_ctx import Context, digest_words, to_words
from veil.mpc.protocols._active_deliver import deliver
from veil.sharing import vss
from veil.sharing.shamir import evaluation_matrix, lagrange_matrix

__all__ = ["Dealt", "deal", "reveal"]


@dataclass
class Dealt:
    """One dealing as one party holds it.

    Attributes
    ----------
    dealer : int
    instance : bytes
        The signed instance of the dealing message (evidence refers to it).
    share : FieldArray, shape ``(L,)``
        This party's share (at the dealer: its own evaluation).
    message : FieldArray
        The signed message this party received (its shares, then blinding shares if any).
    signature : bytes or None
        The dealer's signature on ``message`` for this party; None when public or own.
    public : dict of int to FieldArray
        Parties whose shares the dealer had to publish, with those shares.
    coefficients : FieldArray or None
        At the dealer only: the polynomial, shape ``(t + 1, L)``, row 0 the values.
    """

    dealer: int
    instance: bytes
    share: FieldArray
    message: FieldArray
    signature: bytes | None
    public: dict[int, FieldArray] = field(default_factory=dict)
    coefficients: FieldArray | None = None


async def deal(
    ctx: Context,
    step: str,
    values: FieldArray | None,
    sizes: Mapping[int, int],
    *,
    note: bytes = b"",
    check_degree: bool = True,
) -> tuple[dict[int, Dealt], list[bytes]]:
    """Share every dealer's values verifiably; return this party's view of each dealing.

    Returns the dealings by dealer, and every party's ``note`` (agreed; see
    :func:`~veil.mpc.protocols._active_deliver.deliver`).

    Parameters
    ----------
    step : str
        Name of the step, in messages and verdicts.
    values : FieldArray of shape ``(sizes[me],)``, or None
        This party's values if it is a dealer.
    sizes : mapping of int to int
        The dealers and how many values each deals (the same at every party).
    note : bytes
        Attached to this party's delivery report (see :func:`deliver`); returned agreed.
    check_degree : bool, default=True
        Run the degree check (when ``n >= t + 3``). Re-sharings inside an audited batch skip it:
        there a random combination of the results is opened against degree ``t`` instead, and an
        inconsistent re-sharer is named by the audit.

    Raises
    ------
    CheaterDetected
        A dealer shared inconsistently, withheld shares or did not answer complaints.
    """
    field_, n, t, me = ctx.field, ctx.n, ctx.t, ctx.me
    dealers = sorted(sizes)
    check = ctx.degree_checks and check_degree
    reps = 1
    width = {d: sizes[d] + (reps * n if check else 0) for d in dealers}
    own: vss.Dealing | None = None
    outgoing: dict[int, FieldArray] = {}
    if me in sizes:
        assert values is not None
        own = vss.deal(field_, values.reshape(-1), threshold=t, n_parties=n, repetitions=reps)
        rows = _rows(own, check)
        outgoing = {i: rows[i] for i in ctx.peers}
    bound = np.uint64(ctx.p)

    def validate(sender: int, words: FieldArray) -> bool:
        return words.size == width[sender] and bool(np.all(words < bound))

    challenge = struct.pack(">Q", int(field_.random(1)[0])) if check else b""
    delivery = await deliver(
        ctx, f"{step}/deal", outgoing, dealers, validate=validate, note=challenge + note
    )
    notes = [x[len(challenge) :] for x in delivery.notes]
    held: dict[int, FieldArray] = {}
    for d in dealers:
        held[d] = _rows(own, check)[me] if d == me and own is not None else delivery.payloads[d]
    public: dict[int, dict[int, FieldArray]] = {
        d: dict(delivery.republished.get(d, {})) for d in dealers
    }
    if check:
        challenges = np.zeros((1, n), dtype=np.uint64)
        for j, x in enumerate(delivery.notes):
            # a malformed challenge counts as 0: one honest challenger suffices for soundness
            if len(x) >= 8:
                challenges[0, j] = struct.unpack(">Q", x[:8])[0] % ctx.p
        await _degree_check(ctx, step, dealers, sizes, own, held, public, challenges)
    out: dict[int, Dealt] = {}
    for d in dealers:
        share = held[d][: sizes[d]]
        if me in public[d]:
            share = public[d][me][: sizes[d]]
        out[d] = Dealt(
            dealer=d,
            instance=delivery.instance,
            share=np.ascontiguousarray(share),
            message=held[d],
            signature=delivery.signatures.get(d),
            public={i: v[: sizes[d]] for i, v in public[d].items()},
            coefficients=own.coefficients if (d == me and own is not None) else None,
        )
    return out, notes


def _rows(dealing: vss.Dealing | None, check: bool) -> FieldArray:
    """Return each party's message: its shares, then (degree check) its blinding shares."""
    assert dealing is not None
    if not check:
        return dealing.shares
    n = dealing.shares.shape[0]
    return np.concatenate([dealing.shares, dealing.blinding_shares.reshape(n, -1)], axis=1)


async def _degree_check(
    ctx: Context,
    step: str,
    dealers: Sequence[int],
    sizes: Mapping[int, int],
    own: vss.Dealing | None,
    held: dict[int, FieldArray],
    public: dict[int, dict[int, FieldArray]],
    challenges: FieldArray,
) -> None:
    """Run [BGW-DT]'s complaint rounds for every dealer at once; name inconsistent dealers."""
    field_, n, t, me = ctx.field, ctx.n, ctx.t, ctx.me
    h_mine = b""
    if own is not None:
        h_mine = vss.check_polynomials(field_, own, challenges).tobytes()
    outcome = await ctx.broadcast(f"{step}/check", h_mine)
    checks: dict[int, FieldArray] = {}
    for d in dealers:
        raw = outcome.values[d] or b""
        words = np.frombuffer(raw[: len(raw) - len(raw) % 8], dtype=np.uint64)
        checks[d] = (
            words.reshape(1, n, t + 1)
            if words.size == n * (t + 1) and bool(np.all(words < np.uint64(ctx.p)))
            else np.zeros((0,), dtype=np.uint64)
        )
    complaints = []
    for d in dealers:
        if d == me or me in public[d] or checks[d].ndim != 3:
            continue
        row = held[d]
        shares, blinding = row[: sizes[d]], row[sizes[d] :].reshape(1, n)
        if np.any(vss.verify_against_check(field_, me, shares, blinding, challenges, checks[d])):
            complaints.append(d)
    outcome = await ctx.broadcast(
        f"{step}/complaints", b"".join(struct.pack(">H", d) for d in complaints)
    )
    against: dict[int, list[int]] = {d: [] for d in dealers}
    for party, value in enumerate(outcome.values):
        data = value or b""
        for k in range(0, len(data) - 1, 2):
            d = struct.unpack_from(">H", data, k)[0]
            if d in against and party != d and party not in against[d]:
                against[d].append(party)
    answers: dict[int, dict[int, tuple[FieldArray, FieldArray]]] = {d: {} for d in dealers}
    if any(against.values()):
        mine_answer = b""
        if own is not None and against.get(me):
            rows = _rows(own, True)
            mine_answer = b"".join(
                struct.pack(">H", i) + rows[i].tobytes() for i in sorted(against[me])
            )
        outcome = await ctx.broadcast(f"{step}/answers", mine_answer)
        for d in dealers:
            if not against[d]:
                continue
            data = outcome.values[d] or b""
            w = sizes[d] + n
            entry = 2 + 8 * w
            for k in range(0, len(data) - entry + 1, entry):
                party = struct.unpack_from(">H", data, k)[0]
                row = np.frombuffer(data[k + 2 : k + entry], dtype=np.uint64)
                if party in against[d] and bool(np.all(row < np.uint64(ctx.p))):
                    answers[d][party] = (row[: sizes[d]], row[sizes[d] :].reshape(1, n))
    for d in dealers:  # shares re-sent by broadcast during delivery must match h too
        for i, row in public[d].items():
            if i not in against[d]:
                against[d].append(i)
            answers[d].setdefault(i, (row[: sizes[d]], row[sizes[d] :].reshape(1, n)))
    named: list[int] = []
    reasons: list[str] = []
    for d in dealers:
        already = sorted(public[d])
        if checks[d].ndim != 3:
            named.append(d)
            reasons.append(f"dealer {d} broadcast a malformed check polynomial")
            continue
        verdict = vss.degree_verdict(
            field_,
            dealer=d,
            threshold=t,
            challenges=challenges,
            h=checks[d],
            complaints=against[d],
            answers=answers[d],
        )
        if verdict.dealer_cheated or len(set(verdict.public) | set(already)) > t:
            named.append(d)
            reasons.extend(verdict.reasons or [f"dealer {d} had more than t public parties"])
            continue
        for i in verdict.public:
            public[d][i] = np.concatenate([answers[d][i][0], answers[d][i][1].reshape(-1)])
    if named:
        raise ctx.cheater(named, f"{step}/deal", "; ".join(reasons))


async def reveal(ctx: Context, step: str, dealings: Sequence[Dealt]) -> list[FieldArray]:
    """Open dealings completely: return each one's coefficients ``(t + 1, L)``, checked by all.

    Every dealer broadcasts the polynomials of its dealings (in the given order); every party
    compares its signed share; a party holding a signed share that disagrees broadcasts it, and
    the dealer is named; a party whose "evidence" does not verify is named instead.
    """
    t, me = ctx.t, ctx.me
    mine = b"".join(
        d.coefficients.tobytes() for d in dealings if d.dealer == me and d.coefficients is not None
    )
    outcome = await ctx.broadcast(f"{step}/reveal", mine)
    polys: list[FieldArray] = []
    offsets: dict[int, int] = {}
    named: dict[int, str] = {}
    for d in dealings:
        size = d.share.size
        raw = outcome.values[d.dealer] or b""
        start = offsets.get(d.dealer, 0)
        chunk = raw[start : start + 8 * (t + 1) * size]
        offsets[d.dealer] = start + 8 * (t + 1) * size
        if len(chunk) != 8 * (t + 1) * size:
            named.setdefault(d.dealer, f"dealer {d.dealer} did not reveal its polynomial")
            polys.append(np.zeros((t + 1, size), dtype=np.uint64))
            continue
        poly = np.frombuffer(chunk, dtype=np.uint64).reshape(t + 1, size)
        if not bool(np.all(poly < np.uint64(ctx.p))):
            named.setdefault(d.dealer, f"dealer {d.dealer} revealed values outside the field")
        polys.append(poly)
    for dealer, used in offsets.items():
        if len(outcome.values[dealer] or b"") != used:
            named.setdefault(dealer, f"dealer {dealer} revealed polynomials of the wrong size")
    for d, poly in zip(dealings, polys, strict=True):
        for i, share in d.public.items():
            if not np.array_equal(_evaluate(ctx, poly, i), share):
                named.setdefault(
                    d.dealer,
                    f"dealer {d.dealer} revealed a polynomial that contradicts the share it "
                    f"published for party {i}",
                )
    if named:
        raise ctx.cheater(sorted(named), step, "; ".join(named.values()))
    evidence = []
    for k, (d, poly) in enumerate(zip(dealings, polys, strict=True)):
        if d.dealer == me or me in d.public or d.signature is None:
            continue
        if not np.array_equal(_evaluate(ctx, poly, me), d.share):
            evidence.append(
                struct.pack(">I", k) + d.signature + to_words(d.message.tobytes()).tobytes()
            )
    outcome = await ctx.broadcast(f"{step}/evidence", b"".join(evidence))
    for accuser, value in enumerate(outcome.values):
        for k, message in _parse_evidence(value or b"", dealings, ctx, accuser):
            d, poly = dealings[k], polys[k]
            size = d.share.size
            if message is not None and not np.array_equal(
                _evaluate(ctx, poly, accuser), message[:size]
            ):
                named.setdefault(
                    d.dealer,
                    f"dealer {d.dealer} signed a share for party {accuser} that is not on the "
                    "polynomial it revealed",
                )
            else:
                named.setdefault(accuser, f"party {accuser} accused dealer {d.dealer} falsely")
    if named:
        raise ctx.cheater(sorted(named), step, "; ".join(named.values()))
    return polys


def _evaluate(ctx: Context, poly: FieldArray, party: int) -> FieldArray:
    row = evaluation_matrix(ctx.field, [party], poly.shape[0] - 1)
    out: FieldArray = ctx.field.dot(row, poly)[0]
    return out


def _parse_evidence(
    data: bytes, dealings: Sequence[Dealt], ctx: Context, accuser: int
) -> list[tuple[int, FieldArray | None]]:
    """Parse an accuser's evidence; entries whose signature fails come back with None."""
    out: list[tuple[int, FieldArray | None]] = []
    offset = 0
    while offset + 4 + 64 + 8 <= len(data):
        (k,) = struct.unpack_from(">I", data, offset)
        sig = data[offset + 4 : offset + 68]
        (size,) = struct.unpack_from("<Q", data, offset + 68)
        words = (size + 7) // 8
        body = data[offset + 76 : offset + 76 + 8 * words]
        offset += 76 + 8 * words
        if k >= len(dealings) or len(body) != 8 * words or size % 8:
            out.append((0, None))
            break
        message = np.frombuffer(body, dtype=np.uint64)
        d = dealings[k]
        valid = message.size >= d.share.size and ctx.verify(
            d.dealer, accuser, d.instance, digest_words(message), sig
        )
        out.append((k, message if valid else None))
    return out


def interpolate(ctx: Context, parties: Sequence[int], shares: FieldArray) -> FieldArray:
    """Return the secrets from ``t + 1`` shares (rows), for recomputation in audits."""
    result: FieldArray = ctx.field.dot(lagrange_matrix(ctx.field, list(parties), [0]), shares)[0]
    return result
