"""In-memory channels carry the same authenticated frames, so attacks on the queue are caught."""

from __future__ import annotations

import asyncio

import pytest

from veil.errors import FramingError
from veil.net.channels import MemoryChannel, Timeouts, memory_mesh, memory_pair
from veil.net.framing import MAC_BYTES
from veil.net.handshake import random_session


def wired() -> tuple[MemoryChannel, MemoryChannel, asyncio.Queue[object], asyncio.Queue[object]]:
    """A pair 0→1 whose wire (a→b queue) the test controls: returns a, b, wire_in, b_inbox."""
    wire: asyncio.Queue[object] = asyncio.Queue()
    b_inbox: asyncio.Queue[object] = asyncio.Queue()
    back: asyncio.Queue[object] = asyncio.Queue()
    sa, sb = random_session()
    a = MemoryChannel(0, 1, back, wire, Timeouts(), session=sa)
    b = MemoryChannel(1, 0, b_inbox, back, Timeouts(), session=sb)
    return a, b, wire, b_inbox


def problem(coro) -> str:
    """Run ``coro`` expecting FramingError; return its problem field."""

    async def run() -> str:
        with pytest.raises(FramingError) as info:
            await coro()
        return str(info.value.fields["problem"])

    return asyncio.run(run())


def test_a_byte_changed_on_the_queue_is_detected() -> None:
    """Flipping a payload byte between the two ends fails the frame MAC."""

    async def scenario() -> None:
        a, b, wire, b_inbox = wired()
        await a.send("share", b"42")
        frame = bytearray(wire.get_nowait())  # type: ignore[arg-type]
        frame[-MAC_BYTES - 1] ^= 0x01  # the payload's last byte
        b_inbox.put_nowait(bytes(frame))
        await b.recv("share")

    assert problem(scenario) == "tampered"


def test_a_frame_replayed_on_the_queue_is_detected() -> None:
    """Delivering the same frame twice is refused the second time."""

    async def scenario() -> None:
        a, b, wire, b_inbox = wired()
        await a.send("vote", b"yes")
        frame = wire.get_nowait()
        b_inbox.put_nowait(frame)
        b_inbox.put_nowait(frame)
        assert await b.recv("vote") == b"yes"
        await b.recv("vote")

    assert problem(scenario) == "replayed"


def test_frames_swapped_on_the_queue_are_detected() -> None:
    """Delivering frame 1 before frame 0 is refused."""

    async def scenario() -> None:
        a, b, wire, b_inbox = wired()
        await a.send("r0", b"0")
        await a.send("r1", b"1")
        first, second = wire.get_nowait(), wire.get_nowait()
        b_inbox.put_nowait(second)
        b_inbox.put_nowait(first)
        await b.recv("r0")

    assert problem(scenario) == "reordered"


def test_each_memory_pair_has_its_own_keys() -> None:
    """A frame from one pair is not accepted by another pair's channel."""

    async def scenario() -> None:
        a1, _ = memory_pair(0, 1)
        _, b2 = memory_pair(0, 1)
        await a1.send("x", b"")
        b2._inbox.put_nowait(a1._outbox.get_nowait())
        await b2.recv("x")

    assert problem(scenario) in {"wrong-session", "tampered"}


def test_memory_mesh_connects_every_pair() -> None:
    """mesh[i][j] talks to party j, for every i != j."""

    async def scenario() -> None:
        mesh = memory_mesh(4)
        for i in range(4):
            assert sorted(mesh[i]) == [j for j in range(4) if j != i]
            for channel in mesh[i].values():
                await channel.send("id", bytes([i]))
        for i in range(4):
            for j, channel in mesh[i].items():
                assert await channel.recv("id") == bytes([j])

    asyncio.run(scenario())
