"""Group metrics of a binary classifier, computed from per-group confusion counts.

Every figure here is a function of one small table: for each group ``g``, the (weighted) number of
rows with true label ``y`` and prediction ``ŷ`` — ``table[g, y, ŷ]``, shape ``(n_groups, 2, 2)``.
Building it is one ``np.bincount`` over ``4 * group + 2 * y + ŷ``; the rates, differences and
ratios are array arithmetic over it, with any number of leading axes. This is what makes the
bootstrap cheap (resample the table, not the rows), the DP release a switch (noise the table,
derive the rest) and the private audit across parties possible (tables add up).

Definitions follow fairlearn (``fairlearn.metrics``) so that values agree to rounding:

========================  =====================================================================
selection_rate            P(ŷ=1 | g)
tpr / fnr                 P(ŷ=1 | y=1, g) and 1 − tpr
fpr / tnr                 P(ŷ=1 | y=0, g) and 1 − fpr
precision                 P(y=1 | ŷ=1, g)
error_rate / accuracy     P(ŷ≠y | g) and 1 − error_rate
base_rate                 P(y=1 | g)
========================  =====================================================================

A rate whose denominator is zero is ``nan`` here (fairlearn reports 0 through scikit-learn's
``zero_division``); groups with such a rate drop out of the difference and ratio.

Differences are ``max − min`` over groups (``method="between_groups"``) or the largest
``|group − overall|`` (``"to_overall"``); ratios are ``min / max`` or the smallest
``min(group/overall, overall/group)``. Equalized odds takes the worst of its TPR and FPR parts.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from veil.analytics.fairness._inputs import (
    GroupIndex,
    as_binary,
    as_vector,
    as_weights,
    encode_groups,
)
from veil.errors import ConfigError

__all__ = [
    "DISPARITIES",
    "RATES",
    "calibration_by_group",
    "confusion_by_group",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "difference",
    "disparity",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "group_mean",
    "group_median",
    "metrics_by_group",
    "predictive_parity_difference",
    "predictive_parity_ratio",
    "rates",
    "ratio",
]

#: Rates computed per group, in display order.
RATES: tuple[str, ...] = (
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "precision",
    "error_rate",
    "accuracy",
    "base_rate",
)

#: Disparity name → the rates it compares (worst case over the rates listed).
DISPARITIES: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equalized_odds": ("tpr", "fpr"),
    "equal_opportunity": ("tpr",),
    "predictive_parity": ("precision",),
    "error_rate_parity": ("error_rate",),
}

Method = Literal["between_groups", "to_overall"]
_METHODS = ("between_groups", "to_overall")


def confusion_by_group(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Return the per-group confusion table ``table[g, y, ŷ]`` (weighted counts).

    Parameters
    ----------
    y_true, y_pred : ndarray of {0, 1}, shape (n_rows,)
    codes : ndarray of int, shape (n_rows,)
        Group of each row, ``0 .. n_groups - 1``.
    n_groups : int
    sample_weight : ndarray, shape (n_rows,), optional

    Returns
    -------
    ndarray of float64, shape (n_groups, 2, 2)
    """
    cell = codes * 4 + y_true.astype(np.int64) * 2 + y_pred.astype(np.int64)
    flat = np.bincount(cell, weights=sample_weight, minlength=4 * n_groups)
    return flat.astype(np.float64).reshape(n_groups, 2, 2)


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def rates(table: np.ndarray) -> dict[str, np.ndarray]:
    """Return every rate of :data:`RATES` from confusion tables of shape ``(..., G, 2, 2)``.

    Negative cells (possible after DP noise) are clipped to zero first; a rate with a zero
    denominator is ``nan``.
    """
    t = np.clip(table, 0.0, None)
    tn, fp, fn, tp = t[..., 0, 0], t[..., 0, 1], t[..., 1, 0], t[..., 1, 1]
    n = tn + fp + fn + tp
    pos, neg, sel = tp + fn, tn + fp, tp + fp
    tpr, fpr, err = _div(tp, pos), _div(fp, neg), _div(fp + fn, n)
    return {
        "selection_rate": _div(sel, n),
        "tpr": tpr,
        "fpr": fpr,
        "fnr": _div(fn, pos),
        "tnr": _div(tn, neg),
        "precision": _div(tp, sel),
        "error_rate": err,
        "accuracy": _div(tn + tp, n),
        "base_rate": _div(pos, n),
    }


def _check_method(method: str) -> None:
    if method not in _METHODS:
        raise ConfigError(
            f"method must be one of {_METHODS}; got {method!r}",
            field="method",
            hint="use 'between_groups' (max − min) or 'to_overall' (largest gap to the overall)",
        )


def difference(
    values: np.ndarray, *, method: Method = "between_groups", overall: np.ndarray | None = None
) -> np.ndarray:
    """Return the largest gap between groups along the last axis (``nan`` groups ignored).

    ``values`` has shape ``(..., G)``; ``overall`` (needed for ``"to_overall"``) has shape ``(...)``.
    """
    _check_method(method)
    with np.errstate(invalid="ignore"), _quiet_nan():
        if method == "between_groups":
            return np.asarray(np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1))
        if overall is None:
            raise ConfigError("method='to_overall' needs the overall value", field="overall")
        return np.asarray(np.nanmax(np.abs(values - overall[..., None]), axis=-1))


def ratio(
    values: np.ndarray, *, method: Method = "between_groups", overall: np.ndarray | None = None
) -> np.ndarray:
    """Return the smallest ratio between groups along the last axis (1 means equal rates)."""
    _check_method(method)
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan():
        if method == "between_groups":
            lo, hi = np.nanmin(values, axis=-1), np.nanmax(values, axis=-1)
            return np.asarray(np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), np.nan))
        if overall is None:
            raise ConfigError("method='to_overall' needs the overall value", field="overall")
        o = overall[..., None]
        r = np.minimum(values / o, o / values)
        return np.asarray(np.nanmin(r, axis=-1))


class _quiet_nan:
    """Silence numpy's 'All-NaN slice' warning: an all-nan slice correctly yields nan."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.filterwarnings("ignore", message="All-NaN")

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def disparity(
    table: np.ndarray,
    name: str,
    *,
    kind: Literal["difference", "ratio"] = "difference",
    method: Method = "between_groups",
    agg: Literal["worst_case", "mean"] = "worst_case",
) -> np.ndarray:
    """Return a named disparity (see :data:`DISPARITIES`) from confusion tables ``(..., G, 2, 2)``.

    A difference takes the largest of its parts (``agg="worst_case"``) or their mean; a ratio
    takes the smallest part or the mean.
    """
    if name not in DISPARITIES:
        raise ConfigError(
            f"unknown disparity {name!r}; known: {', '.join(DISPARITIES)}",
            field="disparity",
        )
    if agg not in ("worst_case", "mean"):
        raise ConfigError(f"agg must be 'worst_case' or 'mean'; got {agg!r}", field="agg")
    per_group = rates(table)
    overall = rates(table.sum(axis=-3))
    fn = difference if kind == "difference" else ratio
    parts = np.stack(
        [fn(per_group[r], method=method, overall=overall[r]) for r in DISPARITIES[name]]
    )
    if agg == "mean":
        return np.asarray(parts.mean(axis=0))
    return np.asarray(parts.max(axis=0) if kind == "difference" else parts.min(axis=0))


def _prepare(
    y_true: Any, y_pred: Any, sensitive_features: Any, sample_weight: Any, pos_label: Any
) -> tuple[np.ndarray, GroupIndex, np.ndarray | None]:
    yp = as_binary("y_pred", y_pred, pos_label=pos_label)
    n = yp.shape[0]
    yt = as_binary("y_true", y_true, pos_label=pos_label, n=n)
    groups = encode_groups(sensitive_features, n)
    w = as_weights(sample_weight, n)
    return confusion_by_group(yt, yp, groups.codes, groups.n_groups, w), groups, w


def metrics_by_group(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: Any = None,
) -> pd.DataFrame:
    """Return one row per group (intersection of the sensitive features) with every rate.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_rows,)
        True labels and predicted labels, binary.
    sensitive_features : array-like, Series, DataFrame or dict of columns, shape (n_rows, k)
        One or more attributes; groups are the observed combinations of their values.
    sample_weight : array-like, shape (n_rows,), optional
    pos_label : scalar, optional
        The positive label; needed unless labels are 0/1, -1/1 or booleans.

    Returns
    -------
    DataFrame
        Columns: the attribute names, ``count`` (rows), ``weight`` (sum of weights), then
        :data:`RATES`.

    Examples
    --------
    >>> metrics_by_group([1, 0, 1, 1], [1, 0, 0, 1], sensitive_features=["a", "a", "b", "b"])[
    ...     ["group", "count", "selection_rate", "tpr"]
    ... ]
      group  count  selection_rate  tpr
    0     a      2             0.5  1.0
    1     b      2             0.5  0.5
    """
    table, groups, _ = _prepare(y_true, y_pred, sensitive_features, sample_weight, pos_label)
    counts = np.bincount(groups.codes, minlength=groups.n_groups)
    out = groups.labels.copy()
    out["count"] = counts
    out["weight"] = table.sum(axis=(-1, -2))
    for key, value in rates(table).items():
        out[key] = value
    return out


def _named(name: str, kind: Literal["difference", "ratio"]) -> Any:
    def fn(
        y_true: Any,
        y_pred: Any,
        *,
        sensitive_features: Any,
        method: Method = "between_groups",
        sample_weight: Any = None,
        pos_label: Any = None,
        agg: Literal["worst_case", "mean"] = "worst_case",
    ) -> float:
        table, _, _ = _prepare(y_true, y_pred, sensitive_features, sample_weight, pos_label)
        return float(disparity(table, name, kind=kind, method=method, agg=agg))

    parts = " and ".join(DISPARITIES[name])
    what = "largest gap" if kind == "difference" else "smallest ratio"
    fn.__name__ = f"{name}_{kind}"
    fn.__qualname__ = fn.__name__
    fn.__doc__ = (
        f"Return the {name.replace('_', ' ')} {kind}: the {what} in {parts} between groups.\n\n"
        "Parameters are those of :func:`metrics_by_group`, plus ``method`` ('between_groups' or\n"
        "'to_overall') and ``agg`` ('worst_case' or 'mean' over the compared rates).\n"
    )
    return fn


demographic_parity_difference = _named("demographic_parity", "difference")
demographic_parity_ratio = _named("demographic_parity", "ratio")
equalized_odds_difference = _named("equalized_odds", "difference")
equalized_odds_ratio = _named("equalized_odds", "ratio")
equal_opportunity_difference = _named("equal_opportunity", "difference")
equal_opportunity_ratio = _named("equal_opportunity", "ratio")
predictive_parity_difference = _named("predictive_parity", "difference")
predictive_parity_ratio = _named("predictive_parity", "ratio")


def calibration_by_group(
    y_true: np.ndarray,
    score: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    n_bins: int = 10,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Return calibration sums per group and score bin, shape ``(n_groups, n_bins, 3)``.

    The last axis holds (weight, sum of scores, sum of positive labels) for equal-width bins of
    ``[0, 1]``; mean score and observed positive rate per bin are the ratios to the weight.
    """
    s = as_vector("score", score, n=codes.shape[0]).astype(np.float64)
    if np.any((s < 0) | (s > 1)) or not np.all(np.isfinite(s)):
        raise ConfigError(
            "scores for calibration must be probabilities in [0, 1]",
            field="score",
            hint="pass predict_proba(X)[:, 1], not a decision function",
        )
    b = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    cell = codes * n_bins + b
    w = np.ones_like(s) if sample_weight is None else sample_weight
    size = n_groups * n_bins
    out = np.stack(
        [
            np.bincount(cell, weights=w, minlength=size),
            np.bincount(cell, weights=w * s, minlength=size),
            np.bincount(cell, weights=w * y_true, minlength=size),
        ],
        axis=-1,
    )
    return out.reshape(n_groups, n_bins, 3)


def group_mean(
    values: np.ndarray, codes: np.ndarray, n_groups: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Return the (weighted) mean of ``values`` per group, shape ``(n_groups,)``."""
    w = np.ones(values.shape[0]) if weights is None else weights
    return _div(
        np.bincount(codes, weights=w * values, minlength=n_groups),
        np.bincount(codes, weights=w, minlength=n_groups),
    )


def group_median(
    values: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    weights: np.ndarray | None = None,
    *,
    presorted: bool = False,
) -> np.ndarray:
    """Return the (weighted) median of ``values`` per group, shape ``(n_groups,)``, vectorized.

    With equal weights this is numpy's median (the mean of the two middle values for an even
    count); with weights it is the value where the cumulative weight first reaches half, averaged
    with the next value when it lands exactly on half. Rows of weight zero are ignored.
    ``presorted=True`` promises rows already sorted by (code, value), which skips the sort
    (the bootstrap sorts once and re-weights).
    """
    w = np.ones(values.shape[0]) if weights is None else weights
    if presorted:
        v, c, ww = values, codes, w
    else:
        order = np.lexsort((values, codes))
        v, c, ww = values[order], codes[order], w[order]
    if weights is not None:
        keep_rows = ww > 0
        v, c, ww = v[keep_rows], c[keep_rows], ww[keep_rows]
    out = np.full(n_groups, np.nan)
    if v.shape[0] == 0:
        return out
    total = np.bincount(c, weights=ww, minlength=n_groups)
    cum = np.cumsum(ww)
    start = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    within = cum - start[c]  # cumulative weight inside the row's group
    half = total[c] / 2.0
    tol = 1e-12 * np.maximum(total[c], 1.0)
    reached = within >= half - tol
    # first row of each group where half the weight is reached
    first = np.full(n_groups, -1, dtype=np.int64)
    idx = np.flatnonzero(reached)
    grp = c[idx]
    keep = np.r_[True, grp[1:] != grp[:-1]]
    first[grp[keep]] = idx[keep]
    has = first >= 0
    k = first[has]
    exact = np.abs(within[k] - half[k]) <= tol[k]
    nxt = np.minimum(k + 1, v.shape[0] - 1)
    same_group = c[nxt] == c[k]
    out[has] = np.where(exact & same_group, (v[k] + v[nxt]) / 2.0, v[k])
    return out
