"""Helpers for channel tests: connected pairs over memory and over loopback TLS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from veil.net.channels import Channel, Timeouts, memory_pair
from veil.net.federation import Federation, create_federation
from veil.net.tls import connect_mesh

#: Short deadlines: tests expect errors within a fraction of a second, never a hang.
FAST = Timeouts(connect_seconds=10.0, recv_seconds=10.0, close_seconds=2.0, send_seconds=10.0)

PairFactory = Callable[[Path, Timeouts], AbstractAsyncContextManager[tuple[Channel, Channel]]]


def federation(tmp_path: Path, n_parties: int = 2) -> Federation:
    """A fresh federation on free loopback ports."""
    return create_federation(tmp_path / "federation", n_parties, base_port=0)


@asynccontextmanager
async def memory_channels(
    tmp_path: Path, timeouts: Timeouts
) -> AsyncIterator[tuple[Channel, Channel]]:
    """Channels 0→1 and 1→0 in memory."""
    a, b = memory_pair(0, 1, timeouts)
    try:
        yield a, b
    finally:
        await asyncio.gather(a.aclose(), b.aclose())


@asynccontextmanager
async def tls_channels(
    tmp_path: Path, timeouts: Timeouts
) -> AsyncIterator[tuple[Channel, Channel]]:
    """Channels 0→1 and 1→0 over TLS on loopback, both ends in this process."""
    fed = federation(tmp_path)
    mesh0, mesh1 = await asyncio.gather(
        connect_mesh(fed, 0, timeouts=timeouts), connect_mesh(fed, 1, timeouts=timeouts)
    )
    try:
        yield mesh0[1], mesh1[0]
    finally:
        await asyncio.gather(mesh0[1].aclose(), mesh1[0].aclose())


async def connect_all(fed: Federation, timeouts: Timeouts = FAST) -> list[dict[int, Channel]]:
    """Connect every party of ``fed`` in this process."""
    return list(
        await asyncio.gather(
            *(connect_mesh(fed, i, timeouts=timeouts) for i in range(fed.n_parties))
        )
    )


async def close_all(meshes: list[dict[int, Channel]]) -> None:
    """Close every channel of every party."""
    await asyncio.gather(*(ch.aclose() for mesh in meshes for ch in mesh.values()))
