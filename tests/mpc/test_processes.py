"""Real party processes over TLS on loopback: results, and a crashed party named (slow: processes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("veil.net.tls")

from mpc_programs import crash_program, product_program

from veil.cli import main
from veil.errors import PartyFailed
from veil.mpc import run_parties
from veil.net.channels import Timeouts

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _programs_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Party processes import the test programs from this folder."""
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))


def test_three_processes_compute_a_product_over_tls() -> None:
    """Each party process returns the opened product, its memory and its traffic."""
    results = run_parties(product_program, 3, args=([1, -2, 3], [4, 5, -6]))
    assert [r.value for r in results] == [[4, -10, -18]] * 3
    assert [r.party for r in results] == [0, 1, 2]
    assert all(r.peak_rss_mb > 10 for r in results)
    assert all(r.stats.rounds >= 5 for r in results)


def test_a_crashed_party_is_named() -> None:
    """Party 1 exits abruptly; the launcher names it, not the parties that lost it."""
    with pytest.raises(PartyFailed, match="party 1's process exited with code 3") as info:
        run_parties(crash_program, 3, args=(1,), timeouts=Timeouts(recv_seconds=10))
    assert info.value.party == 1


def test_demo_raises_prints_the_sum_and_average_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`veil demo raises --json`: exit 0, 12686 and 3171.5, four parties, no sum is a raise."""
    assert main(["demo", "raises", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    assert document["sum"] == 12686
    assert document["average"] == 3171.5
    assert document["scheme"] == "additive"
    parties = document["parties"]
    assert [p["name"] for p in parties] == ["Alice", "Bob", "Carlos", "David"]
    raises = {p["raise"] for p in parties}
    for p in parties:
        assert len(p["shares_sent"]) == len(p["shares_held"]) == 4
        assert p["sum_held"] not in raises
        assert not raises & set(p["shares_held"])


def test_demo_raises_runs_with_shamir_sharing(capsys: pytest.CaptureFixture[str]) -> None:
    """--scheme shamir gives the same result."""
    assert main(["demo", "raises", "--scheme", "shamir", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["sum"], document["average"], document["scheme"]) == (12686, 3171.5, "shamir")


def test_a_tiny_bench_run_reports_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    """`veil bench mpc --size 1000 --json` prints the issue's keys with sane values."""
    code = main(
        [
            "bench",
            "mpc",
            "--parties",
            "3",
            "--size",
            "1000",
            "--repeats",
            "1",
            "--sum-inputs",
            "1000",
            "--lt-size",
            "300",
            "--auction-bids",
            "20",
            "--json",
        ]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    for key in (
        "mul_per_s",
        "input_per_s",
        "sum_1e6_s",
        "open_latency_ms",
        "bytes_per_mul",
        "theoretical_bytes_per_mul",
        "peak_rss_mb",
        "lt_per_s",
        "lt_bytes_per_party",
        "auction_1000_s",
    ):
        assert document[key] > 0, key
    assert document["lt_size"] == 300
    assert document["auction_bids"] == 20
    assert document["theoretical_bytes_per_mul"] == 8
    assert 8 <= document["bytes_per_mul"] < 8.1


def test_bench_refuses_two_parties(capsys: pytest.CaptureFixture[str]) -> None:
    """Fewer than three parties is a usage error with a message."""
    assert main(["bench", "mpc", "--parties", "2", "--json"]) == 3
    assert "--parties must be at least 3" in capsys.readouterr().out
