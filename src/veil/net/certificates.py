"""Party credentials: an Ed25519 key pair and a self-signed X.509 certificate per party.

Each certificate is its own trust anchor: a federation lists every party's certificate and its
SHA-256 fingerprint, and TLS peers are *pinned* to exactly that certificate (see
:mod:`veil.net.tls`). Ed25519 signatures in TLS 1.3 [RFC 8446, RFC 8410] are supported by the
OpenSSL that Python's :mod:`ssl` links against (1.1.1 or newer).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from veil.errors import ConfigError

__all__ = [
    "CERTIFICATE_DAYS",
    "certificate_der",
    "fingerprint_of",
    "new_credentials",
    "read_certificate",
    "write_private",
]

#: Validity of generated certificates, in days.
CERTIFICATE_DAYS = 3 * 365


def new_credentials(common_name: str, *, days: int = CERTIFICATE_DAYS) -> tuple[bytes, bytes]:
    """Return ``(private_key_pem, certificate_pem)`` for a fresh Ed25519 identity.

    The certificate is self-signed, valid from five minutes ago for ``days`` days, with
    ``basicConstraints CA:FALSE`` (it can sign nothing but the TLS handshake).
    """
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def read_certificate(path: Path, *, field: str = "certificate") -> x509.Certificate:
    """Load a PEM certificate, raising :class:`~veil.errors.ConfigError` naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the certificate {path}: {exc.strerror or exc}",
            path=str(path),
            field=field,
            hint="check the path in the federation file (relative paths start at its folder)",
        ) from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not a PEM certificate: {exc}",
            path=str(path),
            field=field,
            hint="point the federation file at the party's cert.pem",
        ) from exc


def certificate_der(certificate: x509.Certificate) -> bytes:
    """Return the DER bytes of ``certificate`` (what TLS sends and fingerprints cover)."""
    return certificate.public_bytes(serialization.Encoding.DER)


def fingerprint_of(der: bytes) -> str:
    """Return ``"sha256:<64 hex digits>"`` for a DER certificate."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable and writable by the owner only (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
