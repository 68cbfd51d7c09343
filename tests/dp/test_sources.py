"""Tables through DuckDB give the same exact answers as the numpy kernels."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from veil.dp import Count, GroupBy, Histogram, Mean, Quantiles, Sum, Table, Variance
from veil.errors import DataError

HUGE = 10**12


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Public test data with missing values, groups and person identifiers."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame(
        {
            "x": rng.uniform(-10, 110, 20_000),
            "g": rng.integers(0, 30, 20_000),
            "p": rng.integers(0, 3_000, 20_000),
        }
    )
    df.loc[::17, "x"] = np.nan
    return df


@pytest.fixture(scope="module", params=["csv", "parquet"])
def table(request, frame, tmp_path_factory) -> Table:
    """The same data as a CSV or a Parquet file, opened through DuckDB."""
    path = tmp_path_factory.mktemp("data") / f"data.{request.param}"
    if request.param == "csv":
        frame.to_csv(path, index=False)
    else:
        duckdb.sql(f"COPY (SELECT * FROM frame) TO '{path}' (FORMAT parquet)")
    return Table.from_file(path)


@pytest.mark.parametrize(
    "release",
    [
        lambda: Sum(HUGE, bounds=(0, 100), column="x"),
        lambda: Mean(HUGE, bounds=(0, 100), column="x"),
        lambda: Variance(HUGE, bounds=(0, 100), column="x"),
        lambda: Count(HUGE, column="x"),
        lambda: Histogram(HUGE, bounds=(0, 100), bins=7, column="x"),
        lambda: Quantiles(HUGE, bounds=(0, 100), quantiles=[0.3, 0.9], column="x"),
    ],
    ids=["sum", "mean", "variance", "count", "histogram", "quantiles"],
)
def test_a_file_gives_the_same_answer_as_the_data_frame(release, frame, table) -> None:
    """With negligible noise the DuckDB path and the numpy path agree exactly."""
    a = release().release(frame).value
    b = release().release(table).value
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12)


def test_group_by_on_a_file_matches_the_data_frame(frame, table) -> None:
    """Per-group counts and sums agree between DuckDB and numpy."""
    gb = GroupBy(
        HUGE, by="g", keys=list(range(35)), aggregates=["count", "sum"], column="x", bounds=(0, 100)
    )
    a, b = gb.release(frame).value, gb.release(table).value
    assert a["count"].tolist() == b["count"].tolist()
    np.testing.assert_allclose(a["sum"], b["sum"], rtol=1e-12)


def test_person_bounding_in_sql_keeps_at_most_k_rows_per_person(frame, table) -> None:
    """The bounded count through DuckDB is the number of rows after keeping two per person."""
    expected = int(frame.groupby("p").size().clip(upper=2).sum())
    assert Count(HUGE, person="p", max_contributions=2).release(table).value == expected


def test_a_missing_file_is_named_in_the_error(tmp_path) -> None:
    """A path that does not exist raises DataError with the path."""
    with pytest.raises(DataError, match="does not exist"):
        Table.from_file(tmp_path / "nope.csv")


def test_an_unknown_extension_is_refused_with_a_hint(tmp_path) -> None:
    """Only CSV and Parquet are read."""
    path = tmp_path / "data.xlsx"
    path.write_text("x\n1\n")
    with pytest.raises(DataError, match="cannot tell the format"):
        Table.from_file(path)


def test_an_unknown_column_lists_the_columns(table) -> None:
    """A wrong column name shows which columns exist."""
    with pytest.raises(DataError, match=r"columns are \['x', 'g', 'p'\]"):
        Sum(1, bounds=(0, 1), column="income").release(table)
