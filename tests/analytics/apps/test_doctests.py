"""The examples in the docstrings of the applications and the secure types run as shown."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "veil.analytics.apps.auction",
    "veil.analytics.apps.vote",
    "veil.analytics.apps.psi",
    "veil.mpc.types",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_of_the_module_pass(name: str) -> None:
    """doctest finds examples and no failure in the module."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
