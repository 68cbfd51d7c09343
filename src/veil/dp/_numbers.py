"""Exact numbers for privacy parameters: parse user input into fractions, validate ranges.

Privacy parameters (epsilon, scales, probabilities) are kept as :class:`fractions.Fraction` so that
the noise a mechanism samples and the loss it reports are the same exact number. A Python float
is read through its shortest decimal representation (``0.1`` becomes ``1/10``, not the binary
double nearest to it), which is what the user typed.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from numbers import Rational
from typing import TypeAlias

from veil.errors import ConfigError

__all__ = ["Number", "as_fraction", "ceil_div", "positive_fraction", "probability"]

#: Anything :func:`as_fraction` accepts.
Number: TypeAlias = int | float | str | Fraction | Decimal


def as_fraction(value: object, name: str) -> Fraction:
    """Return ``value`` as an exact fraction; floats are read through their shortest decimal form.

    Raises
    ------
    ConfigError
        If ``value`` is a bool, NaN, infinite, or not a number.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got the bool {value!r}", field=name)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}", field=name)
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ConfigError(f"{name} must be finite, got {value!r}", field=name)
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError) as exc:
            raise ConfigError(
                f"{name} must be a number such as 0.5 or 1/2, got {value!r}", field=name
            ) from exc
    if hasattr(value, "item"):  # numpy scalars
        return as_fraction(value.item(), name)
    raise ConfigError(
        f"{name} must be a number, got {value!r} of type {type(value).__name__}", field=name
    )


def positive_fraction(value: object, name: str) -> Fraction:
    """Return ``value`` as a fraction, requiring it to be strictly positive."""
    out = as_fraction(value, name)
    if out <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}", field=name)
    return out


def probability(value: object, name: str, *, open_interval: bool = False) -> Fraction:
    """Return ``value`` as a fraction in ``[0, 1]`` (or ``(0, 1)`` with ``open_interval``)."""
    out = as_fraction(value, name)
    if open_interval and not 0 < out < 1:
        raise ConfigError(f"{name} must be in (0, 1), got {value!r}", field=name)
    if not 0 <= out <= 1:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}", field=name)
    return out


def ceil_div(a: int, b: int) -> int:
    """Return ``ceil(a / b)`` for integers, ``b > 0``, without floating point."""
    return -((-a) // b)
