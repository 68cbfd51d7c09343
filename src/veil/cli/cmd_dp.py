"""``veil dp ...``: private releases from files, the randomized-response poll, budgets; ``veil bench dp``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from veil.cli._output import console, emit_json
from veil.errors import ConfigError


class Stat(StrEnum):
    """Statistics ``veil dp release`` can compute."""

    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    VARIANCE = "variance"
    QUANTILE = "quantile"
    HISTOGRAM = "histogram"


class Noise(StrEnum):
    """Noise distributions for additive releases."""

    LAPLACE = "laplace"
    GAUSSIAN = "gaussian"


def _mechanism(
    stat: Stat,
    epsilon: str,
    delta: str | None,
    noise: Noise,
    column: str,
    bounds: tuple[float, float] | None,
    quantile: str,
    bins: int,
    person: str | None,
    max_contributions: int,
) -> Any:
    from veil.dp import Count, Histogram, Mean, Quantiles, Sum, Variance

    common: dict[str, Any] = {
        "column": column,
        "person": person,
        "max_contributions": max_contributions,
    }
    if stat is Stat.QUANTILE:
        return Quantiles(epsilon, bounds=bounds, quantiles=[quantile], **common)
    common.update(noise=noise.value, delta=delta)
    if stat is Stat.COUNT:
        return Count(epsilon, **common)
    if stat is Stat.HISTOGRAM:
        return Histogram(epsilon, bounds=bounds, bins=bins, **common)
    if stat is Stat.SUM:
        return Sum(epsilon, bounds=bounds, **common)
    if stat is Stat.MEAN:
        return Mean(epsilon, bounds=bounds, **common)
    return Variance(epsilon, bounds=bounds, **common)


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil dp release|rr|budget``, ``veil demo dp-sum`` and ``veil bench dp``."""
    dp = typer.Typer(help="Differential privacy: private releases, randomized response, budgets.")
    root.add_typer(dp, name="dp")

    @dp.command("release")
    def release(
        data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file (read by DuckDB).")],
        column: Annotated[str, typer.Option("--column", help="Column to release.")],
        stat: Annotated[Stat, typer.Option("--stat", help="Statistic.")],
        epsilon: Annotated[str, typer.Option("--epsilon", help="Privacy loss, e.g. 1 or 0.5.")],
        bounds: Annotated[
            tuple[float, float] | None,
            typer.Option("--bounds", help="Clamp values to [A, B] (needed for all but count)."),
        ] = None,
        delta: Annotated[
            str | None, typer.Option("--delta", help="Delta, for --noise gaussian.")
        ] = None,
        noise: Annotated[
            Noise, typer.Option("--noise", help="Noise distribution.")
        ] = Noise.LAPLACE,
        quantile: Annotated[str, typer.Option("--quantile", help="For --stat quantile.")] = "0.5",
        bins: Annotated[int, typer.Option("--bins", help="For --stat histogram.")] = 10,
        person: Annotated[
            str | None, typer.Option("--person", help="Column identifying a person.")
        ] = None,
        max_contributions: Annotated[
            int, typer.Option("--max-contributions", help="Rows kept per person.")
        ] = 1,
        ledger: Annotated[
            Path | None, typer.Option("--ledger", help="SQLite budget ledger to charge first.")
        ] = None,
        dataset: Annotated[
            str | None, typer.Option("--dataset", help="Dataset name in the ledger.")
        ] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Release one private statistic of a column; with --ledger, charge the budget first."""
        from veil.dp import Table
        from veil.dp.ledger import Ledger

        if (ledger is None) != (dataset is None):
            raise ConfigError(
                "--ledger and --dataset go together",
                hint="name the ledger file and the dataset whose budget pays for the release",
                field="dataset" if dataset is None else "ledger",
            )
        mech = _mechanism(
            stat, epsilon, delta, noise, column, bounds, quantile, bins, person, max_contributions
        )
        table = Table.from_file(data)
        table.check_column(column)  # fail before charging anything
        if person is not None:
            table.check_column(person, "person column")
        document: dict[str, Any]
        if ledger is not None and dataset is not None:
            with Ledger(ledger) as book:
                out = book.release(dataset, mech, table)
            remaining = {
                "epsilon": out.details["remaining_epsilon"],
                "delta": out.details["remaining_delta"],
            }
        else:
            out = mech.release(table)
            remaining = None
        value = out.value
        if stat is Stat.QUANTILE:
            value = value[0]
        document = {
            "value": value.tolist() if hasattr(value, "tolist") else value,
            "epsilon": float(out.epsilon),
            "delta": float(out.delta),
            "mechanism": out.mechanism,
            "statistic": stat.value,
            "column": column,
            "unit": str(out.guarantee.unit),
        }
        for key in ("bounds", "granularity", "edges", "sensitivity", "sensitivities"):
            if key in out.details:
                v = out.details[key]
                document[key] = v.tolist() if hasattr(v, "tolist") else _plain(v)
        if remaining is not None:
            document["dataset"] = dataset
            document["remaining"] = remaining
        console.print(
            f"[bold]{stat.value}[/bold] of {column!r} = {document['value']}  "
            f"(ε={document['epsilon']:g}, δ={document['delta']:g}; {out.mechanism})",
            highlight=False,
        )
        if remaining is not None:
            console.print(
                f"budget {dataset!r}: remaining ε={remaining['epsilon']:g}, "
                f"δ={remaining['delta']:g}",
                highlight=False,
            )
        if json_output:
            emit_json(document)

    @dp.command("rr")
    def rr(
        n: Annotated[int, typer.Option("--n", help="Respondents.")],
        p: Annotated[str, typer.Option("--p", help="True share answering yes, in [0, 1].")],
        epsilon: Annotated[
            str | None,
            typer.Option("--epsilon", help="Use the ε form instead of the article's two coins."),
        ] = None,
        confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Simulate the article's poll: each respondent tosses coins, the share is estimated."""
        from veil.dp import RandomizedResponse
        from veil.dp._numbers import probability
        from veil.dp.samplers import bernoulli

        if n < 1:
            raise ConfigError(f"--n must be at least 1, got {n}", field="n")
        share = probability(p, "--p")
        mech = RandomizedResponse(epsilon)
        truths = bernoulli(share, n)  # the simulated population's true answers
        answers = mech.randomize(truths)
        est = mech.estimate(answers, confidence=confidence)
        document = {
            "n": n,
            "p": float(share),
            "true_yes": int(truths.sum()),
            "yes_answers": int(answers.sum()),
            **est.to_dict(),
            "epsilon": float(mech.guarantee.epsilon),
            "mechanism": mech.description,
        }
        table = RichTable(title=f"randomized response, {n:,} respondents")
        table.add_column("")
        table.add_column("value", justify="right")
        table.add_row("true share (simulated)", f"{int(truths.sum()) / n:.4f}")
        table.add_row("'yes' answers", f"{document['yes_answers']:,}")
        table.add_row("estimate 2N/n - 1/2" if epsilon is None else "estimate", f"{est.value:.4f}")
        table.add_row(f"{confidence:.0%} interval", f"[{est.low:.4f}, {est.high:.4f}]")
        table.add_row("epsilon per respondent", f"{document['epsilon']:.4f}")
        console.print(table)
        if json_output:
            emit_json(document)

    @dp.command("budget")
    def budget(
        ledger: Annotated[Path, typer.Option("--ledger", help="SQLite budget ledger.")],
        dataset: Annotated[str, typer.Option("--dataset", help="Dataset name.")],
        epsilon: Annotated[
            str | None, typer.Option("--epsilon", help="Create the budget with this epsilon.")
        ] = None,
        delta: Annotated[str, typer.Option("--delta", help="Delta of a new budget.")] = "0",
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Create a dataset's budget (with --epsilon) or show what is spent and what remains."""
        from veil.dp.ledger import Ledger

        with Ledger(ledger) as book:
            info = (
                book.create_budget(dataset, epsilon, delta)
                if epsilon is not None
                else book.budget(dataset)
            )
            history = book.history(dataset)
        document = {**info.to_dict(), "charges": len(history)}
        console.print(
            f"budget {dataset!r}: ε={float(info.epsilon):g}, δ={float(info.delta):g}; spent "
            f"ε={float(info.epsilon_spent):g}, δ={float(info.delta_spent):g} in "
            f"{len(history)} charge(s)",
            highlight=False,
        )
        if json_output:
            emit_json(document)

    @groups["demo"].command("dp-sum")
    def demo_dp_sum(
        parties: Annotated[int, typer.Option("--parties", help="Organizations (n >= 3).")] = 4,
        threshold: Annotated[
            int | None, typer.Option("--threshold", help="Corrupt parties tolerated, t < n/2.")
        ] = None,
        epsilon: Annotated[str, typer.Option("--epsilon")] = "1",
        delta: Annotated[str, typer.Option("--delta", help="For Gaussian noise.")] = "1e-6",
        noise: Annotated[Noise, typer.Option("--noise")] = Noise.GAUSSIAN,
        bound: Annotated[int, typer.Option("--bound", help="Clamp each record to [0, B].")] = 5000,
        local: Annotated[
            bool, typer.Option("--local", help="All parties in this process (no TLS).")
        ] = False,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Sum records across organizations with DP noise generated inside the MPC."""
        from veil.dp.demo import run_dp_sum

        if bound < 1:
            raise ConfigError(f"--bound must be at least 1, got {bound}", field="bound")
        with console.status(f"{parties} parties computing a private total ..."):
            result = run_dp_sum(
                n_parties=parties,
                threshold=threshold,
                epsilon=epsilon,
                delta=delta,
                noise=noise.value,
                bound=bound,
                processes=not local,
            )
        table = RichTable(
            title=f"private total across {parties} parties (t = {result['threshold']})"
        )
        table.add_column("")
        table.add_column("value", justify="right")
        table.add_row("released (noisy) total", f"{result['noisy_total']:,}")
        table.add_row("noise std (all honest)", f"{result['noise_std']:,.0f}")
        table.add_row("exact total (demo data only)", f"{result['exact_total_demo_only']:,}")
        table.add_row("epsilon, delta", f"{result['epsilon']:g}, {result['delta']:g}")
        console.print(table)
        console.print(result["mechanism"], highlight=False)
        if json_output:
            emit_json(result)

    @groups["bench"].command("dp")
    def bench_dp(
        rows: Annotated[int, typer.Option("--rows", help="Rows for count/sum/mean.")] = 10_000_000,
        group_rows: Annotated[
            int, typer.Option("--group-rows", help="Rows for group-by.")
        ] = 1_000_000,
        groups_: Annotated[int, typer.Option("--groups", help="Groups (public keys).")] = 1000,
        repeats: Annotated[int, typer.Option(help="Timed repetitions (median reported).")] = 5,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Time private count, clamped sum, mean and group-by releases (medians)."""
        from veil.dp._bench import run

        if min(rows, group_rows, groups_, repeats) < 1:
            raise ConfigError("--rows, --group-rows, --groups and --repeats must be at least 1")
        with console.status(f"timing DP releases on {rows:,} rows ..."):
            result = run(rows=rows, group_rows=group_rows, groups=groups_, repeats=repeats)
        table = RichTable(title=f"veil bench dp: {rows:,} rows; group-by {group_rows:,} rows")
        table.add_column("measure")
        table.add_column("median", justify="right")
        for key in (
            "count_mrows_per_s",
            "sum_mrows_per_s",
            "mean_mrows_per_s",
            "grouped_count_ms",
            "grouped_sum_ms",
            "sum_mae",
            "peak_rss_mb",
            "extra_mb",
        ):
            table.add_row(key, f"{result[key]:,.2f}")
        console.print(table)
        if json_output:
            emit_json(result)


def _plain(value: Any) -> Any:
    from fractions import Fraction

    return float(value) if isinstance(value, Fraction) else value
