"""Audited batches: tagged random values and multiplication triples, checked, and audited on failure.

Everything here is independent of the inputs, so a failed check can be *audited*: every dealing
of the batch is opened (:func:`~veil.mpc.protocols._active_deal.reveal`), every party's
computation is recomputed from the revealed polynomials, and the first party whose messages do not
follow the protocol is named. Nothing secret is lost: the batch's random values are discarded, and
the run stops.

A batch makes

- *random values*: each is the sum of values dealt by its ``dealers`` (one dealer: that dealer
  knows it, as an input mask must be; ``t + 1`` dealers: nobody does);
- *triples* ``(a, b, c = a ∘ b)`` for an elementwise or matrix product, ``a`` and ``b`` random;

each with its tag (a sharing of ``r·v``). Rounds:

1. deal (VSS, :func:`~veil.mpc.protocols._active_deal.deal`) every contribution, and the check's
   random multiplier ``α``; commit to a coin seed;
2. products ``r·v`` (the tags) and ``a ∘ b``, re-shared by parties ``0..2t`` as verifiable dealings
   of ``λ_k`` times their local products ([GRR98] degree reduction);
3. (triples) tags of ``c``: ``(r·a) ∘ b``; reveal the coin seeds;
4. the check of [CGH+18] (note §5, option B) with public weights ``c_k`` from the coin:
   ``T = sum_k c_k (rv_k − r v_k)`` over every (value, tag) pair, opened as ``α·T`` (re-shared to
   degree ``t`` first) — it must be 0. A cheater who added errors passes with probability at most
   ``3/p``.

[GRR98] R. Gennaro, M. O. Rabin, T. Rabin, PODC 1998. [CGH+18] K. Chida, D. Genkin, K. Hamada,
D. Ikarashi, R. Kikuchi, Y. Lindell, A. Nof, "Fast large-scale honest-majority MPC for malicious
adversaries", CRYPTO 2018.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod

import numpy as np

from veil.errors import ProtocolError
from veil.field import FieldArray
from veil.mpc.protocols._active_ctx import Context, Tagged, tagged
from veil.mpc.protocols._active_deal import Dealt, deal, reveal
from veil.mpc.protocols._active_deliver import deliver
from veil.mpc.protocols._active_maths import coefficients, consistent, interpolate_at_zero
from veil.mpc.protocols._plans import reshare_weights
from veil.sharing.shamir import evaluation_matrix

__all__ = ["AuditedBatch", "RandomSpec", "TripleSpec", "audited_batch", "bilinear"]


@dataclass(frozen=True)
class RandomSpec:
    """A random vector of ``size`` elements, the sum of contributions dealt by ``dealers``."""

    dealers: tuple[int, ...]
    size: int


@dataclass(frozen=True)
class TripleSpec:
    """A triple for ``op`` (``"mul"``: elementwise, ``"matmul"``) with the operands' shapes."""

    op: str
    a_shape: tuple[int, ...]
    b_shape: tuple[int, ...]
    c_shape: tuple[int, ...]


@dataclass
class AuditedBatch:
    """This party's shares of a batch's outputs, all tagged and flat.

    Attributes
    ----------
    randoms : list of Tagged
        One per :class:`RandomSpec`, shape ``(size,)``.
    known : list of FieldArray or None
        For a single-dealer random value, the value itself at its dealer (else None).
    triples : list of (Tagged, Tagged, Tagged)
        ``(a, b, c)`` per :class:`TripleSpec`, in their shapes.
    """

    randoms: list[Tagged]
    known: list[FieldArray | None]
    triples: list[tuple[Tagged, Tagged, Tagged]]


def bilinear(
    ctx: Context, op: str, a: FieldArray, b: FieldArray, shape: tuple[int, ...]
) -> FieldArray:
    """Return ``op(a, b)`` on shares or values: elementwise (broadcasting) or matrix product."""
    field = ctx.field
    if op == "mul":
        x, y = np.broadcast_arrays(a, b)
        return field.mul(np.ascontiguousarray(x), np.ascontiguousarray(y)).reshape(shape)
    out: FieldArray = np.asarray(field.dot(a, b), dtype=np.uint64).reshape(shape)
    return out


@dataclass
class _Layout:
    """Where each random slot sits in each dealer's contribution vector."""

    slots: list[RandomSpec]
    offsets: dict[int, list[int | None]]  # dealer -> offset of each slot (None: not a dealer)
    sizes: dict[int, int]

    @classmethod
    def of(cls, slots: list[RandomSpec], n: int) -> _Layout:
        offsets: dict[int, list[int | None]] = {}
        sizes: dict[int, int] = {}
        for d in range(n):
            pos = 0
            row: list[int | None] = []
            for slot in slots:
                if d in slot.dealers:
                    row.append(pos)
                    pos += slot.size
                else:
                    row.append(None)
            if pos:
                offsets[d], sizes[d] = row, pos
        return cls(slots, offsets, sizes)

    def value(
        self,
        k: int,
        rows: dict[int, FieldArray],
        add: Callable[[FieldArray, FieldArray], FieldArray],
    ) -> FieldArray:
        """Sum the dealers' parts of slot ``k`` from their rows (shares or values)."""
        slot = self.slots[k]
        total: FieldArray | None = None
        for d in slot.dealers:
            off = self.offsets[d][k]
            assert off is not None
            part = rows[d][off : off + slot.size]
            total = part.copy() if total is None else add(total, part)
        assert total is not None
        return total


async def audited_batch(
    ctx: Context,
    step: str,
    randoms: Sequence[RandomSpec],
    triples: Sequence[TripleSpec] = (),
) -> AuditedBatch:
    """Make tagged random values and triples; check them; audit and name a cheater on failure.

    Raises
    ------
    CheaterDetected
        A dealer or re-sharer deviated (named by the dealing checks, or by the audit).
    """
    field, n, t, me = ctx.field, ctx.n, ctx.t, ctx.me
    dealers_all = tuple(range(t + 1))
    slots = list(randoms)
    for triple in triples:
        slots.append(RandomSpec(dealers_all, prod(triple.a_shape)))
        slots.append(RandomSpec(dealers_all, prod(triple.b_shape)))
    paired = len(slots)  # slots whose (value, tag) pairs the check covers
    if ctx.degree_checks:  # blinding for the degree check of the re-shared results
        slots += [RandomSpec(dealers_all, 1), RandomSpec(dealers_all, 1)]
    slots.append(RandomSpec(dealers_all, 1))  # α, the check's multiplier
    layout = _Layout.of(slots, n)
    seed = os.urandom(32)
    mine = field.random(layout.sizes[me]) if me in layout.sizes else None
    contrib, notes = await deal(
        ctx, f"{step}/random", mine, layout.sizes, note=hashlib.sha256(seed).digest()
    )
    commits = notes
    shares = {d: x.share for d, x in contrib.items()}
    values = [layout.value(k, shares, field.add) for k in range(len(slots))]
    resharers = list(range(2 * t + 1))
    weight = reshare_weights(ctx.p, t)
    # round 2: tags r·v of every slot, and c = a ∘ b
    products = [field.mul(v, np.full(v.shape, ctx.r_share, dtype=np.uint64)) for v in values]
    for j, spec in enumerate(triples):
        a, b = values[len(randoms) + 2 * j], values[len(randoms) + 2 * j + 1]
        products.append(
            bilinear(
                ctx, spec.op, a.reshape(spec.a_shape), b.reshape(spec.b_shape), spec.c_shape
            ).reshape(-1)
        )
    sizes_b1 = sum(x.size for x in products)
    last = not triples
    b1, notes_b1 = await deal(
        ctx,
        f"{step}/tags",
        _weighted(ctx, weight, products, len(slots)) if me in resharers else None,
        dict.fromkeys(resharers, sizes_b1),
        note=seed if last else b"",
        check_degree=False,
    )
    got = _sum_rows(ctx, b1)
    cuts = np.cumsum([0, *(x.size for x in products)])
    tags = [got[cuts[k] : cuts[k + 1]] for k in range(len(slots))]
    c_shares = [got[cuts[len(slots) + j] : cuts[len(slots) + j + 1]] for j in range(len(triples))]
    reveals = notes_b1
    b2: dict[int, Dealt] = {}
    rc_shares: list[FieldArray] = []
    if triples:
        second = []
        for j, spec in enumerate(triples):
            ra, b = tags[len(randoms) + 2 * j], values[len(randoms) + 2 * j + 1]
            second.append(
                bilinear(
                    ctx, spec.op, ra.reshape(spec.a_shape), b.reshape(spec.b_shape), spec.c_shape
                ).reshape(-1)
            )
        b2, reveals = await deal(
            ctx,
            f"{step}/triple-tags",
            _weighted(ctx, weight, second, 0) if me in resharers else None,
            dict.fromkeys(resharers, sum(x.size for x in second)),
            note=seed,
            check_degree=False,
        )
        got2 = _sum_rows(ctx, b2)
        cuts2 = np.cumsum([0, *(x.size for x in second)])
        rc_shares = [got2[cuts2[j] : cuts2[j + 1]] for j in range(len(triples))]
    coin = _coin(ctx, step, commits, reveals)
    u, w = _u_w(ctx, coin, values[:paired], tags[:paired], c_shares, rc_shares)
    alpha, alpha_r = int(values[-1][0]), int(tags[-1][0])
    check_local = (alpha * u - alpha_r * w) % ctx.p
    v_round, _ = await deal(
        ctx,
        f"{step}/check",
        np.array([weight[me] * check_local % ctx.p], dtype=np.uint64) if me in resharers else None,
        dict.fromkeys(resharers, 1),
        check_degree=False,
    )
    opened_share = _sum_rows(ctx, v_round)
    if ctx.degree_checks:  # open U + g1 and W + g2: the re-shared results must have degree t
        blinded = [(u + int(values[-3][0])) % ctx.p, (w + int(values[-2][0])) % ctx.p]
        opened_share = np.concatenate([opened_share, np.array(blinded, dtype=np.uint64)])
    width = opened_share.size
    opened = await deliver(
        ctx,
        f"{step}/check-open",
        dict.fromkeys(ctx.peers, opened_share),
        list(range(n)),
        same_to_all=True,
        validate=lambda _j, w_: w_.size == width and bool(np.all(w_ < np.uint64(ctx.p))),
    )
    rows = np.stack([opened.everyone[i].reshape(-1) for i in range(n)])
    parties = list(range(n))
    passed = consistent(field, parties, rows, t) and (
        int(interpolate_at_zero(field, parties[: t + 1], rows[: t + 1, :1])[0]) == 0
    )
    if not passed:
        await _audit(
            ctx,
            step,
            layout,
            paired,
            randoms,
            triples,
            contrib,
            b1,
            b2,
            v_round,
            coin,
            opened.everyone,
        )
    out_randoms = [tagged(values[k], tags[k]) for k in range(len(randoms))]
    known: list[FieldArray | None] = []
    for k, random_spec in enumerate(randoms):
        if random_spec.dealers == (me,) and mine is not None:
            off = layout.offsets[me][k]
            assert off is not None
            known.append(mine[off : off + random_spec.size].copy())
        else:
            known.append(None)
    out_triples = []
    for j, spec in enumerate(triples):
        k = len(randoms) + 2 * j
        out_triples.append(
            (
                tagged(values[k].reshape(spec.a_shape), tags[k]),
                tagged(values[k + 1].reshape(spec.b_shape), tags[k + 1]),
                tagged(c_shares[j].reshape(spec.c_shape), rc_shares[j]),
            )
        )
    return AuditedBatch(out_randoms, known, out_triples)


def _u_w(
    ctx: Context,
    coin: bytes,
    values: Sequence[FieldArray],
    tags: Sequence[FieldArray],
    c_shares: Sequence[FieldArray],
    rc_shares: Sequence[FieldArray],
) -> tuple[int, int]:
    """Return ``U = sum_k c_k tag_k`` and ``W = sum_k c_k value_k`` over every checked pair."""
    field = ctx.field
    big_v = np.concatenate([x.reshape(-1) for x in [*values, *c_shares]])
    big_t = np.concatenate([x.reshape(-1) for x in [*tags, *rc_shares]])
    c = coefficients(field, coin, big_v.size)
    return int(field.sum(field.mul(c, big_t))), int(field.sum(field.mul(c, big_v)))


def _weighted(
    ctx: Context, weight: Sequence[int], parts: Sequence[FieldArray], tags: int
) -> FieldArray:
    """Return ``λ_me`` times this party's local products; the first ``tags`` parts are tags."""
    parts = list(parts)
    if ctx.adversary is not None:  # test harness: a cheater may alter its local products
        for k, x in enumerate(parts):
            parts[k] = ctx.adversary.tamper("tag" if k < tags else "product", -1, x.reshape(-1))
    flat = np.concatenate([x.reshape(-1) for x in parts]) if parts else np.zeros(0, np.uint64)
    out: FieldArray = ctx.field.mul(flat, np.full(flat.shape, weight[ctx.me], dtype=np.uint64))
    return out


def _sum_rows(ctx: Context, dealt: dict[int, Dealt]) -> FieldArray:
    total: FieldArray | None = None
    for d in sorted(dealt):
        total = dealt[d].share.copy() if total is None else ctx.field.add(total, dealt[d].share)
    assert total is not None
    return total


def _coin(ctx: Context, step: str, commits: list[bytes], reveals: list[bytes]) -> bytes:
    """Check every revealed seed against its commitment (both broadcast); return the coin."""
    bad = [
        k
        for k in range(ctx.n)
        if len(reveals[k]) != 32 or hashlib.sha256(reveals[k]).digest() != commits[k]
    ]
    if bad:
        raise ctx.cheater(bad, f"{step}/coin", "its revealed seed does not match its commitment")
    return hashlib.sha256(b"".join(reveals)).digest()


async def _audit(
    ctx: Context,
    step: str,
    layout: _Layout,
    paired: int,
    randoms: Sequence[RandomSpec],
    triples: Sequence[TripleSpec],
    contrib: dict[int, Dealt],
    b1: dict[int, Dealt],
    b2: dict[int, Dealt],
    v_round: dict[int, Dealt],
    coin: bytes,
    opened: dict[int, FieldArray],
) -> None:
    """Open everything of the failed batch, recompute every party's messages, name a deviator."""
    field, n, t = ctx.field, ctx.n, ctx.t
    groups = [contrib, b1, b2, v_round, ctx.r_dealings]
    order = [(g, d) for g, group in enumerate(groups) for d in sorted(group)]
    polys = await reveal(ctx, f"{step}/audit", [groups[g][d] for g, d in order])
    poly = {key: value for key, value in zip(order, polys, strict=True)}
    points = evaluation_matrix(field, range(n), t)

    def at(g: int, d: int) -> FieldArray:  # every party's evaluation, shape (n, L)
        out: FieldArray = field.dot(points, poly[(g, d)])
        return out

    r_all = np.zeros(n, dtype=np.uint64)
    for d in sorted(ctx.r_dealings):
        r_all = field.add(r_all, at(4, d)[:, 0])
    resharers = list(range(2 * t + 1))
    weight = reshare_weights(ctx.p, t)
    rows_c = {d: at(0, d) for d in sorted(contrib)}
    values = [
        [
            layout.value(k, {d: rows_c[d][i] for d in rows_c}, field.add)
            for k in range(len(layout.slots))
        ]
        for i in range(n)
    ]
    named: dict[int, str] = {}

    def expect(g: int, k: int, local: FieldArray, what: str) -> None:
        want = field.mul(local, np.full(local.shape, weight[k], dtype=np.uint64))
        if not np.array_equal(poly[(g, k)][0], want):
            named.setdefault(k, f"party {k} re-shared a wrong {what}")

    products = []
    for k in resharers:
        parts = [field.mul(v, np.full(v.shape, r_all[k], dtype=np.uint64)) for v in values[k]]
        for j, spec in enumerate(triples):
            a = values[k][len(randoms) + 2 * j].reshape(spec.a_shape)
            b = values[k][len(randoms) + 2 * j + 1].reshape(spec.b_shape)
            parts.append(bilinear(ctx, spec.op, a, b, spec.c_shape).reshape(-1))
        products.append(parts)
        expect(1, k, np.concatenate(parts), "tag or triple product")
    got1 = {k: at(1, k) for k in resharers}
    sizes1 = [x.size for x in products[0]]
    cuts = np.cumsum([0, *sizes1])

    def part(rows: dict[int, FieldArray], i: int, lo: int, hi: int) -> FieldArray:
        total = np.zeros(hi - lo, dtype=np.uint64)
        for k in sorted(rows):
            total = field.add(total, rows[k][i][lo:hi])
        return total

    slots = len(layout.slots)
    tags = [[part(got1, i, cuts[s], cuts[s + 1]) for s in range(slots)] for i in range(n)]
    cvals = [
        [part(got1, i, cuts[slots + j], cuts[slots + j + 1]) for j in range(len(triples))]
        for i in range(n)
    ]
    rcs: list[list[FieldArray]] = [[] for _ in range(n)]
    if triples:
        for k in resharers:
            second = []
            for j, spec in enumerate(triples):
                ra = tags[k][len(randoms) + 2 * j].reshape(spec.a_shape)
                b = values[k][len(randoms) + 2 * j + 1].reshape(spec.b_shape)
                second.append(bilinear(ctx, spec.op, ra, b, spec.c_shape).reshape(-1))
            expect(2, k, np.concatenate(second), "triple tag")
        got2 = {k: at(2, k) for k in resharers}
        sizes2 = [prod(spec.c_shape) for spec in triples]
        cuts2 = np.cumsum([0, *sizes2])
        rcs = [
            [part(got2, i, cuts2[j], cuts2[j + 1]) for j in range(len(triples))] for i in range(n)
        ]
    sums = [
        _u_w(ctx, coin, values[i][:paired], tags[i][:paired], cvals[i], rcs[i]) for i in range(n)
    ]
    for k in resharers:
        u, w = sums[k]
        alpha, alpha_r = int(values[k][-1][0]), int(tags[k][-1][0])
        expect(3, k, np.array([(alpha * u - alpha_r * w) % ctx.p], dtype=np.uint64), "check value")
    got3 = {k: at(3, k) for k in resharers}
    for i in range(n):
        want = [int(part(got3, i, 0, 1)[0])]
        if ctx.degree_checks:
            u, w = sums[i]
            want += [(u + int(values[i][-3][0])) % ctx.p, (w + int(values[i][-2][0])) % ctx.p]
        if [int(x) for x in opened[i]] != want:
            named.setdefault(i, f"party {i} opened a wrong share of the check value")
    if named:
        raise ctx.cheater(sorted(named), f"{step}/audit", "; ".join(named.values()))
    raise ProtocolError(  # pragma: no cover - the check fails only if someone deviated
        f"the check of {step!r} failed but the audit found no deviation",
        step=step,
        hint="this indicates a bug in veil; please report it",
    )
