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
from functools import cache, lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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
    """

    def __init__(self, seed: bytes | None = None) -> None:
        if seed is None:
            key, nonce = os.urandom(32), os.urandom(16)
        else:
            if len(seed) != 32:
                raise FieldError(
                    f"Csprng seed must be 32 bytes, got {len(seed)}",
                    hint="pass os.urandom(32), or omit the seed outside tests",
                )
            key, nonce = seed, bytes(16)
        self._encryptor = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()

    def random_bytes(self, n_bytes: int) -> bytes:
        """Return ``n_bytes`` uniformly random bytes."""
        return self._encryptor.update(bytes(n_bytes))

    def uint64(self, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` independent uniform 64-bit words, shape ``(count,)``."""
        return np.frombuffer(self.random_bytes(8 * count), dtype=np.uint64).copy()

    def below(self, bound: int, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` uniform integers in ``[0, bound)`` by rejection sampling (``1 <= bound <= 2**64``)."""
        if not 1 <= bound <= 1 << 64:
            raise FieldError(f"bound must be in [1, 2**64], got {bound}")
        if bound == 1 << 64:
            return self.uint64(count)
        bits = max(1, (bound - 1).bit_length())
        mask = _U((1 << bits) - 1) if bits < 64 else _U(0xFFFFFFFFFFFFFFFF)
        out = self.uint64(count) & mask
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
        if arr.dtype == np.uint64:
            return arr % self._P if arr.size and int(arr.max()) >= self.p else arr.copy()
        if arr.dtype.kind in "iub":
            return np.mod(arr.astype(np.int64), np.int64(self.p)).astype(np.uint64)
        if arr.dtype == object:
            reduced = (
                np.vectorize(lambda v: int(v) % self.p, otypes=[object])(arr) if arr.size else arr
            )
            return np.asarray(reduced, dtype=object).astype(np.uint64)
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

    def add(self, a: FieldArray, b: FieldArray) -> FieldArray:
        """Return ``a + b mod p``."""
        s = np.add(a, b, dtype=np.uint64)
        with np.errstate(over="ignore"):  # unsigned wrap-around is the point of the trick
            return np.minimum(s, s - self._P)

    def sub(self, a: FieldArray, b: FieldArray) -> FieldArray:
        """Return ``a - b mod p``."""
        with np.errstate(over="ignore"):
            d = np.subtract(a, b, dtype=np.uint64)
            return np.minimum(d, d + self._P)

    def neg(self, a: FieldArray) -> FieldArray:
        """Return ``-a mod p``."""
        d = self._P - np.asarray(a, dtype=np.uint64)
        return np.where(d == self._P, _U(0), d)

    def mul(self, a: FieldArray, b: FieldArray) -> FieldArray:
        """Return ``a * b mod p`` elementwise."""
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        if self._mersenne:
            return _mul_mersenne61(a, b)
        if self._small:
            return np.multiply(a, b) % self._P
        prod = (a.astype(object) * b.astype(object)) % self.p
        return np.asarray(prod).astype(np.uint64)

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
        a = np.asarray(a, dtype=np.uint64)
        zeros = np.flatnonzero(a.reshape(-1) == 0)
        if zeros.size:
            raise FieldError(
                f"zero has no inverse; {zeros.size} zero(s), first at flat position {int(zeros[0])}"
            )
        return self.pow(a, self.p - 2)

    def batch_inv(self, a: FieldArray) -> FieldArray:
        """Invert many elements at once (Fermat, vectorized: ~2·log2(p) passes for the whole batch)."""
        return self.inv(a)

    def sum(self, a: FieldArray, axis: int | None = None) -> FieldArray:
        """Return the sum modulo p along ``axis`` (all axes when None), exact for any length < 2**32."""
        a = np.asarray(a, dtype=np.uint64)
        lo = np.sum(a & _M32, axis=axis, dtype=np.uint64)
        hi = np.sum(a >> _S32, axis=axis, dtype=np.uint64)
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
        inner = a.shape[-1]
        if inner != b.shape[0 if b.ndim == 1 else -2]:
            raise FieldError(f"dot: shapes {a.shape} and {b.shape} are not aligned")
        if inner > 1 << 20:
            raise FieldError(
                f"dot: inner dimension {inner} exceeds 2**20", hint="split the product"
            )
        n_limbs = (self.bits + 15) // 16
        mask = _U(0xFFFF)
        a_limbs = [((a >> _U(16 * i)) & mask).astype(np.float64) for i in range(n_limbs)]
        b_limbs = [((b >> _U(16 * j)) & mask).astype(np.float64) for j in range(n_limbs)]
        total: FieldArray | None = None
        for shift in range(2 * n_limbs - 1):
            acc: FieldArray | None = None
            for i in range(max(0, shift - n_limbs + 1), min(shift, n_limbs - 1) + 1):
                part = np.asarray(a_limbs[i] @ b_limbs[shift - i]).astype(np.uint64) % self._P
                acc = part if acc is None else self.add(acc, part)
            assert acc is not None
            term = self.mul(acc, np.asarray(pow(2, 16 * shift, self.p), dtype=np.uint64))
            total = term if total is None else self.add(total, term)
        assert total is not None
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


def _mul_mersenne61(a: FieldArray, b: FieldArray) -> FieldArray:
    """Multiply modulo 2**61 - 1 with 32-bit halves; every intermediate fits in 63 bits.

    With a = a1·2^32 + a0 and b = b1·2^32 + b0 (a1, b1 < 2^29):
    ab = a1b1·2^64 + (a1b0 + a0b1)·2^32 + a0b0, and 2^61 ≡ 1 gives 2^64 ≡ 8.
    """
    a0, a1 = a & _M32, a >> _S32
    b0, b1 = b & _M32, b >> _S32
    lo = a0 * b0  # < 2^64
    mid = a1 * b0 + a0 * b1  # < 2^62
    hi = a1 * b1  # < 2^58
    s = (hi << _S3) + (mid >> _S29) + ((mid & _M29) << _S32) + (lo >> _S61) + (lo & _P61)
    s = (s & _P61) + (s >> _S61)  # now <= p + 3
    with np.errstate(over="ignore"):
        out: FieldArray = np.minimum(s, s - _P61)
    return out


@cache
def default_field() -> Field:
    """Return the shared default field GF(2**61 - 1)."""
    return Field()
