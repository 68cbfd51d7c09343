"""``veil fair audit`` and ``veil bench fair``: exit codes and JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from veil.cli import main


@pytest.fixture
def predictions_csv(german: pd.DataFrame, tmp_path: Path) -> Path:
    """German credit with a rule's predictions and a score, written as CSV."""
    df = german.copy()
    df["score"] = (1 - df["duration"] / 72).clip(0, 1)
    path = tmp_path / "german.csv"
    df.to_csv(path, index=False)
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_audit_json_has_groups_and_the_three_differences(
    predictions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented JSON keys are present, per group and at the top level."""
    code, doc = _run(
        ["fair", "audit", "--data", str(predictions_csv), "--prediction", "pred", "--label", "y",
         "--group", "sex", "--bootstrap", "50", "--seed", "1", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert doc["schema_version"] == 1
    assert set(doc["groups"]) == {"female", "male"}
    for entry in doc["groups"].values():
        assert {"count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate"} <= set(
            entry
        )
    for key in ("demographic_parity_difference", "equalized_odds_difference",
                "equal_opportunity_difference"):  # fmt: skip
        assert 0 <= doc[key] <= 1


def test_audit_with_epsilon_reports_the_privacy_split(
    predictions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--epsilon releases noisy counts and states epsilon in the JSON."""
    code, doc = _run(
        ["fair", "audit", "--data", str(predictions_csv), "--prediction", "pred", "--label", "y",
         "--group", "sex", "--group", "young", "--epsilon", "0.5", "--bootstrap", "20", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert doc["privacy"]["epsilon"] == 0.5
    assert len(doc["groups"]) == 4


def test_audit_writes_an_html_report_and_prints_tables(
    predictions_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--html writes a page with embedded plots; the tables go to stderr, not stdout."""
    html = tmp_path / "report.html"
    code = main(["fair", "audit", "--data", str(predictions_csv), "--prediction", "pred",
                 "--label", "y", "--group", "sex", "--bootstrap", "20", "--html", str(html)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert "demographic_parity" in captured.err
    assert "data:image/png;base64," in html.read_text(encoding="utf-8")


def test_audit_exits_1_when_a_gap_exceeds_max_gap(
    predictions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-gap turns a large disparity into exit code 1 (a finding), with finding=true."""
    code, doc = _run(
        ["fair", "audit", "--data", str(predictions_csv), "--prediction", "pred", "--label", "y",
         "--group", "sex", "--bootstrap", "0", "--max-gap", "0.0001", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 1
    assert doc["finding"] is True


def test_audit_names_a_missing_column_and_exits_3(
    predictions_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt column is a bad-data error naming the column and the file."""
    code, doc = _run(
        ["fair", "audit", "--data", str(predictions_csv), "--prediction", "pred", "--label", "y",
         "--group", "gender", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert doc["error"]["code"] == "bad-data"
    assert doc["error"]["field"] == "gender"
    assert "german.csv" in doc["error"]["message"]


def test_audit_of_a_missing_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data path that does not exist fails with exit 3 and the path."""
    code, doc = _run(
        ["fair", "audit", "--data", str(tmp_path / "nope.csv"), "--prediction", "p", "--label",
         "y", "--group", "g", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert "does not exist" in doc["error"]["message"]


def test_bench_rejects_an_unknown_method(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --method is a config error listing the known ones."""
    code, doc = _run(["bench", "fair", "--method", "magic", "--json"], capsys)
    assert code == 3
    assert "eg_demographic_parity" in doc["error"]["message"]


@pytest.mark.slow
def test_bench_json_has_the_promised_keys_per_method(capsys: pytest.CaptureFixture[str]) -> None:
    """bench fair --json reports accuracy, dp_gap, eo_gap and cpu_s for the method run."""
    code, doc = _run(
        ["bench", "fair", "--repeats", "1", "--method", "thresholds_demographic_parity",
         "--blas-threads", "1", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert doc["blas_threads"] == 1
    (result,) = doc["methods"].values()
    assert {"accuracy", "dp_gap", "eo_gap", "cpu_s"} <= set(result)
    assert result["dp_gap"] < 0.05
    assert 0.8 < result["accuracy"] < 0.9
