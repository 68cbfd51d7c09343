"""Verified multiplication: compute every product twice, check a random combination, recover.

The fast path follows Chida et al. [CGH+18] (protocol note §5, option B). Every secret ``x`` is
held with its tag ``[r·x]`` under a global random key ``r`` that nobody knows. A multiplication
gate computes ``[z] = [x·y]`` and its tag ``[r·z] = [(r·x)·y]`` with the degree reduction of
[GRR98] (parties ``0..2t`` re-share their local products; key-derived shares for ``t`` partners,
as in passive mode), so it costs two passive multiplications. All gates issued in one round form
a *batch*, verified before any result is released:

1. *coin*: with its products every party committed to a fresh seed; now it reveals it. The coin
   (hash of all seeds) expands into public weights ``c_k``.
2. *check*: ``T = sum_k c_k ((r·z)_k − r·z_k)`` must be 0. Each party computes its degree-``2t``
   share of ``α·T = α·U − (α·r)·W`` (``U = sum c_k (r·z)_k``, ``W = sum c_k z_k``; ``α`` and its
   tag ``α·r`` come from an audited pool), and the parties re-share it to degree ``t``. With
   ``n >= t + 3`` they also open ``U + g1`` and ``W + g2`` (``g`` random) to check that the new
   sharings have degree ``t``.
3. *open* ``α·T``; everyone broadcasts pass (shares consistent, value 0, nothing missing) or fail.

An additive error in any product passes with probability at most ``3/p`` (about ``2^-59`` for
``p = 2^61 − 1``): the weights are fixed after the errors, ``α`` and ``r`` are secret.

On a failed check (or any missing message) the batch is *recomputed*, not trusted: the parties
make multiplication triples in an audited batch (:mod:`~veil.mpc.protocols._active_audit`: a
cheater there is named by the audit) and multiply with Beaver's method: open ``ε = x − a`` and
``δ = y − b`` (authenticated openings, which name a cheater), then
``z = c + ε∘b + a∘δ + ε∘δ`` with the tag computed the same way. So the honest parties get the
right products, or stop naming a cheater — never a wrong product.

[CGH+18] Chida, Genkin, Hamada, Ikarashi, Kikuchi, Lindell, Nof, CRYPTO 2018.
[GRR98] Gennaro, Rabin, Rabin, PODC 1998.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.field import FieldArray
from veil.mpc import _prg
from veil.mpc._kernels import combine, deal, multiply
from veil.mpc.protocols._active_audit import TripleSpec, audited_batch, bilinear
from veil.mpc.protocols._active_ctx import Context, Tagged, plain, tagged
from veil.mpc.protocols._active_maths import coefficients, consistent, interpolate_at_zero
from veil.mpc.protocols._active_open import open_shares
from veil.mpc.protocols._plans import deal_plan, reshare_weights

__all__ = ["Multiplier"]

_COMMIT_WORDS = 4


@dataclass(eq=False)
class _Gate:
    op: str
    x: Tagged
    y: Tagged
    shape: tuple[int, ...]
    seed: bytes
    commits: dict[int, bytes] = field(default_factory=dict)
    z: FieldArray | None = None
    rz: FieldArray | None = None
    faulty: bool = False
    future: asyncio.Future[Tagged] | None = None


class Multiplier:
    """Run multiplication gates for one party: submit, batch per round, verify, recover."""

    def __init__(self, ctx: Context, take_random: Callable[[], Awaitable[Tagged]]) -> None:
        self.ctx = ctx
        self.take_random = take_random
        self._batches: dict[int, list[_Gate]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.resharers = list(range(2 * ctx.t + 1))
        self.weight = reshare_weights(ctx.p, ctx.t)

    # ----- submitting a gate ----------------------------------------------------------------------

    async def gate(self, op: str, x: Tagged, y: Tagged, shape: tuple[int, ...]) -> Tagged:
        """Return the verified product share (tagged) of ``op(x, y)`` with the result's ``shape``."""
        ctx = self.ctx
        field_ = ctx.field
        if x.tag is None or y.tag is None:  # pragma: no cover - the suite tags every share
            raise ValueError("a multiplication operand has no tag")
        xv, yv = plain(x), plain(y)
        if op == "mul":
            xb, yb = np.broadcast_arrays(xv, yv)
            rxb = np.broadcast_to(x.tag, xb.shape)
            yc = np.ascontiguousarray(yb)
            d = multiply(field_, np.ascontiguousarray(xb), yc)
            d2 = multiply(field_, np.ascontiguousarray(rxb), yc)
        else:
            d = np.asarray(field_.dot(xv, yv), dtype=np.uint64)
            d2 = np.asarray(field_.dot(x.tag, yv), dtype=np.uint64)
        if ctx.adversary is not None:  # test harness: a cheater may alter its local products
            d = ctx.adversary.tamper("product", -1, d.reshape(-1))
            d2 = ctx.adversary.tamper("tag", -1, d2.reshape(-1))
        flat = np.concatenate([d.reshape(-1), d2.reshape(-1)])
        size = flat.size
        label = ctx.rt.next_label()
        own, outgoing = self._reshare_send(label, flat)
        gate = _Gate(op, x, y, shape, os.urandom(32))
        commit = np.frombuffer(hashlib.sha256(gate.seed).digest(), dtype=np.uint64)
        messages = {
            j: np.concatenate([commit, outgoing[j]]) if j in outgoing else commit for j in ctx.peers
        }
        received = await ctx.exchange("mul", messages, ctx.peers)
        for j in ctx.peers:
            words = received.get(j)
            if words is None or words.size < _COMMIT_WORDS:
                gate.faulty = True
                continue
            gate.commits[j] = words[:_COMMIT_WORDS].tobytes()
        parts = {j: w[_COMMIT_WORDS:] for j, w in received.items() if w.size >= _COMMIT_WORDS}
        result = self._reshare_receive(label, size, own, parts)
        if result is None:
            gate.faulty = True
            result = np.zeros(size, dtype=np.uint64)
        half = size // 2
        gate.z, gate.rz = result[:half].reshape(shape), result[half:].reshape(shape)
        loop = asyncio.get_running_loop()
        gate.future = loop.create_future()
        key = ctx.rt.stats.rounds
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = []
            task = loop.create_task(self._verify(key, batch), name=f"veil-mul-check-{ctx.me}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.append(gate)
        return await gate.future

    # ----- degree reduction with key-derived shares ([GRR98], as in passive mode) ---------------

    def _reshare_send(
        self, label: int, flat: FieldArray
    ) -> tuple[FieldArray | None, dict[int, FieldArray]]:
        ctx = self.ctx
        if ctx.me not in self.resharers:
            return None, {}
        plan = deal_plan(ctx.p, ctx.n, ctx.t, ctx.me)
        rhos = [
            _prg.derive(ctx.field, ctx.pair_keys[j], label, ctx.me, flat.size)
            for j in plan.partners
        ]
        rows = [row[1:] for row in plan.rows]
        shares = deal(ctx.field, self.weight[ctx.me], flat, rhos, rows)
        return shares[0], dict(zip(plan.targets[1:], shares[1:], strict=True))

    def _reshare_receive(
        self, label: int, size: int, own: FieldArray | None, received: dict[int, FieldArray]
    ) -> FieldArray | None:
        ctx = self.ctx
        terms = [own] if own is not None else []
        for r in self.resharers:
            if r == ctx.me:
                continue
            plan = deal_plan(ctx.p, ctx.n, ctx.t, r)
            if ctx.me in plan.partners:
                terms.append(_prg.derive(ctx.field, ctx.pair_keys[r], label, r, size))
            elif ctx.me in plan.targets:
                words = received.get(r)
                if words is None or words.size != size or bool(np.any(words >= np.uint64(ctx.p))):
                    return None
                terms.append(words)
        return combine(ctx.field, [[1] * len(terms)], terms)[0]

    # ----- the batch check ------------------------------------------------------------------------

    async def _verify(self, key: int, gates: list[_Gate]) -> None:
        try:
            await asyncio.sleep(0)  # let every gate of this round join
            self._batches.pop(key, None)
            if await self._check(gates):
                results = [tagged(g.z, g.rz) for g in gates]  # type: ignore[arg-type]
            else:
                results = await self._recover(gates)
        except BaseException as exc:
            for g in gates:
                if g.future is not None and not g.future.done():
                    g.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for g, value in zip(gates, results, strict=True):
            if g.future is not None and not g.future.done():
                g.future.set_result(value)

    async def _check(self, gates: list[_Gate]) -> bool:
        ctx = self.ctx
        field_, n, t, p = ctx.field, ctx.n, ctx.t, ctx.p
        ok = not any(g.faulty for g in gates)
        alpha = await self.take_random()
        g1 = await self.take_random() if ctx.degree_checks else None
        g2 = await self.take_random() if ctx.degree_checks else None
        seeds = np.concatenate([np.frombuffer(g.seed, dtype=np.uint64) for g in gates])
        received = await ctx.exchange("mul/coin", dict.fromkeys(ctx.peers, seeds), ctx.peers)
        revealed: dict[int, bytes] = {ctx.me: seeds.tobytes()}
        for j in ctx.peers:
            words = received.get(j)
            if words is None or words.size != seeds.size:
                ok = False
                continue
            raw = words.tobytes()
            for k, g in enumerate(gates):
                piece = raw[32 * k : 32 * (k + 1)]
                if hashlib.sha256(piece).digest() != g.commits.get(j):
                    ok = False
            revealed[j] = raw
        coin = hashlib.sha256(b"".join(revealed.get(j, b"") for j in range(n))).digest()
        zs = np.concatenate([np.asarray(g.z).reshape(-1) for g in gates])
        rzs = np.concatenate([np.asarray(g.rz).reshape(-1) for g in gates])
        c = coefficients(field_, coin, zs.size)
        u = int(field_.sum(field_.mul(c, rzs)))
        w = int(field_.sum(field_.mul(c, zs)))
        assert alpha.tag is not None
        local = (int(alpha[0]) * u - int(alpha.tag[0]) * w) % p
        label = ctx.rt.next_label()
        own, outgoing = self._reshare_send(label, np.array([local], dtype=np.uint64))
        extra = np.zeros(0, dtype=np.uint64)
        if g1 is not None and g2 is not None:
            extra = np.array([(u + int(g1[0])) % p, (w + int(g2[0])) % p], dtype=np.uint64)
        messages = {
            j: np.concatenate([outgoing[j], extra]) if j in outgoing else extra for j in ctx.peers
        }
        received = await ctx.exchange("mul/check", messages, ctx.peers)
        parts: dict[int, FieldArray] = {}
        blinded = {ctx.me: extra}
        for j in ctx.peers:
            words = received.get(j)
            if words is None or words.size < extra.size:
                ok = False
                continue
            parts[j] = words[: words.size - extra.size]
            blinded[j] = words[words.size - extra.size :]
        share = self._reshare_receive(label, 1, own, parts)
        if share is None:
            ok = False
            share = np.zeros(1, dtype=np.uint64)
        if extra.size and ok:
            rows = np.stack([blinded[j] for j in range(n)])
            ok = consistent(field_, list(range(n)), rows, t)
        received = await ctx.exchange("mul/check-open", dict.fromkeys(ctx.peers, share), ctx.peers)
        opened = {ctx.me: share}
        for j in ctx.peers:
            words = received.get(j)
            if words is None or words.size != 1 or int(words[0]) >= p:
                ok = False
            else:
                opened[j] = words
        if ok:
            rows = np.stack([opened[j] for j in range(n)])
            parties = list(range(n))
            ok = (
                consistent(field_, parties, rows, t)
                and int(interpolate_at_zero(field_, parties[: t + 1], rows[: t + 1])[0]) == 0
            )
        outcome = await ctx.broadcast("mul/verdict", b"\x01" if ok else b"\x00")
        return all(v == b"\x01" for v in outcome.values)

    # ----- recovery: Beaver multiplication with audited triples -----------------------------------

    async def _recover(self, gates: list[_Gate]) -> list[Tagged]:
        ctx = self.ctx
        field_ = ctx.field
        specs = []
        operands: list[tuple[Tagged, Tagged]] = []
        for g in gates:
            x, y = g.x, g.y
            if g.op == "mul":
                x, y = _broadcast(x, g.shape), _broadcast(y, g.shape)
                specs.append(TripleSpec("mul", g.shape, g.shape, g.shape))
            else:
                specs.append(TripleSpec("matmul", x.shape, y.shape, g.shape))
            operands.append((x, y))
        batch = await audited_batch(ctx, "mul/recover", [], specs)
        masked: list[Tagged] = []
        for (x, y), (a, b, _) in zip(operands, batch.triples, strict=True):
            masked.append(_minus(ctx, x, a))
            masked.append(_minus(ctx, y, b))
        opened = await open_shares(ctx, "mul/recover-open", masked)
        out = []
        r = np.uint64(ctx.r_share)
        for k, (g, (a, b, c)) in enumerate(zip(gates, batch.triples, strict=True)):
            eps = opened[2 * k].reshape(a.shape)
            dlt = opened[2 * k + 1].reshape(b.shape)
            assert a.tag is not None
            assert b.tag is not None
            assert c.tag is not None
            ed = bilinear(ctx, g.op, eps, dlt, g.shape)
            z = _add(
                ctx,
                plain(c),
                bilinear(ctx, g.op, eps, plain(b), g.shape),
                bilinear(ctx, g.op, plain(a), dlt, g.shape),
                ed,
            )
            rz = _add(
                ctx,
                c.tag,
                bilinear(ctx, g.op, eps, b.tag, g.shape),
                bilinear(ctx, g.op, a.tag, dlt, g.shape),
                field_.mul(ed, np.full(ed.shape, r, dtype=np.uint64)),
            )
            out.append(tagged(z, rz))
        return out


def _broadcast(x: Tagged, shape: tuple[int, ...]) -> Tagged:
    assert x.tag is not None
    value = np.ascontiguousarray(np.broadcast_to(plain(x), shape))
    return tagged(value, np.ascontiguousarray(np.broadcast_to(x.tag, shape)))


def _minus(ctx: Context, x: Tagged, a: Tagged) -> Tagged:
    assert x.tag is not None
    assert a.tag is not None
    return tagged(ctx.field.sub(plain(x), plain(a)), ctx.field.sub(x.tag, a.tag))


def _add(ctx: Context, *terms: Any) -> FieldArray:
    total: FieldArray = np.asarray(terms[0], dtype=np.uint64)
    for term in terms[1:]:
        total = ctx.field.add(total, np.asarray(term, dtype=np.uint64))
    return total
