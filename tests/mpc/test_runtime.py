"""The runtime: parameters, input and opening, random sharings, barriers and failures."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from mpc_strategies import PARTY_COUNTS

from veil.errors import ChannelClosed, ConfigError, PartyFailed, PeerTimeout
from veil.field import Field
from veil.mpc import Runtime, run_local
from veil.net.channels import Timeouts, memory_mesh


@pytest.mark.parametrize(("n", "t"), [(3, 0), (3, 2), (4, 2), (5, 3), (7, 4), (7, -1)])
def test_a_threshold_outside_one_to_half_is_refused(n: int, t: int) -> None:
    """t must satisfy 1 <= t < n/2; the message names t, n and the allowed range."""
    with pytest.raises(ConfigError) as info:
        Runtime(0, n, t, memory_mesh(n)[0])
    assert f"t={t}" in str(info.value)
    assert f"n={n}" in str(info.value)
    assert f"1 <= t <= {(n - 1) // 2}" in str(info.value)


def test_two_parties_are_refused_with_a_hint() -> None:
    """Honest-majority MPC needs three parties at least."""
    with pytest.raises(ConfigError, match="n_parties must be an integer >= 3, got 2"):
        Runtime(0, 2, None, memory_mesh(2)[0])


def test_the_default_threshold_is_the_largest_below_half() -> None:
    """Omitting t gives (n - 1) // 2."""
    assert Runtime(0, 7, None, memory_mesh(7)[0]).threshold == 3
    assert Runtime(0, 4, None, memory_mesh(4)[0]).threshold == 1


def test_channels_must_reach_every_other_party() -> None:
    """A missing channel is named."""
    channels = memory_mesh(4)[0]
    del channels[3]
    with pytest.raises(ConfigError, match=r"needs channels to parties \[1, 2, 3\], got \[1, 2\]"):
        Runtime(0, 4, 1, channels)


def test_an_unknown_security_mode_is_refused() -> None:
    """Only registered suites are accepted."""
    with pytest.raises(ConfigError, match="security must be one of"):
        Runtime(0, 3, 1, memory_mesh(3)[0], security="magic")


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_an_input_opens_to_the_senders_values_at_every_party(n: int) -> None:
    """Shares of the last party's input open to its values everywhere, shape included."""
    values = np.array([[3, -1, 0], [2**40, -(2**40), 7]])

    async def program(rt: Runtime) -> list[list[int]]:
        x = await rt.input(values if rt.party_id == n - 1 else None, sender=n - 1)
        assert x.shape == (2, 3)
        opened = await x.open()
        assert opened is not None
        return opened.tolist()

    assert run_local(program, n) == [values.tolist()] * n


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_open_to_one_party_reveals_to_it_alone(n: int) -> None:
    """The target gets the values; every other party gets None."""

    async def program(rt: Runtime) -> object:
        x = await rt.input([5, 6] if rt.party_id == 0 else None, sender=0)
        opened = await rt.open_to(x, 1)
        return None if opened is None else opened.tolist()

    assert run_local(program, n) == [None, [5, 6]] + [None] * (n - 2)


def test_a_non_sender_passing_values_is_told_to_pass_none() -> None:
    """Only the sender has values; others pass None."""

    async def program(rt: Runtime) -> None:
        await rt.input([1], sender=0)

    with pytest.raises(PartyFailed, match=r"party 1 passed values to input\(sender=0\)"):
        run_local(program, 3)


def test_float_inputs_are_refused_with_a_hint_to_encode() -> None:
    """Reals must be encoded first; the error names the dtype."""

    async def program(rt: Runtime) -> None:
        await rt.input([0.5] if rt.party_id == 0 else None, sender=0)

    with pytest.raises(PartyFailed) as info:
        run_local(program, 3)
    assert "dtype float64" in str(info.value.__cause__)
    assert "veil.encoding" in str(info.value.__cause__)


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_random_sharings_open_to_the_same_values_everywhere_and_differ(n: int) -> None:
    """PRSS: no communication, consistent shares, fresh values per call."""

    async def program(rt: Runtime) -> tuple[list[int], list[int], int]:
        before = rt.stats.rounds
        a, b = rt.random(64), rt.random(64)
        made_in = rt.stats.rounds - before
        opened = await asyncio.gather(a.open(), b.open())
        return opened[0].tolist(), opened[1].tolist(), made_in

    results = run_local(program, n)
    assert all(r == results[0] for r in results)
    first, second, rounds = results[0]
    assert rounds == 0
    assert first != second
    assert len(set(first)) == 64


def test_random_sharings_are_uniform_on_their_low_bits() -> None:
    """Chi-square on the low 4 bits of 4096 opened random elements (alpha = 1e-4)."""

    async def program(rt: Runtime) -> np.ndarray:
        opened = await rt.random(4096).open()
        assert opened is not None
        return opened

    values = run_local(program, 3)[0] % (2**61 - 1)
    counts = np.bincount((values & 15).astype(np.int64), minlength=16)
    expected = values.size / 16
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 44.3  # 15 degrees of freedom, p = 1e-4


def test_random_sharings_are_dealt_when_there_are_too_many_prss_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With PRSS off, t + 1 parties deal random vectors in one round."""
    from veil.mpc.protocols import passive

    monkeypatch.setattr(passive, "MAX_PRSS_KEYS", 0)

    async def program(rt: Runtime) -> list[int]:
        opened = await rt.random(8).open()
        assert opened is not None
        return opened.tolist()

    results = run_local(program, 5)
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == 8


def test_a_small_field_works_through_the_generic_arithmetic() -> None:
    """Fields other than 2**61 - 1 use Field's exact arithmetic."""
    field = Field(2**31 - 1)

    async def program(rt: Runtime) -> list[int]:
        a = await rt.input([1000, -3] if rt.party_id == 0 else None, sender=0)
        b = await rt.input([2000, 5] if rt.party_id == 2 else None, sender=2)
        opened = await (a * b + rt.random(2) * 0).open()
        assert opened is not None
        return opened.tolist()

    assert run_local(program, 5, field=field) == [[2_000_000, -15]] * 5


def test_a_failing_party_is_named_and_the_others_stop() -> None:
    """The launcher blames the party whose program raised, not those who lost it."""

    async def program(rt: Runtime) -> int:
        x = await rt.input([1] if rt.party_id == 0 else None, sender=0)
        if rt.party_id == 2:
            raise RuntimeError("disk full")
        opened = await x.open()
        assert opened is not None
        return int(opened[0])

    with pytest.raises(PartyFailed, match="party 2 failed: RuntimeError: disk full") as info:
        run_local(program, 3)
    assert info.value.party == 2


def test_a_silent_peer_raises_a_timeout_naming_it() -> None:
    """A party that never answers is named within the receive timeout."""
    timeouts = Timeouts(recv_seconds=0.2)

    async def main() -> BaseException | None:
        mesh = memory_mesh(3, timeouts)
        runtimes = [Runtime(i, 3, 1, mesh[i], timeouts=timeouts) for i in range(3)]
        await asyncio.gather(*(rt.__aenter__() for rt in runtimes))
        try:  # party 2 stays silent
            await asyncio.gather(runtimes[0].barrier(), runtimes[1].barrier())
        except (PeerTimeout, ChannelClosed) as exc:
            return exc
        return None

    error = asyncio.run(main())
    assert isinstance(error, PeerTimeout)
    assert error.party == 2
    assert "party 2 sent nothing for 0.2 s" in str(error)


def test_operations_after_the_runtime_closed_fail_clearly() -> None:
    """Using a runtime outside its `async with` block raises ChannelClosed."""

    async def program(rt: Runtime) -> Runtime:
        return rt

    async def main() -> None:
        mesh = memory_mesh(3)
        runtimes = await asyncio.gather(
            *(_enter_and_leave(Runtime(i, 3, 1, mesh[i])) for i in range(3))
        )
        with pytest.raises(ChannelClosed, match="runtime is closed"):
            await runtimes[0].input([1], sender=0)

    asyncio.run(main())


async def _enter_and_leave(rt: Runtime) -> Runtime:
    async with rt:
        pass
    return rt
