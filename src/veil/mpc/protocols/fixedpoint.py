"""Fixed-point arithmetic: truncation, division by public values, reciprocal and square root.

Truncation
----------
A product of two fixed-point values carries ``2 f`` fractional bits; :func:`truncate` divides by
``2**f`` with :func:`~veil.mpc.protocols.compare.split` on ``v + 2**(K-2)`` (non-negative), which is
exact thanks to the full-field mask: ``rounding="nearest"`` adds ``2**(f-1)`` first (error at most
half a unit in the last place, ``2**-(f+1)``), ``"floor"`` rounds toward minus infinity, and
``"stochastic"`` skips the comparison tree and rounds up with probability equal to the discarded
fraction (the behaviour of [CS10]'s probabilistic truncation, unbiased, error below one unit).

Division by a public value
--------------------------
``x / d`` multiplies by ``M = round(2**S / d)`` and truncates by ``S``. A single product would need
``i + f + S`` bits, too many for 61-bit fields at full precision, so ``M`` is split in two limbs whose
products are combined with two truncations (the low one first): error below ``0.8`` units in the
last place. ``x // d`` for integers corrects such an estimate (off by less than
one) with one comparison of the remainder, so it is exact.

Reciprocal and square root (Newton iterations after normalisation, [CS10])
---------------------------------------------------------------------------
For ``x > 0`` the position of its leading bit is found with comparisons against every power of two
(one comparison depth), giving a public-free scale ``2**e`` that brings ``x`` into ``[1/2, 1)``
(``[1/4, 1)`` with an even exponent for the square root). From a linear first guess, Newton's
iterations converge quadratically: ``y <- y (2 - x y)`` for ``1/x`` and ``y <- y (3 - x y**2) / 2`` for
``1/sqrt(x)``, with ``sqrt(x) = x / sqrt(x)``.

[CS10] O. Catrina, A. Saxena, "Secure computation with fixed-point numbers", FC 2010.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.mpc.array import SecretArray, concatenate
from veil.mpc.protocols.compare import max_bound_bits, split
from veil.mpc.types import FixedType, IntType

__all__ = ["divide_public", "floordiv_public", "reciprocal", "sqrt", "truncate"]

#: Rounding modes of :func:`truncate`.
ROUNDINGS = ("nearest", "floor", "stochastic")


async def truncate(
    v: SecretArray, bits: int, bound_bits: int, *, rounding: str = "nearest"
) -> SecretArray:
    """Return ``v / 2**bits`` rounded to an integer, for raw ``v`` with ``|v| < 2**(bound_bits - 2)``.

    Parameters
    ----------
    v : SecretArray
        Raw signed integers (dtype ignored).
    bits : int
        Bits to drop, ``0 <= bits <= bound_bits - 2``.
    bound_bits : int
        ``K``: ``|v| < 2**(K - 2)``; at most ``field.bits - 4``.
    rounding : {"nearest", "floor", "stochastic"}

    Returns
    -------
    SecretArray
        Raw integers of ``v``'s shape.
    """
    if rounding not in ROUNDINGS:
        raise ConfigError(
            f"rounding must be one of {ROUNDINGS}, got {rounding!r}", field="rounding"
        )
    if bits == 0:
        return v._retyped(None)
    if not 0 < bits <= bound_bits - 2:
        raise ConfigError(f"cannot drop {bits} bits of a {bound_bits}-bit bound")
    field = v.field
    offset = 1 << (bound_bits - 2)
    shifted = v._retyped(None) + offset
    if rounding == "nearest":
        shifted = shifted + (1 << (bits - 1))
    parts = await split(shifted, bound_bits, bits, exact=rounding != "stochastic")
    assert parts.high is not None
    return parts.high - pow(2, bound_bits - 2 - bits, field.p)


def _limbs(value: float, precision: int, low_bits: int) -> tuple[int, int]:
    """Return ``(high, low)`` with ``round(value * 2**precision) = high * 2**low_bits + low``."""
    scaled = round(value * 2.0**precision)
    sign = -1 if scaled < 0 else 1
    magnitude = abs(int(scaled))
    return sign * (magnitude >> low_bits), sign * (magnitude & ((1 << low_bits) - 1))


async def _times_public_real(
    v: SecretArray, factors: npt.NDArray[np.float64], value_bits: int, result_bits: int
) -> SecretArray:
    """Return ``round(v * factors)`` (raw) for ``|v| < 2**value_bits``, ``|result| < 2**result_bits``.

    ``M = round(factors * 2**S)`` with ``S = value_bits + 1`` is split as ``high * 2**h + low``;
    ``v * low`` is truncated by ``h`` bits, added to ``v * high``, and the sum truncated by the
    remaining ``S - h`` bits. Error at most ``1/4 + 1/2 + 2**-(S-h+1)`` below one.
    """
    field = v.field
    budget = max_bound_bits(field)
    precision = value_bits + 1  # |v| * 2**-(precision+1) <= 1/4
    low_bits = (precision + 1) // 2
    high_bits = precision - low_bits
    flat = np.asarray(factors, dtype=np.float64)
    pairs = [_limbs(float(f), precision, low_bits) for f in flat.reshape(-1)]
    high = np.array([h for h, _ in pairs], dtype=object).reshape(flat.shape)
    low = np.array([lo for _, lo in pairs], dtype=object).reshape(flat.shape)
    # |v * high| <= |result| * 2**high_bits (+ |v|), |v * low| < 2**(value_bits + low_bits)
    bound_high = max(result_bits, value_bits - low_bits) + high_bits + 4
    bound_low = value_bits + low_bits + 2
    if max(bound_high, bound_low) > budget:
        raise ConfigError(
            f"dividing {value_bits}-bit values needs {max(bound_high, bound_low)}-bit products, "
            f"more than the {budget} bits {field!r} allows",
            hint="use a fixed-point type with fewer integer or fractional bits",
        )
    raw = v._retyped(None)
    low_part = await truncate(raw * field.array(low), low_bits, bound_low)
    return await truncate(raw * field.array(high) + low_part, high_bits, bound_high)


def check_real_divisor(divisor: object) -> npt.NDArray[np.float64]:
    """Return the divisor as floats, or raise :class:`ConfigError` naming a zero or non-finite one."""
    d = np.asarray(divisor, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(d.reshape(-1)) | (d.reshape(-1) == 0))
    if bad.size:
        position = int(bad[0])
        raise ConfigError(
            f"divisor at flat position {position} is {d.reshape(-1)[position]!r}: dividing needs "
            "finite non-zero values",
            field="divisor",
            position=position,
        )
    return d


def check_int_divisor(divisor: object) -> npt.NDArray[np.int64]:
    """Return the divisor as int64, or raise :class:`ConfigError` unless all are positive integers."""
    d = np.asarray(divisor)
    if d.dtype == object:
        d = np.asarray(d.tolist())
    if d.dtype.kind not in "iu" or np.any(d <= 0) or np.any(d >= 1 << 40):
        raise ConfigError(
            f"the divisor of // must be a positive integer below 2**40, got {divisor!r}",
            field="divisor",
            hint="divide fixed-point values with / instead",
        )
    return d.astype(np.int64)


async def divide_public(x: SecretArray, divisor: object) -> SecretArray:
    """Return ``x / divisor`` for a fixed-point ``x`` and public non-zero reals (broadcasting).

    Error below 0.8 units in the last place (``0.8 * 2**-frac_bits``). The result must lie in the
    type's range.
    """
    dtype = x.dtype
    assert isinstance(dtype, FixedType)
    d = check_real_divisor(divisor)
    shape = np.broadcast_shapes(x.shape, d.shape)
    factors = np.broadcast_to(1.0 / d, shape)
    bits = dtype.signed_bits - 1
    result = await _times_public_real(_broadcast_to(x, shape), factors, bits, bits)
    return result._retyped(dtype)


async def floordiv_public(x: SecretArray, divisor: object) -> SecretArray:
    """Return ``x // divisor`` (floor division, like Python) for ``SecInt`` values, exactly.

    An estimate ``q0`` from the two-limb product with ``1/d`` is off by less than one; the sign of
    the remainder ``x - q0 d`` corrects it (one comparison). Powers of two are a plain truncation.
    """
    dtype = x.dtype
    assert isinstance(dtype, IntType)
    d = check_int_divisor(divisor)
    shape = np.broadcast_shapes(x.shape, d.shape)
    xb = _broadcast_to(x, shape)
    flat_d = np.broadcast_to(d, shape)
    bits = dtype.bits
    if d.size == 1 and int(d) & (int(d) - 1) == 0:
        shift = int(d).bit_length() - 1
        return (await truncate(xb, shift, bits + 2, rounding="floor"))._retyped(dtype)
    estimate = await _times_public_real(xb, 1.0 / flat_d.astype(np.float64), bits, bits)
    estimate = await _floor_estimate(xb._retyped(None), estimate, np.asarray(flat_d))
    return estimate._retyped(dtype)


async def _floor_estimate(x: SecretArray, q0: SecretArray, d: npt.NDArray[np.int64]) -> SecretArray:
    """Correct an estimate with ``|q0 - x/d| < 1``: ``floor(x/d) = q0 - [x - q0 d < 0]``."""
    from veil.mpc.protocols.compare import less_than_zero

    d_field = x.field.array(d.astype(object))
    remainder = x - q0 * d_field  # in (-d, d)
    width = int(np.max(d)).bit_length() + 2
    return q0 - await less_than_zero(remainder, width)


def _broadcast_to(x: SecretArray, shape: tuple[int, ...]) -> SecretArray:
    if x.shape == tuple(shape):
        return x
    return x._apply(lambda a: np.ascontiguousarray(np.broadcast_to(a, shape)), (x,), tuple(shape))


#: Linear first guesses (minimax relative error): 1/w on [1/2, 1) and 1/sqrt(w) on [1/4, 1).
_RECIPROCAL_GUESS = (2.9142, 2.0, 0.0858)
_INVERSE_SQRT_GUESS = (2.134, 1.22, 0.0864)


def _iterations(error: float, target_bits: int, quadratic: float) -> int:
    """Newton steps until the relative error ``error`` (squared, times ``quadratic``) is tiny."""
    steps = 0
    while error > 2.0 ** -(target_bits + 2):
        error = quadratic * error * error
        steps += 1
    return steps


async def _normalize(
    v: SecretArray, bits: int, *, even: bool
) -> tuple[SecretArray, npt.NDArray[np.intp], SecretArray]:
    """Return ``(onehot, scales, u)``: the leading bit of ``0 <= v < 2**bits`` and ``u = v * 2**scale``.

    ``onehot[j] = [2**j <= v < 2**(j + 1)]`` (rows ``j < bits``, all zero when ``v = 0``),
    ``scales[j]`` the left shift that brings such a value into ``[2**(bits-1), 2**bits)`` (even shifts
    into ``[2**(bits-2), 2**bits)`` with ``even=True``). One comparison depth: ``v >= 2**j`` for every
    ``j`` at once.
    """
    from veil.mpc.protocols.compare import less_than_zero

    field = v.field
    count = v.shape[0]
    powers = np.array([pow(2, j, field.p) for j in range(bits)], dtype=np.uint64)
    stacked = v._apply(
        lambda a: field.sub(np.broadcast_to(a, (bits, count)).copy(), powers[:, None]),
        (v,),
        (bits, count),
        None,
    )
    below = await less_than_zero(stacked, bits + 2)  # [v < 2**j]
    at_least = 1 - below  # rows j: [v >= 2**j]
    above = concatenate([at_least[1:], v.runtime.constant(np.zeros((1, count), np.uint64))])
    onehot = at_least - above
    scales = np.array([bits - 1 - j for j in range(bits)], dtype=np.intp)
    if even:
        scales = scales - scales % 2
    factors = field.array(np.array([1 << int(k) for k in scales], dtype=object))[:, None]
    scale = (onehot * factors).sum(axis=0)
    return onehot, scales, v * scale


def _working_type(field_bits: int, frac_bits: int) -> FixedType:
    """A type for Newton iterates in [0, 4): as many fractional bits as products allow (<= f + 8)."""
    from veil.mpc.types import SecFxp

    budget = field_bits - 4 - 3 - 2  # int_bits = 3, two more for the product bound
    return SecFxp(min(frac_bits + 8, budget // 2), 3)


def _as_fraction(u: SecretArray, bits: int, target: FixedType) -> SecretArray:
    """Reinterpret ``u / 2**bits`` (``0 <= u < 2**bits``) in the fixed-point type ``target``."""
    shift = target.fractional - bits
    if shift >= 0:
        return (u * (1 << shift))._retyped(target)
    return u  # truncated by the caller


async def reciprocal_value(x: SecretArray) -> SecretArray:
    """Return ``1 / x`` for fixed-point ``x != 0`` (see the module docstring); relative error ~``2**-f``."""
    from veil.mpc.functions import where

    dtype = x.dtype
    if not isinstance(dtype, FixedType):
        raise TypeError(f"reciprocal needs a fixed-point SecretArray, got {dtype}")
    shape = x.shape
    flat = x.reshape(-1)
    negative = flat < 0
    magnitude = where(negative, -flat, flat)._retyped(None)
    bits = dtype.int_bits + dtype.fractional
    onehot, scales, u = await _normalize(magnitude, bits, even=False)
    work = _working_type(x.field.bits, dtype.fractional)
    w = await _fraction(u, bits, work)
    a, b, error = _RECIPROCAL_GUESS
    y = a - b * w
    for _ in range(_iterations(error, work.fractional, 1.0)):
        y = y * (2 - w * y)
    # 1/x = (1/w) * 2**scale * 2**(f - bits): combine the secret power of two, then shift back.
    field = x.field
    top = int(np.max(scales))
    factors = field.array(np.array([1 << int(k) for k in scales], dtype=object))[:, None]
    power = (onehot * factors).sum(axis=0)  # 2**scale, at most 2**top
    kept = min(work.fractional, max_bound_bits(field) - top - 4)  # y < 2, times 2**top must fit
    iterate = y._retyped(None)
    if kept < work.fractional:
        iterate = await truncate(iterate, work.fractional - kept, work.fractional + 3)
    raw = iterate * power  # (1/w) * 2**scale with `kept` fractional bits
    drop = kept + bits - 2 * dtype.fractional  # 1/x = y 2**scale 2**(2f - bits) in units 2**-f
    value = await _shift(raw, drop, kept + top + 2)
    result = where(negative, -(value._retyped(dtype)), value._retyped(dtype))
    return result.reshape(shape)


async def sqrt_value(x: SecretArray) -> SecretArray:
    """Return the square root of fixed-point ``x >= 0``; relative error ~``2**-f``."""
    dtype = x.dtype
    if not isinstance(dtype, FixedType):
        raise TypeError(f"sqrt needs a fixed-point SecretArray, got {dtype}")
    shape = x.shape
    flat = x.reshape(-1)._retyped(None)
    # an even number of bits above the binary point keeps the square root's exponent integral
    bits = dtype.fractional + dtype.int_bits + (dtype.int_bits % 2) + (dtype.fractional % 2)
    onehot, scales, u = await _normalize(flat, bits, even=True)
    work = _working_type(x.field.bits, dtype.fractional)
    w = await _fraction(u, bits, work)  # in [1/4, 1)
    a, b, error = _INVERSE_SQRT_GUESS
    y = a - b * w
    for _ in range(_iterations(error, work.fractional, 1.5)):
        y = y * (3 - w * (y * y)) * 0.5
    root = w * y  # sqrt(w)
    # sqrt(x) = sqrt(w) * 2**((bits - f - scale) / 2): scale is even, bits - f too.
    field = x.field
    exponents = (bits - dtype.fractional - scales) // 2
    low = int(np.min(exponents))
    factors = field.array(np.array([1 << int(e - low) for e in exponents], dtype=object))[:, None]
    power = (onehot * factors).sum(axis=0)
    raw = root._retyped(None) * power
    drop = work.fractional - dtype.fractional - low
    value = await _shift(raw, drop, work.fractional + int(np.max(exponents)) - low + 4)
    return value._retyped(dtype).reshape(shape)


async def _fraction(u: SecretArray, bits: int, work: FixedType) -> SecretArray:
    """``u / 2**bits`` in the working type (a truncation when ``bits`` exceeds its fraction)."""
    shift = work.fractional - bits
    if shift >= 0:
        return (u * (1 << shift))._retyped(work)
    return (await truncate(u, -shift, bits + 2))._retyped(work)


async def _shift(raw: SecretArray, drop: int, value_bits: int) -> SecretArray:
    """Multiply by ``2**-drop`` (a truncation) or ``2**(-drop)`` (a product) for ``|raw| < 2**value_bits``."""
    if drop > 0:
        return await truncate(raw, drop, value_bits + 2)
    return raw * (1 << -drop)


def reciprocal(x: SecretArray) -> SecretArray:
    """Return ``1 / x`` elementwise for a fixed-point SecretArray with no zero element.

    Newton's iteration ``y <- y (2 - w y)`` after normalising ``|x|`` to ``w`` in ``[1/2, 1)``
    ([CS10]); the relative error is about ``2**-frac_bits``. Results beyond the type's range (``|x|``
    below ``2**-int_bits``) overflow and are reported when opened. Cost: ``int_bits + frac_bits``
    comparisons per element (one depth), then about ten truncated products in sequence.
    """
    if not isinstance(x.dtype, FixedType):
        raise TypeError(f"reciprocal needs a fixed-point SecretArray, got {x.dtype}")
    return x._pending(reciprocal_value(x), x.shape, x.dtype)


def sqrt(x: SecretArray) -> SecretArray:
    """Return the square root elementwise of a non-negative fixed-point SecretArray.

    Newton's iteration for ``1/sqrt(w)`` (``y <- y (3 - w y**2) / 2``) after normalising ``x`` to ``w``
    in ``[1/4, 1)`` with an even shift, then ``sqrt(w) = w / sqrt(w)``. Relative error about
    ``2**-frac_bits``; ``sqrt(0) = 0``. Negative inputs give meaningless results.
    """
    if not isinstance(x.dtype, FixedType):
        raise TypeError(f"sqrt needs a fixed-point SecretArray, got {x.dtype}")
    return x._pending(sqrt_value(x), x.shape, x.dtype)
