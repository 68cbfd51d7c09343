"""The shipped data sets load offline with the documented shapes."""

from __future__ import annotations

import pytest

from veil import datasets
from veil.errors import ConfigError

SHAPES = {
    "prop99": (1209, 4),
    "cps": (2000, 8),
    "penn": (5328, 5),
    "basque": (774, 17),
    "germany": (748, 11),
    "adult": (32561, 15),
    "adult_test": (16281, 15),
    "german_credit": (1000, 10),
}


@pytest.mark.parametrize(("name", "shape"), SHAPES.items())
def test_each_data_set_loads_with_its_documented_shape(name: str, shape: tuple[int, int]) -> None:
    """Every data set in the registry loads from the package with the shape SOURCES.md states."""
    assert datasets.load(name).shape == shape


def test_adult_reads_question_marks_as_missing() -> None:
    """The raw UCI marker '?' becomes a missing value (1836 in workclass)."""
    assert datasets.load("adult")["workclass"].isna().sum() == 1836


def test_an_unknown_name_is_refused_with_the_known_names() -> None:
    """A typo names the data sets that exist."""
    with pytest.raises(ConfigError, match="prop99"):
        datasets.load("prop98")
