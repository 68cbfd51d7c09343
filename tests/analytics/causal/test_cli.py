"""`veil causal estimate` and `veil bench causal`: exit codes and the --json shape."""

from __future__ import annotations

import json

import pytest

from veil.cli import exit_codes, main
from veil.datasets import load

PROP99 = [
    "--data", "prop99", "--unit", "State", "--time", "Year",
    "--outcome", "PacksPerCapita", "--treatment", "treated",
]  # fmt: skip
KEYS = {"method", "att", "se", "ci_low", "ci_high", "n_units", "n_periods", "n_treated_cells"}


def run(capsys, *args: str) -> tuple[int, dict]:
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize(("method", "att"), [("did", -27.35), ("sc", -19.62), ("sdid", -15.60)])
def test_estimate_prints_the_documented_json(capsys, method, att) -> None:
    """--json has the issue's keys, schema_version first, and the Prop 99 estimate."""
    code, doc = run(capsys, "causal", "estimate", *PROP99, "--method", method, "--json")
    assert code == exit_codes.SUCCESS
    assert next(iter(doc)) == "schema_version"
    assert set(doc) >= KEYS
    assert doc["att"] == pytest.approx(att, abs=0.05)
    assert (doc["n_units"], doc["n_periods"], doc["n_treated_cells"]) == (39, 31, 12)
    assert doc["se"] is None


def test_estimate_with_placebo_se_gives_an_interval(capsys) -> None:
    """--se placebo fills se and a CI around the estimate."""
    code, doc = run(
        capsys, "causal", "estimate", *PROP99, "--method", "sdid", "--se", "placebo",
        "--replications", "10", "--json",
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    assert doc["se"] > 0
    assert doc["ci_low"] < doc["att"] < doc["ci_high"]
    assert doc["se_method"] == "placebo"


def test_estimate_reads_a_csv_and_writes_a_plot(capsys, tmp_path) -> None:
    """A CSV path works and --plot writes a PNG."""
    csv = tmp_path / "panel.csv"
    load("prop99").to_csv(csv, index=False)
    png = tmp_path / "plot.png"
    args = [a if a != "prop99" else str(csv) for a in PROP99]
    code, doc = run(
        capsys, "causal", "estimate", *args, "--method", "sc", "--plot", str(png), "--json"
    )
    assert code == exit_codes.SUCCESS
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert doc["plot"] == str(png)


def test_an_unknown_method_is_an_error_naming_the_known_ones(capsys) -> None:
    """An unregistered --method exits with the error code and a JSON error listing methods."""
    code, doc = run(capsys, "causal", "estimate", *PROP99, "--method", "nope", "--json")
    assert code == exit_codes.ERROR
    assert doc["error"]["code"] == "invalid-config"
    assert "sdid" in doc["error"]["message"]


def test_a_wrong_column_is_named(capsys) -> None:
    """A misspelt outcome column is reported with the columns that exist."""
    args = [a if a != "PacksPerCapita" else "Packs" for a in PROP99]
    code, doc = run(capsys, "causal", "estimate", *args, "--json")
    assert code == exit_codes.ERROR
    assert "['Packs'] not in the data" in doc["error"]["message"]


def test_a_missing_file_is_named(capsys, tmp_path) -> None:
    """A data path that does not exist is a bad-data error naming it."""
    missing = str(tmp_path / "nope.csv")
    args = [a if a != "prop99" else missing for a in PROP99]
    code, doc = run(capsys, "causal", "estimate", *args, "--json")
    assert code == exit_codes.ERROR
    assert doc["error"]["code"] == "bad-data"
    assert doc["error"]["path"] == missing


def test_a_human_run_prints_a_table_on_stderr(capsys) -> None:
    """Without --json stdout stays empty and the table goes to stderr."""
    assert main(["causal", "estimate", *PROP99, "--method", "did"]) == exit_codes.SUCCESS
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "-27.349" in captured.err


def test_bench_reports_its_keys(capsys) -> None:
    """`veil bench causal --json` prints the placebo timing keys in seconds."""
    code, doc = run(
        capsys, "bench", "causal", "--json", "--repeat", "1",
        "--only", "sdid_placebo200_s", "--only", "sc_placebo200_s",
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    assert doc["sdid_placebo200_s"] > 0
    assert doc["sc_placebo200_s"] > 0


def test_bench_refuses_an_unknown_benchmark(capsys) -> None:
    """--only with an unknown name lists the known ones."""
    code, doc = run(capsys, "bench", "causal", "--only", "nope", "--json")
    assert code == exit_codes.ERROR
    assert "sdid_large_s" in doc["error"]["message"]
