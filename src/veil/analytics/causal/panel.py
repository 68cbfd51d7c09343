"""Balanced panels: outcome and treatment matrices built from long data, validated at the edge.

A panel has ``N`` units (rows) and ``T`` periods (columns, in increasing time order). ``Y`` holds the
outcomes, ``W`` the 0/1 treatment indicators, both of shape ``(N, T)``; optional covariates are an
array of shape ``(N, T, K)``. Units keep the order in which they first appear in sorted label order;
estimators never rely on controls coming first.

Treatment patterns (:class:`TreatmentPattern`), detected once and stored on the panel:

- ``single_cell``: exactly one treated cell;
- ``block``: every treated unit is treated from the same period to the end (simultaneous adoption);
- ``staggered``: treatment is absorbing (once on, stays on) and units adopt at different periods;
- ``general``: anything else (treatment switches off again).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from veil.errors import DataError, PanelDataError

__all__ = ["PanelData", "TreatmentPattern"]

_MAX_NAMED = 5  # how many offending rows/cells an error message lists


class TreatmentPattern(enum.StrEnum):
    """Shape of the treatment matrix ``W``; see the module docstring for definitions."""

    SINGLE_CELL = "single_cell"
    BLOCK = "block"
    STAGGERED = "staggered"
    GENERAL = "general"


@dataclass(frozen=True, eq=False)
class PanelData:
    """A balanced panel of outcomes ``Y`` and treatments ``W`` with unit and time labels.

    Build one from long data with :meth:`from_long`; the constructor takes matrices directly and
    checks shapes, finiteness and that ``W`` is 0/1 with at least one treated and one control cell.

    Parameters
    ----------
    Y : ndarray of shape (N, T)
        Outcomes, float. Rows are units, columns periods in increasing time order.
    W : ndarray of shape (N, T)
        Treatment indicators, 0/1.
    units : sequence of length N, optional
        Unit labels (default ``0..N-1``).
    times : sequence of length T, optional
        Period labels, increasing (default ``0..T-1``).
    X : ndarray of shape (N, T, K), optional
        Time-varying covariates.
    covariate_names : sequence of str of length K, optional
        Names of the covariates in ``X``.

    Attributes
    ----------
    pattern : TreatmentPattern
        Detected treatment pattern.
    adoption : ndarray of shape (N,), int
        For absorbing patterns, the index of the first treated period of each unit, ``T`` for
        never-treated units; ``-1`` everywhere for the ``general`` pattern.
    """

    Y: np.ndarray
    W: np.ndarray
    units: np.ndarray = field(default=None)  # type: ignore[arg-type]
    times: np.ndarray = field(default=None)  # type: ignore[arg-type]
    X: np.ndarray | None = None
    covariate_names: tuple[str, ...] = ()
    pattern: TreatmentPattern = field(init=False)
    adoption: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        Y = np.asarray(self.Y, dtype=float)
        W_raw = np.asarray(self.W)
        if Y.ndim != 2:
            raise PanelDataError(
                f"Y must be a 2-d array (units × periods); got shape {Y.shape}",
                field="Y",
                hint="pass one row per unit and one column per period",
            )
        if W_raw.shape != Y.shape:
            raise PanelDataError(
                f"W must have the shape of Y {Y.shape}; got {W_raw.shape}",
                field="W",
                hint="W[i, t] is 1 when unit i is treated in period t",
            )
        n, t = Y.shape
        if not np.all(np.isfinite(Y)):
            cells = np.argwhere(~np.isfinite(Y))[:_MAX_NAMED].tolist()
            raise PanelDataError(
                f"Y has {int((~np.isfinite(Y)).sum())} missing or infinite value(s), "
                f"first at (unit row, period column) {cells}",
                field="Y",
                hint="drop or impute those cells before building the panel",
            )
        if not np.all((W_raw == 0) | (W_raw == 1)):
            bad = np.argwhere((W_raw != 0) & (W_raw != 1))[:_MAX_NAMED].tolist()
            raise PanelDataError(
                f"W must contain only 0 and 1; other values at (row, column) {bad}",
                field="W",
                hint="code treatment as 1 (treated) / 0 (not treated)",
            )
        W = W_raw.astype(np.int8)
        units = np.arange(n) if self.units is None else np.asarray(self.units, dtype=object)
        times = np.arange(t) if self.times is None else np.asarray(self.times)
        if units.shape != (n,) or times.shape != (t,):
            raise PanelDataError(
                f"need {n} unit labels and {t} time labels; got {units.shape} and {times.shape}",
                field="units",
            )
        if W.sum() == 0:
            raise PanelDataError(
                "no cell is treated: W is all zeros",
                field="W",
                hint="check the treatment column; an effect needs at least one treated cell",
            )
        if W.sum() == W.size:
            raise PanelDataError(
                "every cell is treated: there is no control cell to compare with",
                field="W",
                hint="keep some never- or not-yet-treated units or periods in the panel",
            )
        X = self.X
        names = tuple(self.covariate_names)
        if X is not None:
            X = np.asarray(X, dtype=float)
            if X.ndim == 2:
                X = X[:, :, None]
            if X.shape[:2] != (n, t):
                raise PanelDataError(
                    f"covariates X must have shape (N, T, K) = ({n}, {t}, K); got {X.shape}",
                    field="X",
                )
            if not np.all(np.isfinite(X)):
                raise PanelDataError("covariates X contain missing or infinite values", field="X")
            if not names:
                names = tuple(f"x{k}" for k in range(X.shape[2]))
            if len(names) != X.shape[2]:
                raise PanelDataError(
                    f"{X.shape[2]} covariates but {len(names)} names", field="covariate_names"
                )
        set_ = object.__setattr__
        set_(self, "Y", Y)
        set_(self, "W", W)
        set_(self, "units", units)
        set_(self, "times", times)
        set_(self, "X", X)
        set_(self, "covariate_names", names)
        pattern, adoption = _detect_pattern(W)
        set_(self, "pattern", pattern)
        set_(self, "adoption", adoption)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_long(
        cls,
        df: Any,
        *,
        unit: str,
        time: str,
        outcome: str,
        treatment: str,
        covariates: Sequence[str] | None = None,
    ) -> PanelData:
        """Build a validated panel from long data: one row per (unit, period).

        Parameters
        ----------
        df : pandas.DataFrame or polars.DataFrame
            Long-format data.
        unit, time, outcome, treatment : str
            Column names. ``treatment`` must be 0/1 (or boolean).
        covariates : sequence of str, optional
            Numeric, time-varying covariate columns.

        Returns
        -------
        PanelData
            Units sorted by label, periods in increasing order.

        Raises
        ------
        DataError
            A named column is missing, or a column has the wrong type.
        PanelDataError
            Missing values, duplicated (unit, period) cells, an unbalanced panel or a treatment
            column that is not 0/1 — the message names the offending rows (0-based positions in
            ``df``) or the missing (unit, period) pairs.
        """
        pdf = _to_pandas(df)
        covariates = list(covariates or [])
        columns = [unit, time, outcome, treatment, *covariates]
        missing_cols = [c for c in columns if c not in pdf.columns]
        if missing_cols:
            raise DataError(
                f"column(s) {missing_cols} not in the data; columns are {list(pdf.columns)}",
                field=missing_cols[0],
                hint="pass the exact column names with unit=, time=, outcome=, treatment=",
            )
        if len(set(columns)) != len(columns):
            raise DataError(
                f"the same column is used for two roles: {columns}",
                hint="unit, time, outcome, treatment and covariates must be distinct columns",
            )
        pdf = pdf[columns].reset_index(drop=True)
        for col in columns:
            na = pdf[col].isna().to_numpy()
            if na.any():
                rows = np.flatnonzero(na)
                raise PanelDataError(
                    f"column {col!r} has {rows.size} missing value(s), in rows {_rows(rows)}",
                    field=col,
                    hint="drop or impute those rows (a panel needs every cell)",
                )
        for col in [outcome, *covariates]:
            if not pd.api.types.is_numeric_dtype(pdf[col]) or pd.api.types.is_bool_dtype(pdf[col]):
                raise DataError(
                    f"column {col!r} must be numeric; got dtype {pdf[col].dtype}",
                    field=col,
                    hint="convert it to numbers first",
                )
        treat = pdf[treatment]
        if pd.api.types.is_bool_dtype(treat):
            treat = treat.astype(int)
        ok = treat.isin([0, 1]).to_numpy()
        if not ok.all():
            rows = np.flatnonzero(~ok)
            values = sorted({repr(v) for v in treat[~ok].tolist()})[:_MAX_NAMED]
            raise PanelDataError(
                f"treatment column {treatment!r} must be 0/1; rows {_rows(rows)} have {values}",
                field=treatment,
                hint="code treated cells as 1 and the others as 0",
            )
        dup = pdf.duplicated([unit, time], keep=False).to_numpy()
        if dup.any():
            rows = np.flatnonzero(dup)
            first = [_py(v) for v in pdf.loc[rows[0], [unit, time]].tolist()]
            raise PanelDataError(
                f"{rows.size} rows share a ({unit}, {time}) cell with another row, in rows "
                f"{_rows(rows)} (first cell {tuple(first)})",
                field=f"{unit},{time}",
                hint="keep one row per unit and period (aggregate duplicates first)",
            )
        unit_labels = np.array(
            [_py(u) for u in sorted(pdf[unit].unique(), key=_sort_key)], dtype=object
        )
        time_labels = np.sort(pdf[time].unique())
        n, t = unit_labels.size, time_labels.size
        if len(pdf) != n * t:
            present = set(zip(pdf[unit].tolist(), pdf[time].tolist(), strict=True))
            holes = [
                (_py(u), _py(s)) for u in unit_labels for s in time_labels if (u, s) not in present
            ]
            raise PanelDataError(
                f"unbalanced panel: {n} units × {t} periods need {n * t} rows, got {len(pdf)}; "
                f"missing (unit, period) cells: {holes[:_MAX_NAMED]}"
                + (f" and {len(holes) - _MAX_NAMED} more" if len(holes) > _MAX_NAMED else ""),
                field=f"{unit},{time}",
                hint="add the missing cells, or drop units/periods that are incomplete",
            )
        rows_idx = pd.Index(unit_labels).get_indexer(pdf[unit])
        cols_idx = pd.Index(time_labels).get_indexer(pdf[time])

        def to_matrix(values: np.ndarray) -> np.ndarray:
            out = np.empty((n, t), dtype=float)
            out[rows_idx, cols_idx] = values
            return out

        Y = to_matrix(pdf[outcome].to_numpy(dtype=float))
        W = to_matrix(treat.to_numpy(dtype=float)).astype(np.int8)
        X = None
        if covariates:
            X = np.stack([to_matrix(pdf[c].to_numpy(dtype=float)) for c in covariates], axis=2)
        return cls(
            Y=Y,
            W=W,
            units=unit_labels,
            times=time_labels,
            X=X,
            covariate_names=tuple(covariates),
        )

    # ------------------------------------------------------------------ views

    @property
    def n_units(self) -> int:
        """Number of units ``N``."""
        return int(self.Y.shape[0])

    @property
    def n_periods(self) -> int:
        """Number of periods ``T``."""
        return int(self.Y.shape[1])

    @property
    def n_treated_cells(self) -> int:
        """Number of treated cells ``Σ W``."""
        return int(self.W.sum())

    @property
    def treated_units(self) -> np.ndarray:
        """Boolean mask of shape (N,): units treated in at least one period."""
        return np.asarray(self.W.any(axis=1))

    @property
    def control_units(self) -> np.ndarray:
        """Boolean mask of shape (N,): units never treated."""
        return ~self.treated_units

    @property
    def is_absorbing(self) -> bool:
        """Whether treatment never switches off (single cell at the end, block or staggered)."""
        return bool(self.adoption[0] >= 0)

    @property
    def n_pre(self) -> int:
        """Number of periods before the first treated period (``T0`` for block designs)."""
        return int(np.flatnonzero(self.W.any(axis=0))[0])

    @property
    def cohorts(self) -> dict[int, np.ndarray]:
        """For absorbing patterns: adoption period index → boolean mask of the units adopting then."""
        if not self.is_absorbing:
            raise PanelDataError(
                "treatment switches off again (general pattern): units have no adoption period",
                field="W",
            )
        return {int(a): self.adoption == a for a in np.unique(self.adoption) if a < self.n_periods}

    def with_treatment(self, W: np.ndarray) -> PanelData:
        """Return the same outcomes with treatment matrix ``W`` (for placebo analyses)."""
        return PanelData(
            Y=self.Y, W=W, units=self.units, times=self.times, X=self.X,
            covariate_names=self.covariate_names,
        )  # fmt: skip

    def subset(self, rows: np.ndarray, *, columns: np.ndarray | None = None) -> PanelData:
        """Return the panel restricted to unit ``rows`` (indices or mask; repeats allowed) and ``columns``."""
        cols = slice(None) if columns is None else columns
        X = None if self.X is None else self.X[rows][:, cols]
        return PanelData(
            Y=self.Y[rows][:, cols], W=self.W[rows][:, cols], units=self.units[rows],
            times=self.times[cols], X=X, covariate_names=self.covariate_names,
        )  # fmt: skip

    def to_long(self) -> pd.DataFrame:
        """Return the panel as long data with columns ``unit, time, outcome, treatment`` (+ covariates)."""
        n, t = self.Y.shape
        out = pd.DataFrame(
            {
                "unit": np.repeat(self.units, t),
                "time": np.tile(self.times, n),
                "outcome": self.Y.ravel(),
                "treatment": self.W.ravel().astype(int),
            }
        )
        if self.X is not None:
            for k, name in enumerate(self.covariate_names):
                out[name] = self.X[:, :, k].ravel()
        return out

    def __repr__(self) -> str:
        return (
            f"PanelData(n_units={self.n_units}, n_periods={self.n_periods}, "
            f"n_treated_units={int(self.treated_units.sum())}, "
            f"n_treated_cells={self.n_treated_cells}, pattern={self.pattern.value!r})"
        )


def _detect_pattern(W: np.ndarray) -> tuple[TreatmentPattern, np.ndarray]:
    n, t = W.shape
    absorbing = bool(np.all(np.diff(W, axis=1) >= 0))
    if absorbing:
        adoption = np.where(W.any(axis=1), W.argmax(axis=1), t).astype(np.int64)
    else:
        adoption = np.full(n, -1, dtype=np.int64)
    if int(W.sum()) == 1:
        return TreatmentPattern.SINGLE_CELL, adoption
    if not absorbing:
        return TreatmentPattern.GENERAL, adoption
    starts = np.unique(adoption[adoption < t])
    if starts.size == 1:
        return TreatmentPattern.BLOCK, adoption
    return TreatmentPattern.STAGGERED, adoption


def _to_pandas(df: Any) -> pd.DataFrame:
    if isinstance(df, pd.DataFrame):
        return df
    module = type(df).__module__
    if module.startswith("polars"):
        return pd.DataFrame(df.to_dict(as_series=False))
    raise DataError(
        f"expected a pandas or polars DataFrame; got {type(df).__name__}",
        hint="load the data with pandas.read_csv (or polars) first",
    )


def _rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_NAMED])
    return f"[{shown}{', …' if rows.size > _MAX_NAMED else ''}]"


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _sort_key(value: object) -> tuple[int, Any]:
    # Numbers before strings, so mixed label types still sort deterministically.
    if isinstance(value, int | float | np.integer | np.floating):
        return (0, value)
    return (1, str(value))
