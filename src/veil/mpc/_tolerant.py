"""Tolerant rounds: a silent or lying peer costs time, never the other parties' synchrony.

Active security runs over *synchronous rounds*: a message that does not arrive in its round is
treated as missing, and the protocols decide what that means (complain, recompute, or name the
sender). Timeouts alone would break synchrony: when a corrupt party withholds its message from
one honest party P only, P waits a full timeout ``B`` and sends its next message ``B`` late, so
another honest party, waiting ``B`` for P, would wrongly give P up — and relative timeouts cannot
fix that (P's own wait for the silent party is just as long).

This module keeps honest parties in step without a common clock:

- every peer has a *reader* task that receives frames as they come (no per-round receive, so a
  deadline never breaks a channel) into an inbox by round number;
- a party that is still waiting for a round's messages sends every peer a small *heartbeat*
  (``round``, ``level``) every ``B / 4``: "I am alive, waiting for someone";
- a party waits ``B`` for a silent peer, and ``(1 + level) * B`` for a peer whose heartbeat has
  ``level``; it heartbeats with ``1 +`` the highest level among the peers it is waiting for.

So the victim of a withheld message (waiting ``B`` on a silent peer) heartbeats at level 1, and
everyone waits up to ``2B`` for it; a chain of waiting parties is at most ``n`` long, so levels are
capped at ``n`` and a corrupt party that heartbeats without sending can stall a round by at most
``(n + 1) B``. A peer given up in a round is *dead*: never waited for again (its later messages
are ignored). The model's assumption is that honest computation and transfer between two rounds
take less than ``B`` (``Timeouts.recv_seconds``).

Frames (one tag, :data:`TAG`): ``[kind, round, data...]`` as ``uint64`` words, ``kind`` 0 for a
round message and 1 for a heartbeat (``data = [level]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from veil.errors import NetworkError, PeerTimeout
from veil.net.channels import Channel, Timeouts

__all__ = ["TAG", "TolerantLinks"]

#: The channel tag of every tolerant frame.
TAG = "veil-tolerant"
_ROUND, _BEAT = 0, 1


class TolerantLinks:
    """One party's links to its peers in tolerant mode: readers, inbox, heartbeats."""

    def __init__(
        self, party_id: int, channels: Mapping[int, Channel], timeouts: Timeouts, n_parties: int
    ) -> None:
        self.party_id = party_id
        self._channels = dict(channels)
        self._budget = timeouts.recv_seconds
        self._max_level = n_parties
        #: Peers given up (channel broken, or silent beyond their allowance), with the reason.
        self.dead: dict[int, BaseException] = {}
        self._inbox: dict[int, dict[int, bytes]] = {peer: {} for peer in self._channels}
        self._beats: dict[int, tuple[int, int]] = {}
        self._event = asyncio.Event()
        self._readers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start one reader task per peer."""
        loop = asyncio.get_running_loop()
        self._readers = [
            loop.create_task(self._read(peer), name=f"veil-reader-{self.party_id}-{peer}")
            for peer in self._channels
        ]

    def stop(self) -> None:
        """Stop the readers now (the channels are closed by their owner)."""
        for task in self._readers:
            task.cancel()
        self._readers = []

    def _notify(self) -> None:
        self._event.set()

    async def _read(self, peer: int) -> None:
        channel = self._channels[peer]
        try:
            while True:
                data = await channel.recv(TAG, timeout_seconds=math.inf)
                if len(data) < 16 or len(data) % 8:
                    continue  # malformed: as if nothing came
                kind, number = struct.unpack_from("<QQ", data, 0)
                if kind == _ROUND:
                    self._inbox[peer][number] = data[16:]
                elif kind == _BEAT and len(data) == 24:
                    (level,) = struct.unpack_from("<Q", data, 16)
                    self._beats[peer] = (number, min(int(level), self._max_level))
                self._notify()
        except NetworkError as exc:
            self.dead.setdefault(peer, exc)
            self._notify()

    def _level(self, peer: int, number: int) -> int:
        beat = self._beats.get(peer)
        if beat is None or beat[0] > number:
            return 0
        return beat[1]

    async def _send(self, peer: int, frame: bytes | memoryview) -> None:
        if peer in self.dead:
            return
        try:
            await self._channels[peer].send(TAG, frame)
        except NetworkError as exc:
            self.dead.setdefault(peer, exc)

    async def transfer(
        self, number: int, payloads: Mapping[int, np.ndarray[Any, Any]], sources: Sequence[int]
    ) -> tuple[dict[int, bytes], dict[int, BaseException]]:
        """Send round ``number``'s messages and collect the sources' (see the module docstring).

        Returns what arrived and, for every source that did not deliver, why.
        """
        header = np.array([_ROUND, number], dtype=np.uint64)
        await asyncio.gather(
            *(
                self._send(peer, np.concatenate([header, payload]).data)
                for peer, payload in payloads.items()
            )
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_beat = start + self._budget / 4
        pending = list(sources)
        received: dict[int, bytes] = {}
        missing: dict[int, BaseException] = {}
        while True:
            self._event.clear()  # before looking: a frame arriving later sets it again
            for peer in list(pending):
                inbox = self._inbox[peer]
                if number in inbox:
                    received[peer] = inbox.pop(number)
                    pending.remove(peer)
                elif peer in self.dead:
                    missing[peer] = self.dead[peer]
                    pending.remove(peer)
            for inbox in self._inbox.values():  # drop what is left of earlier rounds
                for old in [k for k in inbox if k < number]:
                    del inbox[old]
            if not pending:
                return received, missing
            now = loop.time()
            levels = {peer: self._level(peer, number) for peer in pending}
            for peer in list(pending):
                allowance = self._budget * (1 + levels[peer])
                if now >= start + allowance:
                    error = PeerTimeout(
                        f"party {peer} sent nothing for round {number} within {allowance:g} s "
                        f"(heartbeat level {levels[peer]})",
                        party=peer,
                        step=f"round {number}",
                    )
                    self.dead.setdefault(peer, error)
                    missing[peer] = error
                    pending.remove(peer)
            if not pending:
                return received, missing
            if now >= next_beat:
                level = min(1 + max(levels[peer] for peer in pending), self._max_level)
                beat = struct.pack("<QQQ", _BEAT, number, level)
                await asyncio.gather(*(self._send(peer, beat) for peer in self._channels))
                next_beat = now + self._budget / 4
            wake = min(next_beat, *(start + self._budget * (1 + levels[p]) for p in pending))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=max(0.0, wake - loop.time()))
