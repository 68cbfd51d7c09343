"""Run a program as real party processes on this machine, over mutually authenticated TLS.

Each party is a fresh interpreter (``spawn``) with its own federation identity: it loads the
federation file, connects to its peers with its own key and certificate
(:func:`veil.net.tls.connect_mesh`), runs the program in a :class:`~veil.mpc.runtime.Runtime`, and
sends its result back through a pipe. The parent waits with a deadline and names any party that
crashed, failed or hung.

The program must be importable by the child processes: a module-level ``async def`` (a lambda or a
function defined inside another function cannot be sent to a new interpreter).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing as mp
import resource
import tempfile
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from veil.errors import NetworkError, PartyFailed
from veil.mpc._engine import RuntimeStats
from veil.mpc.launcher import PartyResult, Program
from veil.mpc.runtime import Runtime
from veil.net.channels import Timeouts

__all__ = ["run_parties", "tune_allocator"]

#: Seconds a party process may take beyond the program's own deadlines before it is killed.
DEFAULT_DEADLINE_SECONDS = 300.0


def run_parties(
    program: Program,
    n_parties: int = 3,
    threshold: int | None = None,
    *,
    args: Sequence[Any] = (),
    federation_dir: str | Path | None = None,
    timeouts: Timeouts | None = None,
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> list[PartyResult]:
    """Run ``program`` as ``n_parties`` processes over TLS on loopback; return results by party.

    Parameters
    ----------
    program : async callable
        A module-level ``async def program(rt, *args)``; its return value must be picklable.
    n_parties : int, default=3
    threshold : int, optional
        ``t``; default the federation's (a new federation takes the largest ``t < n/2``).
    args : sequence
        Extra arguments for the program, the same at every party (picklable).
    federation_dir : path, optional
        An existing federation folder (``veil federation init``) whose parties run on this
        machine. Default: a new one with fresh keys and free loopback ports, deleted afterwards.
    timeouts : Timeouts, optional
        Connect and receive deadlines of every party (default: the federation's).
    deadline_seconds : float, default=300
        The whole run's deadline; parties still running then are killed and named.

    Returns
    -------
    list of PartyResult
        One per party, in party order: value, peak memory (MiB) and traffic counters.

    Raises
    ------
    PartyFailed
        A party crashed, raised, or missed the deadline; names it (the first one whose failure is
        not merely the loss of another party), with its error message.
    """
    from veil.net.federation import Federation, create_federation

    with tempfile.TemporaryDirectory(prefix="veil-federation-") as scratch:
        if federation_dir is None:
            create_federation(scratch, n_parties, threshold=threshold, base_port=0)
            path = Path(scratch) / "federation.toml"
        else:
            path = Path(federation_dir)
            path = path / "federation.toml" if path.is_dir() else path
        federation = Federation.load(path)
        if federation.n_parties != n_parties:
            raise PartyFailed(
                f"the federation at {path} has {federation.n_parties} parties, not {n_parties}",
                path=str(path),
            )
        t = federation.threshold if threshold is None else threshold
        return _launch(program, n_parties, t, args, path, timeouts, deadline_seconds)


def _launch(
    program: Program,
    n_parties: int,
    threshold: int,
    args: Sequence[Any],
    path: Path,
    timeouts: Timeouts | None,
    deadline_seconds: float,
) -> list[PartyResult]:
    context = mp.get_context("spawn")
    pipes: dict[int, Connection] = {}
    processes: dict[int, Any] = {}
    for i in range(n_parties):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_party_main,
            args=(i, n_parties, threshold, str(path), program, tuple(args), timeouts, sender),
            name=f"veil-party-{i}",
            daemon=True,
        )
        process.start()
        sender.close()
        pipes[i], processes[i] = receiver, process
    reports: dict[int, tuple[Any, ...]] = {}
    deadline = time.monotonic() + deadline_seconds
    try:
        waiting = dict(pipes)
        while waiting:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for ready in wait(list(waiting.values()), timeout=remaining):
                assert isinstance(ready, Connection)
                party = next(i for i, c in waiting.items() if c is ready)
                try:
                    reports[party] = ready.recv()
                except EOFError:
                    reports[party] = ("crashed",)
                del waiting[party]
    finally:
        for i, process in processes.items():
            process.join(timeout=5 if i in reports else 0)
            if process.is_alive():
                process.kill()
                process.join()
        for pipe in pipes.values():
            pipe.close()
    return _collect(reports, processes, n_parties, deadline_seconds)


def _collect(
    reports: dict[int, tuple[Any, ...]],
    processes: dict[int, Any],
    n_parties: int,
    deadline_seconds: float,
) -> list[PartyResult]:
    crashed = [i for i in range(n_parties) if i in reports and reports[i][0] == "crashed"]
    if crashed:
        i = crashed[0]
        raise PartyFailed(
            f"party {i}'s process exited with code {processes[i].exitcode} without a result",
            party=i,
            hint="the other parties stopped when they lost their channel to it",
        )
    missing = [i for i in range(n_parties) if i not in reports]
    if missing:
        raise PartyFailed(
            f"parties {missing} did not finish within {deadline_seconds:g} s and were stopped",
            party=missing[0],
            hint="raise deadline_seconds for long programs, or look for a party waiting forever",
        )
    failed = [i for i in range(n_parties) if reports[i][0] == "error"]
    if failed:
        primary = [i for i in failed if not reports[i][2]] or failed
        i = primary[0]
        raise PartyFailed(
            f"party {i} failed: {reports[i][1]}",
            party=i,
            hint="rerun with the same arguments under run_local to debug in one process",
        )
    return [
        PartyResult(party=i, value=reports[i][1], peak_rss_mb=reports[i][2], stats=reports[i][3])
        for i in range(n_parties)
    ]


def _party_main(
    party_id: int,
    n_parties: int,
    threshold: int,
    federation_path: str,
    program: Program,
    args: tuple[Any, ...],
    timeouts: Timeouts | None,
    pipe: Connection,
) -> None:
    """Body of one party process: connect, run, report (never raises into multiprocessing)."""
    tune_allocator()
    try:
        value, stats = asyncio.run(
            _run_party(party_id, n_parties, threshold, federation_path, program, args, timeouts)
        )
    except BaseException as exc:  # reported to the parent, which names this party
        message = f"{type(exc).__name__}: {exc}"
        detail = "".join(traceback.format_exception(exc))
        pipe.send(("error", message, isinstance(exc, NetworkError), detail))
        pipe.close()
        return
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pipe.send(("ok", value, peak_mb, stats))
    pipe.close()


async def _run_party(
    party_id: int,
    n_parties: int,
    threshold: int,
    federation_path: str,
    program: Program,
    args: tuple[Any, ...],
    timeouts: Timeouts | None,
) -> tuple[Any, RuntimeStats]:
    from veil.net.federation import Federation
    from veil.net.tls import connect_mesh

    federation = Federation.load(federation_path)
    timeouts = timeouts if timeouts is not None else federation.timeouts()
    channels = await connect_mesh(federation, party_id, timeouts=timeouts)
    try:
        async with Runtime(party_id, n_parties, threshold, channels, timeouts=timeouts) as rt:
            value = await program(rt, *args)
        return value, rt.stats
    finally:
        for channel in channels.values():
            await channel.aclose()


def tune_allocator() -> None:
    """Keep large freed blocks in the process (glibc only): arrays of 10^6 elements are then
    recycled instead of being returned to the system and faulted in again, which otherwise costs
    more than the arithmetic on them. No effect on other C libraries."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)  # the largest value glibc accepts
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 64 << 20)
