"""SecretArray: a numpy-like array of secret-shared numbers.

Each party holds its own share of every element; arithmetic on a :class:`SecretArray` reads like
numpy and runs the protocols underneath::

    total = (a * b).sum()        # a, b: SecretArray; the product runs a protocol round
    print(await total.open())    # only now is anything revealed

Operations return at once. A result whose inputs are still being computed is *pending*: it holds
the promise of its share, and the runtime batches every operation issued while the program runs
into one round. Only ``open`` reveals anything, and only the opened value.

Semantics: a SecretArray has a secure type, its ``dtype`` (:mod:`veil.mpc.types`): ``SecInt(bits)``
signed integers, ``SecFxp(frac_bits, int_bits)`` fixed-point reals, ``secbool`` comparison results,
or ``None`` for raw integers modulo the field's prime ``p`` (2**61 - 1 by default), opened as the
representative in ``(-p/2, p/2]``. Additions, subtractions and products by public integers are local
(no communication); a product of two secret arrays costs one round of the degree reduction protocol;
fixed-point products are truncated, and comparisons run the protocols of
:mod:`veil.mpc.protocols.compare`. Shapes broadcast like numpy and are public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import numpy.typing as npt

from veil.errors import ConfigError, ProtocolError, VeilError
from veil.field import Field, FieldArray
from veil.mpc import _dtypes
from veil.mpc.types import BoolType, FixedType, IntType, SecInt, SecretType, secbool

if TYPE_CHECKING:
    from veil.mpc.runtime import Runtime

__all__ = ["SecretArray", "as_field_array", "concatenate", "stack"]

Dtype = SecretType | None
_KEEP: Any = object()  # "same dtype as self" in _apply


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
    """Secret-shared numbers with numpy's operators, made by a :class:`Runtime`.

    Create them with :meth:`Runtime.input`, :meth:`Runtime.input_all` or :meth:`Runtime.random`,
    never directly.

    Attributes
    ----------
    runtime : Runtime
        The runtime whose parties hold the shares.
    shape : tuple of int
        Public shape.
    dtype : SecretType or None
        The secure type (:func:`~veil.mpc.SecInt`, :func:`~veil.mpc.SecFxp`,
        :data:`~veil.mpc.secbool`), or ``None`` for raw field elements.

    Notes
    -----
    ``+``, ``-``, ``*``, ``@`` accept another SecretArray of the same runtime and public numbers
    (Python numbers, lists, numpy arrays; reals only with fixed-point types), and broadcast like
    numpy; types combine by the rules of :mod:`veil.mpc._dtypes`. ``<``, ``<=``, ``>``, ``>=``,
    ``==``, ``!=`` return ``secbool`` arrays (typed operands only), ``&``, ``|``, ``^``, ``~``
    combine them. ``bool(x)`` raises ``TypeError``: the truth of a secret is secret; open it, or
    select obliviously with :func:`~veil.mpc.where`.
    """

    __slots__ = ("_share", "_waiting", "dtype", "runtime", "shape")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * SecretArray works

    runtime: Runtime
    shape: tuple[int, ...]
    dtype: Dtype
    _share: FieldArray | None
    _waiting: asyncio.Future[FieldArray] | None

    @classmethod
    def _make(
        cls,
        runtime: Runtime,
        share: FieldArray | Awaitable[FieldArray],
        shape: tuple[int, ...],
        dtype: Dtype = None,
    ) -> SecretArray:
        self = object.__new__(cls)
        self.runtime = runtime
        self.shape = tuple(shape)
        self.dtype = dtype
        if isinstance(share, np.ndarray | np.generic):  # 0-d results come back as numpy scalars
            # asanyarray keeps a suite's ndarray subclass (active mode's shares carry their tags)
            self._share, self._waiting = np.asanyarray(share, dtype=np.uint64), None
        else:
            self._share, self._waiting = None, asyncio.ensure_future(share)
            self._waiting.add_done_callback(_retrieve)
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
        kind = "" if self.dtype is None else f", dtype={self.dtype!r}"
        return f"SecretArray(shape={self.shape}{kind}, party={self.runtime.party_id}, {state})"

    async def share(self) -> FieldArray:
        """Return this party's share (``uint64`` field elements), waiting for it if pending."""
        if self._share is None:
            assert self._waiting is not None  # set by _make whenever _share is None
            self._share = await self._waiting
            self._waiting = None
        return self._share

    # ----- revealing --------------------------------------------------------------------------

    async def open(self, *, to: int | None = None) -> npt.NDArray[Any] | None:
        """Reveal the values to every party, or only to party ``to``.

        Every party must call it. Reveals exactly the opened values (their shares reveal nothing
        more: any ``t + 1`` shares determine them). Returns a numpy array of this array's shape, or
        ``None`` at parties other than ``to``: ``int64`` for raw values (the representatives in
        ``(-p/2, p/2]``) and ``SecInt``, ``float64`` for ``SecFxp``, ``bool`` for ``secbool``.

        Raises
        ------
        EncodingError
            A typed value left its type's range during the computation (an overflow); the message
            names the flat position.
        """
        if to is not None:
            self.runtime._check_party(to, "to")
        share = await self.share()
        opened = await self.runtime.protocols.open(share, None if to is None else int(to))
        if opened is None:
            return None
        if self.dtype is None:
            return self.field.to_signed(opened)
        return self.dtype.decode(self.field, opened)

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

    __hash__ = None  # type: ignore[assignment]

    # ----- operands ---------------------------------------------------------------------------

    def _secret(self, other: object) -> SecretArray | None:
        if isinstance(other, SecretArray):
            if other.runtime is not self.runtime:
                raise ConfigError(
                    "the SecretArrays belong to different runtimes",
                    hint="combine only values of the same computation",
                )
            return other
        return None

    def _apply(
        self,
        fn: Callable[..., FieldArray | Awaitable[FieldArray]],
        operands: tuple[SecretArray | FieldArray, ...],
        shape: tuple[int, ...],
        dtype: Dtype = _KEEP,
    ) -> SecretArray:
        """Compute ``fn(*shares)`` now if every secret operand is ready, else when it is.

        ``fn`` must be linear in the shares (public constants allowed) or run a protocol.
        """
        kind = self.dtype if dtype is _KEEP else dtype
        secrets = [o for o in operands if isinstance(o, SecretArray)]
        flags = tuple(isinstance(o, SecretArray) for o in operands)
        protocols = self.runtime.protocols
        if all(o._share is not None for o in secrets):
            args = [o._share if isinstance(o, SecretArray) else o for o in operands]
            return SecretArray._make(self.runtime, protocols.apply(fn, args, flags), shape, kind)

        async def later() -> FieldArray:
            args = [await o.share() if isinstance(o, SecretArray) else o for o in operands]
            result = protocols.apply(fn, args, flags)
            if isinstance(result, np.ndarray | np.generic):
                return np.asanyarray(result, dtype=np.uint64)
            return await result

        return SecretArray._make(self.runtime, later(), shape, kind)

    def _protocol(
        self,
        fn: Callable[..., Awaitable[FieldArray]],
        operands: tuple[SecretArray, ...],
        shape: tuple[int, ...],
    ) -> SecretArray:
        """Run a protocol ``fn(*shares)`` once every operand's share is ready (raw result)."""
        if all(o._share is not None for o in operands):
            return SecretArray._make(self.runtime, fn(*(o._share for o in operands)), shape)

        async def later() -> FieldArray:
            return await fn(*[await o.share() for o in operands])

        return SecretArray._make(self.runtime, later(), shape)

    def _bilinear(
        self,
        operands: tuple[SecretArray, ...],
        local: Callable[..., FieldArray],
        shape: tuple[int, ...],
    ) -> SecretArray:
        """Reduce a locally computed degree-``2t`` value with one degree reduction (raw result).

        ``local(*shares)`` must return this party's share of a sum of products of pairs of
        degree-``t`` sharings (plus any degree-``t`` terms), with ``shape``. Only suites with
        ``reduces_local_products`` (passive) allow it; protocols check the flag and otherwise use
        :meth:`vecdot` and ``*`` (see :mod:`veil.mpc.protocols.compare`).
        """
        protocols = self.runtime.protocols
        if not protocols.reduces_local_products:
            raise ProtocolError(
                f"the {protocols.name} suite checks every product; a local sum of products "
                "cannot be reduced directly",
                step="bilinear",
                hint="use * and vecdot, which the suite verifies",
            )

        def secure(*shares: FieldArray) -> Awaitable[FieldArray]:
            return protocols.reshare(np.asarray(local(*shares), dtype=np.uint64, order="C"))

        return self._protocol(secure, operands, shape)

    def _pending(
        self, work: Coroutine[Any, Any, SecretArray], shape: tuple[int, ...], dtype: Dtype
    ) -> SecretArray:
        """Wrap a protocol (a coroutine returning a SecretArray) as a pending result."""

        async def run() -> FieldArray:
            return await (await work).share()

        return SecretArray._make(self.runtime, run(), shape, dtype)

    def _scaled(self, dtype: Dtype) -> SecretArray:
        """Return the values re-encoded in ``dtype`` (a left shift for more fractional bits)."""
        shift = _dtypes.scale_bits(self.dtype, dtype)
        if shift < 0:
            raise TypeError(f"converting {self.dtype} to {dtype} needs truncation: use astype")
        if shift == 0:
            return self._retyped(dtype)
        factor = np.asarray(pow(2, shift, self.field.p), dtype=np.uint64)
        return self._apply(lambda a: self.field.mul(a, factor), (self,), self.shape, dtype)

    def _retyped(self, dtype: Dtype) -> SecretArray:
        if dtype == self.dtype:
            return self
        return self._apply(lambda a: a, (self,), self.shape, dtype)

    def _aligned(self, other: object) -> tuple[SecretArray, SecretArray | FieldArray, Dtype] | None:
        """Bring ``self`` and ``other`` to their common type for an additive operation."""
        secret = self._secret(other)
        if secret is not None:
            common = _dtypes.join(self.dtype, secret.dtype)
            return self._scaled(common), secret._scaled(common), common
        public = _dtypes.classify(other)
        if public is None:
            return None
        array, kind = public
        if kind == "float" and self.dtype is None:
            return None  # Python raises TypeError for the unsupported operand
        common = _dtypes.join_public(self.dtype, kind)  # explains reals with integer types
        return self._scaled(common), _dtypes.encode_public(self.field, common, array, kind), common

    # ----- arithmetic -------------------------------------------------------------------------

    def _additive(
        self, other: object, local: Callable[[FieldArray, FieldArray], FieldArray], reflected: bool
    ) -> SecretArray:
        aligned = self._aligned(other)
        if aligned is None:
            return NotImplemented  # type: ignore[no-any-return]
        a, b, common = aligned
        if isinstance(common, BoolType):
            common = SecInt(_dtypes.DEFAULT_INT)  # True + True is 2
        shape = _broadcast(a.shape, b.shape)
        pair = (b, a) if reflected else (a, b)

        def run(x: FieldArray, y: FieldArray) -> FieldArray:
            return local(*np.broadcast_arrays(x, y))

        return a._apply(run, pair, shape, common)

    def __add__(self, other: object) -> SecretArray:
        return self._additive(other, self.field.add, reflected=False)

    def __radd__(self, other: object) -> SecretArray:
        return self._additive(other, self.field.add, reflected=True)

    def __sub__(self, other: object) -> SecretArray:
        return self._additive(other, self.field.sub, reflected=False)

    def __rsub__(self, other: object) -> SecretArray:
        return self._additive(other, self.field.sub, reflected=True)

    def __neg__(self) -> SecretArray:
        kind = SecInt(_dtypes.DEFAULT_INT) if isinstance(self.dtype, BoolType) else self.dtype
        return self._apply(self.field.neg, (self,), self.shape, kind)

    def __pos__(self) -> SecretArray:
        return self

    def _factor(self, other: object) -> tuple[SecretArray | FieldArray, Dtype, int] | None:
        """Return ``(operand, result type, bits to truncate)`` for ``self * other``."""
        secret = self._secret(other)
        if secret is not None:
            kind, truncate = _dtypes.product_type(self.dtype, secret.dtype)
            if truncate:  # two fixed-point operands: same fractional bits first
                return secret._scaled(kind), kind, truncate
            return secret, kind, 0
        public = _dtypes.classify(other)
        if public is None:
            return None
        array, kind_name = public
        dtype = self.dtype
        if kind_name == "float":
            if dtype is None:
                return None
            if not isinstance(dtype, FixedType):
                _dtypes.join_public(dtype, "float")  # raises, saying to use SecFxp
                return None
            return _dtypes.encode_public(self.field, dtype, array, "float"), dtype, dtype.fractional
        if isinstance(dtype, BoolType) and kind_name == "int":
            dtype = SecInt(_dtypes.DEFAULT_INT)
        return _dtypes.encode_public(self.field, dtype, array, kind_name, factor=True), dtype, 0

    def _multiply(
        self,
        other: object,
        local: Callable[[FieldArray, FieldArray], FieldArray],
        shape_of: Callable[[tuple[int, ...], tuple[int, ...]], tuple[int, ...]],
        *,
        reflected: bool = False,
        secure: tuple[str, int] = ("mul", 0),
    ) -> SecretArray:
        """Multiply by ``other``: ``local`` for a public operand, the suite's ``secure`` protocol
        (``("mul", 0)``, ``("matmul", 0)`` or ``("vecdot", axis)``) for a secret one."""
        factor = self._factor(other)
        if factor is None:
            return NotImplemented  # type: ignore[no-any-return]
        operand, kind, truncate = factor
        me = self._scaled(kind) if truncate and isinstance(operand, SecretArray) else self
        left, right = (operand, me) if reflected else (me, operand)
        shape = shape_of(left.shape, right.shape)
        if isinstance(left, SecretArray) and isinstance(right, SecretArray):
            protocols = self.runtime.protocols
            name, axis = secure

            def run(a: FieldArray, b: FieldArray) -> Awaitable[FieldArray]:
                if name == "matmul":
                    return protocols.matmul(a, b, shape)
                if name == "vecdot":
                    return protocols.vecdot(a, b, axis)
                return protocols.mul(a, b)

            product = me._protocol(run, (left, right), shape)
        else:
            product = me._apply(local, (left, right), shape, None)
        if not truncate:
            return product._retyped(kind)
        assert isinstance(kind, FixedType)
        from veil.mpc.protocols.fixedpoint import truncate as truncate_protocol

        return self._pending(truncate_protocol(product, truncate, kind.product_bits()), shape, kind)

    def _elementwise(self, a: FieldArray, b: FieldArray) -> FieldArray:
        """Product with a public operand (local)."""
        x, y = np.broadcast_arrays(a, b)
        return self.field.mul(np.ascontiguousarray(x), np.ascontiguousarray(y))

    def __mul__(self, other: object) -> SecretArray:
        return self._multiply(other, self._elementwise, _broadcast)

    def __rmul__(self, other: object) -> SecretArray:
        return self._multiply(other, self._elementwise, _broadcast, reflected=True)

    def dot(self, other: object) -> SecretArray:
        """Return the matrix or inner product with numpy's ``dot`` shapes (1-D or 2-D operands).

        With two secret operands the local products are summed before one degree reduction, so
        an inner product of length ``k`` costs the communication of a single multiplication (and
        a fixed-point result one truncation).
        """
        return self.__matmul__(other)

    def _matrix(self, a: FieldArray, b: FieldArray) -> FieldArray:
        shape = _matmul_shape(a.shape, b.shape)
        return np.asarray(self.field.dot(a, b), dtype=np.uint64).reshape(shape)

    def __matmul__(self, other: object) -> SecretArray:
        return self._multiply(other, self._matrix, _matmul_shape, secure=("matmul", 0))

    def __rmatmul__(self, other: object) -> SecretArray:
        return self._multiply(
            other, self._matrix, _matmul_shape, reflected=True, secure=("matmul", 0)
        )

    def vecdot(self, other: object, axis: int = -1) -> SecretArray:
        """Return ``sum(self * other, axis)``, like ``numpy.vecdot`` (operands broadcast first).

        In a suite that reduces local sums of products (passive), ``x.vecdot(y)`` over a
        length-``k`` axis costs what one product costs, not ``k``; a suite that checks every
        product multiplies elementwise and sums. Fixed-point results are truncated once.
        """
        field = self.field

        def local(a: FieldArray, b: FieldArray) -> FieldArray:
            x, y = np.broadcast_arrays(a, b)
            products = field.mul(np.ascontiguousarray(x), np.ascontiguousarray(y))
            return np.asarray(field.sum(products, axis=axis), dtype=np.uint64)

        def shape_of(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            full = _broadcast(a, b)
            if not full:
                raise ValueError("vecdot needs at least one dimension")
            return full[: axis % len(full)] + full[axis % len(full) + 1 :]

        return self._multiply(other, local, shape_of, secure=("vecdot", axis))

    def sum(self, axis: int | None = None) -> SecretArray:
        """Return the sum over ``axis`` (all elements when None); local, no communication."""
        if axis is None:
            shape: tuple[int, ...] = ()
        else:
            shape = tuple(d for i, d in enumerate(self.shape) if i != axis % max(self.ndim, 1))
        field = self.field

        def total(a: FieldArray) -> FieldArray:
            return np.asarray(field.sum(a, axis=axis), dtype=np.uint64).reshape(shape)

        kind = SecInt(_dtypes.DEFAULT_INT) if isinstance(self.dtype, BoolType) else self.dtype
        return self._apply(total, (self,), shape, kind)

    def mean(self, axis: int | None = None) -> SecretArray:
        """Return the mean over ``axis`` (fixed-point types only; a division by the public count)."""
        count = self.size if axis is None else self.shape[axis]
        return self.sum(axis) / count

    def __truediv__(self, other: object) -> SecretArray:
        from veil.mpc.protocols import fixedpoint

        secret = self._secret(other)
        if secret is not None:
            return self * fixedpoint.reciprocal(secret)
        public = _dtypes.classify(other)
        if public is None:
            return NotImplemented
        if not isinstance(self.dtype, FixedType):
            raise TypeError(
                f"true division needs a fixed-point SecretArray, this one is {self.dtype}: use "
                "// for integers, or x.astype(SecFxp(...)) first"
            )
        fixedpoint.check_real_divisor(public[0])
        return self._pending(fixedpoint.divide_public(self, public[0]), self.shape, self.dtype)

    def __floordiv__(self, other: object) -> SecretArray:
        from veil.mpc.protocols import fixedpoint

        public = _dtypes.classify(other)
        if public is None or public[1] != "int" or not isinstance(self.dtype, IntType):
            return NotImplemented
        fixedpoint.check_int_divisor(public[0])
        return self._pending(fixedpoint.floordiv_public(self, public[0]), self.shape, self.dtype)

    # ----- comparisons and logic --------------------------------------------------------------

    def _compare(self, other: object, op: str) -> SecretArray:
        aligned = self._aligned(other)
        if aligned is None:
            return NotImplemented  # type: ignore[no-any-return]
        a, b, common = aligned
        bits = _dtypes.check_typed(common, "comparing SecretArrays").signed_bits
        shape = _broadcast(a.shape, b.shape)
        from veil.mpc.protocols import compare

        return self._pending(compare.compare(a, b, op, bits), shape, secbool)

    def __lt__(self, other: object) -> SecretArray:
        return self._compare(other, "<")

    def __le__(self, other: object) -> SecretArray:
        return self._compare(other, "<=")

    def __gt__(self, other: object) -> SecretArray:
        return self._compare(other, ">")

    def __ge__(self, other: object) -> SecretArray:
        return self._compare(other, ">=")

    def __eq__(self, other: object) -> SecretArray:  # type: ignore[override]
        return self._compare(other, "==")

    def __ne__(self, other: object) -> SecretArray:  # type: ignore[override]
        return self._compare(other, "!=")

    def _boolean(self, other: object, name: str) -> SecretArray | None:
        if not isinstance(self.dtype, BoolType):
            raise TypeError(f"{name} needs secbool operands (comparison results), got {self.dtype}")
        secret = self._secret(other)
        if secret is not None:
            if not isinstance(secret.dtype, BoolType):
                raise TypeError(f"{name} needs secbool operands, got {secret.dtype}")
            return secret
        return None

    def __and__(self, other: object) -> SecretArray:
        secret = self._boolean(other, "&")
        return self * (secret if secret is not None else _as_bool(other))

    __rand__ = __and__

    def __or__(self, other: object) -> SecretArray:
        secret = self._boolean(other, "|")
        both = self * (secret if secret is not None else _as_bool(other))
        return (self + (secret if secret is not None else _as_bool(other)) - both)._retyped(secbool)

    __ror__ = __or__

    def __xor__(self, other: object) -> SecretArray:
        secret = self._boolean(other, "^")
        value = secret if secret is not None else _as_bool(other)
        both = self * value
        return (self + value - 2 * both)._retyped(secbool)

    __rxor__ = __xor__

    def __invert__(self) -> SecretArray:
        self._boolean(None, "~")
        return (1 - self)._retyped(secbool)

    def __abs__(self) -> SecretArray:
        from veil.mpc.functions import where

        return where(self < 0, -self, self)

    def astype(self, dtype: Dtype) -> SecretArray:
        """Return the values converted to another secure type.

        Integers and booleans become fixed point by a local shift; fixed point becomes integer by
        truncation toward minus infinity (one protocol run); ``dtype=None`` exposes the raw field
        elements and a raw array takes a type as is. Values are not range-checked here: they are
        when opened.
        """
        if dtype is not None and not isinstance(dtype, SecretType):
            raise TypeError(f"dtype must be a secure type such as SecInt(32), got {dtype!r}")
        if dtype is None or self.dtype is None:
            return self._retyped(dtype)
        shift = _dtypes.scale_bits(self.dtype, dtype)
        if shift >= 0:
            return self._scaled(dtype)
        from veil.mpc.protocols.fixedpoint import truncate as truncate_protocol

        bound = self.dtype.signed_bits + 1
        return self._pending(
            truncate_protocol(self._retyped(None), -shift, bound, rounding="floor"),
            self.shape,
            dtype,
        )

    # ----- reductions with comparisons ---------------------------------------------------------

    def max(self, axis: int | None = None) -> SecretArray:
        """Return the maximum over ``axis`` (all elements when None): a tournament of comparisons."""
        from veil.mpc.functions import amax

        return amax(self, axis)

    def min(self, axis: int | None = None) -> SecretArray:
        """Return the minimum over ``axis`` (all elements when None)."""
        from veil.mpc.functions import amin

        return amin(self, axis)

    def argmax(self, axis: int | None = None) -> SecretArray:
        """Return the index of the maximum over ``axis`` (the first one on ties), as ``SecInt``."""
        from veil.mpc.functions import argmax

        return argmax(self, axis)

    def argmin(self, axis: int | None = None) -> SecretArray:
        """Return the index of the minimum over ``axis`` (the first one on ties), as ``SecInt``."""
        from veil.mpc.functions import argmin

        return argmin(self, axis)

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


def _retrieve(future: asyncio.Future[FieldArray]) -> None:
    """Mark an intermediate that failed with a veil error as seen.

    When a party fails, every pending value of every party fails with it (a closed channel, an
    aborted runtime); the error reaches whoever awaits a value depending on it, so asyncio need not
    also print each one as "never retrieved". Other exceptions (bugs) are left for asyncio to log.
    """
    if future.cancelled():
        return
    error = future.exception()  # marks it as retrieved
    if error is not None and not isinstance(error, VeilError):
        future.get_loop().call_exception_handler(
            {"message": "a SecretArray computation failed", "exception": error, "future": future}
        )


def _as_bool(value: object) -> FieldArray:
    array = np.asarray(value)
    if array.dtype != np.bool_:
        raise TypeError(f"logical operators need booleans, got dtype {array.dtype}")
    return array.astype(np.uint64)


def concatenate(arrays: Sequence[SecretArray], axis: int = 0) -> SecretArray:
    """Join secret arrays of one runtime and type along an existing axis (local), like numpy."""
    first = _check_join(arrays, "concatenate")
    shape = np.concatenate([np.empty(a.shape, dtype=np.uint8) for a in arrays], axis=axis).shape
    return first._apply(lambda *s: np.concatenate(s, axis=axis), tuple(arrays), shape)


def stack(arrays: Sequence[SecretArray], axis: int = 0) -> SecretArray:
    """Join secret arrays of one runtime, type and shape along a new axis (local), like numpy."""
    first = _check_join(arrays, "stack")
    shape = np.stack([np.empty(a.shape, dtype=np.uint8) for a in arrays], axis=axis).shape
    return first._apply(lambda *s: np.stack(s, axis=axis), tuple(arrays), shape)


def _check_join(arrays: Sequence[SecretArray], name: str) -> SecretArray:
    if not arrays:
        raise ValueError(f"{name} needs at least one array")
    first = arrays[0]
    for a in arrays[1:]:
        first._secret(a)
        if a.dtype != first.dtype:
            raise TypeError(f"{name}: arrays of types {first.dtype} and {a.dtype} do not mix")
    return first


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
