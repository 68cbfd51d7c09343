"""The verdicts of ``verify/run.py``: only the right kind of failure counts as a rejection."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gate() -> types.ModuleType:
    """The gate driver, loaded from its file."""
    spec = importlib.util.spec_from_file_location("veil_verify_run", ROOT / "verify" / "run.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load verify/run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


def _step(gate: types.ModuleType, tool: str, path: str, output: str, rc: int) -> object:
    step = gate.Step(tool, path, "rejected", [], 1.0)
    step.output = output
    gate.JUDGES[tool](step, rc)
    return step


def test_a_nagini_translation_error_is_not_a_rejection(gate: types.ModuleType) -> None:
    """Nagini failing to translate a wrong file says nothing about the bug: outcome 'error'."""
    step = _step(gate, "nagini", "x.py", "Translation failed\nNot supported: builtin (x.py@3.1)", 1)
    assert step.outcome == "error"


def test_a_failed_nagini_verification_is_a_rejection(gate: types.ModuleType) -> None:
    """'Verification failed' with a postcondition error is the rejection a wrong file needs."""
    out = "Verification failed\nErrors:\nPostcondition of add might not hold. (x.py@13.12)\n"
    step = _step(gate, "nagini", "x.py", out, 1)
    assert step.outcome == "rejected"
    assert "Postcondition of add" in step.detail


def test_an_unknown_z3_claim_is_neither_proved_nor_rejected(gate: types.ModuleType) -> None:
    """A solver timeout is not evidence: a file with an 'unknown' claim gets outcome 'error'."""
    report = {"ok": False, "claims": [{"name": "c", "status": "unknown", "seconds": 60}]}
    step = _step(gate, "z3", "x.py", json.dumps(report), 1)
    assert step.outcome == "error"


def test_crosshair_must_confirm_every_named_function(gate: types.ModuleType) -> None:
    """A named function without 'Confirmed over all paths' fails a proved step."""
    path = "verify/crosshair/targets.py"
    step = gate.Step("crosshair", path, "proved", [], 1.0)
    step.output = f"{ROOT / path}:1: info: Confirmed over all paths.\n"
    gate.JUDGES["crosshair"](step, 0)
    assert step.outcome != "proved"
