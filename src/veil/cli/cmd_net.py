"""``veil bench net``: throughput and latency of the TLS channels between two processes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.net.bench import run_net_bench


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil bench net``."""

    @groups["bench"].command("net")
    def bench_net(
        message_mb: Annotated[
            float, typer.Option(help="Size of each large message, in MiB.", min=0.001)
        ] = 8.0,
        messages: Annotated[int, typer.Option(help="Large messages per run.", min=1)] = 12,
        pings: Annotated[int, typer.Option(help="Small round trips per run.", min=10)] = 2000,
        repeats: Annotated[int, typer.Option(help="Runs; figures are medians.", min=1)] = 5,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Measure MB/s for large messages and round-trip µs for small ones (2 processes, TLS)."""
        with console.status("measuring two parties over loopback TLS..."):
            figures = run_net_bench(
                message_bytes=int(message_mb * (1 << 20)),
                messages=messages,
                pings=pings,
                repeats=repeats,
            )
        if json_output:
            emit_json(figures)
            return
        table = Table(title=f"veil net, {figures['tls_version']} {figures['cipher']}")
        table.add_column("measure")
        table.add_column("median", justify="right")
        table.add_column("runs")
        for key, unit in (
            ("throughput_mb_s", "MB/s one way"),
            ("exchange_mb_s", "MB/s each way, both at once"),
            ("round_trip_us", "µs per round trip"),
        ):
            runs = ", ".join(f"{x:g}" for x in figures[f"{key}_runs"])
            table.add_row(unit, f"{figures[key]:g}", runs)
        table.add_row("in-memory round trip µs", f"{figures['memory_round_trip_us']:g}", "")
        console.print(table)
