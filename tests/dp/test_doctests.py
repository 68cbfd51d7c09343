"""The examples in the docstrings of veil.dp run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "veil.dp.accountant",
    "veil.dp.calibration",
    "veil.dp.distributed",
    "veil.dp.mechanisms",
    "veil.dp.groupby",
    "veil.dp.ledger",
    "veil.dp.randomized_response",
    "veil.dp.releases",
    "veil.dp.samplers",
    "veil.dp.selection",
    "veil.dp.sources",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_module_pass(name: str) -> None:
    """doctest finds no failure in the module."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
