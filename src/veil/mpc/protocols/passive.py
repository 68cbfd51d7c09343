"""Passive (semi-honest) protocols for ``t < n/2``: Shamir sharing, GRR degree reduction, PRSS.

Security: every party follows the protocol; any ``t`` of them may pool what they see and learn
nothing beyond the values opened to them. Shares, products and messages are information-
theoretically hidden; the keyed pseudo-random shares below make that computational (AES-256).

Input sharing (``"input"``). The dealer picks the degree-``t`` polynomial through its secret at 0
and through values derived from the keys it shares with its next ``t`` parties; those parties derive
their shares themselves (pseudo-random secret sharing, [CDI05]), the other ``n - 1 - t`` parties
receive theirs in one message. Any ``t`` shares are uniform, whatever the secret.

Multiplication (``"mul"``). Each party multiplies its two shares, which gives a share of the product
on a degree-``2t`` polynomial; parties ``0..2t`` then re-share their products, weighted by the
Lagrange coefficients at 0, with fresh degree-``t`` polynomials, and every party adds what it gets
([GRR98], the simplification of [BGW88]'s degree reduction). One round; each re-sharing party sends
``n - 1 - t`` field elements per product, so ``8 * (n - 1 - t)`` bytes (8 bytes at n = 3).

Opening (``"open"``). Each party combines its share with those of the next ``t`` parties (Lagrange
interpolation at 0): ``t`` field elements sent per party and value, one round.

Random sharings. Pseudo-random secret sharing [CDI05]: for every set ``A`` of ``t`` parties, the
parties outside ``A`` hold a key ``k_A``; the secret is ``sum_A PRF(k_A)`` and party ``i``'s share is
``sum_{A not containing i} f_A(x_i) * PRF(k_A)``, with ``f_A`` of degree ``t``, 1 at 0 and 0 on
``A``. No communication. With more than 128 keys per party, ``t + 1`` parties deal random
vectors instead (one round).

[BGW88] M. Ben-Or, S. Goldwasser, A. Wigderson, "Completeness theorems for non-cryptographic
fault-tolerant distributed computation", STOC 1988.
[GRR98] R. Gennaro, M. O. Rabin, T. Rabin, "Simplified VSS and fast-track multiparty computations
with applications to threshold cryptography", PODC 1998.
[CDI05] R. Cramer, I. Damgård, Y. Ishai, "Share conversion, pseudorandom secret-sharing and
applications to secure computation", TCC 2005.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cached_property
from math import comb

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError, ProtocolError
from veil.field import Csprng, FieldArray
from veil.mpc import _prg
from veil.mpc._kernels import combine, deal
from veil.mpc.protocols import ProtocolSuite, register_suite
from veil.mpc.protocols._plans import (
    deal_plan,
    lagrange_row,
    open_sources,
    prss_coefficient,
    prss_sets,
    reshare_weights,
)

__all__ = ["PassiveSuite"]

#: Largest number of PRSS keys a party holds (``C(n - 1, t)``) before random sharings are dealt.
MAX_PRSS_KEYS = 128
#: PRG purpose of :meth:`PassiveSuite.random_hidden_from` (``random`` uses 0).
_HIDDEN_PURPOSE = 0x48494445
_MAX_NDIM = 32


def _words(key: bytes) -> FieldArray:
    return np.frombuffer(key, dtype=np.uint64)


@register_suite
class PassiveSuite(ProtocolSuite):
    """Semi-honest protocols for an honest majority (``1 <= t`` and ``2t < n``)."""

    name = "passive"
    reduces_local_products = True

    def __init__(self, runtime: object) -> None:
        super().__init__(runtime)  # type: ignore[arg-type]
        rt = self.rt
        self.me, self.n, self.t, self.field = rt.party_id, rt.n_parties, rt.threshold, rt.field
        self.p = self.field.p
        self.pair_keys: dict[int, bytes] = {}
        self.prss_keys: dict[frozenset[int], bytes] = {}
        self.use_prss = comb(self.n - 1, self.t) <= MAX_PRSS_KEYS

    @classmethod
    def check_parameters(cls, n_parties: int, threshold: int) -> None:
        if threshold < 1 or 2 * threshold >= n_parties:
            most = (n_parties - 1) // 2
            expected = f"1 <= t <= {most}" if most >= 1 else "at least 3 parties (then t = 1)"
            raise ConfigError(
                f"threshold t={threshold} does not suit n={n_parties} parties: passive MPC with an "
                f"honest majority needs 1 <= t < n/2, so {expected}",
                field="threshold",
                hint="t is the number of colluding parties tolerated; omit it to get the largest safe t",
            )

    # ----- setup ------------------------------------------------------------------------------

    async def setup(self) -> None:
        """Exchange a key with every other party, and the PRSS keys, in one round."""
        me, n = self.me, self.n
        outgoing: dict[int, list[bytes]] = {j: [] for j in range(me + 1, n)}
        for j in range(me + 1, n):
            self.pair_keys[j] = _prg.new_key()
            outgoing[j].append(self.pair_keys[j])
        for excluded in self._prss_sets:
            holders = [k for k in range(n) if k not in excluded]
            if holders[0] == me:  # the first holder chooses the key
                key = self.prss_keys[excluded] = _prg.new_key()
                for k in holders[1:]:
                    outgoing[k].append(key)

        def finish(received: dict[int, FieldArray]) -> None:
            for j in range(me):
                data = received[j].tobytes()
                keys = [data[o : o + _prg.KEY_BYTES] for o in range(0, len(data), _prg.KEY_BYTES)]
                self.pair_keys[j] = keys.pop(0)
                for excluded in self._prss_sets:
                    holders = [k for k in range(n) if k not in excluded]
                    if holders[0] == j and me in holders:
                        self.prss_keys[excluded] = keys.pop(0)
                if keys:
                    raise ProtocolError(
                        f"party {j} sent {len(keys)} keys too many at setup", party=j, step="setup"
                    )

        await self.rt.exchange(
            "setup",
            {j: _words(b"".join(keys)) for j, keys in outgoing.items() if keys},
            range(me),
            finish,
        )

    @cached_property
    def _prss_sets(self) -> tuple[frozenset[int], ...]:
        return prss_sets(self.n, self.t) if self.use_prss else ()

    # ----- input ------------------------------------------------------------------------------

    def input(self, values: FieldArray | None, sender: int) -> Awaitable[FieldArray]:
        me, field = self.me, self.field
        label = self.rt.next_label()
        plan = deal_plan(self.p, self.n, self.t, sender)
        if me == sender:
            if values is None:
                raise ConfigError(f"party {me} is the sender but passed no values", field="values")
            shape = values.shape
            flat = values.reshape(-1)
            header = np.array([len(shape), *shape], dtype=np.uint64)
            rhos = [
                _prg.derive(field, self.pair_keys[j], label, sender, flat.size)
                for j in plan.partners
            ]
            shares = deal(field, 1, flat, rhos, [row[1:] for row in plan.rows])
            outgoing = {j: header for j in plan.partners}
            for k, share in zip(plan.targets[1:], shares[1:], strict=True):
                outgoing[k] = np.concatenate([header, share])
            own = shares[0].reshape(shape)
            return self.rt.exchange("input", outgoing, (), lambda _: own)

        def finish(received: dict[int, FieldArray]) -> FieldArray:
            words = received[sender]
            shape = _parse_shape(words, sender)
            size = int(np.prod(shape, dtype=np.int64))
            body = words[1 + len(shape) :]
            if me in plan.partners:
                if body.size:
                    raise _bad(sender, "input", f"sent {body.size} share words to a key partner")
                return _prg.derive(field, self.pair_keys[sender], label, sender, size).reshape(
                    shape
                )
            if body.size != size:
                raise _bad(sender, "input", f"sent {body.size} shares for shape {shape}")
            return body.reshape(shape)

        return self.rt.exchange("input", {}, (sender,), finish)

    # ----- multiplication ---------------------------------------------------------------------

    def reshare(self, product: FieldArray) -> Awaitable[FieldArray]:
        me, n, t, field = self.me, self.n, self.t, self.field
        label = self.rt.next_label()
        shape = product.shape
        flat = product.reshape(-1)
        resharers = range(2 * t + 1)
        own: list[FieldArray] = []
        outgoing: dict[int, FieldArray] = {}
        if me in resharers:
            plan = deal_plan(self.p, n, t, me)
            rhos = [
                _prg.derive(field, self.pair_keys[j], label, me, flat.size) for j in plan.partners
            ]
            shares = deal(field, self._reshare_weight, flat, rhos, self._reshare_rows)
            own.append(shares[0])
            outgoing = dict(zip(plan.targets[1:], shares[1:], strict=True))
        senders = [r for r in resharers if r != me and me in deal_plan(self.p, n, t, r).targets]
        derived_from = [r for r in resharers if me in deal_plan(self.p, n, t, r).partners]

        def finish(received: dict[int, FieldArray]) -> FieldArray:
            terms = list(own)
            for r in derived_from:
                terms.append(_prg.derive(field, self.pair_keys[r], label, r, flat.size))
            for r in senders:
                if received[r].size != flat.size:
                    raise _bad(r, "mul", f"sent {received[r].size} words for {flat.size} products")
                terms.append(received[r])
            return combine(field, [[1] * len(terms)], terms)[0].reshape(shape)

        return self.rt.exchange("mul", outgoing, senders, finish)

    @cached_property
    def _reshare_weight(self) -> int:
        return reshare_weights(self.p, self.t)[self.me]

    @cached_property
    def _reshare_rows(self) -> list[tuple[int, ...]]:
        return [row[1:] for row in deal_plan(self.p, self.n, self.t, self.me).rows]

    # ----- opening ----------------------------------------------------------------------------

    def open(self, share: FieldArray, to: int | None) -> Awaitable[FieldArray | None]:
        me, n, t, field = self.me, self.n, self.t, self.field
        self.rt.next_label()
        shape = share.shape
        flat = share.reshape(-1)
        learners = range(n) if to is None else (to,)
        outgoing = {k: flat for k in learners if k != me and me in open_sources(n, t, k)}
        sources = open_sources(n, t, me) if me in learners else ()

        def finish(received: dict[int, FieldArray]) -> FieldArray | None:
            if not sources:
                return None
            for j in sources:
                if received[j].size != flat.size:
                    raise _bad(j, "open", f"sent {received[j].size} shares for {flat.size} values")
            return combine(field, [self._open_row], [flat, *(received[j] for j in sources)])[
                0
            ].reshape(shape)

        return self.rt.exchange("open", outgoing, sources, finish)

    @cached_property
    def _open_row(self) -> list[int]:
        nodes = [self.me + 1, *(j + 1 for j in open_sources(self.n, self.t, self.me))]
        return lagrange_row(self.p, nodes, 0)

    # ----- randomness -------------------------------------------------------------------------

    def random(self, shape: tuple[int, ...]) -> FieldArray | Awaitable[FieldArray]:
        size = int(np.prod(shape, dtype=np.int64))
        if not self.use_prss:
            return self._dealt_random(shape)
        label = self.rt.next_label()
        sets = sorted(self.prss_keys, key=sorted)
        terms = [_prg.derive(self.field, self.prss_keys[a], label, 0, size) for a in sets]
        row = [prss_coefficient(self.p, a, self.me) for a in sets]
        return combine(self.field, [row], terms)[0].reshape(shape)

    async def random_hidden_from(
        self,
        excluded: frozenset[int],
        shape: tuple[int, ...],
        draw: Callable[[Csprng], npt.NDArray[np.uint64]],
    ) -> FieldArray:
        """Share values drawn from the PRSS key of ``excluded``, without communication.

        The parties outside ``excluded`` (a set of ``t`` parties) hold a common key; each seeds a
        CSPRNG from it and this operation's label, draws the same values, and takes the share
        ``f_A(x_i) * value`` of the degree-``t`` polynomial that is 1 at 0 and 0 on ``excluded``
        (the parties in ``excluded`` hold 0 and learn nothing) [CDI05].
        """
        if not self.use_prss or len(excluded) != self.t:
            return await super().random_hidden_from(excluded, shape, draw)
        label = self.rt.next_label()
        if self.me in excluded:
            return np.zeros(shape, dtype=np.uint64)
        seed = _prg.derive_key(self.prss_keys[frozenset(excluded)], label, _HIDDEN_PURPOSE)
        values = self.field.array(draw(Csprng(seed=seed))).reshape(shape)
        weight = prss_coefficient(self.p, frozenset(excluded), self.me)
        return combine(self.field, [[weight]], [values])[0]

    async def _dealt_random(self, shape: tuple[int, ...]) -> FieldArray:
        """Add random vectors dealt by parties ``0..t``: at least one dealer is honest."""
        dealers = range(self.t + 1)
        parts = await asyncio.gather(
            *(self.input(self.field.random(shape) if d == self.me else None, d) for d in dealers)
        )
        return combine(self.field, [[1] * len(parts)], list(parts))[0]


def _parse_shape(words: FieldArray, sender: int) -> tuple[int, ...]:
    ndim = int(words[0]) if words.size else -1
    if not 0 <= ndim <= _MAX_NDIM or words.size < 1 + ndim:
        raise _bad(sender, "input", "sent a malformed shape header")
    return tuple(int(d) for d in words[1 : 1 + ndim])


def _bad(party: int, step: str, problem: str) -> ProtocolError:
    return ProtocolError(
        f"party {party} {problem} in {step!r}",
        party=party,
        step=step,
        hint="the parties must run the same veil version and program",
    )
