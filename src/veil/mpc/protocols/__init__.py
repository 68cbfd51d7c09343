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
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from veil.field import Csprng, FieldArray
from veil.mpc._kernels import multiply

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["SUITES", "ProtocolSuite", "register_suite"]


class ProtocolSuite(abc.ABC):
    """The protocols of one security mode, bound to one party's runtime."""

    #: The ``security`` name this suite implements.
    name: ClassVar[str]
    #: Whether the suite deals with missing or malformed peer messages itself (see
    #: :class:`~veil.mpc._engine.RoundEngine`); otherwise the first such message stops the run.
    tolerant: ClassVar[bool] = False
    #: Whether :meth:`reshare` may reduce any locally computed sum of products of shares (passive
    #: suites). Otherwise products go through :meth:`mul`, :meth:`matmul` and :meth:`vecdot`,
    #: which the suite checks, and protocols use those (see :mod:`veil.mpc.protocols.compare`).
    reduces_local_products: ClassVar[bool] = False

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

    # ----- hooks of SecretArray (defaults: plain shares) ----------------------------------------

    def apply(
        self, fn: Callable[..., Any], args: Sequence[Any], secret: Sequence[bool]
    ) -> FieldArray:
        """Apply a local operation to shares: ``fn`` is affine in the operands flagged ``secret``.

        Additions, subtractions, products by public values, sums and reshapes all are. The default
        applies ``fn`` to the shares; a suite whose shares carry more (active mode's tags) applies
        it to that too.
        """
        result: FieldArray = fn(*args)
        return result

    def mul(self, a: FieldArray, b: FieldArray) -> Awaitable[FieldArray]:
        """Return the share of the elementwise product of two secrets (numpy broadcasting)."""
        x, y = np.broadcast_arrays(a, b)
        field = self.rt.field
        return self.reshare(multiply(field, np.ascontiguousarray(x), np.ascontiguousarray(y)))

    def matmul(self, a: FieldArray, b: FieldArray, shape: tuple[int, ...]) -> Awaitable[FieldArray]:
        """Return the share of the matrix product ``a @ b`` of two secrets, of shape ``shape``."""
        product = np.asarray(self.rt.field.dot(a, b), dtype=np.uint64).reshape(shape)
        return self.reshare(product)

    def vecdot(self, a: FieldArray, b: FieldArray, axis: int) -> Awaitable[FieldArray]:
        """Return the share of ``sum(a * b, axis)`` of two secrets (numpy broadcasting first).

        A suite that reduces local products (:attr:`reduces_local_products`) sums the local
        products and reduces once: one multiplication's cost for the whole sum. Other suites
        multiply elementwise with :meth:`mul` (checked) and sum the products locally.
        """
        field = self.rt.field
        if self.reduces_local_products:
            x, y = np.broadcast_arrays(a, b)
            products = multiply(field, np.ascontiguousarray(x), np.ascontiguousarray(y))
            return self.reshare(np.asarray(field.sum(products, axis=axis), dtype=np.uint64))

        async def from_products() -> FieldArray:
            products = await self.mul(a, b)
            return self.apply(
                lambda p: np.asarray(field.sum(p, axis=axis), dtype=np.uint64), [products], [True]
            )

        return from_products()

    async def random_hidden_from(
        self,
        excluded: frozenset[int],
        shape: tuple[int, ...],
        draw: Callable[[Csprng], npt.NDArray[np.uint64]],
    ) -> FieldArray:
        """Share random integers drawn by ``draw`` that the parties in ``excluded`` never learn.

        ``draw(rng)`` returns an array of integers in ``[0, p)`` of shape ``shape`` (any
        distribution) from the CSPRNG ``rng``; parties outside ``excluded`` may learn the values.
        Secure comparisons combine such values with values one party inputs (see
        :mod:`veil.mpc.protocols.masks`).

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
