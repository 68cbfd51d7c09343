"""Randomized response: each respondent randomizes their own answer (local differential privacy).

The survey technique of Warner (1965), as the article tells it: before answering a sensitive
yes/no question, toss a coin. Tails: answer truthfully. Heads: toss a second coin and answer "yes"
on heads, "no" on tails. Any single "yes" is deniable, yet with N "yes" among n answers the true
proportion is estimated without bias by p̂ = 2N/n − 1/2 (a "yes" comes with probability
p/2 + 1/4). The guarantee is ln 3-local DP: P[yes | yes]/P[yes | no] = (3/4)/(1/4) = 3.

* :class:`RandomizedResponse` — the two-coin version (``epsilon=None``) or the ε-parameterised
  one: truthful with probability e^ε/(1 + e^ε), ε-local DP.
* :class:`KaryRandomizedResponse` — k categories (generalized randomized response, "direct
  encoding" of Wang, Blocki, Li, Jha 2017): the true category with probability
  e^ε/(e^ε + k − 1), otherwise one of the k − 1 others uniformly; ε-local DP.

Both estimate the true proportions without bias, with a standard error and a Wilson interval
mapped through the estimator's affine correction (clipped to [0, 1]). Coins come from
:class:`~veil.field.Csprng`; the ε forms sample their biased coins exactly (Bernoulli(exp(−ε))
by [CKS20] Algorithm 1, inside a rejection step), so no floating-point probability is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from veil.dp import samplers
from veil.dp._numbers import positive_fraction
from veil.dp.guarantee import Guarantee, PrivacyUnit, Release, fraction_at_least
from veil.dp.mechanisms import Mechanism
from veil.errors import ConfigError, DataError
from veil.field import Csprng

__all__ = ["Estimate", "KaryRandomizedResponse", "RandomizedResponse"]

_LOCAL = PrivacyUnit(local=True)


@dataclass(frozen=True)
class Estimate:
    """An unbiased estimate of a proportion with its standard error and confidence interval.

    Attributes
    ----------
    value : float
        The unbiased estimate (it may fall slightly outside [0, 1] by chance).
    se : float
        Estimated standard error.
    low, high : float
        Confidence interval, clipped to [0, 1].
    confidence : float
        Confidence level of the interval, e.g. 0.95.
    n : int
        Number of responses.
    """

    value: float
    se: float
    low: float
    high: float
    confidence: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        """Return the fields as a JSON-ready dict."""
        return {
            "estimate": self.value,
            "se": self.se,
            "ci_low": self.low,
            "ci_high": self.high,
            "confidence": self.confidence,
            "n": self.n,
        }


def _wilson(count: float, n: int, z: float) -> tuple[float, float]:
    phat = count / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _affine_estimate(
    count: float, n: int, p_true: float, p_other: float, confidence: float
) -> Estimate:
    """Invert P[report] = p·(p_true − p_other) + p_other for the frequency ``count / n``."""
    if n < 1:
        raise DataError("no responses to estimate from", hint="pass at least one response")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}", field="confidence")
    gap = p_true - p_other
    freq = count / n
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    lo, hi = _wilson(count, n, z)
    return Estimate(
        value=(freq - p_other) / gap,
        se=math.sqrt(freq * (1 - freq) / n) / gap,
        low=min(1.0, max(0.0, (lo - p_other) / gap)),
        high=min(1.0, max(0.0, (hi - p_other) / gap)),
        confidence=confidence,
        n=n,
    )


def _truthful_or_lie(rng: Csprng, epsilon: Fraction, count: int) -> npt.NDArray[np.bool_]:
    """Return ``count`` flags, True with probability exactly e^ε/(e^ε + 1) ("tell the truth").

    Rejection: a fair coin proposes truth or lie; a lie is accepted with probability e^−ε,
    otherwise the step restarts. P[lie] = (e^−ε/2)/(1/2 + e^−ε/2) = 1/(1 + e^ε).
    """
    out = np.zeros(count, dtype=bool)
    todo = np.arange(count)
    while todo.size:
        propose_truth = rng.below(2, todo.size) == 0
        lie_ok = samplers.bernoulli_exp_neg(epsilon, todo.size, rng=rng)
        done = propose_truth | lie_ok
        out[todo[done]] = propose_truth[done]
        todo = todo[~done]
    return out


class RandomizedResponse(Mechanism):
    """Randomize yes/no answers: the article's two coins, or ε-parameterised.

    Parameters
    ----------
    epsilon : rational > 0, optional
        ``None`` (default): the two-coin procedure, ε = ln 3 ≈ 1.0986. Otherwise each respondent
        tells the truth with probability e^ε/(1 + e^ε) and lies otherwise.

    Examples
    --------
    >>> from veil.field import Csprng
    >>> rng = Csprng(seed=bytes(32))
    >>> truths = np.arange(10_000) < 3_000                 # 30% would truthfully say yes
    >>> rr = RandomizedResponse()
    >>> answers = rr.release(truths, rng=rng).value
    >>> est = rr.estimate(answers)
    >>> bool(est.low < 0.3 < est.high), round(float(rr.guarantee.epsilon), 4)
    (True, 1.0986)
    """

    def __init__(self, epsilon: object = None) -> None:
        if epsilon is None:
            self.epsilon: Fraction | None = None
            self.p_truthful_yes, self.p_yes_if_no = 0.75, 0.25
            loss = fraction_at_least(math.log(3))
        else:
            self.epsilon = positive_fraction(epsilon, "epsilon")
            e = math.exp(float(self.epsilon))
            self.p_truthful_yes, self.p_yes_if_no = e / (1 + e), 1 / (1 + e)
            loss = self.epsilon
        self._guarantee = Guarantee(loss, Fraction(0), None, _LOCAL)

    @property
    def description(self) -> str:
        if self.epsilon is None:
            return "randomized response (two fair coins)"
        return f"randomized response (truthful with probability e^ε/(1+e^ε), ε={self.epsilon})"

    def randomize(self, truths: Any, *, rng: Csprng | None = None) -> npt.NDArray[np.bool_]:
        """Return each respondent's randomized answer, shape like ``truths`` (booleans)."""
        arr = np.asarray(truths)
        if arr.dtype.kind not in "bi" or (arr.size and not np.isin(arr, (0, 1)).all()):
            raise DataError("truths must be booleans (or 0/1)", hint="encode yes as True")
        truth = arr.astype(bool).reshape(-1)
        source = rng or Csprng()
        if self.epsilon is None:
            first_heads = source.below(2, truth.size) == 1  # heads: answer with the second coin
            second_heads = source.below(2, truth.size) == 1  # heads means "yes"
            answers = np.where(first_heads, second_heads, truth)
        else:
            honest = _truthful_or_lie(source, self.epsilon, truth.size)
            answers = np.where(honest, truth, ~truth)
        return answers.reshape(arr.shape)

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Randomize every answer in ``data``; each respondent is protected ε-locally."""
        return Release(self.randomize(data, rng=rng), self.guarantee, self.description, {})

    def estimate(self, responses: Any, confidence: float = 0.95) -> Estimate:
        """Return the unbiased estimate of the true "yes" proportion (2N/n − 1/2 for the coins)."""
        arr = np.asarray(responses).astype(bool).reshape(-1)
        return _affine_estimate(
            float(arr.sum()), arr.size, self.p_truthful_yes, self.p_yes_if_no, confidence
        )


class KaryRandomizedResponse(Mechanism):
    """Randomize answers among k categories: ε-local DP.

    Parameters
    ----------
    categories : sequence
        The k ≥ 2 possible answers (public).
    epsilon : rational > 0

    Examples
    --------
    >>> from veil.field import Csprng
    >>> rr = KaryRandomizedResponse(["red", "green", "blue"], epsilon=2)
    >>> answers = rr.release(["red"] * 600 + ["blue"] * 400, rng=Csprng(seed=bytes(32))).value
    >>> est = rr.estimate(answers)
    >>> sorted(est)
    ['blue', 'green', 'red']
    """

    def __init__(self, categories: Sequence[Any], epsilon: object) -> None:
        self.categories = list(categories)
        if len(self.categories) < 2 or len(set(self.categories)) != len(self.categories):
            raise ConfigError(
                f"categories must hold at least 2 distinct values, got {self.categories!r}",
                field="categories",
            )
        self.epsilon = positive_fraction(epsilon, "epsilon")
        k = len(self.categories)
        e = math.exp(float(self.epsilon))
        self.p_true, self.p_other = e / (e + k - 1), 1 / (e + k - 1)
        self._index = {c: i for i, c in enumerate(self.categories)}
        self._guarantee = Guarantee(self.epsilon, Fraction(0), None, _LOCAL)

    @property
    def description(self) -> str:
        return f"{len(self.categories)}-ary randomized response, ε={self.epsilon}"

    def randomize_codes(self, codes: Any, *, rng: Csprng | None = None) -> npt.NDArray[np.int64]:
        """Randomize category indices (0..k−1); returns reported indices, same shape.

        Rejection: propose a uniform category; keep it if it is the truth, else keep it with
        probability e^−ε; P[truth] = 1/(1 + (k−1)e^−ε) = e^ε/(e^ε + k − 1).
        """
        arr = np.asarray(codes, dtype=np.int64).reshape(-1)
        k = len(self.categories)
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise DataError(
                f"category codes must be in [0, {k}), got {int(arr.min())}..{int(arr.max())}"
            )
        source = rng or Csprng()
        out = np.empty(arr.size, dtype=np.int64)
        todo = np.arange(arr.size)
        while todo.size:
            proposal = source.below(k, todo.size).astype(np.int64)
            keep = (proposal == arr[todo]) | samplers.bernoulli_exp_neg(
                self.epsilon, todo.size, rng=source
            )
            out[todo[keep]] = proposal[keep]
            todo = todo[~keep]
        return out.reshape(np.shape(codes))

    def release(self, data: Any, *, rng: Csprng | None = None) -> Release:
        """Randomize answers given as category values; the value is a list of categories."""
        try:
            codes = [self._index[v] for v in data]
        except KeyError as exc:
            raise DataError(
                f"answer {exc.args[0]!r} is not one of the categories {self.categories!r}"
            ) from exc
        reported = self.randomize_codes(codes, rng=rng)
        values = [self.categories[i] for i in reported.tolist()]
        return Release(values, self.guarantee, self.description, {})

    def estimate(self, responses: Sequence[Any], confidence: float = 0.95) -> dict[Any, Estimate]:
        """Return an unbiased estimate of each category's true proportion."""
        n = len(responses)
        counts = dict.fromkeys(self.categories, 0)
        for v in responses:
            if v not in counts:
                raise DataError(f"response {v!r} is not one of the categories")
            counts[v] += 1
        return {
            c: _affine_estimate(float(counts[c]), n, self.p_true, self.p_other, confidence)
            for c in self.categories
        }
