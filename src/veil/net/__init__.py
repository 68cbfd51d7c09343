"""veil.net: moving bytes between parties — authenticated frames over TLS 1.3 or in memory.

Layers, bottom up: :mod:`~veil.net.codec` (the pure, verified frame codec),
:mod:`~veil.net.framing` (sans-I/O encoder and decoder: MAC, sequence numbers, round tags),
:mod:`~veil.net.handshake` (per-connection keys), :mod:`~veil.net.channels` (the :class:`Channel`
interface, deadlines, the in-memory transport), :mod:`~veil.net.tls_channel` and
:mod:`~veil.net.tls` (TLS 1.3 with mutual authentication and pinned certificates) and
:mod:`~veil.net.federation` (who the parties are). See ``docs/network.md``.
"""

from veil.net.channels import (
    Channel,
    FramedChannel,
    MemoryChannel,
    Timeouts,
    close_mesh,
    memory_mesh,
    memory_pair,
)
from veil.net.federation import Federation, Party, SessionSettings, create_federation
from veil.net.framing import Frame, FrameDecoder, FrameEncoder
from veil.net.tls import TlsChannel, connect_mesh

__all__ = [
    "Channel",
    "Federation",
    "Frame",
    "FrameDecoder",
    "FrameEncoder",
    "FramedChannel",
    "MemoryChannel",
    "Party",
    "SessionSettings",
    "Timeouts",
    "TlsChannel",
    "close_mesh",
    "connect_mesh",
    "create_federation",
    "memory_mesh",
    "memory_pair",
]
