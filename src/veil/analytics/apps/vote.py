"""Private votes: per-option tallies, or only whether a proposition passed.

Every party holds some ballots (one party per voter, or a polling station per group of voters).
A ballot is one option. Ballots are encoded as one-hot vectors of ``secbool``, checked inside the
MPC (every ballot has exactly one 1; the check reveals only "all valid"), summed, and then:

- :func:`tally` opens the count of every option;
- :func:`referendum` opens one bit: the proposition passes iff ``yes >= quota * ballots`` (by default
  at least half of the ballots cast are YES). Nothing else leaves the MPC, not even the margin.

Why a tally can reveal every ballot
-----------------------------------
A tally is an exact function of the ballots. When it is lopsided it pins them down: if three
people vote and the tally is ``YES 3, NO 0``, every voter now knows how every other voter voted.
With ``YES 2, NO 1`` each YES voter knows the other two split. The threshold output reveals only
"passed"; from ``passed`` a YES voter learns that at least one other voter agreed, but not who,
and a unanimous vote looks the same as a 2-to-1 vote. Prefer the threshold output when the
electorate is small, when a decision (not its margin) is all anybody needs, or when a tally could
single out a minority; publish tallies when the margin matters and the electorate is large enough
that no count identifies a voter. The number of ballots each party submits is public (array shapes
are).

Example
-------
>>> from veil.mpc import run_local
>>> ballots = [["yes"], ["yes"], ["yes"]]
>>> async def program(rt):
...     counts = await tally(rt, ballots[rt.party_id], options=["yes", "no"])
...     passed = await referendum(rt, [b == "yes" for b in ballots[rt.party_id]])
...     return counts.counts, passed.passed
>>> run_local(program, 3)[0]   # the tally reveals every ballot here; the referendum only 'passed'
({'yes': 3, 'no': 0}, True)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from veil.errors import ConfigError, EncodingError, ProtocolError
from veil.mpc import Runtime, SecInt, SecretArray, concatenate, secbool

__all__ = [
    "ReferendumResult",
    "TallyResult",
    "plain_referendum",
    "plain_tally",
    "referendum",
    "tally",
    "vote_program",
]


@dataclass(frozen=True)
class TallyResult:
    """Counts per option, in the order of ``options``; ``ballots`` is the number cast (public)."""

    counts: dict[str, int]
    ballots: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ReferendumResult:
    """Whether the proposition passed; ``rule`` states the quota. Nothing else is revealed."""

    passed: bool
    ballots: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def _one_hot(ballots: object, options: Sequence[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Encode this party's ballots (option names or indices) as rows of a one-hot matrix."""
    names = list(options)
    raw = list(np.asarray(ballots, dtype=object).reshape(-1))
    rows = np.zeros((len(raw), len(names)), dtype=np.int64)
    for position, ballot in enumerate(raw):
        if isinstance(ballot, str) and ballot in names:
            rows[position, names.index(ballot)] = 1
        elif isinstance(ballot, int | np.integer) and 0 <= int(ballot) < len(names):
            rows[position, int(ballot)] = 1
        else:
            raise EncodingError(
                f"ballot at position {position} is {ballot!r}, not one of the options {names}",
                hint="a ballot is an option name or its index",
                position=position,
            )
    return rows


def _check_options(options: Sequence[str]) -> list[str]:
    names = [str(o) for o in options]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(
            f"options must be at least two distinct names, got {names}", field="options"
        )
    return names


async def _cast(rt: Runtime, rows: np.ndarray[Any, Any]) -> SecretArray:
    """Share every party's one-hot ballots and check them; returns all ballots (n, options)."""
    shared = await rt.input_all(rows, dtype=secbool)
    ballots = (
        concatenate([s for s in shared if s.shape[0]]) if any(s.shape[0] for s in shared) else None
    )
    if ballots is None:
        raise ConfigError("no ballots were cast", field="ballots")
    await _check_ballots(rt, ballots)
    return ballots


async def _check_ballots(rt: Runtime, ballots: SecretArray) -> None:
    """Open one random combination of ``b (1 - b)`` and ``sum(row) - 1``: zero iff all are valid."""
    count, width = ballots.shape
    raw = ballots.astype(None)
    bits_rho = rt.random((count, width))
    rows_rho = rt.random(count)
    quadratic = raw.vecdot((1 - raw) * await _public(bits_rho), axis=1).sum()
    linear = ((raw.sum(axis=1) - 1) * await _public(rows_rho)).sum()
    total = await (quadratic + linear).open()
    if total is None or int(total) != 0:
        raise ProtocolError(
            "a ballot is not a valid vote (not exactly one option chosen)",
            step="ballot check",
            hint="a party submitted a malformed ballot; the vote was not counted",
        )


async def _public(random: SecretArray) -> np.ndarray[Any, Any]:
    opened = await random.open()
    assert opened is not None
    return np.asarray(random.field.array(opened))


async def tally(
    rt: Runtime,
    ballots: object,
    *,
    options: Sequence[str],
    recipients: list[int] | None = None,
) -> TallyResult | None:
    """Count the ballots of all parties per option; every party calls it with its own ballots.

    Parameters
    ----------
    ballots : sequence of str or int
        This party's ballots (option names or indices); may be empty.
    options : sequence of str
        The options, the same at every party.
    recipients : list of int, optional
        Parties that learn the counts (default: all); the others get ``None``.

    Raises
    ------
    EncodingError
        At a party whose ballot is not an option (its position is named).
    ProtocolError
        If a shared ballot fails the in-MPC validity check.
    """
    names = _check_options(options)
    all_ballots = await _cast(rt, _one_hot(ballots, names))
    counts = all_ballots.sum(axis=0).astype(SecInt(40))
    opened = await _open_to(counts, recipients, rt)
    if opened is None:
        return None
    return TallyResult(
        dict(zip(names, (int(c) for c in opened), strict=True)), all_ballots.shape[0]
    )


async def referendum(
    rt: Runtime,
    votes: object,
    *,
    quota: Fraction | float = Fraction(1, 2),
    recipients: list[int] | None = None,
) -> ReferendumResult | None:
    """Reveal only whether the proposition passed: ``yes >= quota * ballots``.

    Parameters
    ----------
    votes : sequence of bool
        This party's votes (True for YES); may be empty.
    quota : Fraction, default=1/2
        The share of YES ballots needed, in ``(0, 1]``: 1/2 means at least half.
    recipients : list of int, optional
        Parties that learn the outcome (default: all).
    """
    share = Fraction(quota).limit_denominator(10**6)
    if not 0 < share <= 1:
        raise ConfigError(f"quota must be in (0, 1], got {quota!r}", field="quota")
    flags = np.asarray(votes, dtype=bool).reshape(-1)
    rows = np.stack([flags, ~flags], axis=1).astype(np.int64)
    all_ballots = await _cast(rt, rows)
    count = all_ballots.shape[0]
    yes = all_ballots[:, 0].sum().astype(SecInt(48))
    passed = yes * share.denominator >= share.numerator * count  # one comparison
    opened = await _open_to(passed, recipients, rt)
    if opened is None:
        return None
    return ReferendumResult(bool(opened), count, f"YES iff yes >= {share} x ballots")


async def _open_to(
    value: SecretArray, recipients: list[int] | None, rt: Runtime
) -> np.ndarray[Any, Any] | None:
    who = list(range(rt.n_parties)) if recipients is None else sorted(set(recipients))
    opened = await asyncio.gather(*(value.open(to=party) for party in who))
    return dict(zip(who, opened, strict=True)).get(rt.party_id)


def plain_tally(ballots_by_party: list[Any], *, options: Sequence[str]) -> TallyResult:
    """Count plaintext ballots (one list per party): the answer the secure tally must give."""
    names = _check_options(options)
    rows = [_one_hot(b, names) for b in ballots_by_party]
    total = np.concatenate(rows).sum(axis=0) if rows else np.zeros(len(names), dtype=np.int64)
    return TallyResult(
        dict(zip(names, (int(c) for c in total), strict=True)), sum(len(r) for r in rows)
    )


def plain_referendum(
    votes_by_party: list[Any], *, quota: Fraction = Fraction(1, 2)
) -> ReferendumResult:
    """The plaintext outcome of :func:`referendum`."""
    share = Fraction(quota).limit_denominator(10**6)
    flags = np.concatenate([np.asarray(v, dtype=bool).reshape(-1) for v in votes_by_party])
    passed = int(flags.sum()) * share.denominator >= share.numerator * flags.size
    return ReferendumResult(bool(passed), int(flags.size), f"YES iff yes >= {share} x ballots")


async def vote_program(
    rt: Runtime, ballots_by_party: list[Any], options: list[str], mode: str
) -> dict[str, Any] | None:
    """Demo program: party ``i`` casts ``ballots_by_party[i]`` (the demo simulates every voter)."""
    mine = ballots_by_party[rt.party_id]
    if mode == "threshold":
        outcome = await referendum(rt, [b == options[0] for b in mine])
    else:
        outcome = await tally(rt, mine, options=options)  # type: ignore[assignment]
    return None if outcome is None else outcome.to_dict()
