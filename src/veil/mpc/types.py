"""Secure number types: what the field elements of a :class:`~veil.mpc.SecretArray` mean.

A *secure type* is to a :class:`~veil.mpc.SecretArray` what a dtype is to a numpy array: it says how
field elements encode numbers, which range they must stay in, and therefore how arithmetic,
comparisons, input and output behave. Types are made by cached factories, one object per parameter
set (as MPyC's ``SecInt`` and ``SecFxp``), and compared by value:

- :func:`SecInt` ``(bits)``: signed integers in ``[-2**(bits-1), 2**(bits-1))``.
- :func:`SecFxp` ``(frac_bits, int_bits)``: fixed-point reals ``v / 2**frac_bits`` with ``v`` a signed
  integer of ``int_bits + frac_bits + 1`` bits, so ``-2**int_bits <= x < 2**int_bits``.
- :data:`secbool`: the results of comparisons, 0 or 1.

A SecretArray without a type (``dtype=None``) holds raw field elements, as before this module.

Every value is checked against its type's range when it enters (``rt.input(..., dtype=...)`` and
public operands), and again when it is opened: an out-of-range value raises
:class:`~veil.errors.EncodingError` naming the flat position and the value, never wraps silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from veil.encoding import decode_fixed, decode_signed, encode_fixed, encode_signed
from veil.errors import ConfigError, EncodingError
from veil.field import Field, FieldArray

__all__ = ["BoolType", "FixedType", "IntType", "SecFxp", "SecInt", "SecretType", "secbool"]

#: Headroom, in bits below the field's size, that comparisons and truncations need: masked values
#: are re-drawn with probability ``2**(K - field.bits)`` for a ``K``-bit operand, so at most 1/16.
PROTOCOL_HEADROOM_BITS = 4


@dataclass(frozen=True)
class SecretType:
    """Base of the secure types; see :func:`SecInt`, :func:`SecFxp` and :data:`secbool`."""

    @property
    def signed_bits(self) -> int:
        """Width of the signed integer that encodes one value (sign bit included)."""
        raise NotImplementedError

    @property
    def frac_bits(self) -> int:
        """Fractional bits of the encoding (0 for integers and booleans)."""
        return 0

    def encode(self, field: Field, values: object) -> FieldArray:
        """Encode plain values as field elements, refusing any out of range (names the position)."""
        raise NotImplementedError

    def decode(self, field: Field, elements: FieldArray) -> npt.NDArray[np.generic]:
        """Decode opened field elements, refusing any that left the range (an overflow)."""
        raise NotImplementedError

    def check_field(self, field: Field) -> None:
        """Raise :class:`~veil.errors.ConfigError` unless values of this type fit ``field``."""
        if self.signed_bits > field.bits - 1:
            raise ConfigError(
                f"{self} needs {self.signed_bits}-bit integers, more than the {field.bits - 1} "
                f"bits {field!r} holds",
                field="dtype",
                hint="choose fewer bits, or a larger prime",
            )


@dataclass(frozen=True)
class IntType(SecretType):
    """Signed integers of ``bits`` bits (made by :func:`SecInt`)."""

    bits: int

    def __repr__(self) -> str:
        return f"SecInt({self.bits})"

    @property
    def signed_bits(self) -> int:
        return self.bits

    def encode(self, field: Field, values: object) -> FieldArray:
        self.check_field(field)
        return encode_signed(field, values, bits=self.bits)

    def decode(self, field: Field, elements: FieldArray) -> npt.NDArray[np.int64]:
        return decode_signed(field, elements, bits=self.bits)


@dataclass(frozen=True)
class FixedType(SecretType):
    """Fixed-point reals with ``frac_bits`` fractional and ``int_bits`` integer bits (see :func:`SecFxp`)."""

    fractional: int
    int_bits: int

    def __repr__(self) -> str:
        return f"SecFxp(frac_bits={self.fractional}, int_bits={self.int_bits})"

    @property
    def signed_bits(self) -> int:
        return self.int_bits + self.fractional + 1

    @property
    def frac_bits(self) -> int:
        return self.fractional

    @property
    def resolution(self) -> float:
        """The spacing of representable values, ``2**-frac_bits``."""
        return float(2.0**-self.fractional)

    def encode(self, field: Field, values: object) -> FieldArray:
        self.check_field(field)
        return encode_fixed(field, values, frac_bits=self.fractional, int_bits=self.int_bits)

    def decode(self, field: Field, elements: FieldArray) -> npt.NDArray[np.float64]:
        return decode_fixed(field, elements, frac_bits=self.fractional, int_bits=self.int_bits)

    def product_bits(self) -> int:
        """Bits of the signed integer a product of two in-range values needs before truncation.

        The truncated product must itself be in range (``|x y| < 2**int_bits``), so the untruncated
        integer is below ``2**(int_bits + 2 frac_bits)`` in magnitude; one more bit for rounding.
        """
        return self.int_bits + 2 * self.fractional + 2


@dataclass(frozen=True)
class BoolType(SecretType):
    """Secret booleans: 0 (false) or 1 (true); results of comparisons."""

    def __repr__(self) -> str:
        return "secbool"

    @property
    def signed_bits(self) -> int:
        return 2

    def encode(self, field: Field, values: object) -> FieldArray:
        arr = np.asarray(values)
        if arr.dtype == np.bool_:
            return arr.astype(np.uint64)
        flat = arr.reshape(-1)
        if arr.dtype.kind not in "iu" and arr.size:
            raise EncodingError(
                f"secbool values must be booleans or 0/1 integers, got dtype {arr.dtype}",
                field="values",
            )
        _check_bits(flat, "value", "booleans are 0 or 1")
        return arr.astype(np.uint64)

    def decode(self, field: Field, elements: FieldArray) -> npt.NDArray[np.bool_]:
        signed = field.to_signed(np.asarray(elements, dtype=np.uint64))
        _check_bits(
            signed.reshape(-1),
            "decoded boolean",
            "arithmetic on secbool values left {0, 1}; use &, |, ^ and ~ to combine them",
        )
        return signed.astype(bool)


def _check_bits(flat: npt.NDArray[np.generic], what: str, hint: str) -> None:
    """Raise :class:`EncodingError` naming the first value that is neither 0 nor 1."""
    bad = np.flatnonzero((flat != 0) & (flat != 1))
    if bad.size:
        position = int(bad[0])
        value = flat[position]
        raise EncodingError(
            f"{what} at flat position {position} is {value!r}, not 0 or 1",
            hint=hint,
            position=position,
            value=str(value),
        )


#: The type of comparison results: 0 or 1, opened as numpy booleans.
secbool = BoolType()


def SecInt(bits: int = 32) -> IntType:
    """Return the secure type of signed ``bits``-bit integers (cached: one object per ``bits``).

    Parameters
    ----------
    bits : int, default=32
        Values lie in ``[-2**(bits-1), 2**(bits-1))``; ``2 <= bits <= 60`` for the default field.
        Comparisons need ``bits + 1 <= field.bits - 4`` (56 for ``p = 2**61 - 1``).

    Examples
    --------
    >>> SecInt(32)
    SecInt(32)
    >>> SecInt(32) is SecInt(32)
    True
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 62:
        raise ConfigError(
            f"SecInt bits must be an integer in [2, 62], got {bits!r}",
            field="bits",
            hint="the field of p = 2**61 - 1 holds at most 60-bit signed integers",
        )
    return _int_type(bits)


@cache
def _int_type(bits: int) -> IntType:
    return IntType(bits)


@cache
def _fixed_type(frac_bits: int, int_bits: int) -> FixedType:
    return FixedType(frac_bits, int_bits)


def SecFxp(frac_bits: int = 16, int_bits: int = 16) -> FixedType:
    """Return the secure fixed-point type with ``frac_bits`` fractional and ``int_bits`` integer bits.

    A value ``x`` is stored as the integer ``round(x * 2**frac_bits)``, so ``-2**int_bits <= x <
    2**int_bits`` with a resolution of ``2**-frac_bits``. Products are truncated back to
    ``frac_bits`` (round to nearest), which needs ``int_bits + 2 * frac_bits + 2 <= field.bits - 4``
    (57 for ``p = 2**61 - 1``).

    Parameters
    ----------
    frac_bits : int, default=16
    int_bits : int, default=16
        The defaults give ``-65536 <= x < 65536`` in steps of about ``1.5e-5``.

    Examples
    --------
    >>> SecFxp()
    SecFxp(frac_bits=16, int_bits=16)
    """
    for name, value in (("frac_bits", frac_bits), ("int_bits", int_bits)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}", field=name)
    if int_bits + frac_bits + 1 > 62:
        raise ConfigError(
            f"int_bits + frac_bits + 1 = {int_bits + frac_bits + 1} exceeds 62 bits",
            field="int_bits",
            hint="the field of p = 2**61 - 1 holds at most 60-bit signed integers",
        )
    return _fixed_type(frac_bits, int_bits)
