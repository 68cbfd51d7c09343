"""Additive mechanisms: guarantees stated up front, exact grids, composition, clear refusals."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from veil.dp import GaussianMechanism, LaplaceMechanism, PrivacyUnit, compose
from veil.dp.calibration import analytic_gaussian_sigma, discrete_gaussian_delta
from veil.errors import ConfigError, DataError, PrivacyError


def test_a_laplace_mechanism_states_its_guarantee_before_seeing_data() -> None:
    """epsilon, delta, unit and scale are known from the constructor alone."""
    mech = LaplaceMechanism(epsilon="1/2", l1_sensitivity=3)
    assert mech.guarantee.epsilon == Fraction(1, 2)
    assert mech.guarantee.delta == 0
    assert mech.guarantee.unit == PrivacyUnit()
    assert mech.scale == 6
    assert "discrete Laplace, scale 6" in repr(mech)


def test_laplace_on_an_integer_returns_an_integer_near_it(seeded) -> None:
    """An integer answer stays an integer; the noise is centred on it."""
    mech = LaplaceMechanism(epsilon=1)
    out = mech.release(1000, rng=seeded("lap-int"))
    assert isinstance(out.value, int)
    draws = mech.sample(1000, 20_000, rng=seeded("lap-int-many"))
    assert abs(draws.mean() - 1000) < 0.05


def test_laplace_on_a_vector_adds_independent_noise_per_coordinate(seeded) -> None:
    """A vector answer keeps its shape; coordinates get independent noise of the same scale."""
    mech = LaplaceMechanism(epsilon=1, l1_sensitivity=2, dimension=3)
    draws = mech.sample(np.array([10, 20, 30]), 20_000, rng=seeded("lap-vec"))
    assert draws.shape == (20_000, 3)
    noise = draws - np.array([10, 20, 30])
    assert abs(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1]) < 0.03
    q = math.exp(-1 / 2)
    expected_var = 2 * q / (1 - q) ** 2
    assert noise.var(axis=0) == pytest.approx([expected_var] * 3, rel=0.05)


def test_reals_are_released_on_the_stated_grid(seeded) -> None:
    """With granularity 2**-4 every output is a multiple of 1/16 and the rounding step is charged."""
    mech = LaplaceMechanism(epsilon=1, l1_sensitivity=1, granularity=2**-4)
    assert mech.grid_sensitivity == 17  # floor(1 / (1/16)) + 1
    draws = mech.sample(3.14159, 1000, rng=seeded("grid"))
    assert np.all(draws * 16 == np.round(draws * 16))
    assert mech.release(2.5, rng=seeded("grid1")).details["granularity"] == Fraction(1, 16)


def test_a_granularity_that_is_not_a_power_of_two_is_refused() -> None:
    """Only powers of two keep grid rounding exact in binary floating point."""
    with pytest.raises(ConfigError, match="power of two"):
        LaplaceMechanism(epsilon=1, granularity=0.1)


def test_floats_without_a_granularity_are_refused_with_a_hint() -> None:
    """A float answer needs a grid; the error says how to give one."""
    with pytest.raises(DataError, match="must hold integers") as info:
        LaplaceMechanism(epsilon=1).release(2.5)
    assert "granularity" in (info.value.hint or "")


def test_an_answer_of_the_wrong_dimension_is_refused() -> None:
    """The sensitivity was computed for a dimension; another shape is an error, not a guess."""
    with pytest.raises(DataError, match="dimension=2"):
        LaplaceMechanism(epsilon=1, dimension=2).release(np.array([1, 2, 3]))


def test_nan_answers_are_refused() -> None:
    """A NaN cannot be put on a grid; the error says so."""
    with pytest.raises(DataError, match="NaN"):
        LaplaceMechanism(epsilon=1, granularity=1).release(float("nan"))


@pytest.mark.parametrize("epsilon", [0, -1, float("inf"), "abc"])
def test_bad_epsilons_are_refused_naming_the_parameter(epsilon: object) -> None:
    """epsilon must be a positive finite number."""
    with pytest.raises(ConfigError, match="epsilon"):
        LaplaceMechanism(epsilon=epsilon)


def test_the_gaussian_mechanism_meets_its_delta_with_the_exact_discrete_profile() -> None:
    """The calibrated sigma satisfies the exact discrete-Gaussian delta and is near Balle-Wang."""
    mech = GaussianMechanism(epsilon=1, delta=1e-5, l2_sensitivity=1)
    assert discrete_gaussian_delta(float(mech.sigma2), 1.0, 1) <= 1e-5
    assert mech.sigma == pytest.approx(analytic_gaussian_sigma(1.0, 1e-5), rel=0.15)
    assert mech.guarantee.delta == Fraction(1, 100_000)
    assert mech.guarantee.rho == pytest.approx(1 / (2 * float(mech.sigma2)), rel=1e-9)


def test_a_vector_gaussian_uses_the_zcdp_bound() -> None:
    """For several coordinates the noise is at least the scalar noise (zCDP is looser)."""
    scalar = GaussianMechanism(epsilon=1, delta=1e-6, l2_sensitivity=10)
    vector = GaussianMechanism(epsilon=1, delta=1e-6, l2_sensitivity=10, dimension=5)
    assert vector.sigma >= scalar.sigma


def test_gaussian_noise_has_the_calibrated_spread(seeded) -> None:
    """Released values scatter with standard deviation sigma (grid units times granularity)."""
    mech = GaussianMechanism(epsilon=1, delta=1e-5, l2_sensitivity=4, granularity=2**-3)
    draws = mech.sample(7.0, 20_000, rng=seeded("gauss"))
    assert draws.std() == pytest.approx(mech.sigma, rel=0.03)
    assert stats.ttest_1samp(draws, 7.0).pvalue > 1e-4


def test_gaussian_without_delta_is_refused_with_a_hint_toward_laplace() -> None:
    """delta = 0 cannot be met by Gaussian noise; the hint points to Laplace."""
    with pytest.raises(ConfigError, match="delta must be in"):
        GaussianMechanism(epsilon=1, delta=0)


def test_composition_adds_the_guarantees_and_releases_each_part(seeded) -> None:
    """compose() states the summed guarantee and returns one value per part."""
    both = compose(LaplaceMechanism(epsilon="0.25"), GaussianMechanism(epsilon="0.5", delta="1e-6"))
    assert both.guarantee.epsilon == Fraction(3, 4)
    assert both.guarantee.delta == Fraction(1, 10**6)
    assert both.guarantee.rho is None  # Laplace states no rho
    out = both.release(10, rng=seeded("compose"))
    assert len(out.value) == 2
    assert len(out.details["parts"]) == 2


def test_composition_refuses_mechanisms_for_different_privacy_units() -> None:
    """Guarantees for one row and for five rows per person do not add up."""
    with pytest.raises(PrivacyError, match="different privacy units"):
        compose(
            LaplaceMechanism(epsilon=1),
            LaplaceMechanism(epsilon=1, unit=PrivacyUnit(max_contributions=5)),
        )


def test_a_release_serialises_value_epsilon_delta_and_mechanism(seeded) -> None:
    """Release.to_dict() has the keys the CLI prints."""
    out = LaplaceMechanism(epsilon=1).release(5, rng=seeded("dict")).to_dict()
    assert {"value", "epsilon", "delta", "mechanism", "unit"} <= out.keys()
    assert out["epsilon"] == 1.0
