"""Protocols of the runtime, one suite per security mode.

A :class:`ProtocolSuite` turns the runtime's operations (input sharing, degree reduction, opening,
random sharings) into exchanges of share vectors. The runtime picks the suite named by its
``security`` argument from :data:`SUITES`; ``"passive"`` is :class:`~veil.mpc.protocols.passive.PassiveSuite`.
An actively secure suite registers itself under ``"active"`` with :func:`register_suite` and keeps
the same interface, so :class:`~veil.mpc.array.SecretArray` and user programs do not change.

Every method works on this party's share vectors (``uint64`` arrays of field elements) and returns
either the result or an awaitable of it; all parties call the same methods in the same order.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

from veil.field import Csprng, FieldArray

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["SUITES", "ProtocolSuite", "register_suite"]


class ProtocolSuite(abc.ABC):
    """The protocols of one security mode, bound to one party's runtime."""

    #: The ``security`` name this suite implements.
    name: ClassVar[str]

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    @classmethod
    @abc.abstractmethod
    def check_parameters(cls, n_parties: int, threshold: int) -> None:
        """Raise :class:`~veil.errors.ConfigError` unless the suite is secure for ``(n, t)``."""

    @abc.abstractmethod
    async def setup(self) -> None:
        """Run once when the runtime starts (key exchange); all parties together."""

    @abc.abstractmethod
    def input(self, values: FieldArray | None, sender: int) -> Awaitable[FieldArray]:
        """Share ``sender``'s ``values`` (``None`` at every other party); return this party's share."""

    @abc.abstractmethod
    def reshare(self, product: FieldArray) -> Awaitable[FieldArray]:
        """Turn this party's share of a degree-``2t`` sharing into a share of a degree-``t`` one."""

    @abc.abstractmethod
    def open(self, share: FieldArray, to: int | None) -> Awaitable[FieldArray | None]:
        """Reveal the shared value to all parties (``to=None``) or to party ``to`` only.

        Returns the field elements, or ``None`` at parties that do not learn them.
        """

    @abc.abstractmethod
    def random(self, shape: tuple[int, ...]) -> FieldArray | Awaitable[FieldArray]:
        """Return this party's share of uniformly random field elements nobody knows."""

    async def random_hidden_from(
        self,
        excluded: frozenset[int],
        shape: tuple[int, ...],
        draw: Callable[[Csprng], npt.NDArray[np.uint64]],
    ) -> FieldArray:
        """Share random integers drawn by ``draw`` that the parties in ``excluded`` never learn.

        ``draw(rng)`` returns an array of integers in ``[0, p)`` of shape ``shape`` (any
        distribution) from the CSPRNG ``rng``; parties outside ``excluded`` may learn the values. Secure comparisons
        combine such values with values one party inputs (see :mod:`veil.mpc.protocols.masks`).

        This default works in every suite: the first party outside ``excluded`` draws the values
        and shares them with :meth:`input` (one round). Suites that can do better override it.
        """
        dealer = min(set(range(self.rt.n_parties)) - set(excluded))
        values = draw(Csprng()).reshape(shape) if self.rt.party_id == dealer else None
        return await self.input(values, dealer)


#: Suites by ``security`` name.
SUITES: dict[str, type[ProtocolSuite]] = {}


def register_suite(suite: type[ProtocolSuite]) -> type[ProtocolSuite]:
    """Register ``suite`` under ``suite.name`` (usable as a class decorator)."""
    SUITES[suite.name] = suite
    return suite
