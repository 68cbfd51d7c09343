"""SecretArray: every operation opens to what numpy computes on the same plaintext."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpc_strategies import PARTY_COUNTS, int_arrays, paired_arrays, small_ints

from veil.errors import PartyFailed
from veil.mpc import Runtime, SecretArray, run_local

Op = Callable[[Any, Any], Any]


def secure(op: Op, x: np.ndarray, y: np.ndarray, n: int = 3) -> np.ndarray:
    """Share x from party 0 and y from the last party, apply op, open; check all parties agree."""

    async def program(rt: Runtime) -> np.ndarray:
        a = await rt.input(x if rt.party_id == 0 else None, sender=0)
        b = await rt.input(y if rt.party_id == n - 1 else None, sender=n - 1)
        result = op(a, b)
        assert isinstance(result, SecretArray)
        opened = await result.open()
        assert opened is not None
        return opened

    results = run_local(program, n)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    return results[0]


BINARY: dict[str, Op] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "neg_add": lambda a, b: -a + b,
    "square_minus": lambda a, b: a * a - b * b,
}


@pytest.mark.parametrize("n", PARTY_COUNTS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_operations_match_numpy(name: str, n: int) -> None:
    """a op b between two secret arrays equals numpy's result, for every party count."""
    x = np.array([0, 1, -1, 2**20, -(2**20), 12345])
    y = np.array([7, -7, 0, 3, 2**20, -1])
    op = BINARY[name]
    np.testing.assert_array_equal(secure(op, x, y, n), op(x, y))


@settings(max_examples=25, deadline=None)
@given(pair=paired_arrays(), c=small_ints)
def test_arithmetic_with_public_operands_matches_numpy(
    pair: tuple[np.ndarray, np.ndarray], c: int
) -> None:
    """Public ints and numpy arrays on either side: (c - a) * y + a * c - y + 1."""
    x, y = pair
    expected = (c - x) * y + x * c - y + 1
    got = secure(lambda a, b: (c - a) * y + a * c - y + 1, x, y)
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=25, deadline=None)
@given(pair=paired_arrays())
def test_multiplication_distributes_over_addition(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """a * (a + b) opens to a*a + a*b."""
    x, y = pair
    left = secure(lambda a, b: a * (a + b), x, y)
    right = secure(lambda a, b: a * a + a * b, x, y)
    np.testing.assert_array_equal(left, right)
    np.testing.assert_array_equal(left, x * (x + y))


@settings(max_examples=25, deadline=None)
@given(pair=paired_arrays())
def test_sum_and_dot_match_numpy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    """(a * b).sum() and a.dot(b) both open to the inner product."""
    x, y = pair
    assert int(secure(lambda a, b: (a * b).sum(), x, y)) == int(x @ y)
    assert int(secure(lambda a, b: a.dot(b), x, y)) == int(x @ y)
    assert int(secure(lambda a, b: a @ b, x, y)) == int(x @ y)


@settings(max_examples=15, deadline=None)
@given(m=int_arrays((2, 3)), k=int_arrays((3, 2)))
def test_matrix_products_match_numpy(m: np.ndarray, k: np.ndarray) -> None:
    """Secret @ secret, secret @ public and public @ secret for 2-D operands."""
    np.testing.assert_array_equal(secure(lambda a, b: a @ b, m, k), m @ k)
    np.testing.assert_array_equal(secure(lambda a, b: a @ k + m @ b, m, k), 2 * (m @ k))


def test_sum_over_an_axis_matches_numpy() -> None:
    """sum(axis=0) and sum(axis=1) of a 2-D array."""
    m = np.arange(-6, 6).reshape(3, 4)
    np.testing.assert_array_equal(secure(lambda a, b: a.sum(axis=0), m, m), m.sum(axis=0))
    np.testing.assert_array_equal(secure(lambda a, b: a.sum(axis=1), m, m), m.sum(axis=1))


def test_indexing_reshape_and_transpose_match_numpy() -> None:
    """Slices, fancy indices, reshape, ravel and .T are local and exact."""
    m = np.arange(12).reshape(3, 4)
    cases: dict[str, Op] = {
        "slice": lambda a, b: a[1:, ::2],
        "row": lambda a, b: a[2],
        "fancy": lambda a, b: a[[0, 2], 1],
        "reshape": lambda a, b: a.reshape(2, 6),
        "reshape_tuple": lambda a, b: a.reshape((4, -1)),
        "ravel": lambda a, b: a.ravel(),
        "transpose": lambda a, b: a.T,
    }
    plain: dict[str, Any] = {
        "slice": m[1:, ::2],
        "row": m[2],
        "fancy": m[[0, 2], 1],
        "reshape": m.reshape(2, 6),
        "reshape_tuple": m.reshape((4, -1)),
        "ravel": m.ravel(),
        "transpose": m.T,
    }
    for name, op in cases.items():
        np.testing.assert_array_equal(secure(op, m, m), plain[name], err_msg=name)


def test_broadcasting_follows_numpy() -> None:
    """A (3, 1) secret times a (4,) secret gives (3, 4)."""
    x = np.array([[1], [2], [3]])
    y = np.array([10, 20, 30, 40])

    async def program(rt: Runtime) -> np.ndarray:
        a = await rt.input(x if rt.party_id == 0 else None, sender=0)
        b = await rt.input(y if rt.party_id == 1 else None, sender=1)
        product = a * b
        assert product.shape == (3, 4)
        opened = await product.open()
        assert opened is not None
        return opened

    np.testing.assert_array_equal(run_local(program, 3)[0], x * y)


def test_operations_on_pending_results_chain_without_awaiting() -> None:
    """A program may build a whole expression before awaiting anything."""

    async def program(rt: Runtime) -> int:
        a = await rt.input([1, 2, 3] if rt.party_id == 0 else None, sender=0)
        expression = ((a * a) * a + (a * 2) * a)[1:].sum() - 1
        assert expression.shape == ()
        return int(await rt.open(expression))

    assert run_local(program, 3) == [(8 + 27) + (8 + 18) - 1] * 3


def test_bool_refuses_and_says_to_open_or_use_where() -> None:
    """if secret: ... is a TypeError that explains what to do."""

    async def program(rt: Runtime) -> str:
        a = await rt.input([1] if rt.party_id == 0 else None, sender=0)
        try:
            bool(a)
        except TypeError as exc:
            return str(exc)
        return "no error"

    message = run_local(program, 3)[0]
    assert "truth value of a SecretArray is secret" in message
    assert "await x.open()" in message
    assert "where(" in message


@pytest.mark.parametrize(
    "attempt",
    [
        lambda a: int(a),
        lambda a: float(a),
        lambda a: np.asarray(a),
        lambda a: a < 1,
        lambda a: a == a,
        lambda a: [0, 1][a],
        lambda a: a * 0.5,
        lambda a: a + "x",
        lambda a: a + np.array([0.5]),
        lambda a: {a},
    ],
    ids=[
        "int",
        "float",
        "asarray",
        "lt",
        "eq",
        "index",
        "float_mul",
        "str_add",
        "float_array",
        "hash",
    ],
)
def test_operations_that_would_leak_or_make_no_sense_raise_type_error(
    attempt: Callable[[SecretArray], object],
) -> None:
    """Conversions, comparisons, hashing and foreign operands are refused."""

    async def program(rt: Runtime) -> bool:
        a = await rt.input([1] if rt.party_id == 0 else None, sender=0)
        with pytest.raises(TypeError):
            attempt(a)
        return True

    assert run_local(program, 3) == [True] * 3


def test_secret_arrays_cannot_be_constructed_directly() -> None:
    """Only a runtime makes them."""
    with pytest.raises(TypeError, match=r"use rt.input"):
        SecretArray()


def test_arrays_of_different_runtimes_do_not_mix() -> None:
    """Combining values of two computations is an error, not garbage."""

    async def program(rt: Runtime) -> list[SecretArray]:
        return [await rt.input([1] if rt.party_id == 0 else None, sender=0)]

    async def main() -> None:
        from veil.mpc.launcher import gather_local

        first = await gather_local(program, 3)
        second = await gather_local(program, 3)
        with pytest.raises(ValueError, match="different runtimes"):
            _ = first[0][0] + second[0][0]

    asyncio.run(main())


def test_mismatched_shapes_name_both_shapes() -> None:
    """Shapes that do not broadcast are reported."""

    async def program(rt: Runtime) -> None:
        a = await rt.input([1, 2] if rt.party_id == 0 else None, sender=0)
        _ = a + np.array([1, 2, 3])

    with pytest.raises(PartyFailed, match=r"shapes \(2,\) and \(3,\) do not broadcast"):
        run_local(program, 3)


def test_a_numpy_array_on_the_left_defers_to_the_secret_array() -> None:
    """ndarray * SecretArray and ndarray - SecretArray stay secret (numpy does not broadcast them)."""
    x = np.array([1, 2, 3])
    got = secure(lambda a, b: np.array([2, 2, 2]) * a - np.array([1, 1, 1]), x, x)
    np.testing.assert_array_equal(got, 2 * x - 1)


@settings(max_examples=10, deadline=None)
@given(values=st.lists(small_ints, min_size=1, max_size=5), n=st.sampled_from(PARTY_COUNTS))
def test_input_all_gives_every_partys_values(values: list[int], n: int) -> None:
    """input_all shares one array per party in one round; their sum opens correctly."""

    async def program(rt: Runtime) -> int:
        before = rt.stats.rounds
        arrays = await rt.input_all([v * (rt.party_id + 1) for v in values])
        assert rt.stats.rounds - before == 1
        total = arrays[0]
        for a in arrays[1:]:
            total = total + a
        return int(await rt.open(total.sum()))

    assert run_local(program, n) == [sum(values) * n * (n + 1) // 2] * n
