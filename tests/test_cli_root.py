"""The root command: help, unknown commands, exit codes."""

from __future__ import annotations

import subprocess
import sys

from veil.cli import exit_codes, main


def test_help_lists_the_command_groups(capsys) -> None:
    """`veil --help` exits 0 and lists demo and bench."""
    assert main(["--help"]) == exit_codes.SUCCESS
    out = capsys.readouterr().out
    assert "demo" in out
    assert "bench" in out


def test_an_unknown_command_is_a_usage_error() -> None:
    """An unknown noun exits with the usage code, not success."""
    assert main(["no-such-noun"]) == exit_codes.USAGE


def test_the_module_runs_as_a_program() -> None:
    """`python -m veil.cli --help` works (the console script is a thin wrapper)."""
    done = subprocess.run(
        [sys.executable, "-m", "veil.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "veil" in done.stdout


def test_an_error_names_its_code_and_hint_on_stderr(capsys) -> None:
    """The kebab-case code survives rich's markup (it is written in square brackets)."""
    assert (
        main(
            [
                "dp",
                "release",
                "--data",
                "/no/such/file.csv",
                "--column",
                "x",
                "--stat",
                "sum",
                "--bounds",
                "0",
                "1",
                "--epsilon",
                "1",
            ]
        )
        == exit_codes.ERROR
    )
    err = capsys.readouterr().err
    assert "error [" in err
    assert "/no/such/file.csv" in err
