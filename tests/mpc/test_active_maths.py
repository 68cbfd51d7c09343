"""The pure maths of active mode: consistency of shares, and locating wrong shares with tags."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from veil.field import Csprng, Field
from veil.mpc.protocols._active_maths import coefficients, consistent, locate
from veil.sharing import shamir

F = Field()


def tagged_shares(n: int, t: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Shares of random x and of r·x (independent sharings), and the key r."""
    rng = Csprng(seed=seed.to_bytes(32, "big"))
    x = F.random(size, rng)
    r = int(F.random(1, rng)[0])
    values = shamir.share(F, x, threshold=t, n_parties=n, rng=rng)
    tags = shamir.share(F, F.mul(x, np.full(size, r, np.uint64)), threshold=t, n_parties=n, rng=rng)
    return values, tags, r


@given(
    nt=st.sampled_from([(3, 1), (4, 1), (5, 2), (7, 3), (7, 2)]),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_locate_names_exactly_the_parties_whose_shares_were_altered(nt, seed, data) -> None:
    """Up to t parties add errors (to value and tag shares, chosen before r is known): all named."""
    n, t = nt
    values, tags, r = tagged_shares(n, t, 3, seed)
    liars = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=t))
    for i in liars:
        values[i, data.draw(st.integers(0, 2))] += np.uint64(1)
        tags[i, 0] = (int(tags[i, 0]) + data.draw(st.integers(0, 5))) % F.p
    weights = coefficients(F, bytes(32), 3)
    assert locate(F, list(range(n)), values, tags, r, t, weights) == sorted(liars)


def test_locate_names_a_party_that_altered_only_its_tag() -> None:
    """A wrong tag share with a right value share is off the zero polynomial too."""
    values, tags, r = tagged_shares(5, 2, 4, 7)
    tags[3, 2] = (int(tags[3, 2]) + 11) % F.p
    assert locate(F, list(range(5)), values, tags, r, 2, coefficients(F, bytes(32), 4)) == [3]


def test_locate_finds_no_explanation_when_more_than_t_parties_lie() -> None:
    """With t + 1 independent liars no degree-t zero polynomial fits n - t points."""
    values, tags, r = tagged_shares(3, 1, 2, 11)
    values[0, 0] += np.uint64(1)
    values[2, 1] += np.uint64(5)
    assert locate(F, [0, 1, 2], values, tags, r, 1, coefficients(F, bytes(32), 2)) is None


def test_consistent_accepts_a_sharing_and_rejects_one_altered_share() -> None:
    """n > t + 1 shares of degree t are checked; one wrong share breaks consistency."""
    values, _, _ = tagged_shares(4, 1, 5, 3)
    assert consistent(F, [0, 1, 2, 3], values, 1)
    values[2, 4] += np.uint64(1)
    assert not consistent(F, [0, 1, 2, 3], values, 1)
    assert consistent(F, [0, 1], values[:2], 1)  # t + 1 shares: nothing to check


def test_coefficients_are_deterministic_per_coin_and_differ_across_coins() -> None:
    """Every party expands the same coin into the same weights."""
    a = coefficients(F, b"\x01" * 32, 100)
    assert np.array_equal(a, coefficients(F, b"\x01" * 32, 100))
    assert not np.array_equal(a, coefficients(F, b"\x02" * 32, 100))
    assert bool(np.all(a < np.uint64(F.p)))
