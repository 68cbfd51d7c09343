"""Channels: reliable, ordered, authenticated message pipes between two parties.

A :class:`Channel` moves whole messages, each labelled with a round ``tag`` (for example
``"mul#17"``). The receiver states the tag it expects, so a message from the wrong round is an
error, not a silent mix-up. Every implementation here is a :class:`FramedChannel`: messages travel
as authenticated frames (:mod:`veil.net.framing`), so tampering, replay and reordering are caught
the same way on every transport. Implementations: :class:`MemoryChannel` (same process, for unit
tests) and :class:`~veil.net.tls.TlsChannel` (separate processes, TLS 1.3 with mutual
authentication).
"""

from __future__ import annotations

import abc
import asyncio
import math
from dataclasses import dataclass

from veil.errors import ChannelClosed, ConfigError, FramingError, NetworkError, PeerTimeout
from veil.net.framing import (
    DEFAULT_MAX_FRAME_BYTES,
    KIND_CLOSE,
    Frame,
    FrameDecoder,
    FrameEncoder,
)
from veil.net.handshake import Session, random_session

__all__ = [
    "Channel",
    "FramedChannel",
    "MemoryChannel",
    "Timeouts",
    "close_mesh",
    "memory_mesh",
    "memory_pair",
]


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

    Guarantees: messages arrive whole, in order, exactly once, from the authenticated peer, or an
    error is raised. After any error, cancellation or timeout the channel is *broken*: it is
    closed, the connection is dropped (so the peer learns it promptly), and every later call
    raises :class:`~veil.errors.ChannelClosed` naming the peer and the original cause.
    """

    local: int
    peer: int

    @abc.abstractmethod
    async def send(self, tag: str, payload: bytes | memoryview) -> None:
        """Send one message; return once the transport has taken it (not when the peer read it).

        The caller may reuse ``payload``'s buffer as soon as ``send`` returns.

        Raises
        ------
        ChannelClosed
            The channel was closed or broken earlier, or the peer closed it.
        FramingError
            The message does not fit in a frame (tag over 255 bytes, size over the frame limit).
        PeerTimeout
            The transport did not take the message within ``Timeouts.send_seconds``.
        NetworkError
            The transport failed.

        After any of these, and after cancellation, the channel is broken and closed.
        """

    @abc.abstractmethod
    async def recv(self, tag: str, *, timeout_seconds: float | None = None) -> bytes:
        """Receive the next message, which must carry ``tag``.

        Parameters
        ----------
        tag : str
            The round tag expected.
        timeout_seconds : float, optional
            Deadline in seconds; default ``Timeouts.recv_seconds``; ``math.inf`` waits forever.

        Raises
        ------
        PeerTimeout
            Nothing arrived within the deadline.
        FramingError
            The next message is malformed, tampered with, replayed, out of order, or carries
            another tag.
        ChannelClosed
            The peer closed the channel or its connection ended (a crash), or the channel was
            closed or broken earlier.

        After any of these, and after cancellation, the channel is broken and closed.
        """

    async def recv_view(self, tag: str, *, timeout_seconds: float | None = None) -> memoryview:
        """Like :meth:`recv`, but return the payload as a byte view, without copying it.

        For large numeric messages: ``numpy.frombuffer(await ch.recv_view(tag), dtype)``. The
        view's memory belongs to this message alone (it is never reused by the channel).
        Raises what :meth:`recv` raises.
        """
        return memoryview(await self.recv(tag, timeout_seconds=timeout_seconds))

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the channel; idempotent. Pending ``recv`` calls raise :class:`ChannelClosed`."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether the channel is closed or broken."""


class FramedChannel(Channel):
    """A channel that carries authenticated frames over some byte transport.

    Holds everything transport-independent: framing, sequence numbers, tag checks, deadlines and
    the broken state. A transport supplies the hooks ``_write`` (hand over a frame's buffers),
    ``_congested`` / ``_drain`` (back-pressure), ``_wait_for_data`` (wait until the decoder may
    have more bytes or the stream ended), ``_end_error`` (the error for a stream that ended
    without a close frame) and ``_abort`` / ``_shutdown`` (drop / close the connection).

    Parameters
    ----------
    local, peer : int
        Party ids.
    session : Session
        Session id and the two direction keys.
    timeouts : Timeouts
        Deadlines.
    max_frame_bytes : int, default=DEFAULT_MAX_FRAME_BYTES
        Largest frame sent or accepted, in bytes.
    """

    def __init__(
        self,
        local: int,
        peer: int,
        *,
        session: Session,
        timeouts: Timeouts,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.local = local
        self.peer = peer
        self.timeouts = timeouts
        self._encoder = FrameEncoder(
            sender=local,
            receiver=peer,
            session=session.session_id,
            key=session.send_key,
            max_frame_bytes=max_frame_bytes,
        )
        self._decoder = FrameDecoder(
            local=local,
            peer=peer,
            session=session.session_id,
            key=session.recv_key,
            max_frame_bytes=max_frame_bytes,
        )
        self._closed = False
        self._close_reason: str | None = None
        self._peer_closed = False
        self._recv_lock = asyncio.Lock()

    # -- transport hooks -------------------------------------------------------------------------

    @abc.abstractmethod
    def _write(self, parts: list[bytes | memoryview]) -> None:
        """Hand the frame's buffers to the transport, in order, without waiting.

        Raises a :class:`~veil.errors.NetworkError` if the connection is gone.
        """

    def _congested(self) -> bool:
        """Whether the transport asks writers to wait (back-pressure)."""
        return False

    async def _drain(self) -> None:
        """Wait until the transport is no longer congested; raise if the connection is lost."""

    @abc.abstractmethod
    async def _wait_for_data(self, deadline: float | None) -> None:
        """Return once the decoder may have new bytes or the stream ended.

        Raises :class:`TimeoutError` at loop time ``deadline`` (``None``: never).
        """

    @abc.abstractmethod
    def _end_error(self, tag: str) -> NetworkError:
        """Return the error for a stream that ended without a close frame."""

    @abc.abstractmethod
    def _abort(self) -> None:
        """Drop the connection now."""

    @abc.abstractmethod
    async def _shutdown(self) -> None:
        """Close the connection gracefully (the caller bounds the time)."""

    def _link_ended(self) -> bool:
        """Whether the incoming stream has already ended (no goodbye needed on close)."""
        return self._decoder.at_eof

    # -- state -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_reason(self) -> str | None:
        """Why the channel is closed (``None`` while open)."""
        return self._close_reason

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise ChannelClosed(
                f"cannot {action}: the channel from party {self.local} to party {self.peer} is "
                f"{self._close_reason or 'closed'}",
                party=self.peer,
                hint="open a new session; a broken channel cannot be reused",
            )

    def _break(self, reason: str) -> None:
        if not self._closed:
            self._closed = True
            self._close_reason = f"broken: {reason}"
            self._abort()

    # -- the Channel interface -------------------------------------------------------------------

    async def send(self, tag: str, payload: bytes | memoryview) -> None:
        self._check_open(f"send {tag!r}")
        if self._peer_closed:
            self._break(f"party {self.peer} closed the channel")
            raise ChannelClosed(
                f"cannot send {tag!r}: party {self.peer} has closed the channel",
                party=self.peer,
                step=tag,
            )
        try:
            self._write(self._encoder.encode_for_write(tag, payload))
            if self._congested():  # wait (with a deadline) only when the transport pushes back
                async with asyncio.timeout_at(_deadline(self.timeouts.send_seconds)):
                    await self._drain()
        except (NetworkError, ConfigError) as exc:
            self._break(f"sending {tag!r} failed: {exc.message}")
            raise
        except TimeoutError as exc:
            self._break(f"sending {tag!r} timed out")
            raise PeerTimeout(
                f"party {self.peer} did not take the message for {tag!r} from party "
                f"{self.local} within {self.timeouts.send_seconds:g} s (it stopped reading)",
                party=self.peer,
                step=tag,
                hint="check that the peer is running and reading; raise Timeouts.send_seconds",
            ) from exc
        except asyncio.CancelledError:
            self._break(f"a send of {tag!r} was cancelled")
            raise

    async def recv(self, tag: str, *, timeout_seconds: float | None = None) -> bytes:
        return bytes(await self.recv_view(tag, timeout_seconds=timeout_seconds))

    async def recv_view(self, tag: str, *, timeout_seconds: float | None = None) -> memoryview:
        self._check_open(f"receive {tag!r}")
        if not self._recv_lock.locked():  # fast path: the frame is already here
            try:
                ready = self._decoder.next_frame()
            except FramingError as exc:
                self._break(f"receiving {tag!r} failed: {exc.message}")
                raise
            if ready is not None:
                return self._accept(ready, tag)
        limit = self.timeouts.recv_seconds if timeout_seconds is None else timeout_seconds
        deadline = _deadline(limit)
        try:
            if self._recv_lock.locked():  # another recv is waiting on this channel: queue up
                async with asyncio.timeout_at(deadline):
                    await self._recv_lock.acquire()
            else:
                await self._recv_lock.acquire()  # free: returns at once
            try:
                self._check_open(f"receive {tag!r}")
                frame = await self._next_frame(tag, deadline)
            finally:
                self._recv_lock.release()
        except NetworkError as exc:
            self._break(f"receiving {tag!r} failed: {exc.message}")
            raise
        except TimeoutError as exc:
            self._break(f"nothing arrived for {tag!r} within {limit:g} s")
            raise PeerTimeout(
                f"party {self.peer} sent nothing for {limit:g} s while party {self.local} "
                f"waited for {tag!r}",
                party=self.peer,
                step=tag,
                hint="check that the peer is running; raise Timeouts.recv_seconds for long local work",
            ) from exc
        except asyncio.CancelledError:
            self._break(f"a recv of {tag!r} was cancelled")
            raise
        return self._accept(frame, tag)

    def _accept(self, frame: Frame, tag: str) -> memoryview:
        """Return the payload of ``frame`` if it is a data frame for ``tag``, else raise."""
        if frame.kind == KIND_CLOSE:
            self._peer_closed = True
            self._break(f"party {self.peer} closed the channel")
            raise ChannelClosed(
                f"party {self.peer} closed the channel while party {self.local} waited for {tag!r}",
                party=self.peer,
                step=tag,
            )
        if frame.tag != tag:
            self._break(f"a message for {frame.tag!r} arrived while {tag!r} was expected")
            raise FramingError(
                f"party {self.peer} sent a message for round {frame.tag!r} while {tag!r} was "
                "expected",
                party=self.peer,
                step=tag,
                problem="wrong-tag",
                hint="both parties must run the same program in the same order",
            )
        return memoryview(frame.payload)

    async def _next_frame(self, tag: str, deadline: float | None) -> Frame:
        while True:
            frame = self._decoder.next_frame()
            if frame is not None:
                return frame
            if self._decoder.at_eof:
                raise self._end_error(tag)
            if self._closed:
                raise ChannelClosed(
                    f"party {self.local} closed its channel to party {self.peer} while "
                    f"waiting for {tag!r}",
                    party=self.peer,
                    step=tag,
                )
            await self._wait_for_data(deadline)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = "closed"
        try:
            async with asyncio.timeout_at(_deadline(self.timeouts.close_seconds)):
                if not (self._peer_closed or self._decoder.closed_by_peer or self._link_ended()):
                    self._write(self._encoder.encode_for_write("", b"", kind=KIND_CLOSE))
                await self._shutdown()
        except (NetworkError, TimeoutError) as exc:
            # The goodbye could not be delivered: the peer will see a lost connection instead.
            self._close_reason = f"closed (without a clean goodbye: {str(exc) or 'timed out'})"
        finally:
            self._abort()


def _deadline(seconds: float) -> float | None:
    """Turn a timeout in seconds into an absolute loop time for ``asyncio.timeout``."""
    if math.isinf(seconds):
        return None
    return asyncio.get_running_loop().time() + seconds


# ---------------------------------------------------------------------------------------------
# In memory
# ---------------------------------------------------------------------------------------------

_EOF = object()
_WAKE = object()


class MemoryChannel(FramedChannel):
    """An in-process channel over asyncio queues of frame bytes, for tests and simulations.

    Made in connected pairs by :func:`memory_pair`, each pair with fresh random keys, so frames
    are authenticated exactly as over TLS. Messages are copied on send, so a sender may reuse its
    buffer. Constructed directly without ``session``, both ends use a public all-zero key: frames
    are then checked for corruption, replay and order, but not for forgery.

    Parameters
    ----------
    local, peer : int
        Party ids.
    inbox, outbox : asyncio.Queue
        Queues of frame bytes (this end reads ``inbox``; the other end's inbox is ``outbox``).
    timeouts : Timeouts
        Deadlines.
    session : Session, optional
        This end's view of the session keys.
    max_frame_bytes : int, default=DEFAULT_MAX_FRAME_BYTES
        Largest frame, in bytes.
    """

    def __init__(
        self,
        local: int,
        peer: int,
        inbox: asyncio.Queue[object],
        outbox: asyncio.Queue[object],
        timeouts: Timeouts,
        *,
        session: Session | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        super().__init__(
            local,
            peer,
            session=session or Session(0, bytes(32), bytes(32)),
            timeouts=timeouts,
            max_frame_bytes=max_frame_bytes,
        )
        self._inbox = inbox
        self._outbox = outbox
        self._ended = False

    def _write(self, parts: list[bytes | memoryview]) -> None:
        self._outbox.put_nowait(b"".join(parts))  # a copy: the sender may reuse its buffer

    async def _wait_for_data(self, deadline: float | None) -> None:
        async with asyncio.timeout_at(deadline):
            item = await self._inbox.get()
        if item is _EOF:
            self._decoder.receive_eof()
        elif isinstance(item, bytes | bytearray | memoryview):
            self._decoder.receive_data(item)

    def _end_error(self, tag: str) -> NetworkError:
        return ChannelClosed(
            f"party {self.peer} dropped the connection without a goodbye (it may have crashed) "
            f"while party {self.local} waited for {tag!r}",
            party=self.peer,
            step=tag,
        )

    def _abort(self) -> None:
        if not self._ended:
            self._ended = True
            self._outbox.put_nowait(_EOF)
            self._inbox.put_nowait(_WAKE)

    async def _shutdown(self) -> None:
        self._abort()


def memory_pair(
    a: int,
    b: int,
    timeouts: Timeouts | None = None,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
) -> tuple[MemoryChannel, MemoryChannel]:
    """Return connected channels ``(a→b, b→a)`` with fresh random session keys."""
    t = timeouts or Timeouts()
    q_ab: asyncio.Queue[object] = asyncio.Queue()
    q_ba: asyncio.Queue[object] = asyncio.Queue()
    session_a, session_b = random_session()
    return (
        MemoryChannel(a, b, q_ba, q_ab, t, session=session_a, max_frame_bytes=max_frame_bytes),
        MemoryChannel(b, a, q_ab, q_ba, t, session=session_b, max_frame_bytes=max_frame_bytes),
    )


def memory_mesh(n_parties: int, timeouts: Timeouts | None = None) -> list[dict[int, Channel]]:
    """Return, for each party ``i``, its channels to every other party: ``mesh[i][j]`` talks to ``j``."""
    mesh: list[dict[int, Channel]] = [{} for _ in range(n_parties)]
    for i in range(n_parties):
        for j in range(i + 1, n_parties):
            mesh[i][j], mesh[j][i] = memory_pair(i, j, timeouts)
    return mesh


async def close_mesh(channels: dict[int, Channel]) -> None:
    """Close all of one party's channels concurrently (each within its close deadline)."""
    await asyncio.gather(*(channel.aclose() for channel in channels.values()))
