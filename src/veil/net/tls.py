"""TLS channels between separate processes: TLS 1.3, mutual authentication, pinned certificates.

:func:`connect_mesh` connects one party to every other party of a federation: parties with lower
ids listen, parties with higher ids connect (retrying with back-off until
``Timeouts.connect_seconds``). Each connection then

1. runs a TLS 1.3 handshake in which **both** sides present their certificate; the trust store
   holds only the other parties' certificates, and the certificate presented must be exactly the
   one the federation pins for that party id (SHA-256 of its DER bytes), else
   :class:`~veil.errors.PeerAuthenticationError`;
2. exchanges hellos and derives per-direction frame keys (:mod:`veil.net.handshake`);
3. becomes a :class:`~veil.net.tls_channel.TlsChannel`: authenticated frames
   (:mod:`veil.net.framing`) over the TLS stream.

Transport errors are translated into veil errors by
:func:`~veil.net.tls_channel.translate_error`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import socket
import ssl
from pathlib import Path
from typing import Any

from veil.errors import (
    ConfigError,
    NetworkError,
    PeerAuthenticationError,
    PeerTimeout,
    PeerUnreachable,
)
from veil.net.channels import Channel, Timeouts
from veil.net.federation import Federation, Party
from veil.net.handshake import decode_hello, derive_session, encode_hello, new_nonce
from veil.net.tls_channel import TlsChannel, TlsLink, describe_os_error, open_tls, translate_error

__all__ = ["TlsChannel", "connect_mesh", "translate_error"]


def ssl_contexts(
    federation: Federation, me: Party, key_path: Path
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Build the server and client contexts: TLS 1.3 only, client certificates required."""
    trusted = "".join(
        p.certificate.read_text(encoding="ascii") for p in federation.parties if p.id != me.id
    )
    contexts = []
    for purpose in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS_CLIENT):
        context = ssl.SSLContext(purpose)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False  # identities are pinned certificates, not host names
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_cert_chain(me.certificate, key_path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot use the key {key_path} with party {me.id}'s certificate "
                f"{me.certificate}: {getattr(exc, 'reason', None) or exc}",
                path=str(key_path),
                field=f"parties[{me.id}].key",
                hint="point `key` (or key_path=) at this party's own key.pem",
            ) from exc
        context.load_verify_locations(cadata=trusted)
        if purpose == ssl.PROTOCOL_TLS_SERVER:
            context.num_tickets = 0  # no session resumption: every connection is a full handshake
        contexts.append(context)
    return contexts[0], contexts[1]


def _fingerprint(tls: ssl.SSLObject) -> bytes:
    der = tls.getpeercert(binary_form=True)
    return hashlib.sha256(der or b"").digest()


def _tune(sock: socket.socket) -> None:
    """Small messages leave at once (no Nagle delay); the socket never blocks the loop."""
    sock.setblocking(False)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _open_tcp(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """Connect a non-blocking TCP socket to ``host:port`` (each resolved address in turn)."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last: OSError = OSError(f"no address for {host}")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except BaseException as exc:
            sock.close()
            if not isinstance(exc, OSError):
                raise
            last = exc
            continue
        _tune(sock)
        return sock
    raise last


class _Mesh:
    """The shared settings of one party's connection attempts."""

    def __init__(
        self, federation: Federation, me: Party, timeouts: Timeouts, key_path: Path
    ) -> None:
        self.federation = federation
        self.federation_id = federation.federation_id
        self.me = me
        self.timeouts = timeouts
        self.max_frame_bytes = federation.session.max_frame_bytes
        self.server_context, self.client_context = ssl_contexts(federation, me, key_path)
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + timeouts.connect_seconds

    def remaining(self) -> float:
        return max(self.deadline - self.loop.time(), 0.001)

    async def open_session(self, link: TlsLink, peer: Party) -> TlsChannel:
        """Exchange hellos over an authenticated connection and return the channel."""
        nonce = new_nonce()
        during = "the session handshake"
        try:
            link.write([encode_hello(self.me.id, peer.id, self.federation_id, nonce)])
            async with asyncio.timeout_at(self.deadline):
                await link.drain()
                hello = await link.read_hello()
        except TimeoutError as exc:
            raise PeerTimeout(
                f"party {peer.id} at {peer.address} did not complete the session handshake "
                f"within {self.timeouts.connect_seconds:g} s",
                party=peer.id,
                address=peer.address,
            ) from exc
        except OSError as exc:
            raise translate_error(exc, party=peer.id, address=peer.address, during=during) from exc
        if hello is None:
            lost = link.lost
            if lost is not None and not isinstance(lost, ConnectionError):
                raise translate_error(
                    lost, party=peer.id, address=peer.address, during=during
                ) from lost
            # In TLS 1.3 the client finishes its handshake before the server checks the client's
            # certificate; a server that refuses it may close the connection without an alert.
            raise PeerAuthenticationError(
                f"party {peer.id} at {peer.address} closed the connection right after the TLS "
                f"handshake, before {during}: it most likely refused our certificate",
                party=peer.id,
                address=peer.address,
                hint="check that the peer's federation file pins our current certificate "
                "(or whether the peer was shutting down)",
            )
        peer_nonce = decode_hello(
            hello,
            expected_sender=peer.id,
            expected_receiver=self.me.id,
            federation_id=self.federation_id,
        )
        session = derive_session(
            local=self.me.id,
            peer=peer.id,
            local_nonce=nonce,
            peer_nonce=peer_nonce,
            federation_id=self.federation_id,
            local_fingerprint=self.me.fingerprint_bytes,
            peer_fingerprint=peer.fingerprint_bytes,
        )
        return TlsChannel(
            self.me.id,
            peer.id,
            link=link,
            session=session,
            timeouts=self.timeouts,
            address=peer.address,
            max_frame_bytes=self.max_frame_bytes,
        )

    async def dial(self, peer: Party) -> TlsChannel:
        """Connect to a lower-id ``peer``, retrying with back-off until the deadline."""
        attempts, delay = 0, 0.02
        last: BaseException | None = None
        while True:
            if self.loop.time() >= self.deadline:
                raise PeerUnreachable(
                    f"party {self.me.id} could not reach party {peer.id} at {peer.address} within "
                    f"{self.timeouts.connect_seconds:g} s ({attempts} attempts; last error: "
                    f"{describe_os_error(last)})",
                    party=peer.id,
                    address=peer.address,
                    hint=f"check that party {peer.id} is running and listening on {peer.address}",
                ) from last
            attempts += 1
            raw: socket.socket | None = None
            try:
                async with asyncio.timeout_at(self.deadline):
                    raw = await _open_tcp(self.loop, peer.host, peer.port)
                    link = await open_tls(raw, self.client_context, server_side=False)
            except ssl.SSLError as exc:
                if raw is not None:
                    raw.close()
                raise translate_error(
                    exc, party=peer.id, address=peer.address, during="the TLS handshake"
                ) from exc
            except (OSError, TimeoutError) as exc:  # refused / unreachable: try again
                if raw is not None:
                    raw.close()
                last = exc
                await asyncio.sleep(min(delay, max(self.deadline - self.loop.time(), 0)))
                delay = min(delay * 2, 0.5)
                continue
            except BaseException:
                if raw is not None:
                    raw.close()
                raise
            break
        try:
            if _fingerprint(link.tls) != peer.fingerprint_bytes:
                raise PeerAuthenticationError(
                    f"party {peer.id} at {peer.address} presented a certificate with fingerprint "
                    f"sha256:{_fingerprint(link.tls).hex()}, but the federation pins "
                    f"{peer.fingerprint}",
                    party=peer.id,
                    address=peer.address,
                    hint="another federation member answered at this address: check the ports",
                )
            return await self.open_session(link, peer)
        except BaseException:
            link.drop()
            raise


class _Listener:
    """Accept the parties with higher ids, each authenticated by its pinned certificate."""

    def __init__(self, mesh: _Mesh, expected: set[int]) -> None:
        self.mesh = mesh
        self.expected = expected
        self.channels: dict[int, TlsChannel] = {}
        self.rejections: list[str] = []
        self.fatal: NetworkError | None = None
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_fingerprint = {
            p.fingerprint_bytes: p for p in mesh.federation.parties if p.id != mesh.me.id
        }
        self._server: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        me = self.mesh.me
        try:
            infos = await self.mesh.loop.getaddrinfo(
                me.host, me.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, _, _, _, address = infos[0]
            server = socket.create_server(address, family=family, backlog=64)
            server.setblocking(False)
            self._server = server
        except OSError as exc:
            raise NetworkError(
                f"party {me.id} cannot listen on {me.address}: {exc.strerror or exc}",
                party=me.id,
                address=me.address,
                hint=f"another program may use port {me.port}: stop it, or change "
                f"parties[{me.id}].port in the federation file",
            ) from exc
        self._accepting = self.mesh.loop.create_task(self._accept_loop(server))

    async def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                raw, _ = await self.mesh.loop.sock_accept(server)
            except OSError as exc:
                self._reject(self.mesh.me.address, f"accepting failed ({describe_os_error(exc)})")
                await asyncio.sleep(0.01)
                continue
            _tune(raw)
            task = self.mesh.loop.create_task(self._handshake(raw))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _reject(self, source: str, why: str) -> None:
        self.rejections.append(f"{source}: {why}")

    async def _handshake(self, raw: socket.socket) -> None:
        mesh = self.mesh
        try:
            source = "{}:{}".format(*raw.getpeername()[:2])
        except OSError:
            source = "?:?"
        try:
            async with asyncio.timeout_at(mesh.deadline):
                link = await open_tls(raw, mesh.server_context, server_side=True)
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, ssl.SSLCertVerificationError):
                why = (
                    "its certificate is not pinned by the federation (OpenSSL: "
                    f"{getattr(exc, 'verify_message', None) or getattr(exc, 'reason', None)})"
                )
            else:
                why = f"TLS handshake failed ({getattr(exc, 'reason', None) or describe_os_error(exc)})"
            self._reject(source, why)
            raw.close()
            return
        except BaseException:
            raw.close()
            raise
        peer = self._by_fingerprint.get(_fingerprint(link.tls))
        if peer is None or peer.id not in self.expected or peer.id in self.channels:
            what = "unknown party" if peer is None else f"party {peer.id}"
            self._reject(source, f"{what} is not expected to connect to party {mesh.me.id} now")
            link.drop()
            return
        try:
            channel = await mesh.open_session(link, peer)
        except BaseException as exc:  # an authenticated member failed the session set-up: fail fast
            link.drop()
            if not isinstance(exc, Exception):
                raise
            error = translate_error(
                exc, party=peer.id, address=peer.address, during="the session handshake"
            )
            if error is not exc:
                error.__cause__ = exc
            self.fatal = self.fatal or error
            self._done.set()
            return
        self.channels[peer.id] = channel
        if set(self.channels) == self.expected:
            self._done.set()

    async def accept(self) -> dict[int, TlsChannel]:
        """Wait until every expected party connected, or raise naming the first missing one."""
        mesh = self.mesh
        try:
            async with asyncio.timeout_at(mesh.deadline):
                await self._done.wait()
        except TimeoutError as exc:
            missing = sorted(self.expected - set(self.channels))
            message = (
                f"part{'y' if len(missing) == 1 else 'ies'} {', '.join(map(str, missing))} did "
                f"not connect to party {mesh.me.id} at {mesh.me.address} within "
                f"{mesh.timeouts.connect_seconds:g} s"
            )
            if self.rejections:
                raise PeerAuthenticationError(
                    f"{message}; refused {len(self.rejections)} connection(s): "
                    + "; ".join(self.rejections[:3]),
                    party=missing[0],
                    address=mesh.me.address,
                    hint="a peer presented a certificate the federation does not pin: check that "
                    "every party uses the same federation file and its own key",
                ) from exc
            raise PeerUnreachable(
                message,
                party=missing[0],
                address=mesh.me.address,
                hint=f"start party {missing[0]}, and check that it can reach {mesh.me.address}",
            ) from exc
        if self.fatal is not None:
            raise self.fatal
        return dict(self.channels)

    async def close(self, *, keep: bool) -> None:
        """Stop listening; abort half-open connections (and the channels unless ``keep``)."""
        if self._accepting is not None:
            self._accepting.cancel()
            await asyncio.gather(self._accepting, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not keep:
            for channel in self.channels.values():
                channel._abort()


async def connect_mesh(
    federation: Federation,
    party_id: int,
    *,
    timeouts: Timeouts | None = None,
    key_path: str | Path | None = None,
) -> dict[int, Channel]:
    """Connect party ``party_id`` to every other party; return ``{peer_id: channel}``.

    Lower ids listen on their federation address, higher ids connect to them, all at once.

    Parameters
    ----------
    federation : Federation
        The parties, addresses and pinned certificates.
    party_id : int
        This party.
    timeouts : Timeouts, optional
        Deadlines; default: the federation's ``[session]`` settings.
    key_path : str or Path, optional
        This party's private key; default: its ``key`` entry in the federation file.

    Raises
    ------
    PeerUnreachable
        A peer could not be reached (or did not connect) within ``timeouts.connect_seconds``;
        names the party and address.
    PeerAuthenticationError
        A peer presented a certificate other than the one pinned for it, or refused ours.
    PeerTimeout
        A peer accepted the connection but did not finish the handshake in time.
    NetworkError
        This party cannot listen on its own address.
    ConfigError
        No usable private key.

    On any error, and on cancellation, every connection made so far is closed.
    """
    me = federation.party(party_id)
    key = Path(key_path) if key_path is not None else me.key
    if key is None:
        raise ConfigError(
            f"no private key for party {party_id}",
            field=f"parties[{party_id}].key",
            path=str(federation.path) if federation.path else None,
            hint="set `key` for this party in the federation file, or pass key_path=",
        )
    timeouts = timeouts or federation.timeouts()
    if not math.isfinite(timeouts.connect_seconds):
        raise ConfigError(
            "Timeouts.connect_seconds must be finite: start-up never waits forever",
            field="connect_seconds",
        )
    mesh = _Mesh(federation, me, timeouts, key)
    higher = {p.id for p in federation.parties if p.id > party_id}
    lower = [p for p in federation.parties if p.id < party_id]
    listener = _Listener(mesh, higher) if higher else None
    tasks: list[asyncio.Task[Any]] = []
    ok = False
    try:
        if listener is not None:
            await listener.start()
            tasks.append(asyncio.create_task(listener.accept()))
        tasks += [asyncio.create_task(mesh.dial(peer)) for peer in lower]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        channels: dict[int, Channel] = {}
        for task in tasks:
            result = task.result()
            if isinstance(result, dict):
                channels.update(result)
            else:
                channels[result.peer] = result
        ok = True
        return dict(sorted(channels.items()))
    finally:
        if not ok:
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, TlsChannel):
                    outcome._abort()
        if listener is not None:
            await listener.close(keep=ok)
