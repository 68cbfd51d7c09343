"""Rounds: the operations a program issues concurrently travel together, one message per peer.

Protocols never touch channels. They submit an *exchange*: the words to send to each peer, the
peers to hear from, and a ``finish`` function that turns what arrived into the result. The engine
collects exchanges until the program is *quiescent* (every task of the program waits on a result
the runtime owes it), then runs one round: it sends each peer one message holding that peer's part
of every exchange, receives the messages it expects, calls each ``finish`` in submission order and
resolves the futures together.

Why every party cuts the same rounds
------------------------------------
A round is cut only at quiescence and at most one round is in flight, so a round holds exactly the
operations the program issues between two resolutions. The program sees results only when the
engine resolves a whole round at once, so what it issues next does not depend on when messages
happened to arrive. Each party therefore numbers its rounds identically; the round number and the
operation kinds form the channel tag (``"mul#17"``, ``"open+mul#18"``), and every message header
repeats the kind and length of each part, so parties running different programs fail with a
:class:`~veil.errors.ProtocolError` naming the round instead of computing on mismatched data.

Programs must therefore await only runtime operations (and tasks built from them) between secure
operations: awaiting a timer or foreign I/O in the middle of a computation makes the cut depend on
timing. The header check detects the usual consequences.
"""

from __future__ import annotations

import asyncio
import weakref
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.errors import ChannelClosed, ProtocolError, VeilError
from veil.field import FieldArray
from veil.mpc._tolerant import TolerantLinks
from veil.net.channels import Channel, Timeouts

__all__ = ["RoundEngine", "RuntimeStats"]

_MAGIC = 0x5E11  # "veil" round message, in the top 16 bits of the first header word
_LOW48 = (1 << 48) - 1
#: Loop iterations to wait for quiescence before cutting a round anyway (a busy-looping program).
_MAX_QUIESCENCE_HOPS = 10_000
#: Without access to the loop's ready queue, cut after this many idle iterations.
_IDLE_HOPS_FALLBACK = 16
#: Rounds whose messages are all smaller than this send and receive sequentially (lower latency).
_SMALL_ROUND_BYTES = 1 << 16


@dataclass
class RuntimeStats:
    """Traffic counters of one party, at the payload level (TLS framing not included).

    Attributes
    ----------
    rounds : int
        Rounds completed, setup and barriers included.
    messages_sent, messages_received : int
        Messages, at most one per peer per round.
    bytes_sent, bytes_received : int
        Payload bytes, headers included.
    """

    rounds: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def snapshot(self) -> RuntimeStats:
        """Return a copy, for measuring the difference over a stretch of a program."""
        return RuntimeStats(**vars(self))

    def __sub__(self, other: RuntimeStats) -> RuntimeStats:
        return RuntimeStats(**{k: v - getattr(other, k) for k, v in vars(self).items()})


def kind_code(kind: str) -> int:
    """Return the 16-bit code of an operation kind, as written in message headers."""
    return zlib.crc32(kind.encode()) & 0xFFFF


@dataclass(eq=False)
class _Exchange:
    kind: str
    outgoing: Mapping[int, FieldArray]
    recv_from: tuple[int, ...]
    finish: Callable[[dict[int, FieldArray]], Any]
    future: asyncio.Future[Any]
    code: int = field(init=False)

    def __post_init__(self) -> None:
        self.code = kind_code(self.kind)


class RoundEngine:
    """Batch exchanges into rounds and run them over one party's channels.

    With ``tolerant=True`` (active security) a peer whose message is missing, late or malformed
    does not stop the round: its parts are left out of ``received``, the reason is recorded in
    :attr:`faults` for the round, and a peer whose channel broke is in :attr:`dead` and is no
    longer sent to or waited for. The protocols decide what a missing part means.

    Tolerant rounds travel through :class:`~veil.mpc._tolerant.TolerantLinks` (reader tasks,
    heartbeats), which keep honest parties in step when a peer withholds a message from some.
    """

    def __init__(
        self,
        party_id: int,
        channels: Mapping[int, Channel],
        timeouts: Timeouts,
        *,
        tolerant: bool = False,
    ) -> None:
        self.party_id = party_id
        self.tolerant = tolerant
        #: Peers whose message of the current round was lost or malformed (tolerant mode).
        self.faults: dict[int, BaseException] = {}
        self.stats = RuntimeStats()
        self._channels = dict(channels)
        self._peers = sorted(self._channels)
        self._timeouts = timeouts
        self._pending: list[_Exchange] = []
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._closing = False
        self._links = (
            TolerantLinks(party_id, channels, timeouts, len(channels) + 1) if tolerant else None
        )

    # ----- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the round driver on the running loop."""
        if self._task is None:
            if self._links is not None:
                self._links.start()
            self._task = asyncio.get_running_loop().create_task(
                self._drive(), name=f"veil-rounds-party{self.party_id}"
            )

    async def aclose(self) -> None:
        """Stop the driver once every submitted exchange is done; idempotent."""
        self._closing = True
        self._poke()
        task, self._task = self._task, None
        if task is not None:
            await task
        if self._links is not None:
            self._links.stop()

    def abort(self) -> None:
        """Stop the driver now; exchanges not yet finished fail with :class:`ChannelClosed`."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if self._links is not None:
            self._links.stop()
        error = ChannelClosed(f"party {self.party_id}'s runtime was aborted", party=self.party_id)
        for op in self._pending:
            if not op.future.done():
                op.future.set_exception(error)
        self._pending = []

    @property
    def dead(self) -> dict[int, BaseException]:
        """Peers given up in tolerant mode (silent beyond their allowance, or channel broken)."""
        return self._links.dead if self._links is not None else {}

    @property
    def broken(self) -> BaseException | None:
        """The error that stopped the engine, if any."""
        return self._error

    # ----- submitting -------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        outgoing: Mapping[int, FieldArray],
        recv_from: Iterable[int],
        finish: Callable[[dict[int, FieldArray]], Any],
    ) -> asyncio.Future[Any]:
        """Queue an exchange for the next round and return the future of ``finish``'s result.

        ``outgoing[peer]`` is a 1-D ``uint64`` array for that peer; ``recv_from`` lists the peers
        whose part of this exchange must arrive before ``finish(received)`` runs.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._error is not None:
            future.set_exception(self._error)
            return future
        if self._closing:
            future.set_exception(
                ChannelClosed(
                    f"party {self.party_id}'s runtime is closed; {kind!r} was not run",
                    party=self.party_id,
                    step=kind,
                    hint="issue operations inside `async with runtime:`",
                )
            )
            return future
        self._pending.append(_Exchange(kind, outgoing, tuple(recv_from), finish, future))
        self._poke()
        return future

    def _poke(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # ----- the driver -------------------------------------------------------------------------

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake = loop.create_future()
                    await self._wake
                    self._wake = None
                    continue
                await _quiescence(loop).wait()
                batch, self._pending = self._pending, []
                await self._round(batch)
        except BaseException as exc:
            self._error = exc
            _fail(self._pending, exc)
            self._pending = []
            if isinstance(exc, VeilError):
                return  # the futures carry it to the program
            raise

    async def _round(self, batch: list[_Exchange]) -> None:
        number = self.stats.rounds
        tag = "+".join(dict.fromkeys(op.kind for op in batch)) + f"#{number}"
        payloads = {}
        for peer in self._peers:
            if peer in self.dead:
                continue
            parts = [op for op in batch if peer in op.outgoing]
            if parts:
                payloads[peer] = _pack(parts, peer)
        expected: dict[int, list[_Exchange]] = {}
        for op in batch:
            for peer in op.recv_from:
                expected.setdefault(peer, []).append(op)
        self.faults = {}
        try:
            if self._links is not None:
                for payload in payloads.values():
                    self.stats.messages_sent += 1
                    self.stats.bytes_sent += payload.nbytes
                raw, missing = await self._links.transfer(number, payloads, sorted(expected))
                self.faults.update(missing)
                for payload_bytes in raw.values():
                    self.stats.messages_received += 1
                    self.stats.bytes_received += len(payload_bytes)
            else:
                raw = await self._transfer(tag, payloads, sorted(expected))
            received: dict[_Exchange, dict[int, FieldArray]] = {op: {} for op in batch}
            for peer, message in raw.items():
                try:
                    unpacked = _unpack(message, expected[peer], peer, tag)
                except ProtocolError as exc:
                    if not self.tolerant:
                        raise
                    self.faults[peer] = exc
                    continue
                for op, part in unpacked:
                    received[op][peer] = part
            for peer in expected:
                if peer not in raw and peer not in self.faults:
                    self.faults[peer] = self.dead.get(peer) or ChannelClosed(
                        f"party {peer}'s channel is closed", party=peer, step=tag
                    )
        except BaseException as exc:
            _fail(batch, exc)
            raise
        self.stats.rounds += 1
        for op in batch:
            try:
                result = op.finish(received[op])
            except Exception as exc:  # a protocol's own check failed: only its caller sees it
                if not op.future.done():
                    op.future.set_exception(exc)
            else:
                if not op.future.done():
                    op.future.set_result(result)

    async def _transfer(
        self, tag: str, payloads: dict[int, np.ndarray[Any, Any]], sources: list[int]
    ) -> dict[int, bytes]:
        stats = self.stats
        timeout = self._timeouts.recv_seconds
        for payload in payloads.values():
            stats.messages_sent += 1
            stats.bytes_sent += payload.nbytes
        received: dict[int, bytes] = {}
        if sum(p.nbytes for p in payloads.values()) < _SMALL_ROUND_BYTES:
            for peer, payload in payloads.items():
                await self._channels[peer].send(tag, payload.data)
            for peer in sources:
                received[peer] = await self._channels[peer].recv(tag, timeout_seconds=timeout)
        else:  # large messages: send and receive at once, so flow control cannot deadlock

            async def fetch(peer: int) -> None:
                received[peer] = await self._channels[peer].recv(tag, timeout_seconds=timeout)

            tasks = [asyncio.ensure_future(fetch(peer)) for peer in sources]
            tasks += [
                asyncio.ensure_future(self._channels[peer].send(tag, payload.data))
                for peer, payload in payloads.items()
            ]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
        for payload_bytes in received.values():
            stats.messages_received += 1
            stats.bytes_received += len(payload_bytes)
        return received


def _fail(ops: list[_Exchange], exc: BaseException) -> None:
    for op in ops:
        if op.future.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            op.future.cancel()
        else:
            op.future.set_exception(exc)


def _pack(parts: list[_Exchange], peer: int) -> np.ndarray[Any, Any]:
    header = np.empty(1 + len(parts), dtype=np.uint64)
    header[0] = (_MAGIC << 48) | len(parts)
    chunks = [header]
    for i, op in enumerate(parts, start=1):
        words = op.outgoing[peer]
        header[i] = (op.code << 48) | words.size
        chunks.append(words.reshape(-1))
    return np.concatenate(chunks)


def _unpack(
    payload: bytes, ops: list[_Exchange], peer: int, tag: str
) -> list[tuple[_Exchange, FieldArray]]:
    def fail(problem: str) -> ProtocolError:
        return ProtocolError(
            f"party {peer}'s message for round {tag!r} {problem}",
            party=peer,
            step=tag,
            hint=(
                "all parties must run the same program, and a program must await only runtime "
                "operations between secure operations (not timers or other I/O)"
            ),
        )

    if len(payload) % 8 or len(payload) < 8:
        raise fail(f"has {len(payload)} bytes, not a whole number of 8-byte words")
    words = np.frombuffer(payload, dtype=np.uint64)
    first = int(words[0])
    if first >> 48 != _MAGIC:
        raise fail("does not start with a round header")
    count = first & _LOW48
    if count != len(ops) or words.size < 1 + count:
        raise fail(f"holds {count} parts where this party expected {len(ops)}")
    out = []
    offset = 1 + count
    for i, op in enumerate(ops, start=1):
        entry = int(words[i])
        size = entry & _LOW48
        if entry >> 48 != op.code:
            raise fail(f"holds another operation as part {i} where {op.kind!r} was expected")
        if offset + size > words.size:
            raise fail(f"is truncated in part {i} ({op.kind!r})")
        out.append((op, words[offset : offset + size]))
        offset += size
    if offset != words.size:
        raise fail(f"has {words.size - offset} words beyond its last part")
    return out


class _Quiescence:
    """Tell waiters when the event loop has nothing left to run but I/O: the program is blocked.

    Uses the ready queue of CPython's event loops when it exists (``loop._ready``: callbacks due in
    this iteration); on other loops it waits for a fixed number of idle iterations instead. One
    watcher serves every runtime sharing the loop (several parties in one process).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready: Any = getattr(loop, "_ready", None)
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        self._hops = 0

    def wait(self) -> asyncio.Future[None]:
        future = self._loop.create_future()
        self._waiters.append(future)
        if not self._scheduled:
            self._scheduled = True
            self._hops = 0
            self._loop.call_soon(self._check)
        return future

    def _check(self) -> None:
        self._hops += 1
        if self._ready is not None:
            busy = len(self._ready) > 0 and self._hops < _MAX_QUIESCENCE_HOPS
        else:
            busy = self._hops < _IDLE_HOPS_FALLBACK
        if busy:
            self._loop.call_soon(self._check)
            return
        self._scheduled = False
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


_WATCHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Quiescence] = (
    weakref.WeakKeyDictionary()
)


def _quiescence(loop: asyncio.AbstractEventLoop) -> _Quiescence:
    watcher = _WATCHERS.get(loop)
    if watcher is None:
        watcher = _WATCHERS[loop] = _Quiescence(loop)
    return watcher
