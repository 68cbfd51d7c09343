"""Exact samplers for differential privacy: every draw is an integer made from CSPRNG words.

No floating-point number is ever computed on the way from random bits to a sample, so the
low-order-bit attack on the textbook floating-point Laplace (Mironov 2012) has nothing to attack:
the released value is ``true answer + integer noise`` and the noise has exactly the stated
distribution. Parameters are rationals (:class:`fractions.Fraction`); randomness comes from
:class:`veil.field.Csprng` (AES-256-CTR keyed from ``os.urandom``), never ``numpy.random``.

The algorithms are those of Canonne, Kamath and Steinke, *The Discrete Gaussian for Differential
Privacy* (NeurIPS 2020), [CKS20]:

* :func:`bernoulli_exp_neg` — Bernoulli(exp(−γ)) for rational γ ≥ 0 (their Algorithm 1),
  using only Bernoulli(n/d) coins, i.e. comparisons of uniform integers;
* :func:`geometric` — P[X = k] ∝ exp(−k/scale) on k ≥ 0, from the decomposition
  ``X = ⌊(U + t·V)/s⌋`` used inside their Algorithm 2;
* :func:`discrete_laplace` — P[X = x] ∝ exp(−|x|/scale) on the integers (their Algorithm 2);
* :func:`discrete_gaussian` — P[X = x] ∝ exp(−x²/(2σ²)) on the integers (their Algorithm 3,
  rejection from a discrete Laplace proposal).

Every sampler is vectorized: a call for ``size`` samples runs each rejection loop once over all
still-pending lanes, with ``numpy`` integer operations on batches of CSPRNG words. The loops end
after a few dozen rounds whatever ``size`` is (each round finishes a constant fraction of lanes).
When an intermediate would not fit in 64 bits (huge scales, very unlikely lanes) the affected lanes
continue with Python integers: slower, still exact.

Each function takes ``rng``; ``None`` (the default) draws a fresh :class:`~veil.field.Csprng` from
the operating system for the call, so forked processes never share a stream. Pass
``Csprng(seed=...)`` only in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from math import isqrt
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from veil.dp._numbers import as_fraction, positive_fraction, probability
from veil.errors import ConfigError
from veil.field import Csprng

__all__ = [
    "bernoulli",
    "bernoulli_exp_neg",
    "discrete_gaussian",
    "discrete_laplace",
    "geometric",
    "uniform_below",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_TWO64 = 1 << 64
_INT64_MAX = (1 << 63) - 1
# Squares of magnitudes below this fit in an int64.
_SQRT_INT64 = 3_037_000_499
# Batches up to this size over-propose to save rounds; larger ones propose exactly what is missing.
_SMALL_BATCH = 4096
# The largest scale numerator or proposal width handled on the 64-bit path.
_MAX_WIDTH = 1 << 62


class RandomSource(Protocol):
    """What the samplers need from a CSPRNG (``veil.field.Csprng`` provides it)."""

    def random_bytes(self, n_bytes: int) -> bytes: ...

    def uint64(self, count: int) -> npt.NDArray[np.uint64]: ...

    def below(self, bound: int, count: int) -> npt.NDArray[np.uint64]: ...


class WordStream:
    """Serve CSPRNG words from a buffer refilled in blocks, for the samplers' many small draws.

    The rejection loops draw a few words at a time dozens of times per call; asking the cipher for
    one block of at least 4096 words and slicing it removes the per-draw overhead. Every word is
    still a fresh CSPRNG word, used once; whatever is left when the stream is dropped is discarded.
    """

    __slots__ = ("_buf", "_pos", "_rng")

    def __init__(self, rng: RandomSource) -> None:
        self._rng = rng
        self._buf = np.empty(0, dtype=np.uint64)
        self._pos = 0

    def random_bytes(self, n_bytes: int) -> bytes:
        """Return ``n_bytes`` fresh bytes straight from the CSPRNG."""
        return self._rng.random_bytes(n_bytes)

    def uint64(self, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` uniform words (a view of the buffer: do not modify it in place)."""
        if self._pos + count > self._buf.size:
            self._buf = self._rng.uint64(max(count, 4096))
            self._pos = 0
        out = self._buf[self._pos : self._pos + count]
        self._pos += count
        return out

    def below(self, bound: int, count: int) -> npt.NDArray[np.uint64]:
        """Return ``count`` uniform integers in ``[0, bound)`` by masking and rejection."""
        if bound == 1:
            return np.zeros(count, dtype=np.uint64)
        if bound == _TWO64:
            return self.uint64(count).copy()
        bits = (bound - 1).bit_length()
        mask = np.uint64((1 << bits) - 1)
        out = self.uint64(count) & mask
        if bound == 1 << bits:
            return out
        limit = np.uint64(bound)
        bad = np.flatnonzero(out >= limit)
        while bad.size:  # each round keeps at least half of the remaining draws in expectation
            redo = self.uint64(bad.size) & mask
            out[bad] = redo
            bad = bad[redo >= limit]
        return out


def _source(rng: Csprng | None) -> WordStream:
    return WordStream(rng if rng is not None else Csprng())


def stream(rng: RandomSource) -> WordStream:
    """Return ``rng`` wrapped in a :class:`WordStream` (unchanged if it already is one)."""
    return rng if isinstance(rng, WordStream) else WordStream(rng)


def _count(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ConfigError(f"size must be a non-negative integer, got {size!r}", field="size")
    return int(size)


def _below_int(rng: RandomSource, bound: int) -> int:
    """Return one uniform integer in ``[0, bound)`` for any ``bound >= 1`` (rejection sampling)."""
    bits = (bound - 1).bit_length()
    if bits == 0:
        return 0
    n_bytes = (bits + 7) // 8
    mask = (1 << bits) - 1
    while True:
        value = int.from_bytes(rng.random_bytes(n_bytes), "little") & mask
        if value < bound:
            return value


def uniform_below(bound: int, size: int, *, rng: Csprng | None = None) -> npt.NDArray[np.uint64]:
    """Return ``size`` independent uniform integers in ``[0, bound)``, ``1 <= bound <= 2**64``."""
    if not 1 <= bound <= _TWO64:
        raise ConfigError(f"bound must be in [1, 2**64], got {bound}", field="bound")
    return _source(rng).below(bound, _count(size)).copy()


def bernoulli(p: object, size: int = 1, *, rng: Csprng | None = None) -> BoolArray:
    """Return ``size`` independent Bernoulli(``p``) draws for a rational ``p`` in ``[0, 1]``.

    Exact: with ``p = n/d`` each draw is ``U < n`` for ``U`` uniform on ``{0, …, d−1}``.
    """
    frac = probability(p, "p")
    count = _count(size)
    source = _source(rng)
    if frac.denominator <= _TWO64:
        return source.below(frac.denominator, count) < np.uint64(frac.numerator)
    return np.array(
        [_below_int(source, frac.denominator) < frac.numerator for _ in range(count)], dtype=bool
    )


# ----- Bernoulli(exp(-gamma)) ------------------------------------------------------------------


def _bern_exp_fraction(rng: RandomSource, num: npt.NDArray[np.uint64], den: int) -> BoolArray:
    """Return one Bernoulli(exp(−num[i]/den)) draw per lane, for ``0 <= num[i] <= den``.

    [CKS20] Algorithm 1: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until one is 0; the answer is
    whether that k is odd. P[k > j] = γ^j / j!, so P[k odd] = Σ (−γ)^j / j! = exp(−γ).
    All lanes share k at each round, so one round is one vectorized draw of uniforms in [0, den·k).
    """
    out = np.zeros(num.size, dtype=bool)
    lanes = np.arange(num.size)
    current = num
    k = 1
    while lanes.size:
        bound = den * k
        if bound > _TWO64:  # astronomically rare: continue these lanes with Python integers
            for lane, n in zip(lanes.tolist(), current.tolist(), strict=True):
                out[lane] = _bern_exp_fraction_scalar(rng, int(n), den, k)
            break
        success = rng.below(bound, lanes.size) < current
        out[lanes[~success]] = k % 2 == 1
        lanes = lanes[success]
        current = current[success]
        k += 1
    return out


def _bern_exp_fraction_scalar(rng: RandomSource, num: int, den: int, k: int = 1) -> bool:
    while _below_int(rng, den * k) < num:
        k += 1
    return k % 2 == 1


def _bern_exp_one(rng: RandomSource, count: int) -> BoolArray:
    """Return ``count`` Bernoulli(exp(−1)) draws: Algorithm 1 with γ = 1 (A_k is ``U_k == 0``)."""
    out = np.zeros(count, dtype=bool)
    lanes = np.arange(count)
    k = 1
    while lanes.size:
        success = rng.below(k, lanes.size) == 0 if k > 1 else np.ones(lanes.size, dtype=bool)
        out[lanes[~success]] = k % 2 == 1
        lanes = lanes[success]
        k += 1
    return out


def _bern_exp_lanes(
    rng: RandomSource, num: npt.NDArray[np.int64] | npt.NDArray[np.object_], den: int
) -> BoolArray:
    """Return one Bernoulli(exp(−num[i]/den)) draw per lane for integers ``num[i] >= 0``, ``den >= 1``.

    γ = m + r/den with m = ⌊γ⌋: exp(−γ) = exp(−1)^m · exp(−r/den), so a lane succeeds when m
    independent Bernoulli(exp(−1)) draws and one Bernoulli(exp(−r/den)) draw all succeed
    ([CKS20] Algorithm 1, case γ > 1). Lanes stop at their first failure, so the number of rounds
    is small even when some m is huge.
    """
    rng = stream(rng)
    n = num.shape[0]
    whole = num // den
    rest = num - whole * den
    alive = np.ones(n, dtype=bool)
    pending = np.flatnonzero(whole > 0)
    done_rounds = 0
    while pending.size:
        ok = _bern_exp_one(rng, pending.size)
        alive[pending[~ok]] = False
        pending = pending[ok]
        done_rounds += 1
        pending = pending[whole[pending] > done_rounds]
    lanes = np.flatnonzero(alive)
    if lanes.size:
        if den <= _TWO64:
            alive[lanes] = _bern_exp_fraction(rng, rest[lanes].astype(np.uint64), den)
        else:
            for lane in lanes.tolist():
                alive[lane] = _bern_exp_fraction_scalar(rng, int(rest[lane]), den)
    return alive


def bernoulli_exp_neg(gamma: object, size: int = 1, *, rng: Csprng | None = None) -> BoolArray:
    """Return ``size`` independent Bernoulli(exp(−``gamma``)) draws for a rational ``gamma >= 0``.

    Exact ([CKS20] Algorithm 1): only Bernoulli(n/d) coins with integer n, d are used.

    Examples
    --------
    >>> from veil.field import Csprng
    >>> draws = bernoulli_exp_neg("1/2", 10_000, rng=Csprng(seed=bytes(32)))
    >>> bool(0.58 < draws.mean() < 0.63)    # exp(-1/2) = 0.6065...
    True
    """
    g = as_fraction(gamma, "gamma")
    if g < 0:
        raise ConfigError(f"gamma must be >= 0, got {gamma!r}", field="gamma")
    count = _count(size)
    num = _int_array(g.numerator, count)
    return _bern_exp_lanes(_source(rng), num, g.denominator)


def _int_array(value: int, count: int) -> npt.NDArray[np.int64] | npt.NDArray[np.object_]:
    if value <= _INT64_MAX:
        return np.full(count, value, dtype=np.int64)
    return np.full(count, value, dtype=object)


# ----- geometric and discrete Laplace ----------------------------------------------------------


def _fill(
    count: int,
    propose: Callable[[int], tuple[npt.NDArray[Any], BoolArray]],
    dtype: type[np.generic],
    factor: float = 1.2,
) -> npt.NDArray[Any]:
    """Return ``count`` accepted values of a rejection sampler, proposing in over-sized batches.

    ``propose(m)`` returns m independent candidates and their acceptance flags. Accepted
    candidates are independent draws from the target, so keeping the first ones in index order
    is exact. Proposing a little more than what is missing (``factor``, about the inverse of the
    acceptance rate, plus 16) finishes in one or two rounds without wasting many draws.
    """
    out = np.empty(count, dtype=dtype)
    filled = 0
    while filled < count:
        need = count - filled
        # small batches: over-propose (round trips dominate); large ones: no waste
        values, ok = propose(int(factor * need) + 16 if need <= _SMALL_BATCH else need)
        got = values[ok][:need]
        out[filled : filled + got.size] = got
        filled += got.size
    return out


def _geometric_one(rng: RandomSource, count: int) -> IntArray:
    """Return ``count`` draws of V with P[V ≥ v] = exp(−v): Bernoulli(exp(−1)) successes before
    the first failure, tossed ``c`` per lane at a time (all ``c`` succeed with probability e^−c):
    few coins per lane for large batches, more per round (fewer rounds) for small ones.
    """
    per_lane = 1 if count > _SMALL_BATCH else 6
    v = np.zeros(count, dtype=np.int64)
    lanes = np.arange(count)
    while lanes.size:
        coins = _bern_exp_one(rng, lanes.size * per_lane).reshape(lanes.size, per_lane)
        failed = ~coins
        stopped = failed.any(axis=1)
        v[lanes[stopped]] += failed[stopped].argmax(axis=1)
        v[lanes[~stopped]] += per_lane
        lanes = lanes[~stopped]
    return v


def _geometric_ts(rng: RandomSource, t: int, s: int, count: int) -> IntArray:
    """Return ``count`` draws with P[Y = k] ∝ exp(−k·s/t), k ≥ 0 (the scale is t/s).

    U is uniform on {0, …, t−1} accepted with probability exp(−U/t), V ~ Geometric(exp(−1));
    X = U + t·V has P[X = x] ∝ exp(−x/t), and Y = ⌊X/s⌋ has P[Y ≥ y] = exp(−y·s/t).
    """
    if t > 1:

        def propose_u(m: int) -> tuple[npt.NDArray[np.uint64], BoolArray]:
            cand = rng.below(t, m)
            return cand, _bern_exp_fraction(rng, cand, t)

        u = _fill(count, propose_u, np.uint64, factor=1.7)
    else:
        u = np.zeros(count, dtype=np.uint64)
    v = _geometric_one(rng, count)
    v_max = int(v.max()) if count else 0
    if t * v_max + t <= _INT64_MAX:
        x = u.astype(np.int64) + np.int64(t) * v
        return x // np.int64(s) if s > 1 else x
    y = [(int(ui) + t * int(vi)) // s for ui, vi in zip(u.tolist(), v.tolist(), strict=True)]
    if max(y) > _INT64_MAX:  # a probability below exp(-2**60 / scale): refuse, never wrap
        raise ConfigError(
            "a geometric draw exceeded 2**63; the scale is too large for 64-bit output",
            hint="use a coarser granularity so the noise scale is smaller",
        )
    return np.array(y, dtype=np.int64)


def _scale_parts(scale: object, name: str = "scale") -> tuple[int, int]:
    frac = positive_fraction(scale, name)
    if frac.numerator > _MAX_WIDTH or frac.denominator > _MAX_WIDTH:
        raise ConfigError(
            f"{name} {frac} has a numerator or denominator above 2**62",
            hint="round the scale up to a simpler fraction (more noise is always safe)",
            field=name,
        )
    return frac.numerator, frac.denominator


def geometric(scale: object, size: int = 1, *, rng: Csprng | None = None) -> IntArray:
    """Return ``size`` draws with P[X = k] = (1 − q)·q^k on k = 0, 1, …, where q = exp(−1/scale).

    Parameters
    ----------
    scale : rational > 0
        ``1/scale`` is the rate; the mean is ``q / (1 − q)``.
    size : int, default=1
    rng : Csprng, optional

    Returns
    -------
    ndarray of int64, shape ``(size,)``
    """
    t, s = _scale_parts(scale)
    return _geometric_ts(_source(rng), t, s, _count(size))


def _discrete_laplace_ts(rng: RandomSource, t: int, s: int, count: int) -> IntArray:
    def propose(m: int) -> tuple[IntArray, BoolArray]:
        y = _geometric_ts(rng, t, s, m)
        negative = rng.below(2, m) == 1
        keep = ~(negative & (y == 0))  # [CKS20] Alg. 2 step 7: −0 is rejected so 0 is not doubled
        return np.where(negative, -y, y), keep

    out: IntArray = _fill(count, propose, np.int64)
    return out


def discrete_laplace(scale: object, size: int = 1, *, rng: Csprng | None = None) -> IntArray:
    """Return ``size`` draws from the discrete Laplace distribution on the integers.

    P[X = x] = (1 − q)/(1 + q) · q^|x| with q = exp(−1/scale). Adding it to an integer query of
    ℓ1 sensitivity Δ gives (Δ/scale)-differential privacy.

    Parameters
    ----------
    scale : rational > 0
        The ``t`` of [CKS20]: the noise decays by a factor ``e`` every ``scale`` integers. For large
        scales the standard deviation approaches ``sqrt(2)·scale``, as for the continuous Laplace.
    size : int, default=1
    rng : Csprng, optional

    Returns
    -------
    ndarray of int64, shape ``(size,)``

    Examples
    --------
    >>> from veil.field import Csprng
    >>> noise = discrete_laplace(10, 5, rng=Csprng(seed=bytes(32)))
    >>> noise.dtype, noise.shape
    (dtype('int64'), (5,))
    """
    t, s = _scale_parts(scale)
    return _discrete_laplace_ts(_source(rng), t, s, _count(size))


# ----- discrete Gaussian -----------------------------------------------------------------------


def discrete_gaussian(sigma2: object, size: int = 1, *, rng: Csprng | None = None) -> IntArray:
    """Return ``size`` draws from the discrete Gaussian N_Z(0, ``sigma2``) on the integers.

    P[X = x] ∝ exp(−x²/(2σ²)). Adding it to an integer query of ℓ2 sensitivity Δ gives
    (Δ²/(2σ²))-zero-concentrated differential privacy ([CKS20] Theorem 14).

    Parameters
    ----------
    sigma2 : rational > 0
        σ², the scale parameter squared (the variance is slightly below σ² for small σ).
    size : int, default=1
    rng : Csprng, optional

    Returns
    -------
    ndarray of int64, shape ``(size,)``

    Notes
    -----
    [CKS20] Algorithm 3: with t = ⌊σ⌋ + 1, propose Y from the discrete Laplace of scale t and
    accept it with probability exp(−(|Y| − σ²/t)²/(2σ²)), a Bernoulli(exp(−γ)) with rational γ.
    About 1/(1 + 1/e) ≈ 0.73 of proposals or better are accepted.
    """
    s2 = positive_fraction(sigma2, "sigma2")
    count = _count(size)
    source = _source(rng)
    a, b = s2.numerator, s2.denominator
    t = isqrt(a // b) + 1  # = floor(sigma) + 1 exactly
    if t > _MAX_WIDTH:
        raise ConfigError(
            f"sigma2 {s2} is too large for 64-bit output", field="sigma2", hint="use a coarser grid"
        )
    # gamma = (|Y| - sigma^2/t)^2 / (2 sigma^2) = (|Y|*b*t - a)^2 / (2*a*b*t^2); when t divides a
    # (mechanisms round sigma^2 to t*c/D so it does) this reduces to (|Y|*b - a/t)^2 / (2*a*b).
    if a % t == 0:
        mult, offset, den = b, a // t, 2 * a * b
    else:
        mult, offset, den = b * t, a, 2 * a * b * t * t

    def propose(m: int) -> tuple[IntArray, BoolArray]:
        y = _discrete_laplace_ts(source, t, 1, m)
        mag = np.abs(y)
        num: npt.NDArray[np.int64] | npt.NDArray[np.object_]
        if int(mag.max()) * mult + offset < _SQRT_INT64:
            dev = mag * np.int64(mult) - np.int64(offset)
            num = dev * dev
        else:
            dev_obj = mag.astype(object) * mult - offset
            num = dev_obj * dev_obj
        return y, _bern_exp_lanes(source, num, den)

    out: IntArray = _fill(count, propose, np.int64, factor=1.5)
    return out
