"""Random masks with known bit structure: the preprocessing of comparisons and truncations.

A mask is a secret ``r``, uniform modulo ``p``, whose binary digits are secret-shared in a form the
comparison protocols can compute with: the low ``m`` bits in groups of two, each group as a one-hot
vector over ``{0, 1, 2, 3}``, the high bits as plain bits. Comparisons open ``a + r`` and compare the
public low part with the secret groups (:mod:`veil.mpc.protocols.compare`).

How ``r`` is made (no party learns it)
--------------------------------------
Every digit is the XOR of two *sides*: ``r = L XOR R`` bitwise.

- The *dealt* side ``L``: a dealer draws it from its CSPRNG and shares it with the runtime's ``input``.
  With ``t > 1``, ``t`` dealers each share one and their XOR is computed in MPC.
- The *hidden* side ``R``: random values the dealers never learn, from the suite's
  ``random_hidden_from`` (free in the passive suite: every party but the dealer derives them from a
  key it shares with the others, pseudo-random secret sharing [CDI05]; any suite can instead let a
  non-dealer share them).

Any ``t`` parties miss one side (the dealers miss ``R``, everybody else misses ``L``), so ``r`` is
uniform to them. For ``t = 1`` the elements are split evenly among the parties as dealers, which
balances the traffic.

Why XOR: a function of one digit of ``L XOR R`` is a *bilinear* form in the one-hot vectors of the
two sides, and a sum of products of shared values costs one degree reduction however many terms it
has. So ``r`` itself (a weighted sum of all its digits) costs one reduction per mask, and every
comparison leaf (one per group) one reduction, without ever computing the digits of ``r`` one by one
([DFKNT06] and [NO07] use bitwise-shared random values; the group-wise bilinear evaluation is ours).

Uniformity: the digits give ``r`` uniform in ``[0, 2**l)`` with ``l`` the bit length of ``p``. For
``p = 2**61 - 1`` the only integer in that range at or above ``p`` is ``p`` itself (``r = 0`` has
twice the weight), a statistical distance of ``2**-61`` from uniform. Fields whose prime is farther
from a power of two than ``2**-kappa`` in relative terms are refused.

In non-passive suites every dealt vector is checked to be one-hot / binary before use (one random
linear combination of the quadratic constraints, opened): a dealer who shares anything else is
caught, the check reveals nothing else.

[CDI05] R. Cramer, I. Damgård, Y. Ishai, "Share conversion, pseudorandom secret-sharing and
applications to secure computation", TCC 2005.
[DFKNT06] I. Damgård, M. Fitzi, E. Kiltz, J. B. Nielsen, T. Toft, "Unconditionally secure
constant-rounds multi-party computation for equality, comparison, bits and exponentiation", TCC 2006.
[NO07] T. Nishide, K. Ohta, "Multiparty computation for interval, equality, and comparison without
bit-decomposition protocol", PKC 2007.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError, ProtocolError
from veil.field import Csprng, Field, FieldArray
from veil.mpc.array import SecretArray, concatenate, stack
from veil.mpc.protocols import _fused, _local

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["DEFAULT_KAPPA", "Masks", "check_field", "make_masks"]

#: Default statistical security parameter, in bits (the distance of every simulated view from the
#: real one is at most ``2**-kappa``).
DEFAULT_KAPPA = 40

_U = np.uint64
_Draw = Callable[[Csprng, int], npt.NDArray[np.uint64]]
#: XOR table of two group values: ``_XOR[u, v] = u ^ v``.
_XOR = np.bitwise_xor.outer(np.arange(4), np.arange(4))
_ONE = _U(1)


def check_field(field: Field, kappa: int = DEFAULT_KAPPA) -> None:
    """Refuse fields where a uniform ``l``-bit integer is not ``2**-kappa``-close to uniform mod p."""
    gap = (1 << field.bits) - field.p
    if gap << kappa > (1 << field.bits):
        raise ConfigError(
            f"secure comparisons need a prime within a factor 1 - 2**-{kappa} of a power of two; "
            f"{field!r} is {gap} below 2**{field.bits}",
            field="field",
            hint="use the default field, p = 2**61 - 1",
        )


@dataclass
class Masks:
    """``count`` random masks, uniform mod p, with the low ``low_bits`` bits in two-bit groups.

    Layouts are feature-major (the last axis runs over the masks), so every row is contiguous.

    Attributes
    ----------
    low_bits : int
        ``m``: the number of low bits in groups (``groups = ceil(m / 2)``; with ``m`` odd the top
        group holds one bit).
    r : SecretArray, shape (count,)
        The masks.
    high : SecretArray, shape (count,)
        ``floor(r / 2**m)``.
    left, right : list of SecretArray, each of shape (3, groups, k)
        Entries 1, 2, 3 of the one-hot vectors of the two sides' group values (entry 0 is one minus
        their sum), in column blocks (one per dealer, in order: the blocks' ``k`` add up to
        ``count``); group ``j`` of ``r`` is ``left_j XOR right_j`` and covers bits ``2j`` and
        ``2j + 1``. ``None`` for masks made without groups (truncation without comparison).
    """

    low_bits: int
    r: SecretArray
    high: SecretArray
    left: list[SecretArray] | None
    right: list[SecretArray] | None

    @property
    def count(self) -> int:
        """Number of masks."""
        return self.r.shape[0]

    @property
    def groups(self) -> int:
        """Number of two-bit groups of the low part."""
        return (self.low_bits + 1) // 2

    def take(self, count: int) -> tuple[Masks, Masks]:
        """Split off the first ``count`` masks: ``(taken, rest)``, for preprocessing.

        Masks made ahead of time (:func:`make_masks` for a whole computation) are handed out in
        order; every party must take the same counts in the same order, as it must run the same
        program. Each mask is used once.
        """
        if not 0 <= count <= self.count:
            raise ConfigError(f"cannot take {count} of {self.count} prepared masks", field="count")

        def cut(blocks: list[SecretArray] | None) -> tuple[list[SecretArray] | None, ...]:
            if blocks is None:
                return None, None
            head: list[SecretArray] = []
            tail: list[SecretArray] = []
            start = 0
            for block in blocks:
                size = block.shape[-1]
                lo, hi = min(max(count - start, 0), size), size
                if lo:
                    head.append(block[..., :lo])
                if lo < hi:
                    tail.append(block[..., lo:])
                start += size
            return head or [blocks[0][..., :0]], tail or [blocks[0][..., :0]]

        left_head, left_tail = cut(self.left)
        right_head, right_tail = cut(self.right)
        return (
            Masks(self.low_bits, self.r[:count], self.high[:count], left_head, right_head),
            Masks(self.low_bits, self.r[count:], self.high[count:], left_tail, right_tail),
        )


def _layout(field: Field, low_bits: int, grouped: bool) -> tuple[int, int]:
    """Return ``(groups, plain_bits)`` of one side: grouped low part (if any), then plain bits."""
    if grouped:
        return (low_bits + 1) // 2, field.bits - low_bits
    return 0, field.bits


def _draw(
    rng: Csprng, count: int, low_bits: int, groups: int, plain: int
) -> npt.NDArray[np.uint64]:
    """Draw one side, shape ``(3 groups + plain, count)``: one-hot entries 1..3, then plain bits."""
    out = np.zeros((3 * groups + plain, count), dtype=np.uint64)
    if groups:
        values = rng.below(4, groups * count).reshape(groups, count)
        if low_bits % 2:  # the top group holds a single bit
            values[-1] &= _ONE
        for k in range(3):
            out[k * groups : (k + 1) * groups] = values == _U(k + 1)
    if plain:
        words = rng.uint64(count)
        shifts = np.arange(plain, dtype=np.uint64)[:, None]
        out[3 * groups :] = (words[None, :] >> shifts) & _ONE
    return out


async def _dealt_and_hidden(
    rt: Runtime, count: int, width: int, groups: int, draw: _Draw
) -> tuple[list[SecretArray], list[SecretArray]]:
    """Share the dealt side and the hidden side in column blocks, each (width, k); one round."""
    n, t, me = rt.n_parties, rt.threshold, rt.party_id
    suite = rt.protocols

    async def hidden(excluded: frozenset[int], size: int) -> SecretArray:
        share = await suite.random_hidden_from(excluded, (width, size), lambda rng: draw(rng, size))
        return rt.secret(share, (width, size))

    async def dealt(dealer: int, size: int) -> SecretArray:
        values = draw(Csprng(), size) if me == dealer else None
        share = await suite.input(values, dealer)
        return rt.secret(share, (width, size))

    if t == 1:
        sizes = [count // n + (k < count % n) for k in range(n)]
        chunks = [k for k in range(n) if sizes[k]]
        parts = await asyncio.gather(
            *(dealt(k, sizes[k]) for k in chunks),
            *(hidden(frozenset({k}), sizes[k]) for k in chunks),
        )
        return list(parts[: len(chunks)]), list(parts[len(chunks) :])
    dealers = list(range(t))
    parts = await asyncio.gather(
        *(dealt(d, count) for d in dealers), hidden(frozenset(dealers), count)
    )
    return [_xor_sides(list(parts[:-1]), groups)], [parts[-1]]


def _full_onehot(field: Field, entries: FieldArray) -> FieldArray:
    """Return all four one-hot entries (4, ...) from entries 1..3 (3, ...)."""
    out = np.empty((4, *entries.shape[1:]), dtype=np.uint64)
    out[1:] = entries
    out[0] = field.sub(
        np.ones(entries.shape[1:], dtype=np.uint64),
        field.add(field.add(entries[0], entries[1]), entries[2]),
    )
    return out


def _xor_local(field: Field, groups: int) -> Callable[[FieldArray, FieldArray], FieldArray]:
    """Return the local part of XOR-ing two sides (the products, before the degree reduction)."""

    def local(a: FieldArray, b: FieldArray) -> FieldArray:
        count = a.shape[1]
        out = np.empty(a.shape, dtype=np.uint64)
        if groups:
            fa = _full_onehot(field, a[: 3 * groups].reshape(3, groups, count))
            fb = _full_onehot(field, b[: 3 * groups].reshape(3, groups, count))
            for w in (1, 2, 3):  # entry w of u XOR v: sum_u a[u] * b[u XOR w]
                acc = np.zeros((groups, count), dtype=np.uint64)
                for u in range(4):
                    acc = field.add(acc, _local.mul(field, fa[u], fb[u ^ w]))
                out[(w - 1) * groups : w * groups] = acc
        bits_a, bits_b = a[3 * groups :], b[3 * groups :]
        product = _local.mul(field, bits_a, bits_b)
        out[3 * groups :] = field.sub(field.add(bits_a, bits_b), field.add(product, product))
        return out

    return local


def _xor_generic(a: SecretArray, b: SecretArray, groups: int) -> SecretArray:
    """XOR two sides with the suite's own products (``vecdot`` and ``*``)."""
    field = a.field
    count = a.shape[1]
    parts = []
    if groups:
        full_a = a._apply(
            lambda s: _full_onehot(field, s[: 3 * groups].reshape(3, groups, count)),
            (a,),
            (4, groups, count),
            None,
        )

        def permuted(s: FieldArray) -> FieldArray:  # [w - 1][u] = b's entry u XOR w
            full = _full_onehot(field, s[: 3 * groups].reshape(3, groups, count))
            return np.stack([full[_XOR[:, w]] for w in (1, 2, 3)])

        full_b = b._apply(permuted, (b,), (3, 4, groups, count), None)
        parts.append(full_a.reshape(1, 4, groups, count).vecdot(full_b, axis=1).reshape(-1, count))
    bits_a, bits_b = a[3 * groups :], b[3 * groups :]
    parts.append(bits_a + bits_b - 2 * (bits_a * bits_b))
    return concatenate(parts)


def _xor_sides(sides: list[SecretArray], groups: int) -> SecretArray:
    """XOR several dealt sides in MPC: one round per extra side (one reduction per entry)."""
    combined = sides[0]
    if not combined.runtime.protocols.reduces_local_products:
        for side in sides[1:]:
            combined = _xor_generic(combined, side, groups)
        return combined
    local = _xor_local(combined.field, groups)
    for side in sides[1:]:
        combined = combined._bilinear((combined, side), local, side.shape)
    return combined


def _low_bits(field: Field, side: FieldArray, low_bits: int, groups: int) -> FieldArray:
    """Return the grouped low bits of a side as rows (low_bits, count)."""
    count = side.shape[1]
    e1, e2, e3 = (side[k * groups : (k + 1) * groups] for k in range(3))
    low = np.empty((2 * groups, count), dtype=np.uint64)
    low[0::2] = field.add(e1, e3)  # bit 0 of the group value is 1 for values 1 and 3
    low[1::2] = field.add(e2, e3)
    return low[:low_bits]


def _xor_weighted(field: Field, a: FieldArray, b: FieldArray) -> FieldArray:
    """Return the degree-2 local value of ``sum_i 2**i (a_i XOR b_i)`` over the rows of a, b.

    ``a XOR b = a + b - 2ab``: two weighted sums and one sum of products, each summed down the
    rows before any reduction.
    """
    if not a.shape[0]:
        return np.zeros(a.shape[1:], dtype=np.uint64)
    exponents = np.arange(a.shape[0])[:, None]
    wa = _local.times_pow2(field, a, exponents)
    linear = field.add(
        field.sum(wa, axis=0), field.sum(_local.times_pow2(field, b, exponents), axis=0)
    )
    cross = field.sum(_local.mul(field, wa, b), axis=0)  # sum_i 2**i a_i b_i
    return np.asarray(field.sub(linear, field.add(cross, cross)), dtype=np.uint64)


def mask_sums_numpy(
    field: Field, a: FieldArray, b: FieldArray, groups: int, low_bits: int
) -> FieldArray:
    """The numpy version of :func:`veil.mpc.protocols._fused.mask_sums` (any prime)."""
    count = a.shape[1]
    out = np.empty((2, count), dtype=np.uint64)
    if groups:
        out[0] = _xor_weighted(
            field, _low_bits(field, a, low_bits, groups), _low_bits(field, b, low_bits, groups)
        )
        out[1] = _xor_weighted(field, a[3 * groups :], b[3 * groups :])
    else:
        out[0] = _xor_weighted(field, a[:low_bits], b[:low_bits])
        out[1] = _xor_weighted(field, a[low_bits:], b[low_bits:])
    return out


async def make_masks(
    rt: Runtime,
    count: int,
    low_bits: int,
    *,
    grouped: bool = True,
    kappa: int = DEFAULT_KAPPA,
) -> Masks:
    """Make ``count`` masks whose low ``low_bits`` bits are in groups (see the module docstring).

    Rounds: one for the two sides, ``t - 1`` to combine several dealers, one for ``r`` and ``high``
    (one degree reduction each per mask).

    Parameters
    ----------
    rt : Runtime
    count : int
        Number of masks (>= 0).
    low_bits : int
        ``m``, in ``[0, field.bits]``.
    grouped : bool, default=True
        Keep the low part as one-hot groups (comparisons). Without groups only ``r`` and
        ``high`` are produced (probabilistic truncation).
    kappa : int, default=40
        Statistical security parameter: the field is refused unless ``r`` is ``2**-kappa``-close to
        uniform modulo p.
    """
    field = rt.field
    check_field(field, kappa)
    if not 0 <= low_bits <= field.bits:
        raise ConfigError(f"low_bits must be in [0, {field.bits}], got {low_bits}")
    groups, plain = _layout(field, low_bits, grouped)
    width = 3 * groups + plain
    if count == 0:
        empty = rt.constant(np.zeros(0, dtype=np.uint64))
        onehot = [rt.constant(np.zeros((3, groups, 0), dtype=np.uint64))]
        return Masks(low_bits, empty, empty, onehot if groups else None, onehot if groups else None)

    def draw(rng: Csprng, size: int) -> npt.NDArray[np.uint64]:
        return _draw(rng, size, low_bits, groups, plain)

    lefts, rights = await _dealt_and_hidden(rt, count, width, groups, draw)
    if rt.security != "passive":
        await _check_sides(rt, [*lefts, *rights], groups)

    if not rt.protocols.reduces_local_products:
        both = _mask_values_generic(lefts, rights, groups, low_bits)
    else:
        both = _mask_values_local(lefts, rights, groups, low_bits)
    high = both[1]
    r = both[0] + high * pow(2, low_bits, field.p)
    await r.share()
    if not groups:
        return Masks(low_bits, r, high, None, None)
    return Masks(
        low_bits,
        r,
        high,
        [side[: 3 * groups].reshape(3, groups, side.shape[1]) for side in lefts],
        [side[: 3 * groups].reshape(3, groups, side.shape[1]) for side in rights],
    )


def _mask_values_local(
    lefts: list[SecretArray], rights: list[SecretArray], groups: int, low_bits: int
) -> SecretArray:
    """``(low, high)`` of the masks from local sums of products, one reduction (passive)."""
    field = lefts[0].field
    count = sum(side.shape[1] for side in lefts)
    fused = groups > 0 and _fused.available(field)

    def local(*shares: FieldArray) -> FieldArray:
        # low = sum_{i < m} 2^i (a_i XOR b_i), high = sum_{i >= m} 2^(i-m) (a_i XOR b_i); XOR is
        # a + b - 2ab, so each is one degree reduction (the linear terms ride along).
        blocks = len(shares) // 2
        out = np.empty((2, count), dtype=np.uint64)
        start = 0
        for a, b in zip(shares[:blocks], shares[blocks:], strict=True):
            stop = start + a.shape[1]
            if fused:
                out[:, start:stop] = _fused.mask_sums(a, b, groups, low_bits)
            else:
                out[:, start:stop] = mask_sums_numpy(field, a, b, groups, low_bits)
            start = stop
        return out

    return lefts[0]._bilinear((*lefts, *rights), local, (2, count))


def _mask_values_generic(
    lefts: list[SecretArray], rights: list[SecretArray], groups: int, low_bits: int
) -> SecretArray:
    """``(low, high)`` of the masks with the suite's own products (suites that check them)."""
    field = lefts[0].field
    left = lefts[0] if len(lefts) == 1 else concatenate(lefts, axis=1)
    right = rights[0] if len(rights) == 1 else concatenate(rights, axis=1)
    count = left.shape[1]

    def bits(s: FieldArray) -> FieldArray:
        if groups:
            return np.concatenate([_low_bits(field, s, low_bits, groups), s[3 * groups :]])
        return s

    a = left._apply(bits, (left,), (field.bits, count), None)
    b = right._apply(bits, (right,), (field.bits, count), None)
    exponents = np.concatenate([np.arange(low_bits), np.arange(field.bits - low_bits)])
    weights = field.array(np.array([1 << int(e) for e in exponents], dtype=object))[:, None]
    weighted_a = a * weights
    rows = weighted_a + b * weights - 2 * (weighted_a * b)  # 2**i (a_i XOR b_i)
    return stack([rows[:low_bits].sum(axis=0), rows[low_bits:].sum(axis=0)])


def _check_local(
    field: Field, groups: int, weights: FieldArray
) -> Callable[[FieldArray], FieldArray]:
    """Return the local part of the validity check of one side (a weighted sum of products)."""

    def local(s: FieldArray) -> FieldArray:
        count = s.shape[1]
        terms = [_local.mul(field, s, field.sub(np.ones_like(s), s))]
        if groups:
            e = s[: 3 * groups].reshape(3, groups, count)
            terms += [
                _local.mul(field, x, y) for x, y in ((e[0], e[1]), (e[0], e[2]), (e[1], e[2]))
            ]
        stacked = np.concatenate(terms, axis=0)
        return np.asarray(field.sum(_local.mul(field, stacked, weights)), dtype=np.uint64)

    return local


async def _check_sides(rt: Runtime, sides: list[SecretArray], groups: int) -> None:
    """Check that every shared side is binary and one-hot per group; open one combination.

    For each stored entry e (one-hot entries and plain bits) e * (1 - e) = 0; for the three stored
    one-hot entries of a group every pairwise product is 0, so at most one is 1. A random public
    combination of all these products is 0 for valid sides, and non-zero with probability at least
    1 - 1/p otherwise. Reveals nothing else: the combination of valid sides is always 0.
    """
    field = rt.field
    for side in sides:
        width, count = side.shape
        rho = await rt.random((width + 3 * groups, count)).open()
        assert rho is not None
        weights = field.array(rho)
        if rt.protocols.reduces_local_products:
            combination = side._bilinear((side,), _check_local(field, groups, weights), ())
        else:  # the suite's own products
            products = [side * (1 - side)]
            if groups:
                e = side[: 3 * groups].reshape(3, groups, count)
                products += [
                    (x * y).reshape(groups, count)
                    for x, y in ((e[0], e[1]), (e[0], e[2]), (e[1], e[2]))
                ]
            combination = (concatenate(products) * weights).sum()
        total = await combination.open()
        if total is None or int(total) != 0:
            raise ProtocolError(
                "a dealt random mask is not binary: a dealer shared values other than bits",
                step="masks",
                hint="a party deviated from the protocol; do not use this computation's outputs",
            )
