"""``veil bench sharing``: field arithmetic and secret sharing on one core, no network."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.errors import ConfigError


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil bench sharing``."""

    @groups["bench"].command("sharing")
    def bench_sharing(
        size: Annotated[int, typer.Option("--size", help="Secrets per call.")] = 1_000_000,
        parties: Annotated[int, typer.Option("--parties", help="Shares per secret (n).")] = 3,
        threshold: Annotated[int, typer.Option("--threshold", help="Shamir degree t < n.")] = 1,
        repeats: Annotated[int, typer.Option(help="Timed repetitions (median reported).")] = 5,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Time Shamir and additive share/reconstruct and the field primitives (medians, seconds)."""
        from veil.sharing._bench import run

        if size < 1 or repeats < 1:
            raise ConfigError(
                f"--size and --repeats must be at least 1, got {size} and {repeats}", field="size"
            )
        if not 0 <= threshold < parties:
            raise ConfigError(
                f"--threshold must satisfy 0 <= t < n = {parties}, got {threshold}",
                hint="t parties learn nothing, t + 1 reconstruct",
                field="threshold",
            )
        with console.status(f"timing {size:,} secrets, n = {parties}, t = {threshold} ..."):
            result = run(size=size, n_parties=parties, threshold=threshold, repeats=repeats)
        table = Table(title=f"veil bench sharing: {size:,} secrets, n = {parties}, t = {threshold}")
        table.add_column("operation")
        table.add_column("median ms", justify="right")
        for key, value in result.items():
            if key.endswith("_s"):
                table.add_row(key.removesuffix("_s"), f"{value * 1e3:.2f}")
        console.print(table)
        if json_output:
            emit_json(result)
