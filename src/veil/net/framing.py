"""Frames: length-prefixed, self-authenticating messages between two parties (sans-I/O).

The wire format and the pure codec core (``frame`` / ``unframe`` / ``check_header`` ...) live in
:mod:`veil.net.codec` and are re-exported here. This module adds the stateful parts:
:class:`FrameEncoder` and :class:`FrameDecoder` use the core for headers and layout, keep sequence
numbers, compute and check the MAC (HMAC-SHA256 under the direction's session key), and move large
payloads with memoryviews (a payload is hashed and written in place, and received straight into
its final buffer). No sockets: bytes in, :class:`Frame` objects or a
:class:`~veil.errors.FramingError` out.

Why a MAC when TLS already protects the wire: the key is per session and per direction, so a frame
also proves *which session and direction* it belongs to, and any transport (the in-memory one
included) detects a flipped bit, a replayed or reordered frame, or a frame from another session
the same way. See ``docs/network.md`` for the threat model.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from veil.errors import ConfigError, FramingError
from veil.net.codec import (
    BAD_KIND,
    BAD_LENGTH,
    BAD_VERSION,
    DEFAULT_MAX_FRAME_BYTES,
    HEADER_BYTES,
    KIND_CLOSE,
    KIND_DATA,
    LENGTH_BYTES,
    MAC_BYTES,
    MAX_FRAME_BYTES_LIMIT,
    MAX_TAG_BYTES,
    MIN_FRAME_BYTES,
    OK,
    OVERSIZE,
    PROBLEMS,
    TRAILING,
    TRUNCATED,
    VERSION,
    check_frame,
    check_header,
    decode_uint,
    encode_header,
    encode_uint,
    frame,
    frame_size,
    unframe,
)

__all__ = [
    "BAD_KIND",
    "BAD_LENGTH",
    "BAD_VERSION",
    "DEFAULT_MAX_FRAME_BYTES",
    "HEADER_BYTES",
    "KIND_CLOSE",
    "KIND_DATA",
    "MAC_BYTES",
    "MAX_FRAME_BYTES_LIMIT",
    "MAX_TAG_BYTES",
    "MIN_FRAME_BYTES",
    "OK",
    "OVERSIZE",
    "SMALL_PAYLOAD_BYTES",
    "TRAILING",
    "TRUNCATED",
    "VERSION",
    "Frame",
    "FrameDecoder",
    "FrameEncoder",
    "check_frame",
    "check_header",
    "compute_mac",
    "decode_uint",
    "encode_header",
    "encode_uint",
    "frame",
    "frame_size",
    "unframe",
]

# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------

Buffer = bytes | bytearray | memoryview


def compute_mac(key: bytes, *parts: Buffer) -> bytes:
    """Return HMAC-SHA256 under ``key`` of the concatenation of ``parts`` (hashed in place)."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _byte_view(payload: Buffer) -> memoryview:
    view = memoryview(payload)
    if view.format == "B" and view.ndim == 1:
        return view
    if not view.c_contiguous:
        raise ConfigError(
            "a payload must be a C-contiguous buffer",
            hint="pass numpy.ascontiguousarray(x) or bytes(x)",
        )
    return view.cast("B")


def _check_max_frame_bytes(max_frame_bytes: int) -> None:
    if not MIN_FRAME_BYTES <= max_frame_bytes <= MAX_FRAME_BYTES_LIMIT:
        raise ConfigError(
            f"max_frame_bytes must be in [{MIN_FRAME_BYTES}, {MAX_FRAME_BYTES_LIMIT}]; "
            f"got {max_frame_bytes}",
            field="max_frame_bytes",
        )


def _check_key(key: bytes) -> None:
    if len(key) < 16:
        raise ConfigError(f"a frame key must have at least 16 bytes; got {len(key)}", field="key")


# ---------------------------------------------------------------------------------------------
# Stateful encoder and decoder
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Frame:
    """One authenticated frame, as delivered by :class:`FrameDecoder`.

    Attributes
    ----------
    kind : int
        :data:`KIND_DATA` or :data:`KIND_CLOSE`.
    sender, receiver : int
        Party ids.
    session : int
        Session id (64 bits).
    sequence : int
        Position of the frame in its direction, from 0.
    tag : str
        The round tag.
    payload : bytes or memoryview
        The message; a memoryview over the frame's own buffer when decoded (no copy).
    """

    kind: int
    sender: int
    receiver: int
    session: int
    sequence: int
    tag: str
    payload: bytes | memoryview


class FrameEncoder:
    """Turn messages into frames for one direction ``sender → receiver`` of one session.

    Parameters
    ----------
    sender, receiver : int
        Party ids, in ``[0, 65535]``.
    session : int
        Session id, in ``[0, 2**64)``.
    key : bytes
        The direction's MAC key (32 bytes from the session handshake).
    max_frame_bytes : int, default=DEFAULT_MAX_FRAME_BYTES
        Largest frame to produce, in bytes.
    """

    def __init__(
        self,
        *,
        sender: int,
        receiver: int,
        session: int,
        key: bytes,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        _check_key(key)
        _check_max_frame_bytes(max_frame_bytes)
        self.sender = sender
        self.receiver = receiver
        self.session = session
        self.max_frame_bytes = max_frame_bytes
        self.next_sequence = 0
        self._key = key

    def encode(
        self, tag: str, payload: Buffer, *, kind: int = KIND_DATA
    ) -> tuple[bytes, memoryview, bytes]:
        """Return the frame as three parts ``(header + tag, payload, mac)`` to write in order.

        The payload is not copied: the second part is a byte view of ``payload`` (which may be
        a numpy array's buffer). The sequence number advances by one.

        Raises
        ------
        FramingError
            The tag is longer than 255 bytes in UTF-8, or the frame would exceed
            ``max_frame_bytes``; nothing was encoded and the sequence number did not advance.
        ConfigError
            ``payload`` is not a contiguous buffer.
        """
        head, view = self._prepare(tag, payload, kind)
        mac = compute_mac(self._key, head, view)
        self.next_sequence += 1
        return head, view, mac

    def encode_for_write(
        self, tag: str, payload: Buffer, *, kind: int = KIND_DATA
    ) -> list[bytes | memoryview]:
        """Return the frame as buffers to write in order: one ``bytes`` for a small frame
        (one TLS record, one system call), else ``[header + tag, payload view, mac]``."""
        head, view = self._prepare(tag, payload, kind)
        if view.nbytes > SMALL_PAYLOAD_BYTES:
            mac = compute_mac(self._key, head, view)
            self.next_sequence += 1
            return [head, view, mac]
        body = head + view
        self.next_sequence += 1
        return [body + hmac.digest(self._key, body, "sha256")]

    def encode_bytes(self, tag: str, payload: Buffer, *, kind: int = KIND_DATA) -> bytes:
        """Return the whole frame as one ``bytes`` object (copies the payload)."""
        return b"".join(self.encode(tag, payload, kind=kind))

    def _prepare(self, tag: str, payload: Buffer, kind: int) -> tuple[bytes, memoryview]:
        tag_bytes = tag.encode("utf-8")
        view = _byte_view(payload)
        if len(tag_bytes) > MAX_TAG_BYTES:
            raise FramingError(
                f"round tag {tag[:40]!r}... is {len(tag_bytes)} bytes in UTF-8; "
                f"at most {MAX_TAG_BYTES} fit in a frame",
                party=self.receiver,
                step=tag,
                hint="use a shorter tag",
            )
        size = frame_size(len(tag_bytes), view.nbytes)
        if size > self.max_frame_bytes:
            raise FramingError(
                f"a message of {view.nbytes} bytes for round {tag!r} to party {self.receiver} "
                f"makes a frame of {size} bytes, over the limit of {self.max_frame_bytes}",
                party=self.receiver,
                step=tag,
                hint="split the message, or raise session.max_frame_bytes in the federation file",
            )
        header = encode_header(
            kind,
            self.sender,
            self.receiver,
            self.session,
            self.next_sequence,
            len(tag_bytes),
            view.nbytes,
        )
        return header + tag_bytes, view


#: Payloads up to this size are framed into one buffer (a copy is cheaper than extra writes).
SMALL_PAYLOAD_BYTES = 1 << 16
#: A body at least this large is received straight into its own buffer.
_DIRECT_READ_BYTES = 1 << 16
_SCRATCH_BYTES = 1 << 18


class FrameDecoder:
    """Turn the byte stream of one direction ``peer → local`` into authenticated frames.

    Feed bytes with :meth:`receive_data` (or, without copies, :meth:`get_buffer` and
    :meth:`buffer_updated`), then take frames with :meth:`next_frame` until it returns ``None``.
    :meth:`feed` does both. Frames that arrived before a bad one are delivered first; then the
    error is raised, and raised again on every later call (the decoder is broken for good).

    Each frame is checked, in this order: header well-formed and within ``max_frame_bytes``
    (before its body is buffered); sender, receiver and session as expected; MAC valid; sequence
    number exactly the next one expected; nothing after a close frame.

    Parameters
    ----------
    local, peer : int
        This party's id and the sender's.
    session : int
        The session id every frame must carry.
    key : bytes
        The direction's MAC key.
    max_frame_bytes : int, default=DEFAULT_MAX_FRAME_BYTES
        Largest frame accepted, in bytes.
    """

    def __init__(
        self,
        *,
        local: int,
        peer: int,
        session: int,
        key: bytes,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        _check_key(key)
        _check_max_frame_bytes(max_frame_bytes)
        self.local = local
        self.peer = peer
        self.session = session
        self.max_frame_bytes = max_frame_bytes
        self.expected_sequence = 0
        self._key = key
        self._head = bytearray()
        self._header = b""
        self._body: memoryview | None = None
        self._filled = 0
        self._ready: list[Frame] = []
        self._error: FramingError | None = None
        self._eof = False
        self._closed_by_peer = False
        self._scratch = bytearray(_SCRATCH_BYTES)
        self._direct = False

    @property
    def at_eof(self) -> bool:
        """Whether the stream has ended (and every complete frame was taken)."""
        return self._eof and not self._ready

    @property
    def closed_by_peer(self) -> bool:
        """Whether a close frame was received."""
        return self._closed_by_peer

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the current, incomplete frame received so far."""
        if self._body is not None:
            return HEADER_BYTES + self._filled
        return len(self._head)

    # -- feeding ------------------------------------------------------------------------------

    def receive_data(self, data: Buffer) -> None:
        """Buffer ``data``; complete frames become available from :meth:`next_frame`."""
        if self._error is not None or self._eof:
            return
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        pos = 0
        end = view.nbytes
        while pos < end and self._error is None:
            body = self._body
            if body is not None:  # inside a frame body: fill it
                take = min(len(body) - self._filled, end - pos)
                body[self._filled : self._filled + take] = view[pos : pos + take]
                self._filled += take
                pos += take
                if self._filled == len(body):
                    self._body = None
                    self._close(self._header, body)
                continue
            if not self._head and end - pos >= HEADER_BYTES:  # a whole header is here
                header = bytes(view[pos : pos + HEADER_BYTES])
                pos += HEADER_BYTES
            else:  # gather a header across chunks
                take = min(HEADER_BYTES - len(self._head), end - pos)
                self._head += view[pos : pos + take]
                pos += take
                if len(self._head) < HEADER_BYTES:
                    continue
                header = bytes(self._head)
                self._head = bytearray()
            size = self._open(header)
            if size < 0:
                break
            if size <= SMALL_PAYLOAD_BYTES and end - pos >= size:  # a whole small body is here
                self._close(header, memoryview(bytes(view[pos : pos + size])))
                pos += size
            else:
                # np.empty does not touch the memory (a 256 MiB body costs nothing until it
                # arrives), where bytearray(n) would zero it first.
                self._header = header
                self._body = (
                    memoryview(bytearray(size))
                    if size <= SMALL_PAYLOAD_BYTES
                    else np.empty(size, dtype=np.uint8).data
                )
                self._filled = 0

    def get_buffer(self, size_hint: int) -> memoryview:
        """Return a writable buffer for the next incoming bytes (for ``asyncio.BufferedProtocol``).

        A large frame body is received straight into its final buffer; anything else goes
        through a scratch buffer. Call :meth:`buffer_updated` with the number of bytes written.
        """
        if self._body is not None and len(self._body) - self._filled >= _DIRECT_READ_BYTES:
            self._direct = True
            return self._body[self._filled :]
        self._direct = False
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> None:
        """Account for ``nbytes`` written into the buffer from the last :meth:`get_buffer`."""
        if self._direct:
            self._direct = False
            self._filled += nbytes
            body = self._body
            if body is not None and self._filled == len(body):
                self._body = None
                self._close(self._header, body)
        else:
            self.receive_data(memoryview(self._scratch)[:nbytes])

    def receive_eof(self) -> None:
        """Mark the end of the stream; a partly received frame becomes a truncation error."""
        if self._eof or self._error is not None:
            self._eof = True
            return
        self._eof = True
        if self.buffered_bytes:
            where = (
                f"a frame of {len(self._body) + HEADER_BYTES} bytes"
                if self._body is not None
                else f"a frame header ({HEADER_BYTES} bytes)"
            )
            self._fail(
                f"the stream from party {self.peer} to party {self.local} ended "
                f"{self.buffered_bytes} bytes into {where}: the frame is truncated",
                "truncated",
            )

    # -- taking frames --------------------------------------------------------------------------

    def next_frame(self) -> Frame | None:
        """Return the next complete frame, or ``None`` if more bytes are needed.

        Raises
        ------
        FramingError
            The next frame is truncated, tampered with, replayed, reordered, oversize, from
            another party or session, or follows a close frame.
        """
        if self._ready:
            return self._ready.pop(0)
        if self._error is not None:
            raise self._error
        return None

    def feed(self, data: Buffer) -> list[Frame]:
        """Buffer ``data`` and return every frame it completes (see :meth:`next_frame`)."""
        self.receive_data(data)
        frames: list[Frame] = []
        while (item := self.next_frame()) is not None:
            frames.append(item)
        return frames

    # -- internals ------------------------------------------------------------------------------

    def _fail(self, message: str, problem: str) -> None:
        self._error = FramingError(
            message,
            party=self.peer,
            problem=problem,
            hint="the channel is broken; restart the session (check the peer and the network)",
        )
        self._head = bytearray()
        self._body = None
        self._filled = 0

    def _open(self, header: bytes) -> int:
        """Check a frame's header; return its body size, or -1 after recording the error."""
        code = check_header(header, self.max_frame_bytes)
        if code != OK:
            size = LENGTH_BYTES + decode_uint(header, 0, 4)
            extra = f" ({size} > {self.max_frame_bytes} bytes)" if code == OVERSIZE else ""
            self._fail(
                f"frame {self.expected_sequence} from party {self.peer} to party {self.local} "
                f"{PROBLEMS[code]}{extra}",
                "oversize" if code == OVERSIZE else "malformed",
            )
            return -1
        if self._closed_by_peer:
            self._fail(
                f"party {self.peer} sent a frame after its close frame",
                "after-close",
            )
            return -1
        sender = decode_uint(header, 6, 2)
        receiver = decode_uint(header, 8, 2)
        session = decode_uint(header, 10, 8)
        if sender != self.peer or receiver != self.local:
            self._fail(
                f"a frame on the channel from party {self.peer} to party {self.local} claims to "
                f"go from party {sender} to party {receiver}",
                "wrong-party",
            )
            return -1
        if session != self.session:
            self._fail(
                f"a frame from party {self.peer} carries session {session:#018x}, "
                f"not this session's {self.session:#018x}",
                "wrong-session",
            )
            return -1
        return LENGTH_BYTES + decode_uint(header, 0, 4) - HEADER_BYTES

    def _close(self, header: bytes, body: memoryview) -> None:
        """Authenticate a complete frame and queue it, or record the error."""
        self._filled = 0
        view = body
        mac_start = len(body) - MAC_BYTES
        if mac_start <= SMALL_PAYLOAD_BYTES:
            expected = hmac.digest(self._key, header + view[:mac_start], "sha256")
        else:
            expected = compute_mac(self._key, header, view[:mac_start])
        sequence = decode_uint(header, 18, 8)
        if not hmac.compare_digest(expected, view[mac_start:]):
            self._fail(
                f"frame {sequence} from party {self.peer} to party {self.local} fails its "
                "authentication check: it was tampered with, or made under another key",
                "tampered",
            )
            return
        if sequence != self.expected_sequence:
            if sequence < self.expected_sequence:
                what = "an earlier frame was replayed"
                problem = "replayed"
            else:
                what = f"frames {self.expected_sequence}..{sequence - 1} are missing or reordered"
                problem = "reordered"
            self._fail(
                f"party {self.peer} sent frame number {sequence} where number "
                f"{self.expected_sequence} was expected: {what}",
                problem,
            )
            return
        tag_end = decode_uint(header, 26, 1)
        try:
            tag = bytes(view[:tag_end]).decode("utf-8")
        except UnicodeDecodeError:
            self._fail(
                f"frame {sequence} from party {self.peer} has a tag that is not UTF-8", "bad-tag"
            )
            return
        self.expected_sequence += 1
        kind = decode_uint(header, 5, 1)
        if kind == KIND_CLOSE:
            self._closed_by_peer = True
        self._ready.append(
            Frame(
                kind=kind,
                sender=self.peer,
                receiver=self.local,
                session=self.session,
                sequence=sequence,
                tag=tag,
                payload=view[tag_end:mac_start],
            )
        )
