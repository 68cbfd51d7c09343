"""The examples in the docstrings of veil.dp run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["veil.dp.samplers"]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_module_pass(name: str) -> None:
    """doctest finds no failure in the module."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
