"""Frames: length-prefixed, self-authenticating messages between two parties (sans-I/O).

The wire format and the pure codec core (``frame`` / ``unframe`` / ``check_header`` ...) live in
:mod:`veil.net.codec` and are re-exported here. This module adds the stateful parts:
:class:`FrameEncoder` and :class:`FrameDecoder` use the core for headers and layout, keep sequence
numbers, compute and check the MAC (:class:`FrameMac`, under the direction's session key), and move large
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
import struct
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.poly1305 import Poly1305

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
    TRAILING,
    TRUNCATED,
    VERSION,
    check_frame,
    check_header,
    decode_u16,
    decode_u32,
    decode_u64,
    encode_header,
    encode_u16,
    encode_u32,
    encode_u64,
    frame,
    frame_size,
    unframe,
    unframe_fields,
    unframe_parts,
)

__all__ = [
    "BAD_KIND",
    "BAD_LENGTH",
    "BAD_VERSION",
    "DEFAULT_MAX_FRAME_BYTES",
    "HEADER_BYTES",
    "HEADER_STRUCT",
    "KIND_CLOSE",
    "KIND_DATA",
    "MAC_BYTES",
    "MAX_FRAME_BYTES_LIMIT",
    "MAX_TAG_BYTES",
    "MIN_FRAME_BYTES",
    "OK",
    "OVERSIZE",
    "SMALL_FRAME_BYTES",
    "TRAILING",
    "TRUNCATED",
    "VERSION",
    "Frame",
    "FrameDecoder",
    "FrameEncoder",
    "FrameMac",
    "check_frame",
    "check_header",
    "decode_u16",
    "decode_u32",
    "decode_u64",
    "encode_header",
    "encode_u16",
    "encode_u32",
    "encode_u64",
    "frame",
    "frame_size",
    "unframe",
    "unframe_fields",
    "unframe_parts",
]

#: What each result code of the codec means, for error messages.
PROBLEMS = {
    TRUNCATED: "is truncated",
    BAD_VERSION: "has an unknown format version",
    BAD_KIND: "has an unknown kind",
    OVERSIZE: "is larger than the frame size limit",
    BAD_LENGTH: "has a length too small for its own header, tag and MAC",
    TRAILING: "is followed by extra bytes",
}

#: The fixed header in one C call: length, version, kind, sender, receiver, session, sequence,
#: tag length. The hot paths use it instead of the verified :func:`encode_header` /
#: :func:`unframe_fields` (several Python calls per field); ``tests/net/test_framing.py`` checks
#: that both agree byte for byte on every header (Hypothesis).
HEADER_STRUCT = struct.Struct(">IBBHHQQB")
assert HEADER_STRUCT.size == HEADER_BYTES

# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------

Buffer = bytes | bytearray | memoryview


#: Frames up to this size, in bytes, carry a keyed BLAKE2s tag and are written as one buffer;
#: larger frames carry a Poly1305 tag under a one-time key (several times faster per byte here).
SMALL_FRAME_BYTES = 1 << 16


class FrameMac:
    """Authenticate the frames of one direction of one session (16-byte tags).

    From the direction's 32-byte key ``K`` two subkeys are derived, for domain separation:
    ``K_b = HMAC-SHA256(K, "veil/frame/blake2s")`` and ``K_p = HMAC-SHA256(K, "veil/frame/poly1305")``.

    * a frame of at most :data:`SMALL_FRAME_BYTES` bytes: keyed BLAKE2s [RFC 7693 §2.5] under
      ``K_b`` with a 128-bit digest (one call, about a third of HMAC-SHA256's cost on a small
      frame);
    * a larger frame: Poly1305 [RFC 8439 §2.5] under the one-time key
      ``HMAC-SHA256(K_p, session || sequence)``. Sequence numbers never repeat within a session
      and direction, so each one-time key authenticates exactly one frame (forgery chance per
      attempt at most ``8 * ceil(L / 16) / 2**106`` for an ``L``-byte frame).

    The choice depends only on the frame's length, which both tags cover. The tag covers every
    byte of the frame before it: header, round tag and payload.
    """

    def __init__(self, key: bytes, session: int) -> None:
        self._small_key = hmac.digest(key, b"veil/frame/blake2s", "sha256")
        self._poly_key = hmac.digest(key, b"veil/frame/poly1305", "sha256")
        self._session = encode_u64(session)

    def tag(self, sequence: int, frame_bytes: int, *parts: Buffer) -> bytes:
        """Return the 16-byte tag of frame number ``sequence``, ``frame_bytes`` long in total,
        whose bytes before the tag are the concatenation of ``parts`` (read in place)."""
        if frame_bytes <= SMALL_FRAME_BYTES:
            if len(parts) == 1:
                return hashlib.blake2s(
                    parts[0], digest_size=MAC_BYTES, key=self._small_key
                ).digest()
            mac = hashlib.blake2s(digest_size=MAC_BYTES, key=self._small_key)
            for part in parts:
                mac.update(part)
            return mac.digest()
        one_time = hmac.digest(self._poly_key, self._session + encode_u64(sequence), "sha256")
        poly = Poly1305(one_time)
        for part in parts:
            poly.update(part)
        return poly.finalize()


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
        self._mac = FrameMac(key, session)

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
        tag_bytes = tag.encode("utf-8")
        view = _byte_view(payload)
        size = self._check(tag, tag_bytes, view.nbytes)
        sequence = self.next_sequence
        head = self._header(kind, sequence, size, len(tag_bytes)) + tag_bytes
        self.next_sequence = sequence + 1
        return head, view, self._mac.tag(sequence, size, head, view)

    def encode_for_write(
        self, tag: str, payload: Buffer, *, kind: int = KIND_DATA
    ) -> list[bytes | memoryview]:
        """Return the frame as buffers to write in order: one ``bytes`` for a small frame
        (one TLS record, one system call), else ``[header + tag, payload view, mac]``."""
        tag_bytes = tag.encode("utf-8")
        view: bytes | memoryview = payload if isinstance(payload, bytes) else _byte_view(payload)
        size = self._check(tag, tag_bytes, len(view) if isinstance(view, bytes) else view.nbytes)
        sequence = self.next_sequence
        head = self._header(kind, sequence, size, len(tag_bytes))
        self.next_sequence = sequence + 1
        if size > SMALL_FRAME_BYTES:
            head += tag_bytes
            return [head, view, self._mac.tag(sequence, size, head, view)]
        body = b"".join((head, tag_bytes, view))
        return [body + self._mac.tag(sequence, size, body)]

    def encode_bytes(self, tag: str, payload: Buffer, *, kind: int = KIND_DATA) -> bytes:
        """Return the whole frame as one ``bytes`` object (copies the payload)."""
        return b"".join(self.encode(tag, payload, kind=kind))

    def _header(self, kind: int, sequence: int, size: int, tag_length: int) -> bytes:
        """The header (equal to :func:`encode_header` of the same fields, in one C call)."""
        return HEADER_STRUCT.pack(
            size - LENGTH_BYTES,
            VERSION,
            kind,
            self.sender,
            self.receiver,
            self.session,
            sequence,
            tag_length,
        )

    def _check(self, tag: str, tag_bytes: bytes, payload_bytes: int) -> int:
        """Return the frame's size in bytes, or raise if the tag or the frame is too large."""
        if len(tag_bytes) > MAX_TAG_BYTES:
            raise FramingError(
                f"round tag {tag[:40]!r}... is {len(tag_bytes)} bytes in UTF-8; "
                f"at most {MAX_TAG_BYTES} fit in a frame",
                party=self.receiver,
                step=tag,
                hint="use a shorter tag",
            )
        size = frame_size(len(tag_bytes), payload_bytes)
        if size > self.max_frame_bytes:
            raise FramingError(
                f"a message of {payload_bytes} bytes for round {tag!r} to party {self.receiver} "
                f"makes a frame of {size} bytes, over the limit of {self.max_frame_bytes}",
                party=self.receiver,
                step=tag,
                hint="split the message, or raise session.max_frame_bytes in the federation file",
            )
        return size


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
        self._mac = FrameMac(key, session)
        self._head = bytearray()
        self._header = b""
        self._kind = KIND_DATA
        self._sequence = 0
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
    def at_boundary(self) -> bool:
        """Whether no frame is partly received (the next byte starts a frame)."""
        return self._body is None and not self._head

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
            if size + HEADER_BYTES <= SMALL_FRAME_BYTES and end - pos >= size:  # all here
                self._close(header, memoryview(bytes(view[pos : pos + size])))
                pos += size
            else:
                # np.empty does not touch the memory (a 256 MiB body costs nothing until it
                # arrives), where bytearray(n) would zero it first.
                self._header = header
                self._body = (
                    memoryview(bytearray(size))
                    if size + HEADER_BYTES <= SMALL_FRAME_BYTES
                    else np.empty(size, dtype=np.uint8).data
                )
                self._filled = 0

    def get_buffer(self, size_hint: int) -> memoryview:
        """Return a writable buffer for the next incoming bytes (a transport reads into it).

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
            size = LENGTH_BYTES + decode_u32(header, 0)
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
        # The same fields as unframe_fields(header), in one C call.
        length, _, kind, sender, receiver, session, sequence, _ = HEADER_STRUCT.unpack(header)
        self._kind, self._sequence = kind, sequence
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
        return int(length) + LENGTH_BYTES - HEADER_BYTES

    def _close(self, header: bytes, body: memoryview) -> None:
        """Authenticate a complete frame and queue it, or record the error."""
        self._filled = 0
        view = body
        mac_start = len(body) - MAC_BYTES
        sequence = self._sequence
        size = HEADER_BYTES + len(body)
        if size <= SMALL_FRAME_BYTES:
            expected = self._mac.tag(sequence, size, header + view[:mac_start])
        else:
            expected = self._mac.tag(sequence, size, header, view[:mac_start])
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
        tag_end = header[26]
        try:
            tag = bytes(view[:tag_end]).decode("utf-8")
        except UnicodeDecodeError:
            self._fail(
                f"frame {sequence} from party {self.peer} has a tag that is not UTF-8", "bad-tag"
            )
            return
        self.expected_sequence += 1
        kind = self._kind
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
