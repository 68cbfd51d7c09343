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
    end-16  16     mac         over every byte before it (computed outside this module)

This module imports nothing and uses only ``int``, ``bytes`` (indexing, slicing, concatenation,
``bytes([...])``), integer ``//`` and ``%``, and tuples of at most five elements — the subset the
deductive verifier Nagini translates (it has no model of ``int.to_bytes``) — so that one can
prove, for every input, that ``unframe(frame(x)) == x`` and that :func:`check_frame` rejects
malformed input. There are no loops, so no loop invariants are needed. Each function states
its precondition ("Requires") and guarantee ("Ensures"). Errors are integer codes (:data:`OK`,
:data:`TRUNCATED`, ...), not exceptions. :mod:`veil.net.framing` builds the stateful,
authenticated encoder and decoder on top, and uses :func:`check_header` on every header it
receives.
"""

# PROVED COPY of src/veil/net/codec.py: the product's code plus Nagini contracts (Requires,
# Ensures, @Pure, @ContractOnly) and one specification function, well_formed. Stripped of the
# contracts it equals the product, statement for statement (tests/verify/test_proved_copies.py).
# Trusted here (@ContractOnly): encode_u16/u32/u64 and encode_header, whose contracts
# verify/z3/codec_primitives.py proves on the product's source; unframe_parts and unframe are
# not verified (no contract is assumed for them). See docs/verification.md.
from nagini_contracts.contracts import *

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
    "TRAILING",
    "TRUNCATED",
    "VERSION",
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

# ---------------------------------------------------------------------------------------------
# Layout constants
# ---------------------------------------------------------------------------------------------

VERSION = 1
KIND_DATA = 0
KIND_CLOSE = 1
LENGTH_BYTES = 4
HEADER_BYTES = 27
MAC_BYTES = 16
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


# ---------------------------------------------------------------------------------------------
# The codec core: pure functions on ints and bytes (the verified subset)
# ---------------------------------------------------------------------------------------------


@ContractOnly
def encode_u16(value: int) -> bytes:
    """Encode ``value`` as 2 big-endian bytes.

    Requires ``0 <= value < 2**16``. Ensures ``len(result) == 2`` and
    ``decode_u16(result, 0) == value``.
    """
    Requires(0 <= value and value < 2**16)
    Ensures(len(Result()) == 2)
    Ensures(decode_u16(Result(), 0) == value)
    return bytes([value // 256 % 256, value % 256])


@ContractOnly
def encode_u32(value: int) -> bytes:
    """Encode ``value`` as 4 big-endian bytes.

    Requires ``0 <= value < 2**32``. Ensures ``len(result) == 4`` and
    ``decode_u32(result, 0) == value``.
    """
    Requires(0 <= value and value < 2**32)
    Ensures(len(Result()) == 4)
    Ensures(decode_u32(Result(), 0) == value)
    return bytes([value // 256**3 % 256, value // 256**2 % 256, value // 256 % 256, value % 256])


@ContractOnly
def encode_u64(value: int) -> bytes:
    """Encode ``value`` as 8 big-endian bytes.

    Requires ``0 <= value < 2**64``. Ensures ``len(result) == 8`` and
    ``decode_u64(result, 0) == value``.
    """
    Requires(0 <= value and value < 2**64)
    Ensures(len(Result()) == 8)
    Ensures(decode_u64(Result(), 0) == value)
    return encode_u32(value // 256**4 % 256**4) + encode_u32(value % 256**4)


@Pure
def decode_u16(data: bytes, offset: int) -> int:
    """Decode the big-endian integer in ``data[offset:offset + 2]``.

    Requires ``0 <= offset`` and ``offset + 2 <= len(data)``. Ensures ``0 <= result < 2**16``.
    """
    Requires(0 <= offset and offset + 2 <= len(data))
    return data[offset] * 256 + data[offset + 1]


@Pure
def decode_u32(data: bytes, offset: int) -> int:
    """Decode the big-endian integer in ``data[offset:offset + 4]``.

    Requires ``0 <= offset`` and ``offset + 4 <= len(data)``. Ensures ``0 <= result < 2**32``.
    """
    Requires(0 <= offset and offset + 4 <= len(data))
    return decode_u16(data, offset) * 256**2 + decode_u16(data, offset + 2)


@Pure
def decode_u64(data: bytes, offset: int) -> int:
    """Decode the big-endian integer in ``data[offset:offset + 8]``.

    Requires ``0 <= offset`` and ``offset + 8 <= len(data)``. Ensures ``0 <= result < 2**64``.
    """
    Requires(0 <= offset and offset + 8 <= len(data))
    return decode_u32(data, offset) * 256**4 + decode_u32(data, offset + 4)


@Pure
def frame_size(tag_length: int, payload_length: int) -> int:
    """Return the size in bytes of a frame with this tag and payload length."""

    return HEADER_BYTES + tag_length + payload_length + MAC_BYTES


@ContractOnly
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
    Requires(kind == KIND_DATA or kind == KIND_CLOSE)
    Requires(0 <= sender and sender < 2**16 and 0 <= receiver and receiver < 2**16)
    Requires(0 <= session and session < 2**64 and 0 <= sequence and sequence < 2**64)
    Requires(0 <= tag_length and tag_length <= MAX_TAG_BYTES and 0 <= payload_length)
    Requires(frame_size(tag_length, payload_length) <= MAX_FRAME_BYTES_LIMIT)
    Ensures(len(Result()) == HEADER_BYTES)
    Ensures(decode_u32(Result(), 0) == frame_size(tag_length, payload_length) - LENGTH_BYTES)
    Ensures(Result()[4] == VERSION and Result()[5] == kind)
    Ensures(decode_u16(Result(), 6) == sender and decode_u16(Result(), 8) == receiver)
    Ensures(decode_u64(Result(), 10) == session and decode_u64(Result(), 18) == sequence)
    Ensures(Result()[26] == tag_length)
    length = frame_size(tag_length, payload_length) - LENGTH_BYTES
    return (
        encode_u32(length)
        + bytes([VERSION, kind])
        + encode_u16(sender)
        + encode_u16(receiver)
        + encode_u64(session)
        + encode_u64(sequence)
        + bytes([tag_length])
    )


@Pure
def check_header(header: bytes, max_frame_bytes: int) -> int:
    """Return :data:`OK` if ``header`` starts with a well-formed header, else the problem's code.

    Only the first ``HEADER_BYTES`` bytes are read. The frame's total size (length field + 4) must
    be at most ``max_frame_bytes`` and large enough for the header, the tag and the MAC.
    """
    Ensures(Result() == OK or Result() == TRUNCATED or Result() == BAD_VERSION
            or Result() == BAD_KIND or Result() == OVERSIZE or Result() == BAD_LENGTH)
    if len(header) < HEADER_BYTES:
        return TRUNCATED
    if header[4] != VERSION:
        return BAD_VERSION
    kind = header[5]
    if kind != KIND_DATA and kind != KIND_CLOSE:
        return BAD_KIND
    total = LENGTH_BYTES + decode_u32(header, 0)
    if total > max_frame_bytes:
        return OVERSIZE
    if total < HEADER_BYTES + header[26] + MAC_BYTES:
        return BAD_LENGTH
    return OK



@Pure
def well_formed(data: bytes, max_frame_bytes: int) -> bool:
    """Specification: ``data`` is exactly one frame that respects the size limit."""
    return (
        len(data) >= HEADER_BYTES
        and data[4] == VERSION
        and (data[5] == KIND_DATA or data[5] == KIND_CLOSE)
        and len(data) == LENGTH_BYTES + decode_u32(data, 0)
        and len(data) <= max_frame_bytes
        and len(data) >= HEADER_BYTES + data[26] + MAC_BYTES
    )


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
    ``unframe(result) == ((kind, sender, receiver, session, sequence), (tag, payload, mac))``.
    """
    Requires(kind == KIND_DATA or kind == KIND_CLOSE)
    Requires(0 <= sender and sender < 2**16 and 0 <= receiver and receiver < 2**16)
    Requires(0 <= session and session < 2**64 and 0 <= sequence and sequence < 2**64)
    Requires(len(tag) <= MAX_TAG_BYTES and len(mac) == MAC_BYTES)
    Requires(frame_size(len(tag), len(payload)) <= MAX_FRAME_BYTES_LIMIT)
    Ensures(len(Result()) == frame_size(len(tag), len(payload)))
    Ensures(well_formed(Result(), len(Result())))
    Ensures(unframe_fields(Result()) == (kind, sender, receiver, session, sequence))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < len(tag), Result()[HEADER_BYTES + i] == tag[i]), [[tag[i]]])))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < len(payload), Result()[HEADER_BYTES + len(tag) + i] == payload[i]), [[payload[i]]])))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < MAC_BYTES, Result()[len(Result()) - MAC_BYTES + i] == mac[i]), [[mac[i]]])))
    header = encode_header(kind, sender, receiver, session, sequence, len(tag), len(payload))
    return header + tag + payload + mac


@Pure
def check_frame(data: bytes, max_frame_bytes: int) -> int:
    """Return :data:`OK` if ``data`` is exactly one well-formed frame, else the problem's code.

    Ensures: if the result is :data:`OK`, then ``frame(*fields, *parts) == data`` where
    ``(fields, parts) = unframe(data)``.
    """
    # Exactly the well-formed frames are accepted: everything else is rejected.
    Ensures(Implies(Result() == OK, well_formed(data, max_frame_bytes)))
    Ensures(Implies(well_formed(data, max_frame_bytes), Result() == OK))
    code = check_header(data, max_frame_bytes)
    if code != OK:
        return code
    size = LENGTH_BYTES + decode_u32(data, 0)
    if len(data) < size:
        return TRUNCATED
    if len(data) > size:
        return TRAILING
    return OK


@Pure
def unframe_fields(data: bytes) -> tuple[int, int, int, int, int]:
    """Return the header fields ``(kind, sender, receiver, session, sequence)`` of a frame.

    Requires ``check_header(data, m) == OK`` for some ``m``.
    """
    Requires(len(data) >= HEADER_BYTES)
    return (
        data[5],
        decode_u16(data, 6),
        decode_u16(data, 8),
        decode_u64(data, 10),
        decode_u64(data, 18),
    )


@ContractOnly
def unframe_parts(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Return ``(tag, payload, mac)`` of a frame.

    Requires ``check_frame(data, m) == OK`` for some ``m``. The MAC is returned, not checked:
    :class:`veil.net.framing.FrameMac` does that outside the core.
    """
    # Not verified: Nagini rejects this tuple of slices; nothing is assumed about it.
    Requires(len(data) >= HEADER_BYTES and len(data) >= HEADER_BYTES + data[26] + MAC_BYTES)
    tag_end = HEADER_BYTES + data[26]
    mac_start = len(data) - MAC_BYTES
    return (data[HEADER_BYTES:tag_end], data[tag_end:mac_start], data[mac_start:])


@ContractOnly
def unframe(
    data: bytes,
) -> tuple[tuple[int, int, int, int, int], tuple[bytes, bytes, bytes]]:
    """Split a frame into ``((kind, sender, receiver, session, sequence), (tag, payload, mac))``.

    Requires ``check_frame(data, m) == OK`` for some ``m``. Ensures, for the arguments ``x`` of
    :func:`frame`, ``unframe(frame(*x)) == (x[:5], x[5:])``.
    """
    # Not verified (it calls unframe_parts); nothing is assumed about it.
    Requires(len(data) >= HEADER_BYTES and len(data) >= HEADER_BYTES + data[26] + MAC_BYTES)
    return (unframe_fields(data), unframe_parts(data))
