"""Input checks and small-matrix helpers shared by the sharing schemes (private)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.errors import FieldError, SharingError
from veil.field import Csprng, Field, FieldArray

__all__ = ["apply_matrix", "as_elements", "check_party_ids", "resolve_rng"]


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


def resolve_rng(rng: Csprng | None) -> Csprng:
    """Return ``rng``, or a fresh OS-keyed :class:`Csprng` when it is None."""
    return rng if rng is not None else Csprng()


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
    for i in range(r):
        acc: FieldArray | None = None
        for j in range(c):
            coefficient = int(matrix[i, j])
            if coefficient == 0:
                continue
            term = (
                rows[j]
                if coefficient == 1
                else field.mul(rows[j], np.array(coefficient, dtype=np.uint64))
            )
            acc = term if acc is None else field.add(acc, term)
        out[i] = 0 if acc is None else acc
    return out
