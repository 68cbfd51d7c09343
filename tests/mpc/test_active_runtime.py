"""Active mode without cheaters: the same results as numpy, at every party, for n in {3, 4, 5, 7}."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from active_programs import EXPECTED, X, Y, scenario_program
from mpc_strategies import PARTY_COUNTS

from veil.errors import ConfigError, ProtocolError
from veil.mpc import Runtime, run_local
from veil.mpc.protocols.active import ActiveSuite, Tagged
from veil.net.channels import memory_mesh


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_inputs_products_and_sums_open_to_numpy_at_every_party(n: int) -> None:
    """The scenario program opens x*y + 7 and its weighted sum, equal to plain arithmetic."""
    results = run_local(scenario_program, n, security="active", args=(X, Y))
    assert results == [EXPECTED] * n


def test_matrix_products_and_public_constants_match_numpy() -> None:
    """@ of two secret matrices, products by and sums with public arrays, reflected operators."""
    a = np.array([[1, -2, 3], [4, 5, -6]])
    b = np.array([[7, 8], [-9, 10], [11, -12]])
    offset = np.array([[100, -200], [300, 400]])

    async def program(rt: Runtime) -> list[list[int]]:
        sa = await rt.input(a if rt.party_id == 0 else None, sender=0)
        sb = await rt.input(b if rt.party_id == 1 else None, sender=1)
        z = 3 * (sa @ sb) - offset + 5
        w = 10 - z.T * 2
        opened = await rt.open(w)
        return opened.tolist()

    expected = (10 - (3 * (a @ b) - offset + 5).T * 2).tolist()
    assert run_local(program, 3, security="active") == [expected] * 3


def test_concurrent_operations_are_verified_together() -> None:
    """Products and inputs issued at once share rounds and checks, and all come out right."""

    async def program(rt: Runtime) -> list[int]:
        xs = await rt.input_all([rt.party_id + 2, -(rt.party_id + 1)])
        products = [xs[i] * xs[(i + 1) % rt.n_parties] for i in range(rt.n_parties)]
        opened = await asyncio.gather(*(p.open() for p in products))
        return [int(v) for o in opened for v in o]

    values = [[i + 2, -(i + 1)] for i in range(4)]
    expected = [
        int(v) for i in range(4) for v in np.array(values[i]) * np.array(values[(i + 1) % 4])
    ]
    assert run_local(program, 4, security="active") == [expected] * 4


@pytest.mark.parametrize("n", [3, 5])
def test_open_to_one_party_reveals_to_it_alone(n: int) -> None:
    """A private opening: the target gets the values, every other party None."""

    async def program(rt: Runtime) -> object:
        x = await rt.input([5, -6] if rt.party_id == 0 else None, sender=0)
        opened = await rt.open_to(x * x, 1)
        return None if opened is None else opened.tolist()

    assert run_local(program, n, security="active") == [None, [25, 36]] + [None] * (n - 2)


def test_random_values_open_alike_everywhere_and_differ() -> None:
    """Random sharings: consistent, fresh per call, different elements."""

    async def program(rt: Runtime) -> tuple[list[int], list[int]]:
        a, b = rt.random(32), rt.random(32)
        first, second = await asyncio.gather(a.open(), b.open())
        return first.tolist(), second.tolist()

    results = run_local(program, 3, security="active")
    assert all(r == results[0] for r in results)
    first, second = results[0]
    assert first != second
    assert len(set(first)) == 32


def test_every_share_carries_a_tag_consistent_with_the_key_r() -> None:
    """Shares of x and of its tag reconstruct to x and r·x (white-box: r is reconstructed too)."""
    from veil.sharing import shamir

    async def program(rt: Runtime) -> tuple[int, int, int, int]:
        x = await rt.input([7] if rt.party_id == 0 else None, sender=0)
        y = 2 - x * x + x  # a product, a constant and additions
        share = await y.share()
        assert isinstance(share, Tagged)
        assert share.tag is not None
        suite = rt.protocols
        assert isinstance(suite, ActiveSuite)
        return int(share[0]), int(share.tag[0]), suite.ctx.r_share, rt.party_id

    rows = run_local(program, 3, security="active")
    field_p = 2**61 - 1
    parties = [row[3] for row in rows]
    value, tag, r = (
        int(
            shamir.reconstruct(
                __import__("veil.field", fromlist=["Field"]).Field(),
                np.array([[row[k]] for row in rows], dtype=np.uint64),
                parties,
            )[0]
        )
        for k in range(3)
    )
    assert value == (2 - 49 + 7) % field_p
    assert tag == r * value % field_p


@pytest.mark.parametrize(("n", "t"), [(3, 2), (4, 2), (17, 8)])
def test_the_active_suite_refuses_unsafe_thresholds_and_too_many_parties(n: int, t: int) -> None:
    """1 <= t < n/2 and n <= 16; the message names n, t and the range."""
    with pytest.raises(ConfigError, match=rf"t={t} does not suit n={n} parties: active MPC"):
        Runtime(0, n, t, memory_mesh(n)[0], security="active")


def test_without_a_pki_the_parties_make_and_cross_check_fresh_keys() -> None:
    """Runtime(security='active') over plain channels bootstraps signing keys and still works."""

    async def main() -> list[int]:
        mesh = memory_mesh(3)

        async def party(i: int) -> int:
            async with Runtime(i, 3, 1, mesh[i], security="active") as rt:
                x = await rt.input([6] if i == 2 else None, sender=2)
                return int((await rt.open(x * x))[0])

        return list(await asyncio.gather(*(party(i) for i in range(3))))

    assert asyncio.run(main()) == [36, 36, 36]


def test_a_share_without_a_tag_is_refused_with_a_hint() -> None:
    """rt.secret(...) wraps a plain share: the active suite refuses to multiply it."""
    from veil.errors import PartyFailed

    async def program(rt: Runtime) -> None:
        x = await rt.input([1, 2] if rt.party_id == 0 else None, sender=0)
        plain = rt.secret(np.zeros(2, dtype=np.uint64), (2,))
        await (plain * x).share()

    with pytest.raises(PartyFailed) as info:
        run_local(program, 3, security="active")
    assert isinstance(info.value.__cause__, ProtocolError)
    assert "without a tag" in str(info.value.__cause__)
    assert "same active runtime" in str(info.value.__cause__)
