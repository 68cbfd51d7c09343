"""Rabin–Ben-Or information checking (IC): values a dealer authenticates for a later recipient.

Three roles [RB89]: a dealer D, an intermediary INT who holds values and will later present them,
and a recipient R who must be able to tell INT's genuine values from substitutes. D gives INT each
value ``s`` with a tag ``y = b·s + c``, and gives R the key ``(b, c)``. R accepts a presented
``(s', y')`` iff ``y' = b·s' + c``. R's key is drawn before and independently of ``s``, so R learns
nothing about ``s`` (perfect privacy); INT sees ``y`` but not ``b``, so a substitute ``s' != s`` passes
with probability at most ``1/(p - 1)`` (unforgeability). One ``b`` serves a batch, with a fresh ``c``
per value (note active-security §2, "batching").

What plain IC lacks is *non-repudiation*: a dishonest D can hand R a key that rejects INT's genuine
tag. Two ways let INT learn beforehand whether R will accept:

- **LC** (one random linear combination per batch, [CDDHR99]-style): INT broadcasts a random ``e``
  with ``S = s_0 + sum_l e^l s_l`` and ``Y = y_0 + sum_l e^l y_l`` (``s_0`` a uniform blinding value);
  D audits ``(S, Y)``, R checks ``Y = b·S + C(e)``. A slot inconsistent between INT and R survives
  with probability at most ``L/p``. Disputes: R complains -> D publishes R's key (only R's key goes
  public); INT's tags fail against a published key -> INT complains -> D publishes INT's values.
  A corrupt R can therefore never make an honest INT's values public.
- **CC** (RB89's cut-and-choose, as the issue states it): D deals ``2k`` independent key pairs per
  value; INT picks ``k`` at random, R discloses them, INT verifies them against ``s`` and R later
  accepts if *at least one* unopened pair checks [ICP-Lean]. D fools an honest INT with probability
  at most ``1/C(2k, k)``; ``k = 22`` gives ``2^-40.9``. If R discloses pairs other than those dealt,
  D (who knows them) publishes R's key.

Everything is vectorized: arrays of values have shape ``(*B, L)`` for ``B`` independent IC instances
(e.g. one per ordered pair of parties) of ``L`` values each. These are pure functions; the rounds
(who sends what, broadcast) live in ``veil.mpc``.

References
----------
[RB89] T. Rabin, M. Ben-Or, "Verifiable secret sharing and multiparty protocols with honest
majority", STOC 1989.
[CDDHR99] R. Cramer, I. Damgård, S. Dziembowski, M. Hirt, T. Rabin, "Efficient multiparty
computations secure against an adaptive adversary", EUROCRYPT 1999.
[ICP-Lean] a public Lean 4 model of Rabin's information checking protocol (accept rule for CC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from veil.errors import SharingError
from veil.field import Csprng, Field, FieldArray
from veil.sharing._common import as_elements

__all__ = [
    "DEFAULT_CC_PAIRS_HALF",
    "CCHolding",
    "CCKeys",
    "Holding",
    "Key",
    "accept_cc",
    "check_against_key",
    "check_combination",
    "check_disclosed",
    "choose_opened",
    "combine",
    "combine_linear",
    "cut_and_choose_error_bits",
    "deal",
    "deal_cc",
    "dealer_audit",
    "dealer_check_disclosure",
    "disclose",
    "key_combination",
    "linear_key",
    "powers",
    "verify",
]

#: k of RB89's cut-and-choose: 2k pairs per value, INT opens k; 1/C(44, 22) is about 2^-40.9.
DEFAULT_CC_PAIRS_HALF = 22

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Key:
    """R's verification key for a batch: ``b`` (non-zero) and one ``c`` per value, plus the blinding slot.

    Attributes
    ----------
    b : FieldArray, shape ``B``
    c : FieldArray, shape ``(*B, L)``
    c_blind : FieldArray, shape ``B``
    """

    b: FieldArray
    c: FieldArray
    c_blind: FieldArray


@dataclass(frozen=True)
class Holding:
    """INT's authenticated values: ``tags = b·values + c`` under R's key, plus a blinding value.

    Attributes
    ----------
    values, tags : FieldArray, shape ``(*B, L)``
    blind, blind_tag : FieldArray, shape ``B``
        A uniform value hiding the others in the LC check, and its tag.
    """

    values: FieldArray
    tags: FieldArray
    blind: FieldArray
    blind_tag: FieldArray


def _mul_bcast(field: Field, b: FieldArray, x: FieldArray) -> FieldArray:
    """Multiply ``x`` of shape ``(*B, L)`` by ``b`` of shape ``B`` along the last axis."""
    return field.mul(x, b[..., np.newaxis])


def deal(field: Field, values: object, rng: Csprng | None = None) -> tuple[Holding, Key]:
    """Authenticate a batch of values (dealer D): INT gets the holding, R the key [RB89].

    Parameters
    ----------
    values : array_like of int, shape ``(*B, L)``
        Field elements; each leading index is an independent IC instance with its own ``b``.
    rng : Csprng, optional
        Source of the key and blinding (default: the OS-keyed process generator).

    Returns
    -------
    (Holding, Key)
        For INT and for R. The key is drawn independently of ``values``.
    """
    v = as_elements(field, values, "values")
    if v.ndim == 0:
        raise SharingError("values must have at least one axis (the batch of L values)")
    batch = v.shape[:-1]
    b = field.random_nonzero(batch, rng)  # one b per (D, INT, R, batch), uniform in F \ {0}
    c = field.random(v.shape, rng)
    c_blind = field.random(batch, rng)
    blind = field.random(batch, rng)
    key = Key(b=b, c=c, c_blind=c_blind)
    holding = Holding(
        values=v,
        tags=field.add(_mul_bcast(field, b, v), c),  # y_l = b·s_l + c_l
        blind=blind,
        blind_tag=field.add(field.mul(b, blind), c_blind),
    )
    return holding, key


def verify(field: Field, key: Key, values: FieldArray, tags: FieldArray) -> BoolArray:
    """Return R's verdict per presented value: ``tags == b·values + c`` (shape ``(*B, L)``)."""
    return np.asarray(field.add(_mul_bcast(field, key.b, values), key.c) == tags)


def combine_linear(
    field: Field, weights: FieldArray, values: FieldArray, tags: FieldArray
) -> tuple[FieldArray, FieldArray]:
    """Combine authenticated values of one dealer with public weights (INT's side).

    Tags are linear: ``(sum_l w_l s_l, sum_l w_l y_l)`` verifies under :func:`linear_key`, so linear
    combinations of one dealer's values can be opened. Shapes: ``weights`` ``(L,)`` or ``(*B, L)``,
    ``values`` and ``tags`` ``(*B, L)``; results ``(*B, 1)``, ready for :func:`verify`.
    """
    return (
        field.sum(field.mul(values, weights), axis=-1)[..., np.newaxis],
        field.sum(field.mul(tags, weights), axis=-1)[..., np.newaxis],
    )


def linear_key(field: Field, key: Key, weights: FieldArray) -> Key:
    """Return R's key for the combination with ``weights`` (same ``b``, ``c = sum_l w_l c_l``)."""
    c = field.sum(field.mul(key.c, weights), axis=-1)[..., np.newaxis]
    return Key(b=key.b, c=c, c_blind=key.c_blind)


# ----- LC: one random combination per batch ------------------------------------------------------


def powers(field: Field, e: FieldArray, length: int) -> FieldArray:
    """Return ``e^1, ..., e^length`` along a new last axis, shape ``(*e.shape, length)`` (doubling)."""
    e = np.asarray(e, dtype=np.uint64)
    out = np.empty((*e.shape, length), dtype=np.uint64)
    if length == 0:
        return out
    out[..., 0] = e
    filled = 1
    while filled < length:
        step = min(filled, length - filled)
        out[..., filled : filled + step] = field.mul(out[..., :step], out[..., filled - 1 : filled])
        filled += step
    return out


def combine(field: Field, holding: Holding, e: FieldArray) -> tuple[FieldArray, FieldArray]:
    """Return INT's broadcast ``(S, Y)`` for the challenge ``e`` (shape ``B``), LC step 1.

    ``S = s_0 + sum_l e^l s_l`` and ``Y = y_0 + sum_l e^l y_l``: the uniform blinding ``s_0`` makes
    ``S`` uniform, so the broadcast reveals nothing about the values.
    """
    weights = powers(field, e, holding.values.shape[-1])
    s, y = combine_linear(field, weights, holding.values, holding.tags)
    return field.add(s[..., 0], holding.blind), field.add(y[..., 0], holding.blind_tag)


def key_combination(field: Field, key: Key, e: FieldArray) -> FieldArray:
    """Return R's ``C(e) = c_0 + sum_l e^l c_l`` (shape ``B``)."""
    return field.add(
        linear_key(field, key, powers(field, e, key.c.shape[-1])).c[..., 0], key.c_blind
    )


def check_combination(
    field: Field, key: Key, e: FieldArray, s: FieldArray, y: FieldArray
) -> BoolArray:
    """Return R's LC verdict per instance: ``Y == b·S + C(e)`` (LC step 3; False means R complains)."""
    return np.asarray(field.add(field.mul(key.b, s), key_combination(field, key, e)) == y)


def dealer_audit(
    field: Field, holding: Holding, e: FieldArray, s: FieldArray, y: FieldArray
) -> BoolArray:
    """Return D's verdict on INT's broadcast: True where ``(S, Y)`` is the right combination (LC step 2).

    D recomputes the combination from what it gave INT; where it differs (INT lied), D publishes
    INT's values and tags (a value dispute).
    """
    expected_s, expected_y = combine(field, holding, e)
    return np.asarray((expected_s == s) & (expected_y == y))


def check_against_key(field: Field, key: Key, holding: Holding) -> BoolArray:
    """Return INT's check of its tags against a key D published after R complained (LC step 4).

    Shape ``B``: True where every tag and the blinding tag verify; where False, INT complains and
    D must publish INT's values (D cheated: it gave INT and R inconsistent data).
    """
    per_value = verify(field, key, holding.values, holding.tags)
    blind_ok = field.add(field.mul(key.b, holding.blind), key.c_blind) == holding.blind_tag
    return np.asarray(np.all(per_value, axis=-1) & blind_ok)


# ----- CC: RB89's cut-and-choose ----------------------------------------------------------------


@dataclass(frozen=True)
class CCKeys:
    """R's ``2k`` key pairs per value, shapes ``(*B, L, 2k)``."""

    b: FieldArray
    c: FieldArray


@dataclass(frozen=True)
class CCHolding:
    """INT's values ``(*B, L)`` and their ``2k`` tags ``(*B, L, 2k)``, ``tags[..., m] = b_m·s + c_m``."""

    values: FieldArray
    tags: FieldArray


def cut_and_choose_error_bits(k: int) -> float:
    """Return ``log2 C(2k, k)``: D fools an honest INT with probability ``1 / C(2k, k)``."""
    return math.log2(math.comb(2 * k, k))


def deal_cc(
    field: Field, values: object, *, k: int = DEFAULT_CC_PAIRS_HALF, rng: Csprng | None = None
) -> tuple[CCHolding, CCKeys]:
    """Authenticate values with ``2k`` independent key pairs each (dealer D, CC step 1) [RB89].

    Returns INT's holding (values and ``2k`` tags per value) and R's keys.
    """
    if k < 1:
        raise SharingError(f"k must be at least 1, got {k}", field="k")
    v = as_elements(field, values, "values")
    shape = (*v.shape, 2 * k)
    b = field.random_nonzero(shape, rng)
    c = field.random(shape, rng)
    tags = field.add(field.mul(b, v[..., np.newaxis]), c)
    return CCHolding(values=v, tags=tags), CCKeys(b=b, c=c)


def choose_opened(shape: tuple[int, ...], k: int, rng: Csprng | None = None) -> BoolArray:
    """Return INT's random choice of ``k`` of ``2k`` pairs to open, a mask of shape ``(*shape, 2k)`` (CC step 1).

    Every ``k``-subset is equally likely (a uniform random permutation per value from the CSPRNG).
    """
    count = int(np.prod(shape, dtype=np.int64)) * 2 * k
    source = rng if rng is not None else Csprng()
    order = np.argsort(source.uint64(count).reshape(*shape, 2 * k), axis=-1)
    mask = np.zeros((*shape, 2 * k), dtype=bool)
    np.put_along_axis(mask, order[..., :k], True, axis=-1)
    return mask


def _opened(x: FieldArray, opened: BoolArray) -> FieldArray:
    k = opened.shape[-1] // 2
    return x[opened].reshape(*opened.shape[:-1], k)


def disclose(keys: CCKeys, opened: BoolArray) -> tuple[FieldArray, FieldArray]:
    """Return the pairs an honest R discloses, ``(b, c)`` at the opened positions, shapes ``(*B, L, k)`` (CC step 2)."""
    return _opened(keys.b, opened), _opened(keys.c, opened)


def dealer_check_disclosure(
    keys: CCKeys, opened: BoolArray, b_open: FieldArray, c_open: FieldArray
) -> BoolArray:
    """Return D's check that R disclosed the pairs it was dealt, per value (CC step 2).

    False names R as having lied about its key; D then publishes R's whole key for that value.
    """
    b_dealt, c_dealt = disclose(keys, opened)
    return np.asarray(np.all((b_dealt == b_open) & (c_dealt == c_open), axis=-1))


def check_disclosed(
    field: Field, holding: CCHolding, opened: BoolArray, b_open: FieldArray, c_open: FieldArray
) -> BoolArray:
    """Return INT's check of the disclosed pairs against its value and tags, per value (CC step 3).

    True: every opened pair satisfies ``y_m = b_m·s + c_m``, so R will accept the genuine value
    except with probability ``1/C(2k, k)``. False: INT complains (and D must publish ``(s, y)``, or
    R's key if R lied, see :func:`dealer_check_disclosure`).
    """
    tags = _opened(holding.tags, opened)
    expected = field.add(field.mul(b_open, holding.values[..., np.newaxis]), c_open)
    return np.asarray(np.all(expected == tags, axis=-1))


def accept_cc(
    field: Field, keys: CCKeys, opened: BoolArray, values: FieldArray, tags: FieldArray
) -> BoolArray:
    """Return R's verdict on a presented value and its ``2k`` tags: some unopened pair checks (CC step 4).

    Opened pairs are public after step 2 and never count [ICP-Lean]. Shape ``(*B, L)``.
    """
    checks = field.add(field.mul(keys.b, values[..., np.newaxis]), keys.c) == tags
    return np.asarray(np.any(checks & ~opened, axis=-1))
