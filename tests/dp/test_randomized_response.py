"""Randomized response: the article's coins, the epsilon form, k categories, and their estimators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from veil.dp import KaryRandomizedResponse, RandomizedResponse
from veil.errors import ConfigError, DataError

ALPHA = 1e-4


def test_the_coin_version_says_yes_with_probability_three_quarters_for_a_yes(seeded) -> None:
    """First coin tails: the truth; heads: the second coin. P[yes|yes] = 3/4, P[yes|no] = 1/4."""
    rr = RandomizedResponse()
    yes = rr.randomize(np.ones(40_000, bool), rng=seeded("rr-yes"))
    no = rr.randomize(np.zeros(40_000, bool), rng=seeded("rr-no"))
    assert stats.binomtest(int(yes.sum()), yes.size, 0.75).pvalue > ALPHA
    assert stats.binomtest(int(no.sum()), no.size, 0.25).pvalue > ALPHA


def test_the_coin_version_costs_ln_3(seeded) -> None:
    """The stated epsilon is ln 3, rounded up, for one respondent's answer (local model)."""
    g = RandomizedResponse().guarantee
    assert math.log(3) <= float(g.epsilon) < math.log(3) + 1e-9
    assert g.unit.local


def test_the_coin_estimate_is_two_n_over_n_minus_a_half() -> None:
    """With N yes among n the estimate is 2N/n - 1/2, as in the article."""
    answers = np.array([True] * 450 + [False] * 550)
    est = RandomizedResponse().estimate(answers)
    assert est.value == pytest.approx(2 * 450 / 1000 - 0.5)
    assert est.low < est.value < est.high


def test_the_estimate_is_unbiased_and_the_interval_covers(seeded) -> None:
    """Over 200 simulated polls the mean estimate is near p and 95% intervals cover about 95%."""
    rr = RandomizedResponse()
    rng = seeded("rr-cover")
    p, n = 0.3, 2000
    truths = np.arange(n) < int(p * n)
    estimates = [rr.estimate(rr.randomize(truths, rng=rng)) for _ in range(200)]
    values = np.array([e.value for e in estimates])
    assert abs(values.mean() - p) < 4 * values.std() / math.sqrt(200)
    coverage = np.mean([e.low <= p <= e.high for e in estimates])
    assert 0.89 <= coverage <= 0.99


@pytest.mark.parametrize("epsilon", ["1/2", 2])
def test_the_epsilon_form_tells_the_truth_with_probability_e_eps_over_1_plus_e_eps(
    seeded, epsilon
) -> None:
    """P[truth] = e^eps / (1 + e^eps) exactly."""
    rr = RandomizedResponse(epsilon=epsilon)
    yes = rr.randomize(np.ones(40_000, bool), rng=seeded(f"rr-eps{epsilon}"))
    e = math.exp(float(rr.epsilon))
    assert stats.binomtest(int(yes.sum()), yes.size, e / (1 + e)).pvalue > ALPHA
    assert rr.guarantee.epsilon == rr.epsilon


def test_k_ary_response_reports_the_truth_with_the_stated_probability(seeded) -> None:
    """P[truth] = e^eps / (e^eps + k - 1), other categories uniform."""
    rr = KaryRandomizedResponse(["a", "b", "c", "d"], epsilon=1)
    codes = rr.randomize_codes(np.zeros(40_000, dtype=np.int64), rng=seeded("kary"))
    e = math.exp(1)
    probs = [e / (e + 3)] + [1 / (e + 3)] * 3
    observed = np.bincount(codes, minlength=4)
    assert stats.chisquare(observed, np.array(probs) * codes.size).pvalue > ALPHA


def test_k_ary_estimates_recover_the_true_shares(seeded) -> None:
    """Estimated shares are within four standard errors of the truth."""
    rr = KaryRandomizedResponse(["red", "green", "blue"], epsilon=2)
    truth = ["red"] * 6000 + ["green"] * 1000 + ["blue"] * 3000
    est = rr.estimate(rr.release(truth, rng=seeded("kary-est")).value)
    for colour, share in {"red": 0.6, "green": 0.1, "blue": 0.3}.items():
        assert abs(est[colour].value - share) < 4 * est[colour].se


def test_answers_outside_the_categories_are_refused() -> None:
    """An unknown category is a DataError naming it."""
    rr = KaryRandomizedResponse(["a", "b"], epsilon=1)
    with pytest.raises(DataError, match="'z' is not one of the categories"):
        rr.release(["a", "z"])


def test_k_ary_needs_two_distinct_categories() -> None:
    """One category (or duplicates) cannot be randomized."""
    with pytest.raises(ConfigError, match="at least 2 distinct"):
        KaryRandomizedResponse(["a", "a"], epsilon=1)


def test_non_boolean_truths_are_refused() -> None:
    """Yes/no answers must be booleans or 0/1."""
    with pytest.raises(DataError, match="booleans"):
        RandomizedResponse().randomize(np.array([0, 1, 2]))
