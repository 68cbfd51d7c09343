"""n-of-n additive secret sharing over GF(p), vectorized over many secrets.

A secret ``s`` is split into ``n`` shares that sum to ``s`` modulo p: the first ``n - 1`` are uniform
and independent, the last is ``s`` minus their sum. Any ``n - 1`` shares are uniformly distributed
and independent of ``s`` (information-theoretic privacy against up to ``n - 1`` colluding parties);
all ``n`` are needed to reconstruct, and the scheme is linear (shares of ``a + b`` are the sums of
shares). There is no redundancy: a single wrong or missing share is neither detected nor recoverable.
"""

from __future__ import annotations

import numpy as np

from veil.errors import SharingError
from veil.field import Csprng, Field, FieldArray
from veil.sharing._common import as_elements, resolve_rng

__all__ = ["reconstruct", "share"]


def share(field: Field, secrets: object, n_parties: int, rng: Csprng | None = None) -> FieldArray:
    """Split every secret into ``n_parties`` additive shares.

    Parameters
    ----------
    field : Field
        The field GF(p).
    secrets : array_like of int, any shape ``S``
        Elements of ``[0, p)``.
    n_parties : int
        ``n >= 1``, the number of shares per secret.
    rng : Csprng, optional
        Source of the random shares; default a fresh OS-keyed CSPRNG.

    Returns
    -------
    FieldArray, shape ``(n_parties, *S)``
        Row ``i`` is party ``i``'s share; the rows sum to the secrets modulo p.
    """
    if n_parties < 1:
        raise SharingError(f"n_parties must be at least 1, got {n_parties}", field="n_parties")
    s = as_elements(field, secrets, "secrets")
    out = np.empty((n_parties, *s.shape), dtype=np.uint64)
    out[: n_parties - 1] = field.random((n_parties - 1, *s.shape), resolve_rng(rng))
    out[n_parties - 1] = field.sub(s, field.sum(out[: n_parties - 1], axis=0))
    return out


def reconstruct(field: Field, shares: object) -> FieldArray:
    """Return the secrets: the sum of all parties' shares modulo p.

    Parameters
    ----------
    shares : FieldArray, shape ``(n, *S)``
        Every party's share, one row per party (all ``n`` are needed).

    Returns
    -------
    FieldArray, shape ``S``
    """
    arr = as_elements(field, shares, "shares")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise SharingError(
            f"shares must have one row per party, got shape {arr.shape}",
            hint="stack every party's shares along the first axis",
            field="shares",
        )
    return field.sum(arr, axis=0)
