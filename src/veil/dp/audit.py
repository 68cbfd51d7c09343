"""Statistical privacy audits: a lower confidence bound on a mechanism's real epsilon.

In the style of StatDP (Ding, Wang, Wang, Zhang, Kifer 2018) and DP-Sniper (Bichsel, Steffen,
Bogunovic, Vechev 2021): run the mechanism many times on two neighbouring datasets D and D',
choose an output event S on a first batch of runs, then on fresh runs bound
P[M(D) ∈ S] from below and P[M(D') ∈ S] from above with Clopper–Pearson intervals. Since
(ε, δ)-DP requires P[M(D) ∈ S] ≤ e^ε P[M(D') ∈ S] + δ for every S,

    ε_lower = ln((p_low − δ) / q_high)

is a lower bound on the true ε with the stated confidence. A correct mechanism never shows
``ε_lower > ε claimed`` (except with probability 1 − confidence); a broken one — noise scaled
for half the sensitivity, say — does, once the sample is large enough.

The event is chosen on separate runs, so the final bound is a single pre-registered test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from veil.errors import ConfigError

__all__ = ["AuditResult", "audit", "epsilon_lower_bound"]

#: A sampler: ``sample(count)`` returns ``count`` independent outputs, one per row (or element).
Sampler = Callable[[int], npt.NDArray[np.generic]]


@dataclass(frozen=True)
class AuditResult:
    """The outcome of :func:`audit`.

    Attributes
    ----------
    epsilon_lower : float
        Lower confidence bound on the mechanism's ε at the audit's δ (0 when nothing shows).
    event : str
        The output event that gave the bound, e.g. ``"output >= 3"``.
    p_hat, q_hat : float
        Observed frequencies of the event on D and on D' in the test runs.
    runs : int
        Test runs on each dataset.
    confidence : float
    """

    epsilon_lower: float
    event: str
    p_hat: float
    q_hat: float
    runs: int
    confidence: float


def epsilon_lower_bound(
    hits_d: int,
    runs_d: int,
    hits_d2: int,
    runs_d2: int,
    *,
    delta: float = 0.0,
    confidence: float = 0.99,
) -> float:
    """Return the Clopper–Pearson lower bound ln((p_low − δ)/q_high), or 0 if it is not positive.

    ``p_low`` bounds P[M(D) ∈ S] from below and ``q_high`` bounds P[M(D') ∈ S] from above, each at
    level (1 − confidence)/2, so both hold together with probability at least ``confidence``.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}")
    tail = (1 - confidence) / 2
    p_low = float(stats.beta.ppf(tail, hits_d, runs_d - hits_d + 1)) if hits_d > 0 else 0.0
    q_high = (
        float(stats.beta.ppf(1 - tail, hits_d2 + 1, runs_d2 - hits_d2))
        if hits_d2 < runs_d2
        else 1.0
    )
    if p_low <= delta or q_high <= 0:
        return 0.0
    return max(0.0, math.log((p_low - delta) / q_high))


Event = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.bool_]]


def _threshold_event(kind: str, c: float) -> Event:
    def event(x: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_]
        if kind == ">=":
            out = x >= c
        elif kind == "<=":
            out = x <= c
        else:
            out = np.equal(x, c)
        return out

    return event


def _candidate_events(
    pooled: npt.NDArray[np.float64], max_thresholds: int
) -> list[tuple[str, Event]]:
    distinct = np.unique(pooled)
    values = distinct
    if values.size > max_thresholds:
        values = np.unique(np.quantile(pooled, np.linspace(0, 1, max_thresholds)))
    kinds = (">=", "<=", "==") if distinct.size <= max_thresholds else (">=", "<=")
    return [(f"output {k} {c:g}", _threshold_event(k, c)) for c in values.tolist() for k in kinds]


def audit(
    sample_d: Sampler,
    sample_d2: Sampler,
    *,
    runs: int = 100_000,
    search_runs: int | None = None,
    delta: float = 0.0,
    confidence: float = 0.99,
    statistic: Callable[[npt.NDArray[np.generic]], npt.NDArray[np.float64]] | None = None,
    max_thresholds: int = 200,
) -> AuditResult:
    """Estimate a lower confidence bound on ε from runs on neighbouring datasets D and D'.

    Parameters
    ----------
    sample_d, sample_d2 : callable ``count -> outputs``
        Run the mechanism ``count`` times on D (resp. D'), returning one output per row.
    runs : int, default=100_000
        Test runs per dataset.
    search_runs : int, optional
        Runs per dataset used to choose the event (default ``runs // 2``).
    delta : float, default=0
        The mechanism's claimed δ.
    confidence : float, default=0.99
    statistic : callable, optional
        Map outputs to one number per run (e.g. a pattern code for vector outputs); default:
        outputs must already be one number per run.
    max_thresholds : int, default=200
        Threshold events tried on the search runs (``>= c``, ``<= c`` and ``== c``).

    Returns
    -------
    AuditResult
        Both directions (D vs D' and D' vs D) are tried; the larger bound is reported.
    """
    search = search_runs or max(1, runs // 2)
    stat = statistic or (lambda out: np.asarray(out, dtype=np.float64).reshape(-1))
    sa, sb = stat(sample_d(search)), stat(sample_d2(search))
    best: tuple[float, str, Event, bool] = (-1.0, "", _threshold_event(">=", math.inf), True)
    for name, event in _candidate_events(np.concatenate([sa, sb]), max_thresholds):
        ha, hb = int(event(sa).sum()), int(event(sb).sum())
        for forward in (True, False):
            x, y = (ha, hb) if forward else (hb, ha)
            score = epsilon_lower_bound(x, search, y, search, delta=delta, confidence=confidence)
            if score > best[0]:
                best = (score, name, event, forward)
    _, name, event, forward = best
    ta, tb = stat(sample_d(runs)), stat(sample_d2(runs))
    ha, hb = int(event(ta).sum()), int(event(tb).sum())
    x, y = (ha, hb) if forward else (hb, ha)
    bound = epsilon_lower_bound(x, runs, y, runs, delta=delta, confidence=confidence)
    direction = "D vs D'" if forward else "D' vs D"
    return AuditResult(bound, f"{name} ({direction})", x / runs, y / runs, runs, confidence)
