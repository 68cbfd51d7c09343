"""Measure the network layer: throughput of large messages and round-trip latency of small ones.

Two parties in two processes on loopback, over :func:`~veil.net.tls.connect_mesh` (TLS 1.3,
mutual authentication, authenticated frames): this process is party 0, a child process
(``python -m veil.net.bench FEDERATION``) is party 1. Also measures an in-memory pair in one
process, for reference. MB means 10**6 bytes.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from veil.errors import NetworkError
from veil.net.channels import Channel, Timeouts, memory_pair
from veil.net.federation import Federation, create_federation
from veil.net.tls import TlsChannel, connect_mesh, ssl_contexts

__all__ = ["run_net_bench"]

_TIMEOUTS = Timeouts(connect_seconds=60, recv_seconds=120, send_seconds=120, close_seconds=5)


async def _ping(channel: Channel, pings: int, size: int) -> list[float]:
    """Time ``pings`` round trips of ``size``-byte messages; return them in seconds."""
    payload = bytes(size)
    times = []
    for _ in range(pings):
        start = time.perf_counter()
        await channel.send("ping", payload)
        await channel.recv("pong")
        times.append(time.perf_counter() - start)
    return times


async def _echo(channel: Channel, pings: int) -> None:
    for _ in range(pings):
        await channel.send("pong", await channel.recv("ping"))


async def _stream(channel: Channel, payload: memoryview, count: int) -> float:
    """Send ``count`` messages and wait for the peer's receipt; return the elapsed seconds."""
    start = time.perf_counter()
    for _ in range(count):
        await channel.send("data", payload)
    await channel.recv("done")
    return time.perf_counter() - start


async def _sink(channel: Channel, count: int) -> None:
    for _ in range(count):
        await channel.recv_view("data")
    await channel.send("done", b"")


async def _exchange(channel: Channel, payload: memoryview, count: int) -> float:
    """Both sides send ``count`` messages, then receive ``count``; return elapsed seconds."""
    start = time.perf_counter()
    for _ in range(count):
        await channel.send("swap", payload)
    for _ in range(count):
        await channel.recv_view("swap")
    await channel.send("done", b"")
    await channel.recv("done")
    return time.perf_counter() - start


async def _serve(federation_path: str) -> None:
    """Party 1: obey party 0's commands until told to stop."""
    federation = Federation.load(federation_path)
    channel = (await connect_mesh(federation, 1, timeouts=_TIMEOUTS))[0]
    try:
        while True:
            verb, *args = (await channel.recv("cmd", timeout_seconds=600)).decode().split()
            if verb == "stop":
                return
            if verb == "echo":
                await _echo(channel, int(args[0]))
            elif verb == "sink":
                await _sink(channel, int(args[0]))
            elif verb == "swap":
                await _exchange(channel, memoryview(bytes(int(args[1]))), int(args[0]))
    finally:
        await channel.aclose()


async def _raw_serve(federation_path: str) -> None:
    """Party 1 of the baseline: plain asyncio TLS streams, no framing (echo and sink)."""
    federation = Federation.load(federation_path)
    me = federation.party(1)
    assert me.key is not None
    server_context, _ = ssl_contexts(federation, me, me.key)
    finished = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            command = await reader.readexactly(17)
            verb = command[:1]
            count = int.from_bytes(command[1:9], "big")
            size = int.from_bytes(command[9:17], "big")
            if verb == b"E":
                for _ in range(count):
                    writer.write(await reader.readexactly(size))
            elif verb == b"S":
                remaining = count * size
                while remaining:
                    remaining -= len(await reader.read(min(remaining, 1 << 20)))
                writer.write(b"k")
                await writer.drain()
            else:
                writer.close()
                finished.set()
                return

    server = await asyncio.start_server(handle, me.host, me.port, ssl=server_context, limit=1 << 20)
    async with server:
        await finished.wait()


async def _raw_drive(
    federation: Federation,
    *,
    message_bytes: int,
    messages: int,
    pings: int,
    repeats: int,
    small_bytes: int,
) -> dict[str, Any]:
    """Party 0 of the baseline: the same measurements over plain asyncio TLS streams."""
    me, peer = federation.party(0), federation.party(1)
    assert me.key is not None
    _, client_context = ssl_contexts(federation, me, me.key)
    deadline = time.monotonic() + 60
    while True:
        try:
            reader, writer = await asyncio.open_connection(
                peer.host, peer.port, ssl=client_context, limit=1 << 20
            )
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)

    def command(verb: bytes, count: int, size: int) -> bytes:
        return verb + count.to_bytes(8, "big") + size.to_bytes(8, "big")

    payload = memoryview(os.urandom(message_bytes))
    small = bytes(small_bytes)
    stream, rtts = [], []
    for _ in range(repeats):
        writer.write(command(b"S", messages, message_bytes))
        start = time.perf_counter()
        for _ in range(messages):
            writer.write(payload)
            await writer.drain()
        await reader.readexactly(1)
        stream.append(message_bytes * messages / (time.perf_counter() - start) / 1e6)
        writer.write(command(b"E", pings, small_bytes))
        times = []
        for _ in range(pings):
            start = time.perf_counter()
            writer.write(small)
            await reader.readexactly(small_bytes)
            times.append(time.perf_counter() - start)
        rtts.append(_median(times) * 1e6)
    writer.write(command(b"Q", 0, 0))
    await writer.drain()
    writer.close()
    return {
        "raw_tls_throughput_mb_s": round(_median(stream), 1),
        "raw_tls_round_trip_us": round(_median(rtts), 1),
    }


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


async def _drive(
    channel: TlsChannel,
    *,
    message_bytes: int,
    messages: int,
    pings: int,
    repeats: int,
    small_bytes: int,
) -> dict[str, Any]:
    payload = memoryview(os.urandom(message_bytes))
    stream, exchange, rtts = [], [], []
    await channel.send("cmd", f"echo {pings // 10}".encode())  # warm up
    await _ping(channel, pings // 10, small_bytes)
    for _ in range(repeats):
        await channel.send("cmd", f"sink {messages}".encode())
        stream.append(message_bytes * messages / await _stream(channel, payload, messages) / 1e6)
        await channel.send("cmd", f"swap {messages} {message_bytes}".encode())
        exchange.append(
            message_bytes * messages / await _exchange(channel, payload, messages) / 1e6
        )
        await channel.send("cmd", f"echo {pings}".encode())
        rtts.append(_median(await _ping(channel, pings, small_bytes)) * 1e6)
    await channel.send("cmd", b"stop")
    return {
        "throughput_mb_s": round(_median(stream), 1),
        "throughput_mb_s_runs": [round(x, 1) for x in stream],
        "exchange_mb_s": round(_median(exchange), 1),
        "exchange_mb_s_runs": [round(x, 1) for x in exchange],
        "round_trip_us": round(_median(rtts), 1),
        "round_trip_us_runs": [round(x, 1) for x in rtts],
    }


async def _memory_reference(pings: int, small_bytes: int, message_bytes: int) -> dict[str, float]:
    a, b = memory_pair(0, 1)
    echo = asyncio.create_task(_echo(b, pings))
    rtt = _median(await _ping(a, pings, small_bytes)) * 1e6
    await echo
    payload = memoryview(os.urandom(message_bytes))
    start = time.perf_counter()
    for _ in range(4):
        await a.send("data", payload)
        await b.recv("data")
    rate = 4 * message_bytes / (time.perf_counter() - start) / 1e6
    return {"memory_round_trip_us": round(rtt, 1), "memory_throughput_mb_s": round(rate, 1)}


def run_net_bench(
    *,
    message_bytes: int = 8 << 20,
    messages: int = 12,
    pings: int = 2000,
    repeats: int = 5,
    small_bytes: int = 32,
) -> dict[str, Any]:
    """Run the benchmark and return its figures (medians over ``repeats`` runs).

    Parameters
    ----------
    message_bytes : int, default=8 MiB
        Size of each large message, in bytes.
    messages : int, default=12
        Large messages per run and direction.
    pings : int, default=2000
        Round trips per run.
    repeats : int, default=5
        Runs; each figure is the median over runs (round trips: the median of per-run medians).
    small_bytes : int, default=32
        Payload of each ping, in bytes.

    Returns
    -------
    dict
        ``throughput_mb_s`` (one direction, 10**6 bytes/s), ``exchange_mb_s`` (both directions at
        once, per direction), ``round_trip_us`` (send + reply, microseconds), per-run lists, the
        TLS version and cipher; the same over plain asyncio TLS streams without veil's framing
        (``raw_tls_*``, the floor of asyncio + ssl on this machine); and an in-memory pair.
    """
    settings = {
        "message_bytes": message_bytes,
        "messages": messages,
        "pings": pings,
        "repeats": repeats,
        "small_bytes": small_bytes,
    }
    with tempfile.TemporaryDirectory(prefix="veil-bench-net-") as folder:
        federation = create_federation(Path(folder), 2, base_port=0)

        async def veil() -> dict[str, Any]:
            channel = (await connect_mesh(federation, 0, timeouts=_TIMEOUTS))[1]
            assert isinstance(channel, TlsChannel)
            try:
                figures = await _drive(channel, **settings)
            finally:
                await channel.aclose()
            figures.update(tls_version=channel.tls_version, cipher=channel.cipher)
            return figures

        figures = _with_peer(federation, "veil", veil)
        figures.update(_with_peer(federation, "raw", lambda: _raw_drive(federation, **settings)))
    figures.update(asyncio.run(_memory_reference(pings, small_bytes, message_bytes)))
    return {
        "transport": "tls",
        "processes": 2,
        "message_bytes": message_bytes,
        "messages_per_run": messages,
        "small_message_bytes": small_bytes,
        "pings_per_run": pings,
        "repeats": repeats,
        "mb": "10**6 bytes",
        **figures,
    }


def _with_peer(
    federation: Federation, mode: str, drive: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
) -> dict[str, Any]:
    """Run party 1 (``mode``: veil or raw) in a child process while ``drive`` runs here."""
    peer = subprocess.Popen(
        [sys.executable, "-m", "veil.net.bench", str(federation.path), mode],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        figures = asyncio.run(drive())
        peer.wait(timeout=30)
        return figures
    except (OSError, NetworkError) as exc:
        peer.kill()
        _, err = peer.communicate(timeout=10)
        raise NetworkError(
            f"the benchmark's peer process ({mode}) failed: {exc}",
            hint="its stderr ends with: " + err.decode(errors="replace")[-500:],
        ) from exc
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
        if peer.stderr is not None:
            peer.stderr.close()


if __name__ == "__main__":
    asyncio.run((_serve if sys.argv[2] == "veil" else _raw_serve)(sys.argv[1]))
