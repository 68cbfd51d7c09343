"""Keyed pseudo-random field elements: the same key and label give the same elements to every holder.

Two parties that share a 32-byte key (exchanged over their private channel when the runtime
starts) can derive identical uniform field elements without sending them. The runtime uses this for
pseudo-random secret sharing [CDI05]: the shares a dealer would send to the parties that hold a key
with it are derived from that key instead, so only the remaining shares travel.

Each derivation is AES-256 in counter mode under the key, with the initial counter block
``label (8 bytes) || purpose (4 bytes) || 0 (4 bytes)``: distinct (label, purpose) pairs never
share a keystream block for outputs under 2**36 bytes. Elements come from rejection sampling, so
they are exactly uniform; the stream is deterministic, so both holders reject the same words.

[CDI05] R. Cramer, I. Damgård, Y. Ishai, "Share conversion, pseudorandom secret-sharing and
applications to secure computation", TCC 2005.
"""

from __future__ import annotations

import os
import struct

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from veil.field import Field, FieldArray

__all__ = ["KEY_BYTES", "derive", "derive_key", "new_key"]

#: Length of a pairwise key in bytes (AES-256).
KEY_BYTES = 32


def new_key() -> bytes:
    """Return a fresh key from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


def derive(field: Field, key: bytes, label: int, purpose: int, count: int) -> FieldArray:
    """Return ``count`` uniform elements of ``field`` determined by ``(key, label, purpose)``.

    Parameters
    ----------
    key : bytes
        32 bytes known to exactly the parties that must derive the same elements.
    label : int
        The operation number, in ``[0, 2**64)``; never reused with the same key and purpose.
    purpose : int
        Separates several derivations within one operation, in ``[0, 2**32)``.
    count : int
        Number of elements.

    Returns
    -------
    FieldArray, shape (count,)
    """
    block = struct.pack(">QII", label, purpose, 0)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(block)).encryptor()
    bits = field.bits
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    bound = np.uint64(field.p)
    zeros = bytearray(8 * count)
    raw = bytearray(8 * count + 15)  # update_into wants room for one more block
    encryptor.update_into(zeros, raw)
    out = np.frombuffer(raw, dtype=np.uint64, count=count)
    out &= mask
    bad = np.flatnonzero(out >= bound)
    while bad.size:  # each pass keeps at least half of the redrawn words in expectation
        redo = np.frombuffer(encryptor.update(bytes(8 * bad.size)), dtype=np.uint64) & mask
        out[bad] = redo
        bad = bad[redo >= bound]
    return out


def derive_key(key: bytes, label: int, purpose: int) -> bytes:
    """Return a fresh 32-byte key determined by ``(key, label, purpose)``, for a seeded CSPRNG.

    The same counter-block layout as :func:`derive`; callers use purposes of their own so that the
    two never share a keystream block.
    """
    block = struct.pack(">QII", label, purpose, 0)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(block)).encryptor()
    return encryptor.update(bytes(KEY_BYTES))
