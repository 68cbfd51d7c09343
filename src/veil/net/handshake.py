"""Session set-up inside an authenticated connection: hellos and per-session frame keys (sans-I/O).

Right after the TLS handshake (which authenticated both certificates), each side sends one
*hello* and reads the other's::

    offset  bytes  field
    0       4      magic        b"VEIL"
    4       1      version      1
    5       2      sender       party id
    7       2      receiver     party id
    9       32     federation   the federation's id (SHA-256 of its public description)
    41      32     nonce        fresh random bytes from the OS CSPRNG

Both then derive, with HKDF-SHA256 [RFC 5869], one MAC key per direction and a 64-bit session id
from the two nonces, bound to the party ids, the federation and both certificate fingerprints.
Nonces travel inside TLS, so only the two endpoints know the keys; every connection gets fresh
keys, so a frame can never be replayed into another session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import FramingError, PeerAuthenticationError

__all__ = [
    "HELLO_BYTES",
    "Session",
    "decode_hello",
    "derive_session",
    "encode_hello",
    "new_nonce",
    "random_session",
]

MAGIC = b"VEIL"
HELLO_VERSION = 1
NONCE_BYTES = 32
FEDERATION_ID_BYTES = 32
HELLO_BYTES = 4 + 1 + 2 + 2 + FEDERATION_ID_BYTES + NONCE_BYTES
KEY_BYTES = 32


@dataclass(frozen=True, slots=True, repr=False)
class Session:
    """The keys of one connection, seen from one party.

    Attributes
    ----------
    session_id : int
        64-bit id carried by every frame of the connection, in both directions.
    send_key, recv_key : bytes
        32-byte MAC keys for frames this party sends and receives.
    """

    session_id: int
    send_key: bytes
    recv_key: bytes

    def __repr__(self) -> str:  # never print keys
        return f"Session(session_id={self.session_id:#018x})"


def new_nonce() -> bytes:
    """Return a fresh 32-byte nonce from the OS CSPRNG."""
    return secrets.token_bytes(NONCE_BYTES)


def encode_hello(sender: int, receiver: int, federation_id: bytes, nonce: bytes) -> bytes:
    """Return the 73-byte hello that ``sender`` sends to ``receiver``."""
    if len(federation_id) != FEDERATION_ID_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("federation_id and nonce must be 32 bytes each")
    return (
        MAGIC
        + HELLO_VERSION.to_bytes(1, "big")
        + sender.to_bytes(2, "big")
        + receiver.to_bytes(2, "big")
        + federation_id
        + nonce
    )


def decode_hello(
    data: bytes, *, expected_sender: int, expected_receiver: int, federation_id: bytes
) -> bytes:
    """Check a hello from ``expected_sender`` and return its nonce.

    Raises
    ------
    FramingError
        ``data`` is not a hello of this version.
    PeerAuthenticationError
        The hello names other parties, or another federation.
    """
    if len(data) != HELLO_BYTES or data[:4] != MAGIC or data[4] != HELLO_VERSION:
        raise FramingError(
            f"party {expected_sender} did not open the session with a veil hello "
            f"(got {len(data)} bytes starting {bytes(data[:8])!r})",
            party=expected_sender,
            hint="check that the peer runs veil with the same network protocol version",
        )
    sender = int.from_bytes(data[5:7], "big")
    receiver = int.from_bytes(data[7:9], "big")
    if sender != expected_sender or receiver != expected_receiver:
        raise PeerAuthenticationError(
            f"the peer authenticated as party {expected_sender} introduced itself as party "
            f"{sender} talking to party {receiver} (expected {expected_sender} → {expected_receiver})",
            party=expected_sender,
            hint="check the party ids each process was started with",
        )
    if data[9 : 9 + FEDERATION_ID_BYTES] != federation_id:
        raise PeerAuthenticationError(
            f"party {expected_sender} uses a different federation file "
            f"(id {bytes(data[9:17]).hex()}..., ours {federation_id[:8].hex()}...)",
            party=expected_sender,
            hint="every party must load the same federation (ids, hosts, ports, certificates)",
        )
    return bytes(data[9 + FEDERATION_ID_BYTES :])


def derive_session(
    *,
    local: int,
    peer: int,
    local_nonce: bytes,
    peer_nonce: bytes,
    federation_id: bytes,
    local_fingerprint: bytes,
    peer_fingerprint: bytes,
) -> Session:
    """Derive the session keys of the connection between ``local`` and ``peer`` (HKDF-SHA256).

    Both sides compute the same two keys and session id; each takes its own direction.
    """
    low, high = sorted((local, peer))
    nonces = (local_nonce + peer_nonce) if local == low else (peer_nonce + local_nonce)
    fingerprints = (
        (local_fingerprint + peer_fingerprint)
        if local == low
        else (peer_fingerprint + local_fingerprint)
    )
    info = (
        b"veil/net/1 frame keys" + low.to_bytes(2, "big") + high.to_bytes(2, "big") + fingerprints
    )
    material = HKDF(
        algorithm=hashes.SHA256(), length=2 * KEY_BYTES + 8, salt=federation_id, info=info
    ).derive(nonces)
    low_to_high = material[:KEY_BYTES]
    high_to_low = material[KEY_BYTES : 2 * KEY_BYTES]
    session_id = int.from_bytes(material[2 * KEY_BYTES :], "big")
    if local == low:
        return Session(session_id, send_key=low_to_high, recv_key=high_to_low)
    return Session(session_id, send_key=high_to_low, recv_key=low_to_high)


def random_session() -> tuple[Session, Session]:
    """Return matching sessions ``(a's view, b's view)`` with fresh random keys (in-memory pairs)."""
    a_to_b = secrets.token_bytes(KEY_BYTES)
    b_to_a = secrets.token_bytes(KEY_BYTES)
    session_id = secrets.randbits(64)
    return Session(session_id, a_to_b, b_to_a), Session(session_id, b_to_a, a_to_b)
