"""Degree check, WSS and VSS verdicts: honest dealers pass, cheating dealers and holders are named."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from veil.errors import SharingError
from veil.field import Csprng, Field, FieldArray
from veil.sharing import checking, shamir, vss

SIZES = [(3, 1), (4, 1), (5, 2), (7, 3)]
seeds = st.binary(min_size=32, max_size=32)


def complaints_of(
    field: Field, dealing: vss.Dealing, challenges: FieldArray, h: FieldArray
) -> list[int]:
    """Return the parties whose own check of ``h`` fails, given what the dealing sent them."""
    return [
        i
        for i in range(dealing.n_parties)
        if vss.verify_against_check(
            field, i, dealing.shares[i], dealing.blinding_shares[i], challenges, h
        ).any()
    ]


def answers_for(
    dealing: vss.Dealing, parties: list[int]
) -> dict[int, tuple[FieldArray, FieldArray]]:
    """Return what an honest dealer publishes for complaining parties: what it sent them."""
    return {i: (dealing.shares[i], dealing.blinding_shares[i]) for i in parties}


def checked_dealing(
    n: int, t: int, size: int
) -> tuple[Field, Csprng, vss.Dealing, FieldArray, FieldArray]:
    """Deal ``size`` random secrets and run the challenge round: (field, rng, dealing, r, h)."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    dealing = vss.deal(field, field.random(size, rng), threshold=t, n_parties=n, rng=rng)
    challenges = field.random((1, n), rng)
    return field, rng, dealing, challenges, vss.check_polynomials(field, dealing, challenges)


def with_share(dealing: vss.Dealing, party: int, shares: FieldArray) -> vss.Dealing:
    """Return the dealing with ``party``'s shares replaced (a dealer sending an off-polynomial share)."""
    all_shares = dealing.shares.copy()
    all_shares[party] = shares
    return vss.Dealing(
        dealing.threshold,
        dealing.n_parties,
        dealing.coefficients,
        dealing.blinding,
        all_shares,
        dealing.blinding_shares,
    )


@pytest.mark.parametrize(("n", "t"), SIZES)
@given(seed=seeds)
@settings(max_examples=20)
def test_an_honest_dealer_passes_the_degree_check(n: int, t: int, seed: bytes) -> None:
    """No honest party complains, nobody is public or named, and the shares reconstruct the secrets."""
    field = Field()
    rng = Csprng(seed=seed)
    secrets = field.random(9, rng)
    dealing = vss.deal(field, secrets, threshold=t, n_parties=n, rng=rng)
    challenges = field.random((1, n), rng)
    h = vss.check_polynomials(field, dealing, challenges)
    assert complaints_of(field, dealing, challenges, h) == []
    verdict = vss.degree_verdict(
        field, dealer=0, threshold=t, challenges=challenges, h=h, complaints=[], answers={}
    )
    assert not verdict.dealer_cheated
    assert verdict.public == verdict.named == []
    parties = list(range(n - t - 1, n))
    np.testing.assert_array_equal(
        shamir.reconstruct(field, dealing.shares[parties], parties), secrets
    )


def test_the_check_polynomials_are_uniform_whatever_the_secrets() -> None:
    """Each broadcast coefficient of h is uniform on GF(31) for a fixed secret (chi-square): zero knowledge."""
    field = Field(31)
    reps = 31 * 60
    dealing = vss.deal(
        field, [7, 7, 7], threshold=1, n_parties=3, repetitions=reps, rng=Csprng(seed=bytes(32))
    )
    h = vss.check_polynomials(field, dealing, field.random((reps, 3), Csprng(seed=b"\x01" * 32)))
    for coefficient in (0, 1):
        counts = np.bincount(h[:, 1, coefficient].astype(np.int64), minlength=31)
        assert stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_an_off_polynomial_share_makes_its_holder_complain(n: int, t: int) -> None:
    """D sends party 1 a wrong share of one secret: party 1 complains, nobody else does."""
    field, _, dealing, challenges, h = checked_dealing(n, t, 5)
    wrong = dealing.shares[1].copy()
    wrong[3] = field.add(wrong[3], field.array(1))
    sent = with_share(dealing, 1, wrong)
    assert complaints_of(field, sent, challenges, h) == [1]

    fair, caught = (
        vss.degree_verdict(
            field,
            dealer=0,
            threshold=t,
            challenges=challenges,
            h=h,
            complaints=[1],
            answers=answers_for(published, [1]),
        )
        for published in (dealing, sent)
    )
    # Answering with the values on the polynomial makes party 1 public; the dealer is not named.
    assert not fair.dealer_cheated
    assert fair.public == [1]
    # Publishing the off-polynomial values contradicts h: the dealer is named.
    assert caught.dealer_cheated
    assert "party 1 that contradict its own check polynomials" in caught.reasons[0]


def test_a_dealer_that_does_not_answer_a_complaint_is_named() -> None:
    """A complaint without published values names the dealer."""
    field, _rng, _dealing, challenges, h = checked_dealing(3, 1, 2)
    verdict = vss.degree_verdict(
        field, dealer=2, threshold=1, challenges=challenges, h=h, complaints=[0], answers={}
    )
    assert verdict.dealer_cheated
    assert verdict.reasons == ["dealer 2 did not publish the values of party 0"]


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_more_than_t_public_parties_name_the_dealer(n: int, t: int) -> None:
    """Answering t + 1 complaints (even consistently) shows D dealt inconsistently to too many."""
    field, _rng, dealing, challenges, h = checked_dealing(n, t, 2)
    complainers = list(range(t + 1))
    verdict = vss.degree_verdict(
        field,
        dealer=0,
        threshold=t,
        challenges=challenges,
        h=h,
        complaints=complainers,
        answers=answers_for(dealing, complainers),
    )
    assert verdict.dealer_cheated
    assert f"had to make {t + 1} parties public, more than t = {t}" in verdict.reasons[-1]


def test_check_polynomials_of_too_high_degree_name_the_dealer() -> None:
    """An h with t + 2 coefficients (degree t + 1) names the dealer before anything else."""
    field, rng, _dealing, challenges, h = checked_dealing(4, 1, 2)
    too_high = np.concatenate([h, field.random((1, 4, 1), rng)], axis=-1)
    verdict = vss.degree_verdict(
        field, dealer=3, threshold=1, challenges=challenges, h=too_high, complaints=[], answers={}
    )
    assert verdict.dealer_cheated
    assert "degree at most 1" in verdict.reasons[0]


def test_a_corrupt_challenger_choosing_zero_does_not_hide_an_inconsistent_dealer() -> None:
    """Challenger 0 sends r = 0 (its h is just the blinding); honest challengers still expose D."""
    field, _, dealing, challenges, _ = checked_dealing(4, 1, 4)
    wrong = dealing.shares[2].copy()
    wrong[0] = field.add(wrong[0], field.array(3))
    sent = with_share(dealing, 2, wrong)
    challenges[0, 0] = 0
    h = vss.check_polynomials(field, dealing, challenges)
    per_challenger = vss.verify_against_check(
        field, 2, sent.shares[2], sent.blinding_shares[2], challenges, h
    )
    assert per_challenger.tolist() == [False, True, True, True]
    assert complaints_of(field, dealing, challenges, h) == []


def test_an_off_polynomial_share_escapes_one_challenge_with_probability_at_most_l_over_p() -> None:
    """At p = 8191 with L = 2, a wrong share passes a challenge exactly when r is a root: rate 2/p."""
    field = Field(8191)
    reps = 100_000
    rng = Csprng(seed=bytes(range(32)))
    dealing = vss.deal(field, [5, 6], threshold=1, n_parties=3, repetitions=reps, rng=rng)
    # Errors d_1 = 1, d_2 = 1: r + r^2 = 0 has the two roots 0 and -1.
    wrong = field.add(dealing.shares[1], field.array([1, 1]))
    challenges = field.random((reps, 3), rng)
    h = vss.check_polynomials(field, dealing, challenges)
    expected = vss.evaluate_checks(field, h, [1])[..., 0]
    mine = vss.combined_shares(field, wrong, dealing.blinding_shares[1], challenges)
    escaped = int((expected == mine).sum())
    trials = reps * 3
    rate = 2 / field.p
    assert abs(escaped - trials * rate) < 6 * math.sqrt(trials * rate)
    assert escaped == int(np.isin(challenges, [0, field.p - 1]).sum())


def test_repetitions_follow_the_soundness_formula() -> None:
    """One repetition suffices at 2**61 - 1 for n <= 7, L <= 2**13; small fields need more or refuse."""
    big = Field()
    assert vss.repetitions_needed(big, n_parties=7, threshold=3, batch_size=2**13) == 1
    assert (
        vss.repetitions_needed(big, n_parties=7, threshold=3, batch_size=2**13, committed=True) == 2
    )
    assert vss.repetitions_needed(Field(2**31 - 1), n_parties=3, threshold=1, batch_size=16) == 2
    with pytest.raises(SharingError, match="leaves no soundness"):
        vss.repetitions_needed(Field(8191), n_parties=7, threshold=3, batch_size=2**10)


# ----- WSS end to end (all roles in one process) --------------------------------------------------


def wss_dealing(n: int, t: int, size: int) -> tuple[Field, FieldArray, vss.WSSDealing]:
    """Deal ``size`` random secrets by WSS: (field, secrets, dealing)."""
    field = Field()
    rng = Csprng(seed=bytes(32))
    secrets = field.random(size, rng)
    return field, secrets, vss.deal_wss(field, secrets, threshold=t, n_parties=n, rng=rng)


def verdict_bits(
    field: Field, wss: vss.WSSDealing, presented: FieldArray, tags: FieldArray
) -> np.ndarray:
    """Return ``accepts[j, i]``: verifier j's check of holder i's presented shares and tags."""
    n = presented.shape[0]
    accepts = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(n):
            key = checking.Key(
                b=wss.keys.b[i, j], c=wss.keys.c[i, j], c_blind=wss.keys.c_blind[i, j]
            )
            accepts[j, i] = bool(checking.verify(field, key, presented[i], tags[i, j]).all())
    return accepts


def test_every_pairwise_ic_check_of_an_honest_wss_passes() -> None:
    """The LC check of each (holder, verifier) pair passes and the dealer's audit agrees."""
    field, _, wss = wss_dealing(5, 2, 6)
    e = field.random((5, 5), Csprng(seed=b"\x02" * 32))
    s, y = checking.combine(field, wss.holdings, e)
    assert checking.check_combination(field, wss.keys, e, s, y).all()
    assert checking.dealer_audit(field, wss.holdings, e, s, y).all()


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_honest_wss_reconstructs_the_secrets(n: int, t: int) -> None:
    """All honest: every share is vouched for, nobody is named, the output is the secrets."""
    field, secrets, wss = wss_dealing(n, t, 6)
    accepts = verdict_bits(field, wss, wss.dealing.shares, wss.holdings.tags)
    outcome = vss.wss_decide(
        field, dealer=0, threshold=t, presented=wss.dealing.shares, accepts=accepts
    )
    assert outcome.secrets is not None
    np.testing.assert_array_equal(outcome.secrets, secrets)
    assert outcome.named == []
    assert not outcome.dealer_named


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_a_holder_presenting_a_wrong_share_is_named_and_the_output_is_still_right(
    n: int, t: int
) -> None:
    """t holders change their shares (keeping their tags): each is rejected by all others and named."""
    field, secrets, wss = wss_dealing(n, t, 4)
    presented = wss.dealing.shares.copy()
    liars = list(range(n - t, n))
    presented[liars, 2] = field.add(presented[liars, 2], field.array(1))
    accepts = verdict_bits(field, wss, presented, wss.holdings.tags)
    outcome = vss.wss_decide(field, dealer=0, threshold=t, presented=presented, accepts=accepts)
    assert outcome.named == liars
    assert outcome.secrets is not None
    np.testing.assert_array_equal(outcome.secrets, secrets)


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_up_to_t_lying_verdicts_are_harmless(n: int, t: int) -> None:
    """t corrupt verifiers reject every honest share and accept a forged one: nothing changes."""
    field, secrets, wss = wss_dealing(n, t, 4)
    accepts = verdict_bits(field, wss, wss.dealing.shares, wss.holdings.tags)
    accepts[:t, :] = False  # the first t parties lie about everyone
    outcome = vss.wss_decide(
        field, dealer=n - 1, threshold=t, presented=wss.dealing.shares, accepts=accepts
    )
    assert outcome.named == []
    assert outcome.secrets is not None
    np.testing.assert_array_equal(outcome.secrets, secrets)


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_a_dealer_helping_a_holder_forge_gets_failure_naming_it_never_a_wrong_value(
    n: int, t: int
) -> None:
    """D computes valid tags for a wrong share of holder 0 (D knows every key): the output is
    None with the dealer named, because the honest shares already fix the secret."""
    field, _, wss = wss_dealing(n, t, 3)
    presented = wss.dealing.shares.copy()
    presented[0] = field.add(presented[0], field.array(1))
    tags = wss.holdings.tags.copy()
    tags[0] = field.add(field.mul(presented[0], wss.keys.b[0][:, np.newaxis]), wss.keys.c[0])
    accepts = verdict_bits(field, wss, presented, tags)
    assert accepts[:, 0].all()
    outcome = vss.wss_decide(field, dealer=n - 1, threshold=t, presented=presented, accepts=accepts)
    assert outcome.secrets is None
    assert outcome.dealer_named
    assert f"dealer {n - 1} dealt inconsistently" in str(outcome.reason)


def test_public_shares_count_without_votes() -> None:
    """A party made public during sharing contributes its published share even if all reject it."""
    field, secrets, wss = wss_dealing(3, 1, 3)
    accepts = verdict_bits(field, wss, wss.dealing.shares, wss.holdings.tags)
    accepts[:, 1] = False
    outcome = vss.wss_decide(
        field,
        dealer=0,
        threshold=1,
        presented=wss.dealing.shares,
        accepts=accepts,
        public={1: wss.dealing.shares[1]},
    )
    assert outcome.counted == [0, 1, 2]
    assert outcome.secrets is not None
    np.testing.assert_array_equal(outcome.secrets, secrets)


# ----- VSS: opening committed check values ------------------------------------------------------


def test_vss_openings_name_a_holder_whose_commitment_fails_and_make_it_public() -> None:
    """A failed opening names the holder; D publishes its values and the dealer stays clean."""
    field, _rng, dealing, challenges, h = checked_dealing(5, 2, 3)
    verdict = vss.degree_verdict(
        field,
        dealer=0,
        threshold=2,
        challenges=challenges,
        h=h,
        complaints=[],
        answers=answers_for(dealing, [3]),
        failed_openings=[3],
    )
    assert verdict.named == [3]
    assert verdict.public == [3]
    assert not verdict.dealer_cheated


def test_vss_opened_values_that_differ_from_h_force_a_publication() -> None:
    """An opened z that differs from h_j(i) is a complaint: D's consistent answer makes i public."""
    field, _rng, dealing, challenges, h = checked_dealing(4, 1, 3)
    opened = np.stack(
        [
            vss.combined_shares(field, dealing.shares[i], dealing.blinding_shares[i], challenges)
            for i in range(4)
        ],
        axis=-1,
    )
    opened[0, 2, 1] = field.add(opened[0, 2, 1], field.array(1))  # party 1 committed a wrong value
    mismatched = np.flatnonzero(
        np.any(opened != vss.evaluate_checks(field, h, range(4)), axis=(0, 1))
    )
    assert mismatched.tolist() == [1]
    verdict = vss.degree_verdict(
        field,
        dealer=0,
        threshold=1,
        challenges=challenges,
        h=h,
        complaints=mismatched.tolist(),
        answers=answers_for(dealing, [1]),
    )
    assert verdict.public == [1]
    assert not verdict.dealer_cheated


def test_bad_challenge_shapes_are_refused() -> None:
    """Challenges must be (repetitions, n_parties)."""
    field = Field()
    dealing = vss.deal(field, [1, 2], threshold=1, n_parties=3)
    with pytest.raises(
        SharingError, match=r"challenges must have shape \(repetitions, n_parties\) = \(1, 3\)"
    ):
        vss.check_polynomials(field, dealing, field.random((1, 2)))
