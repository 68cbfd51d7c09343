"""Session set-up: hellos are checked, and both sides derive the same fresh keys."""

from __future__ import annotations

import pytest

from veil.errors import FramingError, PeerAuthenticationError
from veil.net.handshake import (
    HELLO_BYTES,
    decode_hello,
    derive_session,
    encode_hello,
    new_nonce,
    random_session,
)

FED = bytes(32)
FP0, FP1 = b"\x00" * 32, b"\x01" * 32


def sessions(nonce0: bytes, nonce1: bytes, fed: bytes = FED):
    """Derive the session as party 0 and as party 1 see it."""
    s0 = derive_session(
        local=0,
        peer=1,
        local_nonce=nonce0,
        peer_nonce=nonce1,
        federation_id=fed,
        local_fingerprint=FP0,
        peer_fingerprint=FP1,
    )
    s1 = derive_session(
        local=1,
        peer=0,
        local_nonce=nonce1,
        peer_nonce=nonce0,
        federation_id=fed,
        local_fingerprint=FP1,
        peer_fingerprint=FP0,
    )
    return s0, s1


def test_a_hello_round_trips_to_its_nonce() -> None:
    """decode_hello returns the nonce that encode_hello carried."""
    nonce = new_nonce()
    hello = encode_hello(2, 0, FED, nonce)
    assert len(hello) == HELLO_BYTES
    assert decode_hello(hello, expected_sender=2, expected_receiver=0, federation_id=FED) == nonce


def test_a_hello_claiming_another_party_is_refused() -> None:
    """A peer authenticated as party 2 cannot introduce itself as party 3."""
    hello = encode_hello(3, 0, FED, new_nonce())
    with pytest.raises(PeerAuthenticationError, match="introduced itself as party 3"):
        decode_hello(hello, expected_sender=2, expected_receiver=0, federation_id=FED)


def test_a_hello_from_another_federation_is_refused() -> None:
    """Parties that loaded different federation files do not start a session."""
    hello = encode_hello(1, 0, b"\x07" * 32, new_nonce())
    with pytest.raises(PeerAuthenticationError, match="different federation file"):
        decode_hello(hello, expected_sender=1, expected_receiver=0, federation_id=FED)


def test_garbage_instead_of_a_hello_is_a_framing_error() -> None:
    """Bytes that are not a veil hello raise FramingError naming the peer."""
    with pytest.raises(FramingError, match="party 1 did not open the session") as info:
        decode_hello(
            b"GET / HTTP/1.1\r\n" * 5, expected_sender=1, expected_receiver=0, federation_id=FED
        )
    assert info.value.fields["party"] == 1


def test_both_sides_derive_the_same_keys_one_per_direction() -> None:
    """Party 0's send key is party 1's receive key and vice versa; directions differ."""
    s0, s1 = sessions(new_nonce(), new_nonce())
    assert s0.session_id == s1.session_id
    assert s0.send_key == s1.recv_key
    assert s0.recv_key == s1.send_key
    assert s0.send_key != s0.recv_key


def test_every_connection_gets_fresh_keys() -> None:
    """New nonces give new keys and a new session id; so does another federation."""
    a, _ = sessions(new_nonce(), new_nonce())
    b, _ = sessions(new_nonce(), new_nonce())
    nonce0, nonce1 = new_nonce(), new_nonce()
    c, _ = sessions(nonce0, nonce1)
    d, _ = sessions(nonce0, nonce1, fed=b"\x09" * 32)
    assert a.send_key != b.send_key
    assert a.session_id != b.session_id
    assert c.send_key != d.send_key


def test_a_session_never_prints_its_keys() -> None:
    """repr(Session) shows the id only."""
    s0, s1 = random_session()
    assert s0.send_key.hex() not in repr(s0)
    assert s0.send_key == s1.recv_key
    assert "session_id" in repr(s0)
