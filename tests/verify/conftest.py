"""Fixtures: the Nagini-proved files, run without their contracts (see verify/contracts.py)."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVED = ROOT / "verify" / "nagini"


def _load_contracts_module() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "veil_verify_contracts", ROOT / "verify" / "contracts.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("cannot load verify/contracts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def contracts() -> types.ModuleType:
    """The contract stripper, ``verify/contracts.py``."""
    return _load_contracts_module()


@pytest.fixture(scope="session")
def proved_field(contracts: types.ModuleType) -> types.ModuleType:
    """The proved scalar GF(p) reference, ``verify/nagini/field.py``."""
    return contracts.load_proved(PROVED / "field.py")


@pytest.fixture(scope="session")
def proved_shamir(contracts: types.ModuleType) -> types.ModuleType:
    """The proved scalar Shamir reference, ``verify/nagini/shamir.py``."""
    return contracts.load_proved(PROVED / "shamir.py")


@pytest.fixture(scope="session")
def proved_codec(contracts: types.ModuleType) -> types.ModuleType:
    """The proved copy of the frame codec, ``verify/nagini/codec.py``."""
    return contracts.load_proved(PROVED / "codec.py")
