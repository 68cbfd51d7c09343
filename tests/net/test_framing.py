"""Frames: the codec core round-trips and rejects malformed input; the decoder rejects attacks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from net_strategies import chunkings, frame_fields, keys, messages, payloads, tags

from veil.errors import ConfigError, FramingError
from veil.net import framing
from veil.net.framing import (
    BAD_KIND,
    BAD_LENGTH,
    BAD_VERSION,
    HEADER_BYTES,
    KIND_CLOSE,
    KIND_DATA,
    MAC_BYTES,
    MAX_FRAME_BYTES_LIMIT,
    OK,
    OVERSIZE,
    TRAILING,
    TRUNCATED,
    FrameDecoder,
    FrameEncoder,
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
    unframe,
    unframe_fields,
)

KEY = bytes(range(32))
SESSION = 0x0123456789ABCDEF


def pair(
    key: bytes = KEY, max_frame_bytes: int = framing.DEFAULT_MAX_FRAME_BYTES
) -> tuple[FrameEncoder, FrameDecoder]:
    """An encoder for 1 → 0 and the matching decoder."""
    enc = FrameEncoder(
        sender=1, receiver=0, session=SESSION, key=key, max_frame_bytes=max_frame_bytes
    )
    dec = FrameDecoder(local=0, peer=1, session=SESSION, key=key, max_frame_bytes=max_frame_bytes)
    return enc, dec


def read_all(decoder: FrameDecoder, data: bytes) -> list[framing.Frame]:
    """Feed ``data`` then end the stream, and return every frame (raising what the decoder raises)."""
    decoder.receive_data(data)
    decoder.receive_eof()
    frames = []
    while (item := decoder.next_frame()) is not None:
        frames.append(item)
    return frames


def problem_of(decoder: FrameDecoder, data: bytes) -> str:
    """Feed ``data`` and EOF, expect a FramingError, return its ``problem`` field."""
    with pytest.raises(FramingError) as info:
        read_all(decoder, data)
    return str(info.value.fields["problem"])


# -- the codec core ---------------------------------------------------------------------------


WIDTHS = {2: (encode_u16, decode_u16), 4: (encode_u32, decode_u32), 8: (encode_u64, decode_u64)}


@given(value=st.integers(min_value=0, max_value=2**64 - 1), width=st.sampled_from([2, 4, 8]))
def test_integer_encodings_round_trip(value: int, width: int) -> None:
    """decode(encode(v)) == v for every v that fits, at any offset."""
    encode, decode = WIDTHS[width]
    value %= 256**width
    encoded = encode(value)
    assert len(encoded) == width
    assert decode(b"xx" + encoded + b"yy", 2) == value


@given(value=st.integers(min_value=0, max_value=2**64 - 1), width=st.sampled_from([2, 4, 8]))
def test_integer_encodings_agree_with_python_int_conversion(value: int, width: int) -> None:
    """Differential: the verifiable arithmetic equals int.to_bytes / int.from_bytes (big-endian)."""
    encode, decode = WIDTHS[width]
    value %= 256**width
    assert encode(value) == value.to_bytes(width, "big")
    assert decode(value.to_bytes(width, "big"), 0) == value


@given(fields=frame_fields())
def test_unframe_inverts_frame(fields: tuple[int, int, int, int, int, bytes, bytes, bytes]) -> None:
    """unframe(frame(x)) == x (as header fields and parts), and check_frame accepts frame(x)."""
    data = frame(*fields)
    assert check_frame(data, MAX_FRAME_BYTES_LIMIT) == OK
    assert unframe(data) == (fields[:5], fields[5:])


@given(fields=frame_fields())
def test_the_fast_header_codec_agrees_with_the_verified_core(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes],
) -> None:
    """HEADER_STRUCT, used on the hot paths, packs and unpacks exactly like the verified core."""
    kind, sender, receiver, session, sequence, tag, payload, _ = fields
    header = encode_header(kind, sender, receiver, session, sequence, len(tag), len(payload))
    length = HEADER_BYTES + len(tag) + len(payload) + MAC_BYTES - 4
    packed = framing.HEADER_STRUCT.pack(
        length, framing.VERSION, kind, sender, receiver, session, sequence, len(tag)
    )
    assert packed == header
    unpacked = framing.HEADER_STRUCT.unpack(header)
    assert unpacked[2:7] == unframe_fields(header)
    assert (unpacked[0], unpacked[1], unpacked[7]) == (length, framing.VERSION, len(tag))


@given(data=st.binary(max_size=400), fields=frame_fields())
def test_frame_inverts_unframe_on_every_accepted_input(
    data: bytes, fields: tuple[int, int, int, int, int, bytes, bytes, bytes]
) -> None:
    """Whatever bytes check_frame accepts are exactly frame(*unframe(bytes)): no other encodings."""
    for candidate in (data, frame(*fields)[: len(data)] + data, frame(*fields)):
        if check_frame(candidate, MAX_FRAME_BYTES_LIMIT) == OK:
            head, parts = unframe(candidate)
            assert frame(*head, *parts) == candidate


@given(fields=frame_fields(), cut=st.integers(min_value=0))
def test_every_proper_prefix_of_a_frame_is_truncated(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes], cut: int
) -> None:
    """A frame cut anywhere before its end is reported as truncated."""
    data = frame(*fields)
    prefix = data[: cut % len(data)]
    assert check_frame(prefix, MAX_FRAME_BYTES_LIMIT) == TRUNCATED


@given(fields=frame_fields(), extra=st.binary(min_size=1, max_size=64))
def test_bytes_after_a_frame_are_rejected(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes], extra: bytes
) -> None:
    """check_frame wants exactly one frame; trailing bytes are an error."""
    assert check_frame(frame(*fields) + extra, MAX_FRAME_BYTES_LIMIT) == TRAILING


@given(fields=frame_fields(), version=st.integers(min_value=0, max_value=255))
def test_an_unknown_version_is_rejected(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes], version: int
) -> None:
    """Any version byte other than 1 is rejected."""
    assume(version != framing.VERSION)
    data = bytearray(frame(*fields))
    data[4] = version
    assert check_frame(bytes(data), MAX_FRAME_BYTES_LIMIT) == BAD_VERSION


@given(fields=frame_fields(), kind=st.integers(min_value=2, max_value=255))
def test_an_unknown_kind_is_rejected(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes], kind: int
) -> None:
    """A kind byte other than data (0) or close (1) is rejected."""
    data = bytearray(frame(*fields))
    data[5] = kind
    assert check_frame(bytes(data), MAX_FRAME_BYTES_LIMIT) == BAD_KIND


@given(fields=frame_fields())
def test_a_frame_over_the_size_limit_is_rejected_from_its_header(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes],
) -> None:
    """check_header refuses a frame one byte over the limit, reading only the header."""
    data = frame(*fields)
    assert check_header(data[:HEADER_BYTES], len(data)) == OK
    assert check_header(data[:HEADER_BYTES], len(data) - 1) == OVERSIZE


@given(fields=frame_fields(), shrink=st.integers(min_value=1, max_value=600))
def test_a_length_too_small_for_the_tag_and_mac_is_rejected(
    fields: tuple[int, int, int, int, int, bytes, bytes, bytes], shrink: int
) -> None:
    """A length field that cannot hold the header, tag and MAC is malformed."""
    data = bytearray(frame(*fields))
    length = decode_u32(bytes(data), 0)
    minimum = HEADER_BYTES - 4 + len(fields[5]) + MAC_BYTES
    new_length = minimum - 1 - (shrink % minimum)
    data[0:4] = encode_u32(new_length)
    assume(new_length < length)
    assert check_header(bytes(data), MAX_FRAME_BYTES_LIMIT) == BAD_LENGTH


# -- encoder and decoder ----------------------------------------------------------------------


@given(batch=messages(), data=st.data())
def test_messages_survive_any_chunking_of_the_stream(
    batch: list[tuple[str, bytes]], data: st.DataObject
) -> None:
    """Whatever chunks the transport delivers, the decoder yields the messages sent, in order."""
    enc, dec = pair()
    stream = b"".join(enc.encode_bytes(tag, payload) for tag, payload in batch)
    cuts = data.draw(chunkings(len(stream)))
    got = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got.extend(dec.feed(stream[start:stop]))
    dec.receive_eof()
    assert [(f.tag, bytes(f.payload)) for f in got] == batch
    assert [f.sequence for f in got] == list(range(len(batch)))
    assert dec.next_frame() is None
    assert dec.at_eof


@given(batch=messages(), sizes=st.lists(st.integers(min_value=1, max_value=5000), min_size=1))
def test_the_zero_copy_buffer_path_agrees_with_feeding_bytes(
    batch: list[tuple[str, bytes]], sizes: list[int]
) -> None:
    """Filling get_buffer()/buffer_updated() in arbitrary amounts gives the same frames as feed()."""
    enc, dec = pair()
    stream = memoryview(b"".join(enc.encode_bytes(tag, payload) for tag, payload in batch))
    pos, turn = 0, 0
    while pos < len(stream):
        buffer = dec.get_buffer(65536)
        n = min(len(buffer), sizes[turn % len(sizes)], len(stream) - pos)
        buffer[:n] = stream[pos : pos + n]
        dec.buffer_updated(n)
        pos, turn = pos + n, turn + 1
    got = []
    while (item := dec.next_frame()) is not None:
        got.append((item.tag, bytes(item.payload)))
    assert got == batch


@given(tag=tags, payload=payloads)
def test_the_decoder_agrees_with_unframe(tag: str, payload: bytes) -> None:
    """Differential: the stateful decoder and the core's unframe read a frame the same way."""
    enc, dec = pair()
    data = enc.encode_bytes(tag, payload)
    (decoded,) = dec.feed(data)
    (kind, sender, receiver, session, sequence), (raw_tag, raw_payload, mac) = unframe(data)
    assert (decoded.kind, decoded.sender, decoded.receiver) == (kind, sender, receiver)
    assert (decoded.session, decoded.sequence) == (session, sequence)
    assert (decoded.tag.encode(), bytes(decoded.payload)) == (raw_tag, raw_payload)
    assert mac == framing.FrameMac(KEY, SESSION).tag(0, len(data), data[:-MAC_BYTES])


def test_a_large_numpy_payload_is_framed_without_copying_and_arrives_intact() -> None:
    """An 8 MB uint64 array is hashed and written from its own buffer and arrives equal."""
    array = np.arange(1 << 20, dtype=np.uint64)
    enc, dec = pair()
    head, body, mac = enc.encode("mul#1", memoryview(array))
    assert body.obj is array
    assert body.nbytes == array.nbytes
    (got,) = dec.feed(head + bytes(body) + mac)
    assert np.array_equal(np.frombuffer(got.payload, dtype=np.uint64), array)


@given(batch=messages(max_count=3), position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_is_detected(
    batch: list[tuple[str, bytes]], position: int, bit: int
) -> None:
    """Flip one bit anywhere in the stream: the decoder raises and never delivers a forged frame."""
    enc, dec = pair()
    stream = bytearray(b"".join(enc.encode_bytes(tag, payload) for tag, payload in batch))
    position %= len(stream)
    stream[position] ^= 1 << bit
    dec.receive_data(bytes(stream))
    dec.receive_eof()
    delivered = []
    with pytest.raises(FramingError):  # noqa: PT012 (frames before the error are collected)
        while (item := dec.next_frame()) is not None:
            delivered.append(item)
    assert all((f.tag, bytes(f.payload)) in batch for f in delivered)


def test_a_tampered_payload_is_reported_as_tampering() -> None:
    """A changed payload byte fails the MAC, and the error says so and names the sender."""
    enc, dec = pair()
    data = bytearray(enc.encode_bytes("open#3", b"secret share"))
    data[HEADER_BYTES + 7] ^= 0xFF
    with pytest.raises(FramingError, match=r"party 1 .* fails its authentication check") as info:
        dec.feed(bytes(data))
    assert info.value.fields["party"] == 1
    assert info.value.fields["problem"] == "tampered"


def test_a_frame_under_another_key_is_rejected() -> None:
    """A frame made with a different key (another session's) is rejected as tampered."""
    enc, _ = pair(key=b"k" * 32)
    _, dec = pair(key=KEY)
    assert problem_of(dec, enc.encode_bytes("x", b"y")) == "tampered"


def test_a_replayed_frame_is_rejected() -> None:
    """Sending an earlier, authentic frame again is reported as a replay."""
    enc, dec = pair()
    first = enc.encode_bytes("a", b"1")
    second = enc.encode_bytes("b", b"2")
    with pytest.raises(FramingError, match="replayed") as info:
        dec.feed(first + second + first)
    assert info.value.fields["problem"] == "replayed"


def test_reordered_frames_are_rejected() -> None:
    """A frame arriving before its predecessor is reported as reordered, naming the gap."""
    enc, dec = pair()
    first = enc.encode_bytes("a", b"1")
    second = enc.encode_bytes("b", b"2")
    with pytest.raises(FramingError, match=r"frames 0\.\.0 are missing or reordered"):
        dec.feed(second + first)


def test_frames_before_a_bad_one_are_delivered_then_the_error_sticks() -> None:
    """Good frames ahead of a bad one are returned; then every call raises the same error."""
    enc, dec = pair()
    good = enc.encode_bytes("a", b"1")
    bad = bytearray(enc.encode_bytes("b", b"2"))
    bad[-1] ^= 1
    dec.receive_data(good + bytes(bad))
    first = dec.next_frame()
    assert first is not None
    assert first.tag == "a"
    with pytest.raises(FramingError) as info:
        dec.next_frame()
    with pytest.raises(FramingError) as again:
        dec.next_frame()
    assert again.value is info.value


@pytest.mark.parametrize(
    ("sender", "receiver", "session", "problem"),
    [
        (2, 0, SESSION, "wrong-party"),
        (1, 3, SESSION, "wrong-party"),
        (1, 0, SESSION + 1, "wrong-session"),
    ],
)
def test_a_frame_for_another_party_or_session_is_rejected(
    sender: int, receiver: int, session: int, problem: str
) -> None:
    """The decoder checks sender, receiver and session id of every frame."""
    enc = FrameEncoder(sender=sender, receiver=receiver, session=session, key=KEY)
    _, dec = pair()
    assert problem_of(dec, enc.encode_bytes("x", b"")) == problem


def test_an_oversize_frame_is_refused_before_its_body_is_buffered() -> None:
    """A header announcing a frame over the limit fails at once, holding only the header."""
    big, _ = pair()
    _, dec = pair(max_frame_bytes=1000)
    data = big.encode_bytes("x", bytes(5000))
    with pytest.raises(FramingError, match="larger than the frame size limit") as info:
        dec.feed(data[:HEADER_BYTES])
    assert info.value.fields["problem"] == "oversize"
    assert dec.buffered_bytes == 0


@given(batch=messages(max_count=3), cut=st.integers(min_value=1))
def test_a_stream_ending_inside_a_frame_is_truncated(
    batch: list[tuple[str, bytes]], cut: int
) -> None:
    """EOF in the middle of a frame raises a truncation error (not a silent short message)."""
    enc, dec = pair()
    frames = [enc.encode_bytes(tag, payload) for tag, payload in batch]
    stream = b"".join(frames)
    cut = cut % len(frames[-1])
    assume(cut > 0)
    with pytest.raises(FramingError, match="truncated"):
        read_all(dec, stream[: len(stream) - cut])


def test_data_after_a_close_frame_is_rejected() -> None:
    """A close frame ends the direction; anything after it is an error."""
    enc, dec = pair()
    closing = enc.encode_bytes("", b"", kind=KIND_CLOSE)
    later = enc.encode_bytes("x", b"")
    dec.receive_data(closing + later)
    first = dec.next_frame()
    assert first is not None
    assert first.kind == KIND_CLOSE
    assert dec.closed_by_peer
    with pytest.raises(FramingError, match="after its close frame"):
        dec.next_frame()


def test_a_tag_that_is_not_utf8_is_rejected() -> None:
    """A frame whose tag bytes are not UTF-8 is rejected even with a valid MAC."""
    head = framing.encode_header(KIND_DATA, 1, 0, SESSION, 0, 1, 0) + b"\xff"
    data = head + framing.FrameMac(KEY, SESSION).tag(0, len(head) + MAC_BYTES, head)
    _, dec = pair()
    assert problem_of(dec, data) == "bad-tag"


def test_the_encoder_refuses_an_oversize_message_and_keeps_its_sequence() -> None:
    """A message too large for max_frame_bytes raises before anything is produced."""
    enc, _ = pair(max_frame_bytes=100)
    with pytest.raises(FramingError, match="over the limit of 100") as info:
        enc.encode("mul#1", bytes(100))
    assert info.value.fields["party"] == 0
    assert enc.next_sequence == 0


def test_the_encoder_refuses_a_tag_longer_than_255_bytes() -> None:
    """Tags are at most 255 bytes of UTF-8."""
    enc, _ = pair()
    with pytest.raises(FramingError, match="at most 255"):
        enc.encode("é" * 128, b"")


def test_a_non_contiguous_payload_is_refused_with_a_fix() -> None:
    """A strided numpy view cannot be sent in place; the error says how to fix it."""
    enc, _ = pair()
    with pytest.raises(ConfigError, match="C-contiguous"):
        enc.encode("x", memoryview(np.arange(10)[::2]))


@pytest.mark.parametrize("limit", [framing.MIN_FRAME_BYTES - 1, MAX_FRAME_BYTES_LIMIT + 1])
def test_an_impossible_frame_size_limit_is_refused(limit: int) -> None:
    """max_frame_bytes must lie between the smallest frame and what the length field can hold."""
    with pytest.raises(ConfigError, match="max_frame_bytes"):
        FrameDecoder(local=0, peer=1, session=0, key=KEY, max_frame_bytes=limit)


@given(key=keys, tag=tags, payload=payloads)
def test_frames_round_trip_under_any_key(key: bytes, tag: str, payload: bytes) -> None:
    """Encoder and decoder sharing a key agree on every message."""
    enc, dec = pair(key=key)
    (got,) = dec.feed(enc.encode_bytes(tag, payload))
    assert (got.tag, bytes(got.payload)) == (tag, payload)


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_frames_on_both_sides_of_the_mac_switch_round_trip(extra: int) -> None:
    """Frames just below, at and just above SMALL_FRAME_BYTES (BLAKE2s vs Poly1305) round-trip."""
    payload = bytes(framing.SMALL_FRAME_BYTES + extra - HEADER_BYTES - 1 - MAC_BYTES)
    enc, dec = pair()
    data = enc.encode_bytes("x", payload)
    assert len(data) == framing.SMALL_FRAME_BYTES + extra
    (got,) = dec.feed(data)
    assert bytes(got.payload) == payload


def test_a_tampered_large_frame_fails_its_poly1305_tag() -> None:
    """A flipped bit in a 1 MB payload is caught by the one-time Poly1305 tag."""
    enc, dec = pair()
    data = bytearray(enc.encode_bytes("big", bytes(1 << 20)))
    data[len(data) // 2] ^= 0x10
    assert problem_of(dec, bytes(data)) == "tampered"


def test_a_large_frame_moved_to_another_sequence_number_fails() -> None:
    """One-time keys depend on the sequence number: an authentic tag is useless elsewhere."""
    mac = framing.FrameMac(KEY, SESSION)
    body = bytes(1 << 17)
    assert mac.tag(0, len(body) + MAC_BYTES, body) != mac.tag(1, len(body) + MAC_BYTES, body)
    assert mac.tag(0, 100, body[:84]) != mac.tag(0, 100, body[:83] + b"\x01")
