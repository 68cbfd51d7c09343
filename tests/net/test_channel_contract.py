"""The Channel contract, checked the same way on every implementation (memory, TLS on loopback).

In the spirit of trio's ``check_two_way_stream``: one suite, run against each transport.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from net_helpers import FAST, PairFactory, memory_channels, tls_channels

from veil.errors import ChannelClosed, FramingError, NetworkError, PeerTimeout

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=[memory_channels, tls_channels], ids=["memory", "tls"])
def pair(request: pytest.FixtureRequest) -> PairFactory:
    """A factory of connected channel pairs ``(0→1, 1→0)``."""
    return request.param  # type: ignore[no-any-return]


def test_messages_arrive_whole_in_both_directions(pair: PairFactory, tmp_path: Path) -> None:
    """Empty, small and 1 MB payloads arrive unchanged, each way."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            for payload in (b"", b"x", bytes(range(256)) * 4096):
                await a.send("r", payload)
                assert await b.recv("r") == payload
                await b.send("r", payload[::-1])
                assert await a.recv("r") == payload[::-1]

    asyncio.run(scenario())


def test_messages_keep_their_order(pair: PairFactory, tmp_path: Path) -> None:
    """Many messages with distinct tags are received in the order sent."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            for i in range(200):
                await a.send(f"mul#{i}", i.to_bytes(4, "big"))
            for i in range(200):
                assert await b.recv(f"mul#{i}") == i.to_bytes(4, "big")

    asyncio.run(scenario())


def test_both_sides_may_send_large_messages_before_receiving(
    pair: PairFactory, tmp_path: Path
) -> None:
    """Send-then-receive on both ends (the MPC exchange pattern) does not deadlock."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            big = np.arange(1 << 19, dtype=np.uint64)  # 4 MB

            async def exchange(me, mine):
                for k in range(3):
                    await me.send(f"x{k}", memoryview(mine))
                return [await me.recv(f"x{k}") for k in range(3)]

            got_a, got_b = await asyncio.gather(exchange(a, big), exchange(b, big + 1))
            assert all(np.array_equal(np.frombuffer(x, np.uint64), big + 1) for x in got_a)
            assert all(np.array_equal(np.frombuffer(x, np.uint64), big) for x in got_b)

    asyncio.run(scenario())


def test_the_sender_may_reuse_its_buffer_after_send(pair: PairFactory, tmp_path: Path) -> None:
    """Changing a buffer after send returns does not change the message."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            buffer = bytearray(b"first")
            await a.send("r", memoryview(buffer))
            buffer[:] = b"XXXXX"
            assert await b.recv("r") == b"first"

    asyncio.run(scenario())


def test_a_message_for_another_round_is_an_error_naming_both_tags(
    pair: PairFactory, tmp_path: Path
) -> None:
    """Receiving 'open#2' while expecting 'open#1' raises FramingError and breaks the channel."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            await a.send("open#2", b"")
            with pytest.raises(FramingError, match="'open#2' while 'open#1' was expected") as info:
                await b.recv("open#1")
            assert info.value.fields["party"] == 0
            assert b.closed
            with pytest.raises(ChannelClosed, match="broken: a message for 'open#2'"):
                await b.send("x", b"")

    asyncio.run(scenario())


def test_recv_times_out_naming_the_peer_and_the_round(pair: PairFactory, tmp_path: Path) -> None:
    """A silent peer gives PeerTimeout naming it and the tag; the channel is then broken."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, _):
            with pytest.raises(PeerTimeout, match=r"party 1 sent nothing for 0.05 s .* 'mul#9'"):
                await a.recv("mul#9", timeout_seconds=0.05)
            assert a.closed
            with pytest.raises(ChannelClosed, match="nothing arrived for 'mul#9'"):
                await a.recv("mul#9")

    asyncio.run(scenario())


def test_the_configured_recv_timeout_applies(pair: PairFactory, tmp_path: Path) -> None:
    """Without timeout_seconds, Timeouts.recv_seconds is the deadline."""

    async def scenario() -> None:
        async with pair(tmp_path, dataclasses.replace(FAST, recv_seconds=0.05)) as (a, _):
            with pytest.raises(PeerTimeout) as info:
                await a.recv("r")
            assert info.value.fields["step"] == "r"

    asyncio.run(scenario())


def test_a_cancelled_recv_breaks_the_channel_and_says_so(pair: PairFactory, tmp_path: Path) -> None:
    """Cancellation propagates, leaves the channel closed, and the peer learns it promptly."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            task = asyncio.create_task(a.recv("r"))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert a.closed
            with pytest.raises(ChannelClosed, match="a recv of 'r' was cancelled"):
                await a.send("r", b"")
            with pytest.raises(ChannelClosed) as info:
                await b.recv("next", timeout_seconds=5)
            assert info.value.fields["party"] == 0

    asyncio.run(scenario())


def test_a_send_interrupted_by_cancellation_breaks_the_channel(
    pair: PairFactory, tmp_path: Path
) -> None:
    """A send cancelled mid-way leaves the channel closed and saying why.

    (MemoryChannel.send never suspends, so there it completes before the cancellation lands;
    over TLS the second 16 MB send waits for the socket and is interrupted.)
    """

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, _):
            big = bytes(1 << 24)

            async def send_twice() -> None:
                await a.send("big", big)  # fills the socket buffers
                await a.send("big", big)  # waits for the peer to read

            task = asyncio.create_task(send_twice())
            await asyncio.sleep(0)
            interrupted = not task.done()
            task.cancel()
            if interrupted:
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert a.closed
                with pytest.raises(ChannelClosed, match="a send of 'big' was cancelled"):
                    await a.recv("x")
            else:
                await task
                assert not a.closed
            assert interrupted == (pair is tls_channels)

    asyncio.run(scenario())


def test_messages_sent_before_a_close_arrive_then_the_close_is_reported(
    pair: PairFactory, tmp_path: Path
) -> None:
    """The peer's last messages are delivered; the next recv says the peer closed the channel."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, b):
            await a.send("last", b"bye")
            await a.aclose()
            assert await b.recv("last") == b"bye"
            with pytest.raises(ChannelClosed, match="party 0 closed the channel") as info:
                await b.recv("more")
            assert info.value.fields["step"] == "more"
            with pytest.raises(ChannelClosed):
                await b.send("x", b"")

    asyncio.run(scenario())


def test_close_is_idempotent_and_later_calls_fail_clearly(
    pair: PairFactory, tmp_path: Path
) -> None:
    """aclose twice is fine; send and recv after it raise ChannelClosed naming the peer."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, _):
            await a.aclose()
            await a.aclose()
            assert a.closed
            with pytest.raises(ChannelClosed, match="channel from party 0 to party 1 is closed"):
                await a.send("x", b"")
            with pytest.raises(ChannelClosed):
                await a.recv("x")

    asyncio.run(scenario())


def test_closing_wakes_a_pending_recv(pair: PairFactory, tmp_path: Path) -> None:
    """A recv waiting on a channel that gets closed raises ChannelClosed at once."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, _):
            task = asyncio.create_task(a.recv("r"))
            await asyncio.sleep(0.01)
            await a.aclose()
            with pytest.raises(NetworkError):
                await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_an_oversize_message_is_refused_before_sending(pair: PairFactory, tmp_path: Path) -> None:
    """A tag over 255 bytes raises FramingError on the sender's side."""

    async def scenario() -> None:
        async with pair(tmp_path, FAST) as (a, _):
            with pytest.raises(FramingError, match="at most 255"):
                await a.send("t" * 300, b"")

    asyncio.run(scenario())
