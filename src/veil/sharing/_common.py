"""Input checks and small-matrix helpers shared by the sharing schemes (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.errors import FieldError, SharingError
from veil.field import Field, FieldArray

__all__ = ["apply_matrix", "as_elements", "check_party_ids"]


def as_elements(field: Field, values: object, name: str) -> FieldArray:
    """Return ``values`` as canonical elements, refusing (never reducing) integers outside ``[0, p)``.

    ``uint64`` arrays are checked and returned without a copy; other integer input (Python ints,
    signed arrays) must already lie in ``[0, p)``. Encode signed or real numbers with
    :mod:`veil.encoding` first.
    """
    arr = np.asarray(values)
    if arr.dtype == np.uint64:
        return field.check(arr, name)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint64)
    if arr.dtype.kind in "iub":
        wide = arr.astype(np.int64)
        bad = np.flatnonzero((wide < 0) | (wide >= field.p))
        first = int(bad[0]) if bad.size else -1
        value: object = int(wide.reshape(-1)[first]) if bad.size else None
    elif arr.dtype.kind == "O":
        flat = arr.reshape(-1).tolist()
        first = next(
            (i for i, v in enumerate(flat) if not isinstance(v, int) or not 0 <= v < field.p), -1
        )
        value = flat[first] if first >= 0 else None
        wide = np.asarray(flat if first < 0 else [0], dtype=np.int64).reshape(-1)
    else:
        raise FieldError(
            f"{name} must hold integers in [0, p), got dtype {arr.dtype}",
            hint="encode reals or signed values with veil.encoding first",
            field=name,
        )
    if first >= 0:
        raise FieldError(
            f"{name} at flat position {first} is {value!r}, not an element of [0, {field.p})",
            hint="encode signed or real values with veil.encoding first",
            field=name,
        )
    return wide.astype(np.uint64).reshape(arr.shape)


def check_party_ids(field: Field, parties: Sequence[int], name: str = "parties") -> list[int]:
    """Return the party ids as a list, refusing duplicates and ids whose point ``id + 1`` is not below p."""
    ids = [int(p) for p in parties]
    for position, party in enumerate(ids):
        if not 0 <= party < field.p - 1:
            raise SharingError(
                f"{name}[{position}] = {party} is not a party id in [0, p - 1) for p = {field.p}",
                hint="parties are numbered 0..n-1; party i holds the share at x = i + 1",
                field=name,
            )
    duplicates = sorted({p for p in ids if ids.count(p) > 1})
    if duplicates:
        duplicate = duplicates[0]
        raise SharingError(
            f"{name} lists party {duplicate} more than once: {ids}",
            hint="pass each party's share once",
            field=name,
        )
    return ids


def apply_matrix(field: Field, matrix: FieldArray, rows: FieldArray) -> FieldArray:
    """Return ``matrix @ rows`` over the field for a small public matrix and long share rows.

    Parameters
    ----------
    matrix : FieldArray, shape ``(r, c)``
        Public coefficients (canonical elements).
    rows : FieldArray, shape ``(c, ...)``
        One row per input (typically one row per party).

    Returns
    -------
    FieldArray, shape ``(r, ...)``
    """
    r, c = matrix.shape
    if rows.shape[0] != c:
        raise SharingError(f"matrix has {c} columns but {rows.shape[0]} rows were given")
    out = np.empty((r, *rows.shape[1:]), dtype=np.uint64)
    p = field.p
    for i in range(r):
        target = out[i, ...]
        started = False
        for j in range(c):
            coefficient = int(matrix[i, j])
            if coefficient == 0:
                continue
            # Small weights (and small negatives, p - w) are common, e.g. (2, -1) for parties {0, 1}:
            # they take the fast multiply-by-a-small-constant path and a subtraction.
            negate = p - coefficient < coefficient
            magnitude = np.array(p - coefficient if negate else coefficient, dtype=np.uint64)
            if not started:
                if magnitude == 1:
                    target[...] = rows[j]
                else:
                    field.mul(rows[j], magnitude, out=target)
                if negate:
                    field.neg(target, out=target)
                started = True
                continue
            term = rows[j] if magnitude == 1 else field.mul(rows[j], magnitude)
            if negate:
                field.sub(target, term, out=target)
            else:
                field.add(target, term, out=target)
        if not started:
            target[...] = 0
    return out
