"""Run an application at every party, each with its own part of the data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from veil.mpc import Runtime, run_local


def run_each(
    function: Callable[..., Awaitable[Any]], data: Sequence[Any], **kwargs: Any
) -> list[Any]:
    """Call ``function(rt, data[rt.party_id], **kwargs)`` at ``len(data)`` parties; their results."""

    async def program(rt: Runtime) -> Any:
        return await function(rt, data[rt.party_id], **kwargs)

    return run_local(program, len(data))
