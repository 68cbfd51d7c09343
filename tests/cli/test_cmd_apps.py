"""`veil demo auction|vote|psi|inference|stats`: exit codes, JSON shape, plain and secure agree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from veil.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize(
    ("app", "args", "key", "expected"),
    [
        ("auction", ["--bids", "120,90;150;150,80"], "price", 150),
        ("auction", ["--bids", "5;40;25", "--rule", "first-price"], "price", 40),
        ("vote", ["--ballots", "yes;yes;yes"], "counts", {"yes": 3, "no": 0}),
        ("vote", ["--ballots", "yes;no;no", "--mode", "threshold"], "passed", False),
        ("psi", ["--sets", "a,b,c;b,c;c,b,z"], "elements", ["b", "c"]),
        ("psi", ["--sets", "a,b,c;b,c;c,b,z", "--reveal", "size"], "size", 2),
        ("stats", ["--values", "1,2;3;4,5,6"], "median", 3.5),
    ],
)
def test_plain_demos_print_the_expected_answer(
    capsys: pytest.CaptureFixture[str], app: str, args: list[str], key: str, expected: Any
) -> None:
    """--plain computes the answer in one process; JSON has app, mode, parties, seconds, result."""
    code, document = run_json(capsys, "demo", app, *args, "--plain")
    assert code == 0
    assert document["schema_version"] == 1
    assert (document["app"], document["mode"], document["parties"]) == (app, "plain", 3)
    assert document["result"][key] == expected


def test_the_inference_demo_reports_both_predictions(capsys: pytest.CaptureFixture[str]) -> None:
    """The plain demo's prediction equals its plaintext reference."""
    code, document = run_json(capsys, "demo", "inference", "--model", "mlp", "--plain")
    assert code == 0
    assert document["result"]["prediction"] == document["result"]["plain"]


@pytest.mark.slow
def test_the_secure_auction_runs_three_tls_processes_and_agrees_with_plain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Real parties over loopback: same winner and price as the plaintext auction."""
    args = ["demo", "auction", "--bids", "7,3;9;9,1"]
    code, secure = run_json(capsys, *args)
    assert code == 0
    assert (secure["mode"], secure["security"]) == ("secure", "passive")
    _, plain = run_json(capsys, *args, "--plain")
    assert secure["result"] == plain["result"]
    assert secure["result"]["winner_party"] == 1


@pytest.mark.slow
def test_the_secure_referendum_runs_three_tls_processes(capsys: pytest.CaptureFixture[str]) -> None:
    """The threshold vote over TLS reveals only 'passed'."""
    code, document = run_json(
        capsys, "demo", "vote", "--ballots", "yes;no;yes", "--mode", "threshold"
    )
    assert code == 0
    assert set(document["result"]) == {"passed", "ballots", "rule"}
    assert document["result"]["passed"] is True


def test_a_malformed_party_list_is_an_error_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two parties instead of three: exit code 3 and a JSON error with the field."""
    code = main(["demo", "auction", "--bids", "1;2", "--plain", "--json"])
    assert code == 3
    captured = capsys.readouterr()
    assert "--bids must give 3 parties" in captured.out + captured.err


def test_a_non_numeric_bid_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bid that is not an integer names the party."""
    code = main(["demo", "auction", "--bids", "1;x;2", "--plain"])
    assert code == 3
    assert "party 1" in capsys.readouterr().err
