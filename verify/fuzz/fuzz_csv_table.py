"""Fuzz the CSV input path: any file content gives a Table and answers, or a DataError.

Party-local data enters through :meth:`veil.dp.sources.Table.from_file` (DuckDB's CSV reader).
On every input the loader and the aggregates a release asks for (row count, clamped sums of the
first column) must either work or raise :class:`veil.errors.DataError`; anything else (a raw
DuckDB exception, a crash) is a finding. Seeds: a few rows of the shipped ``penn`` data set.
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["veil"]):
    from veil.dp.sources import Table
    from veil.errors import DataError

from _harness import ROOT, run

WORK = ROOT / "out" / "fuzz" / "csv"


def test_one_input(data: bytes) -> None:
    """Write ``data`` as a CSV file, open it as a Table and ask for a count and a clamped sum."""
    path = WORK / "input.csv"
    path.write_bytes(data)
    try:
        table = Table.from_file(path)
        n = table.count_rows()
        if n < 0:
            raise AssertionError(f"negative row count {n}")
        if table.columns:
            table.grid_moments(table.columns[0], 0.0, 1.0, 100.0, 0, squares=True)
    except DataError:
        return


def seeds() -> list[bytes]:
    """The header and first rows of a shipped data set, and a few odd shapes."""
    from veil import datasets

    with open(datasets.path("penn"), "rb") as f:
        head = b"".join(f.readline() for _ in range(20))
    return [head, b"x\n1\n2\n", b"a,b\n1,\n,2\n", b'"q""x",y\n"1",2\n']


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    run("csv_table", test_one_input, seeds())
