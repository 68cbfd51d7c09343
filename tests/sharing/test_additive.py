"""Additive n-of-n sharing: reconstruction, uniformity of any n - 1 shares, linearity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from veil.errors import FieldError, SharingError
from veil.field import Csprng, Field
from veil.sharing import additive

FIELDS = [Field(), Field(65521)]


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(
    n_parties=st.integers(1, 16),
    shape=st.lists(st.integers(0, 4), max_size=2).map(tuple),
    seed=st.binary(min_size=32, max_size=32),
)
def test_the_shares_of_all_parties_sum_to_the_secrets(
    field: Field, n_parties: int, shape: tuple[int, ...], seed: bytes
) -> None:
    """For every n <= 16 and any shape, reconstruct(share(s)) == s and shares have shape (n, *s.shape)."""
    rng = Csprng(seed=seed)
    secrets = field.random(shape, rng)
    shares = additive.share(field, secrets, n_parties, rng)
    assert shares.shape == (n_parties, *shape)
    field.check(shares)
    np.testing.assert_array_equal(additive.reconstruct(field, shares), secrets)


@given(seed=st.binary(min_size=32, max_size=32), c=st.integers(0, 65520))
def test_additive_sharing_is_linear(seed: bytes, c: int) -> None:
    """Share-wise sums reconstruct to a + b; multiplying every share by a public c gives c * a."""
    field = Field(65521)
    rng = Csprng(seed=seed)
    a, b = field.random(20, rng), field.random(20, rng)
    sa, sb = additive.share(field, a, 4, rng), additive.share(field, b, 4, rng)
    np.testing.assert_array_equal(additive.reconstruct(field, field.add(sa, sb)), field.add(a, b))
    scalar = np.array(c, dtype=np.uint64)
    np.testing.assert_array_equal(
        additive.reconstruct(field, field.mul(sa, scalar)), field.mul(a, scalar)
    )


@pytest.mark.parametrize("held", [(0, 1), (1, 2), (0, 2)])
def test_any_n_minus_one_shares_are_jointly_uniform(held: tuple[int, int]) -> None:
    """With the secret fixed, the pair of shares held by two of three parties is uniform (chi-square)."""
    p = 17
    field = Field(p)
    trials = p * p * 40
    secrets = np.full(trials, 5, dtype=np.uint64)
    shares = additive.share(field, secrets, 3, Csprng(seed=bytes(range(32))))
    cells = shares[held[0]].astype(np.int64) * p + shares[held[1]].astype(np.int64)
    assert stats.chisquare(np.bincount(cells, minlength=p * p)).pvalue > 1e-4


def test_the_four_engineers_raises_sum_to_12686() -> None:
    """Alice, Bob, Carlos and David's raises, shared among themselves, reconstruct to the sum 12686."""
    field = Field()
    raises = np.array([3800, 2514, 2982, 3390], dtype=np.uint64)
    shares = additive.share(field, raises, 4)  # shares[j, i]: person i's raise, as held by person j
    held_sums = field.sum(shares, axis=1)  # what each person holds after adding their shares
    assert int(field.sum(held_sums)) == 12686
    np.testing.assert_array_equal(additive.reconstruct(field, shares), raises)


def test_bad_inputs_are_refused_with_the_reason() -> None:
    """A party count below one, secrets outside the field and empty share stacks raise clearly."""
    field = Field(65521)
    with pytest.raises(SharingError, match="n_parties must be at least 1, got 0"):
        additive.share(field, [1], 0)
    with pytest.raises(FieldError, match=r"secrets at flat position 1 is 65521"):
        additive.share(field, [1, 65521], 3)
    with pytest.raises(FieldError, match=r"secrets at flat position 0 is -1"):
        additive.share(field, [-1], 3)
    with pytest.raises(SharingError, match="one row per party"):
        additive.reconstruct(field, np.array(5, dtype=np.uint64))
