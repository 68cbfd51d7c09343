"""Private inference: the client alone learns the model's prediction; the sigmoid's error is bounded."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from veil.analytics.apps.inference import (
    SIGMOID_MAX_ERROR,
    Model,
    ModelSpec,
    approximate_sigmoid,
    plain_predict,
    private_predict,
    secure_sigmoid,
)
from veil.errors import ConfigError, PartyFailed
from veil.mpc import Runtime, SecFxp, run_local


def secure_predict(spec: ModelSpec, features: Any, model: Model, **kwargs: Any) -> list[Any]:
    async def program(rt: Runtime) -> Any:
        return await private_predict(
            rt,
            spec,
            features=features if rt.party_id == 0 else None,
            model=model if rt.party_id == 1 else None,
            **kwargs,
        )

    return run_local(program, 3)


def random_model(spec: ModelSpec, seed: int = 1) -> Model:
    gen = np.random.default_rng(seed)
    sizes = spec.layer_sizes
    return Model(
        [gen.normal(0, 1, (a, b)) for a, b in pairwise(sizes)],
        [gen.normal(0, 1, b) for b in sizes[1:]],
    )


@pytest.mark.slow
def test_the_secure_sigmoid_stays_within_the_stated_error_over_minus_20_to_20() -> None:
    """Measured in MPC at 16 fractional bits, step 1/64: max |error| <= SIGMOID_MAX_ERROR."""
    xs = np.arange(-20, 20, 1 / 64)

    async def program(rt: Runtime) -> Any:
        x = await rt.input(xs if rt.party_id == 0 else None, sender=0, dtype=SecFxp(16, 16))
        return await secure_sigmoid(x).open()

    got = run_local(program, 3)[0]
    exact = 1 / (1 + np.exp(-xs))
    assert np.max(np.abs(got - exact)) <= SIGMOID_MAX_ERROR
    assert np.max(np.abs(approximate_sigmoid(xs) - exact)) <= 5e-5


def test_linear_regression_is_exact_up_to_fixed_point_rounding() -> None:
    """y = x . w + b for two rows: within a few units of 2**-16."""
    spec = ModelSpec((3, 1))
    model = Model([np.array([[0.5], [-1.25], [2.0]])], [np.array([0.1])])
    features = np.array([[1.0, 2.0, 3.0], [-0.5, 0.25, 10.0]])
    client, owner, helper = secure_predict(spec, features, model)
    np.testing.assert_allclose(client, plain_predict(spec, features, model), atol=4 * 2.0**-16)
    assert owner is None
    assert helper is None


def test_logistic_regression_matches_the_exact_probabilities() -> None:
    """sigmoid(x . w + b) within the sigmoid's error bound."""
    spec = ModelSpec((4, 1), output="sigmoid")
    model = random_model(spec)
    features = np.random.default_rng(2).normal(0, 2, (5, 4))
    got = secure_predict(spec, features, model)[0]
    np.testing.assert_allclose(
        got, plain_predict(spec, features, model), atol=2 * SIGMOID_MAX_ERROR
    )


def test_a_small_relu_network_matches_numpy() -> None:
    """4 -> 8 -> 3 with ReLU: the client's scores equal numpy's within fixed-point rounding."""
    spec = ModelSpec((4, 8, 3))
    model = random_model(spec, seed=3)
    features = np.array([0.5, -1.0, 2.0, 0.0])
    got = secure_predict(spec, features, model)[0]
    assert got.shape == (3,)
    np.testing.assert_allclose(got, plain_predict(spec, features, model), atol=1e-3)


def test_mismatched_shapes_are_refused_with_the_expected_shape() -> None:
    """A model whose weights do not fit the spec, and a client with too many features."""
    spec = ModelSpec((3, 1))
    bad = Model([np.zeros((2, 1))], [np.zeros(1)])
    with pytest.raises(ConfigError, match=r"expected \(3, 1\)"):
        bad.check(spec)
    with pytest.raises(PartyFailed, match="the model expects 3"):
        secure_predict(spec, np.zeros(4), Model([np.zeros((3, 1))], [np.zeros(1)]))
    with pytest.raises(ConfigError, match="layer_sizes"):
        ModelSpec((3,))
