"""``veil.sharing.shamir`` (vectorized) agrees with the Nagini-proved scalar Shamir reference."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.field import MERSENNE61, Csprng, Field
from veil.sharing import shamir

PRIMES = [MERSENNE61, 65521]


@pytest.mark.parametrize("p", PRIMES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_shares_are_a_degree_t_polynomial_through_the_secret(
    proved_shamir: types.ModuleType, p: int, data: st.DataObject
) -> None:
    """Every t + 1 of the product's shares reconstruct the secret with the proved reference."""
    n = data.draw(st.integers(2, 6))
    t = data.draw(st.integers(0, n - 1))
    secrets = data.draw(st.lists(st.integers(0, p - 1), min_size=1, max_size=4))
    seed = data.draw(st.binary(min_size=32, max_size=32))
    shares = shamir.share(Field(p), secrets, threshold=t, n_parties=n, rng=Csprng(seed))
    for subset in itertools.combinations(range(n), t + 1):
        xs = [i + 1 for i in subset]
        for k, secret in enumerate(secrets):
            ys = [int(shares[i, k]) for i in subset]
            assert proved_shamir.reconstruct_at_zero(xs, ys, p) == secret


@pytest.mark.parametrize("p", PRIMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_reconstruct_matches_the_proved_reference_on_arbitrary_shares(
    proved_shamir: types.ModuleType, p: int, data: st.DataObject
) -> None:
    """On any share values (consistent or not) both compute the same Lagrange combination at 0."""
    n = data.draw(st.integers(1, 7))
    parties = data.draw(st.permutations(range(8)).map(lambda ids: sorted(ids[:n])))
    ys = data.draw(st.lists(st.integers(0, p - 1), min_size=n, max_size=n))
    got = shamir.reconstruct(Field(p), np.array(ys, dtype=np.uint64), parties)
    assert int(got) == proved_shamir.reconstruct_at_zero([i + 1 for i in parties], ys, p)


@pytest.mark.parametrize("p", PRIMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_evaluation_matrix_matches_horner(
    proved_shamir: types.ModuleType, p: int, data: st.DataObject
) -> None:
    """The product's evaluation matrix times the coefficients equals proved Horner evaluation."""
    F = Field(p)
    degree = data.draw(st.integers(0, 5))
    coefficients = data.draw(
        st.lists(st.integers(0, p - 1), min_size=degree + 1, max_size=degree + 1)
    )
    parties = list(range(data.draw(st.integers(1, 7))))
    matrix = shamir.evaluation_matrix(F, parties, degree)
    got = F.dot(matrix, np.array(coefficients, dtype=np.uint64)).tolist()
    assert got == [proved_shamir.evaluate(coefficients, i + 1, p) for i in parties]


def test_proved_horner_matches_its_recursive_specification(proved_shamir: types.ModuleType) -> None:
    """The reference's loop and its specification function agree (a sanity check of the loader)."""
    c = [5, 0, 3, 65520]
    for x in range(10):
        assert proved_shamir.evaluate(c, x, 65521) == proved_shamir.poly_value(c, 0, x, 65521)
        assert (
            proved_shamir.evaluate(c, x, 65521) == sum(ci * x**i for i, ci in enumerate(c)) % 65521
        )
