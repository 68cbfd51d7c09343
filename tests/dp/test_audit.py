"""Privacy audits (StatDP / DP-Sniper style): no mechanism shows more loss than it claims.

Each test runs a mechanism on two neighbouring inputs, picks the most revealing output event on
one batch of runs and bounds the real epsilon from below (Clopper-Pearson, 99%) on a fresh batch.
A correct mechanism's bound stays at or below its claim; the same audit, run on deliberately
broken versions (noise for half the sensitivity, a missing clamp, a low threshold), exceeds it,
which shows the audit is able to fail. Seeds are fixed, so every run gives the same numbers.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from veil.dp import (
    AboveThreshold,
    Count,
    ExponentialMechanism,
    GaussianMechanism,
    GroupBy,
    Histogram,
    KaryRandomizedResponse,
    LaplaceMechanism,
    Mean,
    Quantiles,
    RandomizedResponse,
    ReportNoisyMax,
    Sum,
)
from veil.dp.audit import audit, epsilon_lower_bound

RUNS = 100_000


def eps_lower(mech_d, mech_d2, *, delta: float = 0.0, runs: int = RUNS, statistic=None) -> float:
    """Return the audit's lower confidence bound on epsilon."""
    return audit(mech_d, mech_d2, runs=runs, delta=delta, statistic=statistic).epsilon_lower


# ----- the harness itself ----------------------------------------------------------------------


def test_the_lower_bound_is_zero_when_the_event_is_equally_likely() -> None:
    """Equal frequencies give no evidence of privacy loss."""
    assert epsilon_lower_bound(5000, 10_000, 5000, 10_000) == 0.0


def test_the_lower_bound_approaches_the_log_ratio_with_many_runs() -> None:
    """With a million runs the bound is just below ln(p/q)."""
    bound = epsilon_lower_bound(600_000, 10**6, 200_000, 10**6)
    assert np.log(3) - 0.02 < bound < np.log(3)


def test_delta_is_subtracted_before_the_ratio() -> None:
    """An event of probability <= delta under D proves nothing."""
    assert epsilon_lower_bound(10, 10**6, 0, 10**6, delta=1e-4) == 0.0


# ----- additive noise --------------------------------------------------------------------------


def test_laplace_passes_and_laplace_with_half_the_noise_is_caught(seeded) -> None:
    """Laplace at eps = 1 on neighbouring counts 0 and 1: bound <= 1; half the scale: bound > 1."""
    rng = seeded("audit-laplace")
    good = LaplaceMechanism(1)
    assert (
        eps_lower(lambda n: good.sample(1, n, rng=rng), lambda n: good.sample(0, n, rng=rng)) <= 1
    )
    broken = LaplaceMechanism(1)
    broken.scale = broken.scale / 2  # noise scaled for half the sensitivity
    caught = eps_lower(
        lambda n: broken.sample(1, n, rng=rng), lambda n: broken.sample(0, n, rng=rng)
    )
    assert caught > 1


def test_laplace_on_a_real_grid_passes(seeded) -> None:
    """Reals 0.0 and 1.0 (sensitivity 1) on the grid 2**-4 stay within eps = 0.5."""
    rng = seeded("audit-grid")
    mech = LaplaceMechanism("0.5", 1, granularity=2**-4)
    assert (
        eps_lower(lambda n: mech.sample(1.0, n, rng=rng), lambda n: mech.sample(0.0, n, rng=rng))
        <= 0.5
    )


def test_the_gaussian_passes_and_a_gaussian_with_half_sigma_is_caught(seeded) -> None:
    """(1, 1e-5)-DP Gaussian: bound <= 1 at delta = 1e-5; with sigma halved the bound exceeds 1."""
    rng = seeded("audit-gauss")
    good = GaussianMechanism(1, "1e-5")
    d, d2 = (lambda n: good.sample(1, n, rng=rng)), (lambda n: good.sample(0, n, rng=rng))
    assert eps_lower(d, d2, delta=1e-5, runs=200_000) <= 1
    broken = GaussianMechanism(1, "1e-5")
    broken.sigma2 = broken.sigma2 / 4
    d, d2 = (lambda n: broken.sample(1, n, rng=rng)), (lambda n: broken.sample(0, n, rng=rng))
    assert eps_lower(d, d2, delta=1e-5, runs=200_000) > 1


# ----- releases on datasets --------------------------------------------------------------------


@pytest.fixture
def base() -> np.ndarray:
    """A dataset; its neighbour adds one person at the upper bound."""
    return np.linspace(0, 100, 200)


def test_count_sum_and_mean_pass_on_neighbouring_datasets(base, seeded) -> None:
    """Adding one row at the bound shows at most the claimed epsilon for each release."""
    rng = seeded("audit-releases")
    neighbour = np.append(base, 100.0)
    for release in (Count(1), Sum(1, bounds=(0, 100), granularity=1), Mean(1, bounds=(0, 100))):
        bound = eps_lower(
            lambda n, r=release: r.sample(neighbour, n, rng=rng),
            lambda n, r=release: r.sample(base, n, rng=rng),
        )
        assert bound <= float(release.guarantee.epsilon), type(release).__name__


def test_a_sum_that_forgets_to_clamp_is_caught(base, seeded) -> None:
    """A neighbour adding 1000 to a sum bounded to [0, 100] breaks the guarantee unless clamped."""
    rng = seeded("audit-clamp")
    good = Sum(1, bounds=(0, 100), granularity=1)
    outlier = np.append(base, 1000.0)
    assert (
        eps_lower(
            lambda n: good.sample(outlier, n, rng=rng), lambda n: good.sample(base, n, rng=rng)
        )
        <= 1
    )
    # the broken release: noise for bounds [0, 100], applied to the unclamped sum
    noise = good._mech
    d = lambda n: noise.sample(int(base.sum() + 1000), n, rng=rng)  # noqa: E731
    d2 = lambda n: noise.sample(int(base.sum()), n, rng=rng)  # noqa: E731
    assert eps_lower(d, d2) > 1


def test_histograms_pass(base, seeded) -> None:
    """A histogram with one more row in one bin stays within its epsilon."""
    rng = seeded("audit-hist")
    hist = Histogram(1, bounds=(0, 100), bins=5)
    neighbour = np.append(base, 99.0)
    first_bin_of_last = lambda out: out[:, -1].astype(float)  # noqa: E731
    bound = eps_lower(
        lambda n: hist.sample(neighbour, n, rng=rng),
        lambda n: hist.sample(base, n, rng=rng),
        statistic=first_bin_of_last,
    )
    assert bound <= 1


def test_quantiles_pass(seeded) -> None:
    """The private median moves by at most its epsilon when one value is added."""
    rng = seeded("audit-quantiles")
    q = Quantiles(1, bounds=(0, 10), candidates=11)
    data = np.array([2.0, 4.0, 6.0, 8.0])
    neighbour = np.append(data, 10.0)
    bound = eps_lower(
        lambda n: q.sample(neighbour, n, rng=rng), lambda n: q.sample(data, n, rng=rng), runs=60_000
    )
    assert bound <= 1


def test_partition_selection_passes_and_a_low_threshold_is_caught(seeded) -> None:
    """A group created by one person appears with probability <= delta; threshold 1 leaks it."""
    rng = seeded("audit-groups")
    base = {"k": np.array(["a"] * 300)}
    neighbour = {"k": np.array(["a"] * 300 + ["rare"])}
    gb = GroupBy(1, by="k", keys=None, delta="1e-6")

    def rare_released(mech, data):
        def run(n):
            keys, _, released = mech.sample_counts(data, n, rng=rng)
            return released[:, keys.index("rare")] if "rare" in keys else np.zeros(n, bool)

        return run

    def statistic(out):
        return np.asarray(out, dtype=float)

    assert (
        eps_lower(
            rare_released(gb, neighbour), rare_released(gb, base), delta=1e-6, statistic=statistic
        )
        <= 1
    )
    leaky = GroupBy(1, by="k", keys=None, delta="1e-6")
    leaky.threshold = 1
    assert (
        eps_lower(
            rare_released(leaky, neighbour),
            rare_released(leaky, base),
            delta=1e-6,
            statistic=statistic,
        )
        > 1
    )


# ----- local randomizers and selection ---------------------------------------------------------


def test_the_articles_coins_cost_ln_3_and_no_more(seeded) -> None:
    """One respondent answering yes vs no: the bound is close to ln 3 and not above it."""
    rng = seeded("audit-rr")
    rr = RandomizedResponse()
    d = lambda n: rr.randomize(np.ones(n, bool), rng=rng)  # noqa: E731
    d2 = lambda n: rr.randomize(np.zeros(n, bool), rng=rng)  # noqa: E731
    bound = eps_lower(d, d2)
    assert np.log(3) - 0.05 < bound <= float(rr.guarantee.epsilon)


def test_epsilon_randomized_response_passes(seeded) -> None:
    """The epsilon form and the k-ary form stay within their epsilon."""
    rng = seeded("audit-rr-eps")
    rr = RandomizedResponse(epsilon=2)
    d = lambda n: rr.randomize(np.ones(n, bool), rng=rng)  # noqa: E731
    d2 = lambda n: rr.randomize(np.zeros(n, bool), rng=rng)  # noqa: E731
    assert eps_lower(d, d2) <= 2
    kary = KaryRandomizedResponse(["a", "b", "c", "d"], epsilon=1)
    d = lambda n: kary.randomize_codes(np.zeros(n, np.int64), rng=rng)  # noqa: E731
    d2 = lambda n: kary.randomize_codes(np.ones(n, np.int64), rng=rng)  # noqa: E731
    assert eps_lower(d, d2) <= 1


def test_the_exponential_mechanism_passes_and_a_doubled_exponent_is_caught(seeded) -> None:
    """Scores that move the winner up and the 49 others down: tight at eps, caught when doubled."""
    rng = seeded("audit-exp")
    d_scores, d2_scores = [1] + [0] * 49, [0] + [1] * 49
    good = ExponentialMechanism(1, list(range(50)), lambda data, cands: data)
    assert (
        eps_lower(
            lambda n: good.sample_indices(d_scores, n, rng=rng),
            lambda n: good.sample_indices(d2_scores, n, rng=rng),
        )
        <= 1
    )
    broken = ExponentialMechanism(1, list(range(50)), lambda data, cands: data)
    broken._coefficient = broken._coefficient * 2
    assert (
        eps_lower(
            lambda n: broken.sample_indices(d_scores, n, rng=rng),
            lambda n: broken.sample_indices(d2_scores, n, rng=rng),
        )
        > 1
    )


def test_report_noisy_max_passes_and_a_doubled_exponent_is_caught(seeded) -> None:
    """Permute-and-flip on neighbouring scores stays within eps; with twice the exponent it does not."""
    rng = seeded("audit-rnm")
    good, broken = ReportNoisyMax(1), ReportNoisyMax(1)
    broken._coefficient = Fraction(1)
    for mech, ok in ((good, True), (broken, False)):
        bound = eps_lower(
            lambda n, m=mech: m.sample_indices([0, 1, 0], n, rng=rng),
            lambda n, m=mech: m.sample_indices([1, 0, 0], n, rng=rng),
        )
        assert (bound <= 1) is ok


def test_sparse_vector_passes_and_one_with_too_little_query_noise_is_caught(seeded) -> None:
    """Answer patterns on neighbouring query streams stay within eps unless query noise is cut."""
    rng = seeded("audit-svt")
    d_queries, d2_queries = [0, 0, 0, 0, 0], [1, 1, 1, 1, -1]

    def pattern(out):
        return (out * (1 << np.arange(out.shape[1]))).sum(axis=1).astype(float)

    good = AboveThreshold(1, threshold=0)
    d = lambda n: good.sample_answers(d_queries, n, rng=rng)  # noqa: E731
    d2 = lambda n: good.sample_answers(d2_queries, n, rng=rng)  # noqa: E731
    assert eps_lower(d, d2, statistic=pattern) <= 1
    broken = AboveThreshold(1, threshold=0)
    broken.query_scale = broken.query_scale / 8
    d = lambda n: broken.sample_answers(d_queries, n, rng=rng)  # noqa: E731
    d2 = lambda n: broken.sample_answers(d2_queries, n, rng=rng)  # noqa: E731
    assert eps_lower(d, d2, statistic=pattern) > 1
