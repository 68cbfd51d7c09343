"""GF(p) arithmetic agrees with Python integers; sampling is uniform and comes from the CSPRNG."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from veil.errors import FieldError
from veil.field import MERSENNE61, Csprng, Field, default_field, is_prime

#: The default Mersenne prime, a prime below 2**32 (fast path) and one in between (exact fallback).
PRIMES = [MERSENNE61, 65521, 1_099_511_627_791]
EDGES = [0, 1, 2, 2**32 - 1, 2**32, 2**61 - 2]


def elements(p: int) -> st.SearchStrategy[int]:
    """Draw field elements, often the edge values 0, 1, p - 1, 2**32 - 1, 2**32 (reduced mod p)."""
    return st.one_of(
        st.sampled_from([e % p for e in EDGES] + [p - 1, p // 2]), st.integers(0, p - 1)
    )


def vectors(p: int, size: int | None = None) -> st.SearchStrategy[list[int]]:
    """Draw lists of field elements."""
    if size is None:
        return st.lists(elements(p), min_size=0, max_size=40)
    return st.lists(elements(p), min_size=size, max_size=size)


def pairs(p: int) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    """Draw two lists of field elements of equal length."""
    return st.integers(0, 40).flatmap(lambda n: st.tuples(vectors(p, n), vectors(p, n)))


def u64(values: list[int]) -> np.ndarray:
    """Return the values as a uint64 array."""
    return np.array(values, dtype=np.uint64)


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data())
def test_add_sub_neg_match_python_integers(p: int, data: st.DataObject) -> None:
    """Addition, subtraction and negation equal Python's modular arithmetic elementwise."""
    field = Field(p)
    xs, ys = data.draw(pairs(p))
    a, b = u64(xs), u64(ys)
    assert field.add(a, b).tolist() == [(x + y) % p for x, y in zip(xs, ys, strict=True)]
    assert field.sub(a, b).tolist() == [(x - y) % p for x, y in zip(xs, ys, strict=True)]
    assert field.neg(a).tolist() == [(-x) % p for x in xs]


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data())
def test_mul_matches_python_integers(p: int, data: st.DataObject) -> None:
    """Multiplication equals Python's ``x * y % p``, including 0, 1, p - 1 and values around 2**32."""
    field = Field(p)
    xs, ys = data.draw(pairs(p))
    assert field.mul(u64(xs), u64(ys)).tolist() == [x * y % p for x, y in zip(xs, ys, strict=True)]


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data())
def test_mul_by_a_public_scalar_broadcasts(p: int, data: st.DataObject) -> None:
    """A 0-d operand on either side (small constants take a fast path) broadcasts like numpy."""
    field = Field(p)
    xs = data.draw(vectors(p))
    c = data.draw(st.one_of(st.integers(0, 9), elements(p)))
    scalar = np.array(c, dtype=np.uint64)
    expected = [x * c % p for x in xs]
    assert field.mul(u64(xs), scalar).tolist() == expected
    assert field.mul(scalar, u64(xs)).tolist() == expected


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data())
def test_operations_write_into_an_operand_in_place(p: int, data: st.DataObject) -> None:
    """``out=`` may be one of the operands: the result is the same as without it."""
    field = Field(p)
    xs, ys = data.draw(pairs(p))
    for op in (field.add, field.sub, field.mul):
        a, b = u64(xs), u64(ys)
        expected = op(a, b)
        assert op(a, b, out=a) is a
        np.testing.assert_array_equal(a, expected)
        a = u64(xs)
        op(a, b, out=b)
        np.testing.assert_array_equal(b, expected)


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data(), exponent=st.one_of(st.integers(0, 70), st.integers(0, 2**70)))
def test_pow_matches_python_pow(p: int, data: st.DataObject, exponent: int) -> None:
    """``pow`` equals Python's three-argument ``pow`` for any non-negative exponent."""
    xs = data.draw(vectors(p))
    assert Field(p).pow(u64(xs), exponent).tolist() == [pow(x, exponent, p) for x in xs]


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data())
def test_inv_matches_python_modular_inverse(p: int, data: st.DataObject) -> None:
    """The (batch) inverse of every non-zero element equals ``pow(x, -1, p)``, for any batch size."""
    xs = [x for x in data.draw(vectors(p)) if x]
    field = Field(p)
    assert field.inv(u64(xs)).tolist() == [pow(x, -1, p) for x in xs]
    assert field.batch_inv(u64(xs)).tolist() == [pow(x, -1, p) for x in xs]


def test_inv_keeps_the_shape_of_its_input() -> None:
    """Inverting a 2-D array returns the elementwise inverses in the same shape."""
    field = Field()
    a = field.random_nonzero((3, 5), Csprng(seed=bytes(32)))
    np.testing.assert_array_equal(field.mul(field.inv(a), a), np.ones((3, 5), dtype=np.uint64))


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data(), rows=st.integers(1, 12))
def test_sum_matches_python_sum_along_each_axis(p: int, data: st.DataObject, rows: int) -> None:
    """``sum`` over all axes, axis 0 and axis 1 equals the Python sums modulo p."""
    cols = data.draw(st.integers(0, 8))
    grid = [data.draw(vectors(p, cols)) for _ in range(rows)]
    a = np.array(grid, dtype=np.uint64).reshape(rows, cols)
    field = Field(p)
    assert int(field.sum(a)) == sum(map(sum, grid)) % p
    assert field.sum(a, axis=0).tolist() == [sum(col) % p for col in zip(*grid, strict=True)]
    assert field.sum(a, axis=1).tolist() == [sum(row) % p for row in grid]


@pytest.mark.parametrize("p", PRIMES)
@given(data=st.data(), shape=st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 4)))
def test_dot_matches_python_matrix_product(
    p: int, data: st.DataObject, shape: tuple[int, int, int]
) -> None:
    """``dot`` equals the exact integer matrix product reduced modulo p (matrix and vector forms)."""
    m, k, n = shape
    left = [data.draw(vectors(p, k)) for _ in range(m)]
    right = [data.draw(vectors(p, n)) for _ in range(k)]
    field = Field(p)
    product = field.dot(np.array(left, dtype=np.uint64), np.array(right, dtype=np.uint64))
    expected = [
        [sum(left[i][j] * right[j][c] for j in range(k)) % p for c in range(n)] for i in range(m)
    ]
    assert product.tolist() == expected
    vector = field.dot(np.array(left, dtype=np.uint64), np.array([r[0] for r in right], np.uint64))
    assert vector.tolist() == [row[0] for row in expected]


@given(values=st.lists(st.integers(-(2**80), 2**80), max_size=20))
def test_array_reduces_any_python_integer_and_to_signed_centres_it(values: list[int]) -> None:
    """``array`` reduces integers of any size; ``to_signed`` returns the representative in (-p/2, p/2]."""
    field = Field()
    p = field.p
    elements_ = field.array(np.array(values, dtype=object))
    assert elements_.tolist() == [v % p for v in values]
    centred = field.to_signed(elements_).tolist()
    assert all(
        -p // 2 < c <= p // 2 and (c - v) % p == 0 for c, v in zip(centred, values, strict=True)
    )


def test_array_refuses_floats_naming_the_position() -> None:
    """A float among the values is refused (never truncated), and the message names where it is."""
    with pytest.raises(FieldError, match=r"2\.5 \(a float\) at flat position 1"):
        Field().array(np.array([1, 2.5], dtype=object))
    with pytest.raises(FieldError, match="dtype float64"):
        Field().array([0.5])


def test_inverse_of_zero_names_its_position() -> None:
    """Inverting an array with zeros fails, giving how many zeros and where the first one is."""
    with pytest.raises(FieldError, match=r"2 zero\(s\), first at flat position 3"):
        Field().inv(np.array([1, 2, 3, 0, 4, 0], dtype=np.uint64))


def test_check_names_the_first_non_canonical_value() -> None:
    """``check`` refuses values >= p and names the parameter and the flat position."""
    field = Field(65521)
    with pytest.raises(
        FieldError, match=r"shares holds 1 values >= p = 65521; first at flat position 2"
    ):
        field.check(np.array([0, 65520, 65521], dtype=np.uint64), "shares")
    with pytest.raises(FieldError, match="must have dtype uint64"):
        field.check(np.array([1], dtype=np.int64))


@pytest.mark.parametrize("modulus", [15, 2, 1, 2**64 - 59, 2**61 + 1, 65521.0])
def test_a_modulus_that_is_not_a_usable_prime_is_refused(modulus: object) -> None:
    """Composite, too small, too large and non-integer moduli are refused with a hint."""
    with pytest.raises(FieldError, match="must be a prime between 3 and 2\\*\\*63"):
        Field(modulus)  # type: ignore[arg-type]


def test_is_prime_agrees_with_trial_division_below_5000() -> None:
    """The Miller–Rabin test is exact on small numbers."""
    trial = [n for n in range(5000) if n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))]
    assert [n for n in range(5000) if is_prime(n)] == trial
    assert is_prime(MERSENNE61)
    assert not is_prime(MERSENNE61 + 2)


def test_negative_exponent_is_refused_pointing_to_inv() -> None:
    """``pow`` with a negative exponent raises and says to use ``inv``."""
    with pytest.raises(FieldError, match="use inv"):
        Field().pow(np.array([2], dtype=np.uint64), -1)


def test_out_of_the_wrong_shape_is_refused() -> None:
    """An ``out`` array of the wrong shape or dtype is refused before anything is written."""
    field = Field()
    a = np.array([1, 2, 3], dtype=np.uint64)
    with pytest.raises(
        FieldError, match=r"out must be a C-contiguous uint64 array of shape \(3,\)"
    ):
        field.add(a, a, out=np.empty(2, dtype=np.uint64))


def test_seeded_csprng_streams_are_reproducible_and_distinct() -> None:
    """The same seed gives the same words; another seed gives other words; words are the byte stream."""
    first, again, other = Csprng(seed=bytes(32)), Csprng(seed=bytes(32)), Csprng(seed=b"\x01" * 32)
    words = first.uint64(1000)
    np.testing.assert_array_equal(words, again.uint64(1000))
    assert not np.array_equal(words, other.uint64(1000))
    replay = Csprng(seed=bytes(32))
    assert replay.random_bytes(8 * 1000) == words.tobytes()
    np.testing.assert_array_equal(
        first.uint64(10), np.frombuffer(replay.random_bytes(80), np.uint64)
    )


def test_unseeded_csprngs_differ() -> None:
    """Two OS-keyed generators produce different streams."""
    assert Csprng().random_bytes(32) != Csprng().random_bytes(32)


def test_a_bad_seed_is_refused_with_a_hint() -> None:
    """A seed that is not 32 bytes is refused, saying what was received."""
    with pytest.raises(FieldError, match="seed must be 32 bytes, got 3 bytes"):
        Csprng(seed=b"abc")
    with pytest.raises(FieldError, match="got str"):
        Csprng(seed="a" * 32)  # type: ignore[arg-type]


def _draw_in_child(rng: Csprng, queue: multiprocessing.Queue[bytes]) -> None:
    queue.put(rng.random_bytes(32))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_replay_its_parents_stream() -> None:
    """An unseeded generator inherited through fork is rekeyed in the child, so streams differ."""
    rng = Csprng()
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[bytes] = context.Queue()
    child = context.Process(target=_draw_in_child, args=(rng, queue))
    child.start()
    from_child = queue.get(timeout=30)
    child.join(timeout=30)
    assert from_child != rng.random_bytes(32)


@pytest.mark.parametrize("bound", [1, 2, 3, 5, 17, 2**32 + 1, 2**63 + 1, 2**64])
def test_below_stays_below_the_bound(bound: int) -> None:
    """Rejection sampling returns only values in [0, bound), also for bounds just above a power of 2."""
    draws = Csprng(seed=bytes(32)).below(bound, 5000)
    assert draws.dtype == np.uint64
    assert draws.shape == (5000,)
    assert int(draws.max()) < bound


@pytest.mark.parametrize("p", [17, 257, 65521])
def test_random_elements_are_uniform_chi_square(p: int) -> None:
    """Counts of uniform field elements pass a chi-square test (fixed seed, so never flaky)."""
    field = Field(p)
    per_bin = 40
    draws = field.random(p * per_bin, Csprng(seed=bytes(range(32))))
    counts = np.bincount(draws.astype(np.int64), minlength=p)
    assert counts.size == p
    assert stats.chisquare(counts).pvalue > 1e-4


def test_random_nonzero_is_uniform_on_the_non_zero_elements() -> None:
    """``random_nonzero`` never returns 0 and is uniform on 1..p-1 (chi-square)."""
    field = Field(257)
    draws = field.random_nonzero(256 * 60, Csprng(seed=bytes(range(32))))
    counts = np.bincount(draws.astype(np.int64), minlength=257)
    assert counts[0] == 0
    assert stats.chisquare(counts[1:]).pvalue > 1e-4


def test_rejection_sampling_of_a_bound_just_above_a_power_of_two_is_uniform() -> None:
    """With bound 2**k + 1 about half the raw draws are rejected; the rest are uniform."""
    draws = Csprng(seed=bytes(range(32))).below(33, 33 * 100)
    assert stats.chisquare(np.bincount(draws.astype(np.int64), minlength=33)).pvalue > 1e-4


def test_random_has_the_requested_shape_and_default_field_is_shared() -> None:
    """``random`` returns canonical elements of the requested shape; ``default_field`` is one object."""
    field = default_field()
    assert field is default_field()
    assert field == Field()
    assert field.p == MERSENNE61
    sample = field.random((4, 3))
    assert sample.shape == (4, 3)
    assert sample.dtype == np.uint64
    field.check(sample)
