"""``veil demo auction|vote|psi|inference|stats``: the classic MPC applications with real parties.

Each demo runs three party processes on this machine, each with its own key pair and certificate,
connected by mutually authenticated TLS on loopback (:func:`veil.mpc.run_parties`); ``--plain``
computes the same answer in one process without any secrecy, for comparison. The demos simulate
every party's private input on one machine; in a deployment each party passes only its own data.

Data on the command line: parties are separated by ``;`` and items by ``,``, e.g.
``--bids "120,90;150;150,80"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from veil.cli._output import console, emit_json
from veil.errors import ConfigError

#: Number of parties in every demo.
PARTIES = 3


class AuctionRule(StrEnum):
    """Pricing rule of the sealed-bid auction."""

    first_price = "first-price"
    second_price = "second-price"


class VoteMode(StrEnum):
    """What the vote reveals."""

    tally = "tally"
    threshold = "threshold"


class Reveal(StrEnum):
    """What the set intersection reveals."""

    elements = "elements"
    size = "size"


class Security(StrEnum):
    """The runtime's protocol suite."""

    passive = "passive"
    active = "active"


class ModelKind(StrEnum):
    """The model of the inference demo."""

    linear = "linear"
    logistic = "logistic"
    mlp = "mlp"


def parse_parties(text: str, convert: Callable[[str], Any], name: str) -> list[list[Any]]:
    """Parse ``"a,b;c;d,e"`` into one list per party (exactly three), converting each item."""
    parts = text.split(";")
    if len(parts) != PARTIES:
        raise ConfigError(
            f"--{name} must give {PARTIES} parties separated by ';', got {len(parts)}: {text!r}",
            field=name,
            hint='for example --bids "120,90;150;150,80" (use an empty part for a party without data)',
        )
    out = []
    for party, part in enumerate(parts):
        items = [item.strip() for item in part.split(",") if item.strip()]
        try:
            out.append([convert(item) for item in items])
        except ValueError as exc:
            raise ConfigError(
                f"--{name}: party {party} has an invalid item in {part!r} ({exc})", field=name
            ) from exc
    return out


def _run(
    program: Any,
    args: tuple[Any, ...],
    plain: Callable[[], Any],
    use_plain: bool,
    security: Security,
) -> tuple[Any, float]:
    start = time.perf_counter()
    if use_plain:
        result = plain()
    else:
        from veil.mpc import run_parties

        with console.status(f"running {PARTIES} {security.value} party processes over TLS ..."):
            results = [
                r.value for r in run_parties(program, PARTIES, args=args, security=security.value)
            ]
        result = next(r for r in results if r is not None)
    return result, time.perf_counter() - start


def _show(title: str, rows: dict[str, Any], mode: str, seconds: float) -> None:
    table = Table(title=f"{title} ({mode}, {seconds:.2f} s)")
    table.add_column("output")
    table.add_column("value", justify="right")
    for key, value in rows.items():
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value))
    console.print(table)


def _emit(
    app: str,
    mode: str,
    seconds: float,
    result: dict[str, Any],
    json_output: bool,
    security: Security,
) -> None:
    if json_output:
        emit_json(
            {
                "app": app,
                "mode": mode,
                "security": None if mode == "plain" else security.value,
                "parties": PARTIES,
                "seconds": seconds,
                "result": result,
            }
        )


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
PlainOption = Annotated[
    bool, typer.Option("--plain", help="Compute in one process without secrecy, for comparison.")
]
SecurityOption = Annotated[
    Security,
    typer.Option(help="passive (semi-honest) or active (cheaters detected and named)."),
]


def register(root: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add the application demos to ``veil demo``."""
    demo = groups["demo"]

    @demo.command("auction")
    def auction(
        bids: Annotated[
            str, typer.Option(help="Bids per party: ';' between parties, ',' between bids.")
        ] = "120,90;150;150,80",
        rule: Annotated[AuctionRule, typer.Option(help="Pricing rule.")] = AuctionRule.second_price,
        plain: PlainOption = False,
        security: SecurityOption = Security.passive,
        json_output: JsonOption = False,
    ) -> None:
        """Sealed-bid auction: reveals the winner and the price only (ties: lowest bidder number)."""
        from veil.analytics.apps.auction import TIE_BREAK, auction_program, plain_auction

        parsed = parse_parties(bids, int, "bids")
        result, seconds = _run(
            auction_program,
            (parsed, rule.value),
            lambda: plain_auction(parsed, rule=rule.value).to_dict(),  # type: ignore[arg-type]
            plain,
            security,
        )
        mode = "plain" if plain else "secure"
        _show(
            f"Sealed-bid {rule.value} auction of {result['n_bids']} bids",
            {
                "winner (bidder number)": result["winner"],
                "winner's party / position": f"{result['winner_party']} / {result['winner_position']}",
                "price": result["price"],
                "tie-break": TIE_BREAK,
            },
            mode,
            seconds,
        )
        _emit("auction", mode, seconds, result, json_output, security)

    @demo.command("vote")
    def vote(
        ballots: Annotated[
            str, typer.Option(help="Ballots per party (option names): ';' between parties.")
        ] = "yes;yes;no",
        options: Annotated[
            str, typer.Option(help="The options, ',' separated; the first is YES.")
        ] = "yes,no",
        mode: Annotated[
            VoteMode, typer.Option(help="Reveal the tally, or only pass/fail.")
        ] = VoteMode.tally,
        plain: PlainOption = False,
        security: SecurityOption = Security.passive,
        json_output: JsonOption = False,
    ) -> None:
        """Private vote: tallies per option, or (threshold) only whether YES got at least half."""
        from veil.analytics.apps.vote import plain_referendum, plain_tally, vote_program

        names = [o.strip() for o in options.split(",") if o.strip()]
        parsed = parse_parties(ballots, str, "ballots")

        def plain_result() -> dict[str, Any]:
            if mode == VoteMode.threshold:
                return plain_referendum([[b == names[0] for b in p] for p in parsed]).to_dict()
            return plain_tally(parsed, options=names).to_dict()

        result, seconds = _run(
            vote_program, (parsed, names, mode.value), plain_result, plain, security
        )
        label = "plain" if plain else "secure"
        rows = (
            {"passed": result["passed"], "ballots": result["ballots"], "rule": result["rule"]}
            if mode == VoteMode.threshold
            else {**result["counts"], "ballots": result["ballots"]}
        )
        _show(f"Vote ({mode.value})", rows, label, seconds)
        _emit("vote", label, seconds, result, json_output, security)

    @demo.command("psi")
    def psi(
        sets: Annotated[
            str, typer.Option(help="Identifiers per party: ';' between parties, ',' between ids.")
        ] = "ann,bob,eve,ivy;bob,eve,joe;eve,bob,kim,zoe",
        reveal: Annotated[
            Reveal, typer.Option(help="Reveal the members or only their count.")
        ] = Reveal.elements,
        plain: PlainOption = False,
        security: SecurityOption = Security.passive,
        json_output: JsonOption = False,
    ) -> None:
        """Private set intersection of three parties' identifiers."""
        from veil.analytics.apps.psi import plain_intersection, psi_program

        parsed = parse_parties(sets, str, "sets")

        def plain_result() -> dict[str, Any]:
            common = plain_intersection(parsed)
            shown = sorted(common) if reveal == Reveal.elements else []
            return {"size": len(common), "elements": shown, "hashes": []}

        result, seconds = _run(psi_program, (parsed, reveal.value), plain_result, plain, security)
        label = "plain" if plain else "secure"
        rows = {"size": result["size"]}
        if reveal == Reveal.elements:
            rows["members"] = ", ".join(result["elements"])
        _show("Private set intersection", rows, label, seconds)
        _emit("psi", label, seconds, result, json_output, security)

    @demo.command("inference")
    def inference(
        model: Annotated[ModelKind, typer.Option(help="The owner's model.")] = ModelKind.logistic,
        features: Annotated[
            str, typer.Option(help="The client's feature vector, ',' separated.")
        ] = "0.5,-1.2,2.0,0.3",
        seed: Annotated[
            int, typer.Option(help="Seed of the demo model's public test weights.")
        ] = 7,
        plain: PlainOption = False,
        security: SecurityOption = Security.passive,
        json_output: JsonOption = False,
    ) -> None:
        """Private inference: party 0 (client) learns the prediction; party 1 (owner) learns nothing."""
        from veil.analytics.apps.inference import (
            Model,
            ModelSpec,
            inference_program,
            plain_predict,
        )

        try:
            x = np.array([float(v) for v in features.split(",") if v.strip()])
        except ValueError as exc:
            raise ConfigError(
                f"--features must be numbers, got {features!r}", field="features"
            ) from exc
        sizes = (x.size, 1) if model != ModelKind.mlp else (x.size, 8, 1)
        spec = ModelSpec(sizes, output="sigmoid" if model == ModelKind.logistic else "identity")
        gen = np.random.default_rng(seed)  # public demo weights, not secrets
        weights = Model(
            [gen.normal(0, 1, (a, b)) for a, b in pairwise(sizes)],
            [gen.normal(0, 0.5, b) for b in sizes[1:]],
        )
        result, seconds = _run(
            inference_program,
            (spec, x, weights),
            lambda: plain_predict(spec, x, weights).tolist(),
            plain,
            security,
        )
        label = "plain" if plain else "secure"
        exact = plain_predict(spec, x, weights).tolist()
        _show(
            f"Private {model.value} inference ({x.size} features)",
            {"prediction (client)": result, "plaintext prediction": exact},
            label,
            seconds,
        )
        _emit(
            "inference",
            label,
            seconds,
            {"prediction": result, "plain": exact, "model": model.value},
            json_output,
            security,
        )

    @demo.command("stats")
    def stats(
        values: Annotated[
            str, typer.Option(help="Values per party: ';' between parties, ',' between values.")
        ] = "51.2,48.0,55.9,62.3;38.5,41.0;70.1,66.6,59.0",
        plain: PlainOption = False,
        security: SecurityOption = Security.passive,
        json_output: JsonOption = False,
    ) -> None:
        """Count, mean, variance, min, max and median of all parties' values."""
        from veil.analytics.apps.stats import plain_summary, stats_program

        parsed = parse_parties(values, float, "values")
        result, seconds = _run(
            stats_program,
            (parsed,),
            lambda: plain_summary(np.concatenate([np.asarray(p, float) for p in parsed])).to_dict(),
            plain,
            security,
        )
        label = "plain" if plain else "secure"
        _show("Summary statistics of all parties' values", result, label, seconds)
        _emit("stats", label, seconds, result, json_output, security)
