"""Plots and a self-contained HTML report for fairness audits (PNG images embedded as base64)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from veil.analytics.fairness.audit import AuditResult, GroupingAudit

__all__ = ["audit_html", "figure_png", "plot_rates"]

_LABELS = {
    "selection_rate": "selection rate",
    "tpr": "true positive rate",
    "fpr": "false positive rate",
    "fnr": "false negative rate",
    "precision": "precision",
    "error_rate": "error rate",
}


def plot_rates(g: GroupingAudit, shown: tuple[str, ...]) -> Any:
    """Return a figure: one panel per rate, a dot per group with its interval, overall dashed."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    m = g.metrics
    n_groups = len(m)
    height = max(2.0, 0.9 + 0.38 * n_groups)
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), height), sharey=True,
                             squeeze=False)  # fmt: skip
    y = np.arange(n_groups)
    for ax, rate in zip(axes[0], shown, strict=True):
        vals = m[rate].to_numpy(dtype=float)
        if f"{rate}_low" in m:
            lo = vals - m[f"{rate}_low"].to_numpy(dtype=float)
            hi = m[f"{rate}_high"].to_numpy(dtype=float) - vals
            ax.errorbar(vals, y, xerr=np.vstack([lo, hi]), fmt="o", color="#1f5f8b", capsize=3)
        else:
            ax.plot(vals, y, "o", color="#1f5f8b")
        for i in np.flatnonzero(m["suppressed"].to_numpy()):
            ax.annotate(
                "suppressed",
                (0.02, y[i]),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=8,
                color="#a33",
            )
        overall = g.disparities["overall"].get(
            {
                "selection_rate": "demographic_parity",
                "tpr": "equal_opportunity",
                "precision": "predictive_parity",
                "error_rate": "error_rate_parity",
            }.get(rate, ""),
            np.nan,
        )
        if np.isfinite(overall):
            ax.axvline(overall, ls="--", color="#888", lw=1)
        ax.set_title(_LABELS.get(rate, rate), fontsize=10)
        ax.set_xlim(-0.02, 1.02)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, [str(k) for k in m["key"]])
    axes[0][0].set_ylim(n_groups - 0.5, -0.5)  # first group on top, half a row of margin
    fig.suptitle(f"Rates by {g.name} ({100 * _confidence(g):.0f}% intervals)", fontsize=11)
    fig.tight_layout()
    return fig


def _confidence(g: GroupingAudit) -> float:
    return float(g.metrics.attrs.get("confidence", 0.95))


def figure_png(fig: Any) -> str:
    """Return the figure as a base64 PNG data URI (and close it)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_HEADERS = {
    "key": "group",
    "count": "rows",
    "selection_rate": "selection rate",
    "tpr": "TPR",
    "fpr": "FPR",
    "fnr": "FNR",
    "error_rate": "error rate",
    "mean_score": "mean score",
    "positive_rate": "positive rate",
}


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        if not np.isfinite(v):
            return "—"
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3f}"
    if isinstance(v, int | np.integer):
        return f"{v:,}"
    return html.escape(str(v))


def _interval(row: dict[str, Any], name: str) -> str:
    lo, hi = row.get(f"{name}_low"), row.get(f"{name}_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return "—"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _table(rows: list[dict[str, Any]], cols: list[str], intervals: tuple[str, ...] = ()) -> str:
    """Return an HTML table; a column in ``intervals`` is followed by its ``[low, high]``."""
    head, cells = [], []
    for c in cols:
        head.append(f"<th>{html.escape(_HEADERS.get(c, c.replace('_', ' ')))}</th>")
        if c in intervals:
            head.append("<th>interval</th>")
    for r in rows:
        tds = []
        for c in cols:
            tds.append(f"<td>{_fmt(r.get(c))}</td>")
            if c in intervals:
                tds.append(f"<td class='ci'>{_interval(r, c)}</td>")
        cells.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(cells)}</tbody></table>"


def _calibration_table(cal: Any, midpoints: bool, legend: bool) -> str:
    """Return calibration as one row per score bin and, per group, positive rate and rows."""
    keys = list(dict.fromkeys(cal["key"]))
    head = "<th>score bin</th>" + "".join(
        f"<th>{html.escape(str(k))}</th><th>rows</th>" for k in keys
    )
    body = []
    for (lo, hi), part in cal.groupby(["bin_low", "bin_high"], sort=True):
        by_key = {r["key"]: r for r in part.to_dict("records")}
        tds = [f"<td>{lo:.1f}–{hi:.1f}</td>"]
        for k in keys:
            r = by_key.get(k)
            tds.append(f"<td>{_fmt(r['positive_rate']) if r else '—'}</td>")
            tds.append(f"<td class='ci'>{_fmt(r['count']) if r else 0}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    note = (
        "Positive rate: share of rows with a positive label among those whose score falls in "
        "the bin; a calibrated score has it close to the bin's scores."
        + (" Under DP the bin midpoint stands in for the mean score." if midpoints else "")
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return (f"<p class='legend'>{note}</p>" if legend else "") + table


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:68rem;
color:#222;line-height:1.4;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f6f8}
td.ci{color:#667}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4rem .8rem;margin:.4rem 0}
.dp{background:#e8f4fd;border-left:4px solid #1f5f8b;padding:.4rem .8rem}
.legend{color:#555;font-size:.85rem;margin:.2rem 0}
img{max-width:100%}
"""

_DISPARITY_LEGEND = (
    "Difference: the largest minus the smallest group rate (for equalized odds, the larger of "
    "the TPR and FPR differences); ratio: the smallest over the largest. 0 and 1 mean parity. "
    "Suppressed groups are left out."
)


def _grouping(g: GroupingAudit, alpha_text: str, private: bool, first: bool) -> list[str]:
    parts = []
    d = g.disparities.reset_index(names="disparity")
    d["disparity"] = d["disparity"].str.replace("_", " ")
    with_ci = "difference_low" in d
    ci = ("difference", "ratio") if with_ci else ()
    parts.append(_table(d.to_dict("records"), ["disparity", "difference", "ratio"], ci))
    if first:
        parts.append(f"<p class='legend'>{_DISPARITY_LEGEND}</p>")
    mcols = ["key", "count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate"]
    rate_ci = ("selection_rate",) if "selection_rate_low" in g.metrics else ()
    parts.append(_table(g.metrics.to_dict("records"), mcols, rate_ci))
    png = figure_png(plot_rates(g, ("selection_rate", "tpr", "fpr")))
    parts.append(f"<img alt='rates by {html.escape(g.name)}' src='{png}'>")
    if first:
        parts.append(
            f"<p class='legend'>Dots: each group's rate with its {alpha_text} interval; dashed "
            "line: the overall rate.</p>"
        )
    if g.outcome is not None:
        ocols = ["key", "mean", "median"]
        oci = ("mean", "median") if "mean_low" in g.outcome else ()
        parts.append("<h3>Outcome</h3>" + _table(g.outcome.to_dict("records"), ocols, oci))
    if g.calibration is not None:
        cal = g.calibration[g.calibration["count"] > 0]
        parts.append("<h3>Calibration by score bin</h3>")
        parts.append(_calibration_table(cal, private, first))
    return parts


def audit_html(result: AuditResult) -> str:
    """Return a standalone HTML page: settings, privacy, disparities, group tables, plots.

    The intersection of all attributes (the audit's primary grouping) comes first, then each
    attribute alone.
    """
    name = html.escape(result.primary.name)
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>Fairness audit by {name}</title>"
        f"<style>{_CSS}</style>",
        f"<h1>Fairness audit by {name}</h1>",
    ]
    st = result.settings
    alpha_text = f"{st.get('confidence', 0.95) * 100:.0f}%"
    intervals = (
        f"{alpha_text} percentile bootstrap intervals from {st.get('n_bootstrap')} replicates"
        if st.get("n_bootstrap")
        else "no intervals"
    )
    rows = "rows (noisy count)" if result.privacy else "rows"
    parts.append(
        f"<p>{intervals}; groups with fewer than {st.get('min_group_size')} {rows} are "
        "suppressed.</p>"
    )
    if result.privacy:
        priv = result.privacy
        split = ", ".join(f"{k.replace('_', ' ')} ε={v:g}" for k, v in priv["split"].items())
        unit = html.escape(str(priv.get("privacy_unit", "one row")))
        text = (
            f"Released with differential privacy: total ε = {priv['epsilon']:g} ({split}); "
            f"privacy unit: {unit}; every figure is computed from the noisy counts."
        )
        book = priv.get("ledger")
        if book:
            text += (
                f" Charged to the budget of dataset “{html.escape(str(book['dataset']))}”; "
                f"ε remaining: {book['remaining_epsilon']:g}."
            )
        parts.append(f"<p class='dp'>{text}</p>")
    parts.extend(f"<p class='note'>{html.escape(f)}</p>" for f in result.flags)
    groupings = list(result.groupings.values())
    ordered = [groupings[-1], *groupings[:-1]]
    for i, g in enumerate(ordered):
        title = f"By {html.escape(g.name)}"
        if i == 0 and len(ordered) > 1:
            title += " (all attributes together)"
        if i == 1:
            parts.append("<h2>Each attribute alone</h2>")
        parts.append(f"<h2>{title}</h2>" if i == 0 else f"<h3>{title}</h3>")
        parts.extend(_grouping(g, alpha_text, result.privacy is not None, i == 0))
    return "\n".join(parts)
