"""Comparisons, equality, selection and reductions open to what numpy computes."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from secure_helpers import INT32_EDGES, INT32_MAX, INT32_MIN, int32_arrays, run_typed

from veil.errors import ConfigError, PartyFailed
from veil.mpc import (
    Runtime,
    SecFxp,
    SecInt,
    amax,
    amin,
    argmax,
    argmin,
    maximum,
    minimum,
    run_local,
    secbool,
    where,
)

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
EDGE_PAIRS = np.array([(a, b) for a in INT32_EDGES for b in INT32_EDGES]).T


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_every_comparison_matches_numpy_on_all_pairs_of_32_bit_edge_values(name: str) -> None:
    """0, -1, 1 and the range limits against each other: 49 pairs per operator."""
    op = OPERATORS[name]
    x, y = EDGE_PAIRS
    got = run_typed(op, x, y, dtype=SecInt(32))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, op(x, y))


@settings(max_examples=15, deadline=None)
@given(x=int32_arrays(), y=int32_arrays())
def test_less_than_and_equality_match_numpy_on_random_32_bit_integers(
    x: np.ndarray, y: np.ndarray
) -> None:
    """x < y and x == y for Hypothesis-chosen 32-bit values, edges included."""
    lt, eq = run_typed(lambda a, b: (a < b, a == b), x, y, dtype=SecInt(32))
    np.testing.assert_array_equal(lt, x < y)
    np.testing.assert_array_equal(eq, x == y)


@pytest.mark.parametrize("n_parties", [4, 5, 7])
def test_comparisons_work_for_larger_parties_and_thresholds(n_parties: int) -> None:
    """t = 1, 2, 3: several dealers' masks are combined in MPC."""
    x, y = EDGE_PAIRS
    lt, ne = run_typed(lambda a, b: (a < b, a != b), x, y, dtype=SecInt(32), n_parties=n_parties)
    np.testing.assert_array_equal(lt, x < y)
    np.testing.assert_array_equal(ne, x != y)


def test_comparisons_with_public_operands_and_broadcasting() -> None:
    """x < 0, 5 >= x (reflected) and x == [[...]] broadcast like numpy."""
    x = np.array(INT32_EDGES)

    def ops(a):  # type: ignore[no-untyped-def]
        return a < 0, a <= 5, a == np.array([[0], [INT32_MAX]])

    negative, at_most_five, equal = run_typed(ops, x, dtype=SecInt(32))
    np.testing.assert_array_equal(negative, x < 0)
    np.testing.assert_array_equal(at_most_five, x <= 5)
    np.testing.assert_array_equal(equal, x == np.array([[0], [INT32_MAX]]))


def test_fixed_point_values_compare_by_their_real_value() -> None:
    """Reals compare exactly at the type's resolution; a public real is encoded the same way."""
    x = np.array([0.5, -0.25, 3.0, -1000.0, 0.0])
    y = np.array([0.5, -0.5, 2.999, -999.5, -(2.0**-16)])
    lt, gt_half = run_typed(lambda a, b: (a < b, a > 0.5), x, y, dtype=SecFxp(16, 16))
    np.testing.assert_array_equal(lt, x < y)
    np.testing.assert_array_equal(gt_half, x > 0.5)


def test_small_integer_types_compare_with_the_same_protocol() -> None:
    """SecInt(8) edge values (-128, 127) compare correctly."""
    x = np.array([-128, 127, 0, -1, 5])
    y = np.array([127, -128, -1, 0, 5])
    np.testing.assert_array_equal(run_typed(operator.lt, x, y, dtype=SecInt(8)), x < y)


def test_wide_types_compare_correctly_even_when_masks_are_retried_often() -> None:
    """SecInt(55): K = 56 bits, so about one position in 32 draws a second mask."""
    generator = np.random.default_rng(7)
    x = generator.integers(-(2**54), 2**54, 200)
    y = np.concatenate([x[:100], generator.integers(-(2**54), 2**54, 100)])
    lt, eq = run_typed(lambda a, b: (a < b, a == b), x, y, dtype=SecInt(55))
    np.testing.assert_array_equal(lt, x < y)
    np.testing.assert_array_equal(eq, x == y)


def test_types_too_wide_for_the_protocol_are_refused_with_the_limit() -> None:
    """SecInt(58) comparisons need 59-bit operands: a ConfigError naming the 57-bit limit."""
    with pytest.raises(PartyFailed) as caught:
        run_typed(operator.lt, np.array([1]), np.array([2]), dtype=SecInt(58))
    assert isinstance(caught.value.__cause__, ConfigError)
    assert "at most 57 bits" in str(caught.value.__cause__)


def test_boolean_operators_combine_comparison_results() -> None:
    """&, |, ^ and ~ on secbool behave like numpy's on booleans."""
    x, y = EDGE_PAIRS

    def logic(a, b):  # type: ignore[no-untyped-def]
        p, q = a < b, a == 0
        return p & q, p | q, p ^ q, ~p

    got = run_typed(logic, x, y, dtype=SecInt(32))
    p, q = x < y, x == 0
    for actual, expected in zip(got, (p & q, p | q, p ^ q, ~p), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_where_selects_without_a_comparison_of_its_own() -> None:
    """where(c, x, y) with a secret or a public condition, and a public branch."""
    x = np.array([5, -7, 0, INT32_MAX])
    y = np.array([1, 2, 3, INT32_MIN])
    mask = np.array([True, False, True, False])

    def select(a, b):  # type: ignore[no-untyped-def]
        return where(a < b, a, b), where(mask, a, b), where(a > 0, a, 0)

    secret_cond, public_cond, relu = run_typed(select, x, y, dtype=SecInt(32))
    np.testing.assert_array_equal(secret_cond, np.where(x < y, x, y))
    np.testing.assert_array_equal(public_cond, np.where(mask, x, y))
    np.testing.assert_array_equal(relu, np.where(x > 0, x, 0))


def test_where_needs_a_secbool_condition() -> None:
    """A SecInt used as a condition is refused (0/1 is not guaranteed)."""
    with pytest.raises(PartyFailed) as caught:
        run_typed(lambda a: where(a, a, 0), np.array([1]), dtype=SecInt(8))
    assert "secbool" in str(caught.value.__cause__)


@settings(max_examples=6, deadline=None)
@given(x=int32_arrays(7), y=int32_arrays(7))
def test_minimum_and_maximum_match_numpy(x: np.ndarray, y: np.ndarray) -> None:
    """Elementwise min and max."""
    lo, hi = run_typed(lambda a, b: (minimum(a, b), maximum(a, b)), x, y, dtype=SecInt(32))
    np.testing.assert_array_equal(lo, np.minimum(x, y))
    np.testing.assert_array_equal(hi, np.maximum(x, y))


@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_reductions_match_numpy_with_ties_going_to_the_first_index(size: int) -> None:
    """max, min, argmax, argmin over odd and even lengths; repeated values tie to the lowest index."""
    x = np.array([3, INT32_MIN, 3, INT32_MAX, -1, INT32_MAX, 0, INT32_MIN][:size])

    def reduce(a):  # type: ignore[no-untyped-def]
        return amax(a), amin(a), argmax(a), argmin(a)

    top, bottom, where_top, where_bottom = run_typed(reduce, x, dtype=SecInt(32))
    assert (int(top), int(bottom)) == (x.max(), x.min())
    assert (int(where_top), int(where_bottom)) == (np.argmax(x), np.argmin(x))


def test_reductions_along_an_axis() -> None:
    """x.max(axis=0), x.argmax(axis=1) of a matrix."""
    x = np.array([[4, -2, 9], [4, 8, -9]])

    def reduce(a):  # type: ignore[no-untyped-def]
        return a.max(axis=0), a.argmax(axis=1), a.min(axis=1)

    cols, rows, mins = run_typed(reduce, x, dtype=SecInt(8))
    np.testing.assert_array_equal(cols, x.max(axis=0))
    np.testing.assert_array_equal(rows, x.argmax(axis=1))
    np.testing.assert_array_equal(mins, x.min(axis=1))


def test_abs_of_integers() -> None:
    """abs(x) uses one comparison."""
    x = np.array([INT32_MIN + 1, -1, 0, 7])
    np.testing.assert_array_equal(run_typed(abs, x, dtype=SecInt(32)), np.abs(x))


def test_a_comparison_costs_eight_rounds_and_opens_only_masked_values() -> None:
    """One 32-bit comparison batch: masks (2 rounds), open, leaves, two tree levels of two."""

    async def program(rt: Runtime) -> tuple[int, bool]:
        x = await rt.input([1, 2, 3] if rt.party_id == 0 else None, sender=0, dtype=SecInt(32))
        before = rt.stats.snapshot()
        result = x < 2
        await result.share()
        spent = rt.stats - before
        assert result.dtype == secbool
        return spent.rounds, bool((await result.open()).tolist() == [True, False, False])

    assert run_local(program, 3) == [(8, True)] * 3
