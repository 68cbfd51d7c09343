"""Tables read through DuckDB, so that releases on files larger than memory stream.

A :class:`Table` wraps a DuckDB relation (a CSV or Parquet file, or a DataFrame). The releases in
:mod:`veil.dp.releases` ask it for the same exact aggregates the numpy kernels compute — clamped
grid sums, counts, bin counts, per-group counts and sums — as SQL, with 64/128-bit integer
arithmetic, so nothing larger than the answer is ever loaded into Python. NaN and values that do
not parse as numbers count as missing.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from veil.dp._kernels import GridMoments
from veil.errors import DataError

__all__ = ["Table"]

_COUNTER = itertools.count()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Table:
    """A table whose columns releases read through DuckDB.

    Use :meth:`from_file` for CSV or Parquet files and :meth:`from_frame` for a pandas DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> t = Table.from_frame(pd.DataFrame({"x": [1.0, 2.0, None]}))
    >>> t.columns
    ['x']
    """

    def __init__(
        self, relation: duckdb.DuckDBPyRelation, con: duckdb.DuckDBPyConnection, name: str
    ) -> None:
        self._con = con
        self._view = f"veil_dp_src_{next(_COUNTER)}"
        relation.create_view(self._view, replace=True)
        self.name = name
        self.columns: list[str] = list(relation.columns)

    @classmethod
    def from_file(cls, path: str | Path) -> Table:
        """Open a CSV (``.csv``, ``.tsv``, ``.txt``, optionally gzipped) or Parquet file.

        Raises
        ------
        DataError
            If the file does not exist, has another extension, or cannot be parsed.
        """
        p = Path(path)
        if not p.is_file():
            raise DataError(f"data file {str(p)!r} does not exist", path=str(p))
        con = duckdb.connect()
        suffixes = [s.lower() for s in p.suffixes]
        try:
            if ".parquet" in suffixes or ".pq" in suffixes:
                rel = con.read_parquet(str(p))
            elif {".csv", ".tsv", ".txt"} & set(suffixes):
                rel = con.read_csv(str(p))
            else:
                raise DataError(
                    f"cannot tell the format of {str(p)!r} from its extension",
                    path=str(p),
                    hint="use a .csv or .parquet file",
                )
        except duckdb.Error as exc:
            raise DataError(f"could not read {str(p)!r}: {exc}", path=str(p)) from exc
        return cls(rel, con, str(p))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Table:
        """Wrap a pandas DataFrame (DuckDB scans it in place)."""
        con = duckdb.connect()
        return cls(con.from_df(frame), con, "DataFrame")

    def check_column(self, column: str, role: str = "column") -> str:
        """Return the quoted column name, or raise :class:`DataError` listing the columns."""
        if column not in self.columns:
            raise DataError(
                f"{role} {column!r} is not in {self.name}; its columns are {self.columns}",
                field=column,
                path=self.name,
            )
        return _quote(column)

    def _rows(self, person: str | None, max_rows: int) -> str:
        if person is None:
            return self._view
        p = self.check_column(person, "person column")
        return (
            f"(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {p} ORDER BY veil_r) "
            f"AS veil_rank FROM (SELECT *, random() AS veil_r FROM {self._view})) "
            f"WHERE veil_rank <= {int(max_rows)})"
        )

    @staticmethod
    def _clamped(col: str, lo: float, hi: float) -> str:
        x = f"TRY_CAST({col} AS DOUBLE)"
        # least/greatest skip NULLs, so missing values must be caught before clamping
        return (
            f"CASE WHEN {x} IS NULL OR isnan({x}) THEN NULL "
            f"ELSE least(greatest({x}, {lo!r}), {hi!r}) END"
        )

    def _one(self, sql: str) -> tuple[Any, ...]:
        try:
            row = self._con.execute(sql).fetchone()
        except duckdb.Error as exc:
            raise DataError(f"could not aggregate {self.name}: {exc}", path=self.name) from exc
        if row is None:  # pragma: no cover - aggregates always return one row
            raise DataError(f"no result from {self.name}")
        return tuple(row)

    def count_rows(self, person: str | None = None, max_rows: int = 1) -> int:
        """Return the number of rows (after keeping at most ``max_rows`` per person)."""
        return int(self._one(f"SELECT count(*) FROM {self._rows(person, max_rows)}")[0])

    def grid_moments(
        self,
        column: str,
        lo: float,
        hi: float,
        inv_g: float,
        center: int,
        squares: bool,
        person: str | None = None,
        max_rows: int = 1,
    ) -> GridMoments:
        """Return the exact counts and sums of v = round(clamp(x)/g) − center, as the kernel does."""
        col = self.check_column(column)
        v = f"CAST(round(({self._clamped(col, lo, hi)}) * {inv_g!r}) AS BIGINT) - {int(center)}"
        sql = (
            f"SELECT count(*), count(v), coalesce(sum(v), 0), "
            f"coalesce(sum(CAST(v AS HUGEINT) * v), 0) FROM (SELECT {v} AS v "
            f"FROM {self._rows(person, max_rows)})"
        )
        n, n_valid, s1, s2 = self._one(sql)
        return GridMoments(int(n), int(n_valid), int(s1), int(s2) if squares else 0)

    def bin_counts(
        self,
        column: str,
        lo: float,
        hi: float,
        n_bins: int,
        person: str | None = None,
        max_rows: int = 1,
    ) -> npt.NDArray[np.int64]:
        """Return counts of valid values in ``n_bins`` equal-width bins over the clamped range."""
        col = self.check_column(column)
        scale = n_bins / (hi - lo)
        b = f"least(CAST(floor((c - {lo!r}) * {scale!r}) AS BIGINT), {n_bins - 1})"
        sql = (
            f"SELECT {b} AS b, count(*) FROM (SELECT {self._clamped(col, lo, hi)} AS c "
            f"FROM {self._rows(person, max_rows)}) WHERE c IS NOT NULL GROUP BY b"
        )
        counts = np.zeros(n_bins, dtype=np.int64)
        try:
            for idx, cnt in self._con.execute(sql).fetchall():
                counts[int(idx)] = int(cnt)
        except duckdb.Error as exc:
            raise DataError(f"could not aggregate {self.name}: {exc}", path=self.name) from exc
        return counts

    def category_counts(
        self, column: str, categories: list[Any], person: str | None = None, max_rows: int = 1
    ) -> npt.NDArray[np.int64]:
        """Return how many rows hold each of the public ``categories`` (others are ignored)."""
        col = self.check_column(column)
        sql = f"SELECT {col} AS k, count(*) FROM {self._rows(person, max_rows)} GROUP BY k"
        found = dict(self._con.execute(sql).fetchall())
        return np.array([int(found.get(c, 0)) for c in categories], dtype=np.int64)

    def group_moments(
        self,
        by: str,
        column: str | None,
        lo: float,
        hi: float,
        inv_g: float,
        person: str | None = None,
        max_partitions: int = 1,
        max_rows: int = 1,
    ) -> tuple[list[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return the observed keys, per-key row counts and per-key sums of round(clamp(x)/g).

        With ``person``, each person keeps at most ``max_partitions`` keys (chosen at random) and
        at most ``max_rows`` rows in each.
        """
        key = self.check_column(by, "group-by column")
        v = (
            "0"
            if column is None
            else (
                f"CAST(round(({self._clamped(self.check_column(column), lo, hi)}) * {inv_g!r}) AS BIGINT)"
            )
        )
        if person is None:
            rows = f"(SELECT {key} AS k, {v} AS v FROM {self._view})"
        else:
            p = self.check_column(person, "person column")
            rows = (
                f"(SELECT r.k, r.v FROM (SELECT p, k, v, row_number() OVER "
                f"(PARTITION BY p, k ORDER BY u) AS rr FROM (SELECT {p} AS p, {key} AS k, {v} AS v, "
                f"random() AS u FROM {self._view})) r JOIN "
                f"(SELECT p, k, row_number() OVER (PARTITION BY p ORDER BY u) AS pr FROM "
                f"(SELECT p, k, random() AS u FROM (SELECT DISTINCT {p} AS p, {key} AS k "
                f"FROM {self._view}))) pk "
                f"ON r.p IS NOT DISTINCT FROM pk.p AND r.k IS NOT DISTINCT FROM pk.k "
                f"WHERE rr <= {int(max_rows)} AND pr <= {int(max_partitions)})"
            )
        sql = f"SELECT k, count(*), coalesce(sum(v), 0) FROM {rows} GROUP BY k ORDER BY k"
        try:
            result = self._con.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise DataError(f"could not aggregate {self.name}: {exc}", path=self.name) from exc
        keys = [r[0] for r in result]
        counts = np.array([int(r[1]) for r in result], dtype=np.int64)
        sums = np.array([int(r[2]) for r in result], dtype=np.int64)
        return keys, counts, sums
