"""SecretArray: a numpy-like vector of secret-shared integers.

Each party holds its own share of every element; arithmetic on a :class:`SecretArray` reads like
numpy and runs the protocols underneath::

    total = (a * b).sum()        # a, b: SecretArray; the product runs a protocol round
    print(await total.open())    # only now is anything revealed

Operations return at once. A result whose inputs are still being computed is *pending*: it holds
the promise of its share, and the runtime batches every operation issued while the program runs
into one round. Only ``open`` reveals anything, and only the opened value.

Semantics: elements are integers modulo the field's prime ``p`` (2**61 - 1 by default), opened as
the representative in ``(-p/2, p/2]``. Additions, subtractions and products by public integers are
local (no communication); a product of two secret arrays costs one round of the degree reduction
protocol. Shapes broadcast like numpy and are public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError
from veil.field import Field, FieldArray
from veil.mpc._kernels import multiply

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["SecretArray", "as_field_array"]


def as_field_array(field: Field, values: object, name: str) -> FieldArray:
    """Convert public or private integers (array_like) to field elements; refuse non-integers."""
    array = np.asarray(values)
    if array.dtype == object:
        if not all(isinstance(v, int | np.integer) for v in array.reshape(-1)):
            raise ConfigError(
                f"{name} must hold integers, got objects such as {array.reshape(-1)[0]!r}",
                field=name,
                hint="encode real numbers with veil.encoding first",
            )
    elif array.dtype.kind not in "iub":
        raise ConfigError(
            f"{name} must hold integers, got dtype {array.dtype}",
            field=name,
            hint="encode real numbers as integers with veil.encoding (fixed point) first",
        )
    return field.array(array)


class SecretArray:
    """Secret-shared integers modulo ``p`` with numpy's operators, made by a :class:`Runtime`.

    Create them with :meth:`Runtime.input`, :meth:`Runtime.input_all` or :meth:`Runtime.random`,
    never directly.

    Attributes
    ----------
    runtime : Runtime
        The runtime whose parties hold the shares.
    shape : tuple of int
        Public shape.

    Notes
    -----
    ``+``, ``-``, ``*``, ``@`` accept another SecretArray of the same runtime, Python integers and
    integer numpy arrays (public values), and broadcast like numpy. Anything else (floats, other
    types) is refused with ``TypeError``. ``bool(x)`` raises ``TypeError``: the truth of a secret is
    secret; open it, or select obliviously with ``where``.
    """

    __slots__ = ("_share", "_waiting", "runtime", "shape")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * SecretArray works

    runtime: Runtime
    shape: tuple[int, ...]
    _share: FieldArray | None
    _waiting: asyncio.Future[FieldArray] | None

    @classmethod
    def _make(
        cls,
        runtime: Runtime,
        share: FieldArray | Awaitable[FieldArray],
        shape: tuple[int, ...],
    ) -> SecretArray:
        self = object.__new__(cls)
        self.runtime = runtime
        self.shape = tuple(shape)
        if isinstance(share, np.ndarray | np.generic):  # 0-d results come back as numpy scalars
            self._share, self._waiting = np.asarray(share, dtype=np.uint64), None
        else:
            self._share, self._waiting = None, asyncio.ensure_future(share)
        return self

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "SecretArray is made by a Runtime: use rt.input(...), rt.input_all(...) or "
            "rt.random(...)"
        )

    # ----- public properties ------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def field(self) -> Field:
        """The field of the shares."""
        return self.runtime.field

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d SecretArray")
        return self.shape[0]

    def __repr__(self) -> str:
        state = "pending" if self._share is None else "ready"
        return f"SecretArray(shape={self.shape}, party={self.runtime.party_id}, {state})"

    async def share(self) -> FieldArray:
        """Return this party's share (``uint64`` field elements), waiting for it if pending."""
        if self._share is None:
            assert self._waiting is not None  # set by _make whenever _share is None
            self._share = await self._waiting
            self._waiting = None
        return self._share

    # ----- revealing --------------------------------------------------------------------------

    async def open(self, *, to: int | None = None) -> npt.NDArray[np.int64] | None:
        """Reveal the values to every party, or only to party ``to``.

        Every party must call it. Reveals exactly the opened values (their shares reveal nothing
        more: any ``t + 1`` shares determine them). Returns integers in ``(-p/2, p/2]`` with this
        array's shape, or ``None`` at parties other than ``to``.
        """
        if to is not None:
            self.runtime._check_party(to, "to")
        share = await self.share()
        opened = await self.runtime.protocols.open(share, None if to is None else int(to))
        if opened is None:
            return None
        return self.field.to_signed(opened)

    # ----- refusing to leak -------------------------------------------------------------------

    def __bool__(self) -> NoReturn:
        raise TypeError(
            "the truth value of a SecretArray is secret: open it first (`await x.open()`) or "
            "choose between values without revealing which with `where(...)`"
        )

    def __array__(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a SecretArray is not a numpy array: reveal it with `await x.open()` first")

    def __index__(self) -> NoReturn:
        raise TypeError("a SecretArray cannot be used as an index: open it first")

    def __int__(self) -> NoReturn:
        raise TypeError("int() of a SecretArray would reveal it: use `await x.open()`")

    def __float__(self) -> NoReturn:
        raise TypeError("float() of a SecretArray would reveal it: use `await x.open()`")

    def _no_comparison(self, other: object) -> NoReturn:
        raise TypeError(
            "comparing SecretArrays needs a secure comparison protocol, which this runtime does "
            "not provide yet; open the values if they may be revealed"
        )

    __lt__ = __le__ = __gt__ = __ge__ = _no_comparison
    __eq__ = __ne__ = _no_comparison
    __hash__ = None  # type: ignore[assignment]

    # ----- operands ---------------------------------------------------------------------------

    def _coerce(self, other: object) -> SecretArray | FieldArray | None:
        """Return ``other`` as a SecretArray of this runtime or public field elements, else None."""
        if isinstance(other, SecretArray):
            if other.runtime is not self.runtime:
                raise ConfigError(
                    "the SecretArrays belong to different runtimes",
                    hint="combine only values of the same computation",
                )
            return other
        if isinstance(other, bool | int | np.integer):
            return self.field.array(other)
        if isinstance(other, np.ndarray) and other.dtype.kind in "iub":
            return self.field.array(other)
        if isinstance(other, list | tuple):
            array = np.asarray(other)
            if array.dtype.kind in "iub":
                return self.field.array(array)
        return None

    def _apply(
        self,
        fn: Callable[..., FieldArray | Awaitable[FieldArray]],
        operands: tuple[SecretArray | FieldArray, ...],
        shape: tuple[int, ...],
    ) -> SecretArray:
        """Compute ``fn(*shares)`` now if every secret operand is ready, else when it is."""
        secrets = [o for o in operands if isinstance(o, SecretArray)]
        if all(o._share is not None for o in secrets):
            args = [o._share if isinstance(o, SecretArray) else o for o in operands]
            return SecretArray._make(self.runtime, fn(*args), shape)

        async def later() -> FieldArray:
            args = [await o.share() if isinstance(o, SecretArray) else o for o in operands]
            result = fn(*args)
            if isinstance(result, np.ndarray | np.generic):
                return np.asarray(result, dtype=np.uint64)
            return await result

        return SecretArray._make(self.runtime, later(), shape)

    def _binary(
        self, other: object, local: Callable[[FieldArray, FieldArray], FieldArray], reflected: bool
    ) -> SecretArray:
        operand = self._coerce(other)
        if operand is None:
            return NotImplemented  # type: ignore[no-any-return]
        shape = _broadcast(self.shape, operand.shape)
        pair = (operand, self) if reflected else (self, operand)

        def run(a: FieldArray, b: FieldArray) -> FieldArray:
            return local(*np.broadcast_arrays(a, b))

        return self._apply(run, pair, shape)

    # ----- arithmetic -------------------------------------------------------------------------

    def __add__(self, other: object) -> SecretArray:
        return self._binary(other, self.field.add, reflected=False)

    def __radd__(self, other: object) -> SecretArray:
        return self._binary(other, self.field.add, reflected=True)

    def __sub__(self, other: object) -> SecretArray:
        return self._binary(other, self.field.sub, reflected=False)

    def __rsub__(self, other: object) -> SecretArray:
        return self._binary(other, self.field.sub, reflected=True)

    def __neg__(self) -> SecretArray:
        return self._apply(self.field.neg, (self,), self.shape)

    def __pos__(self) -> SecretArray:
        return self

    def __mul__(self, other: object) -> SecretArray:
        operand = self._coerce(other)
        if operand is None:
            return NotImplemented
        shape = _broadcast(self.shape, operand.shape)
        field = self.field
        if not isinstance(operand, SecretArray):  # public factor: local
            return self._apply(
                lambda a, b: field.mul(*np.broadcast_arrays(a, b)), (self, operand), shape
            )
        protocols = self.runtime.protocols

        def secure(a: FieldArray, b: FieldArray) -> Awaitable[FieldArray]:
            x, y = np.broadcast_arrays(a, b)
            return protocols.reshare(
                multiply(field, np.ascontiguousarray(x), np.ascontiguousarray(y))
            )

        return self._apply(secure, (self, operand), shape)

    __rmul__ = __mul__

    def dot(self, other: object) -> SecretArray:
        """Return the matrix or inner product with numpy's ``dot`` shapes (1-D or 2-D operands).

        With two secret operands the local products are summed before one degree reduction, so
        an inner product of length ``k`` costs the communication of a single multiplication.
        """
        return self._matmul(other, reflected=False)

    def __matmul__(self, other: object) -> SecretArray:
        return self._matmul(other, reflected=False)

    def __rmatmul__(self, other: object) -> SecretArray:
        return self._matmul(other, reflected=True)

    def _matmul(self, other: object, *, reflected: bool) -> SecretArray:
        operand = self._coerce(other)
        if operand is None:
            return NotImplemented  # type: ignore[no-any-return]
        left, right = (operand, self) if reflected else (self, operand)
        shape = _matmul_shape(left.shape, right.shape)
        field = self.field
        if not isinstance(operand, SecretArray):
            return self._apply(lambda a, b: field.dot(a, b).reshape(shape), (left, right), shape)
        protocols = self.runtime.protocols

        def secure(a: FieldArray, b: FieldArray) -> Awaitable[FieldArray]:
            return protocols.reshare(np.asarray(field.dot(a, b), dtype=np.uint64).reshape(shape))

        return self._apply(secure, (left, right), shape)

    def sum(self, axis: int | None = None) -> SecretArray:
        """Return the sum over ``axis`` (all elements when None); local, no communication."""
        if axis is None:
            shape: tuple[int, ...] = ()
        else:
            shape = tuple(d for i, d in enumerate(self.shape) if i != axis % max(self.ndim, 1))
        field = self.field

        def total(a: FieldArray) -> FieldArray:
            return np.asarray(field.sum(a, axis=axis), dtype=np.uint64).reshape(shape)

        return self._apply(total, (self,), shape)

    # ----- shape manipulation (local) ---------------------------------------------------------

    def __getitem__(self, key: Any) -> SecretArray:
        if isinstance(key, SecretArray) or (
            isinstance(key, tuple) and any(isinstance(k, SecretArray) for k in key)
        ):
            raise TypeError(
                "a secret index would reveal which element is read; select with `where(...)`"
            )
        shape = np.broadcast_to(np.empty((), dtype=np.uint8), self.shape)[key].shape
        return self._apply(lambda a: a[key], (self,), shape)

    def reshape(self, *shape: int | tuple[int, ...]) -> SecretArray:
        """Return the same values with a new (public) shape, numpy's rules (one ``-1`` allowed)."""
        target: Any = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        new_shape = np.empty(self.shape, dtype=np.uint8).reshape(target).shape
        return self._apply(lambda a: a.reshape(new_shape), (self,), new_shape)

    def ravel(self) -> SecretArray:
        """Return the values as a 1-D array."""
        return self.reshape(-1)

    @property
    def T(self) -> SecretArray:
        """The transposed array."""
        return self._apply(lambda a: a.T, (self,), self.shape[::-1])


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError as exc:
        raise ValueError(f"shapes {a} and {b} do not broadcast together") from exc


def _matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    if not 1 <= len(a) <= 2 or not 1 <= len(b) <= 2:
        raise ValueError(f"dot needs 1-D or 2-D operands, got shapes {a} and {b}")
    inner_a, inner_b = a[-1], b[0] if len(b) == 1 else b[-2]
    if inner_a != inner_b:
        raise ValueError(f"dot: shapes {a} and {b} are not aligned ({inner_a} != {inner_b})")
    return a[:-1] + b[1:] if len(b) == 2 else a[:-1]
