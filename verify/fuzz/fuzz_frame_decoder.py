"""Fuzz the frame decoder: arbitrary bytes from a peer never crash it, and the codec's laws hold.

Checked on every input: :class:`veil.net.framing.FrameDecoder` either returns frames or raises
:class:`veil.errors.FramingError` (nothing else); :func:`veil.net.codec.check_frame` never raises;
when it accepts the input, the frame of what ``unframe`` returns is the input again; every frame the decoder delivers
comes from the expected peer and session with the next sequence number (a forged frame would
need the MAC key).
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["veil"]):
    from veil.errors import FramingError
    from veil.net import codec
    from veil.net.framing import FrameDecoder, FrameEncoder

from _harness import run

KEY = bytes(range(32))
SESSION = 0x1234
CODES = {
    codec.TRUNCATED,
    codec.BAD_VERSION,
    codec.BAD_KIND,
    codec.OVERSIZE,
    codec.BAD_LENGTH,
    codec.TRAILING,
}


def test_one_input(data: bytes) -> None:
    """Feed ``data`` to the codec core and to a decoder, split in two chunks."""
    limit = 1 << 16
    code = codec.check_frame(data, limit)
    if code == codec.OK:
        fields, parts = codec.unframe(data)
        if codec.frame(*fields, *parts) != data:
            raise AssertionError("an accepted frame does not re-encode to itself")
    elif code not in CODES:
        raise AssertionError(f"check_frame returned an unknown code {code}")
    decoder = FrameDecoder(local=2, peer=1, session=SESSION, key=KEY, max_frame_bytes=limit)
    cut = len(data) // 2
    try:
        frames = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
    except FramingError:
        return
    for sequence, f in enumerate(frames):
        # Only authentic frames get through: right peer, session and the next sequence number.
        if (f.sender, f.receiver, f.session, f.sequence) != (1, 2, SESSION, sequence):
            raise AssertionError(f"decoder delivered an unexpected frame: {f}")


def seeds() -> list[bytes]:
    """Two valid frames in one stream, a close frame, and a frame with a flipped bit."""
    encoder = FrameEncoder(sender=1, receiver=2, session=SESSION, key=KEY)
    one = encoder.encode_bytes("mul#1", b"\x00" * 40)
    two = encoder.encode_bytes("open", bytes(range(200)))
    close = encoder.encode_bytes("", b"", kind=codec.KIND_CLOSE)
    flipped = bytearray(one)
    flipped[30] ^= 1
    return [one, one + two, one + two + close, bytes(flipped)]


if __name__ == "__main__":
    run("frame_decoder", test_one_input, seeds())
