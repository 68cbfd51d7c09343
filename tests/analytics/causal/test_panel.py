"""PanelData: building matrices from long data, detecting the design, and naming bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veil.analytics.causal import PanelData, TreatmentPattern
from veil.errors import DataError, PanelDataError

COLS = {"unit": "unit", "time": "time", "outcome": "y", "treatment": "w"}


def test_prop99_becomes_a_39_by_31_block_panel(prop99) -> None:
    """Prop 99 has 39 states, 31 years, California treated for the last 12 years."""
    assert (prop99.n_units, prop99.n_periods) == (39, 31)
    assert prop99.pattern is TreatmentPattern.BLOCK
    assert prop99.units[prop99.treated_units].tolist() == ["California"]
    assert prop99.n_pre == 19
    assert prop99.times[prop99.n_pre] == 1989
    assert prop99.n_treated_cells == 12


def test_from_long_puts_each_value_in_its_cell(long_df, block_panel) -> None:
    """Shuffled long rows land in the same (unit, period) cells as the original matrices."""
    shuffled = long_df.sample(frac=1.0, random_state=1)
    panel = PanelData.from_long(shuffled, **COLS)
    order = np.argsort(block_panel.units)
    np.testing.assert_array_equal(panel.Y, block_panel.Y[order])
    np.testing.assert_array_equal(panel.W, block_panel.W[order])
    assert list(panel.times) == sorted(block_panel.times)


def test_round_trip_through_long_format_keeps_covariates(long_df) -> None:
    """to_long then from_long reproduces the panel, covariates included."""
    long_df = long_df.assign(x=np.arange(len(long_df), dtype=float))
    panel = PanelData.from_long(long_df, **COLS, covariates=["x"])
    again = PanelData.from_long(
        panel.to_long(), unit="unit", time="time", outcome="outcome", treatment="treatment",
        covariates=["x"],
    )  # fmt: skip
    np.testing.assert_array_equal(again.X, panel.X)
    assert panel.X.shape == (20, 12, 1)
    assert panel.covariate_names == ("x",)


@pytest.mark.parametrize(
    ("cells", "pattern"),
    [
        ([(0, 5)], TreatmentPattern.SINGLE_CELL),
        ([(0, 4), (0, 5), (1, 4), (1, 5)], TreatmentPattern.BLOCK),
        ([(0, 3), (0, 4), (0, 5), (1, 5)], TreatmentPattern.STAGGERED),
        ([(0, 3), (0, 5)], TreatmentPattern.GENERAL),
    ],
)
def test_the_treatment_pattern_is_detected(cells, pattern) -> None:
    """Single cell, block, staggered adoption and switching treatment are told apart."""
    W = np.zeros((4, 6), dtype=int)
    for i, t in cells:
        W[i, t] = 1
    assert PanelData(Y=np.zeros((4, 6)), W=W).pattern is pattern


def test_staggered_adoption_lists_cohorts() -> None:
    """Adoption periods are indexed per unit, never-treated units get T."""
    W = np.zeros((3, 5), dtype=int)
    W[0, 2:] = 1
    W[1, 4:] = 1
    panel = PanelData(Y=np.zeros((3, 5)), W=W)
    assert panel.adoption.tolist() == [2, 4, 5]
    assert sorted(panel.cohorts) == [2, 4]


def test_a_missing_column_is_named(long_df) -> None:
    """Asking for a column that does not exist names it and lists the real columns."""
    with pytest.raises(DataError, match=r"\['outcome_typo'\] not in the data"):
        PanelData.from_long(long_df, **{**COLS, "outcome": "outcome_typo"})


def test_missing_values_name_the_rows(long_df) -> None:
    """A missing outcome names the column and the row positions."""
    long_df.loc[[3, 17], "y"] = np.nan
    with pytest.raises(PanelDataError, match=r"'y' has 2 missing value\(s\), in rows \[3, 17\]"):
        PanelData.from_long(long_df, **COLS)


def test_duplicated_cells_name_the_rows(long_df) -> None:
    """Two rows for the same (unit, time) are both named, with the cell."""
    dup = pd.concat([long_df, long_df.iloc[[5]]], ignore_index=True)
    with pytest.raises(PanelDataError, match=r"rows \[5, 240\] \(first cell \('u0', 2005\)\)"):
        PanelData.from_long(dup, **COLS)


def test_an_unbalanced_panel_names_the_missing_cells(long_df) -> None:
    """Dropping a row makes the panel unbalanced and the error names the missing cell."""
    with pytest.raises(PanelDataError, match=r"unbalanced panel.*\('u0', 2003\)"):
        PanelData.from_long(long_df.drop(index=3), **COLS)


def test_a_treatment_that_is_not_zero_one_is_refused(long_df) -> None:
    """Treatment values other than 0/1 are listed with their rows."""
    long_df.loc[7, "w"] = 2
    with pytest.raises(PanelDataError, match=r"must be 0/1; rows \[7\] have \['2'\]"):
        PanelData.from_long(long_df, **COLS)


def test_a_panel_without_treated_cells_is_refused(long_df) -> None:
    """No treated cell means nothing to estimate."""
    with pytest.raises(PanelDataError, match="no cell is treated"):
        PanelData.from_long(long_df.assign(w=0), **COLS)


def test_boolean_treatment_is_accepted(long_df) -> None:
    """A boolean treatment column works like 0/1."""
    panel = PanelData.from_long(long_df.assign(w=long_df["w"].astype(bool)), **COLS)
    assert panel.n_treated_cells == 12


def test_a_non_numeric_outcome_is_refused(long_df) -> None:
    """An outcome column of strings is a DataError naming the column."""
    with pytest.raises(DataError, match="'y' must be numeric"):
        PanelData.from_long(long_df.assign(y="a"), **COLS)


def test_something_that_is_not_a_dataframe_is_refused() -> None:
    """A dict is not accepted as long data."""
    with pytest.raises(DataError, match="pandas or polars DataFrame"):
        PanelData.from_long({"a": [1]}, **COLS)


def test_polars_frames_are_accepted(long_df) -> None:
    """A polars DataFrame gives the same panel as the pandas one."""
    pl = pytest.importorskip("polars")
    panel = PanelData.from_long(pl.from_pandas(long_df), **COLS)
    np.testing.assert_array_equal(panel.Y, PanelData.from_long(long_df, **COLS).Y)


def test_matrices_with_wrong_shapes_are_refused() -> None:
    """W must have the shape of Y."""
    with pytest.raises(PanelDataError, match=r"W must have the shape of Y \(2, 3\)"):
        PanelData(Y=np.zeros((2, 3)), W=np.zeros((3, 2)))


class _PolarsLike:
    """Stands in for a polars DataFrame: same module prefix, same to_dict signature."""

    __module__ = "polars.dataframe.frame"

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def to_dict(self, *, as_series: bool = True) -> dict[str, list]:
        assert as_series is False
        return {c: self._df[c].tolist() for c in self._df.columns}


def test_polars_style_frames_are_converted_through_to_dict(long_df) -> None:
    """Frames from polars are read column by column (no pyarrow needed)."""
    panel = PanelData.from_long(_PolarsLike(long_df), **COLS)
    np.testing.assert_array_equal(panel.Y, PanelData.from_long(long_df, **COLS).Y)
