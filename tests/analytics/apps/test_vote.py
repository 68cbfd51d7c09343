"""Votes: tallies equal the plaintext count; the referendum reveals one bit; ballots are checked."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from apps_helpers import run_each
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.analytics.apps.vote import (
    ReferendumResult,
    TallyResult,
    plain_referendum,
    plain_tally,
    referendum,
    tally,
)
from veil.errors import ConfigError, EncodingError, PartyFailed, ProtocolError
from veil.mpc import Runtime, run_local

OPTIONS = ["red", "green", "blue"]


def secure_tally(ballots: list[list[Any]], **kwargs: Any) -> list[TallyResult | None]:
    return run_each(tally, ballots, options=OPTIONS, **kwargs)


def secure_referendum(votes: list[list[bool]], **kwargs: Any) -> list[ReferendumResult | None]:
    return run_each(referendum, votes, **kwargs)


ballot_lists = st.lists(
    st.lists(st.sampled_from([*OPTIONS, 0, 1, 2]), max_size=4), min_size=3, max_size=3
).filter(lambda parts: sum(len(p) for p in parts) > 0)


@settings(max_examples=10, deadline=None)
@given(ballots=ballot_lists)
def test_the_tally_equals_the_plaintext_count(ballots: list[list[Any]]) -> None:
    """Ballots by name or index, any number per party."""
    results = secure_tally(ballots)
    assert results[0] == plain_tally(ballots, options=OPTIONS)
    assert results[0] == results[1] == results[2]


@settings(max_examples=10, deadline=None)
@given(votes=st.lists(st.lists(st.booleans(), max_size=4), min_size=3, max_size=3))
def test_the_referendum_passes_iff_at_least_half_vote_yes(votes: list[list[bool]]) -> None:
    """Exactly half YES passes; the result carries only the bit and the public ballot count."""
    if sum(len(v) for v in votes) == 0:
        return
    result = secure_referendum(votes)[0]
    flags = [v for party in votes for v in party]
    assert result is not None
    assert result.passed == (2 * sum(flags) >= len(flags))
    assert result == plain_referendum(votes)


def test_a_tie_passes_and_a_two_thirds_quota_is_respected() -> None:
    """2 of 4 passes at 1/2; 2 of 3 passes at 2/3 and 1 of 3 does not."""
    assert secure_referendum([[True], [False, True], [False]])[0].passed  # type: ignore[union-attr]
    two_thirds = Fraction(2, 3)
    assert secure_referendum([[True], [True], [False]], quota=two_thirds)[0].passed  # type: ignore[union-attr]
    assert not secure_referendum([[True], [False], [False]], quota=two_thirds)[0].passed  # type: ignore[union-attr]


def test_a_unanimous_tally_reveals_every_ballot_but_the_referendum_only_passed() -> None:
    """The docs' referendum example: 3-0 names every vote; 'passed' looks like a 2-1 win."""
    tallied = secure_tally([["red"], ["red"], ["red"]])[0]
    assert tallied is not None
    assert tallied.counts == {"red": 3, "green": 0, "blue": 0}
    unanimous = secure_referendum([[True], [True], [True]])[0]
    split = secure_referendum([[True], [True], [False]])[0]
    assert unanimous == split  # indistinguishable outputs


def test_a_ballot_that_is_not_an_option_is_refused_at_its_party() -> None:
    """'purple' at party 1, position 1: EncodingError naming the position."""
    with pytest.raises(PartyFailed) as caught:
        secure_tally([["red"], ["blue", "purple"], []])
    assert caught.value.party == 1
    assert isinstance(caught.value.__cause__, EncodingError)
    assert "position 1" in str(caught.value.__cause__)


def test_a_party_that_shares_a_double_vote_is_caught_in_mpc() -> None:
    """A tampered one-hot row (two 1s) fails the in-MPC check with a ProtocolError."""

    async def program(rt: Runtime) -> Any:
        honest_input = rt.protocols.input

        def stuffing(values: Any, sender: int) -> Any:
            if (
                values is not None
                and rt.party_id == 0
                and values.ndim == 2
                and values.shape[1] == 3
            ):
                values = values.copy()
                values[0] = [1, 1, 0]
            return honest_input(values, sender)

        rt.protocols.input = stuffing  # type: ignore[method-assign]
        return await tally(rt, [["red"], ["green"], ["blue"]][rt.party_id], options=OPTIONS)

    with pytest.raises(PartyFailed) as caught:
        run_local(program, 3)
    assert isinstance(caught.value.__cause__, ProtocolError)
    assert "not a valid vote" in str(caught.value.__cause__)


def test_options_and_quotas_are_validated() -> None:
    """One option, duplicates, or a quota of 0 are ConfigErrors."""
    with pytest.raises(ConfigError, match="two distinct"):
        plain_tally([["a"]], options=["a"])
    with pytest.raises(PartyFailed, match="quota"):
        secure_referendum([[True], [True], [True]], quota=0)


def test_only_recipients_learn_the_tally() -> None:
    """recipients=[0]: parties 1 and 2 get None."""
    results = secure_tally([["red"], ["green"], ["green"]], recipients=[0])
    assert results[1] is None
    assert results[2] is None
    assert results[0] is not None
    assert results[0].counts["green"] == 2
