"""The public names of veil.net are pinned, so a removal is a deliberate change."""

from __future__ import annotations

import veil.net


def test_veil_net_exports_exactly_its_public_api() -> None:
    """__all__ lists the public names, and each one exists."""
    assert sorted(veil.net.__all__) == [
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
    assert all(hasattr(veil.net, name) for name in veil.net.__all__)
