"""Rounds: concurrent operations share one round, and every party cuts the same rounds."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from mpc_strategies import PARTY_COUNTS

from veil.errors import FramingError, PartyFailed, ProtocolError
from veil.mpc import Runtime, SecretArray, run_local
from veil.net.channels import Channel, memory_mesh


async def _two_inputs(rt: Runtime, size: int = 4) -> tuple[SecretArray, SecretArray]:
    values = np.arange(1, size + 1)
    a = await rt.input(values if rt.party_id == 0 else None, sender=0)
    b = await rt.input(values * 10 if rt.party_id == 1 else None, sender=1)
    return a, b


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_independent_multiplications_issued_together_share_one_round(n: int) -> None:
    """Ten products awaited with gather cost one round, and at most one message per peer."""

    async def program(rt: Runtime) -> tuple[int, int, list[int]]:
        a, b = await _two_inputs(rt)
        before = rt.stats.snapshot()
        products = [a * b + k for k in range(10)]
        shares = await asyncio.gather(*(p.share() for p in products))
        spent = rt.stats - before
        assert len(shares) == 10
        opened = await rt.open(products[9])
        return spent.rounds, spent.messages_sent, opened.tolist()

    for rounds, messages, opened in run_local(program, n):
        assert rounds == 1
        assert messages <= n - 1
        assert opened == [10 * k * k + 9 for k in range(1, 5)]


def test_dependent_multiplications_take_one_round_each() -> None:
    """A chain a * a * a * a needs three rounds."""

    async def program(rt: Runtime) -> tuple[int, int]:
        a, _ = await _two_inputs(rt)
        before = rt.stats.rounds
        power = a
        for _ in range(3):
            power = power * a
            await power.share()
        rounds = rt.stats.rounds - before
        return rounds, int(await rt.open(power.sum()))

    assert run_local(program, 3) == [(3, 1 + 16 + 81 + 256)] * 3


def test_opens_and_multiplications_issued_together_travel_in_one_message() -> None:
    """A mixed round is tagged with both kinds, in order of issue."""
    tags: list[str] = []

    class Recording(Channel):
        def __init__(self, inner: Channel) -> None:
            self.inner, self.local, self.peer = inner, inner.local, inner.peer

        async def send(self, tag: str, payload: bytes | memoryview) -> None:
            tags.append(tag)
            await self.inner.send(tag, payload)

        async def recv(self, tag: str, *, timeout_seconds: float | None = None) -> bytes:
            return await self.inner.recv(tag, timeout_seconds=timeout_seconds)

        async def aclose(self) -> None:
            await self.inner.aclose()

        @property
        def closed(self) -> bool:
            return self.inner.closed

    async def main() -> list[int]:
        mesh = memory_mesh(3)
        mesh[0] = {j: Recording(c) for j, c in mesh[0].items()}

        async def party(i: int) -> int:
            async with Runtime(i, 3, 1, mesh[i]) as rt:
                a, b = await _two_inputs(rt)
                product = a * b
                opened, _ = await asyncio.gather(rt.open(a), product.share())
                return int(opened.sum())

        return list(await asyncio.gather(*(party(i) for i in range(3))))

    assert asyncio.run(main()) == [10, 10, 10]
    assert tags[0] == "setup#0"
    assert "mul+open#3" in tags
    assert tags[-1].startswith("barrier#")


def test_tasks_resuming_at_different_depths_still_agree_on_rounds() -> None:
    """Work spread over nested tasks and gathers batches identically at every party."""

    async def branch(rt: Runtime, a: SecretArray, depth: int) -> int:
        x = a
        for _ in range(depth):
            await asyncio.sleep(0)
            x = x * a
            x = await asyncio.create_task(_ready(x))
        return int(await rt.open(x.sum()))

    async def program(rt: Runtime) -> list[int]:
        a, _ = await _two_inputs(rt, 3)
        return list(await asyncio.gather(*(branch(rt, a, d) for d in range(5))))

    expected = [sum(v ** (d + 1) for v in (1, 2, 3)) for d in range(5)]
    assert run_local(program, 5) == [expected] * 5


async def _ready(x: SecretArray) -> SecretArray:
    await x.share()
    return x


def test_parties_running_different_programs_fail_naming_the_round() -> None:
    """A party that opens where the others multiply is caught by the round tag or header."""

    async def program(rt: Runtime) -> None:
        a, b = await _two_inputs(rt)
        if rt.party_id == 1:
            await rt.open(a)
        else:
            await (a * b).share()

    with pytest.raises(PartyFailed) as info:
        run_local(program, 3)
    cause = info.value.__cause__
    assert isinstance(cause, ProtocolError | FramingError)
    assert "open#3" in str(cause) or "mul#3" in str(cause)


@pytest.mark.parametrize(("n", "expected_words"), [(3, 1), (4, 2), (5, 2), (7, 3)])
def test_a_product_sends_n_minus_one_minus_t_elements_per_resharing_party(
    n: int, expected_words: int
) -> None:
    """Bytes per multiplication: 8 * (n - 1 - t) at each of parties 0..2t, plus headers."""
    size = 1000

    async def program(rt: Runtime) -> int:
        a, b = await _two_inputs(rt, size)
        before = rt.stats.snapshot()
        await (a * b).share()
        spent = rt.stats - before
        return spent.bytes_sent - 16 * spent.messages_sent  # two header words per message

    sent = run_local(program, n)
    t = (n - 1) // 2
    for party, payload in enumerate(sent):
        assert payload == (8 * expected_words * size if party <= 2 * t else 0)


def test_a_round_with_a_different_number_of_parts_is_a_protocol_error() -> None:
    """Same tag, different batch: the header check names the party and the round."""

    async def program(rt: Runtime) -> None:
        a, b = await _two_inputs(rt)
        products = [a * b] if rt.party_id != 2 else [a * b, a * a]
        await asyncio.gather(*(p.share() for p in products))

    with pytest.raises(PartyFailed) as info:
        run_local(program, 3)
    cause = info.value.__cause__
    assert isinstance(cause, ProtocolError)
    assert "party 2's message for round 'mul#3' holds 2 parts where this party expected 1" in str(
        cause
    )
