"""Rabin–Ben-Or information checking: honest runs accept, and each cheating role is caught.

The three roles run in one process here; each test lets exactly one role deviate and checks the
outcome that the protocol note (active-security §2) promises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.field import Csprng, Field, FieldArray
from veil.sharing import checking
from veil.sharing.checking import Holding, Key

seeds = st.binary(min_size=32, max_size=32)
SMALL = Field(8191)  # 2**13 - 1: small enough to measure 1/p events


@dataclass
class LCOutcome:
    """What became public during one LC check, and whether R ends up accepting INT's values."""

    r_complained: np.ndarray
    key_published: np.ndarray
    values_published: np.ndarray
    r_accepts_int: np.ndarray


def run_lc(
    field: Field,
    dealt: tuple[Holding, Key],
    *,
    given_to_int: Holding | None = None,
    given_to_r: Key | None = None,
    int_broadcast: tuple[FieldArray, FieldArray] | None = None,
    r_complains_anyway: bool = False,
    published_key: Key | None = None,
    rng: Csprng,
) -> LCOutcome:
    """Run the LC check with honest roles except where an argument says otherwise.

    ``dealt`` is what D believes it dealt; ``given_to_int`` / ``given_to_r`` what INT and R actually
    hold (a cheating dealer); ``int_broadcast`` replaces INT's ``(S, Y)`` (a cheating INT);
    ``r_complains_anyway`` makes R complain falsely; ``published_key`` is the key D publishes in a key
    dispute (default: the one it gave R).
    """
    holding, key = dealt
    at_int = given_to_int or holding
    at_r = given_to_r or key
    batch = holding.values.shape[:-1]
    e = field.random(batch, rng)  # INT's challenge
    s, y = int_broadcast if int_broadcast is not None else checking.combine(field, at_int, e)
    values_published = ~checking.dealer_audit(field, holding, e, s, y)  # D: value dispute
    r_complained = ~checking.check_combination(field, at_r, e, s, y) | r_complains_anyway
    key_published = r_complained.copy()  # D answers a complaint by publishing R's key
    public_key = published_key or at_r
    int_complains = key_published & ~checking.check_against_key(field, public_key, at_int)
    values_published |= int_complains  # D must then publish INT's values
    final_key = Key(  # R uses the published key where there was a key dispute
        b=np.where(key_published, public_key.b, at_r.b),
        c=np.where(key_published[..., np.newaxis], public_key.c, at_r.c),
        c_blind=np.where(key_published, public_key.c_blind, at_r.c_blind),
    )
    r_accepts = np.all(checking.verify(field, final_key, at_int.values, at_int.tags), axis=-1)
    return LCOutcome(r_complained, key_published, values_published, r_accepts | values_published)


def test_an_honest_run_accepts_and_publishes_nothing() -> None:
    """Honest D, INT and R: no complaint, nothing published, R accepts INT's genuine values."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    dealt = checking.deal(field, field.random((5, 40), rng), rng)
    outcome = run_lc(field, dealt, rng=rng)
    assert not outcome.r_complained.any()
    assert not outcome.key_published.any()
    assert not outcome.values_published.any()
    assert outcome.r_accepts_int.all()


def test_the_combination_hides_the_values_behind_the_blinding() -> None:
    """Two different batches give the same broadcast S when the blinding differs accordingly."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, _ = checking.deal(field, field.array([[1, 2, 3]]), rng)
    e = field.array([5])
    s, _ = checking.combine(field, holding, e)
    other = replace(holding, values=field.array([[9, 9, 9]]))
    shift = field.sub(s, checking.combine(field, other, e)[0])
    other = replace(other, blind=field.add(other.blind, shift))
    assert checking.combine(field, other, e)[0].tolist() == s.tolist()


@given(seed=seeds)
def test_a_forged_value_with_the_genuine_tag_is_rejected(seed: bytes) -> None:
    """INT presenting s' != s with s's tag is rejected (b is non-zero)."""
    field = Field()
    rng = Csprng(seed=seed)
    holding, key = checking.deal(field, field.random((3, 8), rng), rng)
    forged = field.add(holding.values, field.random_nonzero((3, 8), rng))
    assert not checking.verify(field, key, forged, holding.tags).any()
    assert checking.verify(field, key, holding.values, holding.tags).all()


@given(seed=seeds)
def test_a_forged_tag_is_rejected(seed: bytes) -> None:
    """INT presenting the genuine value with a changed tag is always rejected."""
    field = Field()
    rng = Csprng(seed=seed)
    holding, key = checking.deal(field, field.random((2, 6), rng), rng)
    tags = field.add(holding.tags, field.random_nonzero((2, 6), rng))
    assert not checking.verify(field, key, holding.values, tags).any()


def test_forgery_succeeds_with_probability_about_one_over_p_minus_one() -> None:
    """At p = 8191, INT's best forgery (guess b, adjust the tag) passes about 1/(p-1) of the time."""
    field = SMALL
    trials = 200_000
    rng = Csprng(seed=bytes(range(32)))
    holding, key = checking.deal(field, field.random((trials, 1), rng), rng)
    delta = field.random_nonzero((trials, 1), rng)
    guess_b = field.random_nonzero((trials, 1), rng)
    forged = field.add(holding.values, delta)
    forged_tags = field.add(holding.tags, field.mul(guess_b, delta))  # right iff guess_b == b
    accepted = int(checking.verify(field, key, forged, forged_tags).sum())
    expected = trials / (field.p - 1)
    assert abs(accepted - expected) < 6 * math.sqrt(expected)


def test_a_dealer_giving_r_an_inconsistent_key_cannot_get_int_rejected() -> None:
    """D alters R's key in some instances: R complains, the key goes public, INT still wins.

    If D publishes the key it really gave R, INT's tags fail against it, INT complains and D must
    publish INT's values (D's own secret); if D publishes a key matching INT's tags, R uses it and
    accepts. Either way R ends up accepting INT's values or they are public.
    """
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, key = checking.deal(field, field.random((6, 10), rng), rng)
    bad_c = key.c.copy()
    bad_c[[1, 4], 3] = field.add(bad_c[[1, 4], 3], field.array(1))
    given_to_r = replace(key, c=bad_c)
    outcome = run_lc(field, (holding, key), given_to_r=given_to_r, rng=rng)
    assert outcome.r_complained.tolist() == [False, True, False, False, True, False]
    assert outcome.values_published.tolist() == outcome.r_complained.tolist()
    assert outcome.r_accepts_int.all()
    consistent = run_lc(field, (holding, key), given_to_r=given_to_r, published_key=key, rng=rng)
    assert not consistent.values_published.any()
    assert consistent.r_accepts_int.all()


def test_a_dealer_giving_int_inconsistent_tags_is_caught_by_the_combination() -> None:
    """D gives INT a wrong tag in one slot: R's LC check fails, and the dispute publishes INT's values."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, key = checking.deal(field, field.random((4, 10), rng), rng)
    tags = holding.tags.copy()
    tags[2, 7] = field.add(tags[2, 7], field.array(5))
    at_int = replace(holding, tags=tags)
    outcome = run_lc(field, (at_int, key), rng=rng)
    assert outcome.r_complained.tolist() == [False, False, True, False]
    assert outcome.values_published.tolist() == [False, False, True, False]


def test_one_inconsistent_slot_survives_the_combination_with_probability_1_over_p() -> None:
    """At p = 8191 a single inconsistent slot passes R's check only when e = 0 (rate about 1/p)."""
    field = SMALL
    trials = 200_000
    rng = Csprng(seed=bytes(range(32)))
    holding, key = checking.deal(field, field.random((trials, 3), rng), rng)
    bad_c = key.c.copy()
    bad_c[:, 1] = field.add(bad_c[:, 1], field.random_nonzero(trials, rng))
    e = field.random(trials, rng)
    s, y = checking.combine(field, holding, e)
    passed = int(checking.check_combination(field, replace(key, c=bad_c), e, s, y).sum())
    expected = trials / field.p
    assert abs(passed - expected) < 6 * math.sqrt(expected)


def test_a_false_complaint_by_r_never_publishes_an_honest_ints_values() -> None:
    """R complains without reason: only R's own key goes public; INT's values stay private."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    dealt = checking.deal(field, field.random((5, 10), rng), rng)
    outcome = run_lc(field, dealt, r_complains_anyway=True, rng=rng)
    assert outcome.key_published.all()
    assert not outcome.values_published.any()
    assert outcome.r_accepts_int.all()


def test_an_int_broadcasting_a_wrong_combination_has_its_values_published() -> None:
    """INT broadcasts a wrong S: D's audit fails and INT's (D's) values become public."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, _ = checking.deal(field, field.random((3, 4), rng), rng)
    e = field.random(3, rng)
    s, y = checking.combine(field, holding, e)
    s = field.add(s, field.array([0, 1, 0]))
    assert checking.dealer_audit(field, holding, e, s, y).tolist() == [True, False, True]


@given(seed=seeds, n_values=st.integers(1, 30))
def test_linear_combinations_of_authenticated_values_verify(seed: bytes, n_values: int) -> None:
    """Public combinations of one dealer's values verify under the combined key; a changed one does not."""
    field = Field()
    rng = Csprng(seed=seed)
    holding, key = checking.deal(field, field.random((2, n_values), rng), rng)
    weights = field.random(n_values, rng)
    value, tag = checking.combine_linear(field, weights, holding.values, holding.tags)
    combined_key = checking.linear_key(field, key, weights)
    assert checking.verify(field, combined_key, value, tag).all()
    assert not checking.verify(field, combined_key, field.add(value, field.array(1)), tag).any()


def test_powers_are_successive_powers() -> None:
    """``powers(e, L)`` is e, e^2, ..., e^L for every instance."""
    field = Field()
    e = field.array([3, 0, field.p - 1])
    assert checking.powers(field, e, 5).tolist() == [
        [pow(int(x), k, field.p) for k in range(1, 6)] for x in e.tolist()
    ]


# ----- cut-and-choose ----------------------------------------------------------------------------


def test_cut_and_choose_needs_k_22_for_40_bits() -> None:
    """C(44, 22) is about 2^40.9, while k = 21 falls short of 2^40."""
    assert checking.cut_and_choose_error_bits(22) > 40
    assert checking.cut_and_choose_error_bits(21) < 40
    assert checking.DEFAULT_CC_PAIRS_HALF == 22


@given(seed=seeds)
def test_an_honest_cut_and_choose_predicts_acceptance(seed: bytes) -> None:
    """Honest roles: INT's check of the opened half passes and R accepts the genuine value."""
    field = Field()
    rng = Csprng(seed=seed)
    holding, keys = checking.deal_cc(field, field.random((2, 5), rng), k=22, rng=rng)
    opened = checking.choose_opened((2, 5), 22, rng)
    assert int(opened.sum(axis=-1).min()) == int(opened.sum(axis=-1).max()) == 22
    b_open, c_open = checking.disclose(keys, opened)
    assert checking.check_disclosed(field, holding, opened, b_open, c_open).all()
    assert checking.dealer_check_disclosure(keys, opened, b_open, c_open).all()
    assert checking.accept_cc(field, keys, opened, holding.values, holding.tags).all()


def test_cut_and_choose_rejects_a_forged_value() -> None:
    """A substituted value fails every unopened pair (b_m != 0), so R rejects it."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, keys = checking.deal_cc(field, field.random(50, rng), k=4, rng=rng)
    opened = checking.choose_opened((50,), 4, rng)
    forged = field.add(holding.values, field.array(1))
    assert not checking.accept_cc(field, keys, opened, forged, holding.tags).any()


def test_cut_and_choose_rejects_forged_tags() -> None:
    """The genuine value with every tag changed is rejected."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    holding, keys = checking.deal_cc(field, field.random(50, rng), k=4, rng=rng)
    opened = checking.choose_opened((50,), 4, rng)
    tags = field.add(holding.tags, field.array(1))
    assert not checking.accept_cc(field, keys, opened, holding.values, tags).any()


@given(seed=seeds, n_bad=st.integers(1, 8))
def test_a_dealer_corrupting_r_pairs_never_fools_int_unless_it_guesses_the_opened_half(
    seed: bytes, n_bad: int
) -> None:
    """D corrupts some of R's pairs: whenever INT's check passes, R accepts, except when exactly the
    unopened half was corrupted."""
    field = Field()
    k = 4
    rng = Csprng(seed=seed)
    holding, keys = checking.deal_cc(field, field.random(300, rng), k=k, rng=rng)
    bad = np.zeros((300, 2 * k), dtype=bool)
    bad[:, :n_bad] = True  # D corrupts the first n_bad pairs of every value
    given_to_r = replace(keys, c=np.where(bad, field.add(keys.c, field.array(1)), keys.c))
    opened = checking.choose_opened((300,), k, rng)
    b_open, c_open = checking.disclose(given_to_r, opened)
    int_predicts = checking.check_disclosed(field, holding, opened, b_open, c_open)
    r_accepts = checking.accept_cc(field, given_to_r, opened, holding.values, holding.tags)
    fooled = int_predicts & ~r_accepts
    np.testing.assert_array_equal(fooled, np.all(bad == ~opened, axis=-1))
    assert not (bad & opened).any(axis=-1)[int_predicts].any()


def test_the_dealer_guessing_the_unopened_half_succeeds_about_1_over_c_2k_k() -> None:
    """D corrupts exactly k of 2k pairs; INT is fooled when it opened the other k: rate 1/C(6, 3) at k = 3."""
    field = SMALL
    k, trials = 3, 40_000
    rng = Csprng(seed=bytes(range(32)))
    holding, keys = checking.deal_cc(field, field.random(trials, rng), k=k, rng=rng)
    bad = np.zeros((trials, 2 * k), dtype=bool)
    bad[:, :k] = True
    given_to_r = replace(keys, c=np.where(bad, field.add(keys.c, field.array(1)), keys.c))
    opened = checking.choose_opened((trials,), k, rng)
    b_open, c_open = checking.disclose(given_to_r, opened)
    int_predicts = checking.check_disclosed(field, holding, opened, b_open, c_open)
    r_accepts = checking.accept_cc(field, given_to_r, opened, holding.values, holding.tags)
    fooled = int((int_predicts & ~r_accepts).sum())
    rate = 1 / math.comb(2 * k, k)
    sd = math.sqrt(trials * rate * (1 - rate))
    assert abs(fooled - trials * rate) < 6 * sd


def test_an_r_lying_when_disclosing_only_publishes_its_own_key() -> None:
    """R discloses altered pairs: INT's check fails, D sees R lied and publishes R's key, and INT's
    value checks against that published key, so INT's value stays private and R must accept it."""
    field = Field()
    k = 5
    rng = Csprng(seed=bytes(32))
    holding, keys = checking.deal_cc(field, field.random(20, rng), k=k, rng=rng)
    opened = checking.choose_opened((20,), k, rng)
    b_open, c_open = checking.disclose(keys, opened)
    c_lie = c_open.copy()
    c_lie[[3, 11], 0] = field.add(c_lie[[3, 11], 0], field.array(1))
    int_ok = checking.check_disclosed(field, holding, opened, b_open, c_lie)
    r_lied = ~checking.dealer_check_disclosure(keys, opened, b_open, c_lie)
    assert (~int_ok).nonzero()[0].tolist() == [3, 11]
    assert r_lied.nonzero()[0].tolist() == [3, 11]
    # D publishes R's whole key where R lied; INT re-checks against it and needs no value dispute.
    b_pub, c_pub = checking.disclose(keys, opened)
    assert checking.check_disclosed(field, holding, opened, b_pub, c_pub)[r_lied].all()
    assert checking.accept_cc(field, keys, opened, holding.values, holding.tags).all()


def test_deal_refuses_bad_shapes_and_parameters() -> None:
    """A 0-d batch and k < 1 are refused with a message."""
    field = Field()
    with pytest.raises(ValueError, match="at least one axis"):
        checking.deal(field, field.array(5))
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        checking.deal_cc(field, field.array([5]), k=0)
