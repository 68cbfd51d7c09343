"""Private set intersection: the intersection (or its size) and nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from apps_helpers import run_each
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.analytics.apps.psi import (
    IntersectionResult,
    _polynomial,
    hash_identifiers,
    plain_intersection,
    private_intersection,
)
from veil.errors import ConfigError, PartyFailed
from veil.field import Field


def secure_psi(sets: list[list[Any]], **kwargs: Any) -> list[IntersectionResult | None]:
    return run_each(private_intersection, sets, **kwargs)


@settings(max_examples=10, deadline=None)
@given(
    sets=st.lists(st.lists(st.integers(0, 12), max_size=7), min_size=3, max_size=4),
    reveal=st.sampled_from(["elements", "size"]),
)
def test_the_intersection_equals_the_plaintext_one(sets: list[list[int]], reveal: str) -> None:
    """Any sizes (including empty sets and duplicates), three or four parties."""
    results = secure_psi(sets, reveal=reveal)
    expected = plain_intersection(sets)
    for result in results:
        assert result is not None
        assert result.size == len(expected)
        if reveal == "elements":
            assert set(result.elements) == expected
        else:
            assert result.elements == []


def test_recipients_name_members_from_their_own_sets() -> None:
    """Party 0 learns names; a recipient-less party gets None; hashes are opened for everyone."""
    sets = [["ann", "bob", "eve"], ["bob", "eve", "joe"], ["eve", "bob", "kim", "zoe"]]
    results = secure_psi(sets, recipients=[0, 2])
    assert results[1] is None
    for result in (results[0], results[2]):
        assert result is not None
        assert sorted(result.elements) == ["bob", "eve"]
        assert sorted(result.hashes) == sorted(hash_identifiers(Field(), ["bob", "eve"]).tolist())


def test_padding_hides_set_sizes_without_changing_the_answer() -> None:
    """pad_to=8 adds dummy hashes; the intersection is unchanged."""
    sets = [[1, 2, 3], [2, 3, 4, 5], [3, 2]]
    result = secure_psi(sets, pad_to=8)[0]
    assert result is not None
    assert set(result.elements) == {2, 3}
    with pytest.raises(PartyFailed, match="pad_to"):
        secure_psi(sets, pad_to=2)


def test_the_set_polynomial_vanishes_exactly_on_the_set() -> None:
    """P(x) = prod (x - h): zero at every hash, non-zero elsewhere."""
    field = Field()
    roots = hash_identifiers(field, ["a", "b", "c"])
    coefficients = _polynomial(field, roots)
    assert coefficients.size == 3

    def evaluate(x: int) -> int:
        return (
            sum(int(c) * pow(x, k, field.p) for k, c in enumerate(coefficients)) + x**3
        ) % field.p

    assert all(evaluate(int(r)) == 0 for r in roots)
    assert evaluate(12345) != 0


def test_hashes_are_deterministic_and_domain_separated() -> None:
    """The same identifier hashes alike at every party, differently from its raw bytes."""
    field = Field()
    first = hash_identifiers(field, ["x", 7])
    assert np.array_equal(first, hash_identifiers(field, ["x", 7]))
    assert int(first[0]) < field.p
    assert first[0] != first[1]


def test_reveal_must_be_elements_or_size() -> None:
    """Anything else is a ConfigError."""
    with pytest.raises(PartyFailed) as caught:
        secure_psi([[1], [1], [1]], reveal="all")
    assert isinstance(caught.value.__cause__, ConfigError)
