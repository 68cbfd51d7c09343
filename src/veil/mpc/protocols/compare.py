"""Secure comparison, equality and exact bit splitting over GF(p) with a full-field mask.

The problem with ``p = 2**61 - 1``
----------------------------------
The usual statistical approach ([CdH10]) opens ``a + r`` for an ``r`` just ``kappa`` bits longer
than ``a``; with ``kappa = 40`` that leaves room for only ~19-bit values in a 61-bit field, and the
bench compares 32-bit integers. So veil uses a *perfectly* hiding mask: ``r`` uniform modulo ``p``
with secret-shared bits ([DFKNT06], [NO07]), made by :mod:`veil.mpc.protocols.masks`.

Split
-----
To split ``a`` (``0 <= a < 2**K``) at bit ``m``: open ``c = a + r mod p``. ``c`` is uniform whatever
``a`` is, so it reveals nothing. If ``c >= 2**K`` the sum did not wrap around ``p`` (a wrap would
leave ``c = a + r - p < a``), so ``a = c - r`` over the integers and, with ``c = c_hi 2**m + c_lo``
and ``r = r_hi 2**m + r_lo``::

    floor(a / 2**m) = c_hi - r_hi - [c_lo < r_lo]
    a mod 2**m == 0  <=>  c_lo == r_lo

If ``c < 2**K`` (probability ``2**(K - l)``, about ``2**-28`` for 32-bit comparisons) the position
is *retried* with a fresh mask. Whether to retry depends on ``c`` alone, which is independent of
``a``, so retrying reveals nothing: the accepted ``c`` is uniform on ``[2**K, p)`` for every ``a``.
The ``2**-61`` distance of ``r`` from uniform (``p`` is one below ``2**61``) is the only statistical
term; it is below any ``2**-kappa``.

The comparison ``[c_lo < r_lo]`` of a public and a secret ``m``-bit number runs on two-bit groups:
each group's pair ``([c_j < r_j], [c_j == r_j])`` is one degree reduction (a bilinear form in the
masks' one-hot vectors), and a tree of fan-in four combines them with
``lt = lt_A + eq_A lt_B + eq_A eq_B (lt_C + eq_C lt_D)`` (group A most significant), two rounds and
three reductions per node. For a 32-bit comparison: 16 groups, 52 reductions, 6 rounds after the
masks (open, leaves, two tree levels of two rounds each).

Comparisons
-----------
For values of a ``k``-bit type the difference ``z = x - y`` has ``k + 1`` bits; ``x < y`` is
``1 - floor((z + 2**k) / 2**k)``. ``z == 0`` checks that ``z + 2**k`` equals ``2**k``: with all
``k + 1`` bits in groups, that is ``r_lo == c_lo - 2**k (mod 2**(k+1))``, a product of group
equalities (no ``lt`` needed).

[CdH10] O. Catrina, S. de Hoogh, "Improved primitives for secure multiparty integer computation",
SCN 2010.
[DFKNT06] I. Damgård, M. Fitzi, E. Kiltz, J. B. Nielsen, T. Toft, "Unconditionally secure
constant-rounds multi-party computation for equality, comparison, bits and exponentiation", TCC 2006.
[NO07] T. Nishide, K. Ohta, "Multiparty computation for interval, equality, and comparison without
bit-decomposition protocol", PKC 2007.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.field import Field, FieldArray
from veil.mpc.array import SecretArray, concatenate, stack
from veil.mpc.protocols import _fused, _local
from veil.mpc.protocols.masks import DEFAULT_KAPPA, Masks, _full_onehot, make_masks
from veil.mpc.types import PROTOCOL_HEADROOM_BITS

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["Split", "compare", "equal_zero", "is_zero", "less_than_zero", "prepare", "split"]

_U = np.uint64


def max_bound_bits(field: Field) -> int:
    """The largest ``K`` for which split accepts ``0 <= a < 2**K`` (retries at most 1/16)."""
    return field.bits - PROTOCOL_HEADROOM_BITS


def _check_bound(field: Field, bound_bits: int, what: str) -> None:
    if not 1 <= bound_bits <= max_bound_bits(field):
        raise ConfigError(
            f"{what} needs operands of at most {max_bound_bits(field)} bits in {field!r}, got "
            f"{bound_bits}",
            field="bits",
            hint="use a narrower type (SecInt(bits) with bits <= "
            f"{max_bound_bits(field) - 1} for comparisons)",
        )


def _constant(like: SecretArray, values: npt.NDArray[np.generic]) -> SecretArray:
    """A sharing of public values (every party's share is the value: a degree-0 polynomial)."""
    return like.runtime.constant(like.field.array(values))


@dataclass
class Split:
    """Results of :func:`split`; each is a raw SecretArray of the input's shape (or ``None``)."""

    high: SecretArray | None
    low_zero: SecretArray | None


async def _open_masked(
    a: SecretArray,
    bound_bits: int | None,
    low_bits: int,
    *,
    grouped: bool = True,
    masks: Masks | None = None,
    kappa: int = DEFAULT_KAPPA,
) -> tuple[npt.NDArray[np.uint64], Masks]:
    """Open ``a + r`` for fresh masks, retrying positions where ``c`` could have wrapped.

    ``bound_bits`` is ``K`` with ``0 <= a < 2**K`` (retry when ``c < 2**K``); ``None`` means any
    field element (retry when ``c == 0``, where ``r`` may be ``0`` or ``p``).
    """
    rt, count = a.runtime, a.shape[0]
    if masks is None:
        masks = await make_masks(rt, count, low_bits, grouped=grouped, kappa=kappa)
    elif masks.count != count or masks.low_bits != low_bits or (grouped and masks.left is None):
        raise ConfigError(
            f"prepared masks do not fit: {masks.count} masks of {masks.low_bits} low bits for "
            f"{count} values split at bit {low_bits}",
            field="masks",
            hint="prepare one mask per compared element, with the comparison's bit width",
        )
    p = rt.field.p
    opened = await (a + masks.r).open()
    assert opened is not None
    c = np.where(opened < 0, opened + p, opened).astype(np.uint64)

    def wrapped(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        if bound_bits is None:
            return np.asarray(values == 0)
        return np.asarray(values < _U(1 << bound_bits))

    bad = np.flatnonzero(wrapped(c))
    while bad.size:  # rare: probability 2**(K - l) per position
        fresh = await make_masks(rt, bad.size, low_bits, grouped=grouped, kappa=kappa)
        again = await (a[bad] + fresh.r).open()
        assert again is not None
        c[bad] = np.where(again < 0, again + p, again).astype(np.uint64)
        masks = _replace(masks, bad, fresh)
        bad = bad[wrapped(c[bad])]
    return c, masks


def _replace(masks: Masks, index: npt.NDArray[np.intp], fresh: Masks) -> Masks:
    """Return ``masks`` with the masks at ``index`` (last axis) replaced by ``fresh``'s."""

    def put(old: SecretArray | None, new: SecretArray | None) -> SecretArray | None:
        if old is None or new is None:
            return old

        def merge(o: FieldArray, n: FieldArray) -> FieldArray:
            out = o.copy()
            out[..., index] = n
            return out

        return old._apply(merge, (old, new), old.shape)

    def replaced(
        old: list[SecretArray] | None, new: list[SecretArray] | None
    ) -> list[SecretArray] | None:
        if old is None or new is None:
            return old
        merged = put(_joined(old), _joined(new))
        return None if merged is None else [merged]

    r, high = put(masks.r, fresh.r), put(masks.high, fresh.high)
    assert r is not None
    assert high is not None
    return Masks(
        masks.low_bits,
        r,
        high,
        replaced(masks.left, fresh.left),
        replaced(masks.right, fresh.right),
    )


def _digits(values: npt.NDArray[np.uint64], groups: int) -> npt.NDArray[np.intp]:
    """Two-bit digits ``(values >> 2j) & 3`` for ``j < groups``, shape (groups, count)."""
    shifts = (2 * np.arange(groups)).astype(np.uint64)[:, None]
    return ((values[None, :] >> shifts) & _U(3)).astype(np.intp)


def _leaves(
    masks: Masks, digits: npt.NDArray[np.intp], *, want_lt: bool, eq_from: int
) -> tuple[SecretArray | None, SecretArray]:
    """Return ``[d_j < r_j]`` (if ``want_lt``) and ``[d_j == r_j]`` per group, shape (groups, count).

    Group ``j`` of ``r`` is ``u XOR v`` with ``u`` one-hot in ``left`` and ``v`` in ``right``:
    ``[d == u XOR v] = sum_u left[u] right[u XOR d]`` and ``[d < u XOR v] = sum_u left[u] T_u`` with
    ``T_u = sum_{w > d} right[u XOR w]``. The inner sums are public selections of ``right``'s shares;
    with ``left[0] = 1 - left[1] - left[2] - left[3]`` each leaf is three local products and one
    degree reduction. Rows of ``eq`` below ``eq_from`` are not computed (zero placeholders).
    """
    lefts, rights = masks.left, masks.right
    assert lefts is not None
    assert rights is not None
    groups, count = masks.groups, masks.count
    field = lefts[0].field
    eq_rows = groups - eq_from
    rows = (groups if want_lt else 0) + eq_rows
    if not lefts[0].runtime.protocols.reduces_local_products:
        both = _leaves_generic(masks, digits, want_lt=want_lt, eq_from=eq_from)
    else:
        fused = _fused.available(field)

        def local(*shares: FieldArray) -> FieldArray:
            blocks = len(shares) // 2
            out = np.empty((rows, count), dtype=np.uint64)
            start = 0
            for a, b in zip(shares[:blocks], shares[blocks:], strict=True):
                stop = start + a.shape[2]
                block_digits = digits[:, start:stop]
                if fused:
                    out[:, start:stop] = _fused.leaves(a, b, block_digits, want_lt, eq_from)
                else:
                    out[:, start:stop] = leaves_numpy(
                        field, a, b, block_digits, want_lt=want_lt, eq_from=eq_from
                    )
                start = stop
            return out

        both = lefts[0]._bilinear((*lefts, *rights), local, (rows, count))
    lt = both[:groups] if want_lt else None
    eq = both[rows - eq_rows :]
    if eq_from:
        eq = concatenate([_constant(both, np.zeros((eq_from, count), dtype=np.int64)), eq])
    return lt, eq


def leaf_tables(
    field: Field, b: FieldArray, digits: npt.NDArray[np.intp], *, want_lt: bool, eq_from: int
) -> FieldArray:
    """Return ``(base, d_1, d_2, d_3)`` stacked, shape (4, rows, count): affine in ``b``.

    Each leaf is ``base + sum_u left[u] d_u`` (``u = 1, 2, 3``): for ``lt`` rows
    ``base = T_0``, ``d_u = T_u - T_0`` with ``T_u = sum_{w > d} right[u XOR w]``; for ``eq`` rows
    (groups ``eq_from`` and up) ``base = right[d]``, ``d_u = right[u XOR d] - right[d]``.
    """
    groups, count = b.shape[1], b.shape[2]
    full = _full_onehot(field, b)  # (4, groups, count)
    tables = []
    if want_lt:
        is_digit = [digits == k for k in range(3)]
        table = np.empty_like(full)
        for u in range(4):
            below = field.sub(np.ones((groups, count), dtype=np.uint64), full[u])
            pair = field.add(full[u ^ 2], full[u ^ 3])
            table[u] = np.where(
                is_digit[0],
                below,
                np.where(is_digit[1], pair, np.where(is_digit[2], full[u ^ 3], _U(0))),
            )
        tables.append(table)
    if eq_from < groups:
        xor_d = np.bitwise_xor(np.arange(4)[:, None, None], digits[None, eq_from:, :])
        tables.append(np.take_along_axis(full[:, eq_from:], xor_d, axis=0))
    table = np.concatenate(tables, axis=1)
    table[1:] = field.sub(table[1:], np.broadcast_to(table[0], table[1:].shape))
    return table


def leaf_factors(a: FieldArray, *, want_lt: bool, eq_from: int) -> FieldArray:
    """The left entries each leaf row multiplies, shape (3, rows, count) (a selection of ``a``)."""
    parts = ([a] if want_lt else []) + ([a[:, eq_from:]] if eq_from < a.shape[1] else [])
    return np.concatenate(parts, axis=1)


def leaves_numpy(
    field: Field,
    a: FieldArray,
    b: FieldArray,
    digits: npt.NDArray[np.intp],
    *,
    want_lt: bool,
    eq_from: int,
) -> FieldArray:
    """The numpy version of :func:`veil.mpc.protocols._fused.leaves` (any prime)."""
    table = leaf_tables(field, b, digits, want_lt=want_lt, eq_from=eq_from)
    factors = leaf_factors(a, want_lt=want_lt, eq_from=eq_from)
    acc: FieldArray = table[0]
    for u in range(3):
        acc = field.add(acc, _local.mul(field, factors[u], table[u + 1]))
    return acc


def _leaves_generic(
    masks: Masks, digits: npt.NDArray[np.intp], *, want_lt: bool, eq_from: int
) -> SecretArray:
    """The leaves with the suite's own products (``vecdot``): for suites that check products."""
    assert masks.left is not None
    assert masks.right is not None
    left, right = _joined(masks.left), _joined(masks.right)
    field = left.field
    groups, count = masks.groups, masks.count
    rows = (groups if want_lt else 0) + groups - eq_from
    tables = right._apply(
        lambda b: leaf_tables(field, b, digits, want_lt=want_lt, eq_from=eq_from),
        (right,),
        (4, rows, count),
        None,
    )
    factors = left._apply(
        lambda a: leaf_factors(a, want_lt=want_lt, eq_from=eq_from), (left,), (3, rows, count), None
    )
    return tables[0] + factors.vecdot(tables[1:], axis=0)


def _joined(blocks: list[SecretArray]) -> SecretArray:
    """One array from column blocks (a copy, unless there is one block)."""
    return blocks[0] if len(blocks) == 1 else concatenate(blocks, axis=-1)


def _less_than_tree(
    lt: SecretArray, eq: SecretArray, *, want_eq: bool
) -> tuple[SecretArray, SecretArray | None]:
    """Combine per-group ``(lt, eq)`` rows (row 0 least significant) into the whole number's.

    Fan-in four, two rounds per level. Row 0 of ``eq`` is used only when ``want_eq``.
    """
    while lt.shape[0] > 1:
        width, count = lt.shape
        pad = -width % 4
        if pad:
            lt = concatenate([lt, _constant(lt, np.zeros((pad, count), dtype=np.int64))])
            eq = concatenate([eq, _constant(eq, np.ones((pad, count), dtype=np.int64))])
        lt_d, lt_c, lt_b, lt_a = (lt[k::4] for k in range(4))
        eq_d, eq_c, eq_b, eq_a = (eq[k::4] for k in range(4))
        nodes = lt_a.shape[0]
        first = 0 if want_eq else 1  # node 0 of a level needs eq only for the final eq
        pair_ab = eq_a * eq_b
        carried = eq_c * lt_d
        pair_cd = eq_c[first:] * eq_d[first:] if nodes > first else None
        lt = lt_a + stack([eq_a, pair_ab]).vecdot(stack([lt_b, lt_c + carried]), axis=0)
        if pair_cd is None:
            eq = _constant(lt, np.zeros((nodes, count), dtype=np.int64))
        elif first:
            rest = pair_ab[first:] * pair_cd
            eq = concatenate([_constant(rest, np.zeros((1, count), dtype=np.int64)), rest])
        else:
            eq = pair_ab * pair_cd
    return lt[0], (eq[0] if want_eq else None)


def _product_tree(factors: SecretArray) -> SecretArray:
    """Return the product of the rows of ``factors`` (width, count): ``width - 1`` reductions."""
    while factors.shape[0] > 1:
        width, count = factors.shape
        if width % 2:
            factors = concatenate(
                [factors, _constant(factors, np.ones((1, count), dtype=np.int64))]
            )
        factors = factors[0::2] * factors[1::2]
    return factors[0]


async def split(
    a: SecretArray,
    bound_bits: int,
    low_bits: int,
    *,
    want_high: bool = True,
    want_low_zero: bool = False,
    exact: bool = True,
    masks: Masks | None = None,
) -> Split:
    """Split ``a`` (``0 <= a < 2**bound_bits``, raw SecretArray) at bit ``low_bits``.

    Returns ``floor(a / 2**m)`` (``high``) and ``[a mod 2**m == 0]`` (``low_zero``), as requested.
    With ``exact=False`` ``high`` is ``floor(a / 2**m) + [carry]`` where the carry bit is 1 with
    probability ``(a mod 2**m) / 2**m`` (stochastic rounding, as [CS10]'s probabilistic
    truncation), and no comparison tree runs.

    Raises
    ------
    ConfigError
        If ``bound_bits`` exceeds ``field.bits - 4`` or ``low_bits > bound_bits``.
    """
    field = a.field
    _check_bound(field, bound_bits, "splitting")
    if not 0 <= low_bits <= bound_bits:
        raise ConfigError(f"low_bits must be in [0, {bound_bits}], got {low_bits}")
    shape = a.shape
    flat = a.reshape(-1)
    grouped = exact or want_low_zero
    c, masks = await _open_masked(flat, bound_bits, low_bits, grouped=grouped, masks=masks)
    c_low = c & _U((1 << low_bits) - 1)
    c_high = field.array(c >> _U(low_bits))
    high: SecretArray | None = None
    low_zero: SecretArray | None = None
    if low_bits == 0:
        high = (-masks.high + c_high) if want_high else None
        low_zero = _constant(flat, np.ones(flat.shape, dtype=np.int64)) if want_low_zero else None
    elif grouped:
        digits = _digits(c_low, masks.groups)
        eq_from = 0 if want_low_zero or not want_high else 1
        lt_leaves, eq_leaves = _leaves(masks, digits, want_lt=want_high, eq_from=eq_from)
        if want_high:
            assert lt_leaves is not None
            lt, eq = _less_than_tree(lt_leaves, eq_leaves, want_eq=want_low_zero)
            high = -masks.high + c_high - lt
            low_zero = eq
        else:
            low_zero = _product_tree(eq_leaves)
    else:
        high = -masks.high + c_high
    return Split(
        None if high is None else high.reshape(shape),
        None if low_zero is None else low_zero.reshape(shape),
    )


async def prepare(rt: Runtime, comparisons: int, bits: int) -> Masks:
    """Make the masks of ``comparisons`` future comparisons of ``bits``-bit values ahead of time.

    Pass slices of them (``Masks.take``) to :func:`compare` or :func:`less_than_zero`: a
    computation that knows how many comparisons it will run (a tournament) makes all its masks in
    the rounds of its first step and saves two rounds per later step.
    """
    return await make_masks(rt, comparisons, bits)


async def less_than_zero(z: SecretArray, bits: int, *, masks: Masks | None = None) -> SecretArray:
    """Return ``[z < 0]`` (raw 0/1) for ``-2**(bits-1) <= z < 2**(bits-1)``.

    ``z + 2**(bits-1)`` is non-negative; its bit ``bits - 1`` is ``[z >= 0]``. ``masks``: masks
    from :func:`prepare` for ``bits - 1`` low bits, one per element of ``z`` (default: fresh).
    """
    offset = pow(2, bits - 1, z.field.p)
    parts = await split(z + offset, bits, bits - 1, masks=masks)
    assert parts.high is not None
    return 1 - parts.high


async def equal_zero(z: SecretArray, bits: int) -> SecretArray:
    """Return ``[z == 0]`` (raw 0/1) for ``-2**(bits-1) < z < 2**(bits-1)``.

    With ``a = z + 2**(bits-1)`` and all ``bits`` bits of the mask in groups, ``z == 0`` iff
    ``r_lo == (c_lo - 2**(bits-1)) mod 2**bits``: a product of group equalities.
    """
    field = z.field
    _check_bound(field, bits, "equality")
    shape = z.shape
    flat = z.reshape(-1)
    half = 1 << (bits - 1)
    c, masks = await _open_masked(flat + half, bits, bits)
    target = (c - _U(half)) & _U((1 << bits) - 1)
    _, eq_leaves = _leaves(masks, _digits(target, masks.groups), want_lt=False, eq_from=0)
    return _product_tree(eq_leaves).reshape(shape)


async def is_zero(z: SecretArray) -> SecretArray:
    """Return ``[z == 0]`` (raw 0/1) for any field elements ``z`` (hashes, differences mod p).

    All ``l`` bits of the mask are grouped; ``z == 0`` iff ``r == c`` as integers, positions with
    ``c == 0`` (where ``r`` could be ``0`` or ``p``) being retried.
    """
    field = z.field
    shape = z.shape
    flat = z.reshape(-1)
    c, masks = await _open_masked(flat, None, field.bits)
    _, eq_leaves = _leaves(masks, _digits(c, masks.groups), want_lt=False, eq_from=0)
    return _product_tree(eq_leaves).reshape(shape)


async def compare(
    a: SecretArray,
    b: SecretArray | FieldArray,
    op: str,
    bits: int,
    *,
    masks: Masks | None = None,
) -> SecretArray:
    """Return ``a op b`` (raw 0/1) for values of a ``bits``-bit signed type; ``op`` in < <= > >= == !=.

    ``masks`` (order comparisons only): prepared masks from ``prepare(rt, count, bits)``.
    """
    x = a._retyped(None)
    y = b._retyped(None) if isinstance(b, SecretArray) else b
    if op in ("<", ">="):
        result = await less_than_zero(x - y, bits + 1, masks=masks)
    elif op in (">", "<="):
        result = await less_than_zero(-(x - y), bits + 1, masks=masks)
    elif op in ("==", "!="):
        result = await equal_zero(x - y, bits + 1)
    else:
        raise ValueError(f"unknown comparison {op!r}")
    return 1 - result if op in (">=", "<=", "!=") else result
