"""``veil demo raises`` and ``veil bench mpc``: the MPC runtime with real party processes.

``bench mpc`` also times secure comparisons and a sealed-bid auction
(:mod:`veil.analytics.apps.bench`); the CLI is the layer that may combine the two.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.errors import ConfigError


class Scheme(StrEnum):
    """Secret-sharing scheme of the raises demo."""

    additive = "additive"
    shamir = "shamir"


def _show_raises(result: dict[str, Any]) -> None:
    parties = result["parties"]
    names = [p["name"] for p in parties]
    scheme = result["scheme"]
    console.print(
        f"[bold]Four engineers, {len(names)} processes over TLS on loopback, {scheme} sharing[/bold]"
    )
    dealt = Table(title="Shares each engineer dealt (row: dealer, column: recipient)")
    dealt.add_column("dealer")
    for name in names:
        dealt.add_column(f"to {name}", justify="right", overflow="fold")
    for p in parties:
        dealt.add_row(p["name"], *(str(s) for s in p["shares_sent"]))
    console.print(dealt)
    held = Table(title="What each engineer holds: one share from everyone, and their sum")
    held.add_column("holder")
    held.add_column("sum of shares held", justify="right")
    held.add_column("equals a raise?", justify="center")
    raises = {p["raise"] for p in parties}
    for p in parties:
        held.add_row(p["name"], str(p["sum_held"]), "yes" if p["sum_held"] in raises else "no")
    console.print(held)
    console.print(
        "The sums are published and added up "
        + ("(all of them are needed)." if scheme == "additive" else "(any two give the total).")
    )
    console.print(
        f"sum of raises = [bold]{result['sum']}[/bold], average = [bold]{result['average']}[/bold]"
    )
    console.print(
        "Shares are field elements modulo 2**61 - 1, shown in (-p/2, p/2]; none is a raise."
    )


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil demo raises`` and ``veil bench mpc``."""

    @groups["demo"].command("raises")
    def raises(
        scheme: Annotated[
            Scheme, typer.Option(help="Sharing: n-of-n additive, or Shamir with t = 1.")
        ] = Scheme.additive,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Four engineers learn their average raise without revealing their own (4 processes, TLS)."""
        from veil.mpc.demo import run_raises

        result = run_raises(scheme.value)
        if any(p["sum_held"] == p["raise"] for p in result["parties"]):
            raise ConfigError("a party's sum equals a raise; this happens with probability 2**-58")
        _show_raises(result)
        if json_output:
            emit_json(result)

    @groups["bench"].command("mpc")
    def bench_mpc(
        parties: Annotated[int, typer.Option("--parties", help="Number of party processes.")] = 3,
        size: Annotated[int, typer.Option("--size", help="Elements per array.")] = 1_000_000,
        repeats: Annotated[int, typer.Option(help="Timed repetitions (median reported).")] = 3,
        sum_inputs: Annotated[
            int, typer.Option(help="Inputs shared and summed for sum_1e6_s.")
        ] = 1_000_000,
        lt_size: Annotated[
            int, typer.Option(help="32-bit comparisons per batch for lt_per_s (0: skip).")
        ] = 50_000,
        auction_bids: Annotated[
            int, typer.Option(help="Bids of the second-price auction for auction_1000_s.")
        ] = 1000,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Measure multiplications, inputs, a 10^6-input sum, open latency, 32-bit comparisons and
        a sealed-bid auction (party processes over TLS)."""
        from veil.mpc.bench import run_bench

        if parties < 3:
            raise ConfigError(f"--parties must be at least 3, got {parties}", field="parties")
        if size < 8 or repeats < 1 or sum_inputs < 1:
            raise ConfigError(
                f"--size must be >= 8 and --repeats, --sum-inputs >= 1; got {size}, {repeats}, "
                f"{sum_inputs}",
                field="size",
            )
        if lt_size < 0 or (lt_size and auction_bids < 1):
            raise ConfigError(
                f"--lt-size must be >= 0 and --auction-bids >= 1; got {lt_size}, {auction_bids}",
                field="lt_size",
            )
        with console.status(f"running {parties} party processes over TLS ..."):
            result = run_bench(parties, size, repeats=repeats, sum_inputs=sum_inputs)
        keys = [
            "mul_per_s",
            "input_per_s",
            "sum_1e6_s",
            "open_latency_ms",
            "bytes_per_mul",
            "theoretical_bytes_per_mul",
            "peak_rss_mb",
        ]
        if lt_size:
            from veil.analytics.apps.bench import run_secure_bench

            with console.status("timing 32-bit comparisons and a sealed-bid auction ..."):
                result.update(run_secure_bench(parties, lt_size, auction_bids, repeats=repeats))
            keys += ["lt_per_s", "lt_bytes_per_party", "auction_1000_s"]
        table = Table(title=f"veil bench mpc: {parties} parties, {size:,} elements")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in keys:
            value = result[key]
            table.add_row(key, f"{value:,.0f}" if value >= 1000 else f"{value:.3g}")
        console.print(table)
        if json_output:
            emit_json(result)
