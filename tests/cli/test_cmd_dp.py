"""``veil dp release|rr|budget`` and ``veil bench dp``: exit codes and the --json shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veil.cli import exit_codes, main


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    """A CSV with an income column (public simulated data)."""
    path = tmp_path / "incomes.csv"
    rng = np.random.default_rng(5)
    pd.DataFrame({"income": rng.uniform(0, 100, 5000), "who": np.arange(5000) // 2}).to_csv(
        path, index=False
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    """Run the CLI and parse its JSON document."""
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("stat", ["count", "sum", "mean", "variance", "quantile", "histogram"])
def test_release_prints_value_epsilon_delta_and_mechanism(capsys, csv, stat) -> None:
    """Every statistic exits 0 and prints the versioned document with the issue's keys."""
    code, doc = run(
        capsys, "dp", "release", "--data", str(csv), "--column", "income", "--stat", stat,
        "--bounds", "0", "100", "--epsilon", "1",
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    assert next(iter(doc)) == "schema_version"
    assert {"value", "epsilon", "delta", "mechanism"} <= doc.keys()
    assert doc["epsilon"] == 1.0
    assert "remaining" not in doc


def test_release_with_gaussian_noise_states_its_delta(capsys, csv) -> None:
    """--noise gaussian --delta 1e-6 is charged as (1, 1e-6)."""
    code, doc = run(
        capsys, "dp", "release", "--data", str(csv), "--column", "income", "--stat", "sum",
        "--bounds", "0", "100", "--epsilon", "1", "--noise", "gaussian", "--delta", "1e-6",
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    assert doc["delta"] == 1e-6
    assert "Gaussian" in doc["mechanism"]


def test_release_with_a_ledger_reports_the_remaining_budget_then_refuses(
    capsys, csv, tmp_path
) -> None:
    """The first release leaves 0.4; the second (0.6) is refused with budget-exhausted."""
    ledger = str(tmp_path / "ledger.db")
    assert (
        run(capsys, "dp", "budget", "--ledger", ledger, "--dataset", "pay", "--epsilon", "1")[0]
        == 0
    )
    args = ["dp", "release", "--data", str(csv), "--column", "income", "--stat", "mean",
            "--bounds", "0", "100", "--epsilon", "0.6", "--ledger", ledger, "--dataset", "pay"]  # fmt: skip
    code, doc = run(capsys, *args)
    assert code == exit_codes.SUCCESS
    assert doc["remaining"]["epsilon"] == pytest.approx(0.4)
    code, doc = run(capsys, *args)
    assert code == exit_codes.ERROR
    assert doc["error"]["code"] == "budget-exhausted"
    assert doc["error"]["dataset"] == "pay"
    code, doc = run(capsys, "dp", "budget", "--ledger", ledger, "--dataset", "pay")
    assert doc["epsilon_spent"] == pytest.approx(0.6)
    assert doc["charges"] == 1


def test_an_unbounded_sum_is_refused_with_a_privacy_error(capsys, csv) -> None:
    """No --bounds: exit code ERROR, error code privacy-error, the message says why."""
    code, doc = run(
        capsys, "dp", "release", "--data", str(csv), "--column", "income", "--stat", "sum",
        "--epsilon", "1",
    )  # fmt: skip
    assert code == exit_codes.ERROR
    assert doc["error"]["code"] == "privacy-error"
    assert "unbounded" in doc["error"]["message"]
    assert "--bounds" in doc["error"]["hint"]


def test_a_wrong_column_is_refused_before_any_budget_is_charged(capsys, csv, tmp_path) -> None:
    """A typo in --column costs nothing: the ledger still shows no charge."""
    ledger = str(tmp_path / "l.db")
    run(capsys, "dp", "budget", "--ledger", ledger, "--dataset", "d", "--epsilon", "1")
    code, doc = run(
        capsys, "dp", "release", "--data", str(csv), "--column", "incme", "--stat", "mean",
        "--bounds", "0", "1", "--epsilon", "1", "--ledger", ledger, "--dataset", "d",
    )  # fmt: skip
    assert code == exit_codes.ERROR
    assert "income" in doc["error"]["message"]
    assert run(capsys, "dp", "budget", "--ledger", ledger, "--dataset", "d")[1]["charges"] == 0


def test_ledger_without_dataset_is_a_config_error(capsys, csv, tmp_path) -> None:
    """--ledger needs --dataset."""
    code, doc = run(
        capsys, "dp", "release", "--data", str(csv), "--column", "income", "--stat", "count",
        "--epsilon", "1", "--ledger", str(tmp_path / "l.db"),
    )  # fmt: skip
    assert code == exit_codes.ERROR
    assert "--dataset" in doc["error"]["message"]


def test_rr_simulates_the_poll_with_an_estimate_and_interval(capsys) -> None:
    """veil dp rr prints the estimate, its interval and ln 3 for the two coins."""
    code, doc = run(capsys, "dp", "rr", "--n", "20000", "--p", "0.3")
    assert code == exit_codes.SUCCESS
    assert {"estimate", "se", "ci_low", "ci_high", "epsilon", "yes_answers"} <= doc.keys()
    assert doc["ci_low"] <= doc["estimate"] <= doc["ci_high"]
    assert doc["epsilon"] == pytest.approx(np.log(3), abs=1e-9)
    assert abs(doc["estimate"] - 0.3) < 0.06


def test_rr_with_epsilon_uses_the_epsilon_form(capsys) -> None:
    """--epsilon 2 reports epsilon 2."""
    code, doc = run(capsys, "dp", "rr", "--n", "1000", "--p", "0.5", "--epsilon", "2")
    assert code == exit_codes.SUCCESS
    assert doc["epsilon"] == 2.0


def test_rr_refuses_a_share_outside_zero_one(capsys) -> None:
    """--p 1.5 is an error naming --p."""
    code, doc = run(capsys, "dp", "rr", "--n", "10", "--p", "1.5")
    assert code == exit_codes.ERROR
    assert "--p" in doc["error"]["message"]


def test_bench_dp_prints_every_key(capsys) -> None:
    """A small run prints the issue's keys with positive values."""
    code, doc = run(
        capsys, "bench", "dp", "--rows", "20000", "--group-rows", "5000", "--groups", "10",
        "--repeats", "1",
    )  # fmt: skip
    assert code == exit_codes.SUCCESS
    for key in (
        "count_mrows_per_s",
        "sum_mrows_per_s",
        "mean_mrows_per_s",
        "grouped_count_ms",
        "grouped_sum_ms",
        "sum_mae",
        "peak_rss_mb",
    ):
        assert doc[key] > 0, key


def test_demo_dp_sum_releases_a_noisy_total_with_its_guarantee(capsys) -> None:
    """In-process parties open one noisy total near the exact one; the guarantee is stated."""
    code, doc = run(capsys, "demo", "dp-sum", "--parties", "3", "--local")
    assert code == exit_codes.SUCCESS
    assert {"noisy_total", "epsilon", "delta", "mechanism", "threshold"} <= doc.keys()
    assert abs(doc["noisy_total"] - doc["exact_total_demo_only"]) < 8 * doc["noise_std"]
    assert len({p["noisy_total"] for p in doc["parties"]}) == 1


@pytest.mark.slow
def test_demo_dp_sum_runs_as_real_processes_over_tls(capsys) -> None:
    """Three party processes with their own certificates compute the same noisy total."""
    code, doc = run(capsys, "demo", "dp-sum", "--parties", "3", "--noise", "laplace")
    assert code == exit_codes.SUCCESS
    assert doc["delta"] == 0.0
    assert len({p["noisy_total"] for p in doc["parties"]}) == 1
