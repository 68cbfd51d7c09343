"""The frame codec of ``veil.net.codec`` with its contracts, proved by Nagini for every input.

Strip the contracts (``verify/contracts.py``) and every function here is, statement for statement,
the product's ``src/veil/net/codec.py`` (checked by ``tests/verify/test_proved_copies.py``); the
specification functions ``be`` and ``well_formed`` exist only here. Proved:

* ``encode_header``: 27 bytes, and every header field decodes back to the value encoded;
* ``frame``: the result has the announced size, is ``well_formed``, its header fields decode to
  the arguments, and its tag, payload and MAC bytes are the arguments' bytes, position by position;
* ``check_header``: an ``OK`` header has the right version and kind and a length within the limit
  and large enough for header, tag and MAC; its result is always one of the problem codes;
* ``check_frame``: returns ``OK`` exactly for ``well_formed`` input (malformed input is rejected).

Trusted, not proved (``@ContractOnly``): ``encode_uint`` / ``decode_uint`` meet their contract in
terms of ``be`` (they wrap ``int.to_bytes`` / ``int.from_bytes``, which Nagini does not model;
tested exhaustively for 1 and 2 bytes in ``tests/verify/test_codec_matches_proved.py``), and
``unframe`` (Nagini has no 8-tuples; its round trip is property-tested there and fuzzed).
"""

from nagini_contracts.contracts import *

VERSION = 1
KIND_DATA = 0
KIND_CLOSE = 1
LENGTH_BYTES = 4
HEADER_BYTES = 27
MAC_BYTES = 32
MAX_TAG_BYTES = 255
MIN_FRAME_BYTES = HEADER_BYTES + MAC_BYTES
MAX_FRAME_BYTES_LIMIT = LENGTH_BYTES + 2**32 - 1
DEFAULT_MAX_FRAME_BYTES = 2**28

OK = 0
TRUNCATED = 1
BAD_VERSION = 2
BAD_KIND = 3
OVERSIZE = 4
BAD_LENGTH = 5
TRAILING = 6


@Pure
def be(data: bytes, offset: int, width: int) -> int:
    """Specification: the big-endian value of ``data[offset:offset + width]``."""
    Requires(width == 1 or width == 2 or width == 4 or width == 8)
    Requires(0 <= offset and offset + width <= len(data))
    if width == 1:
        return data[offset]
    if width == 2:
        return data[offset] * 2**8 + data[offset + 1]
    if width == 4:
        return (
            data[offset] * 2**24
            + data[offset + 1] * 2**16
            + data[offset + 2] * 2**8
            + data[offset + 3]
        )
    return (
        data[offset] * 2**56
        + data[offset + 1] * 2**48
        + data[offset + 2] * 2**40
        + data[offset + 3] * 2**32
        + data[offset + 4] * 2**24
        + data[offset + 5] * 2**16
        + data[offset + 6] * 2**8
        + data[offset + 7]
    )


@ContractOnly
def encode_uint(value: int, width: int) -> bytes:
    Requires(width == 1 or width == 2 or width == 4 or width == 8)
    Requires(0 <= value)
    Requires(Implies(width == 1, value < 2**8))
    Requires(Implies(width == 2, value < 2**16))
    Requires(Implies(width == 4, value < 2**32))
    Requires(Implies(width == 8, value < 2**64))
    Ensures(len(Result()) == width)
    Ensures(be(Result(), 0, width) == value)
    return value.to_bytes(width, "big")


@Pure
@ContractOnly
def decode_uint(data: bytes, offset: int, width: int) -> int:
    Requires(width == 1 or width == 2 or width == 4 or width == 8)
    Requires(0 <= offset and offset + width <= len(data))
    Ensures(Result() == be(data, offset, width))
    return int.from_bytes(data[offset : offset + width], "big")


@Pure
def frame_size(tag_length: int, payload_length: int) -> int:
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
    Requires(kind == KIND_DATA or kind == KIND_CLOSE)
    Requires(0 <= sender and 0 <= receiver and 0 <= session and 0 <= sequence)
    Requires(0 <= tag_length and tag_length <= MAX_TAG_BYTES and 0 <= payload_length)
    Requires(frame_size(tag_length, payload_length) <= MAX_FRAME_BYTES_LIMIT)
    Requires(sender < 2**16 and receiver < 2**16 and session < 2**64 and sequence < 2**64)
    Ensures(len(Result()) == HEADER_BYTES)
    Ensures(decode_uint(Result(), 0, 4) == frame_size(tag_length, payload_length) - LENGTH_BYTES)
    Ensures(decode_uint(Result(), 4, 1) == VERSION)
    Ensures(decode_uint(Result(), 5, 1) == kind)
    Ensures(decode_uint(Result(), 6, 2) == sender)
    Ensures(decode_uint(Result(), 8, 2) == receiver)
    Ensures(decode_uint(Result(), 10, 8) == session)
    Ensures(decode_uint(Result(), 18, 8) == sequence)
    Ensures(decode_uint(Result(), 26, 1) == tag_length)
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


@Pure
def check_header(header: bytes, max_frame_bytes: int) -> int:
    Ensures(Result() == OK or Result() == TRUNCATED or Result() == BAD_VERSION
            or Result() == BAD_KIND or Result() == OVERSIZE or Result() == BAD_LENGTH)
    Ensures(Implies(len(header) < HEADER_BYTES, Result() == TRUNCATED))
    Ensures(Implies(Result() == OK, len(header) >= HEADER_BYTES and header[4] == VERSION
                    and (header[5] == KIND_DATA or header[5] == KIND_CLOSE)
                    and LENGTH_BYTES + be(header, 0, 4) <= max_frame_bytes
                    and LENGTH_BYTES + be(header, 0, 4) >= HEADER_BYTES + header[26] + MAC_BYTES))
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


@Pure
def well_formed(data: bytes, max_frame_bytes: int) -> bool:
    """Specification: ``data`` is exactly one frame that respects the size limit."""
    return (
        len(data) >= HEADER_BYTES
        and data[4] == VERSION
        and (data[5] == KIND_DATA or data[5] == KIND_CLOSE)
        and len(data) == LENGTH_BYTES + be(data, 0, 4)
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
    Requires(kind == KIND_DATA or kind == KIND_CLOSE)
    Requires(0 <= sender and sender < 2**16 and 0 <= receiver and receiver < 2**16)
    Requires(0 <= session and session < 2**64 and 0 <= sequence and sequence < 2**64)
    Requires(len(tag) <= MAX_TAG_BYTES and len(mac) == MAC_BYTES)
    Requires(frame_size(len(tag), len(payload)) <= MAX_FRAME_BYTES_LIMIT)
    Ensures(len(Result()) == frame_size(len(tag), len(payload)))
    Ensures(well_formed(Result(), len(Result())))
    Ensures(decode_uint(Result(), 5, 1) == kind)
    Ensures(decode_uint(Result(), 6, 2) == sender)
    Ensures(decode_uint(Result(), 8, 2) == receiver)
    Ensures(decode_uint(Result(), 10, 8) == session)
    Ensures(decode_uint(Result(), 18, 8) == sequence)
    Ensures(decode_uint(Result(), 26, 1) == len(tag))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < len(tag), Result()[HEADER_BYTES + i] == tag[i]), [[tag[i]]])))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < len(payload), Result()[HEADER_BYTES + len(tag) + i] == payload[i]), [[payload[i]]])))
    Ensures(Forall(int, lambda i: (Implies(0 <= i and i < MAC_BYTES, Result()[len(Result()) - MAC_BYTES + i] == mac[i]), [[mac[i]]])))
    header = encode_header(kind, sender, receiver, session, sequence, len(tag), len(payload))
    return header + tag + payload + mac


@Pure
def check_frame(data: bytes, max_frame_bytes: int) -> int:
    Ensures(Implies(Result() == OK, well_formed(data, max_frame_bytes)))
    Ensures(Implies(well_formed(data, max_frame_bytes), Result() == OK))
    code = check_header(data, max_frame_bytes)
    if code != OK:
        return code
    size = LENGTH_BYTES + decode_uint(data, 0, 4)
    if len(data) < size:
        return TRUNCATED
    if len(data) > size:
        return TRAILING
    return OK


@ContractOnly
def unframe(data: bytes) -> tuple[int, int, int, int, int, bytes, bytes, bytes]:
    # Not verified by Nagini: it has no translation for an 8-tuple. unframe only slices; its
    # round trip with frame is checked by tests/verify/test_codec_matches_proved.py.
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
