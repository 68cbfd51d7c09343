"""A peer process for the TLS tests: ``python net_peer.py FEDERATION PARTY_ID``.

It connects to the federation, sends ``b"ready"`` tagged ``round-1`` to every lower-id party,
then waits (up to a minute) for anything, so the test can stop or kill it mid-protocol.
"""

from __future__ import annotations

import asyncio
import sys

from veil.net.channels import Timeouts
from veil.net.federation import Federation
from veil.net.tls import connect_mesh


async def main(path: str, party_id: int) -> None:
    """Connect, announce, then wait."""
    federation = Federation.load(path)
    timeouts = Timeouts(connect_seconds=30, recv_seconds=60)
    channels = await connect_mesh(federation, party_id, timeouts=timeouts)
    for peer, channel in channels.items():
        if peer < party_id:
            await channel.send("round-1", b"ready")
    await asyncio.gather(*(ch.recv("round-2") for ch in channels.values()))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
