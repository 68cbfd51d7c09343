"""Weak and verifiable secret sharing (WSS, VSS): the pure maths, after Rabin and Ben-Or [RB89].

A dealer D Shamir-shares a batch of ``L`` secrets with polynomials ``f_l`` of degree ``t``; party
``i`` holds ``sigma[i, l] = f_l(i + 1)``. Two checks make this safe against a malicious dealer and
malicious shareholders (``t < n/2``), following the protocol note (active-security §3–§4):

**Degree check** (zero-knowledge, a blinding polynomial per public challenge). D also deals a
random blinding polynomial ``g_{q,j}`` of degree ``t`` per challenger ``P_j`` and repetition ``q``;
``P_i`` holds ``gamma[i, q, j] = g_{q,j}(i + 1)``. Each ``P_j`` broadcasts a random ``r_{q,j}``; D
broadcasts ``h_{q,j} = g_{q,j} + sum_l r_{q,j}^l f_l`` (:func:`check_polynomials`), which the fresh
``g`` makes uniform. ``P_i`` checks ``h_{q,j}(i+1) = gamma[i,q,j] + sum_l r_{q,j}^l sigma[i,l]``
(:func:`verify_against_check`) and complains on a mismatch; D must answer by publishing ``P_i``'s
values, which makes ``P_i`` *public*. :func:`degree_verdict` names D for a malformed ``h``, a missing
answer, a published value that breaks an ``h``, or more than ``t`` public parties. Honest shares
then lie on one polynomial of degree ``t`` except with probability ``2^n (L/p)^h`` for ``h`` honest
challengers (:func:`repetitions_needed` picks the repetitions for ``2^-40``).

**WSS**: the shares are also authenticated with information checking (:mod:`veil.sharing.checking`)
for every ordered pair (holder ``P_i``, verifier ``P_j``) (:func:`deal_wss`). At reconstruction each
holder presents its share and tags, each verifier broadcasts one verdict bit per holder, and
:func:`wss_decide` counts a share vouched for by ``t + 1`` parties (its holder and ``t`` others),
names a holder rejected by ``t + 1``, and outputs the secrets if the counted shares lie on one
polynomial, else nothing and names D. An honest dealer's WSS always yields its secrets (except with
probability about ``n^2/p``); a dishonest dealer's yields the value fixed at sharing time, or fails
naming D — never a different value.

**VSS** adds commitments by the shareholders (rounds in ``veil.mpc``): each ``P_i`` commits its
values with a WSS it deals, and the check values ``z[q, j, i]`` are opened from those commitments.
:func:`degree_verdict` with ``failed_openings`` resolves that step too: a failed opening names the
holder, a mismatch forces D to publish (public holder, or D named). Shares are then right or
missing, never wrong, and plain reconstruction always succeeds.

These functions do no I/O; they are what each role computes between the rounds.

References
----------
[RB89] T. Rabin, M. Ben-Or, "Verifiable secret sharing and multiparty protocols with honest
majority", STOC 1989.
[BGW-DT] I. Abraham, G. Asharov, "The BGW verifiable secret sharing protocol", Decentralized
Thoughts, 2022 (complaint and public-party rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np
import numpy.typing as npt

from veil.errors import SharingError
from veil.field import Csprng, Field, FieldArray
from veil.sharing import checking
from veil.sharing._common import as_elements
from veil.sharing.shamir import evaluation_matrix, lagrange_matrix

__all__ = [
    "DEFAULT_SECURITY_BITS",
    "DealerVerdict",
    "Dealing",
    "WSSDealing",
    "WSSOutcome",
    "check_polynomials",
    "combined_shares",
    "deal",
    "deal_wss",
    "degree_verdict",
    "evaluate_checks",
    "repetitions_needed",
    "verify_against_check",
    "wss_decide",
]

#: Statistical security of the degree check, in bits (DESIGN.md: at least 40).
DEFAULT_SECURITY_BITS = 40

BoolArray = npt.NDArray[np.bool_]
#: What D publishes for a public party: its shares ``(L,)`` and blinding shares ``(reps, n)``.
PublishedValues = tuple[FieldArray, FieldArray]


@dataclass(frozen=True)
class Dealing:
    """The dealer's polynomials and every party's shares.

    Attributes
    ----------
    coefficients : FieldArray, shape ``(t + 1, L)``
        ``coefficients[k, l]`` is the ``x^k`` coefficient of ``f_l``; row 0 holds the secrets.
    blinding : FieldArray, shape ``(reps, n, t + 1)``
        Coefficients of ``g_{q,j}``, one blinding polynomial per repetition and challenger.
    shares : FieldArray, shape ``(n, L)``
        ``shares[i] = f(i + 1)``, sent privately to party ``i``.
    blinding_shares : FieldArray, shape ``(n, reps, n)``
        ``blinding_shares[i, q, j] = g_{q,j}(i + 1)``, sent privately to party ``i``.
    """

    threshold: int
    n_parties: int
    coefficients: FieldArray
    blinding: FieldArray
    shares: FieldArray
    blinding_shares: FieldArray


def repetitions_needed(
    field: Field,
    *,
    n_parties: int,
    threshold: int,
    batch_size: int,
    security_bits: int = DEFAULT_SECURITY_BITS,
    committed: bool = False,
) -> int:
    """Return how many challenges per challenger make the degree check fail with probability <= ``2^-security_bits``.

    Counting one honest challenger, a cheating dealer passes with probability at most
    ``2^x · L/p`` per repetition, where ``2^x`` covers its choice of whom to make public (``x = n``;
    ``x = n + t`` in VSS, where committers may also fail openings). Hence
    ``ceil(security_bits / (log2 p - log2 L - x))``: 1 for ``p = 2^61 - 1``, ``n <= 7``,
    ``L <= 2^13`` (note active-security §3.4).
    """
    extra = n_parties + (threshold if committed else 0)
    per_repetition = math.log2(field.p) - math.log2(max(batch_size, 1)) - extra
    if per_repetition <= 0:
        raise SharingError(
            f"a batch of {batch_size} secrets among {n_parties} parties leaves no soundness in "
            f"{field!r} ({per_repetition:.1f} bits per repetition)",
            hint="split the batch or use a larger field",
            field="batch_size",
        )
    return max(1, math.ceil(security_bits / per_repetition))


def deal(
    field: Field,
    secrets: object,
    *,
    threshold: int,
    n_parties: int,
    repetitions: int = 1,
    rng: Csprng | None = None,
) -> Dealing:
    """Share a batch of secrets with degree-``t`` polynomials and blinding polynomials (D, step 1).

    Parameters
    ----------
    secrets : array_like of int, shape ``(L,)``
    threshold, n_parties : int
        ``t`` and ``n`` with ``0 <= t < n < p``; active security needs ``t < n/2``.
    repetitions : int, default=1
        Challenges per challenger; see :func:`repetitions_needed`.
    """
    s = as_elements(field, secrets, "secrets")
    if s.ndim != 1:
        raise SharingError(f"secrets must be one batch of shape (L,), got shape {s.shape}")
    if not 0 <= threshold < n_parties < field.p or repetitions < 1:
        raise SharingError(
            f"need 0 <= threshold < n_parties < p and repetitions >= 1, got threshold={threshold}, "
            f"n_parties={n_parties}, repetitions={repetitions}",
            field="threshold",
        )
    t, n = threshold, n_parties
    coefficients = np.concatenate([s[np.newaxis, :], field.random((t, s.size), rng)])
    blinding = field.random((repetitions, n, t + 1), rng)
    vandermonde = evaluation_matrix(field, range(n), t)  # (n, t + 1), rows at x = i + 1
    shares = field.dot(vandermonde, coefficients)  # f_l(i + 1) [RB89, Shamir79]
    flat_blinding = blinding.reshape(repetitions * n, t + 1)
    blinding_shares = field.dot(vandermonde, flat_blinding.T).reshape(n, repetitions, n)
    return Dealing(t, n, coefficients, blinding, shares, blinding_shares)


def check_polynomials(field: Field, dealing: Dealing, challenges: FieldArray) -> FieldArray:
    """Return D's broadcast ``h_{q,j} = g_{q,j} + sum_l r_{q,j}^l f_l``, shape ``(reps, n, t + 1)`` (step 3).

    ``challenges[q, j]`` is ``P_j``'s public random challenge ``r_{q,j}``.
    """
    reps, n, width = dealing.blinding.shape
    r = _check_challenges(field, challenges, reps, n)
    weights = checking.powers(field, r, dealing.coefficients.shape[1]).reshape(reps * n, -1)
    combined = field.dot(weights, dealing.coefficients.T).reshape(reps, n, width)
    return field.add(dealing.blinding, combined)


def combined_shares(
    field: Field, shares: FieldArray, blinding_shares: FieldArray, challenges: FieldArray
) -> FieldArray:
    """Return ``gamma[i,q,j] + sum_l r_{q,j}^l sigma[i,l]`` for one party, shape ``(reps, n)``.

    What party ``i`` expects ``h_{q,j}(i + 1)`` to be; in VSS, the value opened from its commitments.
    """
    reps, n = blinding_shares.shape
    r = _check_challenges(field, challenges, reps, n)
    weights = checking.powers(field, r, shares.shape[-1])
    return field.add(blinding_shares, field.sum(field.mul(weights, shares), axis=-1))


def evaluate_checks(field: Field, h: FieldArray, parties: Sequence[int]) -> FieldArray:
    """Return ``h_{q,j}(i + 1)`` for the given parties, shape ``(reps, n, len(parties))``."""
    reps, n, width = h.shape
    points = evaluation_matrix(field, parties, width - 1)  # (m, t + 1)
    return field.dot(h.reshape(reps * n, width), points.T).reshape(reps, n, len(parties))


def verify_against_check(
    field: Field,
    party: int,
    shares: FieldArray,
    blinding_shares: FieldArray,
    challenges: FieldArray,
    h: FieldArray,
) -> BoolArray:
    """Return party ``i``'s complaint per challenger ``j``: True where some repetition's check fails (step 3)."""
    expected = evaluate_checks(field, h, [party])[..., 0]
    mine = combined_shares(field, shares, blinding_shares, challenges)
    return np.asarray(np.any(expected != mine, axis=0))


@dataclass(frozen=True)
class DealerVerdict:
    """Outcome of the degree check: who is public, who is named, whether the dealer is.

    Attributes
    ----------
    dealer_cheated : bool
        True when the dealer is proven to have cheated; ``reasons`` says how.
    public : list of int
        Parties whose values D published; everyone uses the published values for them.
    named : list of int
        Shareholders proven to have cheated (a failed opening in VSS).
    """

    dealer: int
    dealer_cheated: bool
    public: list[int]
    named: list[int] = dataclass_field(default_factory=list)
    reasons: list[str] = dataclass_field(default_factory=list)


def degree_verdict(
    field: Field,
    *,
    dealer: int,
    threshold: int,
    challenges: FieldArray,
    h: FieldArray,
    complaints: Sequence[int],
    answers: Mapping[int, PublishedValues],
    failed_openings: Sequence[int] = (),
) -> DealerVerdict:
    """Decide the degree check from the public transcript (steps 3–5; the same at every honest party).

    Parameters
    ----------
    dealer : int
        Party id of D, named on failure.
    challenges : FieldArray, shape ``(reps, n)``
    h : FieldArray
        D's broadcast; must have shape ``(reps, n, t + 1)`` (degree at most ``t``).
    complaints : sequence of int
        Parties whose check failed (WSS: their own complaint; VSS: opened ``z`` differs from ``h``).
    answers : mapping of int to (shares ``(L,)``, blinding shares ``(reps, n)``)
        What D published for complaining (or failed) parties.
    failed_openings : sequence of int
        VSS: parties whose commitment could not be opened; they are named, and D must publish them.
    """
    reps, n = np.asarray(challenges).shape
    width = threshold + 1
    named = sorted(set(failed_openings))
    if np.asarray(h).shape != (reps, n, width):
        reason = (
            f"dealer {dealer} broadcast check polynomials of shape {np.asarray(h).shape}, "
            f"expected {(reps, n, width)} (degree at most {threshold})"
        )
        return DealerVerdict(dealer, True, [], named, [reason])
    expected = evaluate_checks(field, h, range(n))  # [q, j, i] = h_{q,j}(i + 1)
    public: list[int] = []
    reasons: list[str] = []
    for party in sorted(set(complaints) | set(failed_openings)):
        if party not in answers:
            reasons.append(f"dealer {dealer} did not publish the values of party {party}")
            continue
        shares, blinding_shares = answers[party]
        published = combined_shares(field, shares, blinding_shares, challenges)
        if np.any(published != expected[:, :, party]):
            reasons.append(
                f"dealer {dealer} published values for party {party} that contradict its own "
                "check polynomials"
            )
            continue
        public.append(party)
    if len(public) > threshold:
        reasons.append(
            f"dealer {dealer} had to make {len(public)} parties public, more than t = {threshold}"
        )
    return DealerVerdict(dealer, bool(reasons), public, named, reasons)


def _check_challenges(field: Field, challenges: FieldArray, reps: int, n: int) -> FieldArray:
    r = as_elements(field, challenges, "challenges")
    if r.shape != (reps, n):
        raise SharingError(
            f"challenges must have shape (repetitions, n_parties) = {(reps, n)}, got {r.shape}",
            field="challenges",
        )
    return r


# ----- WSS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WSSDealing:
    """A dealing whose shares are authenticated for every (holder, verifier) pair.

    Attributes
    ----------
    holdings : checking.Holding, batch ``(n_holder, n_verifier)``
        ``holdings`` sliced at ``[i]`` go to holder ``i``: its shares and their tags for each verifier.
    keys : checking.Key, batch ``(n_holder, n_verifier)``
        ``keys`` sliced at ``[:, j]`` go to verifier ``j``: its keys for each holder's shares.
    """

    dealing: Dealing
    holdings: checking.Holding
    keys: checking.Key


def deal_wss(
    field: Field,
    secrets: object,
    *,
    threshold: int,
    n_parties: int,
    repetitions: int = 1,
    rng: Csprng | None = None,
) -> WSSDealing:
    """Share secrets and authenticate every share for every other party (D, §3 steps 1–2)."""
    dealing = deal(
        field, secrets, threshold=threshold, n_parties=n_parties, repetitions=repetitions, rng=rng
    )
    n, size = dealing.shares.shape
    per_pair = np.broadcast_to(dealing.shares[:, np.newaxis, :], (n, n, size))
    holdings, keys = checking.deal(field, np.ascontiguousarray(per_pair), rng)
    return WSSDealing(dealing, holdings, keys)


@dataclass(frozen=True)
class WSSOutcome:
    """Result of WSS reconstruction: the secrets, or None with the dealer named.

    Attributes
    ----------
    secrets : FieldArray of shape ``(L,)``, or None
        None means reconstruction failed, and then ``dealer_named`` is True.
    counted : list of int
        Holders whose shares were used.
    named : list of int
        Holders whose presented shares at least ``t + 1`` parties rejected.
    """

    secrets: FieldArray | None
    counted: list[int]
    named: list[int]
    dealer_named: bool
    reason: str | None = None


def wss_decide(
    field: Field,
    *,
    dealer: int,
    threshold: int,
    presented: FieldArray,
    accepts: BoolArray,
    public: Mapping[int, FieldArray] | None = None,
) -> WSSOutcome:
    """Reconstruct from presented shares and the broadcast verdict bits (§3 Reconstruct, steps 2–3).

    Parameters
    ----------
    presented : FieldArray, shape ``(n, L)``
        Row ``i``: the share holder ``i`` presented (ignored for public parties).
    accepts : bool array, shape ``(n_verifier, n_holder)``
        ``accepts[j, i]``: verifier ``j``'s verdict on holder ``i``'s share and tags (the diagonal is
        ignored). A missing presentation is a rejection.
    public : mapping of int to FieldArray ``(L,)``, optional
        Shares made public during sharing; they always count.

    Notes
    -----
    A share counts when its holder and at least ``t`` other parties vouch for it (``t + 1`` in all:
    at least one honest); a holder is named when ``t + 1`` others reject (at least one honest
    verifier, whose key was verified at sharing). If the counted shares do not lie on one
    polynomial of degree ``t``, or fewer than ``t + 1`` count, the dealer is named: an honest
    dealer's shares always pass.
    """
    public = dict(public or {})
    n, size = presented.shape
    others = ~np.eye(n, dtype=bool)
    votes_for = np.sum(accepts & others, axis=0)
    votes_against = np.sum(~accepts & others, axis=0)
    named = [i for i in range(n) if i not in public and votes_against[i] >= threshold + 1]
    counted = [i for i in range(n) if i in public or (votes_for[i] >= threshold and i not in named)]
    rows = (
        np.stack([public[i] if i in public else presented[i] for i in counted])
        if counted
        else np.zeros((0, size), dtype=np.uint64)
    )
    if len(counted) < threshold + 1:
        return WSSOutcome(
            None,
            counted,
            named,
            True,
            f"only {len(counted)} shares were vouched for; dealer {dealer} dealt inconsistently",
        )
    base, rest = counted[: threshold + 1], counted[threshold + 1 :]
    if rest:
        predicted = field.dot(
            lagrange_matrix(field, base, [i + 1 for i in rest]), rows[: threshold + 1]
        )
        if np.any(predicted != rows[threshold + 1 :]):
            return WSSOutcome(
                None,
                counted,
                named,
                True,
                f"the accepted shares do not lie on one polynomial of degree {threshold}; "
                f"dealer {dealer} dealt inconsistently",
            )
    secrets = field.dot(lagrange_matrix(field, base, [0]), rows[: threshold + 1])[0]
    return WSSOutcome(secrets, counted, named, False)
