"""Channels: reliable, ordered, authenticated message pipes between two parties.

A :class:`Channel` moves whole messages, each labelled with a round ``tag`` (for example
``"mul#17"``). The receiver states the tag it expects, so a message from the wrong round is an
error, not a silent mix-up. Implementations: :class:`MemoryChannel` (same process, for unit tests)
and the TLS channel in :mod:`veil.net.tls` (separate processes, mutual authentication).
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass

from veil.errors import ChannelClosed, ConfigError, FramingError, PeerTimeout

__all__ = ["Channel", "MemoryChannel", "Timeouts", "memory_mesh", "memory_pair"]


@dataclass(frozen=True)
class Timeouts:
    """Deadlines for talking to peers, in seconds.

    Attributes
    ----------
    connect_seconds : float, default=20.0
        How long to keep trying to reach a peer at start-up before :class:`~veil.errors.PeerUnreachable`.
    recv_seconds : float, default=60.0
        How long to wait for one expected message before :class:`~veil.errors.PeerTimeout`.
    close_seconds : float, default=5.0
        How long a graceful close may take before the connection is dropped.
    send_seconds : float, default=60.0
        How long one ``send`` may wait for the transport to take the message (a peer that
        stopped reading) before :class:`~veil.errors.PeerTimeout`.
    """

    connect_seconds: float = 20.0
    recv_seconds: float = 60.0
    close_seconds: float = 5.0
    send_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect_seconds", "recv_seconds", "close_seconds", "send_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0 and value == value):
                raise ConfigError(
                    f"Timeouts.{name} must be a number of seconds >= 0; got {value!r}",
                    field=name,
                )


class Channel(abc.ABC):
    """A message channel from party ``local`` to party ``peer``.

    Guarantees: messages arrive whole, in order, from the authenticated peer, or an error is raised.
    After any error, cancellation or timeout the channel is *broken*: it is closed, and every later
    call raises :class:`~veil.errors.ChannelClosed` naming the peer and the original cause.
    """

    local: int
    peer: int

    @abc.abstractmethod
    async def send(self, tag: str, payload: bytes | memoryview) -> None:
        """Send one message.

        Raises
        ------
        ChannelClosed
            The channel was closed or broken earlier.
        NetworkError
            The transport failed; the channel is now broken.
        """

    @abc.abstractmethod
    async def recv(self, tag: str, *, timeout_seconds: float | None = None) -> bytes:
        """Receive the next message, which must carry ``tag``.

        Raises
        ------
        PeerTimeout
            Nothing arrived within ``timeout_seconds`` (default: the channel's configured timeout).
        FramingError
            The next message is malformed, replayed, out of order, or carries another tag.
        ChannelClosed
            The peer closed the channel, or it was broken earlier.
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the channel; idempotent. Pending ``recv`` calls raise :class:`ChannelClosed`."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether the channel is closed or broken."""


_EOF = object()


class MemoryChannel(Channel):
    """An in-process channel over asyncio queues, for tests and single-process simulations.

    Made in connected pairs by :func:`memory_pair`. Messages are copied on send, so a sender may
    reuse its buffer.
    """

    def __init__(
        self,
        local: int,
        peer: int,
        inbox: asyncio.Queue[object],
        outbox: asyncio.Queue[object],
        timeouts: Timeouts,
    ) -> None:
        self.local = local
        self.peer = peer
        self._inbox = inbox
        self._outbox = outbox
        self._timeouts = timeouts
        self._closed = False
        self._broken_by: BaseException | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            cause = f" ({self._broken_by})" if self._broken_by else ""
            raise ChannelClosed(
                f"channel from party {self.local} to party {self.peer} is closed{cause}",
                party=self.peer,
            )

    async def send(self, tag: str, payload: bytes | memoryview) -> None:
        self._check_open()
        await self._outbox.put((tag, bytes(payload)))

    async def recv(self, tag: str, *, timeout_seconds: float | None = None) -> bytes:
        self._check_open()
        limit = self._timeouts.recv_seconds if timeout_seconds is None else timeout_seconds
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout=limit)
        except TimeoutError as exc:
            self._break(exc)
            raise PeerTimeout(
                f"party {self.peer} sent nothing for {limit:g} s while party {self.local} waited for {tag!r}",
                party=self.peer,
                step=tag,
                hint="check that the peer is running; raise Timeouts.recv_seconds for long local work",
            ) from exc
        except asyncio.CancelledError as exc:
            self._break(exc)
            raise
        if item is _EOF:
            self._break(None)
            raise ChannelClosed(
                f"party {self.peer} closed the channel while party {self.local} waited for {tag!r}",
                party=self.peer,
                step=tag,
            )
        assert isinstance(item, tuple)  # only _EOF and (tag, payload) tuples are ever queued
        got_tag: str = item[0]
        payload: bytes = item[1]
        if got_tag != tag:
            self._break(None)
            raise FramingError(
                f"party {self.peer} sent a message for round {got_tag!r} while {tag!r} was expected",
                party=self.peer,
                step=tag,
            )
        return payload

    def _break(self, cause: BaseException | None) -> None:
        self._closed = True
        self._broken_by = cause

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._outbox.put(_EOF)


def memory_pair(
    a: int, b: int, timeouts: Timeouts | None = None
) -> tuple[MemoryChannel, MemoryChannel]:
    """Return connected channels ``(a→b, b→a)``."""
    t = timeouts or Timeouts()
    q_ab: asyncio.Queue[object] = asyncio.Queue()
    q_ba: asyncio.Queue[object] = asyncio.Queue()
    return MemoryChannel(a, b, q_ba, q_ab, t), MemoryChannel(b, a, q_ab, q_ba, t)


def memory_mesh(n_parties: int, timeouts: Timeouts | None = None) -> list[dict[int, Channel]]:
    """Return, for each party ``i``, its channels to every other party: ``mesh[i][j]`` talks to ``j``."""
    mesh: list[dict[int, Channel]] = [{} for _ in range(n_parties)]
    for i in range(n_parties):
        for j in range(i + 1, n_parties):
            mesh[i][j], mesh[j][i] = memory_pair(i, j, timeouts)
    return mesh
