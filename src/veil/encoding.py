"""Signed integers and fixed-point reals as elements of GF(p), with range checks that never wrap.

Signed integers of ``bits`` bits, ``-2**(bits-1) <= v < 2**(bits-1)``, map to ``v mod p``; decoding
takes the centred representative. Any ``bits <= field.bits - 1`` (60 for the default
``p = 2**61 - 1``) is unambiguous, since the range then covers fewer than ``p`` values.

A fixed-point real ``x`` with ``frac_bits`` fractional and ``int_bits`` integer bits is the signed
integer ``round(x * 2**frac_bits)`` of ``int_bits + frac_bits + 1`` bits (one sign bit), so that
``-2**int_bits <= x < 2**int_bits`` and the rounding error is at most ``2**-(frac_bits + 1)``.

Every value outside its range raises :class:`~veil.errors.EncodingError` naming the parameter, the
flat position and the value: a value is never reduced modulo p behind the caller's back. The same
check runs on decoding, so an overflow inside a computation (a sum that left its range) is reported
rather than returned as a wrong number.

Headroom is the caller's job: a sum of ``m`` values of ``b`` bits needs ``b + ceil(log2 m)`` bits, a
product of two needs ``2b`` bits (and a fixed-point product ``2 frac_bits`` fractional bits until it is
truncated). Choose ``bits`` for the result, not for the inputs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veil.errors import EncodingError
from veil.field import Field, FieldArray

__all__ = ["decode_fixed", "decode_signed", "encode_fixed", "encode_signed", "signed_range"]


def _check_bits(field: Field, bits: int, name: str) -> None:
    if not isinstance(bits, int) or not 1 <= bits <= field.bits - 1:
        raise EncodingError(
            f"{name} must be an integer in [1, {field.bits - 1}] for {field!r}, got {bits!r}",
            hint="a signed range of 2**bits values must be smaller than p; use a larger prime "
            "for wider values",
            field=name,
        )


def signed_range(bits: int) -> tuple[int, int]:
    """Return the inclusive range ``(-2**(bits-1), 2**(bits-1) - 1)`` of ``bits``-bit signed integers."""
    half = 1 << (bits - 1)
    return -half, half - 1


def _out_of_range(
    what: str, position: int, value: object, low: int, high: int, hint: str
) -> EncodingError:
    return EncodingError(
        f"{what} at flat position {position} is {value}, outside the encodable range "
        f"[{low}, {high}]",
        hint=hint,
        position=position,
        value=str(value),
    )


def encode_signed(field: Field, values: object, *, bits: int) -> FieldArray:
    """Encode signed integers as field elements, refusing any value outside ``bits`` bits.

    Parameters
    ----------
    field : Field
        The target field; requires ``1 <= bits <= field.bits - 1``.
    values : array_like of int, any shape
        Python ints (any size) or an integer numpy array.
    bits : int
        Width of the signed range: ``-2**(bits-1) <= v <= 2**(bits-1) - 1``.

    Returns
    -------
    FieldArray, same shape
        ``v mod p`` for each value.

    Raises
    ------
    EncodingError
        If ``bits`` is out of range, a value is not an integer, or a value is outside the range
        (the message names the first such flat position and its value).
    """
    _check_bits(field, bits, "bits")
    low, high = signed_range(bits)
    arr = np.asarray(values)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint64)
    hint = f"widen bits (at most {field.bits - 1}) or scale the data down"
    if arr.dtype == np.uint64:
        too_big = np.flatnonzero(arr.reshape(-1) > np.uint64(high))
        if too_big.size:
            position = int(too_big[0])
            raise _out_of_range("value", position, int(arr.reshape(-1)[position]), low, high, hint)
        wide = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        wide = arr.astype(np.int64)
    elif arr.dtype.kind == "O":
        flat = arr.reshape(-1).tolist()
        for position, value in enumerate(flat):
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise EncodingError(
                    f"value at flat position {position} is {value!r} (a {type(value).__name__}), "
                    "not an integer",
                    hint="encode reals with encode_fixed",
                    position=position,
                )
            if not low <= int(value) <= high:
                raise _out_of_range("value", position, int(value), low, high, hint)
        wide = np.array([int(v) for v in flat], dtype=np.int64).reshape(arr.shape)
    else:
        raise EncodingError(
            f"values must be integers, got dtype {arr.dtype}",
            hint="encode reals with encode_fixed",
            field="values",
        )
    bad = np.flatnonzero((wide < low) | (wide > high))
    if bad.size:
        position = int(bad[0])
        raise _out_of_range("value", position, int(wide.reshape(-1)[position]), low, high, hint)
    return np.where(wide < 0, wide + np.int64(field.p), wide).astype(np.uint64)


def decode_signed(field: Field, elements: FieldArray, *, bits: int) -> npt.NDArray[np.int64]:
    """Decode field elements to signed integers, refusing any that lie outside ``bits`` bits.

    Parameters
    ----------
    elements : FieldArray, any shape
        Canonical field elements, e.g. an opened result.
    bits : int
        The signed width the result is known to fit.

    Returns
    -------
    ndarray of int64, same shape

    Raises
    ------
    EncodingError
        If an element's centred value lies outside ``[-2**(bits-1), 2**(bits-1) - 1]``: the
        computation overflowed its range (or the shares were wrong).
    """
    _check_bits(field, bits, "bits")
    field.check(np.asarray(elements), "elements")
    signed = field.to_signed(np.asarray(elements, dtype=np.uint64))
    low, high = signed_range(bits)
    bad = np.flatnonzero((signed.reshape(-1) < low) | (signed.reshape(-1) > high))
    if bad.size:
        position = int(bad[0])
        raise _out_of_range(
            "decoded value",
            position,
            int(signed.reshape(-1)[position]),
            low,
            high,
            "the computation left its range: encode with more bits, or check for wrong shares",
        )
    return signed


def encode_fixed(field: Field, x: object, *, frac_bits: int, int_bits: int) -> FieldArray:
    """Encode reals as fixed-point field elements ``round(x * 2**frac_bits)``.

    Parameters
    ----------
    x : array_like of float, any shape
        Finite reals with ``-2**int_bits <= x < 2**int_bits``.
    frac_bits, int_bits : int
        Fractional and integer bits, ``frac_bits >= 0``, ``int_bits >= 0``, and
        ``int_bits + frac_bits + 1 <= field.bits - 1`` (one sign bit).

    Returns
    -------
    FieldArray, same shape

    Raises
    ------
    EncodingError
        If the bit widths do not fit the field, or a value is not finite or out of range (named by
        flat position and value).

    Notes
    -----
    Rounding is to nearest, ties to even; the error is at most ``2**-(frac_bits + 1)``. Reals carry
    53 significant bits (float64), so widths beyond that only add zeros.
    """
    _check_fixed(field, frac_bits, int_bits)
    arr = np.asarray(x, dtype=np.float64)
    flat = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat))
    low, high = -float(2**int_bits), float(2**int_bits)
    hint = f"widen int_bits (int_bits + frac_bits + 1 <= {field.bits - 1}) or scale the data down"
    if bad.size:
        position = int(bad[0])
        raise EncodingError(
            f"x at flat position {position} is {float(flat[position])!r}, not a finite real",
            hint="drop or impute missing values before encoding",
            position=position,
            value=str(flat[position]),
        )
    scaled = np.rint(np.ldexp(flat, frac_bits))
    limit = float(2 ** (int_bits + frac_bits))
    bad = np.flatnonzero((scaled < -limit) | (scaled >= limit))
    if bad.size:
        position = int(bad[0])
        raise EncodingError(
            f"x at flat position {position} is {float(flat[position])!r}, outside the fixed-point range "
            f"[{low:g}, {high:g}) of int_bits={int_bits}, frac_bits={frac_bits} (after rounding "
            f"to a multiple of 2**-{frac_bits})",
            hint=hint,
            position=position,
            value=str(flat[position]),
        )
    return encode_signed(
        field, scaled.astype(np.int64).reshape(arr.shape), bits=int_bits + frac_bits + 1
    )


def decode_fixed(
    field: Field, elements: FieldArray, *, frac_bits: int, int_bits: int
) -> npt.NDArray[np.float64]:
    """Decode fixed-point field elements to float64 ``v / 2**frac_bits``, refusing out-of-range values.

    Raises
    ------
    EncodingError
        If an element lies outside the ``int_bits + frac_bits + 1``-bit signed range (an overflow).
    """
    _check_fixed(field, frac_bits, int_bits)
    signed = decode_signed(field, elements, bits=int_bits + frac_bits + 1)
    return np.ldexp(signed.astype(np.float64), -frac_bits)


def _check_fixed(field: Field, frac_bits: int, int_bits: int) -> None:
    for name, value in (("frac_bits", frac_bits), ("int_bits", int_bits)):
        if not isinstance(value, int) or value < 0:
            raise EncodingError(f"{name} must be a non-negative integer, got {value!r}", field=name)
    if int_bits + frac_bits + 1 > field.bits - 1:
        raise EncodingError(
            f"int_bits + frac_bits + 1 = {int_bits + frac_bits + 1} exceeds the {field.bits - 1} "
            f"bits {field!r} can hold unambiguously",
            hint="use fewer fractional or integer bits",
            field="frac_bits",
        )
