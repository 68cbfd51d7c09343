"""Federations: who the parties are, where they listen, which certificate each must present.

A federation file (TOML) is shared by all parties; only the ``key`` entries are local (each party
points at its own private key, and may leave the others out)::

    version = 1
    name = "veil"
    threshold = 1                       # t: at most t corrupt parties, 2t < n

    [session]                           # local policy; may differ between parties
    connect_seconds = 20.0
    recv_seconds = 60.0
    send_seconds = 60.0
    close_seconds = 5.0
    max_frame_bytes = 268435456

    [[parties]]
    id = 0                              # 0, 1, ..., n-1 in order
    name = "party-0"
    host = "127.0.0.1"
    port = 47000
    certificate = "party-0/cert.pem"    # relative to this file's folder
    fingerprint = "sha256:…"            # SHA-256 of the certificate's DER bytes (the pin)
    key = "party-0/key.pem"             # this party's private key; optional for the others

:func:`create_federation` (``veil federation init``) writes such a folder; :meth:`Federation.load`
reads and checks one, with errors that name the file and the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veil.errors import ConfigError
from veil.net.certificates import (
    certificate_der,
    fingerprint_of,
    new_credentials,
    read_certificate,
    write_private,
)
from veil.net.channels import Timeouts
from veil.net.framing import DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT, MIN_FRAME_BYTES

__all__ = ["FEDERATION_FILE", "Federation", "Party", "SessionSettings", "create_federation"]

#: Name of the federation file that :func:`create_federation` writes.
FEDERATION_FILE = "federation.toml"


class Party(BaseModel):
    """One party of a federation.

    Attributes
    ----------
    id : int
        Party number, ``0..n-1``; its Shamir evaluation point is ``id + 1``.
    name : str
        A readable name.
    host, port : str, int
        Where the party listens for parties with higher ids.
    certificate : Path
        Its certificate (absolute after loading).
    fingerprint : str
        ``"sha256:<hex>"`` of the certificate's DER bytes: the pin every peer checks.
    key : Path or None
        Its private key, when this copy of the file belongs to that party.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=0, le=65535)
    name: str = Field(min_length=1)
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    certificate: Path
    fingerprint: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    key: Path | None = None

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def fingerprint_bytes(self) -> bytes:
        """The pinned SHA-256 digest as 32 bytes."""
        return bytes.fromhex(self.fingerprint.removeprefix("sha256:"))


class SessionSettings(BaseModel):
    """Deadlines (seconds) and the frame size cap (bytes) for sessions of this federation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect_seconds: float = Field(default=20.0, gt=0)
    recv_seconds: float = Field(default=60.0, gt=0)
    send_seconds: float = Field(default=60.0, gt=0)
    close_seconds: float = Field(default=5.0, ge=0)
    max_frame_bytes: int = Field(
        default=DEFAULT_MAX_FRAME_BYTES, ge=MIN_FRAME_BYTES, le=MAX_FRAME_BYTES_LIMIT
    )


class Federation(BaseModel):
    """A fixed set of parties, their addresses and pinned certificates, and the threshold.

    Load one with :meth:`load`; create one with :func:`create_federation`.

    Attributes
    ----------
    threshold : int
        ``t``, the most corrupt parties tolerated; ``0 <= t`` and ``2t < n``.
    parties : list of Party
        Ordered by id, ``0..n-1``.
    session : SessionSettings
        Timeouts and frame size cap.
    path : Path or None
        The file it was loaded from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    name: str = Field(default="veil", min_length=1)
    threshold: int = Field(ge=0)
    session: SessionSettings = SessionSettings()
    parties: list[Party] = Field(min_length=2)
    path: Path | None = Field(default=None, exclude=True)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Federation:
        """Read, validate and return the federation in ``path``.

        Relative certificate and key paths are resolved against the file's folder. Checks: the
        schema (types, ranges, no unknown keys), ids ``0..n-1`` in order, distinct names and
        addresses, ``2 * threshold < n``, and that every certificate exists, is valid now and
        matches its fingerprint.

        Raises
        ------
        ConfigError
            Naming the file (``path``) and the field (for example ``parties[1].port``).
        """
        file = Path(path).expanduser().resolve()
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"the federation file {file} is not UTF-8 text (byte {exc.start} cannot be decoded)",
                path=str(file),
                hint="TOML files must be UTF-8: save it as UTF-8",
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"cannot read the federation file {file}: {exc.strerror or exc}",
                path=str(file),
                hint="create one with `veil federation init --parties N --dir DIR`",
            ) from exc
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{file} is not valid TOML: {exc}", path=str(file), hint="fix the syntax there"
            ) from exc
        federation = cls.from_dict(raw, path=file)
        federation.check_certificates()
        return federation

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, path: Path | None = None) -> Federation:
        """Validate a parsed federation document (paths relative to ``path``'s folder)."""
        where = str(path) if path is not None else "the federation"
        if "path" in raw:
            raise ConfigError(
                f"{where}: field path: unknown field (the file's location is not written in it)",
                path=str(path) if path is not None else None,
                field="path",
                hint="remove the `path` entry",
            )
        try:
            federation = cls.model_validate({**raw, "path": path})
        except ValidationError as exc:
            error = exc.errors()[0]
            field = _field_name(error["loc"])
            more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
            received = "" if error["type"] == "missing" else f"; got {error['input']!r}"
            raise ConfigError(
                f"{where}: field {field}: {error['msg']}{received}{more}",
                path=str(path) if path is not None else None,
                field=field,
                hint="see docs/network.md for the federation file format",
            ) from exc
        if path is not None:
            base = path.parent
            parties = [
                party.model_copy(
                    update={
                        "certificate": base / party.certificate,
                        "key": None if party.key is None else base / party.key,
                    }
                )
                for party in federation.parties
            ]
            federation = federation.model_copy(update={"parties": parties})
        federation._check_structure(where)
        return federation

    def _check_structure(self, where: str) -> None:
        n = len(self.parties)
        for index, party in enumerate(self.parties):
            if party.id != index:
                raise self._error(
                    where,
                    f"parties[{index}].id",
                    f"parties must be listed with ids 0..{n - 1} in order; entry {index} has "
                    f"id {party.id}",
                )
        seen_names: dict[str, int] = {}
        seen_addresses: dict[tuple[str, int], int] = {}
        for party in self.parties:
            if party.name in seen_names:
                raise self._error(
                    where,
                    f"parties[{party.id}].name",
                    f"parties {seen_names[party.name]} and {party.id} are both named {party.name!r}",
                )
            if (party.host, party.port) in seen_addresses:
                raise self._error(
                    where,
                    f"parties[{party.id}].port",
                    f"parties {seen_addresses[party.host, party.port]} and {party.id} both "
                    f"listen on {party.address}",
                )
            seen_names[party.name] = party.id
            seen_addresses[party.host, party.port] = party.id
        if 2 * self.threshold >= n:
            raise self._error(
                where,
                "threshold",
                f"threshold must satisfy 2t < n (an honest majority); got t={self.threshold} "
                f"for n={n} parties, so t <= {(n - 1) // 2}",
            )

    def check_certificates(self) -> None:
        """Check that each certificate file exists, is valid now and matches its fingerprint."""
        now = dt.datetime.now(dt.UTC)
        where = str(self.path) if self.path is not None else "the federation"
        for party in self.parties:
            field = f"parties[{party.id}].certificate"
            certificate = read_certificate(party.certificate, field=field)
            actual = fingerprint_of(certificate_der(certificate))
            if actual != party.fingerprint:
                raise self._error(
                    where,
                    f"parties[{party.id}].fingerprint",
                    f"the certificate {party.certificate} of party {party.id} has fingerprint "
                    f"{actual}, not the {party.fingerprint} the file pins",
                    hint="the certificate was replaced: get the right one from the party, or "
                    "update the fingerprint only if you trust the new certificate",
                )
            if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
                raise self._error(
                    where,
                    field,
                    f"the certificate of party {party.id} is valid from "
                    f"{certificate.not_valid_before_utc:%Y-%m-%d} to "
                    f"{certificate.not_valid_after_utc:%Y-%m-%d}, not now",
                    hint="create fresh credentials with `veil federation init`",
                )

    def _error(self, where: str, field: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(
            f"{where}: field {field}: {message}",
            path=str(self.path) if self.path is not None else None,
            field=field,
            hint=hint or "see docs/network.md for the federation file format",
        )

    # -- use -------------------------------------------------------------------------------------

    @property
    def n_parties(self) -> int:
        """The number of parties ``n``."""
        return len(self.parties)

    def party(self, party_id: int) -> Party:
        """Return the party with this id, or raise :class:`~veil.errors.ConfigError`."""
        if not 0 <= party_id < len(self.parties):
            raise ConfigError(
                f"party id {party_id} is not in the federation (ids 0..{len(self.parties) - 1})",
                field="party_id",
                path=str(self.path) if self.path is not None else None,
            )
        return self.parties[party_id]

    @property
    def federation_id(self) -> bytes:
        """SHA-256 of the public description (name, threshold, ids, names, addresses, pins).

        Local settings (``key`` paths, ``[session]``) are left out, so every party's copy of the
        file has the same id; the session handshake refuses a peer with another id.
        """
        public = {
            "version": self.version,
            "name": self.name,
            "threshold": self.threshold,
            "parties": [[p.id, p.name, p.host, p.port, p.fingerprint] for p in self.parties],
        }
        return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).digest()

    def timeouts(self) -> Timeouts:
        """Return the session deadlines as :class:`~veil.net.channels.Timeouts`."""
        s = self.session
        return Timeouts(
            connect_seconds=s.connect_seconds,
            recv_seconds=s.recv_seconds,
            close_seconds=s.close_seconds,
            send_seconds=s.send_seconds,
        )

    def to_toml(self, *, relative_to: Path | None = None) -> str:
        """Return the federation as TOML (paths relative to ``relative_to`` where possible)."""

        def rel(p: Path) -> str:
            if relative_to is not None and p.is_relative_to(relative_to):
                return p.relative_to(relative_to).as_posix()
            return p.as_posix()

        lines = [
            f"# veil federation: {self.n_parties} parties, threshold {self.threshold}",
            "# Shared by all parties; `key` is local (each party keeps only its own).",
            "version = 1",
            f"name = {json.dumps(self.name)}",
            f"threshold = {self.threshold}",
            "",
            "[session]",
        ]
        for key, value in self.session.model_dump().items():
            lines.append(f"{key} = {value!r}")
        for p in self.parties:
            lines += [
                "",
                "[[parties]]",
                f"id = {p.id}",
                f"name = {json.dumps(p.name)}",
                f"host = {json.dumps(p.host)}",
                f"port = {p.port}",
                f"certificate = {json.dumps(rel(p.certificate))}",
                f'fingerprint = "{p.fingerprint}"',
            ]
            if p.key is not None:
                lines.append(f"key = {json.dumps(rel(p.key))}")
        return "\n".join(lines) + "\n"


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _free_ports(host: str, count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def create_federation(
    directory: str | Path,
    n_parties: int,
    *,
    threshold: int | None = None,
    host: str = "127.0.0.1",
    base_port: int = 47000,
    name: str = "veil",
    session: SessionSettings | None = None,
    force: bool = False,
) -> Federation:
    """Create credentials for ``n_parties`` parties and a federation file in ``directory``.

    Writes ``party-<i>/key.pem`` (mode 0600, in a 0700 folder), ``party-<i>/cert.pem`` and
    ``federation.toml``, then loads the file back (so what was written is checked).

    Parameters
    ----------
    directory : str or Path
        Folder to write into (created if needed).
    n_parties : int
        ``n >= 2``.
    threshold : int, optional
        ``t`` with ``2t < n``; default ``(n - 1) // 2``, the largest honest-majority threshold.
    host : str, default="127.0.0.1"
        Host of every party (edit the file for a real deployment).
    base_port : int, default=47000
        Party ``i`` listens on ``base_port + i``; ``0`` picks free ports now.
    name : str, default="veil"
        Federation name.
    session : SessionSettings, optional
        Deadlines and frame cap to write.
    force : bool, default=False
        Overwrite an existing federation in ``directory``.

    Raises
    ------
    ConfigError
        Bad arguments, or ``directory`` already holds a federation and ``force`` is false.
    """
    if n_parties < 2 or n_parties > 65536:
        raise ConfigError(
            f"a federation needs 2 to 65536 parties; got {n_parties}", field="n_parties"
        )
    t = (n_parties - 1) // 2 if threshold is None else threshold
    if base_port != 0 and not 1 <= base_port <= 65536 - n_parties:
        raise ConfigError(
            f"ports {base_port}..{base_port + n_parties - 1} are not all valid TCP ports",
            field="base_port",
            hint="pick a base port between 1024 and 65535 - n, or 0 for free ports",
        )
    root = Path(directory).expanduser().resolve()
    target = root / FEDERATION_FILE
    if target.exists() and not force:
        raise ConfigError(
            f"{target} already exists",
            path=str(target),
            hint="pass force=True (--force) to replace it and its keys, or choose another folder",
        )
    ports = (
        _free_ports(host, n_parties)
        if base_port == 0
        else [base_port + i for i in range(n_parties)]
    )
    root.mkdir(parents=True, exist_ok=True)
    parties = []
    for i in range(n_parties):
        folder = root / f"party-{i}"
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
        key_pem, cert_pem = new_credentials(f"{name} party {i}")
        write_private(folder / "key.pem", key_pem)
        (folder / "cert.pem").write_bytes(cert_pem)
        der = certificate_der(read_certificate(folder / "cert.pem"))
        parties.append(
            Party(
                id=i,
                name=f"party-{i}",
                host=host,
                port=ports[i],
                certificate=folder / "cert.pem",
                fingerprint=fingerprint_of(der),
                key=folder / "key.pem",
            )
        )
    federation = Federation.from_dict(
        {
            "name": name,
            "threshold": t,
            "session": (session or SessionSettings()).model_dump(),
            "parties": [p.model_dump() for p in parties],
        }
    )
    target.write_text(federation.to_toml(relative_to=root), encoding="utf-8")
    return Federation.load(target)
