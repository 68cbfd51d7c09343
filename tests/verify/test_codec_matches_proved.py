"""The frame codec: the product's integer codecs agree with Python's, and what Nagini does not
cover is property-tested.

``verify/nagini/codec.py`` proves the codec (``src/veil/net/codec.py``) in Viper's model of
``int`` and ``bytes``. Here the hand-written big-endian encoders and decoders are compared with
``int.to_bytes`` / ``int.from_bytes`` (exhaustively for 16 bits), and the round trip
``unframe(frame(x))`` and its converse are property-tested on real Python objects.
"""

from __future__ import annotations

import types

from hypothesis import given, settings
from hypothesis import strategies as st

from veil.net import codec
from veil.net.framing import FrameDecoder, FrameEncoder

KEY = bytes(range(32))
CODES = {
    codec.OK,
    codec.TRUNCATED,
    codec.BAD_VERSION,
    codec.BAD_KIND,
    codec.OVERSIZE,
    codec.BAD_LENGTH,
    codec.TRAILING,
}


def test_the_16_bit_codec_agrees_with_python_for_every_value() -> None:
    """encode_u16 / decode_u16 equal int.to_bytes / int.from_bytes on all 65,536 values."""
    for value in range(2**16):
        encoded = codec.encode_u16(value)
        assert encoded == value.to_bytes(2, "big")
        assert codec.decode_u16(b"\x07" + encoded, 1) == value


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.sampled_from([0, 1, 255, 256, 2**32 - 1, 2**32, 2**64 - 1]), st.integers(0, 2**64 - 1)
    ),
    prefix=st.binary(max_size=5),
)
def test_the_32_and_64_bit_codecs_agree_with_python(value: int, prefix: bytes) -> None:
    """encode/decode_u32 and _u64 equal int.to_bytes / int.from_bytes, at any offset."""
    low = value % 2**32
    assert codec.encode_u32(low) == low.to_bytes(4, "big")
    assert codec.encode_u64(value) == value.to_bytes(8, "big")
    assert codec.decode_u32(prefix + low.to_bytes(4, "big"), len(prefix)) == low
    assert codec.decode_u64(prefix + value.to_bytes(8, "big"), len(prefix)) == value


def _frames() -> st.SearchStrategy[tuple[int, int, int, int, int, bytes, bytes, bytes]]:
    return st.tuples(
        st.sampled_from([codec.KIND_DATA, codec.KIND_CLOSE]),
        st.integers(0, 2**16 - 1),
        st.integers(0, 2**16 - 1),
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**64 - 1),
        st.binary(max_size=255),
        st.binary(max_size=300),
        st.binary(min_size=codec.MAC_BYTES, max_size=codec.MAC_BYTES),
    )


@settings(max_examples=200, deadline=None)
@given(parts=_frames())
def test_unframe_inverts_frame(parts: tuple[int, int, int, int, int, bytes, bytes, bytes]) -> None:
    """unframe(frame(x)) == x for every field, tag, payload and MAC (not covered by Nagini)."""
    data = codec.frame(*parts)
    assert codec.check_frame(data, len(data)) == codec.OK
    assert codec.unframe(data) == (parts[:5], parts[5:])


@settings(max_examples=300, deadline=None)
@given(
    parts=_frames(),
    position=st.integers(0, 10_000),
    byte=st.integers(0, 255),
    cut=st.integers(-3, 3),
)
def test_check_frame_agrees_with_the_proved_specification_on_damaged_frames(
    proved_codec: types.ModuleType,
    parts: tuple[int, int, int, int, int, bytes, bytes, bytes],
    position: int,
    byte: int,
    cut: int,
) -> None:
    """On a frame with one byte changed and a few bytes cut or added, OK iff well_formed, and
    every accepted input is exactly the frame of what unframe returns."""
    data = bytearray(codec.frame(*parts))
    data[position % len(data)] = byte
    damaged = bytes(data[:cut]) if cut < 0 else bytes(data) + bytes(cut)
    limit = codec.DEFAULT_MAX_FRAME_BYTES
    code = codec.check_frame(damaged, limit)
    assert code in CODES
    assert (code == codec.OK) == proved_codec.well_formed(damaged, limit)
    if code == codec.OK:
        fields, parts_back = codec.unframe(damaged)
        assert codec.frame(*fields, *parts_back) == damaged


@settings(max_examples=50, deadline=None)
@given(
    tag=st.text(max_size=20), payload=st.binary(max_size=2000), session=st.integers(0, 2**64 - 1)
)
def test_the_stateful_encoder_and_decoder_use_the_proved_layout(
    tag: str, payload: bytes, session: int
) -> None:
    """FrameEncoder's bytes are a well-formed frame, and FrameDecoder returns its fields."""
    encoder = FrameEncoder(sender=1, receiver=2, session=session, key=KEY)
    data = encoder.encode_bytes(tag, payload)
    assert codec.check_frame(data, len(data)) == codec.OK
    (kind, sender, receiver, sess, sequence), (tag_bytes, body, _) = codec.unframe(data)
    assert (kind, sender, receiver, sess, sequence) == (codec.KIND_DATA, 1, 2, session, 0)
    assert (tag_bytes, body) == (tag.encode("utf-8"), payload)
    decoder = FrameDecoder(local=2, peer=1, session=session, key=KEY)
    (frame,) = decoder.feed(data)
    assert (frame.tag, bytes(frame.payload)) == (tag, payload)
