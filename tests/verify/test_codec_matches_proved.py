"""The frame codec: what Nagini assumes is tested, and what it does not cover is tested here.

``verify/nagini/codec.py`` trusts two primitives (``@ContractOnly``): ``encode_uint`` and
``decode_uint``, thin wrappers of ``int.to_bytes`` / ``int.from_bytes``, specified through the
big-endian value ``be``. These tests check that specification exhaustively for 1- and 2-byte
widths and on random and edge values for 4 and 8 bytes. ``unframe`` is not verified by Nagini (no
8-tuples); its round trip with ``frame`` and the converse are property-tested.
"""

from __future__ import annotations

import types

from hypothesis import given, settings
from hypothesis import strategies as st

from veil.net import codec
from veil.net.framing import FrameDecoder, FrameEncoder

KEY = bytes(range(32))


def test_decode_uint_meets_its_trusted_contract_for_every_one_and_two_byte_string(
    proved_codec: types.ModuleType,
) -> None:
    """decode_uint(d, o, w) == be(d, o, w) for all 1- and 2-byte strings, at offsets 0 and 1."""
    for value in range(2**16):
        data = b"\x07" + value.to_bytes(2, "big")
        assert codec.decode_uint(data, 1, 2) == proved_codec.be(data, 1, 2) == value
    for value in range(256):
        data = bytes([value, 255 - value])
        assert codec.decode_uint(data, 0, 1) == proved_codec.be(data, 0, 1)
        assert codec.decode_uint(data, 1, 1) == proved_codec.be(data, 1, 1)


def _width_and_value() -> st.SearchStrategy[tuple[int, int]]:
    def values(w: int) -> st.SearchStrategy[int]:
        top = 256**w - 1
        edges = sorted({e for e in (0, 1, 255, 256, top - 1, top) if e <= top})
        return st.one_of(st.sampled_from(edges), st.integers(0, top))

    return st.sampled_from([1, 2, 4, 8]).flatmap(lambda w: st.tuples(st.just(w), values(w)))


@settings(max_examples=300, deadline=None)
@given(wv=_width_and_value(), prefix=st.binary(max_size=5), suffix=st.binary(max_size=5))
def test_encode_and_decode_uint_meet_their_trusted_contracts(
    proved_codec: types.ModuleType, wv: tuple[int, int], prefix: bytes, suffix: bytes
) -> None:
    """len(encode_uint(v, w)) == w, be(encode_uint(v, w)) == v, decode reads be at any offset."""
    width, value = wv
    encoded = codec.encode_uint(value, width)
    assert len(encoded) == width
    assert proved_codec.be(encoded, 0, width) == value
    data = prefix + encoded + suffix
    assert codec.decode_uint(data, len(prefix), width) == proved_codec.be(data, len(prefix), width)


def _frames() -> st.SearchStrategy[tuple[int, int, int, int, int, bytes, bytes, bytes]]:
    return st.tuples(
        st.sampled_from([codec.KIND_DATA, codec.KIND_CLOSE]),
        st.integers(0, 2**16 - 1),
        st.integers(0, 2**16 - 1),
        st.integers(0, 2**64 - 1),
        st.integers(0, 2**64 - 1),
        st.binary(max_size=255),
        st.binary(max_size=300),
        st.binary(min_size=32, max_size=32),
    )


@settings(max_examples=200, deadline=None)
@given(parts=_frames())
def test_unframe_inverts_frame(parts: tuple[int, int, int, int, int, bytes, bytes, bytes]) -> None:
    """unframe(frame(x)) == x for every field, tag, payload and MAC (not covered by Nagini)."""
    data = codec.frame(*parts)
    assert codec.check_frame(data, len(data)) == codec.OK
    assert codec.unframe(data) == parts


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
    ok = codec.check_frame(damaged, limit) == codec.OK
    assert ok == proved_codec.well_formed(damaged, limit)
    if ok:
        assert codec.frame(*codec.unframe(damaged)) == damaged


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
    kind, sender, receiver, sess, sequence, tag_bytes, body, _ = codec.unframe(data)
    assert (kind, sender, receiver, sess, sequence) == (codec.KIND_DATA, 1, 2, session, 0)
    assert (tag_bytes, body) == (tag.encode("utf-8"), payload)
    decoder = FrameDecoder(local=2, peer=1, session=session, key=KEY)
    (frame,) = decoder.feed(data)
    assert (frame.tag, bytes(frame.payload)) == (tag, payload)
