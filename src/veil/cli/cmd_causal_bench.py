"""``veil causal bench``: the semi-synthetic placebo benchmark of the TROP paper.

Adds the ``bench`` verb to the ``causal`` group of :mod:`veil.cli.cmd_causal` (discovered before
this module, names sort that way); if that module is absent the group is created here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.errors import ConfigError

__all__ = ["bench", "register"]


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil causal bench``."""
    _causal_group(root).command("bench")(bench)


def _causal_group(root: typer.Typer) -> typer.Typer:
    try:
        from veil.cli.cmd_causal import causal_app
    except ImportError:
        for info in root.registered_groups:
            if info.name == "causal" and info.typer_instance is not None:
                return info.typer_instance
        causal_app = typer.Typer(help="Causal effects from panel data.", no_args_is_help=True)
        root.add_typer(causal_app, name="causal")
    return causal_app


def _split(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    if not values:
        return list(default)
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def bench(
    datasets: Annotated[
        list[str] | None,
        typer.Option("--datasets", help="Shipped panels, comma-separated: cps, penn, prop99."),
    ] = None,
    estimators: Annotated[
        list[str] | None,
        typer.Option(
            "--estimators", help="Estimators, comma-separated (default: the paper's six)."
        ),
    ] = None,
    replications: Annotated[
        int, typer.Option("--replications", help="Simulated panels per data set (paper: 1000).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 0,
    max_loo_cells: Annotated[
        int,
        typer.Option(
            "--max-loo-cells",
            help="Cap on control cells in TROP's tuning criterion (0 = all).",
        ),
    ] = 2000,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the RMSE bar chart to this PNG.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON document.")] = False,
) -> None:
    """RMSE of did, sc, sc_intercept (DIFP), mc, sdid and dwcp (TROP) on semi-synthetic panels.

    Follows the TROP paper's design: standardise, rank-4 SVD into additive + interactive parts,
    AR(2) noise, logistic assignment on the unit factors (random for Prop 99), 10 treated units
    for the last 10 periods, true effect 0. RMSE is reported relative to the best estimator and
    to dwcp, next to the paper's Table 1.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from veil.analytics.causal.semisynthetic import BENCH_DATASETS, BENCH_ESTIMATORS, run_benchmark

    names = _split(datasets, ("cps", "penn", "prop99"))
    ests = _split(estimators, BENCH_ESTIMATORS)
    unknown = sorted(set(names) - set(BENCH_DATASETS))
    if unknown:
        raise ConfigError(
            f"unknown data set(s) {unknown}; the benchmark knows {sorted(BENCH_DATASETS)}",
            field="--datasets",
            hint="pass a comma-separated subset of " + ", ".join(sorted(BENCH_DATASETS)),
        )
    if replications < 2:
        raise ConfigError(
            f"--replications must be at least 2; got {replications}",
            field="--replications",
            hint="the paper uses 1000",
        )
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("semi-synthetic benchmark", total=len(names) * len(ests))

        def progress(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"{name}: {ests[done - 1]}", advance=1)

        result = run_benchmark(
            names, ests, n_replications=replications, seed=seed,
            max_loo_cells=max_loo_cells or None, progress=progress,
        )  # fmt: skip
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        result.plot().savefig(plot, dpi=120, bbox_inches="tight")
    if json_out:
        emit_json(
            {
                "datasets": names,
                "estimators": ests,
                "plot": None if plot is None else str(plot),
                **result.to_dict(),
            }
        )
        return
    rel = result.relative_to_dwcp if "dwcp" in ests else result.normalized
    paper = result.paper()
    table = Table(title=f"RMSE relative to {'dwcp' if 'dwcp' in ests else 'the best'} "
                  f"({replications} replications; paper's Table 1 in brackets)")  # fmt: skip
    table.add_column("data set")
    for e in ests:
        table.add_column(e, justify="right")
    for d in rel.index:
        cells = []
        for e in ests:
            ref = paper.loc[d, e]
            cells.append(f"{rel.loc[d, e]:.2f}" + ("" if ref != ref else f" [{ref:.2f}]"))
        table.add_row(d, *cells)
    console.print(table)
    if plot is not None:
        console.print(f"plot written to {plot}")
