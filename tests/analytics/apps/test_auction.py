"""Sealed-bid auctions: the secure outcome equals the plaintext one; only winner and price leave."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from apps_helpers import run_each
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.analytics.apps.auction import (
    TIE_BREAK,
    AuctionOutcome,
    plain_auction,
    sealed_bid_auction,
)
from veil.errors import ConfigError, EncodingError, PartyFailed
from veil.mpc import SecInt


def secure_auction(bids: list[list[int]], **kwargs: Any) -> list[AuctionOutcome | None]:
    """Run the auction at three parties, party i bidding bids[i]."""
    return run_each(sealed_bid_auction, bids, **kwargs)


bid_lists = st.lists(st.lists(st.integers(0, 20), max_size=5), min_size=3, max_size=3).filter(
    lambda parts: sum(len(p) for p in parts) > 0
)


@settings(max_examples=12, deadline=None)
@given(bids=bid_lists, rule=st.sampled_from(["first-price", "second-price"]))
def test_the_secure_outcome_equals_the_plaintext_outcome(bids: list[list[int]], rule: str) -> None:
    """Winner, its party and position, and price agree with numpy, ties included (small values)."""
    outcomes = secure_auction(bids, rule=rule)
    assert outcomes[0] == plain_auction(bids, rule=rule)  # type: ignore[arg-type]
    assert outcomes[1] == outcomes[0] == outcomes[2]


def test_ties_go_to_the_lowest_bidder_number_and_set_the_second_price() -> None:
    """Two bids of 150: the first (party 1) wins and pays 150 under either rule."""
    bids = [[120, 90], [150], [150, 80]]
    second = secure_auction(bids, rule="second-price")[0]
    first = secure_auction(bids, rule="first-price")[0]
    assert second is not None
    assert first is not None
    assert (second.winner, second.winner_party, second.winner_position) == (2, 1, 0)
    assert second.price == first.price == 150
    assert "lowest bidder number" in TIE_BREAK


def test_vickrey_price_is_the_highest_losing_bid() -> None:
    """Bids 10, 40, 25: the 40 wins and pays 25 (second price) or 40 (first price)."""
    bids = [[10], [40], [25]]
    assert secure_auction(bids, rule="second-price")[0].price == 25  # type: ignore[union-attr]
    assert secure_auction(bids, rule="first-price")[0].price == 40  # type: ignore[union-attr]


def test_a_single_bid_wins_at_its_own_price_and_empty_parties_are_fine() -> None:
    """Parties 0 and 2 have no bidders; the only bid wins and pays itself."""
    outcome = secure_auction([[], [7], []], rule="second-price")[0]
    assert outcome == AuctionOutcome(0, 1, 0, 7, "second-price", 1)


def test_extreme_32_bit_bids() -> None:
    """The range limits of SecInt(32) compare correctly in the tournament."""
    bids = [[-(2**31), 2**31 - 1], [2**31 - 2], [0]]
    outcome = secure_auction(bids)[0]
    assert outcome is not None
    assert (outcome.winner, outcome.price) == (1, 2**31 - 2)


def test_only_the_recipients_learn_the_outcome() -> None:
    """recipients=[2]: parties 0 and 1 get None."""
    outcomes = secure_auction([[5], [9], [3]], recipients=[2])
    assert outcomes[0] is None
    assert outcomes[1] is None
    assert outcomes[2] is not None
    assert outcomes[2].winner_party == 1


def test_an_out_of_range_bid_is_refused_at_its_party() -> None:
    """A bid above SecInt(16) names its position; the auction does not run."""
    with pytest.raises(PartyFailed) as caught:
        secure_auction([[5], [9, 70000], [3]], dtype=SecInt(16))
    assert caught.value.party == 1
    assert isinstance(caught.value.__cause__, EncodingError)
    assert "flat position 1" in str(caught.value.__cause__)


def test_an_auction_without_bids_and_unknown_rules_are_config_errors() -> None:
    """No bids at all, or rule='dutch', are refused with the parameter named."""
    with pytest.raises(PartyFailed, match="nobody submitted a bid"):
        secure_auction([[], [], []])
    with pytest.raises(ConfigError, match="rule"):
        plain_auction([[1]], rule="dutch")  # type: ignore[arg-type]


def test_the_outcome_serialises_with_its_tie_break_rule() -> None:
    """to_dict() is JSON-ready and states the rule."""
    document = plain_auction([[3, 9], [9]], rule="second-price").to_dict()
    assert document["winner"] == 1
    assert document["price"] == 9
    assert document["tie_break"] == TIE_BREAK
    assert np.isscalar(document["n_bids"])
