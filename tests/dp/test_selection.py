"""Selection mechanisms sample exactly the distribution they claim."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from veil.dp import AboveThreshold, ExponentialMechanism, ReportNoisyMax
from veil.errors import DataError, PrivacyError

ALPHA = 1e-4


def _chi2(indices: np.ndarray, probs: list[float]) -> float:
    observed = np.bincount(indices, minlength=len(probs))
    return float(stats.chisquare(observed, np.array(probs) * indices.size).pvalue)


def test_the_exponential_mechanism_selects_with_probability_proportional_to_exp_score(
    seeded,
) -> None:
    """P[r] is proportional to exp(eps * score / (2 * sensitivity))."""
    scores = [0, 1, 2, 4]
    mech = ExponentialMechanism(1, ["a", "b", "c", "d"], lambda data, cands: data)
    draws = mech.sample_indices(scores, 40_000, rng=seeded("expmech"))
    weights = [math.exp(s / 2) for s in scores]
    assert _chi2(draws, [w / sum(weights) for w in weights]) > ALPHA


def test_monotonic_scores_use_the_sharper_weights(seeded) -> None:
    """With monotonic=True the weights are exp(eps * score / sensitivity)."""
    mech = ExponentialMechanism(
        "1/2", [0, 1, 2], lambda data, cands: data, sensitivity=1, monotonic=True
    )
    draws = mech.sample_indices([3, 0, 1.5], 40_000, rng=seeded("expmono"))
    weights = [math.exp(s / 2) for s in (3, 0, 1.5)]
    assert _chi2(draws, [w / sum(weights) for w in weights]) > ALPHA


def test_approval_voting_picks_the_most_approved_option_when_the_margin_is_large(seeded) -> None:
    """With hundreds of ballots and eps = 1 the winner is the true winner."""
    ballots = [{"tea"}] * 300 + [{"coffee", "tea"}] * 100 + [{"coffee"}] * 150

    def approvals(data, options):
        return [sum(option in ballot for ballot in data) for option in options]

    vote = ExponentialMechanism(1, ["tea", "coffee", "water"], approvals, monotonic=True)
    assert vote.release(ballots, rng=seeded("vote")).value == "tea"


def test_a_score_function_returning_the_wrong_length_is_refused() -> None:
    """One score per candidate, or a DataError saying so."""
    mech = ExponentialMechanism(1, ["a", "b"], lambda data, cands: [1, 2, 3])
    with pytest.raises(DataError, match="3 values for 2 candidates"):
        mech.release(None)


def _permute_and_flip_probs(scores: list[float], eps: float) -> list[float]:
    k, top = len(scores), max(scores)
    accept = [math.exp(eps * (s - top) / 2) for s in scores]
    probs = [0.0] * k
    for order in itertools.permutations(range(k)):
        reach = 1.0 / math.factorial(k)
        for r in order:
            probs[r] += reach * accept[r]
            reach *= 1 - accept[r]
    return probs


def test_report_noisy_max_follows_the_permute_and_flip_distribution(seeded) -> None:
    """Selections match the exact permute-and-flip probabilities, computed by enumeration."""
    scores = [5, 4, 3, 1]
    draws = ReportNoisyMax(1).sample_indices(scores, 40_000, rng=seeded("rnm"))
    assert _chi2(draws, _permute_and_flip_probs(scores, 1.0)) > ALPHA


def test_report_noisy_max_is_at_least_as_accurate_as_the_exponential_mechanism(seeded) -> None:
    """Permute-and-flip picks the best candidate at least as often (McKenna & Sheldon 2020)."""
    scores = [5, 4, 3, 1]
    pf = _permute_and_flip_probs(scores, 1.0)[0]
    weights = [math.exp(s / 2) for s in scores]
    assert pf >= weights[0] / sum(weights)


def test_above_threshold_flags_the_first_query_far_above_and_then_halts(seeded) -> None:
    """Queries far below answer False, one far above answers True, then the session halts."""
    session = AboveThreshold(epsilon=2, threshold=1000).start(rng=seeded("svt"))
    assert [session.test(q) for q in (0, 10, 5000)] == [False, False, True]
    assert session.halted
    with pytest.raises(PrivacyError, match="halted"):
        session.test(0)


def test_above_threshold_answers_every_query_below_without_halting(seeded) -> None:
    """Any number of below-threshold answers are free: the session keeps going."""
    svt = AboveThreshold(epsilon=1, threshold=10_000, max_above=2)
    answers = svt.sample_answers([0] * 50, 200, rng=seeded("svt-many"))
    assert not answers.any()


def test_a_sparse_vector_session_stops_after_max_above_positives(seeded) -> None:
    """With c = 2 at most two True answers appear in any session."""
    svt = AboveThreshold(epsilon=1, threshold=0, max_above=2)
    answers = svt.sample_answers([1000] * 10, 500, rng=seeded("svt-c"))
    assert (answers.sum(axis=1) == 2).all()
    assert answers[:, :2].all()


def test_sparse_vector_release_lists_the_indices_above(seeded) -> None:
    """release() runs one session over a list and returns the positive indices."""
    out = AboveThreshold(epsilon=4, threshold=50, max_above=2).release(
        [0, 200, 1, 300, 400], rng=seeded("svt-rel")
    )
    assert out.value == [1, 3]
    assert out.guarantee.epsilon == 4


def test_sparse_vector_refuses_real_queries_without_a_granularity() -> None:
    """A fractional query needs a grid; the error says how to give one."""
    session = AboveThreshold(epsilon=1, threshold=0).start()
    with pytest.raises(DataError, match="must be an integer"):
        session.test(0.5)


def test_sparse_vector_with_a_granularity_accepts_reals(seeded) -> None:
    """With granularity 2**-8, real queries and thresholds work."""
    svt = AboveThreshold(epsilon=2, threshold=0.5, granularity=2**-8)
    session = svt.start(rng=seeded("svt-real"))
    assert session.test(-100.25) is False
