"""The ``veil`` command line: ``veil <noun> <verb>``.

Commands live in ``veil/cli/cmd_*.py`` modules, each exposing ``register(root, groups)``; they are
discovered at start-up, so adding a noun never edits this file. Data goes to stdout, tables and
progress to stderr. Exit codes are in :mod:`veil.cli.exit_codes`; only :func:`main` turns
exceptions into codes, and tracebacks show only with ``--debug``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import typer
from rich.markup import escape

from veil.cli import exit_codes
from veil.cli._output import SCHEMA_VERSION, console
from veil.errors import VeilError

__all__ = ["app", "main"]

app = typer.Typer(
    name="veil",
    help="Compute on private data: MPC, differential privacy, and analyses on top.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Shared command groups that several modules add verbs to (``veil demo raises``, ``veil bench mpc``).
groups: dict[str, typer.Typer] = {
    "demo": typer.Typer(
        help="Run a demonstration with real parties on this machine.", no_args_is_help=True
    ),
    "bench": typer.Typer(
        help="Measure performance; prints JSON with --json.", no_args_is_help=True
    ),
}
for _name, _group in groups.items():
    app.add_typer(_group, name=_name)


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(app, groups)


_discover()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; the one place exceptions become codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    want_json = "--json" in args
    try:
        # without standalone mode, click returns a command's typer.Exit code instead of raising
        returned = app(args=args, standalone_mode=False)
    except VeilError as exc:
        if debug:
            console.print_exception()
        _report(exc.to_dict(), want_json)
        return exit_codes.ERROR
    except typer.Abort:
        console.print("[red]Aborted.[/red]")
        return exit_codes.INTERRUPTED
    except KeyboardInterrupt:
        return exit_codes.INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except Exception as exc:  # the parser's usage errors, and anything unexpected
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click / typer's vendored click
            exc.show()
            return exit_codes.USAGE if type(exc).__name__ in _USAGE_ERRORS else exit_codes.ERROR
        if debug:
            raise
        _report(
            {
                "code": "internal-error",
                "message": f"{type(exc).__name__}: {exc}",
                "hint": "rerun with --debug for the traceback and report it",
            },
            want_json,
        )
        return exit_codes.ERROR
    if isinstance(returned, int) and not isinstance(returned, bool) and returned != 0:
        return returned
    return exit_codes.SUCCESS


_USAGE_ERRORS = {
    "UsageError",
    "BadParameter",
    "MissingParameter",
    "NoSuchOption",
    "BadOptionUsage",
    "BadArgumentUsage",
}


def _report(error: dict[str, object], want_json: bool) -> None:
    if want_json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "error": error}))
    message = f"[bold red]error[/bold red] {escape('[' + str(error['code']) + ']')}: {escape(str(error['message']))}"
    if error.get("hint"):
        message += f"\n  [yellow]hint:[/yellow] {escape(str(error['hint']))}"
    console.print(message, highlight=False)
