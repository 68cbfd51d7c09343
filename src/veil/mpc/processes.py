"""Run a program as real party processes on this machine, over mutually authenticated TLS.

Each party is a fresh interpreter (``python -m veil.mpc.processes``) with its own federation identity: it loads the
federation file, connects to its peers with its own key and certificate
(:func:`veil.net.tls.connect_mesh`), runs the program in a :class:`~veil.mpc.runtime.Runtime`, and
writes its result back on its standard output. The parent waits with a deadline and names any party that
crashed, failed or hung.

The program must be importable by the child processes: a module-level ``async def`` (a lambda or a
function defined inside another function cannot be sent to a new interpreter).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from veil.errors import ConfigError, NetworkError, PartyFailed
from veil.mpc._engine import RuntimeStats
from veil.mpc.launcher import PartyResult, Program
from veil.mpc.runtime import Runtime
from veil.net.broadcast import SigningKeys
from veil.net.channels import Timeouts

__all__ = ["federation_signing_keys", "run_parties", "tune_allocator"]

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
    security: str = "passive",
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
    security : {"passive", "active"}, default="passive"
        The protocol suite. Active parties sign with their federation keys (the certificates are
        the PKI) for a run id drawn here.

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
        return _launch(program, n_parties, t, args, path, timeouts, deadline_seconds, security)


def _launch(
    program: Program,
    n_parties: int,
    threshold: int,
    args: Sequence[Any],
    path: Path,
    timeouts: Timeouts | None,
    deadline_seconds: float,
    security: str = "passive",
) -> list[PartyResult]:
    processes = []
    run_id = os.urandom(32)
    for i in range(n_parties):
        job = pickle.dumps(
            (i, n_parties, threshold, str(path), program, tuple(args), timeouts, security, run_id)
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "veil.mpc.processes"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        processes.append((process, job))
    outputs: dict[int, tuple[bytes, bytes]] = {}
    deadline = time.monotonic() + deadline_seconds

    def talk(i: int) -> None:
        process, job = processes[i]
        try:
            outputs[i] = process.communicate(job, timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()

    threads = [threading.Thread(target=talk, args=(i,), daemon=True) for i in range(n_parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reports: dict[int, tuple[Any, ...]] = {}
    for i, (process, _) in enumerate(processes):
        if i not in outputs:
            continue
        stdout, stderr = outputs[i]
        try:
            reports[i] = pickle.loads(stdout)
        except Exception:  # no result: the process died before reporting
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            reports[i] = ("crashed", process.returncode, " | ".join(tail))
    return _collect(reports, n_parties, deadline_seconds)


def _collect(
    reports: dict[int, tuple[Any, ...]], n_parties: int, deadline_seconds: float
) -> list[PartyResult]:
    crashed = [i for i in range(n_parties) if i in reports and reports[i][0] == "crashed"]
    if crashed:
        i = crashed[0]
        _, code, tail = reports[i]
        raise PartyFailed(
            f"party {i}'s process exited with code {code} without a result"
            + (f" ({tail})" if tail else ""),
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
            hint="rerun the program with run_local to debug it in one process",
        )
    return [
        PartyResult(party=i, value=reports[i][1], peak_rss_mb=reports[i][2], stats=reports[i][3])
        for i in range(n_parties)
    ]


def _party_main() -> None:
    """Body of one party process: read the job on stdin, run it, write the report on stdout."""
    tune_allocator()
    report_to = sys.stdout.buffer
    sys.stdout = sys.stderr  # the program's prints must not corrupt the report
    job = pickle.loads(sys.stdin.buffer.read())
    try:
        value, stats = asyncio.run(_run_party(*job))
    except BaseException as exc:  # reported to the parent, which names this party
        traceback.print_exception(exc)
        report: tuple[Any, ...] = (
            "error",
            f"{type(exc).__name__}: {exc}",
            isinstance(exc, NetworkError),
        )
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = ("ok", value, peak_mb, stats)
    report_to.write(pickle.dumps(report))
    report_to.flush()


async def _run_party(
    party_id: int,
    n_parties: int,
    threshold: int,
    federation_path: str,
    program: Program,
    args: tuple[Any, ...],
    timeouts: Timeouts | None,
    security: str = "passive",
    run_id: bytes = b"",
) -> tuple[Any, RuntimeStats]:
    from veil.net.federation import Federation
    from veil.net.tls import connect_mesh

    federation = Federation.load(federation_path)
    timeouts = timeouts if timeouts is not None else federation.timeouts()
    signing = (
        federation_signing_keys(federation, party_id, run_id) if security == "active" else None
    )
    channels = await connect_mesh(federation, party_id, timeouts=timeouts)
    try:
        async with Runtime(
            party_id,
            n_parties,
            threshold,
            channels,
            timeouts=timeouts,
            security=security,
            signing=signing,
        ) as rt:
            value = await program(rt, *args)
        return value, rt.stats
    finally:
        for channel in channels.values():
            await channel.aclose()


def federation_signing_keys(federation: Any, party_id: int, run_id: bytes) -> SigningKeys:
    """Return this party's signing keys for one run: its federation key and the certificates.

    The certificates pinned in the federation file are the PKI that active security's broadcast
    needs; ``run_id`` (fresh per run) keeps signatures from being replayed across runs.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from veil.net.certificates import read_certificate

    me = federation.party(party_id)
    if me.key is None:
        raise ConfigError(
            f"party {party_id} has no private key in the federation file",
            field=f"parties[{party_id}].key",
            hint="active security signs with the party's key: point `key` at its key.pem",
        )
    private = serialization.load_pem_private_key(me.key.read_bytes(), password=None)
    publics = []
    for party in federation.parties:
        public = read_certificate(party.certificate).public_key()
        if not isinstance(public, Ed25519PublicKey):
            raise ConfigError(
                f"party {party.id}'s certificate does not hold an Ed25519 key",
                field=f"parties[{party.id}].certificate",
                hint="create the federation with `veil federation init`",
            )
        publics.append(public)
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(
            f"party {party_id}'s key is not an Ed25519 key",
            field=f"parties[{party_id}].key",
        )
    return SigningKeys(party_id, private, tuple(publics), run_id)


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


if __name__ == "__main__":
    _party_main()
