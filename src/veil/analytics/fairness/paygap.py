"""Pay gaps by group: raw and adjusted within job categories, mean and median, with intervals.

As in the Boston Women's Workforce Council wage-gap studies: the **raw** gap compares everyone's
pay; the **adjusted** gap compares pay *within* each job category and then averages the
within-category gaps, weighted by the comparison group's headcount in each category (categories
where either group is absent carry no comparison and are left out, and reported). Gaps are
``reference − group`` in pay units and relative to the reference (``(ref − group) / ref``: 0.18
means the group earns 18 cents less on the reference's dollar).

Intervals are percentile bootstrap intervals (rows resampled with replacement; seedable public
randomness). Everything is vectorized: one code per (group, category) cell, ``bincount`` for
means, one sort for medians (the bootstrap re-weights the sorted rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veil.analytics.fairness._inputs import as_vector, as_weights
from veil.analytics.fairness._paygap_dp import check_bounds, private_cells
from veil.analytics.fairness.metrics import group_median
from veil.analytics.fairness.noise import check_epsilon, check_ledger
from veil.dp.ledger import Ledger
from veil.errors import ConfigError, DataError, PrivacyError

__all__ = ["PayGapResult", "pay_gap"]


@dataclass
class PayGapResult:
    """Pay gaps of each group against the reference group.

    Attributes
    ----------
    gaps : DataFrame, one row per (group, statistic, kind)
        Columns ``group``, ``statistic`` (mean/median), ``kind`` (raw/adjusted), ``gap`` (pay
        units), ``relative``, and ``gap_low``/``gap_high``, ``relative_low``/``relative_high``.
    by_category : DataFrame or None
        Per category and group: ``count``, ``mean``, ``median``.
    reference : str
    dropped_categories : list of str
        Categories left out of the adjusted gap because a group was absent.
    privacy : dict or None
        Under ``epsilon=``: ε, its split, mechanisms, bounds, privacy unit (and the ledger's
        remaining budget); ``None`` when exact.
    flags : list of str
        Notes on what was left out or assumed.
    """

    gaps: pd.DataFrame
    by_category: pd.DataFrame | None
    reference: str
    dropped_categories: list[str]
    privacy: dict[str, Any] | None = None
    flags: list[str] = field(default_factory=list)

    def gap(self, group: str, statistic: str = "mean", kind: str = "raw") -> float:
        """Return one relative gap, e.g. ``gap("Female", "median", "adjusted")``."""
        m = self.gaps
        row = m[(m["group"] == group) & (m["statistic"] == statistic) & (m["kind"] == kind)]
        if row.empty:
            raise ConfigError(
                f"no gap for group={group!r}, statistic={statistic!r}, kind={kind!r}",
                field="group",
                hint=f"groups: {sorted(m['group'].unique())}; statistic mean/median; kind raw/adjusted",
            )
        return float(row["relative"].iloc[0])

    def summary(self) -> str:
        """Return the gap table as text."""
        cols = [c for c in self.gaps.columns if c in ("group", "statistic", "kind", "gap",
                                                        "relative", "relative_low", "relative_high")]  # fmt: skip
        return f"Pay gaps against {self.reference}\n" + self.gaps[cols].to_string(index=False)


def _stats(
    pay: np.ndarray, cell: np.ndarray, n_cells: int, w: np.ndarray, presorted: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tot = np.bincount(cell, weights=w, minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=w * pay, minlength=n_cells) / tot
    median = group_median(pay, cell, n_cells, w, presorted=presorted)
    return tot, mean, median


def _gaps(
    tot: np.ndarray, mean: np.ndarray, median: np.ndarray, n_g: int, n_c: int, ref: int,
    raw_mean: np.ndarray, raw_median: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Return array (n_g, 2 stats, 2 kinds, 2 [abs, rel]) of gaps against ``ref``."""
    out = np.full((n_g, 2, 2, 2), np.nan)
    t = tot.reshape(n_g, n_c)
    stats = (mean.reshape(n_g, n_c), median.reshape(n_g, n_c))
    raws = (raw_mean, raw_median)
    with np.errstate(invalid="ignore", divide="ignore"):
        _fill(out, t, stats, raws, n_g, ref)
    return out


def _fill(out: np.ndarray, t: np.ndarray, stats: tuple[np.ndarray, np.ndarray],
          raws: tuple[np.ndarray, np.ndarray], n_g: int, ref: int) -> None:  # fmt: skip
    for g in range(n_g):
        both = (t[g] > 0) & (t[ref] > 0)
        wts = np.where(both, t[g], 0.0)
        for s, (cat, raw) in enumerate(zip(stats, raws, strict=True)):
            out[g, s, 0, 0] = raw[ref] - raw[g]
            out[g, s, 0, 1] = (raw[ref] - raw[g]) / raw[ref]
            if wts.sum() > 0:
                diff = np.where(both, cat[ref] - cat[g], 0.0)
                base = np.where(both, cat[ref], 0.0)
                out[g, s, 1, 0] = (wts @ diff) / wts.sum()
                out[g, s, 1, 1] = (wts @ diff) / (wts @ base)


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _domain(
    name: str, values: np.ndarray, public: Any, flags: list[str], private: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Return (domain values, code per row; -1 outside) from public values or the data."""
    if public is None:
        if private:
            flags.append(f"the {name} values were read from the data; under DP they should be "
                         f"public ({name}_values=)")  # fmt: skip
        return np.unique(values, return_inverse=True)
    domain = np.asarray([str(v) for v in public])
    if domain.size == 0 or np.unique(domain).size != domain.size:
        raise ConfigError(f"{name}_values must be distinct values, at least one; got "
                          f"{list(public)[:10]}", field=f"{name}_values")  # fmt: skip
    return domain, pd.Index(domain).get_indexer(values)


def pay_gap(
    pay: Any,
    group: Any,
    *,
    categories: Any = None,
    reference: Any = None,
    sample_weight: Any = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
    epsilon: float | str | Fraction | None = None,
    bounds: tuple[float, float] | None = None,
    group_values: Sequence[Any] | None = None,
    category_values: Sequence[Any] | None = None,
    ledger: Ledger | str | Path | None = None,
    dataset: str | None = None,
) -> PayGapResult:
    """Compute raw and category-adjusted mean and median pay gaps against a reference group.

    Parameters
    ----------
    pay : array-like of float, shape (n_rows,)
        Pay (any unit; gaps come back in the same unit and relative to the reference).
    group : array-like, shape (n_rows,)
        The attribute compared (e.g. gender); any number of values.
    categories : array-like, shape (n_rows,), optional
        Job category; enables the adjusted gaps.
    reference : scalar, optional
        The group compared against (default: the one with the highest mean pay).
    sample_weight : array-like, shape (n_rows,), optional
        Not allowed with ``epsilon``.
    n_bootstrap : int, default=1000
        Replicates for the intervals (0: none). No intervals under DP.
    confidence : float, default=0.95
    random_state : int or Generator, optional
    epsilon : rational > 0, optional
        Release with ε-DP for one row (see :mod:`._paygap_dp` for what is released and the
        split of ε); needs ``bounds``.
    bounds : (lower, upper), optional
        Public pay range for the DP release; pay outside it is clamped.
    group_values, category_values : sequence, optional
        Public values of ``group`` and ``categories`` (compared as text); rows with other
        values are left out. Under DP, without them the values are read from the data (and a
        flag says so).
    ledger : veil.dp.ledger.Ledger or path, optional
        Charge ε to ``dataset``'s budget before anything is released.
    dataset : str, optional

    Returns
    -------
    PayGapResult

    Raises
    ------
    PrivacyError
        ``epsilon`` without valid ``bounds``, with ``sample_weight``, or not positive.
    BudgetExhausted
        The ledger cannot pay ``epsilon``; nothing is released.

    Examples
    --------
    >>> r = pay_gap([10, 12, 8, 9, 20, 16], ["m", "m", "f", "f", "m", "f"], n_bootstrap=0)
    >>> round(r.gap("f", "mean"), 3)
    0.286
    """
    private = epsilon is not None
    check_ledger(ledger, dataset, private)
    if private:
        check_epsilon(epsilon)
        lo_hi = check_bounds(bounds)
        if sample_weight is not None:
            raise PrivacyError("sample weights cannot be combined with a DP release",
                               field="sample_weight", hint="drop sample_weight")  # fmt: skip
    y = as_vector("pay", pay).astype(np.float64)
    n = y.shape[0]
    if not np.all(np.isfinite(y)):
        raise DataError("pay has missing or infinite values", field="pay",
                        hint="drop those rows first")  # fmt: skip
    if not (isinstance(n_bootstrap, int) and n_bootstrap >= 0):
        raise ConfigError(f"n_bootstrap must be an integer >= 0; got {n_bootstrap!r}",
                          field="n_bootstrap")  # fmt: skip
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1); got {confidence!r}", field="confidence")
    flags: list[str] = []
    gvals, gcode = _domain("group", as_vector("group", group, n=n).astype(str), group_values,
                           flags, private)  # fmt: skip
    if categories is None:
        cvals, ccode = np.array(["all"]), np.zeros(n, dtype=np.int64)
    else:
        cvals, ccode = _domain("category", as_vector("categories", categories, n=n).astype(str),
                               category_values, flags, private)  # fmt: skip
    w = as_weights(sample_weight, n)
    w = np.ones(n) if w is None else w
    inside = (gcode >= 0) & (ccode >= 0)
    if not inside.all():
        if not private:
            flags.append(f"{int((~inside).sum())} rows with values outside group_values or "
                         "category_values left out")  # fmt: skip
        y, gcode, ccode, w = y[inside], gcode[inside], ccode[inside], w[inside]
        n = y.shape[0]
    n_g, n_c = gvals.shape[0], cvals.shape[0]
    if n_g < 2:
        raise DataError(f"group has one value ({gvals[0]!r}); need two to compare", field="group")
    if reference is not None and not np.any(gvals == str(reference)):
        raise ConfigError(f"reference {reference!r} is not a value of group; values are "
                          f"{gvals.tolist()[:10]}", field="reference")  # fmt: skip
    if private:
        return _private_gap(y, gcode, ccode, gvals, cvals, reference, flags, epsilon, lo_hi,
                            ledger, dataset, categories is not None)  # fmt: skip
    cell = gcode * n_c + ccode
    order = np.lexsort((y, cell))
    y, cell, gcode, w = y[order], cell[order], gcode[order], w[order]
    g_order = np.lexsort((y, gcode))  # for raw medians per group

    def estimate(weights: np.ndarray) -> np.ndarray:
        tot, mean, median = _stats(y, cell, n_g * n_c, weights, presorted=True)
        rt = np.bincount(gcode, weights=weights, minlength=n_g)
        with np.errstate(invalid="ignore", divide="ignore"):
            raw_mean = np.bincount(gcode, weights=weights * y, minlength=n_g) / rt
        raw_median = group_median(y[g_order], gcode[g_order], n_g, weights[g_order],
                                  presorted=True)  # fmt: skip
        return _gaps(tot, mean, median, n_g, n_c, ref, raw_mean, raw_median)

    if reference is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.bincount(gcode, weights=w * y, minlength=n_g) / np.bincount(
                gcode, weights=w, minlength=n_g
            )
        ref = int(np.nanargmax(means))
    else:
        ref = int(np.flatnonzero(gvals == str(reference))[0])
    point = estimate(w)
    reps = None
    if n_bootstrap:
        rng = np.random.default_rng(random_state)
        reps = np.stack(
            [
                estimate(w * np.bincount(rng.integers(0, n, n), minlength=n))
                for _ in range(n_bootstrap)
            ]
        )
    tot, mean, median = _stats(y, cell, n_g * n_c, w, presorted=True)
    counts = np.bincount(cell, minlength=n_g * n_c)
    return _result(point, reps, (1 - confidence) / 2, gvals, cvals, ref,
                   (tot, counts, mean, median) if categories is not None else None, flags)  # fmt: skip


def _private_gap(
    y: np.ndarray, gcode: np.ndarray, ccode: np.ndarray, gvals: np.ndarray, cvals: np.ndarray,
    reference: Any, flags: list[str], epsilon: Any, bounds: tuple[float, float],
    ledger: Ledger | str | Path | None, dataset: str | None, with_categories: bool,
) -> PayGapResult:  # fmt: skip
    """Release the cells with DP (:func:`._paygap_dp.private_cells`), then post-process."""
    n_g, n_c = gvals.shape[0], cvals.shape[0]
    stats, privacy = private_cells(y, gcode, ccode, n_g, n_c, epsilon=epsilon, bounds=bounds,
                                   ledger=ledger, dataset=dataset)  # fmt: skip
    ref = (  # by default the highest noisy mean: post-processing
        int(np.argmax(stats["raw_mean"]))
        if reference is None
        else int(np.flatnonzero(gvals == str(reference))[0])
    )
    tot = stats["count"]
    point = _gaps(tot, stats["mean"], stats["median"], n_g, n_c, ref, stats["raw_mean"],
                  stats["raw_median"])  # fmt: skip
    flags.append("no intervals under DP: the figures carry sampling and noise error")
    counts = np.round(tot).astype(np.int64)
    result = _result(point, None, 0.0, gvals, cvals, ref,
                     (tot, counts, stats["mean"], stats["median"]) if with_categories else None,
                     flags)  # fmt: skip
    result.privacy = privacy
    return result


def _result(
    point: np.ndarray, reps: np.ndarray | None, alpha: float, gvals: np.ndarray,
    cvals: np.ndarray, ref: int,
    cells: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, flags: list[str],
) -> PayGapResult:  # fmt: skip
    """Assemble the gap table (and the per-category table when ``cells`` is given)."""
    n_g, n_c = gvals.shape[0], cvals.shape[0]
    rows = []
    for g in range(n_g):
        if g == ref:
            continue
        for s, stat in enumerate(("mean", "median")):
            for k, kind in enumerate(("raw", "adjusted")):
                if kind == "adjusted" and cells is None:
                    continue
                row: dict[str, Any] = {"group": gvals[g], "statistic": stat, "kind": kind,
                                       "gap": point[g, s, k, 0], "relative": point[g, s, k, 1]}  # fmt: skip
                if reps is not None:
                    for j, name in enumerate(("gap", "relative")):
                        lo, hi = _interval(reps[:, g, s, k, j], alpha)
                        row[f"{name}_low"], row[f"{name}_high"] = lo, hi
                rows.append(row)
    by_cat = None
    dropped: list[str] = []
    if cells is not None:
        tot, counts, mean, median = cells
        by_cat = pd.DataFrame({
            "category": np.tile(cvals, n_g), "group": np.repeat(gvals, n_c),
            "count": counts, "mean": mean, "median": median,
        })  # fmt: skip
        present = tot.reshape(n_g, n_c) > 0
        dropped = [str(c) for j, c in enumerate(cvals) if not present[:, j].all()]
    return PayGapResult(pd.DataFrame(rows), by_cat, str(gvals[ref]), dropped, None, flags)
