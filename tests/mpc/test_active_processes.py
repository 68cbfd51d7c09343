"""Active mode with real party processes over mutually authenticated TLS (federation keys sign)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from active_programs import EXPECTED, X, Y, cheating_program

from veil.mpc import run_parties
from veil.mpc.adversary import Misbehaviour
from veil.net.channels import Timeouts

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _programs_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Party processes import the test programs from this folder."""
    here = str(Path(__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))


def test_honest_processes_compute_the_scenario_over_tls() -> None:
    """Three processes, no cheater: each returns the right values."""
    results = run_parties(cheating_program, 3, args=({}, X, Y), security="active")
    assert [r.value for r in results] == [{"value": [EXPECTED[0], EXPECTED[1]]}] * 3


def test_a_process_that_alters_its_share_is_named_by_the_others_over_tls() -> None:
    """Party 1 signs a wrong opening share; parties 0 and 2 stop naming it, in the same step."""
    results = run_parties(
        cheating_program,
        3,
        args=({1: Misbehaviour("wrong-share")}, X, Y),
        security="active",
        timeouts=Timeouts(recv_seconds=10.0),
    )
    honest = [results[0].value, results[2].value]
    assert honest[0] == honest[1]
    assert honest[0]["error"] == "cheater-detected"
    assert honest[0]["party"] == 1
    assert honest[0]["step"] == "open"
