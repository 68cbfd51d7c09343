"""Sealed-bid auctions: the highest bidder wins; only the winner and the price are revealed.

Every party holds the bids of some bidders (one party per bidder, or an auction house per group of
bidders). Bidders are numbered in party order, then in the order each party lists its bids; that
number is public, the bids are not.

- ``rule="first-price"``: the winner pays its own bid.
- ``rule="second-price"`` (Vickrey): the winner pays the highest *other* bid (equal to the winning
  bid when it is tied; a single bid pays itself).

**Tie-break**: among equal highest bids, the bidder with the lowest number wins (the first party's
first bid). **What is revealed**: the winner's number (hence its party and position) and the price,
to the recipients. Losing bids, their order and the margins are not revealed; every intermediate
comparison stays secret. The numbers of bids per party are public (array shapes are).

How: a tournament of ``ceil(log2 n)`` rounds of comparisons. Each match of two sub-tournaments
``(best, index, second)`` runs its three comparisons at once (``best_l >= best_r``,
``second_l >= best_r``, ``best_l >= second_r``), so the second price costs no extra depth, and
``n - 1`` matches run in all. The masks of every comparison are made in one batch at the start
(:func:`veil.mpc.protocols.compare.prepare`), so each level costs six rounds of comparison and one
of selection.

Example
-------
>>> from veil.mpc import run_local
>>> bids = [[120, 90], [150], [150, 80]]   # party 0 has two bidders, party 1 one, party 2 two
>>> async def program(rt):
...     return await sealed_bid_auction(rt, bids[rt.party_id], rule="second-price")
>>> outcome = run_local(program, 3)[0]
>>> (outcome.winner, outcome.winner_party, outcome.winner_position, outcome.price)
(2, 1, 0, 150)
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from veil.errors import ConfigError
from veil.mpc import Runtime, SecInt, SecretArray, concatenate, stack
from veil.mpc.protocols.compare import compare, prepare
from veil.mpc.protocols.masks import Masks
from veil.mpc.types import IntType

__all__ = ["AuctionOutcome", "auction_program", "plain_auction", "sealed_bid_auction"]

Rule = Literal["first-price", "second-price"]
RULES: tuple[Rule, ...] = ("first-price", "second-price")
TIE_BREAK = "lowest bidder number (party order, then position within the party)"


@dataclass(frozen=True)
class AuctionOutcome:
    """What the recipients learn.

    Attributes
    ----------
    winner : int
        The winning bidder's number (0-based, party order then position).
    winner_party, winner_position : int
        The party that submitted the winning bid and its position in that party's list.
    price : int
        The price the winner pays.
    rule : str
        ``"first-price"`` or ``"second-price"``.
    n_bids : int
        Number of bids (public).
    """

    winner: int
    winner_party: int
    winner_position: int
    price: int
    rule: str
    n_bids: int

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-ready dict."""
        return {**asdict(self), "tie_break": TIE_BREAK}


def _check(rule: str, dtype: IntType) -> None:
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {RULES}, got {rule!r}", field="rule")
    if not isinstance(dtype, IntType):
        raise ConfigError(f"bids must be a SecInt type, got {dtype!r}", field="dtype")


async def sealed_bid_auction(
    rt: Runtime,
    bids: object,
    *,
    rule: Rule = "second-price",
    dtype: IntType | None = None,
    recipients: list[int] | None = None,
) -> AuctionOutcome | None:
    """Run a sealed-bid auction; every party calls it with its own bids.

    Parameters
    ----------
    rt : Runtime
    bids : array_like of int, shape (k,)
        This party's bids (``k`` may be 0), integers in the range of ``dtype`` (e.g. cents).
    rule : {"first-price", "second-price"}, default="second-price"
    dtype : IntType, default=SecInt(32)
        Bids outside its range are refused at input with their position.
    recipients : list of int, optional
        Parties that learn the outcome (default: all). The others get ``None``.

    Returns
    -------
    AuctionOutcome or None

    Raises
    ------
    ConfigError
        For an unknown rule, or when nobody submitted a bid.
    EncodingError
        At the party whose bid is out of range.
    """
    kind = dtype if dtype is not None else SecInt(32)
    _check(rule, kind)
    mine = np.asarray(bids, dtype=np.int64).reshape(-1)
    shared = await rt.input_all(mine, dtype=kind)  # the bid counts are public from here
    counts = [s.shape[0] for s in shared]
    total = sum(counts)
    if total == 0:
        raise ConfigError("nobody submitted a bid", field="bids")
    every = concatenate([s for s in shared if s.shape[0]])
    second_price = rule == "second-price"
    masks = await prepare(rt, _comparisons(total, second_price), kind.bits)
    best, index, second = await _tournament(every, masks, second_price=second_price)
    price = second if rule == "second-price" and total > 1 else best  # a lone bid pays itself
    who = list(range(rt.n_parties)) if recipients is None else sorted(set(recipients))
    opened = await asyncio.gather(*(_open_pair(index, price, to) for to in who))
    mine_opened = dict(zip(who, opened, strict=True)).get(rt.party_id)
    if mine_opened is None:
        return None
    winner, paid = mine_opened
    return _outcome(winner, paid, counts, rule)


async def _open_pair(index: SecretArray, price: SecretArray, to: int) -> tuple[int, int] | None:
    both = stack([index.astype(None), price.astype(None)])
    opened = await both.open(to=to)
    if opened is None:
        return None
    return int(opened[0]), int(opened[1])


def _outcome(winner: int, price: int, counts: list[int], rule: str) -> AuctionOutcome:
    starts = np.cumsum([0, *counts])
    party = int(np.searchsorted(starts, winner, side="right") - 1)
    return AuctionOutcome(winner, party, winner - int(starts[party]), price, rule, sum(counts))


def _comparisons(n: int, second_price: bool) -> int:
    """How many comparisons the tournament over ``n`` bids runs (all prepared at the start)."""
    total, width = 0, n
    while width > 1:
        total += (3 if second_price else 1) * (width // 2)
        width -= width // 2
    return total


async def _tournament(
    bids: SecretArray, masks: Masks, *, second_price: bool
) -> tuple[SecretArray, SecretArray, SecretArray]:
    """Return ``(best, index of best, second best)`` of a 1-D array (lowest index wins ties).

    Values travel as raw field elements; each level runs its (one or three) comparisons as one
    batch with prepared masks, then one multiplication makes every selection.
    """
    dtype = bids.dtype
    assert isinstance(dtype, IntType)
    rt = bids.runtime
    n = bids.shape[0]
    best = bids.astype(None)
    index = rt.constant(np.arange(n))
    second = rt.constant(np.full(n, -(1 << (dtype.bits - 1))))  # "no bid yet"
    while best.shape[0] > 1:
        width = best.shape[0]
        pairs = width // 2
        bl, br = best[0 : 2 * pairs : 2], best[1 : 2 * pairs : 2]
        il, ir = index[0 : 2 * pairs : 2], index[1 : 2 * pairs : 2]
        sl, sr = second[0 : 2 * pairs : 2], second[1 : 2 * pairs : 2]
        if second_price:
            # who wins, and the runner-up on either side: three comparisons in one batch
            lhs, rhs = stack([bl, sl, bl]), stack([br, br, sr])
        else:
            lhs, rhs = bl.reshape(1, pairs), br.reshape(1, pairs)
        level, masks = masks.take(lhs.size)
        ge = await compare(lhs, rhs, ">=", dtype.bits, masks=level)
        left_wins = ge[0]
        if second_price:
            runner_left = br + ge[1] * (sl - br)  # max(sl, br): the left side won
            runner_right = sr + ge[2] * (bl - sr)  # max(bl, sr): the right side won
            gaps = stack([bl - br, il - ir, runner_left - runner_right])
        else:
            runner_right = second[0 : 2 * pairs : 2]
            gaps = stack([bl - br, il - ir])
        moved = left_wins * gaps  # one multiplication for every selection
        new_best, new_index = br + moved[0], ir + moved[1]
        new_second = runner_right + moved[2] if second_price else runner_right
        if width % 2:  # the last one sits this round out
            new_best = concatenate([new_best, best[-1:]])
            new_index = concatenate([new_index, index[-1:]])
            new_second = concatenate([new_second, second[-1:]])
        best, index, second = new_best, new_index, new_second
    return best[0].astype(dtype), index[0], second[0].astype(dtype)


def plain_auction(bids_by_party: list[Any], *, rule: Rule = "second-price") -> AuctionOutcome:
    """Compute the same outcome on plaintext bids (one list per party), for checks and plain mode."""
    _check(rule, SecInt(32))
    arrays = [np.asarray(b, dtype=np.int64).reshape(-1) for b in bids_by_party]
    every = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if every.size == 0:
        raise ConfigError("nobody submitted a bid", field="bids")
    winner = int(np.argmax(every))  # numpy's argmax picks the first maximum: the same tie-break
    if rule == "first-price":
        price = int(every[winner])
    else:
        others = np.delete(every, winner)
        price = int(others.max()) if others.size else int(every[winner])
    return _outcome(winner, price, [a.size for a in arrays], rule)


async def auction_program(
    rt: Runtime, bids_by_party: list[Any], rule: Rule = "second-price"
) -> dict[str, Any] | None:
    """Demo program: party ``i`` bids ``bids_by_party[i]`` (the demo simulates every bidder)."""
    outcome = await sealed_bid_auction(rt, bids_by_party[rt.party_id], rule=rule)
    return None if outcome is None else outcome.to_dict()
