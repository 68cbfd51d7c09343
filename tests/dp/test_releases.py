"""Private statistics: derived sensitivities, exact grid answers, clamping, bounding, refusals."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from veil.dp import Count, Histogram, Mean, Quantiles, Sum, Variance, sequential
from veil.errors import ConfigError, DataError, PrivacyError

# With this epsilon every noise scale below is under 1e-3 grid units, so the noise is 0 except with
# probability below 2·exp(-1000): a release shows the exact (clamped, gridded) answer, which makes
# these differential tests of the kernels.
HUGE = 10**12


@pytest.fixture
def values() -> np.ndarray:
    """Public test data: 50,000 floats spread beyond the bounds [0, 100], with some NaN."""
    x = np.random.default_rng(7).uniform(-20, 120, 50_000)
    x[::13] = np.nan
    return x


def test_sensitivities_are_derived_from_bounds_and_contributions() -> None:
    """Sum: k * max(|a|, |b|); count: k; the guarantee is known before any data."""
    s = Sum(1, bounds=(-30, 100), max_contributions=3)
    assert s.sensitivity == 300
    assert s.guarantee.epsilon == 1
    assert s.guarantee.unit.max_contributions == 3
    assert "scale 3" in Count(1, max_contributions=3).description


def test_every_release_states_the_sensitivity_of_each_noisy_part() -> None:
    """Mean: count k and centred sum k(b-a)/2; variance adds k((b-a)/2)^2; in the data's units."""
    assert Mean(1, bounds=(0, 100), max_contributions=2).sensitivities == {
        "count": 2,
        "centred_sum": 100,
    }
    assert Variance(1, bounds=(-1, 1)).sensitivities == {
        "count": 1,
        "centred_sum": 1,
        "centred_sum_of_squares": 1,
    }
    assert Histogram(1, categories=["a", "b"], max_contributions=3).sensitivities == {
        "counts_l1": 3
    }
    assert Quantiles(1, bounds=(0, 1), quantiles=[0.9]).sensitivities == {"score_0.9": 9}


def test_an_unbounded_sum_is_a_privacy_error_that_explains_why() -> None:
    """No bounds: refused with a message about unbounded sensitivity and a hint to clamp."""
    with pytest.raises(PrivacyError, match="unbounded") as info:
        Sum(epsilon=1)
    assert "bounds=(lower, upper)" in (info.value.hint or "")
    with pytest.raises(PrivacyError, match="needs bounds"):
        Mean(epsilon=1)


def test_the_sum_clamps_rounds_to_the_grid_and_skips_missing_values(values) -> None:
    """With negligible noise the release is the clamped sum rounded to 2**-20 per value."""
    out = Sum(HUGE, bounds=(0, 100)).release(values)
    clean = np.clip(values[~np.isnan(values)], 0, 100)
    assert out.value == float(np.rint(clean * 2**20).sum()) / 2**20
    assert out.details["granularity"] == Fraction(1, 2**20)


def test_the_count_counts_rows_including_missing_values(values) -> None:
    """Count is the number of records."""
    assert Count(HUGE).release(values).value == values.size


def test_the_mean_and_variance_match_numpy_on_clamped_values(values) -> None:
    """With negligible noise mean and sample variance equal numpy's on the clamped data."""
    clean = np.clip(values[~np.isnan(values)], 0, 100)
    assert Mean(HUGE, bounds=(0, 100)).release(values).value == pytest.approx(
        clean.mean(), abs=1e-6
    )
    assert Variance(HUGE, bounds=(0, 100)).release(values).value == pytest.approx(
        clean.var(ddof=1), rel=1e-6
    )


def test_a_mean_costs_half_its_epsilon_on_the_count_and_half_on_the_sum() -> None:
    """The composed guarantee adds back up to the requested epsilon."""
    m = Mean("0.8", bounds=(0, 10))
    assert m.guarantee.epsilon == Fraction(4, 5)
    assert sequential(*(p.guarantee for p in m._parts)).epsilon == Fraction(4, 5)


def test_releases_are_unbiased_over_many_draws(values, seeded) -> None:
    """The mean of 2,000 noisy sums is within four standard errors of the exact sum."""
    s = Sum(1, bounds=(0, 100))
    draws = s.sample(values, 2000, rng=seeded("sum-unbiased"))
    exact = Sum(HUGE, bounds=(0, 100)).release(values).value
    assert abs(draws.mean() - exact) < 4 * draws.std() / np.sqrt(2000)
    assert draws.std() == pytest.approx(100 * np.sqrt(2), rel=0.1)


def test_gaussian_noise_can_be_chosen_with_a_delta(values, seeded) -> None:
    """noise='gaussian' states (epsilon, delta) and rho."""
    s = Sum(1, bounds=(0, 100), noise="gaussian", delta=1e-6)
    assert s.guarantee.delta == Fraction(1, 10**6)
    assert s.guarantee.rho is not None
    assert np.isfinite(s.release(values, rng=seeded("gauss-sum")).value)


def test_gaussian_noise_without_delta_is_refused() -> None:
    """Gaussian noise needs delta; the error names it."""
    with pytest.raises(ConfigError, match="delta"):
        Count(1, noise="gaussian")


def test_person_bounding_keeps_at_most_k_rows_per_person(seeded) -> None:
    """A person with 1,000 rows contributes at most max_contributions of them."""
    frame = pd.DataFrame({"who": ["whale"] * 1000 + [f"p{i}" for i in range(100)], "x": 1.0})
    out = Count(HUGE, person="who", max_contributions=2, column="x").release(frame, rng=seeded("b"))
    assert out.value == 102
    total = Sum(HUGE, bounds=(0, 1), column="x", person="who", max_contributions=5).release(frame)
    assert total.value == 105
    assert "identified by 'who'" in str(Sum(1, bounds=(0, 1), person="who").guarantee.unit)


def test_a_data_frame_needs_a_column_name() -> None:
    """column= says which column to use; a missing one is named in the error."""
    frame = pd.DataFrame({"income": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="column="):
        Sum(1, bounds=(0, 10)).release(frame)
    with pytest.raises(DataError, match="'salary' is not in the data"):
        Sum(1, bounds=(0, 10), column="salary").release(frame)


def test_histogram_counts_equal_width_bins_with_values_outside_clamped_in(values) -> None:
    """Bins over [0, 100]; values below go to the first bin, above to the last."""
    out = Histogram(HUGE, bounds=(0, 100), bins=4).release(values)
    clean = np.clip(values[~np.isnan(values)], 0, 100)
    expected, _ = np.histogram(clean, bins=np.linspace(0, 100, 5))
    assert out.value.tolist() == expected.tolist()
    assert out.details["edges"].tolist() == [0, 25, 50, 75, 100]


def test_histogram_over_public_categories_ignores_other_values() -> None:
    """Counts per listed category; an unlisted value is not counted anywhere."""
    out = Histogram(HUGE, categories=["a", "b", "c"]).release(["a", "b", "b", "z", "c", "c", "c"])
    assert out.value.tolist() == [1, 2, 3]


def test_quantiles_land_near_the_true_quantiles(seeded) -> None:
    """On 20,000 values the private quartiles are within one percent of the range."""
    x = np.random.default_rng(3).uniform(0, 100, 20_000)
    q = Quantiles(1, bounds=(0, 100), quantiles=[0.25, 0.5, 0.75], candidates=1001)
    out = q.release(x, rng=seeded("quantiles")).value
    assert np.allclose(out, np.quantile(x, [0.25, 0.5, 0.75]), atol=1.0)
    assert q.guarantee.epsilon == 1


def test_quantiles_refuse_a_quantile_outside_the_open_unit_interval() -> None:
    """Quantiles must be in (0, 1)."""
    with pytest.raises(ConfigError, match=r"quantile must be in \(0, 1\)"):
        Quantiles(1, bounds=(0, 1), quantiles=[1.5])


def test_bounds_must_be_ordered() -> None:
    """lower < upper, or a ConfigError saying so."""
    with pytest.raises(ConfigError, match="lower < upper"):
        Sum(1, bounds=(5, 5))


def test_a_granularity_too_fine_for_the_bounds_is_refused_with_the_coarsest_usable_one() -> None:
    """Grid values must stay below 2**36; the hint gives a workable granularity."""
    with pytest.raises(ConfigError, match="too fine") as info:
        Sum(1, bounds=(0, 10**9), granularity=2**-20)
    assert "2**" in (info.value.hint or "")


def test_huge_bounds_get_a_coarser_default_grid() -> None:
    """With bounds up to 1e12 the default grid is a power of two above 1."""
    s = Sum(1, bounds=(0, 10**12))
    assert s.granularity > 1
    assert s.granularity.numerator & (s.granularity.numerator - 1) == 0
