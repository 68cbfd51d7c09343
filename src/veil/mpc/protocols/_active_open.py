"""Authenticated openings: every share signed and agreed, checked against degree ``t``, and a
wrong share's sender named.

Every party sends its shares to every other party, signed
(:func:`~veil.mpc.protocols._active_deliver.deliver`, ``same_to_all``): afterwards all honest
parties hold the same ``n`` signed share vectors, or the sender who equivocated or withheld is named.
Then, with ``n`` shares of a degree-``t`` sharing:

- all on one polynomial: the value is right, because the ``n - t >= t + 1`` honest shares fix it;
- ``n >= 3t + 1``: Berlekamp–Welch corrects up to ``floor((n - t - 1) / 2) >= t`` wrong shares
  (:func:`veil.sharing.shamir.robust_reconstruct`); the opening succeeds, the senders of the wrong
  shares are recorded in ``Context.corrected``, and the run goes on (guaranteed output);
- otherwise the parties *locate* the wrong shares with the tags: everyone sends its (signed) tag
  shares, the tag key ``r`` is revealed (:func:`~veil.mpc.protocols._active_deal.reveal`), and
  :func:`~veil.mpc.protocols._active_maths.locate` names the parties off the zero polynomial
  ``[r·x] − r[x]``. Every honest party raises the same :class:`~veil.errors.CheaterDetected`.

Only verified values are ever opened (the multiplication checks run before their results are
used), so an abort never depends on a secret ([F4]).

[F4] MP-SPDZ-F4attack, ePrint 2026/234 (late consistency checks leak through the abort).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from veil.errors import DecodingError, ProtocolError
from veil.field import FieldArray
from veil.mpc.protocols._active_ctx import Context, Tagged, plain
from veil.mpc.protocols._active_deal import reveal
from veil.mpc.protocols._active_deliver import deliver
from veil.mpc.protocols._active_maths import coefficients, consistent, interpolate_at_zero, locate
from veil.sharing.shamir import correctable_errors, robust_reconstruct

__all__ = ["open_shares"]


async def open_shares(ctx: Context, step: str, shares: Sequence[Tagged]) -> list[FieldArray]:
    """Open tagged shares to every party; return the values (flat per share), or name a cheater."""
    n, t, field = ctx.n, ctx.t, ctx.field
    sizes = [s.size for s in shares]
    flat = (
        np.concatenate([plain(s).reshape(-1) for s in shares])
        if shares
        else np.zeros(0, dtype=np.uint64)
    )
    total = flat.size
    bound = np.uint64(ctx.p)

    def valid(_sender: int, words: FieldArray) -> bool:
        return words.size == total and bool(np.all(words < bound))

    delivery = await deliver(
        ctx, step, dict.fromkeys(ctx.peers, flat), list(range(n)), same_to_all=True, validate=valid
    )
    parties = list(range(n))
    rows = (
        np.stack([delivery.everyone[i] for i in parties]) if total else np.zeros((n, 0), np.uint64)
    )
    if consistent(field, parties, rows, t):
        values = interpolate_at_zero(field, parties[: t + 1], rows[: t + 1])
    else:
        values = await _repair(ctx, step, shares, rows, total)
    cuts = np.cumsum([0, *sizes])
    return [values[cuts[k] : cuts[k + 1]] for k in range(len(shares))]


async def _repair(
    ctx: Context, step: str, shares: Sequence[Tagged], rows: FieldArray, total: int
) -> FieldArray:
    """Correct (``n >= 3t + 1``) or locate the wrong shares of an inconsistent opening."""
    n, t, field = ctx.n, ctx.t, ctx.field
    parties = list(range(n))
    if ctx.corrects_errors:
        try:
            values, wrong = robust_reconstruct(
                field, rows, parties, threshold=t, max_errors=correctable_errors(n, t)
            )
        except DecodingError:
            pass
        else:
            for party in wrong:
                if party not in ctx.corrected:
                    ctx.corrected.append(party)
            return values
    tags = [s.tag for s in shares]
    if any(tag is None for tag in tags):  # pragma: no cover - the suite tags every share
        raise ProtocolError(f"an opened share in {step!r} has no tag", step=step)
    flat_tags = (
        np.concatenate([np.asarray(g).reshape(-1) for g in tags if g is not None])
        if shares
        else np.zeros(0, dtype=np.uint64)
    )
    bound = np.uint64(ctx.p)

    def valid(_sender: int, words: FieldArray) -> bool:
        return words.size == total and bool(np.all(words < bound))

    delivery = await deliver(
        ctx,
        f"{step}/tags",
        dict.fromkeys(ctx.peers, flat_tags),
        parties,
        same_to_all=True,
        validate=valid,
    )
    tag_rows = np.stack([delivery.everyone[i] for i in parties])
    polys = await reveal(
        ctx, f"{step}/reveal-r", [ctx.r_dealings[d] for d in sorted(ctx.r_dealings)]
    )
    r = 0
    for poly in polys:
        r = (r + int(poly[0][0])) % ctx.p
    seed = hashlib.sha256(rows.tobytes() + tag_rows.tobytes() + r.to_bytes(8, "big")).digest()
    weights = coefficients(field, seed, total)
    named = locate(field, parties, rows, tag_rows, r, t, weights)
    if not named:
        raise ProtocolError(
            f"the shares opened in {step!r} are inconsistent but no party could be located; more "
            f"than t = {t} parties must have cheated",
            step=step,
            hint="the run stopped before any wrong value was output",
        )
    raise ctx.cheater(
        named,
        step,
        "sent a share that is not on the polynomial of the value being opened (its tag does "
        "not match)",
    )
