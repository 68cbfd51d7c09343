"""``veil causal estimate`` and ``veil bench causal``: panel estimators from the command line.

Other modules add verbs to the ``causal`` group by importing :data:`causal_app`
(``@causal_app.command("bench")``); estimators and variance methods come from the registries in
:mod:`veil.analytics.causal`, so a newly registered one is usable here without editing this file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.errors import ConfigError, DataError

__all__ = ["causal_app", "register"]

causal_app = typer.Typer(
    help="Causal effects from panel data (DID, synthetic control, SDID, ...).",
    no_args_is_help=True,
)


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the ``causal`` noun and the ``bench causal`` verb."""
    root.add_typer(causal_app, name="causal")
    groups["bench"].command("causal")(bench_causal)


def _read_table(data: str) -> Any:
    import pandas as pd

    from veil import datasets

    path = Path(data)
    if not path.exists():
        if data in datasets.DATASETS:
            return datasets.load(data)
        raise DataError(
            f"data file {data!r} does not exist (and is not a shipped data set)",
            path=data,
            field="--data",
            hint=f"pass a CSV/Parquet file, or one of {', '.join(sorted(datasets.DATASETS))}",
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t")
        return pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(
            f"could not read {data!r}: {exc}",
            path=data,
            field="--data",
            hint="pass a readable CSV (comma-separated, header row) or Parquet file",
        ) from exc


class _Bar:
    """A rich progress bar on stderr fed by ``progress(done, total)`` callbacks."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.progress.__enter__()
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)


@causal_app.command("estimate")
def estimate(
    data: Annotated[
        str, typer.Option("--data", help="CSV/Parquet file in long format, or a shipped data set.")
    ],
    unit: Annotated[str, typer.Option("--unit", help="Unit column.")],
    time: Annotated[str, typer.Option("--time", help="Period column.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column.")],
    treatment: Annotated[str, typer.Option("--treatment", help="0/1 treatment column.")],
    method: Annotated[
        str,
        typer.Option("--method", help="Estimator: did, sc, sc_intercept, mc, sdid, dwcp."),
    ] = "sdid",
    se: Annotated[
        str | None,
        typer.Option(
            "--se",
            help="Variance method: placebo, time_placebo, jackknife, bootstrap, regression, "
            "conditional.",
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option("--replications", help="Replicates for placebo/bootstrap.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed for resampling.")] = 0,
    covariate: Annotated[
        list[str] | None,
        typer.Option("--covariate", help="Covariate column (repeatable; did, mc, dwcp)."),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="1 − confidence level.")] = 0.05,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write observed vs counterfactual to this PNG.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
) -> None:
    """Estimate the average effect on the treated cells of a panel."""
    from veil.analytics.causal import VARIANCE_METHODS, PanelData, get_estimator

    cls = get_estimator(method)
    if se is not None and se not in VARIANCE_METHODS:
        raise ConfigError(
            f"unknown variance method {se!r}; known: {', '.join(sorted(VARIANCE_METHODS))}",
            field="--se",
            hint="pick one of the listed methods",
        )
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"--alpha must be in (0, 1); got {alpha}", field="--alpha")
    frame = _read_table(data)
    panel = PanelData.from_long(
        frame, unit=unit, time=time, outcome=outcome, treatment=treatment, covariates=covariate
    )
    params: dict[str, Any] = {"se": se, "n_replications": replications, "random_state": seed}
    est = cls(**{k: v for k, v in params.items() if k in cls._param_names()})
    with _Bar(f"{method}: {se} replicates", enabled=se is not None) as bar:
        est.fit(panel, progress=bar)
    result = est.result_
    ci_low = ci_high = math.nan
    if not math.isnan(result.se):
        ci_low, ci_high = result.ci(alpha)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        fig = result.plot()
        fig.savefig(plot, dpi=120, bbox_inches="tight")
    document = {
        "method": method,
        "att": result.att,
        "se": _num(result.se),
        "ci_low": _num(ci_low),
        "ci_high": _num(ci_high),
        "alpha": alpha,
        "se_method": se,
        "n_units": panel.n_units,
        "n_periods": panel.n_periods,
        "n_treated_cells": panel.n_treated_cells,
        "pattern": panel.pattern.value,
        "plot": None if plot is None else str(plot),
    }
    if json_out:
        emit_json(document)
        return
    table = Table(title=f"{cls.__name__} ({method}) on {data}", show_header=False)
    for key in ("att", "se", "ci_low", "ci_high"):
        value = document[key]
        table.add_row(key, "—" if value is None else f"{value:.4f}")
    table.add_row("panel", f"{panel.n_units} units × {panel.n_periods} periods, {panel.pattern}")
    table.add_row("treated cells", str(panel.n_treated_cells))
    if plot is not None:
        table.add_row("plot", str(plot))
    console.print(table)


def bench_causal(
    repeat: Annotated[int, typer.Option("--repeat", help="Runs per benchmark (median).")] = 3,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these benchmarks (repeatable).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
) -> None:
    """Time the causal estimators (medians in seconds): SDID/SC placebo, large SDID, ..."""
    from veil.analytics.causal.bench import BENCHMARKS, run_benchmarks

    if repeat < 1:
        raise ConfigError(f"--repeat must be at least 1; got {repeat}", field="--repeat")
    unknown = sorted(set(only or []) - set(BENCHMARKS))
    if unknown:
        raise ConfigError(
            f"unknown benchmark(s) {unknown}; known: {', '.join(sorted(BENCHMARKS))}",
            field="--only",
        )
    results = run_benchmarks(
        only, repeat=repeat, progress=lambda name: console.print(f"[dim]running {name} …[/dim]")
    )
    if json_out:
        emit_json({"repeat": repeat, **results})
        return
    table = Table(title="veil bench causal")
    table.add_column("key")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)
