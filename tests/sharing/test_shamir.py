"""Shamir (t, n) sharing: reconstruction, privacy, linearity, products and error correction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from veil.errors import DecodingError, FieldError, SharingError
from veil.field import Csprng, Field
from veil.sharing import shamir

FIELDS = [Field(), Field(65521)]
seeds = st.binary(min_size=32, max_size=32)


@st.composite
def schemes(draw: st.DrawFn, max_parties: int = 16) -> tuple[int, int]:
    """Draw (t, n) with 0 <= t < n <= max_parties."""
    n = draw(st.integers(1, max_parties))
    return draw(st.integers(0, n - 1)), n


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(scheme=schemes(), data=st.data(), seed=seeds)
def test_any_t_plus_one_shares_reconstruct_the_secrets(
    field: Field, scheme: tuple[int, int], data: st.DataObject, seed: bytes
) -> None:
    """For every t < n <= 16, any subset of at least t + 1 parties reconstructs every secret."""
    t, n = scheme
    rng = Csprng(seed=seed)
    shape = data.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    secrets = field.random(shape, rng)
    shares = shamir.share(field, secrets, threshold=t, n_parties=n, rng=rng)
    assert shares.shape == (n, *shape)
    field.check(shares)
    size = data.draw(st.integers(t + 1, n))
    parties = data.draw(st.permutations(range(n)))[:size]
    np.testing.assert_array_equal(shamir.reconstruct(field, shares[parties], parties), secrets)


@given(scheme=schemes(10), seed=seeds)
def test_all_shares_lie_on_one_polynomial_of_degree_t(scheme: tuple[int, int], seed: bytes) -> None:
    """Interpolating the first t + 1 shares predicts every other party's share exactly."""
    t, n = scheme
    field = Field()
    shares = shamir.share(field, field.random(5, Csprng(seed=seed)), threshold=t, n_parties=n)
    weights = shamir.lagrange_matrix(field, range(t + 1), [i + 1 for i in range(t + 1, n)])
    predicted = field.dot(weights, shares[: t + 1]) if n > t + 1 else shares[:0]
    np.testing.assert_array_equal(predicted, shares[t + 1 :])


def test_evaluation_matrix_maps_coefficients_to_shares() -> None:
    """The evaluation matrix times (s, a_1, ..., a_t) gives the parties' shares, reconstructing s."""
    field = Field()
    coefficients = field.array([[42], [7], [9]])  # f(x) = 42 + 7x + 9x^2
    shares = field.dot(shamir.evaluation_matrix(field, range(5), 2), coefficients)
    assert shares[:, 0].tolist() == [42 + 7 * x + 9 * x * x for x in range(1, 6)]
    assert shamir.reconstruct(field, shares[[0, 3, 4]], [0, 3, 4]).tolist() == [42]
    assert shamir.vandermonde(field, [2, 3], 2).tolist() == [[1, 2, 4], [1, 3, 9]]


@pytest.mark.parametrize(("t", "n", "held"), [(1, 3, (2,)), (2, 5, (0, 3)), (2, 4, (1, 2))])
@pytest.mark.parametrize("secret", [0, 30])
def test_the_shares_of_any_t_parties_are_uniform_whatever_the_secret(
    t: int, n: int, held: tuple[int, ...], secret: int
) -> None:
    """With the secret fixed, the t shares a coalition holds are uniform on GF(31)^t (chi-square)."""
    p = 31
    field = Field(p)
    trials = p ** len(held) * 40
    shares = shamir.share(
        field,
        np.full(trials, secret, dtype=np.uint64),
        threshold=t,
        n_parties=n,
        rng=Csprng(seed=bytes(range(32))),
    )
    cells = np.zeros(trials, dtype=np.int64)
    for party in held:
        cells = cells * p + shares[party].astype(np.int64)
    assert stats.chisquare(np.bincount(cells, minlength=p ** len(held))).pvalue > 1e-4


def test_t_plus_one_shares_are_not_uniform_they_determine_the_secret() -> None:
    """Control for the uniformity test: t + 1 shares of a fixed secret fill only p^t of p^(t+1) cells."""
    p = 31
    field = Field(p)
    shares = shamir.share(
        field,
        np.full(5000, 7, dtype=np.uint64),
        threshold=1,
        n_parties=3,
        rng=Csprng(seed=bytes(32)),
    )
    cells = shares[0].astype(np.int64) * p + shares[1].astype(np.int64)
    assert np.unique(cells).size <= p


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(scheme=schemes(), seed=seeds, data=st.data())
def test_shamir_sharing_is_linear(
    field: Field, scheme: tuple[int, int], seed: bytes, data: st.DataObject
) -> None:
    """Share-wise a + b, c * a and a + c (c public, added to every share) reconstruct correctly."""
    t, n = scheme
    rng = Csprng(seed=seed)
    a, b = field.random(6, rng), field.random(6, rng)
    c = np.array(data.draw(st.integers(0, field.p - 1)), dtype=np.uint64)
    sa = shamir.share(field, a, threshold=t, n_parties=n, rng=rng)
    sb = shamir.share(field, b, threshold=t, n_parties=n, rng=rng)
    parties = list(range(n - t - 1, n))
    rows = sa[parties]
    np.testing.assert_array_equal(
        shamir.reconstruct(field, field.add(rows, sb[parties]), parties), field.add(a, b)
    )
    np.testing.assert_array_equal(
        shamir.reconstruct(field, field.mul(rows, c), parties), field.mul(a, c)
    )
    np.testing.assert_array_equal(
        shamir.reconstruct(field, field.add(rows, c), parties), field.add(a, c)
    )


@pytest.mark.parametrize("field", FIELDS, ids=str)
@given(t=st.integers(0, 7), extra=st.integers(0, 2), seed=seeds, data=st.data())
def test_the_product_of_two_sharings_reconstructs_from_2t_plus_1_shares(
    field: Field, t: int, extra: int, seed: bytes, data: st.DataObject
) -> None:
    """Share-wise products form a degree-2t sharing of a * b: any 2t + 1 parties reconstruct it."""
    n = 2 * t + 1 + extra
    rng = Csprng(seed=seed)
    a, b = field.random(8, rng), field.random(8, rng)
    product = field.mul(
        shamir.share(field, a, threshold=t, n_parties=n, rng=rng),
        shamir.share(field, b, threshold=t, n_parties=n, rng=rng),
    )
    parties = sorted(data.draw(st.permutations(range(n)))[: 2 * t + 1])
    np.testing.assert_array_equal(
        shamir.reconstruct(field, product[parties], parties), field.mul(a, b)
    )


def test_lagrange_coefficients_known_values() -> None:
    """Parties 0 and 1 (points 1, 2) give weights (2, -1); any weights sum to 1 and hit unit vectors."""
    field = Field()
    assert shamir.lagrange_coefficients(field, [0, 1]).tolist() == [2, field.p - 1]
    assert shamir.lagrange_coefficients(field, [0, 1, 2]).tolist() == [3, field.p - 3, 1]
    weights = shamir.lagrange_coefficients(field, [0, 4, 9])
    assert int(field.sum(weights)) == 1
    assert shamir.lagrange_coefficients(field, [0, 4, 9], at=5).tolist() == [0, 1, 0]


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[int, int, list[int], list[int]]:
    """Draw (t, n) with t < n/3, m shares received, and up to floor((m - t - 1)/2) corrupt parties."""
    t = draw(st.integers(0, 4))
    n = draw(st.integers(3 * t + 1, 16))
    m = draw(st.integers(t + 1, n))
    parties = sorted(draw(st.permutations(range(n)))[:m])
    bound = (m - t - 1) // 2
    corrupt = sorted(draw(st.permutations(parties))[: draw(st.integers(0, bound))])
    return t, n, parties, corrupt


@given(case=corruptions(), seed=seeds, data=st.data())
@settings(max_examples=60)
def test_wrong_shares_up_to_the_decoding_bound_are_corrected_and_named(
    case: tuple[int, int, list[int], list[int]], seed: bytes, data: st.DataObject
) -> None:
    """Each corrupt party alters its share of some secrets; all secrets come back and exactly they are named."""
    t, n, parties, corrupt = case
    field = Field()
    rng = Csprng(seed=seed)
    secrets = field.random(12, rng)
    shares = shamir.share(field, secrets, threshold=t, n_parties=n, rng=rng)[parties]
    for party in corrupt:
        row = parties.index(party)
        columns = data.draw(st.sets(st.integers(0, 11), min_size=1))
        for column in columns:
            shares[row, column] = field.add(shares[row, column], field.random_nonzero((), rng))
    recovered, wrong = shamir.robust_reconstruct(field, shares, parties, threshold=t)
    np.testing.assert_array_equal(recovered, secrets)
    assert wrong == corrupt


def test_a_cheater_corrupting_every_secret_is_named_at_n_4_t_1() -> None:
    """One of four parties (t = 1) alters all of its 1000 shares; every secret is still recovered."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    secrets = field.random(1000, rng)
    shares = shamir.share(field, secrets, threshold=1, n_parties=4, rng=rng)
    shares[2] = field.random(1000, rng)
    recovered, wrong = shamir.robust_reconstruct(field, shares, range(4), threshold=1)
    np.testing.assert_array_equal(recovered, secrets)
    assert wrong == [2]


@given(
    t=st.integers(0, 3),
    extra=st.integers(1, 8),
    radius=st.integers(0, 4),
    seed=seeds,
    data=st.data(),
)
@settings(max_examples=60)
def test_errors_beyond_the_correction_radius_but_within_detection_are_refused(
    t: int, extra: int, radius: int, seed: bytes, data: st.DataObject
) -> None:
    """With e = max_errors, any w wrong shares with e < w <= m - t - 1 - e raise DecodingError."""
    m = t + 1 + extra
    e = min(radius, (m - t - 1) // 2)
    assume(e + 1 <= m - t - 1 - e)
    w = data.draw(st.integers(e + 1, m - t - 1 - e))
    field = Field()
    rng = Csprng(seed=seed)
    shares = shamir.share(field, field.random(3, rng), threshold=t, n_parties=m, rng=rng)
    for row in data.draw(st.permutations(range(m)))[:w]:
        shares[row, 1] = field.add(shares[row, 1], field.random_nonzero((), rng))
    with pytest.raises(DecodingError) as info:
        shamir.robust_reconstruct(field, shares, range(m), threshold=t, max_errors=e)
    assert info.value.needed == e + 1
    assert info.value.allowed == e
    assert info.value.column == 1


def test_a_single_wrong_share_among_three_is_detected_not_returned() -> None:
    """At n = 3, t = 1 nothing can be corrected, but one altered share is detected (never a wrong value)."""
    field = Field()
    shares = shamir.share(field, [42], threshold=1, n_parties=3)
    shares[1, 0] = field.add(shares[1, 0], np.uint64(1))
    with pytest.raises(DecodingError, match="at least 1 corrections needed, at most 0 allowed"):
        shamir.robust_reconstruct(field, shares, [0, 1, 2], threshold=1)


def test_consistent_shares_decode_without_naming_anyone() -> None:
    """Honest shares in any layout come back unchanged with an empty cheater list."""
    field = Field()
    secrets = field.random((3, 4))
    shares = shamir.share(field, secrets, threshold=2, n_parties=7)
    recovered, wrong = shamir.robust_reconstruct(
        field, shares[[6, 0, 3, 2, 5]], [6, 0, 3, 2, 5], threshold=2
    )
    np.testing.assert_array_equal(recovered, secrets)
    assert wrong == []


def test_each_column_may_have_its_own_error_pattern() -> None:
    """Every secret corrupted by a different pair of parties (n = 7, t = 2): all corrected, all named."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    pairs = list(itertools.combinations(range(7), 2))
    secrets = field.random(len(pairs), rng)
    shares = shamir.share(field, secrets, threshold=2, n_parties=7, rng=rng)
    for column, pair in enumerate(pairs):
        for party in pair:
            shares[party, column] = field.add(shares[party, column], np.uint64(column + 1))
    recovered, wrong = shamir.robust_reconstruct(field, shares, range(7), threshold=2)
    np.testing.assert_array_equal(recovered, secrets)
    assert wrong == list(range(7))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"threshold": 3, "n_parties": 3},
            "0 <= threshold < n_parties, got threshold=3, n_parties=3",
        ),
        ({"threshold": -1, "n_parties": 3}, "got threshold=-1"),
    ],
)
def test_invalid_thresholds_are_refused(kwargs: dict[str, int], message: str) -> None:
    """A threshold outside [0, n) is refused, naming both numbers."""
    with pytest.raises(SharingError, match=message):
        shamir.share(Field(), [1], **kwargs)


def test_more_parties_than_field_points_are_refused() -> None:
    """n must stay below p so that every party has its own non-zero point."""
    with pytest.raises(SharingError, match="n_parties=17 needs distinct non-zero points"):
        shamir.share(Field(17), [1], threshold=1, n_parties=17)


def test_inputs_that_do_not_fit_are_refused_with_what_and_where() -> None:
    """Secrets outside the field, duplicate or bad party ids and mismatched rows each raise clearly."""
    field = Field(65521)
    with pytest.raises(FieldError, match=r"secrets at flat position 2 is 70000"):
        shamir.share(field, [1, 2, 70000], threshold=1, n_parties=3)
    shares = shamir.share(field, [1, 2], threshold=1, n_parties=3)
    with pytest.raises(SharingError, match=r"parties lists party 1 more than once: \[1, 1\]"):
        shamir.reconstruct(field, shares[[1, 1]], [1, 1])
    with pytest.raises(SharingError, match=r"parties\[1\] = -2 is not a party id"):
        shamir.reconstruct(field, shares[:2], [0, -2])
    with pytest.raises(SharingError, match=r"3 parties but shares of shape \(2, 2\)"):
        shamir.reconstruct(field, shares[:2], [0, 1, 2])
    with pytest.raises(SharingError, match="needs at least 3 shares, got 2"):
        shamir.robust_reconstruct(field, shares[:2], [0, 1], threshold=2)
    with pytest.raises(SharingError, match=r"max_errors must be in \[0, 0\]"):
        shamir.robust_reconstruct(field, shares, [0, 1, 2], threshold=1, max_errors=1)
