"""The TLS transport of a channel: error translation, the TLS link, :class:`TlsChannel`.

One TLS connection carries one channel. A :class:`TlsLink` is a non-blocking socket plus OpenSSL
over memory buffers (:class:`ssl.MemoryBIO`), driven directly by the event loop's readiness
callbacks (``add_reader`` / ``add_writer``) rather than by asyncio's TLS transport: it reads up to
1 MiB per system call and decrypts record by record straight into the frame decoder's buffers (a
large body into its final buffer), and encrypts payloads straight from the caller's buffer. That
is one copy fewer per direction than asyncio's transport and a handful of Python calls per
message instead of a few dozen. Incoming frames are read and decoded as they arrive, so a
party's ``send`` never waits for the peer to call ``recv`` (no send/send deadlock). Connections
are made by :func:`veil.net.tls.connect_mesh`.

All ``ssl``, ``OSError`` and ``asyncio`` errors become veil errors in one place,
:func:`translate_error` (``raise ... from exc``); ``CancelledError`` is never caught there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections import deque
from collections.abc import Sequence
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
from veil.net.framing import DEFAULT_MAX_FRAME_BYTES, Buffer, FrameDecoder
from veil.net.handshake import HELLO_BYTES, Session

__all__ = ["TlsChannel", "TlsLink", "open_tls", "translate_error"]

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


#: Bytes read from the socket per system call (decrypted record by record afterwards).
_READ_BYTES = 1 << 20
#: Plaintext bytes encrypted per step when sending; at most this much ciphertext waits in memory.
_WRITE_CHUNK = 1 << 19


async def open_tls(sock: socket.socket, context: ssl.SSLContext, *, server_side: bool) -> TlsLink:
    """Run the TLS handshake over the connected non-blocking ``sock``; return the link.

    The caller bounds the time. Raises what :meth:`ssl.SSLObject.do_handshake` raises
    (``ssl.SSLError``, after sending the alert to the peer) or the socket's ``OSError``.
    """
    loop = asyncio.get_running_loop()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=server_side)
    buffer = bytearray(1 << 16)
    while True:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        except ssl.SSLError:
            with contextlib.suppress(OSError):  # best effort: tell the peer why (the alert)
                sock.send(outgoing.read())
            raise
        if outgoing.pending:
            await loop.sock_sendall(sock, outgoing.read())
        if done:
            return TlsLink(sock, tls, incoming, outgoing)
        count = await loop.sock_recv_into(sock, buffer)
        if count:
            incoming.write(memoryview(buffer)[:count])
        else:
            incoming.write_eof()


class TlsLink:
    """One TLS connection: a non-blocking socket and OpenSSL over memory buffers.

    Receiving: when the socket is readable, up to :data:`_READ_BYTES` are read in one system
    call, then OpenSSL decrypts record by record into the buffers the frame decoder hands out
    (:meth:`FrameDecoder.get_buffer`), so a large body lands in its final buffer. Before the
    decoder is installed, the first :data:`HELLO_BYTES` go to the hello and the rest is kept for
    the decoder.

    Sending: :meth:`write` encrypts the parts chunk by chunk and hands each chunk's records to
    the socket in one system call. Plaintext not yet encrypted waits *by reference* (no copy),
    ciphertext the socket did not take waits in memory (at most one chunk); :attr:`congested` is
    true until everything went out, and the channel's ``send`` waits for :meth:`drain`, so the
    caller's buffer is never read after ``send`` returned.
    """

    def __init__(
        self,
        sock: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        self.sock = sock
        self.tls = tls
        self._in = incoming
        self._out = outgoing
        self._loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._read_buffer = bytearray(_READ_BYTES)
        self._read_view = memoryview(self._read_buffer)
        self._scratch = memoryview(bytearray(1 << 16))
        self._hello = bytearray()
        self._pending = bytearray()
        self._decoder: FrameDecoder | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._plain: deque[memoryview] = deque()
        self._cipher: memoryview | None = None
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._end_waiters: list[asyncio.Future[None]] = []
        self._writer_on = False
        self._dropped = False
        self.discarded = False
        self.ended = False
        self.lost: BaseException | None = None
        self._loop.add_reader(self._fd, self._on_readable)
        if incoming.pending:  # records that came with the end of the handshake
            self._loop.call_soon(self._on_readable)

    # -- receiving ------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self.sock
        while not self.ended:
            try:
                count = sock.recv_into(self._read_buffer)
            except (BlockingIOError, InterruptedError):
                count = -1
            except OSError as exc:
                self._end(exc)
                break
            if count == 0:
                self._in.write_eof()
            elif count > 0:
                self._in.write(self._read_view[:count])
            self._decrypt()
            if count == 0 and not self.ended:
                self._end(None)
            if count < len(self._read_buffer):  # the socket is (most likely) drained
                break
        if self._out.pending and not self._dropped:  # e.g. a reply to a TLS key update
            self._pump(raise_errors=False)
        self._wake()

    def _decrypt(self) -> None:
        tls, incoming = self.tls, self._in
        decoder = self._decoder
        while not self.ended:
            buffer = decoder.get_buffer(0) if decoder is not None else self._scratch
            try:
                # With a buffer, read returns the number of bytes it decrypted into it.
                count: int = tls.read(len(buffer), buffer)  # type: ignore[assignment]
            except ssl.SSLWantReadError:
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):  # goodbye, or ended without one
                self._end(None)
                return
            except ssl.SSLError as exc:
                self._end(exc)
                return
            if count == 0:
                self._end(None)
                return
            if decoder is not None:
                decoder.buffer_updated(count)
            else:
                data = buffer[:count]
                need = HELLO_BYTES - len(self._hello)
                self._hello += data[:need]
                self._pending += data[need:]
            if not incoming.pending and not tls.pending():  # all decrypted: skip a failing read
                return

    def _end(self, exc: BaseException | None) -> None:
        if exc is not None and self.lost is None:
            self.lost = exc
        if not self.ended:
            self.ended = True
            self._loop.remove_reader(self._fd)
            if self._decoder is not None:
                self._decoder.receive_eof()
            if exc is None:  # the peer said goodbye (or its process ended): answer and let go
                self._discard()
                self._close_notify()
                self.drop()
        self._wake()
        self._wake_drainers()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.ended and self._end_waiters:
            for ender in self._end_waiters:
                if not ender.done():
                    ender.set_result(None)
            self._end_waiters.clear()

    async def wait_for_data(self, deadline: float | None = None) -> None:
        """Return when new bytes arrived or the stream ended; raise TimeoutError at ``deadline``.

        (A bare timer handle rather than ``asyncio.timeout_at``, which costs several times more
        on this per-message path.)
        """
        if self.ended:
            return
        loop = self._loop
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
        return bytes(self._hello[:HELLO_BYTES])

    def install(self, decoder: FrameDecoder) -> None:
        """Switch to frames: bytes after the hello, and all later bytes, go to ``decoder``."""
        self._decoder = decoder
        if self._pending:
            decoder.receive_data(bytes(self._pending))
            self._pending = bytearray()
        if self.ended:
            decoder.receive_eof()

    # -- sending --------------------------------------------------------------------------------

    def write(self, parts: Sequence[Buffer]) -> None:
        """Encrypt ``parts`` in order and hand them to the socket; queue what it cannot take yet.

        Raises the ``OSError`` of a failed connection (the link has then ended).
        """
        queued = self._plain or self._cipher is not None
        for part in parts:
            view = memoryview(part)
            if view.nbytes:
                self._plain.append(view if view.format == "B" else view.cast("B"))
        if not queued:
            self._pump(raise_errors=True)

    def _pump(self, *, raise_errors: bool) -> None:
        """Encrypt queued plaintext and send until done or the socket is full."""
        sock, tls, out, plain = self.sock, self.tls, self._out, self._plain
        while not self._dropped:
            cipher = self._cipher
            if cipher is None:
                budget = _WRITE_CHUNK
                while plain and budget > 0:  # several small parts become one system call
                    part = plain[0]
                    if part.nbytes > budget:
                        tls.write(part[:budget])
                        plain[0] = part[budget:]
                        budget = 0
                    else:
                        tls.write(part)
                        plain.popleft()
                        budget -= part.nbytes
                if not out.pending:
                    break
                cipher = memoryview(out.read())
            try:
                sent = sock.send(cipher)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._discard()
                self._end(exc)
                if raise_errors:
                    raise
                return
            if sent < cipher.nbytes:
                self._cipher = cipher[sent:]
                if not self._writer_on:
                    self._writer_on = True
                    self._loop.add_writer(self._fd, self._on_writable)
                return
            self._cipher = None
        if self._writer_on:
            self._writer_on = False
            self._loop.remove_writer(self._fd)
        self._wake_drainers()

    def _on_writable(self) -> None:
        self._pump(raise_errors=False)

    def _discard(self) -> None:
        if self._plain or self._cipher is not None:
            self.discarded = True
            self._plain.clear()
            self._cipher = None

    def _wake_drainers(self) -> None:
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    @property
    def congested(self) -> bool:
        """Whether written buffers are still waiting for the socket."""
        return (bool(self._plain) or self._cipher is not None) and not self.ended

    async def drain(self) -> None:
        """Wait until every written buffer went into the socket, or the link ended."""
        while self.congested:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    # -- closing --------------------------------------------------------------------------------

    def _close_notify(self) -> None:
        """Send TLS close_notify if the socket takes it at once (best effort, never blocks)."""
        if self._dropped:
            return
        # SSLWantReadError: close_notify is written and OpenSSL would now wait for the peer's
        # (we do not); other errors: the connection is gone. Nothing more to send either way.
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()
        with contextlib.suppress(OSError):
            self.sock.send(self._out.read())

    async def shutdown(self) -> None:
        """Flush, send close_notify, then wait until the peer ends the stream (caller bounds time)."""
        await self.drain()
        if not self.ended:
            self._close_notify()
            ender = self._loop.create_future()
            self._end_waiters.append(ender)
            await ender

    def drop(self) -> None:
        """Close the socket now (idempotent); unsent buffers are discarded."""
        if self._dropped:
            return
        self._dropped = True
        if not self.ended:
            self.ended = True
            self._loop.remove_reader(self._fd)
            if self._decoder is not None:
                self._decoder.receive_eof()
        if self._writer_on:
            self._writer_on = False
            self._loop.remove_writer(self._fd)
        self._discard()
        self.sock.close()
        self._wake()
        self._wake_drainers()


class TlsChannel(FramedChannel):
    """A :class:`~veil.net.channels.Channel` over one TLS 1.3 connection (made by :func:`connect_mesh`).

    Frames are authenticated twice: by TLS on the wire, and by the frame MAC under this
    connection's session keys. ``send`` encrypts the payload straight from the caller's buffer
    and returns once the socket took all of it; incoming frames are read and checked
    continuously, so both parties may send before either receives.

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
        link: TlsLink,
        session: Session,
        timeouts: Timeouts,
        address: str,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        super().__init__(
            local, peer, session=session, timeouts=timeouts, max_frame_bytes=max_frame_bytes
        )
        self.address = address
        self._link = link
        self.tls_version: str = link.tls.version() or "?"
        cipher = link.tls.cipher()
        self.cipher: str = cipher[0] if cipher else "?"
        link.install(self._decoder)

    def _translate(self, exc: BaseException, during: str, step: str | None) -> NetworkError:
        return translate_error(exc, party=self.peer, address=self.address, during=during, step=step)

    def _write(self, parts: list[bytes | memoryview]) -> None:
        link = self._link
        if link.ended:
            raise self._end_error("")
        try:
            link.write(parts)
        except OSError as exc:
            raise self._translate(exc, "a send", None) from exc

    def _congested(self) -> bool:
        return self._link.congested

    async def _drain(self) -> None:
        link = self._link
        await link.drain()
        if link.lost is not None:
            raise self._translate(link.lost, "a send", None)
        if link.discarded:  # the connection ended before the socket took everything
            raise self._end_error("")

    async def _wait_for_data(self, deadline: float | None) -> None:
        await self._link.wait_for_data(deadline)

    def _end_error(self, tag: str) -> NetworkError:
        waiting = f" while party {self.local} waited for {tag!r}" if tag else ""
        if self._link.lost is not None:
            return self._translate(self._link.lost, f"a recv{waiting}", tag or None)
        return ChannelClosed(
            f"party {self.peer} at {self.address} dropped the connection without a goodbye "
            f"(it may have crashed){waiting}",
            party=self.peer,
            address=self.address,
            step=tag or None,
            hint="check the peer's log; the session cannot continue",
        )

    def _link_ended(self) -> bool:
        return self._link.ended

    def _abort(self) -> None:
        self._link.drop()

    async def _shutdown(self) -> None:
        await self._link.shutdown()
