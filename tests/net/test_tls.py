"""TLS on loopback: mutual authentication, pinning, deadlines, crashes and attacks inside TLS."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from net_helpers import FAST, close_all, connect_all, federation

from veil.errors import (
    ChannelClosed,
    ConfigError,
    FramingError,
    NetworkError,
    PeerAuthenticationError,
    PeerTimeout,
    PeerUnreachable,
)
from veil.net.certificates import (
    certificate_der,
    fingerprint_of,
    new_credentials,
    read_certificate,
    write_private,
)
from veil.net.federation import Federation
from veil.net.framing import MAC_BYTES
from veil.net.handshake import random_session
from veil.net.tls import TlsChannel, connect_mesh, ssl_contexts, translate_error
from veil.net.tls_channel import open_tls

pytestmark = pytest.mark.timeout(60)

PEER_SCRIPT = Path(__file__).with_name("net_peer.py")


def impersonate(
    fed: Federation, party_id: int, folder: Path, *, as_party: int | None = None
) -> Federation:
    """Return ``fed`` as an impostor of ``party_id`` sees it: its own key and certificate.

    With ``as_party``, the impostor uses that member's real credentials; otherwise fresh ones.
    """
    if as_party is not None:
        source = fed.party(as_party)
        cert_path, key_path = source.certificate, source.key
    else:
        key_pem, cert_pem = new_credentials("mallory")
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert_path.write_bytes(cert_pem)
        write_private(key_path, key_pem)
    fingerprint = fingerprint_of(certificate_der(read_certificate(cert_path)))
    parties = list(fed.parties)
    parties[party_id] = parties[party_id].model_copy(
        update={"certificate": cert_path, "key": key_path, "fingerprint": fingerprint}
    )
    return fed.model_copy(update={"parties": parties})


def test_every_pair_of_a_mesh_talks_over_mutually_authenticated_tls13(tmp_path: Path) -> None:
    """Three parties connect; every pair exchanges a message both ways over TLS 1.3."""

    async def scenario() -> None:
        meshes = await connect_all(federation(tmp_path, 3))
        try:
            assert [sorted(m) for m in meshes] == [[1, 2], [0, 2], [0, 1]]
            for i, mesh in enumerate(meshes):
                for j, channel in mesh.items():
                    assert isinstance(channel, TlsChannel)
                    assert channel.tls_version == "TLSv1.3"
                    await channel.send("hello", f"{i}->{j}".encode())
            for i, mesh in enumerate(meshes):
                for j, channel in mesh.items():
                    assert await channel.recv("hello") == f"{j}->{i}".encode()
        finally:
            await close_all(meshes)

    asyncio.run(scenario())


def test_a_connecting_impostor_is_refused_by_both_sides(tmp_path: Path) -> None:
    """A party-1 process with a certificate the federation does not pin gets nowhere."""
    fed = federation(tmp_path)
    mallory = impersonate(fed, 1, tmp_path / "mallory")
    quick = dataclasses.replace(FAST, connect_seconds=1.0)

    async def scenario() -> None:
        honest, impostor = await asyncio.gather(
            connect_mesh(fed, 0, timeouts=quick),
            connect_mesh(mallory, 1, timeouts=quick),
            return_exceptions=True,
        )
        assert isinstance(impostor, PeerAuthenticationError), impostor
        assert "party 0" in str(impostor)
        assert isinstance(honest, PeerAuthenticationError), honest
        assert "party 1 did not connect to party 0" in str(honest)
        assert "refused 1 connection" in str(honest)

    asyncio.run(scenario())


def test_a_listening_impostor_is_refused_by_the_connecting_party(tmp_path: Path) -> None:
    """Party 1 refuses a party 0 that presents an unpinned certificate, naming it and its address."""
    fed = federation(tmp_path)
    mallory = impersonate(fed, 0, tmp_path / "mallory")
    quick = dataclasses.replace(FAST, connect_seconds=1.0)

    async def scenario() -> None:
        impostor, honest = await asyncio.gather(
            connect_mesh(mallory, 0, timeouts=quick),
            connect_mesh(fed, 1, timeouts=quick),
            return_exceptions=True,
        )
        assert isinstance(honest, PeerAuthenticationError), honest
        assert f"party 0 at {fed.party(0).address} presented a certificate" in str(honest)
        assert honest.fields["party"] == 0
        assert isinstance(impostor, NetworkError)

    asyncio.run(scenario())


def test_a_federation_member_cannot_pose_as_another_party(tmp_path: Path) -> None:
    """Party 1's genuine certificate does not let a process act as party 2."""
    fed = federation(tmp_path, 3)
    mallory = impersonate(fed, 2, tmp_path / "mallory", as_party=1)
    quick = dataclasses.replace(FAST, connect_seconds=1.0)

    async def scenario() -> None:
        outcomes = await asyncio.gather(
            connect_mesh(fed, 0, timeouts=quick),
            connect_mesh(mallory, 2, timeouts=quick),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], PeerAuthenticationError), outcomes[0]
        assert "introduced itself as party 2" in str(outcomes[0])
        assert isinstance(outcomes[1], NetworkError)

    asyncio.run(scenario())


def test_connecting_to_nobody_fails_within_the_deadline_naming_party_and_address(
    tmp_path: Path,
) -> None:
    """With no listener, party 1 gives up after connect_seconds with PeerUnreachable."""
    fed = federation(tmp_path)

    async def scenario() -> None:
        with pytest.raises(PeerUnreachable) as info:
            await connect_mesh(fed, 1, timeouts=dataclasses.replace(FAST, connect_seconds=0.3))
        message = str(info.value)
        assert f"could not reach party 0 at {fed.party(0).address} within 0.3 s" in message
        assert "refused" in message.lower()
        assert info.value.fields["party"] == 0

    asyncio.run(scenario())


def test_a_party_that_never_connects_is_named_by_the_listener(tmp_path: Path) -> None:
    """Party 0 waits connect_seconds for party 1, then raises PeerUnreachable naming it."""
    fed = federation(tmp_path)

    async def scenario() -> None:
        with pytest.raises(PeerUnreachable, match="party 1 did not connect to party 0") as info:
            await connect_mesh(fed, 0, timeouts=dataclasses.replace(FAST, connect_seconds=0.3))
        assert info.value.fields["party"] == 1

    asyncio.run(scenario())


def test_a_listener_that_never_speaks_tls_is_given_up_on(tmp_path: Path) -> None:
    """A port that accepts TCP but never answers the TLS handshake ends in PeerUnreachable."""
    fed = federation(tmp_path)
    mute = socket.create_server(("127.0.0.1", fed.party(0).port))
    try:

        async def scenario() -> None:
            with pytest.raises(PeerUnreachable, match="could not reach party 0"):
                await connect_mesh(fed, 1, timeouts=dataclasses.replace(FAST, connect_seconds=0.5))

        asyncio.run(scenario())
    finally:
        mute.close()


def test_a_silent_peer_gives_a_timeout_naming_it_and_the_round(tmp_path: Path) -> None:
    """Connected but silent: recv raises PeerTimeout after the configured recv_seconds."""
    fed = federation(tmp_path)

    async def scenario() -> None:
        meshes = await connect_all(fed, dataclasses.replace(FAST, recv_seconds=0.1))
        try:
            with pytest.raises(PeerTimeout, match=r"party 1 sent nothing for 0.1 s .* 'mul#3'"):
                await meshes[0][1].recv("mul#3")
        finally:
            await close_all(meshes)

    asyncio.run(scenario())


def start_peer(fed: Federation, party_id: int) -> subprocess.Popen[bytes]:
    """Run net_peer.py for ``party_id`` in its own process."""
    assert fed.path is not None
    return subprocess.Popen(
        [sys.executable, str(PEER_SCRIPT), str(fed.path), str(party_id)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(peer: subprocess.Popen[bytes]) -> None:
    """Kill the peer process and release its pipe."""
    peer.kill()
    peer.wait()
    assert peer.stderr is not None
    peer.stderr.close()


def test_a_peer_process_that_crashes_mid_protocol_is_named_promptly(tmp_path: Path) -> None:
    """Party 1 is killed after round 1: party 0's next recv raises ChannelClosed, not a hang."""
    fed = federation(tmp_path)
    peer = start_peer(fed, 1)
    try:

        async def scenario() -> None:
            timeouts = dataclasses.replace(FAST, connect_seconds=30, recv_seconds=30)
            channels = await connect_mesh(fed, 0, timeouts=timeouts)
            assert await channels[1].recv("round-1") == b"ready"
            peer.kill()
            with pytest.raises(ChannelClosed, match=r"party 1 .* may have crashed") as info:
                await channels[1].recv("round-2")
            assert info.value.fields["party"] == 1
            assert info.value.fields["step"] == "round-2"

        asyncio.run(scenario())
    finally:
        stop(peer)


def test_a_frozen_peer_process_times_out_naming_it(tmp_path: Path) -> None:
    """Party 1 is stopped (SIGSTOP), so its socket stays open: recv ends in PeerTimeout."""
    fed = federation(tmp_path)
    peer = start_peer(fed, 1)
    try:

        async def scenario() -> None:
            timeouts = dataclasses.replace(FAST, connect_seconds=30, recv_seconds=0.3)
            channels = await connect_mesh(fed, 0, timeouts=timeouts)
            assert await channels[1].recv("round-1", timeout_seconds=30) == b"ready"
            peer.send_signal(signal.SIGSTOP)
            with pytest.raises(PeerTimeout, match=r"party 1 sent nothing for 0\.3 s"):
                await channels[1].recv("round-2")

        asyncio.run(scenario())
    finally:
        stop(peer)


def test_closing_a_channel_to_a_frozen_peer_gives_up_after_close_seconds(tmp_path: Path) -> None:
    """The graceful close has a deadline: with the peer stopped, aclose drops the connection."""
    fed = federation(tmp_path)
    peer = start_peer(fed, 1)
    try:

        async def scenario() -> None:
            timeouts = dataclasses.replace(FAST, connect_seconds=30, close_seconds=0.2)
            channels = await connect_mesh(fed, 0, timeouts=timeouts)
            assert await channels[1].recv("round-1", timeout_seconds=30) == b"ready"
            peer.send_signal(signal.SIGSTOP)
            await channels[1].aclose()
            assert channels[1].closed
            assert "without a clean goodbye" in str(channels[1].close_reason)

        asyncio.run(scenario())
    finally:
        stop(peer)


# -- a malicious but authenticated peer, writing raw bytes inside its TLS connection ----------


def attack(tmp_path: Path, forge) -> FramingError:
    """Connect 0 and 1; let party 1 write ``forge(channel)`` raw; return party 0's error."""

    async def scenario() -> FramingError:
        meshes = await connect_all(federation(tmp_path))
        try:
            mallory = meshes[1][0]
            assert isinstance(mallory, TlsChannel)
            mallory._link.write([forge(mallory)])  # bypasses the channel's own framing
            victim = meshes[0][1]
            with pytest.raises(FramingError) as info:  # noqa: PT012 (good frames come first)
                while True:
                    await victim.recv("r")
            assert victim.closed
            return info.value
        finally:
            await close_all(meshes)

    return asyncio.run(scenario())


def test_a_tampered_frame_inside_tls_is_rejected(tmp_path: Path) -> None:
    """A frame whose payload changed after its MAC was computed is refused."""

    def forge(ch: TlsChannel) -> bytes:
        frame = bytearray(ch._encoder.encode_bytes("r", b"pay me 100"))
        frame[-MAC_BYTES - 1] ^= 0x01  # the payload's last byte
        return bytes(frame)

    error = attack(tmp_path, forge)
    assert error.fields["problem"] == "tampered"
    assert error.fields["party"] == 1


def test_a_replayed_frame_inside_tls_is_rejected(tmp_path: Path) -> None:
    """Sending the same authentic frame twice is refused the second time."""

    def forge(ch: TlsChannel) -> bytes:
        frame = ch._encoder.encode_bytes("r", b"vote yes")
        return frame + frame

    assert attack(tmp_path, forge).fields["problem"] == "replayed"


def test_reordered_frames_inside_tls_are_rejected(tmp_path: Path) -> None:
    """Swapping two authentic frames is refused."""

    def forge(ch: TlsChannel) -> bytes:
        first = ch._encoder.encode_bytes("r", b"1")
        second = ch._encoder.encode_bytes("r", b"2")
        return second + first

    assert attack(tmp_path, forge).fields["problem"] == "reordered"


# -- configuration problems ---------------------------------------------------------------------


def test_a_party_without_a_key_is_told_where_to_set_it(tmp_path: Path) -> None:
    """No `key` entry and no key_path: ConfigError naming the field."""
    fed = federation(tmp_path)
    keyless = fed.model_copy(
        update={"parties": [p.model_copy(update={"key": None}) for p in fed.parties]}
    )

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="no private key for party 0") as info:
            await connect_mesh(keyless, 0)
        assert info.value.fields["field"] == "parties[0].key"

    asyncio.run(scenario())


def test_another_partys_key_is_refused_before_connecting(tmp_path: Path) -> None:
    """Party 0 started with party 1's key: ConfigError naming the key file."""
    fed = federation(tmp_path)
    other = fed.party(1).key

    async def scenario() -> None:
        with pytest.raises(ConfigError, match=r"cannot use the key .* with party 0's certificate"):
            await connect_mesh(fed, 0, key_path=other)

    asyncio.run(scenario())


def test_a_busy_listening_port_is_reported_with_a_fix(tmp_path: Path) -> None:
    """If party 0's port is taken, the error names the address and the field to change."""
    fed = federation(tmp_path)
    blocker = socket.create_server(("127.0.0.1", fed.party(0).port))
    try:

        async def scenario() -> None:
            with pytest.raises(NetworkError, match="cannot listen on") as info:
                await connect_mesh(fed, 0, timeouts=FAST)
            assert "parties[0].port" in str(info.value.hint)

        asyncio.run(scenario())
    finally:
        blocker.close()


def test_an_endless_connect_deadline_is_refused(tmp_path: Path) -> None:
    """connect_seconds=inf would allow a hang at start-up; it is a ConfigError."""
    fed = federation(tmp_path)

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="connect_seconds must be finite"):
            await connect_mesh(fed, 0, timeouts=dataclasses.replace(FAST, connect_seconds=math.inf))

    asyncio.run(scenario())


def test_cancelling_connect_mesh_stops_listening(tmp_path: Path) -> None:
    """A cancelled connect_mesh propagates the cancellation and releases its port."""
    fed = federation(tmp_path)

    async def scenario() -> None:
        task = asyncio.create_task(connect_mesh(fed, 0, timeouts=FAST))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    socket.create_server(("127.0.0.1", fed.party(0).port)).close()


def test_a_missing_third_party_is_named_by_everyone_waiting_for_it(tmp_path: Path) -> None:
    """Parties 0 and 1 come up, party 2 never does: both name party 2."""
    fed = federation(tmp_path, 3)
    quick = dataclasses.replace(FAST, connect_seconds=0.5)

    async def scenario() -> None:
        outcomes = await asyncio.gather(
            connect_mesh(fed, 0, timeouts=quick),
            connect_mesh(fed, 1, timeouts=quick),
            return_exceptions=True,
        )
        for outcome in outcomes:
            assert isinstance(outcome, PeerUnreachable), outcome
            assert outcome.fields["party"] == 2

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ConnectionRefusedError(111, "refused"), PeerUnreachable),
        (ConnectionResetError(104, "reset"), ChannelClosed),
        (TimeoutError(), PeerTimeout),
        (OSError(101, "unreachable"), NetworkError),
        (ssl.SSLCertVerificationError("verify failed"), PeerAuthenticationError),
    ],
)
def test_transport_errors_become_veil_errors_naming_party_and_address(
    raw: BaseException, expected: type
) -> None:
    """translate_error is the one boundary: every transport error names party and address."""
    error = translate_error(raw, party=2, address="10.0.0.2:47002", during="a recv", step="mul#4")
    assert type(error) is expected
    assert "party 2 at 10.0.0.2:47002" in str(error)
    assert error.fields["step"] == "mul#4"


def test_tls_record_tampering_is_reported_as_tampering() -> None:
    """An SSL 'bad record mac' means the traffic was altered: FramingError, problem tampered."""
    raw = ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac")
    raw.reason = "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    error = translate_error(raw, party=1, address="h:1", during="a recv")
    assert isinstance(error, FramingError)
    assert error.fields["problem"] == "tampered"


def test_a_bit_flipped_on_the_wire_is_caught_by_tls_and_reported_as_tampering(
    tmp_path: Path,
) -> None:
    """A man in the middle flips one ciphertext bit: the receiver's TLS layer refuses the record."""
    fed = federation(tmp_path)
    server_context, _ = ssl_contexts(fed, fed.party(0), fed.party(0).key)
    _, client_context = ssl_contexts(fed, fed.party(1), fed.party(1).key)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        alice, alice_wire = socket.socketpair()
        bob_wire, bob = socket.socketpair()
        for end in (alice, alice_wire, bob_wire, bob):
            end.setblocking(False)
        flip = asyncio.Event()

        async def forward(source: socket.socket, target: socket.socket, tamper: bool) -> None:
            while data := await loop.sock_recv(source, 1 << 16):
                if tamper and flip.is_set():  # the last byte of the record: its AEAD tag
                    data = data[:-1] + bytes([data[-1] ^ 0x80])
                    flip.clear()
                await loop.sock_sendall(target, data)

        relays = [
            asyncio.create_task(forward(alice_wire, bob_wire, tamper=True)),
            asyncio.create_task(forward(bob_wire, alice_wire, tamper=False)),
        ]
        link_a, link_b = await asyncio.gather(
            open_tls(alice, server_context, server_side=True),
            open_tls(bob, client_context, server_side=False),
        )
        session_a, session_b = random_session()
        sender = TlsChannel(0, 1, link=link_a, session=session_a, timeouts=FAST, address="a:1")
        receiver = TlsChannel(1, 0, link=link_b, session=session_b, timeouts=FAST, address="b:1")
        await sender.send("r", b"first")
        assert await receiver.recv("r") == b"first"
        flip.set()
        await sender.send("r", b"pay me 100")
        with pytest.raises(FramingError) as info:
            await receiver.recv("r")
        assert info.value.fields["problem"] == "tampered"
        assert info.value.fields["party"] == 0
        assert receiver.closed
        for relay in relays:
            relay.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        sender._abort()
        for end in (alice_wire, bob_wire):
            end.close()

    asyncio.run(scenario())
