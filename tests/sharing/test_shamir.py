"""Shamir (t, n) sharing: reconstruction, privacy, linearity, products and error correction."""

from __future__ import annotations

import numpy as np

from veil.field import Csprng, Field
from veil.sharing import shamir


def test_any_t_plus_one_shares_reconstruct_the_secrets() -> None:
    """Shares of degree 2 among 7 parties reconstruct from any 3 of them."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    secrets = field.random(10, rng)
    shares = shamir.share(field, secrets, threshold=2, n_parties=7, rng=rng)
    assert shares.shape == (7, 10)
    np.testing.assert_array_equal(shamir.reconstruct(field, shares[[1, 4, 6]], [1, 4, 6]), secrets)


def test_robust_reconstruction_corrects_and_names_wrong_shares() -> None:
    """Two wrong shares among 7 at threshold 2 are corrected and their holders named."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    secrets = field.random(10, rng)
    shares = shamir.share(field, secrets, threshold=2, n_parties=7, rng=rng)
    shares[3] = field.add(shares[3], np.uint64(1))
    shares[5, 2] = field.add(shares[5, 2], np.uint64(9))
    recovered, wrong = shamir.robust_reconstruct(field, shares, range(7), threshold=2)
    np.testing.assert_array_equal(recovered, secrets)
    assert wrong == [3, 5]
