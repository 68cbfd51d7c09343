"""Active mode against cheaters: every misbehaviour, for n in {3, 4, 5, 7}.

The rule checked everywhere: the honest parties all output the correct result, or all stop with
CheaterDetected naming the cheater — never a wrong value, never an honest party named. Where the
outcome is determined (which of the two happens), it is checked too.
"""

from __future__ import annotations

import pytest
from active_programs import EXPECTED, X, Y, scenario_program
from mpc_strategies import PARTY_COUNTS

from veil.errors import CheaterDetected, ConfigError
from veil.mpc.adversary import KINDS, Misbehaviour, PartyOutcome, run_with_cheaters
from veil.net.channels import Timeouts

#: The corrupt party: a re-sharer of products (party index <= 2t) and not an input owner.
CHEATER = 1
FAST = Timeouts(recv_seconds=1.0)


def honest_outcomes(kind: str, n: int, victim: int | None = None) -> list[PartyOutcome]:
    """Run the scenario with party 1 playing ``kind``; return the honest parties' outcomes."""
    outcomes = run_with_cheaters(
        scenario_program,
        n,
        {CHEATER: Misbehaviour(kind, victim=victim)},
        args=(X, Y),
        timeouts=FAST,
    )
    return [o for o in outcomes if not o.corrupt]


def assert_the_rule(honest: list[PartyOutcome]) -> str:
    """All honest parties output the right value, or all name the cheater; return which."""
    if all(o.error is None for o in honest):
        assert [tuple(o.value) for o in honest] == [EXPECTED] * len(honest)
        return "finished"
    for o in honest:
        assert isinstance(o.error, CheaterDetected), repr(o.error)
        assert o.error.party == CHEATER
        assert o.error.fields["parties"] == [CHEATER]
    assert len({o.error.step for o in honest if o.error is not None}) == 1
    return "named"


# What each misbehaviour leads to (n = 4 has t = 1 < n/3: openings correct one wrong share).
EXPECTED_OUTCOME = {
    "wrong-share": lambda n: "finished" if n == 4 else "named",
    "equivocate": lambda n: "named",
    "wrong-mul-share": lambda n: "named",
    "bad-tag": lambda n: "named",
    "bad-signature": lambda n: "finished",
    "withhold": lambda n: "named",
    "garbage": lambda n: "finished",
    "crash": lambda n: "named",
}


@pytest.mark.parametrize("n", PARTY_COUNTS)
@pytest.mark.parametrize("kind", KINDS)
def test_honest_parties_finish_correctly_or_name_the_cheater(kind: str, n: int) -> None:
    """One corrupt party plays ``kind``; the honest parties obey the outcome rule."""
    honest = honest_outcomes(kind, n)
    assert assert_the_rule(honest) == EXPECTED_OUTCOME[kind](n)


@pytest.mark.parametrize("n", PARTY_COUNTS)
def test_a_message_withheld_from_one_party_only_costs_time(n: int) -> None:
    """Withholding from party 0 alone: its peers wait for it, and everyone finishes correctly."""
    honest = honest_outcomes("withhold", n, victim=0)
    assert assert_the_rule(honest) == "finished"


def test_a_wrong_share_is_corrected_and_its_sender_recorded_when_t_is_below_n_over_3() -> None:
    """n = 4, t = 1: Berlekamp–Welch fixes the opening; every honest party records party 1."""
    honest = honest_outcomes("wrong-share", 4)
    assert all(o.corrected == [CHEATER] for o in honest)


def test_the_cheater_detected_message_names_the_party_and_the_step() -> None:
    """The error says who cheated, where, and that nothing was output."""
    error = honest_outcomes("equivocate", 3)[0].error
    assert isinstance(error, CheaterDetected)
    assert str(error).startswith("party 1 cheated in 'open': ")
    assert "signed different payloads for different parties" in str(error)
    assert "no output was produced" in str(error)
    assert error.to_dict()["code"] == "cheater-detected"


def test_two_cheaters_at_t_two_are_both_handled() -> None:
    """n = 5, t = 2: a wrong share from party 1 and a crash of party 3 — the rule still holds."""
    outcomes = run_with_cheaters(
        scenario_program,
        5,
        {1: Misbehaviour("wrong-share"), 3: Misbehaviour("crash")},
        args=(X, Y),
        timeouts=FAST,
    )
    honest = [o for o in outcomes if not o.corrupt]
    errors = {type(o.error) for o in honest}
    assert errors == {CheaterDetected}
    assert {o.error.party for o in honest if o.error is not None} <= {1, 3}
    assert len({o.error.party for o in honest if o.error is not None}) == 1


def test_an_unknown_misbehaviour_is_refused() -> None:
    """The harness lists the kinds it can play."""
    with pytest.raises(ConfigError, match="misbehaviour kind must be one of"):
        Misbehaviour("bribe")
