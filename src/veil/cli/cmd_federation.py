"""``veil federation init|show``: create and check the parties, certificates and addresses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.net.federation import Federation, create_federation


def _describe(federation: Federation) -> dict[str, Any]:
    return {
        "federation": str(federation.path),
        "federation_id": federation.federation_id.hex(),
        "name": federation.name,
        "n_parties": federation.n_parties,
        "threshold": federation.threshold,
        "session": federation.session.model_dump(),
        "parties": [
            {
                "id": p.id,
                "name": p.name,
                "host": p.host,
                "port": p.port,
                "certificate": str(p.certificate),
                "fingerprint": p.fingerprint,
                "key": None if p.key is None else str(p.key),
            }
            for p in federation.parties
        ],
    }


def _table(federation: Federation, title: str) -> None:
    table = Table(title=title)
    for column in ("id", "name", "address", "fingerprint", "private key"):
        table.add_column(column)
    for p in federation.parties:
        table.add_row(str(p.id), p.name, p.address, p.fingerprint[:23] + "…", str(p.key or "-"))
    console.print(table)
    console.print(
        f"threshold t = {federation.threshold} of n = {federation.n_parties}; "
        f"federation file: [bold]{federation.path}[/bold]"
    )


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``veil federation`` with ``init`` and ``show``."""
    sub = typer.Typer(
        help="Create and check federations: parties, certificates, hosts and ports.",
        no_args_is_help=True,
    )

    @sub.command("init")
    def init(
        parties: Annotated[int, typer.Option("--parties", help="Number of parties n (>= 2).")],
        directory: Annotated[Path, typer.Option("--dir", help="Folder to create the files in.")],
        threshold: Annotated[
            int | None, typer.Option(help="Corrupt parties tolerated, 2t < n; default (n-1)//2.")
        ] = None,
        host: Annotated[str, typer.Option(help="Host every party listens on.")] = "127.0.0.1",
        base_port: Annotated[
            int, typer.Option(help="Party i listens on base_port + i; 0 picks free ports.")
        ] = 47000,
        name: Annotated[str, typer.Option(help="Federation name.")] = "veil",
        force: Annotated[bool, typer.Option(help="Replace an existing federation.")] = False,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Create a key pair and certificate per party, and the federation file."""
        federation = create_federation(
            directory,
            parties,
            threshold=threshold,
            host=host,
            base_port=base_port,
            name=name,
            force=force,
        )
        document = _describe(federation)
        document["created"] = [str(federation.path)] + [
            path for p in document["parties"] for path in (p["certificate"], p["key"])
        ]
        if json_output:
            emit_json(document)
        else:
            _table(federation, f"created {federation.n_parties} parties")
            console.print("private keys are mode 0600; give each party only its own key.pem")

    @sub.command("show")
    def show(
        path: Annotated[Path, typer.Argument(help="The federation file.")],
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Check a federation file (schema, ids, threshold, certificates) and describe it."""
        federation = Federation.load(path)
        if json_output:
            emit_json(_describe(federation))
        else:
            _table(federation, "federation")

    root.add_typer(sub, name="federation")
