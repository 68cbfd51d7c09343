"""DP pay gaps: clamped means and DP medians through veil.dp, the ε split, the ledger."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from veil.analytics.fairness import pay_gap
from veil.dp.ledger import Ledger
from veil.errors import BudgetExhausted, PrivacyError


def _payroll(n: int = 12_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Public simulated payroll: three jobs, women in the lower-paid ones and paid 5% less."""
    rng = np.random.default_rng(3)
    job = rng.choice(["eng", "ops", "admin"], n, p=[0.3, 0.3, 0.4])
    female = rng.random(n) < np.where(job == "eng", 0.2, 0.6)
    base = np.select([job == "eng", job == "ops"], [100.0, 60.0], 45.0)
    pay = base * (1 - 0.05 * female) * rng.lognormal(0, 0.15, n)
    return pay, np.where(female, "woman", "man"), job


def test_a_private_pay_gap_is_close_to_the_exact_one_on_a_large_payroll() -> None:
    """At ε = 1 on 60,000 rows every relative gap is within one point of the exact one.

    The adjusted mean gap has the largest noise: sums get ε/6 with sensitivity 125, so noise
    of standard deviation ≈ 1,060 on sums over cells of 3,500–15,000 rows, about 0.18 points
    of relative gap; one point is over 5 standard deviations (and far below the 5-point
    adjusted gap, or the 27-point raw gap, so mixing them up would fail).
    """
    pay, gender, job = _payroll(60_000)
    exact = pay_gap(pay, gender, categories=job, n_bootstrap=0)
    private = pay_gap(pay, gender, categories=job, epsilon=1, bounds=(0, 250),
                      group_values=["man", "woman"], category_values=["eng", "ops", "admin"])  # fmt: skip
    for stat in ("mean", "median"):
        for kind in ("raw", "adjusted"):
            assert abs(private.gap("woman", stat, kind) - exact.gap("woman", stat, kind)) < 0.01
    assert private.reference == "man"
    assert private.by_category is not None
    assert set(private.by_category["category"]) == {"eng", "ops", "admin"}


def test_the_split_of_epsilon_is_stated_and_adds_up() -> None:
    """With categories ε is split in three: cell counts and sums, cell medians, group medians."""
    pay, gender, job = _payroll(3000)
    r = pay_gap(pay, gender, categories=job, epsilon="3/10", bounds=(0, 250))
    assert r.privacy is not None
    assert r.privacy["epsilon"] == pytest.approx(0.3)
    assert set(r.privacy["split"]) == {"cell counts and centred sums", "cell medians",
                                       "group medians"}  # fmt: skip
    assert sum(r.privacy["split"].values()) == pytest.approx(0.3)
    assert r.privacy["bounds"] == [0.0, 250.0]
    assert any("no intervals under DP" in f for f in r.flags)
    assert any("read from the data" in f for f in r.flags)
    assert "gap_low" not in r.gaps


def test_without_categories_the_split_is_in_two() -> None:
    """Without categories, cells are the groups: counts and sums, and medians, ε/2 each."""
    pay, gender, _ = _payroll(3000)
    r = pay_gap(pay, gender, epsilon=1, bounds=(0, 250), group_values=["man", "woman"])
    assert r.privacy is not None
    assert r.privacy["split"] == {"cell counts and centred sums": 0.5, "cell medians": 0.5}
    assert set(r.gaps["kind"]) == {"raw"}


@pytest.mark.slow
def test_the_noisy_mean_has_the_spread_of_the_clamped_sum_noise() -> None:
    """Pay fixed at the bounds' midpoint: a group mean's error is sum noise / n (statistical).

    ε = 1 without categories gives ε/4 to the sums; with bounds (0, 100) the centred sum has
    sensitivity 50, so the noise has scale 200 and standard deviation ≈ 283, i.e. 0.283 on a
    mean over 1,000 rows.
    """
    pay = np.full(2000, 50.0)
    gender = np.repeat(["man", "woman"], 1000)
    gaps = np.array([
        pay_gap(pay, gender, epsilon=1, bounds=(0, 100), group_values=["man", "woman"],
                reference="man")
        .gaps.loc[0, "gap"]
        for _ in range(200)
    ])  # fmt: skip
    # the gap is the difference of two independent noisy means, each with sd √2·200/1000
    expected_sd = np.sqrt(2) * np.sqrt(2) * 200 / 1000
    assert abs(gaps.mean()) < 5 * expected_sd / np.sqrt(gaps.size)
    # over 200 releases the sample sd has a relative sd of about 0.066: ±30% is 4.5 of those
    assert 0.7 * expected_sd < gaps.std() < 1.3 * expected_sd


def test_a_private_pay_gap_needs_public_bounds_and_no_weights() -> None:
    """Missing bounds and sample weights are refused before anything is released."""
    pay, gender, _ = _payroll(500)
    with pytest.raises(PrivacyError, match=r"needs bounds=\(lower, upper\).*got None"):
        pay_gap(pay, gender, epsilon=1)
    with pytest.raises(PrivacyError, match="sample weights"):
        pay_gap(pay, gender, epsilon=1, bounds=(0, 250), sample_weight=np.ones(500))


def test_a_private_pay_gap_charges_the_ledger_and_is_refused_when_spent() -> None:
    """One charge of ε is recorded; a second that does not fit raises BudgetExhausted."""
    pay, gender, job = _payroll(2000)
    book = Ledger(":memory:")
    book.create_budget("payroll", epsilon=1)
    r = pay_gap(pay, gender, categories=job, epsilon="0.6", bounds=(0, 250), ledger=book,
                dataset="payroll")  # fmt: skip
    assert r.privacy is not None
    assert r.privacy["ledger"]["remaining_epsilon"] == pytest.approx(0.4)
    assert book.history("payroll")[0].epsilon == Fraction(3, 5)
    with pytest.raises(BudgetExhausted):
        pay_gap(pay, gender, epsilon="0.6", bounds=(0, 250), ledger=book, dataset="payroll")
    assert len(book.history("payroll")) == 1


def test_rows_outside_public_values_are_left_out_of_an_exact_gap() -> None:
    """group_values also restricts an exact computation, and says how many rows it left out."""
    pay = np.array([10.0, 12, 8, 9, 20, 16, 30])
    gender = np.array(["m", "m", "f", "f", "m", "f", "x"])
    r = pay_gap(pay, gender, group_values=["m", "f"], n_bootstrap=0)
    assert r.gap("f", "mean") == pytest.approx(1 - 11 / 14)
    assert r.flags == ["1 rows with values outside group_values or category_values left out"]
