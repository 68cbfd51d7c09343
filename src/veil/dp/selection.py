"""Private selection: the exponential mechanism, report-noisy-max, and the sparse vector technique.

All three sample exactly, with rational arithmetic and Bernoulli(exp(−γ)) coins from
:mod:`veil.dp.samplers`; no floating-point weight or noise is ever formed.

* :class:`ExponentialMechanism` — McSherry & Talwar 2007: pick candidate ``r`` with probability
  ∝ exp(ε·score(r)/(2Δ)) (∝ exp(ε·score/Δ) for monotonic scores). Sampled by rejection: propose
  ``r`` uniformly, accept with probability exp(−ε(max − score(r))/(2Δ)).
* :class:`ReportNoisyMax` — report the index of the largest noisy score, with exponential noise
  (Ding, Kifer, Wang, Xiao 2021 show this is exactly the *permute-and-flip* mechanism of
  McKenna & Sheldon 2020, which is how it is sampled: visit candidates in random order and stop
  at the first ``r`` accepted with probability exp(−ε(max − score(r))/(2Δ))). ε-DP, and never
  less accurate in expectation than the exponential mechanism.
* :class:`AboveThreshold` — the sparse vector technique (Dwork, Naor, Reingold, Rothblum, Vadhan
  2009; the corrected analysis of Lyu, Su, Li 2017, Algorithm 1): answer "is query i above the
  threshold?" for an unbounded stream of queries, paying only for the ``max_above`` positive
  answers. Threshold noise Lap(2Δ/ε), query noise Lap(4cΔ/ε) (Lap(2cΔ/ε) for monotonic
  queries), both discrete on integer-valued queries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from veil.dp import samplers
from veil.dp._numbers import as_fraction, positive_fraction
from veil.dp.guarantee import Guarantee, PrivacyUnit, Release
from veil.dp.mechanisms import Mechanism, check_granularity, simplify_scale_up
from veil.errors import ConfigError, DataError, PrivacyError
from veil.field import Csprng

__all__ = ["AboveThreshold", "ExponentialMechanism", "ReportNoisyMax", "SparseVectorSession"]

# Proposals drawn per pending lane per round of rejection sampling.
_MAX_BATCH = 4096


def _exact_gaps(scores: Any, coefficient: Fraction) -> tuple[npt.NDArray[Any], int]:
    """Return per-candidate numerators N_r and a common denominator D with N_r/D = c·(max − s_r).

    Integer scores stay int64 when they fit; real scores are taken at their exact binary value.
    """
    arr = np.asarray(scores)
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(f"scores must be a non-empty 1-D sequence, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise DataError("scores hold NaN or infinite values", hint="scores must be finite numbers")
    if arr.dtype.kind not in "iufb" and arr.dtype != object:
        raise DataError(f"scores must be numbers, got dtype {arr.dtype}")
    fracs = [Fraction(v) if isinstance(v, float) else as_fraction(v, "score") for v in arr.tolist()]
    den_scores = math.lcm(*(f.denominator for f in fracs))
    ints = [f.numerator * (den_scores // f.denominator) for f in fracs]
    top = max(ints)
    num_factor, den = coefficient.numerator, coefficient.denominator * den_scores
    gaps = [(top - v) * num_factor for v in ints]
    if max(gaps) < (1 << 62):
        return np.array(gaps, dtype=np.int64), den
    return np.array(gaps, dtype=object), den


def _first_accepted(
    rng: samplers.RandomSource, gaps: npt.NDArray[Any], den: int, lanes: int
) -> npt.NDArray[np.int64]:
    """Return ``lanes`` independent draws of r with P[r] ∝ exp(−gaps[r]/den) (rejection sampling)."""
    rng = samplers.stream(rng)
    k = gaps.shape[0]
    out = np.full(lanes, -1, dtype=np.int64)
    todo = np.arange(lanes)
    batch = min(max(k, 16), _MAX_BATCH)
    while todo.size:
        per_lane = max(1, min(batch, 1_000_000 // todo.size))
        proposals = rng.below(k, todo.size * per_lane).astype(np.int64).reshape(todo.size, per_lane)
        accepted = samplers._bern_exp_lanes(rng, gaps[proposals.reshape(-1)], den).reshape(
            todo.size, per_lane
        )
        hit = accepted.any(axis=1)
        first = accepted.argmax(axis=1)
        out[todo[hit]] = proposals[hit, first[hit]]
        todo = todo[~hit]
    return out


class ExponentialMechanism(Mechanism):
    """Select a candidate with probability ∝ exp(ε·score/(2Δ)): ε-DP.

    Parameters
    ----------
    epsilon : rational > 0
    candidates : sequence
        The public list of outcomes.
    score : callable ``(data, candidates) -> sequence of numbers``
        One score per candidate; higher is better.
    sensitivity : rational > 0, default=1
        max |score(D, r) − score(D', r)| over neighbours and candidates.
    monotonic : bool, default=False
        True when adding a person can only raise (or only lower) all scores, as for counts; the
        weights are then exp(ε·score/Δ) (McSherry & Talwar 2007).
    unit : PrivacyUnit, optional

    Examples
    --------
    Approval voting: each ballot approves a set of options; the score of an option is its
    number of approvals (one voter changes each score by at most 1, monotonically).

    >>> from veil.field import Csprng
    >>> ballots = [{"tea"}, {"tea", "coffee"}, {"coffee"}, {"tea"}] * 50
    >>> def approvals(data, options):
    ...     return [sum(option in b for b in data) for option in options]
    >>> vote = ExponentialMechanism(1, ["tea", "coffee", "water"], approvals, monotonic=True)
    >>> vote.release(ballots, rng=Csprng(seed=bytes(32))).value
    'tea'
    """

    def __init__(
        self,
        epsilon: object,
        candidates: Sequence[Any],
        score: Callable[[Any, Sequence[Any]], Any],
        sensitivity: object = 1,
        *,
        monotonic: bool = False,
        unit: PrivacyUnit | None = None,
    ) -> None:
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.candidates = list(candidates)
        if not self.candidates:
            raise ConfigError("candidates must not be empty", field="candidates")
        if not callable(score):
            raise ConfigError("score must be a function (data, candidates) -> scores")
        self.score = score
        self.sensitivity = positive_fraction(sensitivity, "sensitivity")
        self.monotonic = monotonic
        self.unit = unit or PrivacyUnit()
        divisor = self.sensitivity if monotonic else 2 * self.sensitivity
        self._coefficient = self.epsilon / divisor
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, self.unit)

    @property
    def description(self) -> str:
        return f"exponential mechanism over {len(self.candidates)} candidates"

    def _scores(self, data: Any) -> Any:
        scores = self.score(data, self.candidates)
        if len(scores) != len(self.candidates):
            raise DataError(
                f"score returned {len(scores)} values for {len(self.candidates)} candidates",
                hint="return one score per candidate, in order",
            )
        return scores

    def sample_indices(
        self, data: Any, size: int, *, rng: Csprng | None = None
    ) -> npt.NDArray[np.int64]:
        """Return ``size`` independent selections (candidate indices); each costs the guarantee."""
        gaps, den = _exact_gaps(self._scores(data), self._coefficient)
        return _first_accepted(rng or Csprng(), gaps, den, size)

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        index = int(self.sample_indices(data, 1, rng=rng)[0])
        return Release(self.candidates[index], self.guarantee, self.description, {"index": index})


class ReportNoisyMax(Mechanism):
    """Report the index of the largest score after exponential noise: ε-DP.

    Sampled as permute-and-flip (identical in distribution, Ding et al. 2021).

    Parameters
    ----------
    epsilon : rational > 0
    sensitivity : rational > 0, default=1
        max change of any one score between neighbours.
    unit : PrivacyUnit, optional

    Examples
    --------
    >>> from veil.field import Csprng
    >>> ReportNoisyMax(epsilon=2).release([10, 250, 40], rng=Csprng(seed=bytes(32))).value
    1
    """

    def __init__(
        self, epsilon: object, sensitivity: object = 1, *, unit: PrivacyUnit | None = None
    ) -> None:
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.sensitivity = positive_fraction(sensitivity, "sensitivity")
        self.unit = unit or PrivacyUnit()
        self._coefficient = self.epsilon / (2 * self.sensitivity)
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, self.unit)

    @property
    def description(self) -> str:
        return "report noisy max (exponential noise, permute-and-flip)"

    def sample_indices(
        self, scores: Any, size: int, *, rng: Csprng | None = None
    ) -> npt.NDArray[np.int64]:
        """Return ``size`` independent reports (indices); each costs the guarantee."""
        gaps, den = _exact_gaps(scores, self._coefficient)
        source = samplers.stream(rng or Csprng())
        k = gaps.shape[0]
        out = np.empty(size, dtype=np.int64)
        for start in range(0, size, max(1, 1_000_000 // k)):
            stop = min(size, start + max(1, 1_000_000 // k))
            order = _random_permutations(source, stop - start, k)
            flips = samplers._bern_exp_lanes(source, gaps[order.reshape(-1)], den)
            flips = flips.reshape(order.shape)  # the best candidate always flips heads
            out[start:stop] = order[np.arange(stop - start), flips.argmax(axis=1)]
        return out

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Release the (noisy) argmax of ``data``, a sequence of scores."""
        index = int(self.sample_indices(data, 1, rng=rng)[0])
        return Release(index, self.guarantee, self.description, {})


def _random_permutations(rng: samplers.RandomSource, rows: int, k: int) -> npt.NDArray[np.int64]:
    """Return ``rows`` independent uniform permutations of ``range(k)``, shape ``(rows, k)``.

    Sorting uniform 64-bit keys gives a uniform permutation when the keys are distinct; rows with
    a tie are redrawn, so the result is exactly uniform.
    """
    out = np.empty((rows, k), dtype=np.int64)
    todo = np.arange(rows)
    while todo.size:
        keys = rng.uint64(todo.size * k).reshape(todo.size, k)
        order = np.argsort(keys, axis=1, kind="stable")
        ordered = np.take_along_axis(keys, order, axis=1)
        tied = (
            (ordered[:, 1:] == ordered[:, :-1]).any(axis=1) if k > 1 else np.zeros(todo.size, bool)
        )
        out[todo[~tied]] = order[~tied]
        todo = todo[tied]
    return out


class AboveThreshold(Mechanism):
    """The sparse vector technique: flag queries above a threshold, paying only for positives.

    Parameters
    ----------
    epsilon : rational > 0
        Total loss of one session, however many queries it answers.
    threshold : rational
        Public threshold T.
    sensitivity : rational > 0, default=1
        Sensitivity of every query.
    max_above : int, default=1
        c: the session halts after c positive answers.
    monotonic : bool, default=False
        True when all queries move in the same direction between neighbours (e.g. counts under
        adding a person); halves the query noise.
    granularity : power of two, optional
        For real-valued queries: queries and threshold are rounded to this grid (the rounding
        step is added to the sensitivity). Integer queries need none.
    unit : PrivacyUnit, optional

    Notes
    -----
    Lyu, Su, Li 2017, Algorithm 1 with ε1 = ε2 = ε/2: ρ ~ Lap(Δ/ε1), νᵢ ~ Lap(2cΔ/ε2)
    (Lap(cΔ/ε2) if monotonic); answer "above" when qᵢ + νᵢ ≥ T + ρ. With integer queries and
    integer Δ the proof goes through unchanged with discrete Laplace noise (its shifts by Δ and
    2Δ cost the same factors).

    Examples
    --------
    >>> from veil.field import Csprng
    >>> svt = AboveThreshold(epsilon=1, threshold=100, max_above=1)
    >>> session = svt.start(rng=Csprng(seed=bytes(32)))
    >>> [session.test(q) for q in (3, 7, 500)]
    [False, False, True]
    """

    def __init__(
        self,
        epsilon: object,
        threshold: object,
        sensitivity: object = 1,
        *,
        max_above: int = 1,
        monotonic: bool = False,
        granularity: object = None,
        unit: PrivacyUnit | None = None,
    ) -> None:
        self.epsilon = positive_fraction(epsilon, "epsilon")
        self.threshold = as_fraction(threshold, "threshold")
        self.sensitivity = positive_fraction(sensitivity, "sensitivity")
        if isinstance(max_above, bool) or not isinstance(max_above, int) or max_above < 1:
            raise ConfigError(
                f"max_above must be an integer >= 1, got {max_above!r}", field="max_above"
            )
        self.max_above = max_above
        self.monotonic = monotonic
        self.granularity = None if granularity is None else check_granularity(granularity)
        self.unit = unit or PrivacyUnit()
        g = self.granularity or Fraction(1)
        grid_sens = (
            self.sensitivity / g
            if self.granularity is None
            else (Fraction(math.floor(self.sensitivity / g) + 1))
        )
        self.grid_sensitivity = grid_sens
        half = self.epsilon / 2
        self.threshold_scale = simplify_scale_up(grid_sens / half)
        factor = 1 if monotonic else 2
        self.query_scale = simplify_scale_up(factor * max_above * grid_sens / half)
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, self.unit)

    @property
    def description(self) -> str:
        return (
            f"sparse vector (above threshold), c={self.max_above}, "
            f"threshold noise scale {float(self.threshold_scale):.6g}, "
            f"query noise scale {float(self.query_scale):.6g}"
        )

    def _grid(self, value: object, name: str) -> int:
        if self.granularity is None:
            frac = as_fraction(value, name)
            if frac.denominator != 1:
                raise DataError(
                    f"{name} must be an integer, got {value!r}",
                    hint="pass granularity=2**-k for real-valued queries",
                )
            return int(frac)
        if isinstance(value, float) and not math.isfinite(value):
            raise DataError(f"{name} must be finite, got {value!r}")
        return round(as_fraction(value, name) / self.granularity)

    def start(self, *, rng: Csprng | None = None) -> SparseVectorSession:
        """Begin a session: draw the noisy threshold. The session costs :attr:`guarantee`."""
        source = rng or Csprng()
        threshold = (
            self.threshold if self.granularity is None else self.threshold / self.granularity
        )
        noisy = math.ceil(threshold) + int(
            samplers.discrete_laplace(self.threshold_scale, 1, rng=source)[0]
        )
        return SparseVectorSession(self, noisy, source)

    def sample_answers(
        self, data: Sequence[object], size: int, *, rng: Csprng | None = None
    ) -> npt.NDArray[np.bool_]:
        """Return ``size`` independent sessions over the queries ``data``, shape ``(size, m)``.

        Row i holds session i's answers; after its ``max_above``-th positive the session halts
        and the remaining entries are False. For audits: each row costs the guarantee.
        """
        source = rng or Csprng()
        queries = np.array([self._grid(q, "query_value") for q in data], dtype=np.int64)
        threshold = (
            self.threshold if self.granularity is None else self.threshold / self.granularity
        )
        rho = samplers.discrete_laplace(self.threshold_scale, size, rng=source)
        nu = samplers.discrete_laplace(self.query_scale, size * queries.size, rng=source)
        above = (
            queries[None, :] + nu.reshape(size, queries.size)
            >= (math.ceil(threshold) + rho)[:, None]
        )
        before: npt.NDArray[np.int64] = (
            np.cumsum(above, axis=1) - above
        )  # positives strictly before each query
        return above & (before < self.max_above)

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Run a session over the query answers ``data``; the value is the list of above indices."""
        session = self.start(rng=rng)
        above: list[int] = []
        for i, q in enumerate(data):
            if session.halted:
                break
            if session.test(q):
                above.append(i)
        return Release(above, self.guarantee, self.description, {"threshold": self.threshold})


class SparseVectorSession:
    """One run of :class:`AboveThreshold`; answers :meth:`test` until ``max_above`` positives."""

    def __init__(self, mechanism: AboveThreshold, noisy_threshold: int, rng: Csprng) -> None:
        self._mechanism = mechanism
        self._noisy_threshold = noisy_threshold  # secret: never exposed
        self._rng = rng
        self.answered_above = 0
        self.answered = 0

    @property
    def halted(self) -> bool:
        """Whether the session has given its ``max_above`` positive answers."""
        return self.answered_above >= self._mechanism.max_above

    def test(self, query_value: object) -> bool:
        """Return whether the (noisy) query is above the (noisy) threshold.

        Raises
        ------
        PrivacyError
            After ``max_above`` positive answers: start a new session (it costs another ε).
        """
        if self.halted:
            raise PrivacyError(
                f"this sparse-vector session has given its {self._mechanism.max_above} positive "
                "answer(s) and halted",
                hint="start a new session (it costs another epsilon)",
            )
        q = self._mechanism._grid(query_value, "query_value")
        noise = int(samplers.discrete_laplace(self._mechanism.query_scale, 1, rng=self._rng)[0])
        self.answered += 1
        above = q + noise >= self._noisy_threshold
        if above:
            self.answered_above += 1
        return above
