"""The TLS transport of a channel: error translation, the receiving protocol, :class:`TlsChannel`.

One TLS connection carries one channel. Incoming bytes go through an ``asyncio.BufferedProtocol``
that decrypts a large frame body straight into its final buffer and decodes frames as they
arrive, so a party's ``send`` never waits for the peer to call ``recv`` (no send/send deadlock);
payloads are written without copies. Connections are made by :func:`veil.net.tls.connect_mesh`.

All ``ssl``, ``OSError`` and ``asyncio`` errors become veil errors in one place,
:func:`translate_error` (``raise ... from exc``); ``CancelledError`` is never caught there.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from typing import Any

from veil.errors import (
    ChannelClosed,
    FramingError,
    NetworkError,
    PeerAuthenticationError,
    PeerTimeout,
    PeerUnreachable,
)
from veil.net.channels import FramedChannel, Timeouts
from veil.net.framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder
from veil.net.handshake import HELLO_BYTES, Session

__all__ = ["TlsChannel", "translate_error"]

# OpenSSL reasons meaning "the peer did not accept the certificate we presented".
_REFUSED_OUR_CERTIFICATE = {
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "TLSV1_ALERT_ACCESS_DENIED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
}
_TAMPERING = {"DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "BAD_RECORD_MAC", "TLSV1_ALERT_DECRYPT_ERROR"}


def translate_error(
    exc: BaseException, *, party: int, address: str, during: str, step: str | None = None
) -> NetworkError:
    """Map an ``ssl`` / ``OSError`` / ``asyncio`` error on the link to ``party`` to a veil error.

    The one boundary where transport errors become :class:`~veil.errors.NetworkError` subclasses
    that name the party, its address and what was going on (``during``).
    """
    where = f"party {party} at {address}"
    fields: dict[str, Any] = {"party": party, "address": address, "step": step}
    if isinstance(exc, NetworkError):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PeerAuthenticationError(
            f"{where} presented a certificate that the federation does not pin for it "
            f"(OpenSSL: {getattr(exc, 'verify_message', None) or getattr(exc, 'reason', None) or exc}) during "
            f"{during}",
            hint="check that both parties use the same federation file and that the peer "
            "runs with its own key",
            **fields,
        )
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if reason in _REFUSED_OUR_CERTIFICATE:
            return PeerAuthenticationError(
                f"{where} refused our certificate ({reason}) during {during}",
                hint="the peer's federation file must pin our current certificate",
                **fields,
            )
        if reason in _TAMPERING:
            return FramingError(
                f"the TLS layer detected tampering on the connection with {where} ({reason}) "
                f"during {during}",
                problem="tampered",
                hint="something between the parties altered the traffic; the channel is broken",
                **fields,
            )
        return ChannelClosed(
            f"the TLS connection with {where} failed during {during}: {reason or exc}",
            hint="the peer may have crashed or been stopped",
            **fields,
        )
    if isinstance(exc, TimeoutError):
        return PeerTimeout(f"{where} did not answer in time during {during}", **fields)
    if isinstance(exc, ConnectionRefusedError):
        return PeerUnreachable(f"{where} refused the connection during {during}", **fields)
    if isinstance(exc, ConnectionError | EOFError):
        return ChannelClosed(
            f"the connection with {where} was lost during {during}: {describe_os_error(exc)}",
            hint="the peer may have crashed or been stopped",
            **fields,
        )
    if isinstance(exc, OSError):
        return NetworkError(
            f"network error with {where} during {during}: {describe_os_error(exc)}", **fields
        )
    return NetworkError(f"unexpected error with {where} during {during}: {exc!r}", **fields)


def describe_os_error(exc: BaseException | None) -> str:
    """Say briefly what an OS-level error was (``Connection refused``, ``timed out``)."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class FrameProtocol(asyncio.BufferedProtocol):
    """Receive side of one TLS connection: hello bytes, then frames into a decoder; flow control."""

    def __init__(
        self,
        *,
        on_connection: Callable[[asyncio.BaseTransport, FrameProtocol], None] | None = None,
    ) -> None:
        self._on_connection = on_connection
        self._scratch = bytearray(1 << 16)
        self._hello = bytearray()
        self._pending = bytearray()
        self._decoder: FrameDecoder | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._paused = False
        self.ended = False
        self.lost: BaseException | None = None
        self._closed = asyncio.get_running_loop().create_future()

    # -- asyncio callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._on_connection is not None:  # server side: plain TCP, TLS starts next
            assert isinstance(transport, asyncio.ReadTransport)
            transport.pause_reading()
            self._on_connection(transport, self)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._decoder is not None:
            return self._decoder.get_buffer(sizehint)
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> None:
        if self._decoder is not None:
            self._decoder.buffer_updated(nbytes)
        else:
            data = self._scratch[:nbytes]
            need = HELLO_BYTES - len(self._hello)
            self._hello += data[:need]
            self._pending += data[need:]
        self._wake()

    def eof_received(self) -> bool:
        self._end(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # -- used by the channel ---------------------------------------------------------------------

    def _end(self, exc: BaseException | None) -> None:
        if exc is not None and self.lost is None:
            self.lost = exc
        if not self.ended:
            self.ended = True
            if self._decoder is not None:
                self._decoder.receive_eof()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_for_data(self, deadline: float | None = None) -> None:
        """Return when new bytes arrived or the stream ended; raise TimeoutError at ``deadline``.

        (A bare timer handle rather than ``asyncio.timeout_at``, which costs several times more
        on this per-message path.)
        """
        if self.ended:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if deadline is None else loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def read_hello(self) -> bytes | None:
        """Return the peer's hello, or ``None`` if the stream ended first."""
        while len(self._hello) < HELLO_BYTES:
            if self.ended:
                return None
            await self.wait_for_data()
        return bytes(self._hello)

    def install(self, decoder: FrameDecoder) -> None:
        """Switch to frames: bytes after the hello, and all later bytes, go to ``decoder``."""
        self._decoder = decoder
        if self._pending:
            decoder.receive_data(bytes(self._pending))
            self._pending = bytearray()
        if self.ended:
            decoder.receive_eof()

    @property
    def paused(self) -> bool:
        """Whether the transport asked us to stop writing for now."""
        return self._paused and not self.ended

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if self._paused and not self.ended:
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter

    async def wait_closed(self) -> None:
        """Wait until the connection is fully closed."""
        await asyncio.shield(self._closed)


class TlsChannel(FramedChannel):
    """A :class:`~veil.net.channels.Channel` over one TLS 1.3 connection (made by :func:`connect_mesh`).

    Frames are authenticated twice: by TLS on the wire, and by the frame MAC under this
    connection's session keys. ``send`` writes the payload without copying it and waits only
    while the connection is congested; incoming frames are read and checked continuously, so
    both parties may send before either receives.

    Attributes
    ----------
    address : str
        The peer's ``host:port`` (for errors).
    tls_version, cipher : str
        What the handshake negotiated (``"TLSv1.3"``, e.g. ``"TLS_AES_256_GCM_SHA384"``).
    """

    def __init__(
        self,
        local: int,
        peer: int,
        *,
        transport: asyncio.Transport,
        protocol: FrameProtocol,
        session: Session,
        timeouts: Timeouts,
        address: str,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        super().__init__(
            local, peer, session=session, timeouts=timeouts, max_frame_bytes=max_frame_bytes
        )
        self.address = address
        self._transport = transport
        self._protocol = protocol
        ssl_object = transport.get_extra_info("ssl_object")
        self.tls_version: str = ssl_object.version() if ssl_object else "?"
        self.cipher: str = ssl_object.cipher()[0] if ssl_object else "?"
        protocol.install(self._decoder)

    def _translate(self, exc: BaseException, during: str, step: str | None) -> NetworkError:
        return translate_error(exc, party=self.peer, address=self.address, during=during, step=step)

    def _write(self, parts: list[bytes | memoryview]) -> None:
        if self._protocol.ended:
            raise self._end_error("")
        if len(parts) == 1:
            self._transport.write(parts[0])
        else:
            self._transport.writelines(parts)  # one flush: the payload is encrypted in place

    def _congested(self) -> bool:
        return self._protocol.paused

    async def _drain(self) -> None:
        await self._protocol.drain()
        if self._protocol.lost is not None:
            raise self._translate(self._protocol.lost, "a send", None)

    async def _wait_for_data(self, deadline: float | None) -> None:
        await self._protocol.wait_for_data(deadline)

    def _end_error(self, tag: str) -> NetworkError:
        waiting = f" while party {self.local} waited for {tag!r}" if tag else ""
        if self._protocol.lost is not None:
            return self._translate(self._protocol.lost, f"a recv{waiting}", tag or None)
        return ChannelClosed(
            f"party {self.peer} at {self.address} dropped the connection without a goodbye "
            f"(it may have crashed){waiting}",
            party=self.peer,
            address=self.address,
            step=tag or None,
            hint="check the peer's log; the session cannot continue",
        )

    def _link_ended(self) -> bool:
        return self._protocol.ended

    def _abort(self) -> None:
        self._transport.abort()

    async def _shutdown(self) -> None:
        self._transport.close()
        await self._protocol.wait_closed()
