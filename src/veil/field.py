"""Prime-field arithmetic on numpy arrays, and uniform sampling from a CSPRNG.

Elements of GF(p) are ``numpy.uint64`` arrays holding canonical representatives in ``[0, p)``.
Every operation is vectorized: no Python loop runs per element.

The default prime is the Mersenne prime ``p = 2**61 - 1``. It is the largest prime whose elements
fit a machine word with room for lazy additions, and reduction modulo a Mersenne prime is shifts and
masks, so a product of two elements costs about twenty numpy passes. Integers outside
``(-p/2, p/2)`` do not fit one element: :mod:`veil.encoding` checks ranges on input and refuses
(never wraps), and protocols that need more headroom (comparisons with a statistical mask) choose
their own bounds and say so. Other primes are supported for testing and for exhaustive checks:
any prime below ``2**32`` (products fit in 64 bits) uses the same vectorized paths; primes between
``2**32`` and ``2**63`` fall back to exact Python-integer arithmetic on object arrays (correct, slow).

Randomness comes from :class:`Csprng`: AES-256 in counter mode keyed from ``os.urandom`` (a PRG
keyed from the operating system's CSPRNG, DESIGN.md), never from ``numpy.random``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from veil.errors import FieldError

__all__ = ["MERSENNE61", "Csprng", "Field", "FieldArray", "default_field", "is_prime"]

#: The default modulus, the Mersenne prime 2**61 - 1.
MERSENNE61: Final = (1 << 61) - 1

#: Field elements: canonical ``uint64`` representatives.
FieldArray = npt.NDArray[np.uint64]

_U = np.uint64
_M32 = _U(0xFFFFFFFF)
_M29 = _U((1 << 29) - 1)
_P61 = _U(MERSENNE61)
_S3, _S29, _S32, _S61 = _U(3), _U(29), _U(32), _U(61)
_ZERO = np.zeros((), dtype=np.uint64)
_ZEROS: Final = bytes(1 << 16)
#: Elementwise kernels run over blocks of this many elements so that temporaries stay in cache.
_BLOCK: Final = 1 << 15


def is_prime(n: int) -> bool:
    """Return whether ``n`` is prime (deterministic Miller–Rabin, exact for ``n < 3.3e24``)."""
    if n < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)
    for q in small:
        if n % q == 0:
            return n == q
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in small:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


class Csprng:
    """Cryptographically secure random bytes: AES-256-CTR keyed from ``os.urandom``.

    Parameters
    ----------
    seed : bytes, optional
        32-byte key for reproducible streams. **For tests only**: a seeded stream is predictable by
        anyone who knows the seed. Omit it (the default) for secrets.

    Notes
    -----
    The key and the initial counter block are drawn from the operating system's CSPRNG. A stream
    never repeats for the life of the object (the 128-bit counter would take 2**128 blocks to wrap).
    An unseeded generator rekeys itself in a forked child, so parent and child never share a
    stream; draws are serialized by a lock, so threads never share stream positions either.
    """

    def __init__(self, seed: bytes | None = None) -> None:
        if seed is not None and (not isinstance(seed, bytes | bytearray) or len(seed) != 32):
            got = (
                f"{len(seed)} bytes" if isinstance(seed, bytes | bytearray) else type(seed).__name__
            )
            raise FieldError(
                f"Csprng seed must be 32 bytes, got {got}",
                hint="pass os.urandom(32), or omit the seed outside tests",
            )
        self._seed = None if seed is None else bytes(seed)
        self._pid = os.getpid()
        self._lock = threading.Lock()  # one stream position per draw, also across threads
        self._encryptor = self._new_stream()

    def _new_stream(self) -> CipherContext:
        if self._seed is None:
            key, nonce = os.urandom(32), os.urandom(16)
        else:
            key, nonce = self._seed, bytes(16)
        return Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()

    def _stream(self) -> CipherContext:
        # A forked child must not replay its parent's stream: rekey an unseeded generator from the
        # OS in every new process (as the standard library's ``random`` reseeds at fork).
        if self._seed is None and os.getpid() != self._pid:
            self._pid = os.getpid()
            self._encryptor = self._new_stream()
        return self._encryptor

    def random_bytes(self, n_bytes: int) -> bytes:
        """Return ``n_bytes`` uniformly random bytes."""
        with self._lock:
            return self._stream().update(bytes(n_bytes))

    def uint64(self, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` independent uniform 64-bit words, shape ``(count,)``."""
        if count < 0:
            raise FieldError(f"count must be >= 0, got {count}")
        with self._lock:
            return self._words(count)

    def _words(self, count: int) -> npt.NDArray[np.uint64]:
        stream = self._stream()
        # Encrypt zeros straight into the result (no intermediate copies); update_into needs
        # block_size - 1 spare bytes after the output, hence the two extra words.
        words = np.empty(count + 2, dtype=np.uint64)
        out = memoryview(words.view(np.uint8).data)
        n_bytes = 8 * count
        for start in range(0, n_bytes, len(_ZEROS)):
            length = min(len(_ZEROS), n_bytes - start)
            stream.update_into(_ZEROS[:length] if length < len(_ZEROS) else _ZEROS, out[start:])
        return words[:count]

    def below(self, bound: int, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` uniform integers in ``[0, bound)`` by rejection sampling (``1 <= bound <= 2**64``)."""
        if not 1 <= bound <= 1 << 64:
            raise FieldError(f"bound must be in [1, 2**64], got {bound}")
        if bound == 1 << 64:
            return self.uint64(count)
        bits = max(1, (bound - 1).bit_length())
        mask = _U((1 << bits) - 1) if bits < 64 else _U(0xFFFFFFFFFFFFFFFF)
        out = self.uint64(count)
        np.bitwise_and(out, mask, out=out)
        bad = np.flatnonzero(out >= _U(bound))
        while bad.size:  # each round keeps at least half of the remaining draws in expectation
            redo = self.uint64(bad.size) & mask
            out[bad] = redo
            bad = bad[redo >= _U(bound)]
        return out


@lru_cache(maxsize=1)
def _default_rng() -> Csprng:
    return Csprng()


class Field:
    """The prime field GF(p), operating on ``uint64`` numpy arrays of any shape.

    Parameters
    ----------
    p : int, default=2**61 - 1
        A prime, ``2 < p < 2**63``.

    Notes
    -----
    Binary operations broadcast like numpy. Inputs must be canonical elements (use :meth:`array`
    to convert integers); outputs always are.

    Examples
    --------
    >>> F = Field()
    >>> a = F.array([3, -1])
    >>> F.to_signed(F.mul(a, a)).tolist()
    [9, 1]
    """

    def __init__(self, p: int = MERSENNE61) -> None:
        if not isinstance(p, int) or not 2 < p < (1 << 63) or not is_prime(p):
            raise FieldError(
                f"the field modulus must be a prime between 3 and 2**63, got {p!r}",
                hint="use the default 2**61 - 1 unless you need a small field for tests",
            )
        self.p: Final = p
        self.bits: Final = p.bit_length()
        self._P = _U(p)
        self._mersenne = p == MERSENNE61
        self._small = p < (1 << 32)

    def __repr__(self) -> str:
        return f"Field({self.p})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and other.p == self.p

    def __hash__(self) -> int:
        return hash(("Field", self.p))

    # ----- conversion -------------------------------------------------------------------------

    def array(self, values: object) -> FieldArray:
        """Reduce integers (Python ints of any size, or integer arrays, negatives allowed) into the field."""
        arr = np.asarray(values)
        if arr.size == 0:
            return np.zeros(arr.shape, dtype=np.uint64)
        if arr.dtype == np.uint64:
            return arr % self._P if arr.size and int(arr.max()) >= self.p else arr.copy()
        if arr.dtype.kind in "iub":
            return np.mod(arr.astype(np.int64), np.int64(self.p)).astype(np.uint64)
        if arr.dtype == object:
            flat = arr.reshape(-1).tolist()
            for position, value in enumerate(flat):
                if not isinstance(value, int | np.integer):
                    raise FieldError(
                        f"cannot convert {value!r} (a {type(value).__name__}) at flat position "
                        f"{position} to a field element",
                        hint="pass integers; encode reals with veil.encoding first",
                    )
            reduced = [int(v) % self.p for v in flat]
            return np.array(reduced, dtype=np.uint64).reshape(arr.shape)
        raise FieldError(
            f"cannot convert values of dtype {arr.dtype} to field elements",
            hint="pass integers; encode reals with veil.encoding first",
        )

    def to_signed(self, a: FieldArray) -> npt.NDArray[np.int64]:
        """Map elements to integers in ``(-p/2, p/2]`` (the centred representative)."""
        half = _U(self.p // 2)
        signed = a.astype(np.int64)
        return np.where(a > half, signed - np.int64(self.p), signed)

    def check(self, a: npt.NDArray[np.uint64], name: str = "value") -> FieldArray:
        """Return ``a`` if it holds canonical elements, else raise :class:`FieldError` naming the first bad position."""
        if a.dtype != np.uint64:
            raise FieldError(f"{name} must have dtype uint64, got {a.dtype}")
        bad = np.flatnonzero(a.reshape(-1) >= self._P)
        if bad.size:
            raise FieldError(
                f"{name} holds {bad.size} values >= p = {self.p}; first at flat position {int(bad[0])}",
                field=name,
            )
        return a

    # ----- arithmetic -------------------------------------------------------------------------

    # Binary operations accept ``out=``: a C-contiguous uint64 array of the broadcast shape. It may
    # be one of the operands (in-place update) but must not overlap them partially.

    def add(self, a: FieldArray, b: FieldArray, *, out: FieldArray | None = None) -> FieldArray:
        """Return ``a + b mod p`` (into ``out`` when given)."""
        return _blockwise(_add_kernel, a, b, self._P, 1, out)

    def sub(self, a: FieldArray, b: FieldArray, *, out: FieldArray | None = None) -> FieldArray:
        """Return ``a - b mod p`` (into ``out`` when given)."""
        return _blockwise(_sub_kernel, a, b, self._P, 1, out)

    def neg(self, a: FieldArray, *, out: FieldArray | None = None) -> FieldArray:
        """Return ``-a mod p`` (into ``out`` when given)."""
        return _blockwise(_sub_kernel, _ZERO, a, self._P, 1, out)

    def mul(self, a: FieldArray, b: FieldArray, *, out: FieldArray | None = None) -> FieldArray:
        """Return ``a * b mod p`` elementwise (into ``out`` when given).

        Multiplying by a public constant in ``[0, 8]`` (a 0-d operand, e.g. a small evaluation
        point) takes a shorter path.
        """
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        if self._mersenne:
            if b.ndim == 0 and int(b) <= 8:
                return _blockwise(_mul_tiny_kernel, a, b, self._P, 1, out)
            if a.ndim == 0 and int(a) <= 8:
                return _blockwise(_mul_tiny_kernel, b, a, self._P, 1, out)
            return _blockwise(_mul_mersenne61_kernel, a, b, self._P, 4, out)
        if self._small:
            return _blockwise(_mul_small_prime_kernel, a, b, self._P, 0, out)
        prod = np.asarray((a.astype(object) * b.astype(object)) % self.p).astype(np.uint64)
        if out is None:
            return prod
        _check_out(out, prod.shape)[...] = prod
        return out

    def pow(self, a: FieldArray, exponent: int) -> FieldArray:
        """Return ``a ** exponent mod p`` elementwise, ``exponent >= 0`` (square and multiply)."""
        if exponent < 0:
            raise FieldError(
                f"exponent must be >= 0, got {exponent}", hint="use inv() for inverses"
            )
        result = np.ones_like(np.asarray(a, dtype=np.uint64))
        base = np.asarray(a, dtype=np.uint64).copy()
        while exponent:
            if exponent & 1:
                result = self.mul(result, base)
            exponent >>= 1
            if exponent:
                base = self.mul(base, base)
        return result

    def inv(self, a: FieldArray) -> FieldArray:
        """Return ``a ** -1 mod p`` elementwise; raises :class:`FieldError` naming any zero."""
        return self.batch_inv(a)

    def batch_inv(self, a: FieldArray) -> FieldArray:
        """Invert many elements at once with Montgomery's trick, arranged as a product tree.

        Costs about three multiplications per element plus one scalar inversion, in ``log2(size)``
        vectorized passes (Fermat's ``a ** (p - 2)`` would cost about ``2 log2(p)``).

        Raises
        ------
        FieldError
            If an element is zero; the message gives the count and the first flat position.
        """
        a = np.asarray(a, dtype=np.uint64)
        flat = a.reshape(-1)
        zeros = np.flatnonzero(flat == 0)
        if zeros.size:
            raise FieldError(
                f"zero has no inverse; {zeros.size} zero(s), first at flat position {int(zeros[0])}",
                hint="mask or remove zeros before inverting",
            )
        if flat.size == 0:
            return a.copy()
        # Up the tree: each level holds the products of adjacent pairs of the level below.
        levels = [flat]
        while levels[-1].size > 1:
            level = levels[-1]
            if level.size % 2:
                level = levels[-1] = np.append(level, _U(1))
            levels.append(self.mul(level[0::2], level[1::2]))
        inverse = np.array([pow(int(levels[-1][0]), -1, self.p)], dtype=np.uint64)
        # Down the tree: 1/x = (1/(x y)) * y for each pair (x, y).
        for level in reversed(levels[:-1]):
            parent = inverse[: level.size // 2]
            inverse = np.empty(level.size, dtype=np.uint64)
            inverse[0::2] = self.mul(parent, level[1::2])
            inverse[1::2] = self.mul(parent, level[0::2])
        return inverse[: flat.size].reshape(a.shape)

    def sum(self, a: FieldArray, axis: int | None = None) -> FieldArray:
        """Return the sum modulo p along ``axis`` (all axes when None), exact for any length < 2**32."""
        a = np.asarray(a, dtype=np.uint64)
        length = a.size if axis is None else a.shape[axis]
        if length >= 1 << 32:
            raise FieldError(
                f"sum: {length} terms exceed 2**32", hint="sum in blocks and add the partial sums"
            )
        if self._mersenne and length <= 8:
            # Up to 8 elements below 2**61 sum below 2**64: one reduction and one fold.
            return _fold61(np.asarray(np.sum(a, axis=axis, dtype=np.uint64)))
        lo = np.sum(a & _M32, axis=axis, dtype=np.uint64)
        hi = np.sum(a >> _S32, axis=axis, dtype=np.uint64)
        if self._mersenne:
            # hi·2^32 = (hi >> 29)·2^61 + (hi mod 2^29)·2^32, and 2^61 = 1 (mod p).
            hi = _fold61(np.asarray(hi))
            shifted = (hi >> _S29) + ((hi & _M29) << _S32)  # < 2^33 + 2^61
            return self.add(_fold61(np.asarray(lo)), _fold61(shifted))
        two32 = np.asarray((1 << 32) % self.p, dtype=np.uint64)
        hi_r = np.asarray(hi % self._P, dtype=np.uint64)
        lo_r = np.asarray(lo % self._P, dtype=np.uint64)
        return self.add(self.mul(hi_r, two32), lo_r)

    def dot(self, a: FieldArray, b: FieldArray) -> FieldArray:
        """Return ``a @ b mod p`` with numpy's ``matmul`` shape rules (1-D or 2-D operands).

        Exact: operands are split into 16-bit limbs and multiplied in float64, where every partial
        sum stays below 2**53 (inner dimension up to 2**20).
        """
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise FieldError(
                f"dot: operands must be 1-D or 2-D, got shapes {a.shape} and {b.shape}"
            )
        inner = a.shape[-1]
        if inner != b.shape[0 if b.ndim == 1 else -2]:
            raise FieldError(f"dot: shapes {a.shape} and {b.shape} are not aligned")
        if inner > 1 << 20:
            raise FieldError(
                f"dot: inner dimension {inner} exceeds 2**20", hint="split the product"
            )
        if a.size * (b.shape[-1] if b.ndim == 2 else 1) <= _SMALL_DOT:
            # Tiny products (check polynomials, Lagrange rows): exact Python integers are faster
            # than the limb split below.
            exact = np.matmul(a.astype(object), b.astype(object)) % self.p
            return np.asarray(exact, dtype=np.uint64)
        n_limbs = (self.bits + 15) // 16
        mask = _U(0xFFFF)
        a_limbs = [((a >> _U(16 * i)) & mask).astype(np.float64) for i in range(n_limbs)]
        b_limbs = [((b >> _U(16 * j)) & mask).astype(np.float64) for j in range(n_limbs)]
        out_shape = np.matmul(a_limbs[0], b_limbs[0]).shape
        total = np.zeros(out_shape, dtype=np.uint64)
        for shift in range(2 * n_limbs - 1):
            acc = np.zeros(out_shape, dtype=np.uint64)
            for i in range(max(0, shift - n_limbs + 1), min(shift, n_limbs - 1) + 1):
                part = np.asarray(a_limbs[i] @ b_limbs[shift - i]).astype(np.uint64) % self._P
                acc = self.add(acc, part)
            term = self.mul(acc, np.asarray(pow(2, 16 * shift, self.p), dtype=np.uint64))
            total = self.add(total, term)
        return total

    # ----- sampling ---------------------------------------------------------------------------

    def random(self, shape: int | tuple[int, ...], rng: Csprng | None = None) -> FieldArray:
        """Return uniform elements of the given shape, drawn from ``rng`` (default: a process CSPRNG)."""
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape_t, dtype=np.int64))
        source = rng if rng is not None else _default_rng()
        return source.below(self.p, count).reshape(shape_t)

    def random_nonzero(self, shape: int | tuple[int, ...], rng: Csprng | None = None) -> FieldArray:
        """Return uniform non-zero elements of the given shape."""
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        count = int(np.prod(shape_t, dtype=np.int64))
        source = rng if rng is not None else _default_rng()
        return (source.below(self.p - 1, count) + _U(1)).reshape(shape_t)


_Kernel = Callable[..., None]
#: Largest number of scalar products ``dot`` computes with Python integers (faster when tiny).
_SMALL_DOT = 2048


def _flat_operand(x: FieldArray, shape: tuple[int, ...]) -> FieldArray:
    """Return ``x`` as a 0-d array (broadcast inside every block) or flattened to ``shape``'s size."""
    if x.ndim == 0:
        return x
    if x.size == 1:
        return x.reshape(())
    if x.shape != shape:
        x = np.broadcast_to(x, shape)
    return np.ravel(x)


def _check_out(out: FieldArray, shape: tuple[int, ...]) -> FieldArray:
    if out.dtype != np.uint64 or out.shape != shape or not out.flags.c_contiguous:
        raise FieldError(
            f"out must be a C-contiguous uint64 array of shape {shape}, got {out.dtype} array of "
            f"shape {out.shape}",
            hint="allocate it with numpy.empty(shape, dtype=numpy.uint64)",
        )
    return out


def _blockwise(
    kernel: _Kernel,
    a: object,
    b: object,
    p: np.uint64,
    n_scratch: int,
    out: FieldArray | None = None,
) -> FieldArray:
    """Apply ``kernel(a, b, out, p, *scratch)`` block by block, broadcasting like numpy.

    Working in blocks of ``_BLOCK`` elements with preallocated scratch keeps temporaries in cache
    and allocates only the result.
    """
    a_arr = np.asarray(a, dtype=np.uint64)
    b_arr = np.asarray(b, dtype=np.uint64)
    shape = np.broadcast_shapes(a_arr.shape, b_arr.shape)
    out = np.empty(shape, dtype=np.uint64) if out is None else _check_out(out, shape)
    a_flat, b_flat = _flat_operand(a_arr, shape), _flat_operand(b_arr, shape)
    out_flat = out.reshape(-1)
    size = out_flat.size
    scratch = [np.empty(min(size, _BLOCK), dtype=np.uint64) for _ in range(n_scratch)]
    with np.errstate(over="ignore"):  # unsigned wrap-around is part of the kernels
        for start in range(0, size, _BLOCK):
            stop = min(size, start + _BLOCK)
            kernel(
                a_flat if a_flat.ndim == 0 else a_flat[start:stop],
                b_flat if b_flat.ndim == 0 else b_flat[start:stop],
                out_flat[start:stop],
                p,
                *(t[: stop - start] for t in scratch),
            )
    return out


def _add_kernel(a: FieldArray, b: FieldArray, out: FieldArray, p: np.uint64, t: FieldArray) -> None:
    # a + b < 2p < 2**64; min(s, s - p) picks s - p exactly when it did not wrap around.
    np.add(a, b, out=out)
    np.subtract(out, p, out=t)
    np.minimum(out, t, out=out)


def _sub_kernel(a: FieldArray, b: FieldArray, out: FieldArray, p: np.uint64, t: FieldArray) -> None:
    # a - b wraps to 2**64 + a - b when a < b; adding p then wraps back to a - b + p < p.
    np.subtract(a, b, out=out)
    np.add(out, p, out=t)
    np.minimum(out, t, out=out)


def _mul_small_prime_kernel(a: FieldArray, b: FieldArray, out: FieldArray, p: np.uint64) -> None:
    # p < 2**32, so a * b < 2**64.
    np.multiply(a, b, out=out)
    np.remainder(out, p, out=out)


def _mul_tiny_kernel(
    a: FieldArray, c: FieldArray, out: FieldArray, p: np.uint64, t: FieldArray
) -> None:
    # Modulo 2**61 - 1 by a constant c <= 8: a * c < 2**64; fold with 2**61 = 1 (mod p).
    np.multiply(a, c, out=out)
    _fold_into(out, out, t)


def _mul_mersenne61_kernel(
    a: FieldArray,
    b: FieldArray,
    out: FieldArray,
    p: np.uint64,
    t1: FieldArray,
    t2: FieldArray,
    t3: FieldArray,
    t4: FieldArray,
) -> None:
    """Multiply modulo 2**61 - 1 with 32-bit halves; every intermediate fits in 63 bits.

    With a = a1·2^32 + a0 and b = b1·2^32 + b0 (a1, b1 < 2^29):
    ab = a1b1·2^64 + (a1b0 + a0b1)·2^32 + a0b0, and 2^61 ≡ 1 gives 2^64 ≡ 8.
    """
    np.right_shift(a, _S32, out=t1)  # a1
    np.right_shift(b, _S32, out=t2)  # b1
    np.bitwise_and(b, _M32, out=t3)  # b0
    np.bitwise_and(a, _M32, out=t4)  # a0; a and b are not read again, so out may alias them
    np.multiply(t1, t2, out=out)  # hi = a1 b1 < 2^58
    np.multiply(t1, t3, out=t1)  # a1 b0
    np.multiply(t4, t2, out=t2)  # a0 b1
    np.add(t1, t2, out=t1)  # mid < 2^62
    np.multiply(t4, t3, out=t4)  # lo = a0 b0 < 2^64
    np.left_shift(out, _S3, out=out)  # hi·2^64 = hi·8
    np.right_shift(t1, _S29, out=t2)  # mid·2^32 = (mid >> 29)·2^61 + (mid mod 2^29)·2^32
    np.add(out, t2, out=out)
    np.bitwise_and(t1, _M29, out=t1)
    np.left_shift(t1, _S32, out=t1)
    np.add(out, t1, out=out)
    np.right_shift(t4, _S61, out=t2)  # lo = (lo >> 61)·2^61 + (lo mod 2^61)
    np.add(out, t2, out=out)
    np.bitwise_and(t4, _P61, out=t4)
    np.add(out, t4, out=out)  # < 2^63
    _fold_into(out, out, t2)


def _fold_into(x: FieldArray, out: FieldArray, t: FieldArray) -> None:
    """Reduce any 64-bit words modulo 2**61 - 1 into ``out`` (may be ``x``); ``t`` is scratch.

    ``(x mod 2^61) + (x >> 61) <= p + 7`` because ``2^61 = 1 (mod p)``; one conditional
    subtraction of p finishes.
    """
    np.right_shift(x, _S61, out=t)
    np.bitwise_and(x, _P61, out=out)
    np.add(out, t, out=out)
    np.subtract(out, _P61, out=t)
    np.minimum(out, t, out=out)


def _fold_kernel(
    x: FieldArray, _: FieldArray, out: FieldArray, p: np.uint64, t: FieldArray
) -> None:
    _fold_into(x, out, t)


def _fold61(x: FieldArray) -> FieldArray:
    """Reduce 64-bit words modulo 2**61 - 1, in place (``x`` must be a fresh array we own)."""
    return _blockwise(_fold_kernel, x, _ZERO, _P61, 1, x if x.flags.c_contiguous else None)


@cache
def default_field() -> Field:
    """Return the shared default field GF(2**61 - 1)."""
    return Field()
