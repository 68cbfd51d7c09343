"""DP release of an audit: veil.dp's exact discrete Laplace noise, its spread, and the ledger."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from veil.analytics.fairness import DiscreteLaplaceCounts, audit
from veil.cli import main
from veil.dp.ledger import Ledger
from veil.errors import BudgetExhausted, ConfigError, PrivacyError
from veil.field import Csprng


def _laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace with P[z] ∝ exp(−|z|/scale): 2q/(1−q)²."""
    q = np.exp(-1 / scale)
    return 2 * q / (1 - q) ** 2


def test_noisy_counts_are_centred_on_the_truth_with_the_stated_spread() -> None:
    """At ε = 1/2 the noise has mean 0 and the discrete Laplace variance (seeded, 20,000 draws)."""
    mech = DiscreteLaplaceCounts(epsilon=0.5)
    draws = mech.release(np.full((100, 200), 1000), rng=Csprng(seed=bytes(32))) - 1000
    var = _laplace_variance(2.0)
    assert draws.dtype == np.int64
    assert draws.shape == (100, 200)
    assert abs(draws.mean()) < 5 * np.sqrt(var / draws.size)
    # the sample variance of Laplace noise has relative sd ≈ sqrt(5/n) (kurtosis 6)
    assert abs(draws.var() - var) < 5 * np.sqrt(5 / draws.size) * var


def test_the_mechanism_states_its_guarantee_before_releasing() -> None:
    """ε is read exactly as typed (0.1 is 1/10), δ is 0, the unit is one row, scale is Δ/ε."""
    mech = DiscreteLaplaceCounts(epsilon=0.1, sensitivity=2)
    assert mech.guarantee.epsilon == Fraction(1, 10)
    assert mech.guarantee.delta == 0
    assert mech.scale == 20
    assert mech.describe()["privacy_unit"] == "one person adding or removing up to 1 row"


def test_fractional_counts_are_refused() -> None:
    """Weighted (non-integer) counts have another sensitivity and are not released."""
    with pytest.raises(PrivacyError, match="only integer counts"):
        DiscreteLaplaceCounts(epsilon=1).release(np.array([1.5, 2.0]))


def _many_groups(n_groups: int = 500, size: int = 60) -> tuple[np.ndarray, ...]:
    """Public simulated predictions in many equal-sized groups (1 in 3 positive)."""
    rng = np.random.default_rng(7)
    n = n_groups * size
    group = np.repeat(np.arange(n_groups), size).astype(str)
    return rng.integers(0, 2, n), (rng.random(n) < 1 / 3).astype(int), group


def test_the_audits_noisy_group_counts_have_the_spread_of_four_noisy_cells() -> None:
    """A group's count sums four noisy cells: mean error 0, variance 4·var(ε) (500 groups)."""
    y, pred, group = _many_groups()
    errors = []
    for _ in range(4):
        r = audit(y, pred, sensitive_features=group, epsilon=0.5, n_bootstrap=0)
        errors.append(r.primary.metrics["count"].to_numpy() - 60)
    err = np.concatenate(errors).astype(float)
    var = 4 * _laplace_variance(2.0)
    assert abs(err.mean()) < 5 * np.sqrt(var / err.size)
    # rounding to integers and clipping at 0 leave it unchanged (counts are far from 0)
    assert abs(err.var() - var) < 5 * np.sqrt(2.75 / err.size) * var


def test_an_exact_audit_has_no_noise_at_all() -> None:
    """Without epsilon the group counts are exact (so the test above can fail)."""
    y, pred, group = _many_groups(50)
    r = audit(y, pred, sensitive_features=group, n_bootstrap=0)
    assert (r.primary.metrics["count"] == 60).all()
    assert r.privacy is None


def test_the_split_between_tables_adds_up_to_epsilon_exactly(german: pd.DataFrame) -> None:
    """With scores, ε is split between the confusion and calibration tables without remainder."""
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"],
              score=german["duration"] / 72, epsilon=0.3, calibration_share=0.25,
              n_bootstrap=0)  # fmt: skip
    assert r.privacy is not None
    split = r.privacy["split"]
    assert Fraction(repr(split["confusion_table"])) + Fraction(repr(split["calibration_table"])) \
        == Fraction(3, 10)  # fmt: skip
    assert split["calibration_table"] == pytest.approx(0.075)


def test_an_audit_charges_the_ledger_before_releasing_and_reports_what_remains(
    german: pd.DataFrame,
) -> None:
    """One charge of the whole ε is recorded as revealed; the result states the remaining ε."""
    book = Ledger(":memory:")
    book.create_budget("credit", epsilon=1)
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"],
              score=german["duration"] / 72, epsilon=0.6, ledger=book, dataset="credit",
              n_bootstrap=0)  # fmt: skip
    assert r.privacy is not None
    assert r.privacy["ledger"]["remaining_epsilon"] == pytest.approx(0.4)
    (charge,) = book.history("credit")
    assert charge.epsilon == Fraction(3, 5)
    assert charge.status == "revealed"
    assert "fairness audit" in charge.mechanism


def test_an_exhausted_budget_refuses_the_audit_and_records_nothing(german: pd.DataFrame) -> None:
    """A charge that does not fit raises BudgetExhausted; the budget and history stay unchanged."""
    book = Ledger(":memory:")
    book.create_budget("credit", epsilon=1)
    audit(german["y"], german["pred"], sensitive_features=german["sex"], epsilon=0.75,
          ledger=book, dataset="credit", n_bootstrap=0)  # fmt: skip
    with pytest.raises(BudgetExhausted, match=r"'credit'.*remaining ε=0.25"):
        audit(german["y"], german["pred"], sensitive_features=german["sex"], epsilon=0.5,
              ledger=book, dataset="credit", n_bootstrap=0)  # fmt: skip
    assert book.budget("credit").remaining_epsilon == Fraction(1, 4)
    assert len(book.history("credit")) == 1


def test_a_ledger_needs_a_dataset_and_an_epsilon(german: pd.DataFrame) -> None:
    """ledger= without dataset=, or without epsilon=, is refused before any work."""
    y, p, s = german["y"], german["pred"], german["sex"]
    with pytest.raises(ConfigError, match="ledger= and dataset= go together"):
        audit(y, p, sensitive_features=s, epsilon=1, ledger=":memory:")
    with pytest.raises(ConfigError, match="only with epsilon="):
        audit(y, p, sensitive_features=s, ledger=":memory:", dataset="x")


def test_the_cli_charges_the_ledger_and_refuses_once_it_is_spent(
    german: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veil fair audit --ledger --dataset` reports what remains, then exits 3 when spent."""
    data = tmp_path / "german.csv"
    german.to_csv(data, index=False)
    db = str(tmp_path / "budget.db")
    assert main(["dp", "budget", "--ledger", db, "--dataset", "credit", "--epsilon", "1"]) == 0
    capsys.readouterr()
    args = ["fair", "audit", "--data", str(data), "--prediction", "pred", "--label", "y",
            "--group", "sex", "--group-values", "sex=female,male", "--epsilon", "0.6",
            "--ledger", db, "--dataset", "credit", "--bootstrap", "0", "--json"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["privacy"]["ledger"]["dataset"] == "credit"
    assert doc["privacy"]["ledger"]["remaining_epsilon"] == pytest.approx(0.4)
    assert doc["privacy"]["groups"].startswith("public")
    assert main(args) == 3
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "budget-exhausted"
    assert "remaining ε=0.4" in error["message"]


def test_public_group_values_fix_the_list_of_groups_whatever_the_data(
    german: pd.DataFrame,
) -> None:
    """With group_values every listed group is reported, also one absent from the data."""
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"], epsilon=1,
              group_values={"sex": ["female", "male", "diverse"]}, n_bootstrap=0)  # fmt: skip
    assert r.primary.metrics["key"].tolist() == ["female", "male", "diverse"]
    assert r.privacy is not None
    assert r.privacy["groups"].startswith("public")
    assert not any("read from the data" in f for f in r.flags)


def test_without_group_values_a_private_audit_says_the_groups_came_from_the_data(
    german: pd.DataFrame,
) -> None:
    """The data-dependent list of groups is stated, not hidden."""
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"], epsilon=1,
              n_bootstrap=0)  # fmt: skip
    assert any("read from the data" in f for f in r.flags)


def test_rows_outside_the_group_values_are_left_out_and_counted_when_exact(
    german: pd.DataFrame,
) -> None:
    """An exact audit restricted to one public value counts only those rows and says so."""
    r = audit(german["y"], german["pred"], sensitive_features=german["sex"],
              group_values={"sex": ["female"]}, n_bootstrap=0)  # fmt: skip
    assert r.primary.metrics["count"].tolist() == [int((german["sex"] == "female").sum())]
    assert f"{int((german['sex'] == 'male').sum())} rows with values outside" in r.flags[0]


def test_group_values_must_cover_every_sensitive_feature(german: pd.DataFrame) -> None:
    """A missing attribute in group_values is named."""
    with pytest.raises(ConfigError, match="no values for the sensitive feature 'young'"):
        audit(german["y"], german["pred"], sensitive_features=german[["sex", "young"]],
              group_values={"sex": ["female", "male"]}, epsilon=1)  # fmt: skip


def test_the_cli_names_a_malformed_group_values_option(
    german: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--group-values without '=' exits 3 with the expected shape in the message."""
    data = tmp_path / "german.csv"
    german.to_csv(data, index=False)
    code = main(["fair", "audit", "--data", str(data), "--prediction", "pred", "--label", "y",
                 "--group", "sex", "--group-values", "female,male", "--json"])  # fmt: skip
    assert code == 3
    error = json.loads(capsys.readouterr().out)["error"]
    assert "COLUMN=VALUE1,VALUE2; got 'female,male'" in error["message"]
