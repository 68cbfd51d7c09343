"""Timings of field arithmetic and sharing for ``veil bench sharing`` (medians of several runs)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from veil.field import Csprng, Field
from veil.sharing import additive, shamir

__all__ = ["run"]


def _median_seconds(action: Callable[[], object], repeats: int) -> float:
    action()  # warm-up: first-touch page faults and lazy imports are not what we measure
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(*, size: int, n_parties: int, threshold: int, repeats: int) -> dict[str, float | int]:
    """Time sharing and field operations on ``size`` secrets; return medians in seconds.

    Keys: ``shamir_share_s``, ``shamir_reconstruct_s``, ``shamir_share_reconstruct_s`` (share, then
    reconstruct from parties ``0..t``), ``shamir_robust_clean_s`` (all ``n`` shares, none wrong),
    ``shamir_robust_one_cheater_s`` (one party's shares all wrong; needs ``n >= 3t + 1``, else
    absent), ``additive_share_reconstruct_s``, and the field primitives ``field_add_s``,
    ``field_mul_s``, ``field_batch_inv_s``, ``field_random_s``.
    """
    field = Field()
    rng = Csprng()
    secrets = field.random(size, rng)
    other = field.random(size, rng)
    parties = list(range(threshold + 1))
    shares = shamir.share(field, secrets, threshold=threshold, n_parties=n_parties, rng=rng)

    def share_reconstruct() -> object:
        dealt = shamir.share(field, secrets, threshold=threshold, n_parties=n_parties, rng=rng)
        return shamir.reconstruct(field, dealt[: threshold + 1], parties)

    result: dict[str, float | int] = {
        "size": size,
        "n_parties": n_parties,
        "threshold": threshold,
        "repeats": repeats,
        "shamir_share_s": _median_seconds(
            lambda: shamir.share(field, secrets, threshold=threshold, n_parties=n_parties, rng=rng),
            repeats,
        ),
        "shamir_reconstruct_s": _median_seconds(
            lambda: shamir.reconstruct(field, shares[: threshold + 1], parties), repeats
        ),
        "shamir_share_reconstruct_s": _median_seconds(share_reconstruct, repeats),
        "shamir_robust_clean_s": _median_seconds(
            lambda: shamir.robust_reconstruct(field, shares, range(n_parties), threshold=threshold),
            repeats,
        ),
        "additive_share_reconstruct_s": _median_seconds(
            lambda: additive.reconstruct(field, additive.share(field, secrets, n_parties, rng)),
            repeats,
        ),
        "field_add_s": _median_seconds(lambda: field.add(secrets, other), repeats),
        "field_mul_s": _median_seconds(lambda: field.mul(secrets, other), repeats),
        "field_batch_inv_s": _median_seconds(lambda: field.batch_inv(other), repeats),
        "field_random_s": _median_seconds(lambda: field.random(size, rng), repeats),
    }
    if n_parties >= 3 * threshold + 1 and threshold >= 1:
        corrupt = shares.copy()
        corrupt[n_parties - 1] = field.random(size, rng)
        result["shamir_robust_one_cheater_s"] = _median_seconds(
            lambda: shamir.robust_reconstruct(
                field, corrupt, range(n_parties), threshold=threshold
            ),
            repeats,
        )
    return result
