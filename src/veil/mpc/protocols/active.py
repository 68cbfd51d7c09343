"""Active security for ``t < n/2``: the honest parties output the correct result, or all stop
naming a cheater — never a wrong value.

``Runtime(..., security="active")`` selects :class:`ActiveSuite`. The building blocks, one module
each (see docs/active-security.md for the protocols, guarantees and the map to the papers):

- :mod:`veil.net.broadcast` — Dolev–Strong broadcast with the parties' signing keys: every
  complaint, verdict and challenge is agreed; a silent or equivocating party is named.
- :mod:`._active_deliver` — signed point-to-point messages whose delivery everyone agrees on.
- :mod:`._active_deal` — verifiable dealing (VSS sharing phase after [RB89] and [BGW-DT]): a dealer
  who shares inconsistently is named while sharing; full openings for audits.
- :mod:`._active_audit` — tagged random values and multiplication triples, checked, and audited
  (every party's messages recomputed, the deviator named) if the check fails.
- :mod:`._active_mul` — multiplication checked per batch with the randomized checks of [CGH+18]
  (two passive multiplications per gate); a failed batch is recomputed with audited triples.
- :mod:`._active_open` — openings with every share signed, checked against degree ``t``; errors
  corrected when ``n >= 3t + 1``, otherwise the sender of a wrong share is located with the tags.

Inputs: the sender deals a random mask verifiably (it is named if it deals inconsistently),
the mask gets its tag in an audited batch, and the sender broadcasts ``x − mask``.

[RB89] T. Rabin, M. Ben-Or, STOC 1989. [BGW-DT] Abraham, Asharov, Decentralized Thoughts, 2022.
[CGH+18] Chida et al., CRYPTO 2018.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import ConfigError, ProtocolError
from veil.field import FieldArray
from veil.mpc.protocols import ProtocolSuite, register_suite
from veil.mpc.protocols._active_audit import RandomSpec, audited_batch
from veil.mpc.protocols._active_ctx import Context, Tagged, plain, tagged
from veil.mpc.protocols._active_deal import deal
from veil.mpc.protocols._active_deliver import deliver
from veil.mpc.protocols._active_mul import Multiplier
from veil.mpc.protocols._active_open import open_shares
from veil.net.broadcast import SigningKeys

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["MAX_PARTIES", "ActiveSuite", "Tagged"]

#: Largest number of parties the active suite accepts (openings locate cheaters by trying every
#: set of ``t`` parties).
MAX_PARTIES = 16
#: Random values made per audited batch for the checks (``α``, blinding ``g``).
POOL_SIZE = 32


@dataclass(eq=False)
class _Request:
    kind: str
    args: tuple[Any, ...]
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@register_suite
class ActiveSuite(ProtocolSuite):
    """Protocols secure against ``t < n/2`` parties that deviate arbitrarily (see module docs)."""

    name = "active"
    tolerant = True

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.ctx = Context(runtime)
        self.multiplier = Multiplier(self.ctx, self._take_random)
        self._pool: list[Tagged] = []
        self._pool_lock = asyncio.Lock()
        self._batches: dict[tuple[str, int], list[_Request]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def check_parameters(cls, n_parties: int, threshold: int) -> None:
        if threshold < 1 or 2 * threshold >= n_parties or n_parties > MAX_PARTIES:
            most = (n_parties - 1) // 2
            raise ConfigError(
                f"threshold t={threshold} does not suit n={n_parties} parties: active MPC with an "
                f"honest majority needs 1 <= t < n/2, so 1 <= t <= {most}, and at most "
                f"{MAX_PARTIES} parties",
                field="threshold",
                hint="omit t to get the largest safe one; t < n/3 also gives guaranteed output",
            )

    # ----- set-up ---------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Agree on keys, derive pairwise keys, and deal the tag key ``r`` (verifiably)."""
        ctx = self.ctx
        ctx.keys = self.rt.signing or await self._bootstrap_keys()
        dh = X25519PrivateKey.generate()
        public = dh.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        outcome = await ctx.broadcast("setup/dh", public)
        for j in ctx.peers:
            try:
                shared = dh.exchange(X25519PublicKey.from_public_bytes(outcome.values[j] or b""))
            except ValueError as exc:
                raise ctx.cheater([j], "setup/dh", "its key-agreement key is invalid") from exc
            low, high = sorted((ctx.me, j))
            ctx.pair_keys[j] = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=ctx.keys.run_id,
                info=f"veil/pair/{low}/{high}".encode(),
            ).derive(shared)
        dealt, _ = await deal(ctx, "setup/r", ctx.field.random(1), dict.fromkeys(range(ctx.n), 1))
        ctx.r_dealings = dealt
        r = 0
        for d in sorted(dealt):
            r = (r + int(dealt[d].share[0])) % ctx.p
        ctx.r_share = r

    async def _bootstrap_keys(self) -> SigningKeys:
        """Make fresh signing keys and check that every party saw the same ones (no PKI given)."""
        ctx = self.ctx
        key = Ed25519PrivateKey.generate()
        mine = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        words = np.frombuffer(mine, dtype=np.uint64)
        got = await ctx.exchange("setup/keys", dict.fromkeys(ctx.peers, words), ctx.peers)
        keys: list[bytes] = []
        for j in range(ctx.n):
            if j == ctx.me:
                keys.append(mine)
            elif j in got and got[j].size == 4:
                keys.append(got[j].tobytes())
            else:
                raise ProtocolError(
                    f"party {j} sent no signing key at start-up", party=j, step="setup/keys"
                )
        table = np.frombuffer(b"".join(keys), dtype=np.uint64)
        echoes = await ctx.exchange("setup/echo", dict.fromkeys(ctx.peers, table), ctx.peers)
        for j in ctx.peers:
            if j not in echoes or not np.array_equal(echoes[j], table):
                raise ProtocolError(
                    f"party {j} saw other signing keys than party {ctx.me} at start-up: some "
                    "party sent different keys to different parties",
                    step="setup/keys",
                    hint="give the runtime a PKI (signing=SigningKeys...) to name such a party",
                )
        publics = tuple(Ed25519PublicKey.from_public_bytes(k) for k in keys)
        run_id = hashlib.sha256(b"veil/run/" + b"".join(keys)).digest()
        return SigningKeys(ctx.me, key, publics, run_id)

    # ----- local operations -----------------------------------------------------------------------

    def apply(
        self, fn: Callable[..., Any], args: Sequence[Any], secret: Sequence[bool]
    ) -> FieldArray:
        """Apply an affine local operation to values and tags: ``tag = f(tags) + (r − 1)·f(0)``.

        For ``f`` affine in the secret operands, ``f(tags; c) + (r_i − 1)·f(0; c)`` is this party's
        share of ``r·f(x; c)``: the constant part of ``f`` gets multiplied by ``r``.
        """
        field_ = self.rt.field
        values = [plain(a) if s else a for a, s in zip(args, secret, strict=True)]
        value = np.asarray(fn(*values), dtype=np.uint64)
        tags = [_tag_of(a) if s else a for a, s in zip(args, secret, strict=True)]
        tag = np.asarray(fn(*tags), dtype=np.uint64)
        if not all(secret):
            zeros = [
                np.zeros(np.shape(a), dtype=np.uint64) if s else a
                for a, s in zip(args, secret, strict=True)
            ]
            constant = np.asarray(fn(*zeros), dtype=np.uint64)
            if np.any(constant):
                factor = np.full(constant.shape, (self.ctx.r_share - 1) % self.ctx.p, np.uint64)
                tag = field_.add(tag, field_.mul(constant, factor))
        return tagged(value, tag)

    def mul(self, a: FieldArray, b: FieldArray) -> Awaitable[FieldArray]:
        shape = tuple(np.broadcast_shapes(np.shape(a), np.shape(b)))
        return self.multiplier.gate("mul", _as_tagged(a), _as_tagged(b), shape)

    def matmul(self, a: FieldArray, b: FieldArray, shape: tuple[int, ...]) -> Awaitable[FieldArray]:
        return self.multiplier.gate("matmul", _as_tagged(a), _as_tagged(b), shape)

    def reshare(self, product: FieldArray) -> Awaitable[FieldArray]:
        raise ProtocolError(
            "the active suite multiplies from the factors (mul, matmul), not from a local product",
            step="mul",
            hint="use SecretArray's * and @, which call ActiveSuite.mul",
        )

    # ----- batched operations ---------------------------------------------------------------------

    async def _join(self, kind: str, *args: Any) -> Any:
        """Queue a request; requests issued in the same round are served together by one task."""
        await self.rt.exchange(kind, {}, (), lambda _: None)  # rides along in the next round
        key = (kind, self.rt.stats.rounds)
        request = _Request(kind, args)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = []
            task = asyncio.get_running_loop().create_task(self._serve(key, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.append(request)
        return await request.future

    async def _serve(self, key: tuple[str, int], batch: list[_Request]) -> None:
        try:
            await asyncio.sleep(0)
            self._batches.pop(key, None)
            results: Sequence[Any]
            if key[0] == "input":
                results = await self._inputs(batch)
            elif key[0] == "open":
                results = await self._opens(batch)
            else:
                results = await self._randoms(batch)
        except BaseException as exc:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for request, result in zip(batch, results, strict=True):
            if not request.future.done():
                request.future.set_result(result)

    def input(self, values: FieldArray | None, sender: int) -> Awaitable[FieldArray]:
        return self._join("input", values, sender)

    async def _inputs(self, batch: list[_Request]) -> list[Tagged]:
        """Masks dealt by the senders (VSS, audited tags), then ``x − mask`` broadcast by each."""
        ctx = self.ctx
        mine = [r.args[0] for r in batch if r.args[1] == ctx.me]
        shapes_payload = b"".join(_encode_shape(np.shape(v)) for v in mine)
        outcome = await ctx.broadcast("input/shapes", shapes_payload)
        senders = sorted({r.args[1] for r in batch})
        shapes: list[tuple[int, ...]] = []
        queues: dict[int, list[tuple[int, ...]]] = {}
        for s in senders:
            parsed = _decode_shapes(outcome.values[s] or b"")
            count = sum(1 for r in batch if r.args[1] == s)
            if parsed is None or len(parsed) != count:
                raise ctx.cheater([s], "input/shapes", f"it announced {parsed} for {count} inputs")
            queues[s] = parsed
        for r in batch:
            shapes.append(queues[r.args[1]].pop(0))
        specs = [
            RandomSpec((r.args[1],), prod(shape)) for r, shape in zip(batch, shapes, strict=True)
        ]
        masks = await audited_batch(ctx, "input/mask", specs)
        outgoing = np.zeros(0, dtype=np.uint64)
        if ctx.me in senders:
            parts = []
            for k, r in enumerate(batch):
                if r.args[1] == ctx.me:
                    known = masks.known[k]
                    assert known is not None
                    parts.append(ctx.field.sub(np.asarray(r.args[0]).reshape(-1), known))
            outgoing = np.concatenate(parts)
        sizes = {
            s: sum(prod(sh) for r, sh in zip(batch, shapes, strict=True) if r.args[1] == s)
            for s in senders
        }
        bound = np.uint64(ctx.p)

        def valid(sender: int, words: FieldArray) -> bool:
            return words.size == sizes[sender] and bool(np.all(words < bound))

        published = await deliver(
            ctx,
            "input/masked",
            dict.fromkeys(ctx.peers, outgoing) if ctx.me in senders else {},
            senders,
            same_to_all=True,
            validate=valid,
        )
        offsets = dict.fromkeys(senders, 0)
        out = []
        r_share = np.uint64(ctx.r_share)
        for k, (req, shape) in enumerate(zip(batch, shapes, strict=True)):
            s, size = req.args[1], prod(shape)
            mu = published.everyone[s][offsets[s] : offsets[s] + size]
            offsets[s] += size
            m = masks.randoms[k]
            assert m.tag is not None
            value = ctx.field.add(plain(m), mu)
            tag = ctx.field.add(m.tag, ctx.field.mul(mu, np.full(mu.shape, r_share, np.uint64)))
            out.append(tagged(value.reshape(shape), tag.reshape(shape)))
        return out

    def open(self, share: FieldArray, to: int | None) -> Awaitable[FieldArray | None]:
        return self._open(_as_tagged(share), to)

    async def _open(self, share: Tagged, to: int | None) -> FieldArray | None:
        if to is None:
            value: FieldArray = await self._join("open", share)
            return value.reshape(share.shape)
        # private opening: ``to`` deals a mask m, everybody opens share − m, ``to`` adds m
        mask: tuple[Tagged, FieldArray | None] = await self._join("random", share.shape, (to,))
        m, known = mask
        masked = self.apply(self.rt.field.sub, [share, m], [True, True])
        opened: FieldArray = await self._join("open", _as_tagged(masked))
        if known is None:
            return None
        return self.rt.field.add(opened, known.reshape(-1)).reshape(share.shape)

    async def _opens(self, batch: list[_Request]) -> list[FieldArray]:
        return await open_shares(self.ctx, "open", [r.args[0] for r in batch])

    def random(self, shape: tuple[int, ...]) -> Awaitable[FieldArray]:
        return self._random(shape)

    async def _random(self, shape: tuple[int, ...]) -> FieldArray:
        share, _ = await self._join("random", shape, tuple(range(self.ctx.t + 1)))
        result: FieldArray = share
        return result

    async def _randoms(self, batch: list[_Request]) -> list[tuple[Tagged, FieldArray | None]]:
        specs = [RandomSpec(r.args[1], prod(r.args[0])) for r in batch]
        made = await audited_batch(self.ctx, "random", specs)
        out = []
        for req, value, known in zip(batch, made.randoms, made.known, strict=True):
            assert value.tag is not None
            shape = req.args[0]
            out.append((tagged(plain(value).reshape(shape), value.tag.reshape(shape)), known))
        return out

    async def _take_random(self) -> Tagged:
        """Return a fresh tagged random scalar (for the checks), refilling the pool when empty."""
        async with self._pool_lock:
            if not self._pool:
                made = await audited_batch(
                    self.ctx, "pool", [RandomSpec(tuple(range(self.ctx.t + 1)), POOL_SIZE)]
                )
                fresh = made.randoms[0]
                assert fresh.tag is not None
                self._pool = [
                    tagged(plain(fresh)[k : k + 1], fresh.tag[k : k + 1]) for k in range(POOL_SIZE)
                ]
            return self._pool.pop(0)


def _tag_of(a: Any) -> FieldArray:
    tag = getattr(a, "tag", None)
    if tag is None:
        raise ProtocolError(
            "a share without a tag reached the active suite",
            step="local",
            hint="combine only SecretArrays made by the same active runtime",
        )
    out: FieldArray = tag
    return out


def _as_tagged(a: FieldArray) -> Tagged:
    if not isinstance(a, Tagged) or a.tag is None:
        raise ProtocolError(
            "a share without a tag reached the active suite",
            step="local",
            hint="combine only SecretArrays made by the same active runtime",
        )
    return a


def _encode_shape(shape: tuple[int, ...]) -> bytes:
    return bytes([len(shape)]) + b"".join(int(d).to_bytes(8, "big") for d in shape)


def _decode_shapes(data: bytes) -> list[tuple[int, ...]] | None:
    out = []
    offset = 0
    while offset < len(data):
        ndim = data[offset]
        end = offset + 1 + 8 * ndim
        if ndim > 32 or end > len(data):
            return None
        shape = tuple(int.from_bytes(data[k : k + 8], "big") for k in range(offset + 1, end, 8))
        if prod(shape) > 1 << 32:
            return None
        out.append(shape)
        offset = end
    return out
