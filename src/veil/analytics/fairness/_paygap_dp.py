"""Differentially private pay gaps: noisy cell counts and clamped sums, DP medians, post-processing.

Cells are (group, category) pairs; every row falls in exactly one, so releases over all cells
compose in parallel (McSherry 2009) and cost the ε of one cell. What is released:

=================================  ===========================================  ============
release                            mechanism (veil.dp)                          ε
=================================  ===========================================  ============
count and centred sum per cell     ``GroupBy`` (public keys), pay clamped to    ε/3 (ε/2)
                                   ``bounds``; sum of ``pay − mid``, ℓ1 = k·h
median per cell                    ``Quantiles``: exponential mechanism over a  ε/3 (ε/2)
                                   grid of 1,001 candidates in ``bounds``
median per group (raw)             as above, one per group                      ε/3 (—)
=================================  ===========================================  ============

(In parentheses: without categories, where cells are the groups and the raw median is the
cell median.) ``mid`` and ``h`` are the midpoint and half-width of ``bounds``. Means, gaps,
headcount weights, the default reference group and the dropped categories are computed from
the released numbers only (post-processing), so the whole result is ε-DP for one row.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veil.analytics.fairness.noise import charged, check_epsilon
from veil.dp import GroupBy, Quantiles, parallel, sequential
from veil.dp.ledger import Ledger
from veil.errors import PrivacyError

__all__ = ["check_bounds", "private_cells"]


def check_bounds(bounds: Any) -> tuple[float, float]:
    """Return ``(lower, upper)`` as floats, or raise PrivacyError naming what is wrong."""
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        lower = upper = float("nan")
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise PrivacyError(
            f"a private pay gap needs bounds=(lower, upper) with lower < upper; got {bounds!r}",
            field="bounds",
            hint="pass a public pay range, e.g. bounds=(0, 300_000); pay outside is clamped",
        )
    return lower, upper


def private_cells(
    pay: np.ndarray,
    gcode: np.ndarray,
    ccode: np.ndarray,
    n_g: int,
    n_c: int,
    *,
    epsilon: Any,
    bounds: tuple[float, float],
    ledger: Ledger | str | Path | None,
    dataset: str | None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Release cell counts, cell means, cell medians and group medians with ε-DP.

    Parameters
    ----------
    pay : ndarray of float, shape (n_rows,)
    gcode, ccode : ndarray of int, shape (n_rows,)
        Group in ``0..n_g-1`` and category in ``0..n_c-1`` of each row (public domains).
    epsilon : rational > 0
    bounds : (lower, upper)
        Public clamp range of pay.
    ledger, dataset : optional
        Charged before anything is released (see :func:`.noise.charged`).

    Returns
    -------
    stats : dict
        ``count`` (n_g·n_c, noisy, ≥ 0), ``mean`` (n_g·n_c), ``median`` (n_g·n_c),
        ``raw_mean`` (n_g), ``raw_median`` (n_g); cells in group-major order.
    privacy : dict
        ε, its split, mechanisms, bounds, privacy unit, and the ledger's remaining budget.
    """
    total = check_epsilon(epsilon)
    lower, upper = bounds
    mid, half = (lower + upper) / 2, (upper - lower) / 2
    n_cells = n_g * n_c
    parts = 3 if n_c > 1 else 2
    share = total / parts
    cells = GroupBy(
        share,
        by="cell",
        aggregates=("count", "sum"),
        keys=list(range(n_cells)),
        column="pay",
        bounds=(-half, half),
    )
    cell_median = Quantiles(share, bounds=(lower, upper), quantiles=[Fraction(1, 2)])
    mechs: dict[str, Any] = {"cell counts and centred sums": cells}
    guarantees = [cells.guarantee, parallel(*[cell_median.guarantee] * n_cells)]
    mechs["cell medians"] = cell_median
    if n_c > 1:
        guarantees.append(parallel(*[cell_median.guarantee] * n_g))
        mechs["group medians"] = cell_median
    guarantee = sequential(*guarantees)
    cell = gcode * n_c + ccode
    frame = pd.DataFrame({"cell": cell, "pay": pay - mid})
    order = np.argsort(cell, kind="stable")
    starts = np.searchsorted(cell[order], np.arange(n_cells + 1))
    what = "pay gap: " + "; ".join(f"{k} ({m.description})" for k, m in mechs.items())
    with charged(ledger, dataset, guarantee, what) as book:
        released = cells.release(frame).value
        medians = np.array(
            [
                cell_median.release(pay[order[starts[c] : starts[c + 1]]]).value[0]
                for c in range(n_cells)
            ]
        )
        if n_c > 1:
            raw_median = np.array(
                [cell_median.release(pay[gcode == g]).value[0] for g in range(n_g)]
            )
        else:
            raw_median = medians
    count = np.clip(released["count"].to_numpy(dtype=np.float64), 0, None)
    sums = released["sum"].to_numpy(dtype=np.float64)
    mean = np.clip(mid + sums / np.maximum(count, 1), lower, upper)
    g_count = count.reshape(n_g, n_c).sum(axis=1)
    g_sum = sums.reshape(n_g, n_c).sum(axis=1)
    raw_mean = np.clip(mid + g_sum / np.maximum(g_count, 1), lower, upper)
    privacy: dict[str, Any] = {
        "epsilon": float(guarantee.epsilon),
        "delta": float(guarantee.delta),
        "split": {k: float(share) for k in mechs},
        "composition": "parallel across cells (each row in one), basic across the releases",
        "mechanisms": {k: m.description for k, m in mechs.items()},
        "bounds": [lower, upper],
        "privacy_unit": str(guarantee.unit),
    }
    if book:
        privacy["ledger"] = book
    stats = {
        "count": count,
        "mean": mean,
        "median": medians,
        "raw_mean": raw_mean,
        "raw_median": raw_median,
    }
    return stats, privacy
