"""The frame codec core: pure functions on ``int`` and ``bytes`` (the verified subset).

Wire format of one frame (integers big-endian)::

    offset  bytes  field
    0       4      length      bytes that follow this field (header rest + tag + payload + MAC)
    4       1      version     1
    5       1      kind        0 = data, 1 = close (the sender's goodbye)
    6       2      sender      party id
    8       2      receiver    party id
    10      8      session     session id, fresh for every connection
    18      8      sequence    0, 1, 2, ... per direction
    26      1      tag_length  bytes of the round tag (UTF-8), at most 255
    27      ...    tag         the round tag, e.g. ``mul#17``
    ...     ...    payload
    end-32  32     mac         HMAC-SHA256 over every byte before it (computed outside this module)

This module imports nothing and uses only ``int``, ``bytes``, slicing, concatenation and
``int.to_bytes`` / ``int.from_bytes``, so that a deductive verifier (Nagini) can prove, for every
input, that ``unframe(frame(x)) == x`` and that :func:`check_frame` rejects malformed input. Each
function states its precondition ("Requires") and guarantee ("Ensures"). Errors are integer codes
(:data:`OK`, :data:`TRUNCATED`, ...), not exceptions. :mod:`veil.net.framing` builds the
stateful, authenticated encoder and decoder on top, and uses :func:`check_header` on every header
it receives.
"""

__all__ = [
    "BAD_KIND",
    "BAD_LENGTH",
    "BAD_VERSION",
    "DEFAULT_MAX_FRAME_BYTES",
    "HEADER_BYTES",
    "KIND_CLOSE",
    "KIND_DATA",
    "LENGTH_BYTES",
    "MAC_BYTES",
    "MAX_FRAME_BYTES_LIMIT",
    "MAX_TAG_BYTES",
    "MIN_FRAME_BYTES",
    "OK",
    "OVERSIZE",
    "PROBLEMS",
    "TRAILING",
    "TRUNCATED",
    "VERSION",
    "check_frame",
    "check_header",
    "decode_uint",
    "encode_header",
    "encode_uint",
    "frame",
    "frame_size",
    "unframe",
]

# ---------------------------------------------------------------------------------------------
# Layout constants
# ---------------------------------------------------------------------------------------------

VERSION = 1
KIND_DATA = 0
KIND_CLOSE = 1
LENGTH_BYTES = 4
HEADER_BYTES = 27
MAC_BYTES = 32
MAX_TAG_BYTES = 255
#: The smallest frame: a header, an empty tag, an empty payload and the MAC (59 bytes).
MIN_FRAME_BYTES = HEADER_BYTES + MAC_BYTES
#: The largest frame the 4-byte length field can describe (4 GiB + 3 bytes).
MAX_FRAME_BYTES_LIMIT = LENGTH_BYTES + 2**32 - 1
#: Default cap on one frame, in bytes (256 MiB); larger incoming frames are refused unread.
DEFAULT_MAX_FRAME_BYTES = 2**28

# Result codes of check_header / check_frame.
OK = 0
TRUNCATED = 1
BAD_VERSION = 2
BAD_KIND = 3
OVERSIZE = 4
BAD_LENGTH = 5
TRAILING = 6

#: What each result code means, for error messages.
PROBLEMS = {
    TRUNCATED: "is truncated",
    BAD_VERSION: "has an unknown format version",
    BAD_KIND: "has an unknown kind",
    OVERSIZE: "is larger than the frame size limit",
    BAD_LENGTH: "has a length too small for its own header, tag and MAC",
    TRAILING: "is followed by extra bytes",
}

# ---------------------------------------------------------------------------------------------
# The codec core: pure functions on ints and bytes (the verified subset)
# ---------------------------------------------------------------------------------------------


def encode_uint(value: int, width: int) -> bytes:
    """Encode ``value`` as ``width`` big-endian bytes.

    Requires ``0 <= value < 256**width``. Ensures ``len(result) == width`` and
    ``decode_uint(result, 0, width) == value``.
    """
    return value.to_bytes(width, "big")


def decode_uint(data: bytes, offset: int, width: int) -> int:
    """Decode the big-endian unsigned integer in ``data[offset:offset + width]``.

    Requires ``0 <= offset`` and ``offset + width <= len(data)``. Ensures
    ``0 <= result < 256**width``.
    """
    return int.from_bytes(data[offset : offset + width], "big")


def frame_size(tag_length: int, payload_length: int) -> int:
    """Return the size in bytes of a frame with this tag and payload length."""
    return HEADER_BYTES + tag_length + payload_length + MAC_BYTES


def encode_header(
    kind: int,
    sender: int,
    receiver: int,
    session: int,
    sequence: int,
    tag_length: int,
    payload_length: int,
) -> bytes:
    """Encode the fixed 27-byte header of a frame.

    Requires ``kind`` in ``{KIND_DATA, KIND_CLOSE}``, ``0 <= sender, receiver < 2**16``,
    ``0 <= session, sequence < 2**64``, ``0 <= tag_length <= 255`` and
    ``frame_size(tag_length, payload_length) <= MAX_FRAME_BYTES_LIMIT``.
    Ensures ``len(result) == HEADER_BYTES``.
    """
    length = frame_size(tag_length, payload_length) - LENGTH_BYTES
    return (
        encode_uint(length, 4)
        + encode_uint(VERSION, 1)
        + encode_uint(kind, 1)
        + encode_uint(sender, 2)
        + encode_uint(receiver, 2)
        + encode_uint(session, 8)
        + encode_uint(sequence, 8)
        + encode_uint(tag_length, 1)
    )


def check_header(header: bytes, max_frame_bytes: int) -> int:
    """Return :data:`OK` if ``header`` starts with a well-formed header, else the problem's code.

    Only the first ``HEADER_BYTES`` bytes are read. The frame's total size (length field + 4) must
    be at most ``max_frame_bytes`` and large enough for the header, the tag and the MAC.
    """
    if len(header) < HEADER_BYTES:
        return TRUNCATED
    if decode_uint(header, 4, 1) != VERSION:
        return BAD_VERSION
    kind = decode_uint(header, 5, 1)
    if kind != KIND_DATA and kind != KIND_CLOSE:
        return BAD_KIND
    total = LENGTH_BYTES + decode_uint(header, 0, 4)
    if total > max_frame_bytes:
        return OVERSIZE
    if total < HEADER_BYTES + decode_uint(header, 26, 1) + MAC_BYTES:
        return BAD_LENGTH
    return OK


def frame(
    kind: int,
    sender: int,
    receiver: int,
    session: int,
    sequence: int,
    tag: bytes,
    payload: bytes,
    mac: bytes,
) -> bytes:
    """Lay out one frame: header, tag, payload, MAC.

    Requires the preconditions of :func:`encode_header` with ``tag_length = len(tag)`` and
    ``payload_length = len(payload)``, and ``len(mac) == MAC_BYTES``. Ensures
    ``check_frame(result, m) == OK`` for every ``m >= len(result)`` and
    ``unframe(result) == (kind, sender, receiver, session, sequence, tag, payload, mac)``.
    """
    header = encode_header(kind, sender, receiver, session, sequence, len(tag), len(payload))
    return header + tag + payload + mac


def check_frame(data: bytes, max_frame_bytes: int) -> int:
    """Return :data:`OK` if ``data`` is exactly one well-formed frame, else the problem's code.

    Ensures: if the result is :data:`OK`, then ``frame(*unframe(data)) == data``.
    """
    code = check_header(data, max_frame_bytes)
    if code != OK:
        return code
    size = LENGTH_BYTES + decode_uint(data, 0, 4)
    if len(data) < size:
        return TRUNCATED
    if len(data) > size:
        return TRAILING
    return OK


def unframe(data: bytes) -> tuple[int, int, int, int, int, bytes, bytes, bytes]:
    """Split a frame into ``(kind, sender, receiver, session, sequence, tag, payload, mac)``.

    Requires ``check_frame(data, m) == OK`` for some ``m``. The MAC is returned, not checked:
    :func:`compute_mac` does that outside the core.
    """
    tag_end = HEADER_BYTES + decode_uint(data, 26, 1)
    mac_start = len(data) - MAC_BYTES
    return (
        decode_uint(data, 5, 1),
        decode_uint(data, 6, 2),
        decode_uint(data, 8, 2),
        decode_uint(data, 10, 8),
        decode_uint(data, 18, 8),
        data[HEADER_BYTES:tag_end],
        data[tag_end:mac_start],
        data[mac_start:],
    )
