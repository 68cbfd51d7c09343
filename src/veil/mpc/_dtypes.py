"""How secure types combine: the promotion rules of :class:`~veil.mpc.SecretArray` operators.

``None`` is the raw type (field elements, integers modulo p). The rules, for two operands:

- additive operations (``+``, ``-``, comparisons, ``where``): booleans and raw integers join any
  integer type; two integer types join to the wider; integers join a fixed-point type (they are
  scaled by ``2**frac_bits``, locally); two fixed-point types join to the larger fractional and
  integer widths.
- products: a fixed-point value times an integer (secret or public) stays fixed point without
  truncation; fixed point times fixed point (or a public real) is truncated once; booleans act as
  0/1 factors and keep the other operand's type; ``bool * bool`` is a boolean.

Public operands are encoded into the result type, so an out-of-range constant raises
:class:`~veil.errors.EncodingError` (as numpy raises ``OverflowError`` for ``int8 + 1000``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veil.field import Field, FieldArray
from veil.mpc.types import BoolType, FixedType, IntType, SecFxp, SecInt, SecretType, secbool

__all__ = ["classify", "encode_public", "join", "product_type", "scale_bits"]

Dtype = SecretType | None
#: The integer type bool arithmetic (``b1 + b2``, ``b.sum()``) produces, like numpy's default int.
DEFAULT_INT = 32


def classify(value: object) -> tuple[npt.NDArray[np.generic], str] | None:
    """Return a public operand as an array and its kind (``"bool"``, ``"int"``, ``"float"``)."""
    if isinstance(value, bool | np.bool_):
        return np.asarray(value), "bool"
    if isinstance(value, int | np.integer):
        return np.asarray(value, dtype=object if isinstance(value, int) else None), "int"
    if isinstance(value, float | np.floating):
        return np.asarray(value, dtype=np.float64), "float"
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype == np.bool_:
            return value, "bool"
        if value.dtype.kind in "iu":
            return value, "int"
        if value.dtype.kind == "f":
            return value, "float"
    return None


def join(a: Dtype, b: Dtype) -> Dtype:
    """Return the common type of an additive operation between types ``a`` and ``b``."""
    if a == b:
        return a
    if a is None or isinstance(a, BoolType):
        a, b = b, a
    # now a is typed (int/fixed) or both are in {None, bool}
    if a is None or isinstance(a, BoolType):
        return None  # raw with bool: raw integers
    if b is None or isinstance(b, BoolType):
        return a
    if isinstance(a, IntType) and isinstance(b, IntType):
        return SecInt(max(a.bits, b.bits))
    if isinstance(a, FixedType) and isinstance(b, FixedType):
        return SecFxp(max(a.fractional, b.fractional), max(a.int_bits, b.int_bits))
    return a if isinstance(a, FixedType) else b


def join_public(secret: Dtype, kind: str) -> Dtype:
    """Return the type of an additive operation between a secret of type ``secret`` and a constant."""
    if kind == "float" and not isinstance(secret, FixedType):
        raise TypeError(
            f"cannot combine a {secret or 'raw'} SecretArray with a real number: use a fixed-point "
            "type (dtype=SecFxp(...)) for reals"
        )
    if isinstance(secret, BoolType):
        return secbool if kind == "bool" else SecInt(DEFAULT_INT)
    return secret


def product_type(a: Dtype, b: Dtype) -> tuple[Dtype, int]:
    """Return ``(type, truncate_bits)`` of the product of two secrets of types ``a`` and ``b``."""
    if isinstance(a, FixedType) and isinstance(b, FixedType):
        common = join(a, b)
        assert isinstance(common, FixedType)
        return common, common.fractional
    if isinstance(a, BoolType) and isinstance(b, BoolType):
        return secbool, 0
    if isinstance(a, BoolType):
        return b, 0
    if isinstance(b, BoolType):
        return a, 0
    if isinstance(a, FixedType) or isinstance(b, FixedType):
        return (a if isinstance(a, FixedType) else b), 0
    return join(a, b), 0


def scale_bits(source: Dtype, target: Dtype) -> int:
    """Return the left shift that turns a value of type ``source`` into one of type ``target``."""
    target_frac = target.frac_bits if target is not None else 0
    source_frac = source.frac_bits if source is not None else 0
    return target_frac - source_frac


def encode_public(
    field: Field, dtype: Dtype, array: npt.NDArray[np.generic], kind: str, *, factor: bool = False
) -> FieldArray:
    """Encode a public operand for an operation whose result has type ``dtype``.

    With ``factor=True`` (a multiplier) an integer stays an integer even for fixed-point results:
    ``x * 3`` needs no truncation. Out-of-range values raise :class:`EncodingError`.
    """
    if kind == "float":
        if not isinstance(dtype, FixedType):
            raise TypeError("real numbers combine only with fixed-point SecretArrays")
        return dtype.encode(field, array)
    if array.dtype == np.bool_:
        array = array.astype(np.int64)
    if dtype is None:
        return field.array(array)
    if isinstance(dtype, FixedType):
        if factor:
            return IntType(min(dtype.int_bits + 1, field.bits - 1)).encode(field, array)
        return dtype.encode(field, np.asarray(array, dtype=np.float64))
    if isinstance(dtype, BoolType):
        return secbool.encode(field, array)
    return dtype.encode(field, array)


def check_typed(dtype: Dtype, what: str) -> SecretType:
    """Return ``dtype``, or raise ``TypeError`` for raw field elements (which have no order)."""
    if dtype is None:
        raise TypeError(
            f"{what} needs to know the range of the values: input them with a secure type "
            "(rt.input(..., dtype=SecInt(32)) or SecFxp(...)) or convert with x.astype(SecInt(bits)); "
            "raw field elements have no order"
        )
    return dtype
