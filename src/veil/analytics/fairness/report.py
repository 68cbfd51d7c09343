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
    fig, axes = plt.subplots(
        1, len(shown), figsize=(3.6 * len(shown), 0.9 + 0.38 * n_groups), sharey=True, squeeze=False
    )
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
    axes[0][0].invert_yaxis()
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


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return "—" if not np.isfinite(v) else f"{v:.3f}"
    return html.escape(str(v))


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:68rem;
color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f6f8}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4rem .8rem;margin:.4rem 0}
.dp{background:#e8f4fd;border-left:4px solid #1f5f8b;padding:.4rem .8rem}
img{max-width:100%}
"""


def audit_html(result: AuditResult) -> str:
    """Return a standalone HTML page: settings, privacy, disparities, group tables, plots."""
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>Fairness audit</title><style>{_CSS}</style>"
    ]
    parts.append(f"<h1>Fairness audit by {html.escape(result.primary.name)}</h1>")
    st = result.settings
    parts.append(
        f"<p>{st.get('confidence', 0.95) * 100:.0f}% percentile bootstrap intervals from "
        f"{st.get('n_bootstrap')} replicates; groups with fewer than {st.get('min_group_size')} "
        "rows are suppressed.</p>"
    )
    if result.privacy:
        split = ", ".join(f"{k} ε={v:g}" for k, v in result.privacy["split"].items())
        parts.append(
            f"<p class='dp'>Released with differential privacy: total ε = "
            f"{result.privacy['epsilon']:g} ({split}); privacy unit: one row; every figure is "
            "computed from the noisy counts.</p>"
        )
    parts.extend(f"<p class='note'>{html.escape(f)}</p>" for f in result.flags)
    for g in result.groupings.values():
        parts.append(f"<h2>By {html.escape(g.name)}</h2>")
        d = g.disparities.reset_index(names="disparity")
        cols = ["disparity", "difference"]
        cols += ["difference_low", "difference_high"] if "difference_low" in d else []
        cols += ["ratio"] + (["ratio_low", "ratio_high"] if "ratio_low" in d else [])
        parts.append(_table(d.to_dict("records"), cols))
        mcols = ["key", "count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate"]
        parts.append(_table(g.metrics.to_dict("records"), mcols))
        png = figure_png(plot_rates(g, ("selection_rate", "tpr", "fpr")))
        parts.append(f"<img alt='rates by {html.escape(g.name)}' src='{png}'>")
        if g.outcome is not None:
            parts.append(
                "<h3>Outcome</h3>" + _table(g.outcome.to_dict("records"), list(g.outcome.columns))
            )
        if g.calibration is not None:
            cal = g.calibration[g.calibration["count"] > 0]
            parts.append("<h3>Calibration by score bin</h3>")
            parts.append(_table(cal.to_dict("records"), list(cal.columns)))
    return "\n".join(parts)
