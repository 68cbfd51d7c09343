"""Run one program as every party: in one process over memory, or as real processes over TLS.

A *program* is an ``async def program(rt, *args)`` that every party runs with its own
:class:`~veil.mpc.runtime.Runtime`; its return value is that party's result.

- :func:`run_local` runs the parties as tasks of one event loop over in-memory channels: fast, for
  tests and documentation examples.
- :func:`run_parties` starts one process per party on this machine, each with its own federation
  identity (key pair and certificate), connected by mutually authenticated TLS over loopback, and
  collects every party's result. A party that crashes is named in :class:`~veil.errors.PartyFailed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.errors import NetworkError, PartyFailed, VeilError
from veil.field import Field
from veil.mpc._engine import RuntimeStats
from veil.mpc.runtime import Runtime
from veil.net.broadcast import SigningKeys
from veil.net.channels import Channel, Timeouts, memory_mesh

__all__ = ["PartyResult", "Program", "run_local", "run_parties"]

#: An MPC program: called as ``program(rt, *args)`` at every party.
Program = Callable[..., Awaitable[Any]]


@dataclass
class PartyResult:
    """What one party process returned.

    Attributes
    ----------
    party : int
        The party number.
    value : Any
        The program's return value (JSON-compatible values and numpy arrays travel back).
    peak_rss_mb : float
        The process's peak resident memory, in MiB.
    stats : RuntimeStats
        The party's traffic counters at the end of the program.
    """

    party: int
    value: Any
    peak_rss_mb: float = 0.0
    stats: RuntimeStats = field(default_factory=RuntimeStats)


def run_local(
    program: Program,
    n_parties: int = 3,
    threshold: int | None = None,
    *,
    args: Sequence[Any] = (),
    field: Field | None = None,
    timeouts: Timeouts | None = None,
    security: str = "passive",
) -> list[Any]:
    """Run ``program`` as ``n_parties`` parties in this process and return their results in order.

    Parameters
    ----------
    program : async callable
        Called as ``await program(rt, *args)`` by each party.
    n_parties : int, default=3
    threshold : int, optional
        ``t``; default the largest with ``t < n/2``.
    args : sequence
        Extra positional arguments for the program (the same at every party).
    field, timeouts
        Passed to each :class:`Runtime`.
    security : {"passive", "active"}, default="passive"
        The protocol suite; for ``"active"`` the parties get fresh signing keys for the run.

    Raises
    ------
    PartyFailed
        A party's program raised; names the first party that failed, with its error as the cause.
    """
    return asyncio.run(
        gather_local(
            program,
            n_parties,
            threshold,
            args=args,
            field=field,
            timeouts=timeouts,
            security=security,
        )
    )


async def gather_local(
    program: Program,
    n_parties: int = 3,
    threshold: int | None = None,
    *,
    args: Sequence[Any] = (),
    field: Field | None = None,
    timeouts: Timeouts | None = None,
    security: str = "passive",
) -> list[Any]:
    """Run the parties on the running event loop (see :func:`run_local`)."""
    mesh = memory_mesh(n_parties, timeouts)
    failures: list[tuple[int, BaseException]] = []
    keys = SigningKeys.generate(n_parties) if security == "active" else None

    async def party(i: int) -> Any:
        try:
            async with Runtime(
                i,
                n_parties,
                threshold,
                mesh[i],
                field=field,
                timeouts=timeouts,
                security=security,
                signing=keys[i] if keys is not None else None,
            ) as rt:
                return await program(rt, *args)
        except BaseException as exc:
            failures.append((i, exc))
            await _close_all(mesh[i])  # peers fail fast, naming this party
            raise

    results = await asyncio.gather(*(party(i) for i in range(n_parties)), return_exceptions=True)
    if failures:
        raise _first_failure(failures)
    return list(results)


async def _close_all(channels: dict[int, Channel]) -> None:
    for channel in channels.values():
        await channel.aclose()


def _first_failure(failures: list[tuple[int, BaseException]]) -> PartyFailed:
    """Blame the first party whose error is not a consequence of another party's (a closed channel)."""
    primary = [f for f in failures if not isinstance(f[1], NetworkError)] or failures
    party, exc = primary[0]
    message = exc.message if isinstance(exc, VeilError) else f"{type(exc).__name__}: {exc}"
    error = PartyFailed(
        f"party {party} failed: {message}",
        party=party,
        hint="the parties that failed after it lost their channel to it",
    )
    error.__cause__ = exc
    return error


def run_parties(*args: Any, **kwargs: Any) -> list[PartyResult]:
    """Run a program as separate party processes over TLS (see :mod:`veil.mpc.processes`)."""
    from veil.mpc.processes import run_parties as _run

    results: list[PartyResult] = _run(*args, **kwargs)
    return results
