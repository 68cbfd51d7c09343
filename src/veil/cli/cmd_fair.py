"""``veil fair audit`` (fairness audit of a predictions file) and ``veil bench fair``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli import exit_codes
from veil.cli._output import console, emit_json
from veil.errors import ConfigError, DataError

__all__ = ["register"]


def _read(path: Path) -> Any:
    import pandas as pd

    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist", path=str(path),
                        hint="check the --data path")  # fmt: skip
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t")
        return pd.read_csv(path)
    except (ValueError, OSError, ImportError) as exc:
        raise DataError(
            f"could not read {str(path)!r} as {suffix or 'CSV'}: {exc}",
            path=str(path),
            hint="pass a CSV (comma-separated, header row), TSV or Parquet file",
        ) from exc


def _domain(specs: list[str], group: list[str]) -> dict[str, list[str]] | None:
    """Parse ``--group-values COL=V1,V2`` options into {column: values}."""
    if not specs:
        return None
    out: dict[str, list[str]] = {}
    for spec in specs:
        col, sep, values = spec.partition("=")
        if not sep or not col or not values:
            raise ConfigError(
                f"--group-values must look like COLUMN=VALUE1,VALUE2; got {spec!r}",
                field="group_values",
                hint="e.g. --group-values sex=female,male",
            )
        out[col] = [v.strip() for v in values.split(",")]
    unknown = sorted(set(out) - set(group))
    if unknown:
        raise ConfigError(
            f"--group-values names {unknown}, which are not --group columns {group}",
            field="group_values",
            hint="give values for the columns passed with --group",
        )
    return out


def _fmt(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "—" if f != f else f"{f:.3f}"


def _print_audit(result: Any) -> None:
    g = result.primary
    table = Table(title=f"Rates by {g.name}", title_justify="left")
    cols = ["count", "selection_rate", "tpr", "fpr", "fnr", "precision", "error_rate"]
    with_ci = "selection_rate_low" in g.metrics
    table.add_column("group")
    for c in cols:
        table.add_column(c.replace("selection_rate", "sel. rate").replace("error_rate", "error"),
                         justify="right")  # fmt: skip
        if c == "selection_rate" and with_ci:
            table.add_column("interval", justify="right")
    for row in g.metrics.to_dict("records"):
        cells = [str(row["count"])] + [_fmt(row[c]) for c in cols[1:]]
        if with_ci:
            ci = f"[{_fmt(row['selection_rate_low'])}, {_fmt(row['selection_rate_high'])}]"
            cells.insert(2, "" if row["suppressed"] else ci)
        table.add_row(str(row["key"]) + (" (suppressed)" if row["suppressed"] else ""), *cells)
    console.print(table)
    d = Table(title="Disparities (between groups)", title_justify="left")
    for c in ("disparity", "difference", "interval", "ratio"):
        d.add_column(c, justify="right" if c != "disparity" else "left")
    for name, row in g.disparities.iterrows():
        interval = (
            f"[{_fmt(row['difference_low'])}, {_fmt(row['difference_high'])}]"
            if "difference_low" in row
            else ""
        )
        d.add_row(str(name), _fmt(row["difference"]), interval, _fmt(row["ratio"]))
    console.print(d)
    if result.privacy:
        split = ", ".join(f"{k} ε={v:g}" for k, v in result.privacy["split"].items())
        console.print(f"[blue]DP release[/blue]: ε = {result.privacy['epsilon']:g} ({split})")
        book = result.privacy.get("ledger")
        if book:
            console.print(
                f"budget {book['dataset']!r}: remaining ε={book['remaining_epsilon']:g}",
                highlight=False,
            )
    for flag in result.flags:
        console.print(f"[yellow]note[/yellow]: {flag}", highlight=False)


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil fair audit`` and ``veil bench fair``."""
    fair = typer.Typer(help="Audit classifiers for fairness; learn under constraints.",
                       no_args_is_help=True)  # fmt: skip
    root.add_typer(fair, name="fair")

    @fair.command("audit")
    def audit_cmd(
        data: Annotated[Path, typer.Option("--data", help="CSV, TSV or Parquet file.")],
        prediction: Annotated[str, typer.Option("--prediction", help="Predicted label column.")],
        label: Annotated[str, typer.Option("--label", help="True label column.")],
        group: Annotated[
            list[str],
            typer.Option("--group", help="Sensitive attribute column; repeat for intersections."),
        ],
        score: Annotated[
            str | None, typer.Option("--score", help="Score column in [0, 1], for calibration.")
        ] = None,
        outcome: Annotated[
            str | None,
            typer.Option("--outcome", help="Numeric outcome column (mean/median by group)."),
        ] = None,
        pos_label: Annotated[
            str | None, typer.Option("--pos-label", help="Positive label value (default 1/True).")
        ] = None,
        epsilon: Annotated[
            float | None, typer.Option("--epsilon", help="Release all counts with epsilon-DP.")
        ] = None,
        ledger: Annotated[
            Path | None,
            typer.Option("--ledger", help="SQLite budget ledger charged before the release."),
        ] = None,
        dataset: Annotated[
            str | None, typer.Option("--dataset", help="Dataset whose budget pays (with --ledger).")
        ] = None,
        group_values: Annotated[
            list[str] | None,
            typer.Option(
                "--group-values",
                help="Public values of a group column, COL=V1,V2,... (repeatable; for --epsilon).",
            ),
        ] = None,
        min_group_size: Annotated[
            int, typer.Option("--min-group-size", help="Suppress smaller groups.")
        ] = 30,
        bootstrap: Annotated[
            int, typer.Option("--bootstrap", help="Bootstrap replicates (0: none).")
        ] = 1000,
        confidence: Annotated[
            float, typer.Option("--confidence", help="Interval coverage.")
        ] = 0.95,
        seed: Annotated[int | None, typer.Option("--seed", help="Bootstrap seed.")] = None,
        max_gap: Annotated[
            float | None,
            typer.Option(
                "--max-gap",
                help="Exit 1 if the demographic parity or equalized odds difference exceeds this.",
            ),
        ] = None,
        html: Annotated[
            Path | None, typer.Option("--html", help="Write an HTML report here.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the audit as JSON.")] = False,
    ) -> None:
        """Audit predictions by group: rates, disparities with intervals, optional DP release."""
        from veil.analytics.fairness import audit

        frame = _read(data)
        wanted = [prediction, label, *group] + [c for c in (score, outcome) if c]
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataError(
                f"column(s) {missing} not in {str(data)!r}; columns are {list(frame.columns)[:20]}",
                path=str(data),
                field=missing[0],
                hint="check the spelling of --prediction/--label/--group/--score/--outcome",
            )
        complete = frame[wanted].dropna()
        dropped = len(frame) - len(complete)
        result = audit(
            complete[label],
            complete[prediction],
            sensitive_features=complete[group],
            score=None if score is None else complete[score],
            outcome=None if outcome is None else complete[outcome],
            pos_label=pos_label,
            min_group_size=min_group_size,
            n_bootstrap=bootstrap,
            confidence=confidence,
            epsilon=epsilon,
            ledger=ledger,
            dataset=dataset,
            group_values=_domain(group_values or [], group),
            random_state=seed,
        )
        if dropped:
            result.flags.insert(
                0, f"{dropped} rows with missing values in the audited columns dropped"
            )
        if html is not None:
            result.to_html(str(html))
            console.print(f"wrote {html}")
        worst = max(result.disparity("demographic_parity"), result.disparity("equalized_odds"))
        finding = max_gap is not None and worst > max_gap
        if json_out:
            doc = result.to_dict()
            doc["data"] = {"path": str(data), "rows": len(frame), "rows_used": len(complete)}
            doc["finding"] = finding
            emit_json(doc)
        else:
            _print_audit(result)
        if finding:
            console.print(
                f"[red]finding[/red]: largest difference {worst:.3f} > --max-gap {max_gap}"
            )
            raise typer.Exit(exit_codes.FINDING)

    @groups["bench"].command("fair")
    def bench_fair(
        repeats: Annotated[
            int, typer.Option("--repeats", help="Runs per method (median reported).")
        ] = 3,
        tolerance: Annotated[
            float, typer.Option("--tolerance", help="Constraint tolerance.")
        ] = 0.01,
        method: Annotated[
            list[str] | None, typer.Option("--method", help="Only these methods (repeatable).")
        ] = None,
        with_fairlearn: Annotated[
            bool, typer.Option("--with-fairlearn", help="Also run fairlearn (must be installed).")
        ] = False,
        seed: Annotated[int, typer.Option("--seed", help="Train/test split seed.")] = 0,
        blas_threads: Annotated[
            int | None,
            typer.Option("--blas-threads", help="Cap BLAS threads for every method alike."),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    ) -> None:
        """Benchmark fair learners on UCI Adult: accuracy, gaps and CPU seconds per method."""
        from veil.analytics.fairness.bench import N_DRAWS, run_bench

        if with_fairlearn:
            try:
                import fairlearn  # noqa: F401
            except ImportError as exc:
                raise DataError(
                    "--with-fairlearn needs fairlearn installed",
                    field="with_fairlearn",
                    hint="pip install 'veil[fairness-tests]'",
                ) from exc
        results = run_bench(
            repeats=repeats,
            tolerance=tolerance,
            seed=seed,
            with_fairlearn=with_fairlearn,
            only=method,
            blas_threads=blas_threads,
            progress=lambda msg: console.print(msg, highlight=False),
        )
        if json_out:
            emit_json(
                {
                    "dataset": "adult (train+test complete cases, 70/30 split)",
                    "tolerance": tolerance,
                    "repeats": repeats,
                    "blas_threads": blas_threads,
                    "prediction_draws": N_DRAWS,
                    "methods": results,
                }
            )
            return
        t = Table(title="veil bench fair (medians)", title_justify="left")
        for c in ("method", "accuracy", "dp_gap", "eo_gap", "cpu_s"):
            t.add_column(c, justify="right" if c != "method" else "left")
        for name, r in results.items():
            t.add_row(name, *(f"{r[k]:.3f}" for k in ("accuracy", "dp_gap", "eo_gap", "cpu_s")))
        console.print(t)
