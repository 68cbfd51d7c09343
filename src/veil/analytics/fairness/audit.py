"""Audit a classifier's outputs by group: rates, disparities, intervals, suppression, DP release.

:func:`audit` computes, for each sensitive attribute and for the intersection of all of them, the
rates of :data:`~veil.analytics.fairness.metrics.RATES` per group and the disparities of
:data:`~veil.analytics.fairness.metrics.DISPARITIES` (differences and ratios), with percentile
bootstrap intervals. Groups with fewer than ``min_group_size`` rows are suppressed (figures
``nan``) and flagged, and are left out of the disparities.

Everything published is derived from one table of counts per intersection group (true label ×
prediction; optionally score bin × label); the marginal groupings are sums of it. With
``epsilon=`` that table is released through a :class:`~veil.analytics.fairness.noise.CountMechanism`
and every figure is post-processing of the noisy table, so the whole audit is ε-DP for one row.

Bootstrap: without weights, resampling rows with replacement is the same as drawing the count
table from a multinomial with the observed cell frequencies, which is what is done (exactly the
row bootstrap, at the cost of the table size). With weights, rows are resampled. Under DP the
interval is a parametric bootstrap from the noisy table that also re-draws the noise, so it
covers sampling and noise and costs no privacy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from veil.analytics.fairness._inputs import (
    GroupIndex,
    as_binary,
    as_vector,
    as_weights,
    encode_groups,
    sensitive_frame,
)
from veil.analytics.fairness.metrics import (
    DISPARITIES,
    RATES,
    calibration_by_group,
    confusion_by_group,
    difference,
    group_mean,
    group_median,
    rates,
    ratio,
)
from veil.analytics.fairness.noise import (
    CountMechanism,
    charged,
    check_epsilon,
    check_ledger,
    count_mechanism,
)
from veil.dp.accountant import sequential
from veil.dp.ledger import Ledger
from veil.errors import ConfigError, PrivacyError

__all__ = ["AuditResult", "GroupingAudit", "audit"]

#: Parameter → (check, expected) for :func:`audit`; checked before any work.
_PARAMS: dict[str, tuple[Any, str]] = {
    "min_group_size": (lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
    "n_bootstrap": (lambda v: isinstance(v, int) and v >= 0, "an integer >= 0 (0: no intervals)"),
    "confidence": (lambda v: isinstance(v, float) and 0 < v < 1, "a float in (0, 1)"),
    "n_bins": (lambda v: isinstance(v, int) and v >= 1, "an integer >= 1"),
    "calibration_share": (lambda v: isinstance(v, float) and 0 < v < 1, "a float in (0, 1)"),
}

#: Keys of each group in :meth:`AuditResult.to_dict` (the CLI's JSON contract), plus extras.
GROUP_KEYS = ("count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate")


@dataclass
class GroupingAudit:
    """The audit of one grouping (one attribute, or the intersection of several).

    Attributes
    ----------
    name : str
        Attribute name(s) joined by `` & ``.
    metrics : DataFrame, one row per group
        Attribute values, ``key``, ``count``, ``suppressed``, each rate, and ``<rate>_low`` /
        ``<rate>_high`` interval bounds when bootstrapped.
    disparities : DataFrame, one row per disparity
        ``difference``, ``difference_low``, ``difference_high``, ``ratio``, ``ratio_low``,
        ``ratio_high``.
    calibration : DataFrame or None
        Long table: ``key``, ``bin_low``, ``bin_high``, ``count``, ``mean_score``,
        ``positive_rate`` (only when scores were given).
    outcome : DataFrame or None
        ``key``, ``mean``, ``median`` (and interval bounds) of the outcome per group.
    """

    name: str
    metrics: pd.DataFrame
    disparities: pd.DataFrame
    calibration: pd.DataFrame | None = None
    outcome: pd.DataFrame | None = None


@dataclass
class AuditResult:
    """Everything an audit publishes; ``to_dict()`` is the JSON document of ``veil fair audit``.

    Attributes
    ----------
    groupings : dict of str to GroupingAudit
        One per attribute, then the intersection (the last one, also :attr:`primary`).
    flags : list of str
        Human-readable notes: suppressed groups, figures withheld under DP.
    privacy : dict or None
        ε, its split between tables, the mechanism and the privacy unit; ``None`` when exact.
    settings : dict
        ``min_group_size``, ``n_bootstrap``, ``confidence``, ``n_bins``.
    """

    groupings: dict[str, GroupingAudit]
    flags: list[str] = field(default_factory=list)
    privacy: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> GroupingAudit:
        """The intersection of all sensitive attributes (the only grouping for one attribute)."""
        return list(self.groupings.values())[-1]

    def disparity(self, name: str, kind: str = "difference") -> float:
        """Return one disparity of the intersection grouping, e.g. ``"demographic_parity"``."""
        return float(self.primary.disparities.loc[name, kind])

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready document (no NaN: missing figures are ``None``)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float | np.floating):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            if isinstance(v, np.bool_):
                return bool(v)
            return v

        def grouping_doc(g: GroupingAudit) -> dict[str, Any]:
            groups: dict[str, Any] = {}
            for row in g.metrics.to_dict("records"):
                entry = {k: clean(row[k]) for k in (*GROUP_KEYS, "suppressed")}
                entry.update({k: clean(row[k]) for k in RATES if k not in entry})
                if f"{RATES[0]}_low" in row:
                    entry["intervals"] = {
                        k: [clean(row[f"{k}_low"]), clean(row[f"{k}_high"])] for k in RATES
                    }
                groups[str(row["key"])] = entry
            disp = {
                name: {k: clean(v) for k, v in row.items()}
                for name, row in g.disparities.to_dict("index").items()
            }
            doc: dict[str, Any] = {"groups": groups, "disparities": disp}
            if g.outcome is not None:
                doc["outcome"] = {
                    str(r["key"]): {k: clean(v) for k, v in r.items() if k != "key"}
                    for r in g.outcome.to_dict("records")
                }
            if g.calibration is not None:
                doc["calibration"] = [
                    {k: clean(v) for k, v in r.items()} for r in g.calibration.to_dict("records")
                ]
            return doc

        main = grouping_doc(self.primary)
        out: dict[str, Any] = {"groups": main["groups"]}
        for name in ("demographic_parity", "equalized_odds", "equal_opportunity"):
            out[f"{name}_difference"] = clean(self.primary.disparities.loc[name, "difference"])
        out["disparities"] = main["disparities"]
        out["groupings"] = {name: grouping_doc(g) for name, g in self.groupings.items()}
        out["flags"] = list(self.flags)
        out["privacy"] = self.privacy
        out["settings"] = self.settings
        return out

    def summary(self) -> str:
        """Return a plain-text summary: the intersection's groups and its disparities."""
        g = self.primary
        cols = ["key", "count", "selection_rate", "tpr", "fpr", "precision", "error_rate"]
        lines = [f"Fairness audit by {g.name}", g.metrics[cols].to_string(index=False), ""]
        lines.append(g.disparities[["difference", "ratio"]].to_string())
        if self.privacy:
            lines.append(
                f"\nreleased with epsilon = {self.privacy['epsilon']:g} (discrete Laplace)"
            )
        lines.extend(f"note: {f}" for f in self.flags)
        return "\n".join(lines)

    def plot(self, grouping: str | None = None, rates_shown: tuple[str, ...] = ()) -> Any:
        """Plot rates by group with their intervals; return the matplotlib Figure."""
        from veil.analytics.fairness.report import plot_rates

        g = self.groupings[grouping] if grouping else self.primary
        return plot_rates(g, rates_shown or ("selection_rate", "tpr", "fpr"))

    def to_html(self, path: str | None = None) -> str:
        """Return (and write to ``path`` if given) a self-contained HTML report with plots."""
        from veil.analytics.fairness.report import audit_html

        html = audit_html(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(html)
        return html


def _check(params: dict[str, Any]) -> None:
    for name, value in params.items():
        ok, expected = _PARAMS[name]
        if not ok(value):
            raise ConfigError(
                f"the {name!r} parameter of audit must be {expected}; got {value!r}",
                field=name,
            )


def _coarsen(
    fine: GroupIndex, attrs: list[str], domain: Mapping[str, Sequence[Any]] | None
) -> tuple[GroupIndex, np.ndarray]:
    """Return the grouping by ``attrs`` and the map fine group → coarse group."""
    sub = None if domain is None else {a: domain[a] for a in attrs}
    coarse = encode_groups(fine.labels[attrs], domain=sub)
    return GroupIndex(codes=coarse.codes[fine.codes], labels=coarse.labels), coarse.codes


def _sum_groups(table: np.ndarray, mapping: np.ndarray, n_coarse: int) -> np.ndarray:
    """Sum fine-group tables ``(..., G_fine, ...)`` into coarse groups along axis -3."""
    onehot = np.zeros((n_coarse, mapping.shape[0]))
    onehot[mapping, np.arange(mapping.shape[0])] = 1.0
    return np.einsum("cg,...gij->...cij", onehot, table)


def audit(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    score: Any = None,
    outcome: Any = None,
    sample_weight: Any = None,
    pos_label: Any = None,
    min_group_size: int = 30,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    n_bins: int = 10,
    epsilon: float | str | Fraction | None = None,
    calibration_share: float = 0.5,
    mechanism: CountMechanism | None = None,
    ledger: Ledger | str | Path | None = None,
    dataset: str | None = None,
    group_values: Mapping[str, Sequence[Any]] | None = None,
    random_state: int | np.random.Generator | None = None,
) -> AuditResult:
    """Audit predictions by group, with intervals, suppression and an optional DP release.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_rows,)
        True and predicted labels (binary; see ``pos_label``).
    sensitive_features : array-like, Series, DataFrame or dict, shape (n_rows, k)
        Attributes to audit by; each alone and their intersection are reported.
    score : array-like of float in [0, 1], shape (n_rows,), optional
        Predicted probability of the positive label, for calibration by score bins.
    outcome : array-like of float, shape (n_rows,), optional
        A numeric outcome (e.g. pay) whose mean and median are reported per group. Withheld
        under DP (its sensitivity is unbounded).
    sample_weight : array-like, shape (n_rows,), optional
        Not allowed with ``epsilon`` (weights change the sensitivity).
    pos_label : scalar, optional
        Positive label; needed unless labels are 0/1, -1/1 or booleans.
    min_group_size : int, default=30
        Groups with fewer rows (noisy count under DP) are suppressed and flagged.
    n_bootstrap : int, default=1000
        Bootstrap replicates for the intervals (0 for none).
    confidence : float, default=0.95
        Coverage of the percentile intervals.
    n_bins : int, default=10
        Equal-width score bins on [0, 1] for calibration.
    epsilon : float, optional
        Release every count with ε-DP (privacy unit: one row). The confusion table gets ε,
        or ``(1 − calibration_share)·ε`` when scores are given and the calibration table gets
        the rest (basic composition).
    calibration_share : float, default=0.5
        Share of ε spent on the calibration table when ``score`` is given.
    mechanism : CountMechanism, optional
        Use this mechanism (already carrying its ε) instead of :func:`count_mechanism`; not
        together with ``epsilon`` or ``score``.
    ledger : veil.dp.ledger.Ledger or path, optional
        Charge the release's ε to ``dataset``'s budget in this ledger *before* any noise is
        drawn; the charge is durable (a crash afterwards loses budget, never privacy). The
        remaining budget is reported in ``privacy["ledger"]``.
    dataset : str, optional
        The ledger's dataset whose budget pays; required with ``ledger``.
    group_values : dict of str to sequence, optional
        The public values of each sensitive attribute (compared as text). Groups are then every
        combination of them, reported even when empty, and rows with other values are left
        out. Under DP this keeps the *list* of groups from depending on the data (otherwise a
        group's mere presence is published exactly, and a flag says so).
    random_state : int or Generator, optional
        Seed of the bootstrap (public randomness only; DP noise never comes from it).

    Returns
    -------
    AuditResult

    Raises
    ------
    ConfigError
        A parameter is out of range, labels are not binary without ``pos_label``.
    DataError
        Inputs have different lengths or missing values.
    PrivacyError
        ``epsilon`` is not positive, or is combined with sample weights.
    BudgetExhausted
        The ledger's budget for ``dataset`` cannot pay ``epsilon``; nothing is released.
    """
    _check(
        {
            "min_group_size": min_group_size,
            "n_bootstrap": n_bootstrap,
            "confidence": float(confidence),
            "n_bins": n_bins,
            "calibration_share": float(calibration_share),
        }
    )
    rng = np.random.default_rng(random_state)
    yp = as_binary("y_pred", y_pred, pos_label=pos_label)
    n = yp.shape[0]
    yt = as_binary("y_true", y_true, pos_label=pos_label, n=n)
    frame = sensitive_frame(sensitive_features, n)
    w = as_weights(sample_weight, n)
    private = epsilon is not None or mechanism is not None
    check_ledger(ledger, dataset, private)
    if epsilon is not None:
        check_epsilon(epsilon)  # before any work
    if private and w is not None:
        raise PrivacyError(
            "sample weights cannot be combined with a DP release",
            field="sample_weight",
            hint="drop sample_weight (each row then counts once), or audit without epsilon",
        )
    s = None if score is None else as_vector("score", score, n=n).astype(np.float64)
    out_v = None if outcome is None else as_vector("outcome", outcome, n=n).astype(np.float64)

    flags: list[str] = []
    fine = encode_groups(frame, domain=group_values)
    inside = fine.codes >= 0
    if not inside.all():  # only with group_values: rows outside the public domain are left out
        if not private:
            flags.append(f"{int((~inside).sum())} rows with values outside group_values left out")
        yt, yp, frame = yt[inside], yp[inside], frame[inside].reset_index(drop=True)
        s = None if s is None else s[inside]
        out_v = None if out_v is None else out_v[inside]
        w = None if w is None else w[inside]
        fine = GroupIndex(codes=fine.codes[inside], labels=fine.labels)
        n = yt.shape[0]
    table = confusion_by_group(yt, yp, fine.codes, fine.n_groups, w)
    calib = (
        None
        if s is None
        else calibration_by_group(yt, s, fine.codes, fine.n_groups, n_bins=n_bins, sample_weight=w)
    )
    privacy: dict[str, Any] | None = None
    mech_table = None
    if private:
        table, calib, mech_table, privacy = _release(
            table, calib, epsilon, mechanism, calibration_share, n_bins, ledger, dataset
        )
        privacy["groups"] = (
            "public: every combination of group_values"
            if group_values is not None
            else "taken from the data and treated as public (pass group_values= to fix them)"
        )
        if group_values is None:
            flags.append(
                "the list of groups was read from the data; under DP it should be public "
                "(group_values=)"
            )
        if out_v is not None:
            flags.append("outcome mean/median withheld under DP (unbounded sensitivity)")
            out_v = None

    # bootstrap replicates of the fine table, shape (B, G, 2, 2)
    reps = None
    if n_bootstrap > 0:
        if mech_table is not None:
            clipped = np.clip(table, 0, None)
            total_n = round(clipped.sum())
            p = clipped.reshape(-1) / max(clipped.sum(), 1.0)
            draws = rng.multinomial(total_n, p, size=n_bootstrap).astype(np.float64)
            draws += mech_table.simulate(draws.shape, rng)
            reps = draws.reshape(n_bootstrap, *table.shape)
        elif w is None:
            p = table.reshape(-1) / n
            reps = rng.multinomial(n, p, size=n_bootstrap).astype(np.float64)
            reps = reps.reshape(n_bootstrap, *table.shape)
        else:
            cell = fine.codes * 4 + yt.astype(np.int64) * 2 + yp.astype(np.int64)
            reps = np.empty((n_bootstrap, *table.shape))
            for b in range(n_bootstrap):
                idx = rng.integers(0, n, n)
                reps[b] = np.bincount(cell[idx], weights=w[idx], minlength=table.size).reshape(
                    table.shape
                )

    alpha = (1 - confidence) / 2
    results: dict[str, GroupingAudit] = {}
    attr_sets = [[c] for c in frame.columns] if frame.shape[1] > 1 else []
    attr_sets.append(list(frame.columns))
    for attrs in attr_sets:
        groups, mapping = _coarsen(fine, attrs, group_values)
        t = _sum_groups(table, mapping, groups.n_groups)
        r = None if reps is None else _sum_groups(reps, mapping, groups.n_groups)
        counts = (
            np.bincount(groups.codes, minlength=groups.n_groups).astype(np.float64)
            if not private
            else np.clip(np.round(t.sum(axis=(-1, -2))), 0, None)
        )
        name = " & ".join(attrs)
        metrics, disp, suppressed = _tabulate(groups, t, r, counts, min_group_size, alpha)
        for key in np.asarray(groups.keys)[suppressed]:
            flags.append(f"{name}={key}: fewer than {min_group_size} rows; figures suppressed")
        cal_df = None
        if calib is not None:
            c = _sum_groups(calib, mapping, groups.n_groups)
            cal_df = _calibration_frame(groups, c, suppressed)
        out_df = None
        if out_v is not None:
            out_df = _outcome_frame(groups, out_v, w, suppressed, n_bootstrap, alpha, rng)
        results[name] = GroupingAudit(name, metrics, disp, cal_df, out_df)

    settings = {
        "min_group_size": min_group_size,
        "n_bootstrap": n_bootstrap,
        "confidence": confidence,
        "n_bins": n_bins,
        "n_rows": n if not private else None,
    }
    return AuditResult(results, flags, privacy, settings)


def _release(
    table: np.ndarray,
    calib: np.ndarray | None,
    epsilon: Any,
    mechanism: CountMechanism | None,
    calibration_share: float,
    n_bins: int,
    ledger: Ledger | str | Path | None,
    dataset: str | None,
) -> tuple[np.ndarray, np.ndarray | None, CountMechanism, dict[str, Any]]:
    """Noise the confusion (and calibration) table; charge a ledger first when one is given.

    Returns the noisy tables (float), the confusion table's mechanism (for the bootstrap) and
    the ``privacy`` section of the result.
    """
    if mechanism is not None and (epsilon is not None or calib is not None):
        raise ConfigError(
            "a custom mechanism carries its own epsilon and covers one table",
            field="mechanism",
            hint="pass either epsilon= or mechanism=, and leave out score with mechanism=",
        )
    mechs: dict[str, CountMechanism] = {}
    if mechanism is not None:
        mechs["confusion_table"] = mechanism
    else:
        total = check_epsilon(epsilon)
        share = Fraction(repr(float(calibration_share))) if calib is not None else Fraction(0)
        mechs["confusion_table"] = count_mechanism(total * (1 - share))
        if calib is not None:
            mechs["calibration_table"] = count_mechanism(total * share)
    guarantee = sequential(*(m.guarantee for m in mechs.values()))
    privacy: dict[str, Any] = {
        "epsilon": float(guarantee.epsilon),
        "delta": float(guarantee.delta),
        "split": {k: m.epsilon for k, m in mechs.items()},
        "tables": {k: m.describe() for k, m in mechs.items()},
        "composition": "basic: epsilons of the tables add up",
        "privacy_unit": str(guarantee.unit),
    }
    names = ", ".join(f"{k} ({m.describe()['mechanism']})" for k, m in mechs.items())
    with charged(ledger, dataset, guarantee, f"fairness audit: {names}") as book:
        noisy_table = mechs["confusion_table"].release(table).astype(np.float64)
        noisy_calib = None
        if calib is not None:
            # released: per bin, rows with label 0 and with label 1; a bin's mean score is
            # taken as its midpoint (scores lie in [0, 1] by construction)
            cal_counts = np.stack([calib[..., 0] - calib[..., 2], calib[..., 2]], axis=-1)
            noisy = mechs["calibration_table"].release(cal_counts).astype(np.float64)
            mids = (np.arange(n_bins) + 0.5) / n_bins
            rows = noisy.sum(axis=-1)
            noisy_calib = np.stack([rows, rows * mids, noisy[..., 1]], axis=-1)
    if book:
        privacy["ledger"] = book
    return noisy_table, noisy_calib, mechs["confusion_table"], privacy


def _tabulate(
    groups: GroupIndex,
    table: np.ndarray,
    reps: np.ndarray | None,
    counts: np.ndarray,
    min_group_size: int,
    alpha: float,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    suppressed = counts < min_group_size
    point = rates(table)
    metrics = groups.labels.copy()
    metrics.insert(0, "key", groups.keys)
    metrics["count"] = counts.astype(np.int64)
    metrics["suppressed"] = suppressed
    metrics.attrs["confidence"] = 1 - 2 * alpha
    for k in RATES:
        metrics[k] = np.where(suppressed, np.nan, point[k])
    rep_rates = None
    if reps is not None:
        rep_rates = rates(reps)
        for k in RATES:
            v = np.where(suppressed, np.nan, rep_rates[k])
            lo, hi = _quantiles(v, alpha)
            metrics[f"{k}_low"], metrics[f"{k}_high"] = lo, hi
    overall = rates(table.sum(axis=-3))
    rows = {}
    for name, parts in DISPARITIES.items():
        row: dict[str, float] = {}
        for kind, fn in (("difference", difference), ("ratio", ratio)):
            vals = [
                fn(np.where(suppressed, np.nan, point[p]), method="between_groups") for p in parts
            ]
            row[kind] = float(max(vals) if kind == "difference" else min(vals))
            if rep_rates is not None:
                rv = np.stack(
                    [
                        fn(np.where(suppressed, np.nan, rep_rates[p]), method="between_groups")
                        for p in parts
                    ]
                )
                agg = rv.max(axis=0) if kind == "difference" else rv.min(axis=0)
                lo, hi = _quantiles(agg, alpha)
                row[f"{kind}_low"], row[f"{kind}_high"] = float(lo), float(hi)
        row["overall"] = float(overall[parts[0]])
        rows[name] = row
    return metrics, pd.DataFrame.from_dict(rows, orient="index"), suppressed


def _quantiles(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN")
        q = np.nanquantile(values, [alpha, 1 - alpha], axis=0)
    return q[0], q[1]


def _calibration_frame(
    groups: GroupIndex, calib: np.ndarray, suppressed: np.ndarray
) -> pd.DataFrame:
    g, b = calib.shape[:2]
    c = np.clip(calib, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_score = np.where(c[..., 0] > 0, c[..., 1] / c[..., 0], np.nan)
        pos_rate = np.where(c[..., 0] > 0, np.minimum(c[..., 2] / c[..., 0], 1.0), np.nan)
    mean_score[suppressed] = np.nan
    pos_rate[suppressed] = np.nan
    edges = np.arange(b + 1) / b
    return pd.DataFrame(
        {
            "key": np.repeat(groups.keys, b),
            "bin_low": np.tile(edges[:-1], g),
            "bin_high": np.tile(edges[1:], g),
            "count": np.round(c[..., 0]).reshape(-1).astype(np.int64),
            "mean_score": mean_score.reshape(-1),
            "positive_rate": pos_rate.reshape(-1),
        }
    )


def _outcome_frame(
    groups: GroupIndex,
    values: np.ndarray,
    w: np.ndarray | None,
    suppressed: np.ndarray,
    n_bootstrap: int,
    alpha: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    g = groups.n_groups
    mean = group_mean(values, groups.codes, g, w)
    median = group_median(values, groups.codes, g, w)
    out = pd.DataFrame({"key": groups.keys, "mean": mean, "median": median})
    if n_bootstrap > 0:
        # sort once; a replicate is a multinomial re-weighting of the rows (= row resampling)
        n = values.shape[0]
        order = np.lexsort((values, groups.codes))
        v, c = values[order], groups.codes[order]
        base = np.ones(n) if w is None else w[order]
        bm = np.empty((n_bootstrap, g))
        bmed = np.empty((n_bootstrap, g))
        for b in range(n_bootstrap):
            ww = np.bincount(rng.integers(0, n, n), minlength=n) * base
            bm[b] = group_mean(v, c, g, ww)
            bmed[b] = group_median(v, c, g, ww, presorted=True)
        out["mean_low"], out["mean_high"] = _quantiles(bm, alpha)
        out["median_low"], out["median_high"] = _quantiles(bmed, alpha)
    num = out.columns.drop("key")
    out.loc[suppressed, num] = np.nan
    return out
