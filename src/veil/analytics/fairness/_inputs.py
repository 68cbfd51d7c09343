"""Coerce user inputs (numpy, pandas, lists) at the edge, with errors that name the input."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from veil.errors import ConfigError, DataError

__all__ = [
    "GroupIndex",
    "as_binary",
    "as_vector",
    "as_weights",
    "encode_groups",
    "groupings",
    "sensitive_frame",
]


def as_vector(name: str, values: Any, *, n: int | None = None) -> np.ndarray:
    """Return ``values`` as a 1-d numpy array, checking its length against ``n``."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataError(
                f"{name} must be one column; got a DataFrame with {values.shape[1]} columns",
                field=name,
                hint="pass a Series or a 1-d array",
            )
        values = values.iloc[:, 0]
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise DataError(
            f"{name} must be 1-dimensional; got shape {arr.shape}",
            field=name,
            hint="pass one value per row",
        )
    if n is not None and arr.shape[0] != n:
        raise DataError(
            f"{name} has {arr.shape[0]} rows but the other inputs have {n}",
            field=name,
            hint="pass one value per row of the same data",
        )
    return arr


def as_binary(name: str, values: Any, *, pos_label: Any = None, n: int | None = None) -> np.ndarray:
    """Return a binary 0/1 float array: 1 where ``values == pos_label``.

    Without ``pos_label``, values must lie in {0, 1}, {-1, 1} or be booleans; then 1 is positive.
    """
    arr = as_vector(name, values, n=n)
    if pd.isna(pd.Series(arr)).any():
        raise DataError(
            f"{name} has missing values",
            field=name,
            hint="drop or impute the rows with missing labels or predictions first",
        )
    if pos_label is None:
        if arr.dtype == bool:
            return arr.astype(np.float64)
        uniq = set(np.unique(arr).tolist())
        if uniq <= {0, 1} or uniq <= {-1, 1}:
            return (arr == 1).astype(np.float64)
        shown = sorted(map(str, uniq))[:5]
        raise ConfigError(
            f"{name} has values {shown}, not 0/1, -1/1 or booleans, and no pos_label was given",
            field="pos_label",
            hint="pass pos_label= (CLI: --pos-label) naming the positive value",
        )
    if isinstance(pos_label, str) and arr.dtype.kind in "iufb":
        with contextlib.suppress(ValueError):  # a label typed on the command line arrives as text
            pos_label = float(pos_label)
    uniq = np.unique(arr)
    if len(uniq) >= 2 and not np.isin(pos_label, uniq):
        raise ConfigError(
            f"pos_label={pos_label!r} does not occur in {name}; values are "
            f"{sorted(map(str, uniq))[:5]}",
            field="pos_label",
            hint="name a value that occurs in the column",
        )
    out = arr == pos_label
    return out.astype(np.float64)


def as_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """Return non-negative finite sample weights as float64, or ``None`` when not given."""
    if sample_weight is None:
        return None
    w = as_vector("sample_weight", sample_weight, n=n).astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise DataError(
            "sample_weight must be finite and non-negative with a positive sum",
            field="sample_weight",
            hint="check the weight column for negatives, NaN or all zeros",
        )
    return w


@dataclass(frozen=True)
class GroupIndex:
    """Row-to-group codes for one grouping (one attribute, or the intersection of several).

    Attributes
    ----------
    codes : ndarray of int64, shape (n_rows,)
        Group number of each row, in ``0 .. n_groups - 1``.
    labels : DataFrame, shape (n_groups, n_attributes)
        The attribute values of each group, in code order (sorted).
    """

    codes: np.ndarray
    labels: pd.DataFrame

    @property
    def n_groups(self) -> int:
        """Number of groups observed."""
        return int(self.labels.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        """Attribute names defining the grouping."""
        return tuple(str(c) for c in self.labels.columns)

    @property
    def keys(self) -> list[str]:
        """One display key per group: the value, or values joined by `` & `` for intersections."""
        return [" & ".join(str(v) for v in row) for row in self.labels.itertuples(index=False)]


def sensitive_frame(sensitive: Any, n: int | None = None) -> pd.DataFrame:
    """Return sensitive features as a DataFrame with string column names."""
    if isinstance(sensitive, pd.DataFrame):
        frame = sensitive.reset_index(drop=True)
    elif isinstance(sensitive, pd.Series):
        frame = sensitive.reset_index(drop=True).to_frame(name=sensitive.name or "group")
    elif isinstance(sensitive, dict):
        frame = pd.DataFrame({str(k): np.asarray(v) for k, v in sensitive.items()})
    else:
        arr = np.asarray(sensitive)
        if arr.ndim == 1:
            frame = pd.DataFrame({"group": arr})
        elif arr.ndim == 2:
            frame = pd.DataFrame(arr, columns=[f"group{i}" for i in range(arr.shape[1])])
        else:
            raise DataError(
                f"sensitive features must be 1- or 2-dimensional; got shape {arr.shape}",
                field="sensitive_features",
            )
    frame.columns = [str(c) for c in frame.columns]
    if n is not None and len(frame) != n:
        raise DataError(
            f"sensitive features have {len(frame)} rows but the other inputs have {n}",
            field="sensitive_features",
            hint="pass one value per row of the same data",
        )
    if frame.shape[1] == 0:
        raise DataError("no sensitive feature given", field="sensitive_features")
    for col in frame.columns:
        if frame[col].isna().any():
            raise DataError(
                f"sensitive feature {col!r} has {int(frame[col].isna().sum())} missing values",
                field=col,
                hint="drop those rows, or fill them with an explicit category such as 'unknown'",
            )
    return frame


def encode_groups(
    sensitive: Any, n: int | None = None, domain: Mapping[str, Sequence[Any]] | None = None
) -> GroupIndex:
    """Return the intersection grouping of one or more sensitive features.

    Without ``domain``, groups are the observed combinations of values, in sorted order; codes
    come from ``np.unique`` on each column and one mixed-radix index, so no per-row Python runs.
    With ``domain`` (attribute → its public values), groups are *every* combination of those
    values, in the order given, whether observed or not; values are compared as text, and rows
    with a value outside the domain get code ``-1``.
    """
    frame = sensitive_frame(sensitive, n)
    per_col: list[np.ndarray] = []
    uniques: list[np.ndarray] = []
    outside = np.zeros(len(frame), dtype=bool)
    for col in frame.columns:
        if domain is None:
            u, inv = np.unique(frame[col].to_numpy(), return_inverse=True)
        else:
            if col not in domain:
                raise ConfigError(
                    f"group_values has no values for the sensitive feature {col!r}; it has "
                    f"{sorted(domain)}",
                    field="group_values",
                    hint="give the public values of every sensitive feature",
                )
            u = np.asarray([str(v) for v in domain[col]], dtype=object)
            if len(set(u.tolist())) != len(u) or len(u) == 0:
                raise ConfigError(
                    f"group_values[{col!r}] must be distinct values, at least one; got "
                    f"{list(domain[col])[:10]}",
                    field="group_values",
                )
            inv = pd.Index(u).get_indexer(frame[col].astype(str).to_numpy())
            outside |= inv < 0
        uniques.append(u)
        per_col.append(np.asarray(inv, dtype=np.int64))
    sizes = [len(u) for u in uniques]
    if domain is None:
        combined = np.ravel_multi_index(tuple(per_col), sizes)
        observed, codes = np.unique(combined, return_inverse=True)
    else:
        observed = np.arange(int(np.prod(sizes)))
        safe = tuple(np.where(outside, 0, c) for c in per_col)
        codes = np.where(outside, -1, np.ravel_multi_index(safe, sizes))
    parts = np.unravel_index(observed, sizes)
    labels = pd.DataFrame(
        {col: uniques[j][parts[j]] for j, col in enumerate(frame.columns)},
    )
    return GroupIndex(codes=codes.astype(np.int64), labels=labels)


def groupings(sensitive: Any, n: int | None = None) -> dict[str, GroupIndex]:
    """Return every grouping to audit: each attribute alone, then their intersection."""
    frame = sensitive_frame(sensitive, n)
    out: dict[str, GroupIndex] = {}
    if frame.shape[1] > 1:
        for col in frame.columns:
            out[col] = encode_groups(frame[[col]])
    out[" & ".join(frame.columns)] = encode_groups(frame)
    return out
