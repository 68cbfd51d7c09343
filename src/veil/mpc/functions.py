"""numpy-like functions on secret arrays: ``where``, ``minimum``, ``maximum``, ``amax``, ``argmax``.

Each reads like its numpy namesake and runs comparisons underneath (see
:mod:`veil.mpc.protocols.compare`); nothing is revealed but what the program opens.

- :func:`where` selects obliviously: ``y + c (x - y)``, one multiplication, no comparison.
- :func:`amax`, :func:`amin`, :func:`argmax`, :func:`argmin` run a tournament along the axis:
  ``ceil(log2 n)`` levels, each one comparison and one selection (values and indices together),
  ``n - 1`` comparisons in all. Ties go to the lower index, as numpy's ``argmax``.
"""

from __future__ import annotations

import numpy as np

from veil.mpc import _dtypes
from veil.mpc.array import SecretArray, concatenate, stack
from veil.mpc.types import BoolType, SecInt

__all__ = ["amax", "amin", "argmax", "argmin", "maximum", "minimum", "where"]


def where(condition: object, x: object, y: object) -> SecretArray:
    """Return ``x`` where ``condition`` holds and ``y`` elsewhere, without revealing which.

    Parameters
    ----------
    condition : SecretArray of secbool, or array_like of bool
        A secret condition costs one multiplication; a public one is a local selection.
    x, y : SecretArray or array_like
        At least one is a SecretArray; they broadcast together and combine by the usual type rules
        (``where(c, x, 0)`` keeps ``x``'s type).

    Returns
    -------
    SecretArray
    """
    if not isinstance(x, SecretArray) and not isinstance(y, SecretArray):
        raise TypeError("where needs x or y to be a SecretArray (the result takes its type)")
    difference = x - y  # type: ignore[operator]
    if isinstance(condition, SecretArray):
        if not isinstance(condition.dtype, BoolType):
            raise TypeError(
                "the condition of where must be a secbool SecretArray (a comparison), got "
                f"{condition.dtype}"
            )
        return y + condition * difference  # type: ignore[no-any-return]
    mask = np.asarray(condition)
    if mask.dtype != np.bool_:
        raise TypeError(f"a public condition must be boolean, got dtype {mask.dtype}")
    return y + difference * mask.astype(np.int64)  # type: ignore[no-any-return]


def minimum(x: SecretArray, y: object) -> SecretArray:
    """Return the elementwise minimum (one comparison and one selection per element)."""
    return where(x < y, x, y)


def maximum(x: SecretArray, y: object) -> SecretArray:
    """Return the elementwise maximum."""
    return where(x < y, y, x)


def _rows(x: SecretArray, axis: int | None) -> SecretArray:
    """Return ``x`` as a 2-D array whose rows run along ``axis``."""
    if axis is None:
        return x.reshape(1, -1)
    axis %= max(x.ndim, 1)
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    moved_shape = tuple(x.shape[i] for i in order)
    moved = x._apply(lambda a: np.ascontiguousarray(a.transpose(order)), (x,), moved_shape)
    return moved.reshape(-1, x.shape[axis])


def _reduced_shape(x: SecretArray, axis: int | None) -> tuple[int, ...]:
    if axis is None:
        return ()
    axis %= max(x.ndim, 1)
    return tuple(d for i, d in enumerate(x.shape) if i != axis)


def _tournament(
    x: SecretArray, axis: int | None, *, largest: bool, want_index: bool
) -> SecretArray:
    values = _rows(x, axis)
    rows, count = values.shape
    if count == 0:
        raise ValueError("cannot reduce an empty axis")
    field = x.field
    positions = field.array(np.broadcast_to(np.arange(count), (rows, count)))
    index = x.runtime.constant(np.ascontiguousarray(positions))  # public positions
    while values.shape[1] > 1:
        width = values.shape[1]
        pairs = width // 2
        left, right = values[:, 0 : 2 * pairs : 2], values[:, 1 : 2 * pairs : 2]
        keep = left >= right if largest else left <= right  # ties: the lower index
        if want_index:
            li, ri = index[:, 0 : 2 * pairs : 2], index[:, 1 : 2 * pairs : 2]
            gaps = stack([(left - right)._retyped(None), li - ri], axis=2)
            moved = keep[:, :, None] * gaps  # one multiplication for both selections
            chosen = (right._retyped(None) + moved[:, :, 0])._retyped(values.dtype)
            picked = ri + moved[:, :, 1]
            index = concatenate([picked, index[:, -1:]], axis=1) if width % 2 else picked
        else:
            chosen = where(keep, left, right)
        values = concatenate([chosen, values[:, -1:]], axis=1) if width % 2 else chosen
    if want_index:
        result = index[:, 0].reshape(_reduced_shape(x, axis))
        return result._retyped(SecInt(_dtypes.DEFAULT_INT))
    return values[:, 0].reshape(_reduced_shape(x, axis))


def amax(x: SecretArray, axis: int | None = None) -> SecretArray:
    """Return the maximum along ``axis`` (all elements when None), like ``numpy.amax``."""
    _dtypes.check_typed(x.dtype, "max")
    return _tournament(x, axis, largest=True, want_index=False)


def amin(x: SecretArray, axis: int | None = None) -> SecretArray:
    """Return the minimum along ``axis``, like ``numpy.amin``."""
    _dtypes.check_typed(x.dtype, "min")
    return _tournament(x, axis, largest=False, want_index=False)


def argmax(x: SecretArray, axis: int | None = None) -> SecretArray:
    """Return the index of the maximum along ``axis`` (the first on ties) as ``SecInt(32)``."""
    _dtypes.check_typed(x.dtype, "argmax")
    return _tournament(x, axis, largest=True, want_index=True)


def argmin(x: SecretArray, axis: int | None = None) -> SecretArray:
    """Return the index of the minimum along ``axis`` (the first on ties) as ``SecInt(32)``."""
    _dtypes.check_typed(x.dtype, "argmin")
    return _tournament(x, axis, largest=False, want_index=True)
